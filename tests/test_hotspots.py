"""Getis-Ord Gi* (geo.hotspots), checked against PySAL's esda on the same weights."""

from __future__ import annotations

import warnings

import h3
import libpysal
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from esda.getisord import G_Local
from scipy.stats import false_discovery_control
from shapely.geometry import box

from data.generator import build_districts
from geo.cells import build_cell_index
from geo.hotspots import GI_COLUMNS, HOTSPOT_CLASSES, bh_adjust, classify, gi_star


def small_districts() -> pd.DataFrame:
    return pd.DataFrame({
        "district_id": ["west", "east"],
        "name": ["West", "East"],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)],
    })


@pytest.fixture(scope="module")
def index():
    return build_cell_index(small_districts(), 9)


@pytest.fixture(scope="module")
def city_index():
    return build_cell_index(build_districts(), 9)


def _pysal_w(neighbours: sp.csr_matrix, with_self: bool) -> libpysal.weights.W:
    """A libpysal W from the same binary neighbour matrix (optionally without the diagonal)."""
    n = neighbours.shape[0]
    neigh = {}
    for i in range(n):
        row = neighbours.indices[neighbours.indptr[i]:neighbours.indptr[i + 1]].tolist()
        neigh[i] = row if with_self else [j for j in row if j != i]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return libpysal.weights.W(neigh, id_order=list(range(n)), silence_warnings=True)


def _counts(n: int, seed: int, hot: list[int] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(3.0, n).astype(float)
    for k in hot or []:
        x[k] += 40
    return x


@pytest.mark.parametrize("with_self", [True, False])
@pytest.mark.parametrize(("which", "seed"), [("small", 1), ("small", 2), ("city", 3), ("city", 4)])
def test_z_and_p_agree_with_esda(index, city_index, which, seed, with_self) -> None:
    idx = index if which == "small" else city_index
    n = len(idx.cells)
    x = _counts(n, seed, hot=[n // 3, n // 3 + 1, n // 2])
    ours = gi_star(x, idx)
    w = _pysal_w(idx.neighbours, with_self)
    # with_self: the diagonal is in W; without: esda adds self-weight 1 for star=True and "B"
    ref = G_Local(x, w, transform="B", star=True, permutations=0)
    assert np.allclose(ours["z"].to_numpy(), ref.Zs, rtol=0, atol=1e-6)
    assert np.allclose(ours["p"].to_numpy(), 2 * ref.p_norm, rtol=0, atol=1e-6)


def test_weights_used_for_esda_are_ours(index) -> None:
    w = _pysal_w(index.neighbours, with_self=True)
    assert (w.sparse != index.neighbours).nnz == 0


def test_frame_shape_and_order(index) -> None:
    x = _counts(len(index.cells), 5)
    frame = gi_star(x, index)
    assert list(frame.columns) == GI_COLUMNS
    assert frame["h3"].tolist() == list(index.cells)
    assert frame["count"].tolist() == x.astype(int).tolist()
    assert frame["count"].dtype == np.int64
    assert set(frame["cls"]) <= set(HOTSPOT_CLASSES)


def test_bh_matches_scipy() -> None:
    p = np.random.default_rng(0).uniform(0, 0.2, 500) ** 2
    assert np.allclose(bh_adjust(p), false_discovery_control(p, method="bh"))
    assert bh_adjust(np.array([])).size == 0


def test_bh_on_a_hand_example() -> None:
    # p sorted: 0.01, 0.02, 0.03, 0.5 -> *4/rank: 0.04, 0.04, 0.04, 0.5
    assert bh_adjust(np.array([0.03, 0.5, 0.01, 0.02])).tolist() == pytest.approx([0.04, 0.5, 0.04, 0.04])


@pytest.mark.parametrize(
    ("z", "p_fdr", "expected"),
    [
        (3.0, 0.001, "hot99"),
        (3.0, 0.01, "hot99"),
        (2.0, 0.02, "hot95"),
        (2.0, 0.05, "hot95"),
        (1.7, 0.08, "hot90"),
        (1.7, 0.11, "none"),
        (-3.0, 0.005, "cold99"),
        (-2.0, 0.04, "cold95"),
        (-1.7, 0.09, "cold90"),
        (0.0, 0.0, "none"),
    ],
)
def test_classes_on_adjusted_p(z, p_fdr, expected) -> None:
    assert classify(np.array([z]), np.array([p_fdr])).tolist() == [expected]


def test_class_decided_on_adjusted_not_raw_p(index) -> None:
    """Many weak cells: raw p < 0.05 for some, but BH-adjusted none is significant."""
    n = len(index.cells)
    rng = np.random.default_rng(11)
    x = rng.poisson(5.0, n).astype(float)
    frame = gi_star(x, index)
    assert (frame["p"] < 0.10).any()
    assert (frame["p_fdr"] >= frame["p"]).all()
    assert frame.loc[frame["p_fdr"] > 0.10, "cls"].eq("none").all()


def test_known_hot_and_cold_spots(index) -> None:
    n = len(index.cells)
    centre = int(np.argmin((index.lat - index.lat.mean()) ** 2 + (index.lon - index.lon.mean()) ** 2))
    ring = [index.position[c] for c in h3.grid_disk(index.cells[centre], 1)]
    x = np.full(n, 10.0)
    x[ring] = 60.0
    frame = gi_star(x, index)
    assert frame["cls"][centre] == "hot99"
    x = np.full(n, 50.0)
    x[ring] = 0.0
    frame = gi_star(x, index)
    assert frame["cls"][centre] == "cold99"


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_constant_counts_have_no_hotspots(index, value) -> None:
    frame = gi_star(np.full(len(index.cells), value), index)
    assert (frame["z"] == 0).all() and (frame["p"] == 1).all() and (frame["p_fdr"] == 1).all()
    assert (frame["cls"] == "none").all()


def test_single_cell_study_area() -> None:
    lat, lon = h3.cell_to_latlng(h3.latlng_to_cell(51.68, 7.81, 9))
    tiny = pd.DataFrame({"district_id": ["x"], "name": ["X"],
                         "geometry": [box(lon - 0.0005, lat - 0.0003, lon + 0.0005, lat + 0.0003)]})
    idx = build_cell_index(tiny, 9)
    assert len(idx.cells) == 1
    frame = gi_star(np.array([7]), idx)
    assert frame["z"].tolist() == [0.0] and frame["p"].tolist() == [1.0]
    assert frame["cls"].tolist() == ["none"]


def test_cell_whose_neighbourhood_is_everything() -> None:
    """Seven cells (a cell and its ring): the centre sees all n cells, variance 0 -> z 0."""
    centre = h3.latlng_to_cell(51.68, 7.81, 9)
    lat, lon = h3.cell_to_latlng(centre)
    idx = build_cell_index(pd.DataFrame({"district_id": ["x"], "name": ["X"],
                                         "geometry": [box(lon - 0.004, lat - 0.0025, lon + 0.004,
                                                          lat + 0.0025)]}), 9)
    x = np.arange(len(idx.cells), dtype=float)
    frame = gi_star(x, idx)
    full = np.asarray(idx.neighbours.sum(axis=1)).ravel() == len(idx.cells)
    assert np.isfinite(frame["z"]).all()
    assert (frame["z"][full] == 0).all()


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.ones(3), "counts must have one value per cell"),
        (np.ones((2, 2)), "counts must have"),
        (None, "counts must"),
    ],
)
def test_bad_counts_shape(index, counts, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        gi_star(counts, index)


@pytest.mark.parametrize(("bad", "message"), [(-1.0, "must not be negative, got -1.0"),
                                              (np.nan, "must be finite, got nan")])
def test_bad_count_values(index, bad, message) -> None:
    x = np.ones(len(index.cells))
    x[3] = bad
    with pytest.raises(ValueError, match=message):
        gi_star(x, index)


@pytest.mark.parametrize(
    ("alphas", "message"),
    [((), "at least one level"), ((0.0,), "got 0.0"), ((1.0,), "got 1.0"), ((0.05, 1.5), "got 1.5"),
     (("x",), "must be numbers")],
)
def test_bad_alpha_levels(index, alphas, message) -> None:
    with pytest.raises(ValueError, match=message):
        gi_star(np.ones(len(index.cells)), index, alpha_levels=alphas)


def test_custom_alpha_levels(index) -> None:
    n = len(index.cells)
    x = np.full(n, 10.0)
    x[[0, 1, 2]] = 80
    frame = gi_star(x, index, alpha_levels=(0.2,))
    assert set(frame["cls"]) <= {"hot80", "cold80", "none"}


def test_planted_cells_stand_out_on_the_city(city_index) -> None:
    # Timing lives in bench/analytics.py; here only what it finds.
    x = _counts(len(city_index.cells), 9, hot=[100, 200])
    frame = gi_star(x, city_index)
    assert frame.loc[[100, 200], "z"].min() > frame["z"].drop([100, 200]).quantile(0.99)
