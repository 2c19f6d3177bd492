"""Anonymisation: k, suppression rules, and no cell below k in any conference view or export.

The conference views are checked against the true counts of the spatial model (not
against the numbers the views carry themselves), at every cell resolution and for a
table of filters, including ones that leave many small cells.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.filters import Filters, complaint_mask, incident_mask
from data.folder import load_folder
from data.periods import parse_quarter
from data.privacy import (
    K_DEFAULT,
    K_MAX,
    PTABLE,
    assert_k_anonymous,
    below_k,
    check_k,
    conference_filters,
    effective_k,
    k_choices,
    k_from_env,
    parse_k,
    requested_k,
    suppress_margin,
    suppress_rows,
)
from data.roles import Principal, restrict
from geo import maps
from geo import model as geo_model
from geo.cells import RESOLUTIONS
from viz import exports, presentation

REPO = Path(__file__).resolve().parent.parent
Q = parse_quarter


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (5, 5), (np.int64(7), 7), (100, 100)])
def test_check_k_accepts_whole_numbers_from_3(value, expected) -> None:
    assert check_k(value) == expected


@pytest.mark.parametrize("value", [2, 0, -5, 2.5, 5.0, "5", None, True])
def test_check_k_rejects_anything_else(value) -> None:
    with pytest.raises(ValueError, match=r"k must be .*got"):
        check_k(value)


@pytest.mark.parametrize(("env", "expected"), [({}, 5), ({"LAGEBILD_K": "7"}, 7), ({"LAGEBILD_K": " 3 "}, 3),
                                              ({"LAGEBILD_K": ""}, K_DEFAULT)])
def test_k_from_env(env, expected) -> None:
    assert k_from_env(env) == expected


@pytest.mark.parametrize("raw", ["2", "1", "0", "-3", "five", "4.5", "1e1"])
def test_k_from_env_never_below_3(raw) -> None:
    with pytest.raises(ValueError, match=repr(raw).replace(".", r"\.")):
        k_from_env({"LAGEBILD_K": raw})


@pytest.mark.parametrize(("configured", "requested", "expected"), [
    (5, None, 5), (5, "8", 8), (5, "3", 5), (3, "4", 4), (10, "5", 10)])
def test_page_parameter_can_only_raise_k(configured, requested, expected) -> None:
    assert effective_k(configured, requested) == expected


@pytest.mark.parametrize(("floor", "raw", "expected"), [
    (5, None, (5, None)), (5, "8", (8, None)), (5, "50", (50, None)), (5, "100", (50, "capped")),
    (5, "4", (5, "floor")), (5, "-7", (5, "floor")), (7, "5", (7, "floor")), (60, "100", (60, "capped")),
    (60, "60", (60, None)), (5, "zehn", (5, "invalid")), (5, "1e9", (5, "invalid")),
    (5, "9" * 40, (5, "invalid")), (5, "٣", (5, "invalid"))])
def test_kmin_only_raises_k_up_to_the_maximum(floor, raw, expected) -> None:
    assert K_MAX == 50
    assert requested_k(floor, raw) == expected
    k, _ = requested_k(floor, raw)
    assert k >= floor and k in k_choices(floor)


def test_page_parameter_below_3_is_an_error() -> None:
    with pytest.raises(ValueError, match="got '2'"):
        parse_k("2")


@pytest.mark.parametrize(("counts", "k", "hidden"), [
    ([10, 12, 7], 5, [False, False, False]),
    ([10, 3, 0, 9], 5, [False, True, True, True]),  # hidden 3 < k: the smallest shown (9) goes too
    ([10, 3, 4, 9], 5, [False, True, True, False]),  # hidden 3 + 4 = 7 >= k: enough
    ([0, 0, 20], 5, [True, True, False]),  # zeros hide nothing: no secondary suppression
    ([2, 2], 3, [True, True]),
    ([1, 50, 60, 70], 3, [True, True, False, False]),
    ([np.nan, 8, 8], 5, [True, False, False]),
])
def test_suppress_margin(counts, k, hidden) -> None:
    mask = suppress_margin(counts, k)
    assert mask.tolist() == hidden
    values = np.nan_to_num(np.asarray(counts, dtype=float))
    assert values[mask].sum() == 0 or values[mask].sum() >= k


def test_suppress_rows_and_guard() -> None:
    frame = pd.DataFrame({"h3": list("abcd"), "count": [1, 5, 4, 9]})
    assert suppress_rows(frame, "count", 5)["h3"].tolist() == ["b", "d"]
    assert below_k([4, 5, np.nan], 5).tolist() == [True, False, True]
    with pytest.raises(ValueError, match=r"count below k=5 in row 0, got 1\.0"):
        assert_k_anonymous(frame, ["count"], 5, "cells")
    assert_k_anonymous(frame.assign(count=[np.nan, 5, np.nan, 9]), ["count"], 5, "cells")


# --- the conference views against the true counts ----------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


@pytest.fixture(scope="module")
def models(demo):
    return {r: geo_model.build(demo, r) for r in RESOLUTIONS}


@pytest.fixture(scope="module")
def coordinator_bundle(demo):
    return restrict(demo, Principal("coordinator", ("heessen", "bockum-hoevel")))


@pytest.fixture(scope="module")
def coordinator_models(coordinator_bundle):
    return {r: geo_model.build(coordinator_bundle, r) for r in RESOLUTIONS}


FILTERS = {
    "latest quarter": Filters(Q("2026-Q3"), Q("2026-Q3")),
    "all quarters": Filters(Q("2024-Q4"), Q("2026-Q3")),
    "one district": Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("heessen",)),
    "two districts, one field": Filters(Q("2026-Q2"), Q("2026-Q3"), districts=("mitte", "pelkum"),
                                        fields=("infrastruktur",)),
    "one category at night": Filters(Q("2026-Q3"), Q("2026-Q3"), categories=("laerm",), hours=(22, 6)),
    "sunday mornings": Filters(Q("2026-Q1"), Q("2026-Q3"), weekdays=(6,), hours=(6, 12)),
    "rare category": Filters(Q("2025-Q3"), Q("2025-Q3"), categories=("graffiti",)),
}


def _true_cell_counts(model, f: Filters) -> dict[str, int]:
    counts = geo_model.complaint_cell_counts(model, replace(f, districts=()))
    return dict(zip(model.index.cells, counts.astype(int), strict=True))


def _check_views(bundle, model, f: Filters, k: int) -> presentation.Anonymised:
    anon = presentation.anonymise(bundle, model, f, "de", k)
    f = conference_filters(f)  # what conference mode applies: whole quarters, days, all categories
    assert anon.filters == f
    true = _true_cell_counts(model, f)
    # every displayed or exported cell, checked against the model's own counts
    shown_cells = set(anon.cells["h3"]) | set(anon.gap["h3"])
    for view in presentation.MAP_VIEWS:
        m = presentation.view_map(bundle, anon, f, "de", "none", view)
        for name in maps.layer_names(m):
            if name == "Bezirke":
                continue
            shown_cells |= {feat["id"] for feat in maps.layer_features(maps.feature_group(m, name))}
    geo = json.loads(exports.cells_geojson(presentation.cells_for_export(anon), ["count"]))
    shown_cells |= {feat["id"] for feat in geo["features"]}
    assert all(true[c] >= k for c in shown_cells), sorted((c, true[c]) for c in shown_cells if true[c] < k)
    assert all(feat["properties"]["count"] >= k for feat in geo["features"])
    for feat in geo["features"]:  # published through the cell key method: at most ±D off
        assert abs(feat["properties"]["count"] - true[feat["id"]]) <= PTABLE.d
    # districts: complaints and staff incidents, primary and secondary suppression
    c = bundle["complaints"]
    inc = bundle["staff_incidents"]
    for col, frame, mask in (("complaints", c, complaint_mask), ("incidents", inc, incident_mask)):
        counts = frame.loc[mask(frame, replace(f, districts=())), "district_id"].astype(str).value_counts()
        truth = anon.districts["district_id"].map(counts).fillna(0).to_numpy()
        shown = anon.districts[col].notna().to_numpy()
        assert (truth[shown] >= k).all()
        hidden = truth[~shown].sum()
        assert hidden == 0 or hidden >= k or not shown.any()  # no differencing from the total
        assert (np.abs(anon.districts[col].to_numpy()[shown] - truth[shown]) <= PTABLE.d).all()
        assert (anon.districts[col].to_numpy()[shown] >= k).all()
    assert anon.districts.loc[anon.districts["complaints"].isna(), "per_1000"].isna().all()
    # the trend: quarters below k are gaps; the period's quarters form one margin
    values = anon.trend["value"].to_numpy()
    assert ((values >= k) | np.isnan(values)).all()
    # the tables a viewer sees or downloads
    table = presentation.district_display(anon, "de")
    assert len(table) == len(anon.districts)
    gaps = presentation.gap_table(anon, "de")
    assert (gaps["Beschwerden"] >= k).all()
    return anon


@pytest.mark.parametrize("k", [3, 5, 10])
@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("name", list(FILTERS))
def test_no_cell_district_or_quarter_below_k(demo, models, name, resolution, k) -> None:
    _check_views(demo, models[resolution], FILTERS[name], k)


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_no_cell_below_k_for_a_coordinator(coordinator_bundle, coordinator_models, resolution) -> None:
    anon = _check_views(coordinator_bundle, coordinator_models[resolution], FILTERS["latest quarter"], 5)
    assert set(anon.districts["district_id"]) == {"heessen", "bockum-hoevel"}
    assert set(anon.cells["district_id"]) <= {"heessen", "bockum-hoevel"}


def test_suppression_happens_for_small_selections(demo, models) -> None:
    f = FILTERS["latest quarter"]
    anon = presentation.anonymise(demo, models[10], FILTERS["one category at night"], "de", 5)
    assert anon.filters == f  # category and hours are dropped in conference mode
    assert anon.suppressed > 0
    assert anon.trend["value"].isna().sum() + anon.districts["incidents"].isna().sum() > 0
    true = _true_cell_counts(models[10], f)
    spots = geo_model.hotspots(models[10], f)
    hot_small = spots[(spots["cls"] != "none") & (spots["count"] < 5) & (spots["count"] > 0)]
    assert len(hot_small) > 0  # there were significant cells below k ...
    assert not set(hot_small["h3"]) & set(anon.cells["h3"])  # ... and none is shown
    assert all(true[c] >= 5 for c in anon.cells["h3"])


def test_staff_incidents_only_per_district(demo, models) -> None:
    f = FILTERS["all quarters"]
    anon = presentation.anonymise(demo, models[9], f, "de", 5)
    m = presentation.hotspot_map(demo, anon, f, "de", "none")
    html = maps.map_html(m)
    for rec in demo["staff_incidents"].head(50).itertuples():
        assert f"{rec.lon:.6f}" not in html and f"{rec.lat:.6f}" not in html
    assert set(anon.districts.columns) >= {"incidents"}
    assert anon.districts["incidents"].dropna().ge(5).all()


@pytest.mark.parametrize("raised", [6, 7, 10, 25, 50])
def test_a_raised_k_never_gives_a_count_a_second_noise(raised: int) -> None:
    """Präsentation with kmin above the floor (5) against a viewer's pages (the floor): the same
    records are either suppressed or shown with the same number, never below the raised k."""
    from data.privacy import Publisher, published_counts

    rng = np.random.default_rng(raised)
    n = np.repeat(np.arange(0, 80), 40).astype(float)
    sums = rng.integers(0, 2**26, size=n.size) / 2**26 * 7.0
    pages = Publisher(k=5, secret="s").counts(n, sums)
    shown = published_counts(n, sums, raised, floor=5)
    both = ~np.isnan(shown)
    assert (shown[both] == pages[both]).all()
    assert (shown[both] >= raised).all() and not both[n < raised].any()
    assert both[n >= raised + 2].all()  # a count two above k or more is always shown
