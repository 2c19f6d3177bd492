"""The differencing attack on the Präsentation exports, before and after the cell key method.

For each pair of views that differ in one filter (tests/test_differencing.py: hour window,
weekday, category, field, quarter, district), as a viewer on the demo city with k = 5:

* before: what the exports showed until issue #15 (exact counts of the filtered records,
  suppressed below k): the shared hot spot cells whose difference is between 1 and k-1 — each
  of them the exact number of complaints in between;
* after: every shared number (cells, gap list, trend, districts, KPI totals) through the cell
  key method: how many differences are certain (must be 0), how many true differences lie in
  1..k-1, and how often the naive guess (published a − published b) happens to be right.

Then the same attack on everything a logged-in *viewer* sees (issue #15, second part: KPIs,
district table and CSV, GeoPackage, Lagebild layers, cells GeoJSON, gap list, trend, category
and weekday-hour charts, a district profile), for pairs differing in hour window, weekday,
category, field, quarter, district and H3 resolution:

* before: the same views with exact numbers (what viewers saw until then): shared numbers,
  both at least k, whose difference is between 1 and k-1 (each the exact size of a small group);
* after: the numbers as published to the viewer: certain differences (must be 0), true small
  differences, and how often the naive guess (shown a − shown b) is right anyway.

The last line is one JSON object.

    .venv/bin/python bench/differencing.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from test_differencing import (  # noqa: E402
    PAIRS,
    VIEWER_PAIRS,
    K,
    _consistent_differences,
    exported,
    viewer_attack,
)

from data.folder import load_folder  # noqa: E402
from data.privacy import PTABLE  # noqa: E402
from data.roles import Principal, restrict  # noqa: E402
from geo import model as geo_model  # noqa: E402
from viz.presentation import SHOWN_CLASSES  # noqa: E402


def before(model, fa, fb) -> tuple[int, int]:
    """(shared shown cells, of which exactly revealing a count 1..k-1) with exact counts."""
    out = []
    model = replace(model, publisher=None)  # exact numbers, as before issue #15
    for f in (fa, fb):
        spots = geo_model.hotspots(model, f)
        keep = model.index.district_cells(list(f.districts) or None) & np.isin(
            spots["cls"].astype(str).to_numpy(), SHOWN_CLASSES) & (spots["count"].to_numpy() >= K)
        out.append(dict(zip(spots["h3"].to_numpy()[keep], spots["count"].to_numpy()[keep], strict=True)))
    shared = out[0].keys() & out[1].keys()
    revealing = sum(int(1 <= abs(out[0][c] - out[1][c]) <= K - 1) for c in shared)
    return len(shared), revealing


def main() -> int:
    bundle = restrict(load_folder(REPO / "data" / "demo"), Principal("viewer"))
    model = geo_model.build(bundle, 9)
    rows = []
    for name, (fa, fb) in PAIRS.items():
        shared_before, revealed_before = before(model, fa, fb)
        sa, ta = exported(bundle, model, fa)
        sb, tb = exported(bundle, model, fb)
        shared = certain = small = naive_right = 0
        for label in sa.keys() & sb.keys():
            a, b = sa[label], sb[label]
            if np.isnan(a) and np.isnan(b):
                continue
            shared += 1
            d = ta[label] - tb[label]
            possible = _consistent_differences(a, b, PTABLE, K)
            certain += int(len(possible) == 1 and 1 <= abs(next(iter(possible))) <= K - 1)
            if 1 <= abs(d) <= K - 1:
                small += 1
                naive_right += int(not (np.isnan(a) or np.isnan(b)) and a - b == d)
        rows.append({"pair": name, "before_shared_cells": shared_before,
                     "before_revealed": int(revealed_before),
                     "after_shared_numbers": shared, "after_small_differences": small,
                     "after_certain": certain, "after_naive_guess_right": naive_right})
        print(f"{name:34s} before: {revealed_before:3d} of {shared_before:3d} cells reveal 1..{K - 1}   "
              f"after: {certain} certain; {naive_right} of {small} small differences guessed right "
              f"(of {shared} shared numbers)", flush=True)
    viewer_rows = []
    models = {r: geo_model.build(bundle, r) for r in (8, 9, 10)}
    for name in VIEWER_PAIRS:
        r = viewer_attack(bundle, models, name)
        viewer_rows.append({"pair": name, **r})
        print(f"viewer {name:34s} before: {r['before_revealed']:3d} of {r['shared']:4d} numbers reveal "
              f"1..{K - 1}   after: {r['certain']} certain; {r['naive_right']} of {r['small']} small "
              f"differences guessed right", flush=True)
    viewer = {"pairs": viewer_rows, "pairs_tried": len(viewer_rows),
              "numbers_compared": sum(r["shared"] for r in viewer_rows),
              "before_revealed": sum(r["before_revealed"] for r in viewer_rows),
              "after_certain": sum(r["certain"] for r in viewer_rows),
              "after_small_differences": sum(r["small"] for r in viewer_rows),
              "after_naive_guess_right": sum(r["naive_right"] for r in viewer_rows)}
    print(f"viewer: {viewer['pairs_tried']} pairs, {viewer['numbers_compared']} shared numbers; before "
          f"{viewer['before_revealed']} revealing differences, after {viewer['after_certain']} certain; "
          f"naive guess right for {viewer['after_naive_guess_right']} of "
          f"{viewer['after_small_differences']} small differences", flush=True)
    summary = {"bench": "differencing", "k": K, "ptable_d": PTABLE.d, "ptable_probs": list(PTABLE.probs),
               "pairs": rows, "before_revealed": sum(r["before_revealed"] for r in rows),
               "after_certain": sum(r["after_certain"] for r in rows),
               "after_small_differences": sum(r["after_small_differences"] for r in rows),
               "after_naive_guess_right": sum(r["after_naive_guess_right"] for r in rows),
               "viewer": viewer}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
