"""Emerging hot spot analysis (geo.emerging): one constructed series per class."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import scipy.sparse as sp

from geo.emerging import (
    EMERGING_CLASSES,
    EMERGING_COLUMNS,
    emerging_hotspots,
    mann_kendall,
    space_time_gi_z,
)
from geo.hotspots import gi_star_z


@pytest.fixture(scope="module")
def index(two_district_index):
    return two_district_index


@pytest.fixture(scope="module")
def target(index) -> tuple[int, list[int]]:
    """The most central cell and its ring-1 neighbourhood (all inside the area)."""
    centre = int(np.argmin((index.lat - index.lat.mean()) ** 2 + (index.lon - index.lon.mean()) ** 2))
    ring = [index.position[c] for c in h3.grid_disk(index.cells[centre], 1)]
    assert len(ring) == 7
    return centre, ring


def series(index, target, pattern: str, intensity: list[float] | None = None) -> np.ndarray:
    """Counts per quarter for a pattern: H hot, C cold, . nothing special.

    Background is fixed Poisson noise (mean 5) in every quarter; H adds ``intensity`` to
    the target neighbourhood, C sets it to 0 on a background raised by 40, '.' is flat.
    """
    _, ring = target
    n = len(index.cells)
    noise = np.random.default_rng(42).poisson(5.0, n).astype(float)
    rows = []
    for t, mark in enumerate(pattern):
        if mark == "H":
            x = noise.copy()
            x[ring] += intensity[t] if intensity else 40.0
        elif mark == "C":
            x = noise + 40.0
            x[ring] = 0.0
        else:
            x = np.full(n, 5.0)
        rows.append(x)
    return np.array(rows)


CASES = [
    # id, pattern, intensity per quarter, expected class of the target cell
    ("new", ".......H", None, "new"),
    ("consecutive", ".....HHH", None, "consecutive"),
    ("consecutive-4", "..HH", None, "consecutive"),
    ("intensifying", "HHHHHHHH", [10, 15, 20, 30, 40, 60, 80, 120], "intensifying"),
    ("intensifying-4", "HHHH", [10, 20, 40, 80], "intensifying"),
    ("persistent", "HHHHHHHH", [40, 60, 40, 60, 40, 60, 40, 60], "persistent"),
    ("persistent-flat", "HHHHHHHH", None, "persistent"),
    ("diminishing", "HHHHHHHH", [120, 80, 60, 40, 30, 20, 15, 10], "diminishing"),
    ("sporadic", "H..H...H", None, "sporadic"),
    ("sporadic-run", "H....HHH", None, "sporadic"),
    ("oscillating", "C..H.C.H", None, "oscillating"),
    ("oscillating-new", "C......H", None, "oscillating"),
    ("historical", "HHHHHHHHH.", None, "historical"),
    ("none-flat", "........", None, "none"),
    ("none-faded", "HHHH....", None, "none"),
    ("none-7-of-8", "HHHHHHH.", None, "none"),  # 87.5 % < 90 %: not historical
    ("none-cold-only", ".......C", None, "none"),
]


@pytest.mark.parametrize(("pattern", "intensity", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_class_is_recognised_per_quarter(index, target, pattern, intensity, expected) -> None:
    centre, _ = target
    frame = emerging_hotspots(series(index, target, pattern, intensity), index, method="per_quarter")
    row = frame.iloc[centre]
    assert row["cls"] == expected, row.to_dict()
    assert row["history"] == pattern  # H/C/. per quarter as constructed
    assert row["hot_quarters"] == pattern.count("H")
    assert row["cold_quarters"] == pattern.count("C")


def test_all_hot_classes_covered_by_cases() -> None:
    assert {c[3] for c in CASES} == set(EMERGING_CLASSES)


COLD_CASES = [
    ("cold_new", ".......C", None),
    ("cold_consecutive", "....CCCC", None),
    ("cold_persistent", "CCCCCCCC", None),
    ("cold_oscillating", "H..C...C", None),
    ("cold_sporadic", "C..C...C", None),
    ("cold_historical", "CCCCCCCCC.", None),
]


@pytest.mark.parametrize(("expected", "pattern", "intensity"), COLD_CASES, ids=[c[0] for c in COLD_CASES])
def test_cold_classes_when_asked(index, target, expected, pattern, intensity) -> None:
    centre, _ = target
    x = series(index, target, pattern, intensity)
    got = emerging_hotspots(x, index, include_cold=True, method="per_quarter").iloc[centre]["cls"]
    assert got == expected
    assert emerging_hotspots(x, index, method="per_quarter").iloc[centre]["cls"] == "none"


def test_hot_classes_unchanged_with_cold(index, target) -> None:
    x = series(index, target, ".....HHH")
    assert emerging_hotspots(x, index, include_cold=True).iloc[target[0]]["cls"] == "consecutive"


def test_frame_columns(index, target) -> None:
    frame = emerging_hotspots(series(index, target, "....HHHH"), index)
    assert list(frame.columns) == EMERGING_COLUMNS
    assert frame["h3"].tolist() == list(index.cells)
    assert set(frame["cls"]) <= set(EMERGING_CLASSES)


def test_confidence_changes_what_is_significant(index, target) -> None:
    # four strictly rising quarters: MK p = 0.089, a trend at 90 % but not at 95 %
    x = series(index, target, "HHHH", [10, 20, 40, 80])
    centre, _ = target
    pq = {"method": "per_quarter"}
    assert emerging_hotspots(x, index, confidence=0.90, **pq).iloc[centre]["cls"] == "intensifying"
    assert emerging_hotspots(x, index, confidence=0.95, **pq).iloc[centre]["cls"] == "persistent"


@pytest.mark.parametrize(
    ("values", "s", "z"),
    [
        ([1, 2, 3, 4], 6, 5 / np.sqrt(4 * 3 * 13 / 18)),
        ([4, 3, 2, 1], -6, -5 / np.sqrt(4 * 3 * 13 / 18)),
        ([1, 1, 2, 2], 4, 3 / np.sqrt((156 - 2 * 18) / 18)),
        ([2, 2, 2, 2], 0, 0.0),
        ([1, 3, 2, 4, 3], 5, 4 / np.sqrt((5 * 4 * 15 - 2 * 1 * 9) / 18)),  # one tie pair
    ],
)
def test_mann_kendall_by_hand(values, s, z) -> None:
    got_s, got_z, got_p = mann_kendall(np.array(values, dtype=float))
    assert got_s[0] == s
    assert got_z[0] == pytest.approx(z)
    assert 0 <= got_p[0] <= 1


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_fewer_than_four_quarters_rejected(index, n) -> None:
    with pytest.raises(ValueError, match=f"at least 4 quarters, got {n}"):
        emerging_hotspots(np.ones((n, len(index.cells))), index)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.ones(5), "must be 2-dimensional"),
        (np.ones((4, 3)), "must have .* columns"),
        (-np.ones((4, 1)), "columns"),
    ],
)
def test_bad_shapes(index, counts, message) -> None:
    with pytest.raises(ValueError, match=message):
        emerging_hotspots(counts, index)


def test_negative_counts_rejected(index) -> None:
    x = np.ones((4, len(index.cells)))
    x[2, 5] = -3
    with pytest.raises(ValueError, match=r"must not be negative, got -3\.0"):
        emerging_hotspots(x, index)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_confidence(index, confidence) -> None:
    with pytest.raises(ValueError, match="confidence must lie in"):
        emerging_hotspots(np.ones((4, len(index.cells))), index, confidence=confidence)


def test_all_zero_quarters_are_none(index) -> None:
    frame = emerging_hotspots(np.zeros((6, len(index.cells))), index)
    assert (frame["cls"] == "none").all()
    assert np.isfinite(frame[["mk_z", "mk_p", "z_last"]].to_numpy()).all()


# --- the space-time cube (default method) ------------------------------------------------------

def test_space_time_z_equals_gi_star_on_the_explicit_cube_weights(index) -> None:
    """z of the fast path = Gi* of the flattened cube with the block weights I(x)A + L(x)A."""
    rng = np.random.default_rng(3)
    x = rng.poisson(4.0, (5, len(index.cells))).astype(float)
    a = index.neighbours.astype(np.float64)
    lag = sp.eye(5, k=-1)  # row t holds quarter t - 1
    cube_w = sp.kron(sp.eye(5), a) + sp.kron(lag, a)
    expected = gi_star_z(x.ravel(), sp.csr_matrix(cube_w)).reshape(x.shape)
    np.testing.assert_allclose(space_time_gi_z(x, index.neighbours), expected, atol=1e-9)


def _trend(index, target, levels: list[float]) -> np.ndarray:
    """A flat city (Poisson 5, the same draw every quarter) plus ``levels`` on the target disk."""
    _, ring = target
    noise = np.random.default_rng(42).poisson(5.0, len(index.cells)).astype(float)
    rows = []
    for level in levels:
        x = noise.copy()
        x[ring] += level
        rows.append(x)
    return np.array(rows)


SPACE_TIME_CASES = [
    # id, added counts on the target disk per quarter, expected class (space-time cube)
    ("new", [0, 0, 0, 0, 0, 0, 0, 60], "new"),
    ("consecutive", [0, 0, 0, 0, 0, 40, 40, 40], "consecutive"),
    ("persistent", [40] * 8, "persistent"),
    ("intensifying", [30, 35, 40, 50, 60, 70, 85, 100], "intensifying"),
    ("diminishing", [100, 85, 70, 60, 50, 40, 35, 30], "diminishing"),
    ("none", [0] * 8, "none"),
]


@pytest.mark.parametrize(("levels", "expected"), [c[1:] for c in SPACE_TIME_CASES],
                         ids=[c[0] for c in SPACE_TIME_CASES])
def test_each_class_is_recognised_space_time(index, target, levels, expected) -> None:
    row = emerging_hotspots(_trend(index, target, levels), index).iloc[target[0]]
    assert row["cls"] == expected, row.to_dict()


def test_space_time_is_the_default(index, target) -> None:
    x = _trend(index, target, [0, 0, 0, 0, 0, 40, 40, 40])
    assert emerging_hotspots(x, index).equals(emerging_hotspots(x, index, method="space_time"))


def test_methods_differ_on_a_one_quarter_burst(index, target) -> None:
    """Space-time: the burst also lifts the next quarter (its neighbourhood reaches back)."""
    x = series(index, target, "H..H...H")
    per_quarter = emerging_hotspots(x, index, method="per_quarter").iloc[target[0]]
    space_time = emerging_hotspots(x, index).iloc[target[0]]
    assert per_quarter["history"] == "H..H...H"
    assert space_time["history"] == "HH.HH..H"
    assert per_quarter["cls"] == space_time["cls"] == "sporadic"


def test_methods_differ_on_a_citywide_rise(index, target) -> None:
    """A quarter busier everywhere: hot everywhere on the cube, nothing within the quarter."""
    flat = np.random.default_rng(1).poisson(5.0, (6, len(index.cells))).astype(float)
    flat[-1] += 30.0
    per_quarter = emerging_hotspots(flat, index, method="per_quarter")
    space_time = emerging_hotspots(flat, index)
    assert (per_quarter["cls"] == "none").mean() > 0.95
    assert (space_time["cls"] == "new").mean() > 0.9


def test_unknown_method_rejected(index) -> None:
    with pytest.raises(ValueError, match=r"method must be one of .* got 'arcgis'"):
        emerging_hotspots(np.ones((4, len(index.cells))), index, method="arcgis")
