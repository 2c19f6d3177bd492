"""The differencing attack on conference numbers (issue #15), and the cell key method's consistency.

An attacker (a viewer, or anyone with two Präsentation exports) takes two exports that differ in
one filter (hour window, weekday, category, quarter, district) and subtracts every number they
share. Before the cell key method, a difference between 1 and k-1 was the exact number of
complaints in between. Now, for every shared number, the set of true differences consistent
with the two published values (given the public ptable) must never be a single value between
1 and k-1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from data.filters import Filters, complaint_mask, incident_mask
from data.folder import load_folder
from data.periods import parse_quarter
from data.privacy import (
    PTABLE,
    PTable,
    cell_keys,
    conference_filters,
    published_counts,
    record_keys,
)
from data.roles import Principal, restrict
from geo import model as geo_model
from viz import exports, presentation

REPO = Path(__file__).resolve().parent.parent
Q = parse_quarter
K = 5


@pytest.fixture(scope="module")
def viewer():
    return restrict(load_folder(REPO / "data" / "demo"), Principal("viewer"))


@pytest.fixture(scope="module")
def model(viewer):
    return geo_model.build(viewer, 9)


def exported(bundle, model, f: Filters) -> tuple[dict[str, float], dict[str, float]]:
    """(published, true) numbers of every export of the Präsentation page for ``f``, by label."""
    anon = presentation.anonymise(bundle, model, f, "de", K)
    shown: dict[str, float] = {}
    geo = json.loads(exports.cells_geojson(presentation.cells_for_export(anon), ["count", "gap_rank"]))
    for feat in geo["features"]:  # the cells GeoJSON (hot spots and gaps)
        shown[f"cell:{feat['id']}"] = float(feat["properties"]["count"])
    for row in anon.gap.itertuples():  # the gap CSV: the same cells
        shown[f"cell:{row.h3}"] = float(row.complaints)
    for row in anon.trend.itertuples():  # the trend chart
        shown[f"quarter:{row.quarter_label}"] = float(row.value)
    for row in anon.districts.itertuples():  # the district CSV and charts
        shown[f"district:{row.district_id}:complaints"] = float(row.complaints)
        shown[f"district:{row.district_id}:incidents"] = float(row.incidents)
    for name in ("complaints", "open_complaints", "staff_incidents"):  # the PDF's KPI tiles
        shown[f"total:{name}"] = anon.totals[name]
    # the truth an attacker wants, for the same records
    g = conference_filters(f)
    c, inc = bundle["complaints"], bundle["staff_incidents"]
    cells = dict(zip(model.index.cells, geo_model.complaint_cell_counts(model, replace(g, districts=())),
                     strict=True))
    true: dict[str, float] = {}
    for label in shown:
        kind, _, rest = label.partition(":")
        if kind == "cell":
            true[label] = float(cells[rest])
        elif kind == "quarter":
            true[label] = float((complaint_mask(c, g, quarters=[Q(rest)])).sum())
        elif kind == "district":
            d, what = rest.split(":")
            frame, mask = (c, complaint_mask) if what == "complaints" else (inc, incident_mask)
            m = mask(frame, replace(g, districts=()))
            true[label] = float((frame["district_id"].astype(str).to_numpy()[m] == d).sum())
    true["total:complaints"] = float(complaint_mask(c, g).sum())
    still_open = c["closed_quarter"].to_numpy() > g.q_to
    true["total:open_complaints"] = float((complaint_mask(c, g) & still_open).sum())
    true["total:staff_incidents"] = float(incident_mask(inc, g).sum())
    return shown, true


BASE = Filters(Q("2026-Q3"), Q("2026-Q3"))
#: Pairs of views that differ in one filter (the attacks of issue #15 and their variants).
PAIRS = {
    "hour window 0-24 / 0-23": (BASE, replace(BASE, hours=(0, 23))),
    "hour window 0-24 / 22-6": (BASE, replace(BASE, hours=(22, 6))),
    "weekday all / Sunday": (BASE, replace(BASE, weekdays=(6,))),
    "weekday all / Mon-Sat": (BASE, replace(BASE, weekdays=(0, 1, 2, 3, 4, 5))),
    "category all / laerm": (BASE, replace(BASE, categories=("laerm",))),
    "field all / one field": (BASE, replace(BASE, fields=("infrastruktur",))),
    "quarter Q3 / Q2-Q3": (BASE, Filters(Q("2026-Q2"), Q("2026-Q3"))),
    "quarter Q2-Q3 / Q1-Q3": (Filters(Q("2026-Q2"), Q("2026-Q3")), Filters(Q("2026-Q1"), Q("2026-Q3"))),
    "quarter Q3 / Q2": (BASE, Filters(Q("2026-Q2"), Q("2026-Q2"))),
    "district all / heessen": (BASE, replace(BASE, districts=("heessen",))),
    "district heessen / heessen+mitte": (replace(BASE, districts=("heessen",)),
                                         replace(BASE, districts=("heessen", "mitte"))),
}


def _plain(numbers: dict[str, float]) -> dict[str, float | None]:
    return {k: None if np.isnan(v) else v for k, v in numbers.items()}


def _consistent_differences(a: float, b: float, ptable: PTable, k: int) -> set[float]:
    """True differences (a's records minus b's) that the two published values allow.

    A suppressed value stands for at least 0..k-1 (more when hidden for its margin).
    """
    def sources(v: float) -> list[int]:
        return list(range(k)) if np.isnan(v) else ptable.sources(int(v), k)
    return {x - y for x in sources(a) for y in sources(b)}


@pytest.mark.parametrize("pair", list(PAIRS))
def test_no_difference_reveals_a_count_below_k(viewer, model, pair) -> None:
    fa, fb = PAIRS[pair]
    shown_a, true_a = exported(viewer, model, fa)
    shown_b, true_b = exported(viewer, model, fb)
    small = 0
    for label in shown_a.keys() & shown_b.keys():
        a, b = shown_a[label], shown_b[label]
        if np.isnan(a) and np.isnan(b):
            continue
        d = true_a[label] - true_b[label]
        possible = _consistent_differences(a, b, PTABLE, K)
        if not (np.isnan(a) or np.isnan(b)):  # (suppressed: < k, or hidden for its margin)
            assert d in possible, (label, a, b, d)  # the model of the attacker is right ...
        certain = len(possible) == 1 and 1 <= abs(next(iter(possible))) <= K - 1
        assert not certain, (pair, label, a, b, possible)  # ... and never certain of a small group
        small += 1 <= abs(d) <= K - 1
    if pair.startswith(("hour", "weekday", "category", "field")):
        assert _plain(shown_a) == _plain(shown_b)  # conference mode ignores these filters: identical exports


def test_the_attack_of_the_issue_is_defeated(viewer, model) -> None:
    """?s=gap&q=2026-Q3 against the same with &h=0-23: before, 19 cells differed by 1 to 4."""
    fa, fb = PAIRS["hour window 0-24 / 0-23"]
    # before: exact counts under each filter
    exact_a = geo_model.complaint_cell_counts(model, fa)
    exact_b = geo_model.complaint_cell_counts(model, fb)
    diff = exact_a - exact_b
    exposed = int(((exact_a >= K) & (exact_b >= K) & (diff >= 1) & (diff <= K - 1)).sum())
    assert exposed > 0  # the attack worked on exact counts
    shown_a, _ = exported(viewer, model, fa)
    shown_b, _ = exported(viewer, model, fb)
    assert _plain(shown_a) == _plain(shown_b)  # after: the hour window is not applied in conference mode


def test_the_same_records_give_the_same_number_in_every_view(viewer, model) -> None:
    views = [BASE, replace(BASE, hours=(6, 18)), replace(BASE, districts=("heessen",)),
             replace(BASE, districts=("heessen", "mitte")), replace(BASE, categories=("laerm",))]
    numbers = [exported(viewer, model, f)[0] for f in views]
    for one, two in combinations(numbers, 2):
        for label in one.keys() & two.keys():
            if label.startswith(("cell:", "district:")):  # a cell's records do not depend on these
                assert one[label] == two[label] or (np.isnan(one[label]) and np.isnan(two[label])), label
    # the trend's 2026-Q3 is the view total of a one-quarter view over all districts: same records
    assert numbers[0]["quarter:2026-Q3"] == numbers[0]["total:complaints"]
    # a quarter's number does not change with the period shown around it
    wide, _ = exported(viewer, model, Filters(Q("2025-Q3"), Q("2026-Q3")))
    assert wide["quarter:2026-Q3"] == numbers[0]["quarter:2026-Q3"]
    assert wide["quarter:2026-Q1"] == exported(viewer, model, Filters(Q("2026-Q1"), Q("2026-Q1")))[0][
        "quarter:2026-Q1"]


def test_published_numbers_stay_within_the_ptable(viewer, model) -> None:
    shown, true = exported(viewer, model, Filters(Q("2025-Q4"), Q("2026-Q3")))
    for label, v in shown.items():
        if np.isnan(v):
            assert true[label] < K or label.startswith(("district:", "quarter:")), label  # margins
            continue
        assert v >= K and abs(v - true[label]) <= PTABLE.d, (label, v, true[label])


@pytest.mark.parametrize(("count", "key", "expected"), [
    (100, 0.0, 98), (100, 0.099, 98), (100, 0.11, 99), (100, 0.31, 100), (100, 0.69, 100), (100, 0.71, 101),
    (100, 0.95, 102), (5, 0.0, 5), (5, 0.5, 5), (5, 0.6, 6), (5, 0.99, 7), (6, 0.0, 5), (6, 0.3, 6),
    (3, 0.5, 3),
])
def test_ptable_lookup(count, key, expected) -> None:
    assert int(PTABLE.perturb(np.array([count]), np.array([key]), 5)[0]) == expected


def test_ptable_rows_never_publish_below_k_and_every_value_has_two_sources() -> None:
    for k in (3, 5, 10):
        for n in range(k, k + 10):
            e, p = PTABLE.row(n, k)
            assert (n + e >= k).all() and abs(p.sum() - 1) < 1e-12
        for v in range(k, k + 10):
            assert len(PTABLE.sources(v, k)) >= 2


def test_record_keys_are_fixed_per_record_and_secret() -> None:
    ids = ["A-1", "A-2", "A-3", "B-9"]
    one = record_keys(ids, "geheim")
    assert np.array_equal(one, record_keys(ids, "geheim"))
    assert np.array_equal(one[[2, 0]], record_keys(["A-3", "A-1"], "geheim"))  # per record, not per position
    assert not np.array_equal(one, record_keys(ids, "anders"))
    assert ((one >= 0) & (one < 1)).all()
    keys = record_keys([f"X-{i}" for i in range(100_000)], "s")
    assert 0.49 < keys.mean() < 0.51  # uniform
    # sums are exact in any order: the cell key does not depend on how the view adds them up
    sums = [keys.sum(), keys[::-1].sum(), np.sort(keys).sum(), sum(keys.tolist())]
    assert len(set(cell_keys(sums).tolist())) == 1


def test_published_counts_suppress_below_k() -> None:
    out = published_counts([0, 3, 4, 5, 50], [0.2, 1.3, 2.5, 0.99, 7.0], 5)
    assert np.isnan(out[:3]).all() and out[3] == 7 and out[4] == 48
