"""Pre-summed slices (geo.sums, data.tablesums): exactly the numbers of the cube and summary scans.

Every query of a period or district change is answered twice, once from the pre-summed
slices and once with them switched off (the cube and summary scans the slices replace), on
the demo and on a small constructed set, for exact and for published (viewer) counts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_prepared import _small_frames

from data import tablesums
from data.filters import Filters, complaint_mask, count
from data.folder import write_folder
from data.privacy import Publisher
from data.roles import Principal, restrict
from data.sources import DEMO_FOLDER
from geo import dosage, prepared, sums
from geo import model as geo_model
from viz import map_alt, pagedata


def _no_slices(monkeypatch) -> None:
    """Switch the pre-summed slices off: every query scans the cubes and the summary."""
    for name in ("complaint_counts", "complaint_counts_by_quarter", "presence_minutes",
                 "district_hours"):
        monkeypatch.setattr(sums, name, lambda *a, **k: None)
    monkeypatch.setattr(tablesums, "count_by", lambda *a, **k: None)
    monkeypatch.setattr(sums, "cube_rows_of_cells", lambda cube, cells: cube)


@pytest.fixture(scope="module")
def demo():
    return prepared.open_bundle(DEMO_FOLDER, progress=None)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sums") / "data"
    write_folder(folder, *_small_frames())
    prepared.prepare_folder(folder, progress=None)
    return prepared.open_bundle(folder, progress=None)


def _cases(bundle) -> list[Filters]:
    """Period and district changes (those the slices answer) and some they leave to the cube."""
    qs = bundle.quarters()
    ids = [str(d) for d in bundle["districts"]["district_id"]]
    last, first = qs[-1], qs[0]
    return [
        Filters(last, last),
        Filters(first, first),
        Filters(first, last),
        Filters(qs[len(qs) // 2], last, districts=(ids[0],)),
        Filters(last, last, districts=tuple(ids[-2:])),
        Filters(last - 40, last - 39),  # before the data: nothing
        Filters(first, last, kinds=("joint",)),
        Filters(first, last, kinds=("kod", "police"), districts=(ids[-1],)),
        Filters(first, last, weekdays=(0, 6)),  # the cube
        Filters(first, last, hours=(20, 6)),  # the cube
        Filters(first, last, categories=("laerm",)),  # the cube
    ]


def _answers(bundle, resolution: int, f: Filters) -> dict:
    """Everything a period or district change asks of the model and the summary."""
    m = geo_model.build(bundle, resolution)
    qs = bundle.quarters()
    return {
        "cells": geo_model.complaint_cell_counts(m, f),
        "by_quarter": geo_model.complaint_counts_by_quarter(m, f, qs),
        "presence": geo_model.presence_minutes(m, f),
        "district_hours": geo_model.district_hours(m, f),
        "hotspots": geo_model.hotspots(m, f),
        "gap": geo_model.gap(m, f),
        "district_table": pagedata.district_table(bundle, m, f),
        "lagebild": pagedata.lagebild_data(bundle, m, f, "de"),
        "alt": map_alt.lagebild(bundle, m, f, "de", "per_1000"),
        "what_changed": pagedata.what_changed_tables(bundle, f, "de"),
        "kpis": pagedata.overview_kpis(bundle, m, f),
        "alt_overview": map_alt.overview(bundle, m, f, "de"),
    }


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k}]")
    elif hasattr(a, "__dataclass_fields__"):
        for k in a.__dataclass_fields__:
            _assert_same(getattr(a, k), getattr(b, k), f"{where}.{k}")
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == b or (np.isnan(a) and np.isnan(b)), where
    else:
        assert a == b, where


def _viewer(bundle):
    return restrict(bundle, Principal(role="viewer", districts=None, name="v"),
                    env={"LAGEBILD_K": "3", "LAGEBILD_CELL_KEY_SECRET": "s"})


@pytest.mark.parametrize("which", ["demo", "small"])
@pytest.mark.parametrize("viewer", [False, True], ids=["exact", "published"])
def test_slices_answer_exactly_as_the_scans(request, monkeypatch, which, viewer) -> None:
    bundle = request.getfixturevalue(which)
    if viewer:
        bundle = _viewer(bundle)
        assert bundle.publisher is not None
    resolutions = (9,) if which == "demo" else (8, 9, 10)
    fast = {(r, f): _answers(bundle, r, f) for r in resolutions for f in _cases(bundle)}
    with monkeypatch.context() as mp:
        _no_slices(mp)
        for (r, f), answers in fast.items():
            _assert_same(answers, _answers(bundle, r, f), f"r{r} {f}")


def test_the_slices_are_used_for_period_and_district_filters(demo) -> None:
    m = geo_model.build(demo, 9)
    qs = demo.quarters()
    f = Filters(qs[0], qs[-1], districts=(str(demo["districts"]["district_id"].iloc[0]),))
    args = {"quarters": f.quarters, "districts": list(f.districts)}
    assert sums.complaint_counts(m.complaint_cube, m.index, **args) is not None
    assert sums.presence_minutes(m.presence_cube, m.index, **args) is not None
    assert tablesums.count_by(demo.complaint_table, f, "district_id") is not None
    # what they do not cover goes to the cube
    assert sums.complaint_counts(m.complaint_cube, m.index, weekdays=[1], **args) is None
    assert sums.complaint_counts(m.complaint_cube, m.index, categories=["laerm"], **args) is None
    assert sums.presence_minutes(m.presence_cube, m.index, hours=(8, 9), **args) is None
    assert tablesums.count_by(demo.complaint_table, replace(f, fields=("infrastruktur",)),
                              "district_id") is None
    assert tablesums.count_by(demo.complaint_table, f, "category") is None  # district filter


def _cube(index, seconds) -> pd.DataFrame:
    n = len(seconds)
    rng = np.random.default_rng(5)
    cells = np.sort(rng.integers(-1, len(index.cells), n))
    return dosage.presence_cube_from_rows(
        cells, rng.integers(8100, 8104, n), rng.integers(0, 3, n), rng.integers(0, 7, n),
        rng.integers(0, 24, n), np.asarray(seconds, dtype=float), len(index.cells))


@pytest.mark.parametrize("quarters", [[8100], [8101, 8102], None, [8100, 8103], [7000]])
@pytest.mark.parametrize("whole", [True, False], ids=["whole-seconds", "fractions"])
def test_presence_slices_only_where_exact(demo, quarters, whole) -> None:
    """Whole seconds sum exactly in any order: the slices answer. Fractions of a second do
    not: the slices decline and the cube answers."""
    index = geo_model.build(demo, 9).index
    rng = np.random.default_rng(7)
    seconds = rng.integers(1, 600, 3000).astype(float)
    if not whole:
        seconds = seconds + rng.uniform(0, 1, len(seconds))
    cube = _cube(index, seconds)
    fast = sums.presence_minutes(cube, index, quarters=quarters)
    if not whole:
        assert fast is None
        return
    scan = dosage.presence_minutes(cube, index, quarters=quarters)
    _assert_same(fast, scan, f"quarters {quarters}")
    ids = demo["districts"]["district_id"].astype(str).to_numpy()
    hours = sums.district_hours(cube, index, ids, quarters=quarters)
    table = dosage.district_presence(cube, index, demo["districts"], quarters=quarters)
    for k, kind in enumerate(("kod", "joint", "police")):
        np.testing.assert_array_equal(hours[:, k], table[f"hours_{kind}"].to_numpy())


@pytest.mark.parametrize("open_at_end", [False, True])
@pytest.mark.parametrize("publisher", [None, Publisher(k=3, secret="s")], ids=["exact", "published"])
def test_district_counts_equal_the_summary_scan(demo, open_at_end, publisher) -> None:
    table = demo.complaint_table
    qs = demo.quarters()
    ids = list(demo["districts"]["district_id"].astype(str))
    for f in (Filters(qs[-1], qs[-1]), Filters(qs[0], qs[-1]), Filters(qs[2], qs[4]),
              Filters(qs[-1], qs[-1], districts=tuple(ids[:2])), Filters(qs[0] - 8, qs[0] - 5),
              Filters(qs[0] - 1, qs[0] + 1)):
        mask = complaint_mask(table, f)
        if open_at_end:
            mask &= table["closed_quarter"].to_numpy() > f.q_to
        fast = tablesums.count_by(table, f, "district_id", publisher, open_at_end=open_at_end)
        scan = count(table, mask, "district_id", publisher=publisher)
        pd.testing.assert_series_equal(fast.sort_index(), scan.sort_index(), check_exact=True,
                                       check_index_type=False, check_categorical=False,
                                       check_dtype=publisher is not None, check_names=False)
        assert fast.dtype == (np.float64 if publisher is not None else np.int64)
        if f.districts:
            assert set(fast.index) <= set(f.districts)


@pytest.mark.parametrize("which", ["demo", "small"])
def test_whole_set_cube_in_one_pass_equals_the_grouping(request, which) -> None:
    bundle = request.getfixturevalue(which)
    for r in bundle.prepared.manifest["resolutions"]:
        stored = bundle.prepared.level(r).complaints
        merged = sums.merge_district_rows(stored)
        assert merged is not None
        grouped = dosage.complaint_cube_from_rows(
            stored["cell"].to_numpy().astype(np.int64), stored["quarter"].to_numpy(),
            stored["category"].cat.codes.to_numpy(), list(stored["category"].cat.categories),
            stored["weekday"].to_numpy(), stored["hour"].to_numpy(), stored["count"].to_numpy(),
            len(bundle.prepared.level(r).index.cells), stored["key_sum"].to_numpy())
        pd.testing.assert_frame_equal(merged, grouped, check_exact=True)
        shuffled = stored.sample(frac=1.0, random_state=1).reset_index(drop=True)
        assert sums.merge_district_rows(shuffled) is None  # unsorted: left to the grouping


def test_cube_rows_of_cells_are_the_masked_rows(demo) -> None:
    m = geo_model.build(demo, 9)
    cube = m.complaint_cube
    for cells in ([], [0], [5, 3, 3, 900], list(range(0, len(m.index.cells), 7)),
                  [len(m.index.cells) + 5]):
        expected = cube[np.isin(cube["cell"].to_numpy(), cells)]
        pd.testing.assert_frame_equal(sums.cube_rows_of_cells(cube, np.array(cells, dtype=np.int64)),
                                      expected)
    unsorted = cube.sample(frac=1.0, random_state=2)
    expected = unsorted[np.isin(unsorted["cell"].to_numpy(), [4, 8])]
    pd.testing.assert_frame_equal(sums.cube_rows_of_cells(unsorted, np.array([8, 4])), expected)


@pytest.mark.parametrize("which", ["demo", "small"])
@pytest.mark.parametrize("viewer", [False, True], ids=["exact", "published"])
def test_gap_main_categories_equal_those_of_the_whole_cube(request, which, viewer) -> None:
    """The gap list takes its cells' main categories from their cube rows only: the same list
    as presence_gap with the category counts of the whole cube."""
    from geo.gap import presence_gap

    bundle = request.getfixturevalue(which)
    if viewer:
        bundle = _viewer(bundle)
    m = geo_model.build(bundle, 9)
    qs = bundle.quarters()
    for f in (Filters(qs[-1], qs[-1]), Filters(qs[0], qs[-1]), Filters(qs[0], qs[-1], hours=(18, 6))):
        spots = geo_model.hotspots(m, f)
        presence = geo_model.presence_minutes(m, f)["total"]
        cats = dosage.complaint_category_counts(
            m.complaint_cube, m.index, quarters=f.quarters, weekdays=list(f.weekdays) or None,
            hours=None if f.hours == (0, 24) else f.hours)
        if m.publisher is not None:
            cats = cats.assign(count=m.publisher.filled(cats["count"], cats["key_sum"]))
            cats = cats[cats["count"] > 0].reset_index(drop=True)
        expected = presence_gap(spots, presence, m.index, cats)
        got = geo_model.gap(m, f)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        if which == "demo" and f.hours == (0, 24) and not viewer:
            assert len(got) and (got["main_categories"] != "").all()


@pytest.mark.parametrize("which", ["demo", "small"])
def test_lagebild_presence_layers_are_the_presence_cells_of_each_kind(which: str, request) -> None:
    """The map's presence layers (made from the minutes per cell directly) are the rows of
    geo.model.presence_cells of their kind, for every selected kind."""
    bundle = request.getfixturevalue(which)
    m = geo_model.build(bundle, 9)
    for f in _cases(bundle):
        layers = pagedata.lagebild_data(bundle, m, f, "de").presence
        long = geo_model.presence_cells(m, f)
        assert list(layers) == list(f.patrol_kinds())
        for kind, frame in layers.items():
            want = long[long["kind"] == kind][["h3", "minutes"]].rename(columns={"minutes": "value"})
            # (the long form's h3 column is of object dtype where one kind has no cells; the
            # layer's is always a string column)
            assert pd.api.types.is_string_dtype(frame["h3"]) and frame["value"].dtype == "float64"
            pd.testing.assert_frame_equal(frame, want.reset_index(drop=True), obj=f"{kind} {f}",
                                          check_dtype=False)


@pytest.mark.parametrize("metric,column", [("complaints", "complaints"), ("per_1000", "per_1000"),
                                           ("patrol_hours", "patrol_hours"), ("trend", "z")])
def test_district_layer_frame_joins_the_table_by_district(demo, metric: str, column: str) -> None:
    """The choropleth frame takes each district's value from the table by district_id (a
    table in another order, or without a district: NaN there, as a left join gives)."""
    m = geo_model.build(demo, 9)
    q = demo.quarters()
    table = pagedata.district_table(demo, m, Filters(q[-1], q[-1]))
    frame, _ = pagedata._district_layer_frame(demo, table, metric, "de")
    assert list(frame["district_id"]) == list(demo["districts"]["district_id"])
    assert frame["value"].dtype == table[column].dtype
    np.testing.assert_array_equal(frame["value"].to_numpy(), table[column].to_numpy())
    shuffled = table.iloc[::-1].iloc[:-1]  # reversed, the first district left out
    frame, _ = pagedata._district_layer_frame(demo, shuffled, metric, "de")
    assert np.isnan(frame["value"].iloc[0]) and frame["value_label"].iloc[0] == "–"
    np.testing.assert_array_equal(frame["value"].to_numpy()[1:],
                                  table[column].to_numpy()[1:].astype("float64"))


@pytest.mark.parametrize("resolution", [8, 9])
def test_district_hours_of_the_cube_equal_the_presence_tables_hours(demo, resolution) -> None:
    """dosage.district_hours (the scan behind a weekday or hour filter) gives the hours
    columns of dosage.district_presence, for every filter shape."""
    m = geo_model.build(demo, resolution)
    ids = demo["districts"]["district_id"].astype(str).to_numpy()
    qs = demo.quarters()
    for args in ({}, {"quarters": [qs[-1]]}, {"quarters": qs[:3], "weekdays": [0, 6]},
                 {"hours": (22, 6)}, {"quarters": [qs[0] - 9]}):
        hours = dosage.district_hours(m.presence_cube, m.index, ids, **args)
        table = dosage.district_presence(m.presence_cube, m.index, demo["districts"], **args)
        for k, kind in enumerate(("kod", "joint", "police")):
            np.testing.assert_array_equal(hours[:, k], table[f"hours_{kind}"].to_numpy(), err_msg=str(args))
