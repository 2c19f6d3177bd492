"""H3 cell index: study area, neighbours, fast point-to-cell codes (geo.cells)."""

from __future__ import annotations

import dataclasses

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from geo.cells import build_cell_index, cell_boundaries, cell_codes, cells_frame, check_resolution


def two_districts() -> pd.DataFrame:
    """Two adjacent rectangles in Hamm (about 2 x 2 km together)."""
    return pd.DataFrame({
        "district_id": ["west", "east"],
        "name": ["West", "East"],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)],
        "population": [1000, 0],
    })


@pytest.fixture(scope="module")
def districts() -> pd.DataFrame:
    return two_districts()


@pytest.fixture(scope="module", params=[8, 9, 10])
def index(request, districts):
    return build_cell_index(districts, request.param)


@pytest.mark.parametrize("value", [7, 11, 0, "9", 9.0, True, None])
def test_resolution_must_be_8_9_or_10(districts, value) -> None:
    with pytest.raises(ValueError, match=r"resolution must be one of \[8, 9, 10\], got"):
        build_cell_index(districts, value)
    with pytest.raises(ValueError, match=repr(value).replace("(", r"\(")):
        check_resolution(value)


def test_empty_districts_rejected() -> None:
    empty = two_districts().iloc[0:0]
    with pytest.raises(ValueError, match="at least one polygon"):
        build_cell_index(empty, 9)


def test_study_area_is_exactly_the_cells_with_centre_inside(index, districts) -> None:
    union = shapely.union_all(districts["geometry"].to_numpy())
    # every cell's centre is inside
    assert shapely.intersects_xy(union, index.lon, index.lat).all()
    # and no cell around the area with its centre inside is missing
    around = set()
    for c in index.cells:
        around.update(h3.grid_disk(c, 2))
    missing = [c for c in around - set(index.cells)
               if shapely.intersects_xy(union, h3.cell_to_latlng(c)[1], h3.cell_to_latlng(c)[0])]
    assert missing == []
    assert list(index.cells) == sorted(index.cells)
    assert all(h3.get_resolution(c) == index.resolution for c in index.cells)
    assert len(index) == len(index.cells) == index.n_cells > 0


def test_district_of_each_cell_by_centre(index) -> None:
    expected = np.where(index.lon < 7.815, "west", "east")
    assert list(index.district) == list(expected)


def test_neighbours_are_ring_one_with_self_inside_the_area(index) -> None:
    w = index.neighbours
    n = len(index.cells)
    assert w.shape == (n, n)
    assert set(np.unique(w.data).tolist()) == {1}
    assert (w.diagonal() == 1).all()
    assert (w != w.T).nnz == 0
    for k in range(0, n, max(1, n // 25)):
        expected = sorted(index.position[c] for c in h3.grid_disk(index.cells[k], 1)
                          if c in index.position)
        assert w.indices[w.indptr[k]:w.indptr[k + 1]].tolist() == expected
    assert np.diff(w.indptr).max() <= 7


def test_position_lookup(index) -> None:
    for k, c in enumerate(index.cells):
        assert index.position[c] == k
    assert index.codes_of([index.cells[0], "8a1f1211543ffff", "nonsense"]).tolist()[0] == 0
    assert index.codes_of(["nonsense"]).tolist() == [-1]


def _reference_codes(index, lat, lon) -> np.ndarray:
    out = []
    for la, lo in zip(lat, lon, strict=True):
        if not (np.isfinite(la) and np.isfinite(lo)):
            out.append(-1)
            continue
        out.append(index.position.get(h3.latlng_to_cell(la, lo, index.resolution), -1))
    return np.asarray(out, dtype=np.int32)


def test_cell_codes_equal_h3_on_random_points(index) -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(51.660, 51.700, 20_000)
    lon = rng.uniform(7.790, 7.840, 20_000)
    codes = cell_codes(index, lat, lon)
    assert codes.dtype == np.int32
    assert np.array_equal(codes, _reference_codes(index, lat, lon))
    assert (codes >= 0).any() and (codes == -1).any()


def test_cell_codes_equal_h3_on_cell_edges_and_vertices(index) -> None:
    pts = []
    for c in index.cells:
        ring = np.array(h3.cell_to_boundary(c))
        pts.append(ring)
        pts.append((ring + np.roll(ring, -1, axis=0)) / 2)  # edge midpoints
        pts.append(np.array([h3.cell_to_latlng(c)]))
    p = np.vstack(pts)
    assert np.array_equal(cell_codes(index, p[:, 0], p[:, 1]), _reference_codes(index, p[:, 0], p[:, 1]))


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        ([np.nan], [7.81]),
        ([51.68], [np.inf]),
        ([0.0], [0.0]),
        ([-51.68], [-172.19]),  # antipode of Hamm
        ([90.0], [0.0]),
        ([51.68], [187.81]),
        ([], []),
    ],
)
def test_cell_codes_outside_or_invalid_are_minus_one(index, lat, lon) -> None:
    assert cell_codes(index, lat, lon).tolist() == [-1] * len(lat)


def test_cell_codes_without_lattice_fit_fall_back_to_h3(index) -> None:
    slow = dataclasses.replace(index, _lattice=None)
    rng = np.random.default_rng(3)
    lat = rng.uniform(51.660, 51.700, 3_000)
    lon = rng.uniform(7.790, 7.840, 3_000)
    assert np.array_equal(cell_codes(slow, lat, lon), cell_codes(index, lat, lon))


def test_cell_codes_chunking_and_threads(index) -> None:
    rng = np.random.default_rng(5)
    lat = rng.uniform(51.660, 51.700, 10_001)
    lon = rng.uniform(7.790, 7.840, 10_001)
    assert np.array_equal(cell_codes(index, lat, lon, chunk=997), cell_codes(index, lat, lon))


def test_cell_codes_shape_mismatch(index) -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        cell_codes(index, [51.68, 51.68], [7.81])


def test_cell_boundaries_are_closed_lonlat_rings(index) -> None:
    geoms = cell_boundaries(index, [0, len(index.cells) - 1])
    assert len(geoms) == 2
    for code, geom in zip([0, len(index.cells) - 1], geoms, strict=True):
        assert geom["type"] == "Polygon"
        ring = geom["coordinates"][0]
        assert len(ring) == 7 and ring[0] == ring[-1]
        poly = shapely.geometry.shape(geom)
        assert poly.contains(shapely.Point(index.lon[code], index.lat[code]))


@pytest.mark.parametrize("bad", [-1, 10**6])
def test_cell_boundaries_reject_bad_codes(index, bad) -> None:
    with pytest.raises(ValueError, match=f"got {bad}"):
        cell_boundaries(index, [bad])


def test_cells_frame(index) -> None:
    frame = cells_frame(index)
    assert list(frame.columns) == ["code", "h3", "district_id", "lat", "lon"]
    assert len(frame) == len(index.cells)


def test_fingerprint_depends_on_resolution(districts) -> None:
    a = build_cell_index(districts, 9)
    b = build_cell_index(districts, 9)
    c = build_cell_index(districts, 10)
    assert a.fingerprint == b.fingerprint != c.fingerprint
