"""Presence (dosage) from pings and the complaint/presence cubes (geo.dosage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from data.contracts import TZ
from data.periods import parse_quarter
from geo.cells import build_cell_index
from geo.dosage import (
    build_complaint_cube,
    build_presence_cube,
    complaint_category_counts,
    complaint_counts,
    complaint_counts_by_quarter,
    complaint_weekday_hour,
    district_presence,
    hour_mask,
    ping_dwell_seconds,
    presence_by_quarter,
    presence_minutes,
    time_parts,
)

MONDAY = pd.Timestamp("2025-01-06 10:00", tz=TZ)  # 2025-Q1


@pytest.fixture(scope="module")
def districts() -> pd.DataFrame:
    return pd.DataFrame({
        "district_id": ["west", "east"],
        "name": ["West", "East"],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)],
        "population": [1000, None],
    })


@pytest.fixture(scope="module")
def index(districts):
    return build_cell_index(districts, 9)


@pytest.fixture(scope="module")
def cells(index) -> tuple[int, int]:
    """A cell in the west district (A) and one in the east district (B)."""
    a = int(np.flatnonzero(index.district == "west")[0])
    b = int(np.flatnonzero(index.district == "east")[-1])
    return a, b


def _pings(index, rows: list[tuple[str, pd.Timestamp, int]]) -> pd.DataFrame:
    """Pings (patrol, time, cell code or -1 for a point far outside) at cell centres."""
    lat = [index.lat[c] if c >= 0 else 0.0 for _, _, c in rows]
    lon = [index.lon[c] if c >= 0 else 0.0 for _, _, c in rows]
    return pd.DataFrame({
        "patrol_id": pd.Categorical([p for p, _, _ in rows]),
        "time": pd.Series([t for _, t, _ in rows], dtype=f"datetime64[ns, {TZ}]"),
        "lat": lat,
        "lon": lon,
    })


@pytest.fixture(scope="module")
def track(index, cells):
    a, b = cells
    s = pd.Timedelta(seconds=1)
    night = pd.Timestamp("2025-01-06 22:30", tz=TZ)
    rows = [
        # P1 (kod): 60 s in A, 60 s in A, 60 s in B, 6-minute gap (dropped), 60 s in A, last.
        ("P1", MONDAY, a), ("P1", MONDAY + 60 * s, a), ("P1", MONDAY + 120 * s, b),
        ("P1", MONDAY + 180 * s, b), ("P1", MONDAY + 540 * s, a), ("P1", MONDAY + 600 * s, b),
        # P2 (joint), at night: exactly 300 s kept, 301 s dropped, last 0.
        ("P2", night, b), ("P2", night + 300 * s, b), ("P2", night + 601 * s, b),
        # P3 (police): 120 s far outside the study area.
        ("P3", MONDAY, -1), ("P3", MONDAY + 120 * s, -1),
    ]
    pings = _pings(index, rows)
    patrols = pd.DataFrame({"patrol_id": ["P1", "P2", "P3"], "kind": ["kod", "joint", "police"]})
    return pings, patrols


def test_dwell_seconds_of_a_known_track(track) -> None:
    pings, _ = track
    assert ping_dwell_seconds(pings).tolist() == [60, 60, 60, 0, 60, 0, 300, 0, 0, 120, 0]


def test_six_minute_gap_is_dropped_and_five_minutes_kept(index, cells) -> None:
    a, _ = cells
    s = pd.Timedelta(seconds=1)
    pings = _pings(index, [("X", MONDAY, a), ("X", MONDAY + 360 * s, a), ("X", MONDAY + 660 * s, a),
                           ("X", MONDAY + 961 * s, a)])
    assert ping_dwell_seconds(pings).tolist() == [0, 300, 0, 0]


def test_dwell_seconds_unsorted_and_plain_ids(track) -> None:
    pings, _ = track
    expected = ping_dwell_seconds(pings)
    order = np.random.default_rng(1).permutation(len(pings))
    shuffled = pings.iloc[order].reset_index(drop=True)
    shuffled["patrol_id"] = shuffled["patrol_id"].astype(str)
    assert ping_dwell_seconds(shuffled).tolist() == expected[order].tolist()


def test_dwell_seconds_missing_time_counts_zero(index, cells) -> None:
    a, _ = cells
    pings = _pings(index, [("X", MONDAY, a), ("X", MONDAY + pd.Timedelta(seconds=30), a),
                           ("X", MONDAY + pd.Timedelta(seconds=90), a)])
    pings.loc[1, "time"] = pd.NaT
    assert ping_dwell_seconds(pings).tolist() == [90, 0, 0]


@pytest.mark.parametrize("gap", [-1, -0.5])
def test_dwell_negative_gap_rejected(track, gap) -> None:
    with pytest.raises(ValueError, match=f"got {gap}"):
        ping_dwell_seconds(track[0], max_gap_s=gap)


def test_known_minutes_per_cell_split_by_kind(track, index, cells) -> None:
    a, b = cells
    cube = build_presence_cube(*track, index)
    assert list(cube.columns) == ["cell", "quarter", "kind", "weekday", "hour", "seconds"]
    assert cube["seconds"].sum() == 60 * 4 + 300 + 120  # outside pings stay in the cube (cell -1)
    m = presence_minutes(cube, index)
    assert list(m) == ["kod", "joint", "police", "total"]
    expected_kod = np.zeros(len(index.cells))
    expected_kod[a], expected_kod[b] = 3.0, 1.0
    expected_joint = np.zeros(len(index.cells))
    expected_joint[b] = 5.0
    assert np.allclose(m["kod"], expected_kod)
    assert np.allclose(m["joint"], expected_joint)
    assert np.allclose(m["police"], 0.0)
    assert np.allclose(m["total"], expected_kod + expected_joint)


@pytest.mark.parametrize(
    ("filters", "kod_a", "kod_b", "joint_b"),
    [
        ({}, 3, 1, 5),
        ({"kinds": ["joint"]}, None, None, 5),
        ({"hours": (22, 6)}, 0, 0, 5),
        ({"hours": (10, 11)}, 3, 1, 0),
        ({"hours": (11, 22)}, 0, 0, 0),
        ({"weekdays": [0]}, 3, 1, 5),
        ({"weekdays": [1, 2, 3, 4, 5, 6]}, 0, 0, 0),
        ({"quarters": ["2025-Q1"]}, 3, 1, 5),
        ({"quarters": [parse_quarter("2024-Q4")]}, 0, 0, 0),
        ({"districts": ["west"]}, 3, 0, 0),
        ({"districts": ["east"]}, 0, 1, 5),
        ({"districts": []}, 0, 0, 0),
    ],
)
def test_presence_filters(track, index, cells, filters, kod_a, kod_b, joint_b) -> None:
    a, b = cells
    cube = build_presence_cube(*track, index)
    m = presence_minutes(cube, index, **filters)
    if kod_a is None:
        assert "kod" not in m
    else:
        assert m["kod"][a] == pytest.approx(kod_a) and m["kod"][b] == pytest.approx(kod_b)
    assert m["joint"][b] == pytest.approx(joint_b)


def test_presence_by_quarter(track, index, cells) -> None:
    a, b = cells
    cube = build_presence_cube(*track, index)
    grid = presence_by_quarter(cube, index, ["2024-Q4", "2025-Q1"])
    assert grid.shape == (2, len(index.cells))
    assert grid[0].sum() == 0
    assert grid[1][a] == pytest.approx(3) and grid[1][b] == pytest.approx(6)
    with pytest.raises(ValueError, match="at least one quarter"):
        presence_by_quarter(cube, index, [])


def test_district_presence(track, index, districts) -> None:
    cube = build_presence_cube(*track, index)
    frame = district_presence(cube, index, districts)
    assert list(frame.columns) == ["district_id", "name", "hours", "hours_per_1000", "joint_share",
                                   "hours_kod", "hours_joint", "hours_police"]
    west, east = frame.iloc[0], frame.iloc[1]
    assert west["hours"] == pytest.approx(3 / 60)
    assert west["hours_per_1000"] == pytest.approx(3 / 60)
    assert west["joint_share"] == 0
    assert east["hours"] == pytest.approx(6 / 60)
    assert np.isnan(east["hours_per_1000"])  # no population
    assert east["joint_share"] == pytest.approx(5 / 6)
    assert east["hours_kod"] == pytest.approx(1 / 60)
    only_kod = district_presence(cube, index, districts, kinds=["kod"])
    assert np.isnan(only_kod["joint_share"]).all() and np.isnan(only_kod["hours_joint"]).all()
    by_q = district_presence(cube, index, districts, by_quarter=True,
                             quarters=["2024-Q4", "2025-Q1"])
    assert by_q["quarter"].tolist() == [parse_quarter("2024-Q4"), parse_quarter("2025-Q1")] * 2
    assert by_q["hours"].tolist() == pytest.approx([0, 3 / 60, 0, 6 / 60])


def test_empty_pings_give_empty_cube(index) -> None:
    pings = _pings(index, [])
    cube = build_presence_cube(pings, pd.DataFrame({"patrol_id": [], "kind": []}), index)
    assert len(cube) == 0
    assert presence_minutes(cube, index)["total"].sum() == 0


def test_unknown_patrol_is_left_out(track, index) -> None:
    pings, patrols = track
    cube = build_presence_cube(pings, patrols[patrols["patrol_id"] != "P2"], index)
    assert presence_minutes(cube, index)["joint"].sum() == 0


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (None, list(range(24))),
        ((0, 24), list(range(24))),
        ((9, 17), list(range(9, 17))),
        ((22, 6), [22, 23, 0, 1, 2, 3, 4, 5]),
        ((23, 24), [23]),
        ((23, 0), [23]),
        ((0, 1), [0]),
        ((5, 5), list(range(24))),
    ],
)
def test_hour_mask(hours, expected) -> None:
    assert sorted(np.flatnonzero(hour_mask(hours)).tolist()) == sorted(expected)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ((-1, 5), "hours start must be an integer in 0..23, got -1"),
        ((24, 3), "hours start must be an integer in 0..23, got 24"),
        ((0, 25), "hours end must be an integer in 0..24, got 25"),
        (("9", 17), "hours start must be an integer in 0..23, got '9'"),
        ((9.5, 17), "got 9.5"),
        ((1, 2, 3), r"hours must be a \(start, end\) pair, got \(1, 2, 3\)"),
        (5, "hours must be a"),
    ],
)
def test_hour_mask_rejects(hours, message) -> None:
    with pytest.raises(ValueError, match=message):
        hour_mask(hours)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"weekdays": [7]}, "weekday must be an integer 0 .Monday...6 .Sunday., got 7"),
        ({"weekdays": 3}, "weekdays must be an iterable"),
        ({"kinds": ["bike"]}, "patrol kind must be one of .*got 'bike'"),
        ({"kinds": "kod"}, "kinds must be an iterable"),
        ({"quarters": ["2025-Q5"]}, "quarter must look like"),
        ({"quarters": 8100}, "quarters must be an iterable"),
        ({"quarters": [1.5]}, "got 1.5"),
        ({"districts": "west"}, "districts must be an iterable"),
    ],
)
def test_presence_filter_errors(track, index, filters, message) -> None:
    cube = build_presence_cube(*track, index)
    with pytest.raises(ValueError, match=message):
        presence_minutes(cube, index, **filters)


@pytest.mark.parametrize(
    ("local", "quarter", "weekday", "hour"),
    [
        ("2025-03-30 03:30", "2025-Q1", 6, 3),  # first hour after the spring DST switch
        ("2024-12-31 23:30", "2024-Q4", 1, 23),  # UTC is 22:30, still 2024-Q4
        ("2025-01-01 00:30", "2025-Q1", 2, 0),  # UTC is 2024-12-31 23:30
        ("2025-10-26 02:30", "2025-Q4", 6, 2),  # ambiguous hour (fall back)
    ],
)
def test_time_parts_local(local, quarter, weekday, hour) -> None:
    t = pd.Series([pd.Timestamp(local).tz_localize(TZ, ambiguous=True)]).dt.tz_convert("UTC")
    q, w, h = time_parts(t)
    assert (q[0], w[0], h[0]) == (parse_quarter(quarter), weekday, hour)


def test_time_parts_missing_and_naive() -> None:
    q, w, h = time_parts(pd.Series([pd.NaT], dtype=f"datetime64[us, {TZ}]"))
    assert (q[0], w[0], h[0]) == (-1, -1, -1)
    with pytest.raises(ValueError, match="timezone-aware"):
        time_parts(pd.Series(pd.to_datetime(["2025-01-01"])))


# --- complaints ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def complaints(index, cells) -> pd.DataFrame:
    a, b = cells
    rows = [
        # cell, local time, category
        (a, "2025-01-06 10:15", "laerm"),  # Monday
        (a, "2025-01-06 23:10", "laerm"),
        (a, "2025-01-07 02:00", "drogen"),  # Tuesday night
        (b, "2025-01-11 20:00", "muell"),  # Saturday
        (b, "2024-11-02 12:00", "muell"),  # 2024-Q4, Saturday
        (-1, "2025-01-06 10:00", "laerm"),  # outside
    ]
    return pd.DataFrame({
        "complaint_id": [f"C-{i}" for i in range(len(rows))],
        "received_at": pd.Series([pd.Timestamp(t, tz=TZ) for _, t, _ in rows]),
        "category": [c for _, _, c in rows],
        "lat": [index.lat[c] if c >= 0 else 0.0 for c, _, _ in rows],
        "lon": [index.lon[c] if c >= 0 else 0.0 for c, _, _ in rows],
    })


@pytest.mark.parametrize(
    ("filters", "count_a", "count_b"),
    [
        ({}, 3, 2),
        ({"categories": ["laerm"]}, 2, 0),
        ({"categories": ["laerm", "muell", "unknown"]}, 2, 2),
        ({"categories": []}, 0, 0),
        ({"quarters": ["2025-Q1"]}, 3, 1),
        ({"hours": (22, 6)}, 2, 0),
        ({"weekdays": [5, 6]}, 0, 2),
        ({"districts": ["east"]}, 0, 2),
    ],
)
def test_complaint_counts(complaints, index, cells, filters, count_a, count_b) -> None:
    a, b = cells
    cube = build_complaint_cube(complaints, index)
    counts = complaint_counts(cube, index, **filters)
    assert counts.dtype == np.int64 and counts.shape == (len(index.cells),)
    assert (counts[a], counts[b]) == (count_a, count_b)
    assert counts.sum() == count_a + count_b


def test_complaint_cube_columns_and_totals(complaints, index) -> None:
    cube = build_complaint_cube(complaints, index)
    assert list(cube.columns) == ["cell", "quarter", "category", "weekday", "hour", "count", "key_sum"]
    assert cube["count"].sum() == len(complaints)
    # the key sums add up to the record keys of the complaints (exact: multiples of 2**-26)
    from geo.dosage import complaint_record_keys
    assert cube["key_sum"].sum() == complaint_record_keys(complaints).sum() > 0
    assert complaint_weekday_hour(cube, value="key_sum").sum() == cube["key_sum"].sum()
    assert (cube["cell"] == -1).sum() == 1
    assert complaint_weekday_hour(cube).sum() == len(complaints)
    grid = complaint_weekday_hour(cube, index, districts=["west"])
    assert grid[0, 10] == 1 and grid[0, 23] == 1 and grid[1, 2] == 1 and grid.sum() == 3


def test_complaint_counts_by_quarter(complaints, index, cells) -> None:
    a, b = cells
    cube = build_complaint_cube(complaints, index)
    grid = complaint_counts_by_quarter(cube, index, ["2025-Q1", "2024-Q4", "2025-Q2"])
    assert grid.shape == (3, len(index.cells))
    assert (grid[0, a], grid[0, b], grid[1, b], grid[2].sum()) == (3, 1, 1, 0)


def test_complaint_category_counts(complaints, index, cells) -> None:
    a, b = cells
    cube = build_complaint_cube(complaints, index)
    long = complaint_category_counts(cube, index)
    got = {(int(r.cell), str(r.category)): int(r.count) for r in long.itertuples()}
    assert got == {(a, "laerm"): 2, (a, "drogen"): 1, (b, "muell"): 2}


@pytest.mark.parametrize("dtype", ["object", "string", "category"])
def test_complaint_cube_accepts_category_dtypes(complaints, index, dtype) -> None:
    frame = complaints.copy()
    frame["category"] = frame["category"].astype(dtype)
    if dtype == "category":
        frame["category"] = frame["category"].cat.add_categories(["unused"])
    cube = build_complaint_cube(frame, index)
    reference = build_complaint_cube(complaints, index)
    assert np.array_equal(complaint_counts(cube, index, categories=["laerm"]),
                          complaint_counts(reference, index, categories=["laerm"]))
    assert cube["count"].sum() == len(frame)
