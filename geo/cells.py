"""H3 cells of the study area and fast point-to-cell assignment.

The *study area* at resolution ``r`` is the set of all H3 cells of resolution ``r`` whose
centre lies in the union of the district polygons (boundary included). Every analysis
(counts, Gi*, dosage, gap) works on this fixed, sorted set of cells, so a cell is addressed
by its *code*: its position in :attr:`CellIndex.cells`. Points in a cell outside the study
area get code ``-1``.

Fast assignment (:func:`cell_codes`). h3-py 4.x has no vectorised ``latlng_to_cell``: one
call per point costs about 0.45 µs, 4-5 s for 10 million pings. H3 cells are the hexagons of
a regular lattice drawn on the gnomonic projection of an icosahedron face. A gnomonic
projection maps the unit vector ``v`` of a point to a plane through a *projective* map, so
the lattice coordinates of a point are ``(M v)[:2] / (M v)[2]`` for a fixed 3x3 matrix ``M``.
:func:`build_cell_index` fits ``M`` once (least squares, by the direct linear transform) on
the centres of the study cells and their H3 local (i, j) coordinates and checks that the
fit is exact to 1e-7 lattice units; assignment is then a matrix product and a hexagonal
rounding in numpy (about 0.1 µs per point). Points within 1e-6 lattice units of a hexagon
edge, and whole data sets whose area does not fit one face (residual check failed), go
through h3 itself, so the result equals ``h3.latlng_to_cell`` for every point.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from data.spatial import assign_polygons

try:  # h3-py 4.x: the Cython entry point returns the int id without string conversion
    from h3._cy import latlng_to_cell as _latlng_to_cell_int
except ImportError:  # pragma: no cover - other h3-py layouts
    from h3.api.basic_int import latlng_to_cell as _latlng_to_cell_int

RESOLUTIONS = (8, 9, 10)
_FIT_TOLERANCE = 1e-7  # max residual of the lattice fit on cell centres, in lattice units
_EDGE_MARGIN = 1e-6  # points closer than this to a hexagon edge are assigned by h3 itself
_SQRT3_2 = np.sqrt(3.0) / 2.0
_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True, eq=False)
class _Lattice:
    """Projective map from unit vectors to H3 local (i, j) and a dense (i, j) -> code table."""

    matrix: np.ndarray  # 3 x 3
    i0: int
    j0: int
    table: np.ndarray  # int32 (ni, nj), -1 where no study cell
    bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max (with margin)


@dataclass(frozen=True, eq=False, repr=False)
class CellIndex:
    """The study area at one H3 resolution.

    Attributes:
        resolution: H3 resolution (8, 9 or 10).
        cells: H3 ids (``str``, object array), sorted ascending; a cell's *code* is its position.
        district: district_id of each cell (by its centre; object array).
        lat, lon: cell centres (float64).
        neighbours: binary CSR matrix (n x n, int8); row ``i`` holds the cell itself and its
            ring-1 neighbours that belong to the study area.
        position: H3 id -> code.
        cells_int: H3 ids as uint64 (same order as ``cells``).
        fingerprint: short hash of resolution and cells, handy as a cache key.
    """

    resolution: int
    cells: np.ndarray
    district: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    neighbours: sp.csr_matrix
    position: dict[str, int]
    cells_int: np.ndarray
    fingerprint: str
    _lattice: _Lattice | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        return (f"CellIndex(resolution={self.resolution}, cells={len(self.cells)}, "
                f"fingerprint={self.fingerprint!r})")

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def codes_of(self, h3_ids: Sequence[str]) -> np.ndarray:
        """Codes of H3 ids (int32); -1 for ids that are not in the study area."""
        return np.array([self.position.get(str(c), -1) for c in h3_ids], dtype=np.int32)

    def district_cells(self, district_ids: Sequence[str] | None) -> np.ndarray:
        """Boolean mask over cells of the given districts (all cells for ``None``)."""
        if district_ids is None:
            return np.ones(len(self.cells), dtype=bool)
        return np.isin(self.district.astype(str), [str(d) for d in district_ids])


def check_resolution(resolution: object) -> int:
    """The resolution as int, or a ValueError naming the allowed values."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or int(
        resolution
    ) not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {list(RESOLUTIONS)}, got {resolution!r}")
    return int(resolution)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(3, n) unit vectors of points given in degrees."""
    la = np.radians(lat)
    lo = np.radians(lon)
    cl = np.cos(la)
    return np.stack([cl * np.cos(lo), cl * np.sin(lo), np.sin(la)])


def _fit_lattice(cells: list[str], lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """Fit the projective map unit vector -> local (i, j); None if it is not exact."""
    if len(cells) < 6:
        return None
    origin = cells[len(cells) // 2]
    try:
        ij = np.array([h3.cell_to_local_ij(origin, c) for c in cells], dtype=np.float64)
    except Exception:  # cells too far apart or across a pentagon: no common frame
        return None
    v = _unit_vectors(lat, lon)
    # Normalise (Hartley): rotate the mean direction to +z, take gnomonic coordinates there,
    # centre and scale both point sets before the direct linear transform.
    c = v.mean(axis=1)
    c /= np.linalg.norm(c)
    z = c
    x = np.cross([0.0, 0.0, 1.0], z)
    if np.linalg.norm(x) < 1e-12:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])
    p = rot @ v
    g = p[:2] / p[2]
    g_mean = g.mean(axis=1, keepdims=True)
    g_scale = np.sqrt(2.0) / max(np.sqrt(((g - g_mean) ** 2).sum(axis=0)).mean(), 1e-300)
    t_src = np.array([[g_scale, 0, -g_scale * g_mean[0, 0]], [0, g_scale, -g_scale * g_mean[1, 0]],
                      [0, 0, 1.0]])
    ij_mean = ij.mean(axis=0)
    ij_scale = np.sqrt(2.0) / max(np.sqrt(((ij - ij_mean) ** 2).sum(axis=1)).mean(), 1e-300)
    t_dst = np.array([[ij_scale, 0, -ij_scale * ij_mean[0]], [0, ij_scale, -ij_scale * ij_mean[1]],
                      [0, 0, 1.0]])
    src = t_src @ np.vstack([g, np.ones(g.shape[1])])
    dst = t_dst @ np.vstack([ij.T, np.ones(ij.shape[0])])
    n = src.shape[1]
    a = np.zeros((2 * n, 9))
    a[0::2, 0:3] = src.T
    a[0::2, 6:9] = -dst[0][:, None] * src.T
    a[1::2, 3:6] = src.T
    a[1::2, 6:9] = -dst[1][:, None] * src.T
    _, _, vt = np.linalg.svd(a, full_matrices=False)
    h_norm = vt[-1].reshape(3, 3)
    # unit vector -> rot -> homogeneous gnomonic (p itself) -> t_src -> h_norm -> inv(t_dst)
    matrix = np.linalg.inv(t_dst) @ h_norm @ t_src @ rot
    hom = matrix @ v
    fitted = hom[:2] / hom[2]
    residual = np.abs(fitted - ij.T).max()
    if not np.isfinite(residual) or residual > _FIT_TOLERANCE:
        return None
    return matrix


def _hex_round(fi: np.ndarray, fj: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest lattice point of fractional H3 (i, j) coordinates, and the margin to the edge.

    H3 axes i and j are 120 degrees apart (the neighbours are (+-1, 0), (0, +-1) and
    +-(1, 1)). With q = i and r = -j the axes are 60 degrees apart, as in the usual axial
    coordinates, whose cube form (q, -q - r, r) is rounded component-wise, fixing the
    component with the largest rounding error. The margin is 0.5 minus the largest
    projection of the offset on the three neighbour directions, in lattice units
    (centre-to-centre distance 1); negative would mean outside (never after rounding).
    """
    q = fi
    r = -fj
    y = -q - r
    rq, rr, ry = np.rint(q), np.rint(r), np.rint(y)
    dq, dr, dy = np.abs(rq - q), np.abs(rr - r), np.abs(ry - y)
    fix_q = (dq > dr) & (dq > dy)
    fix_r = ~fix_q & (dr > dy)
    rq = np.where(fix_q, -ry - rr, rq)
    rr = np.where(fix_r, -rq - ry, rr)
    i = rq.astype(np.int64)
    j = (-rr).astype(np.int64)
    # offset in hex2d (x along i, j at 120 degrees)
    di, dj = fi - i, fj - j
    x = di - 0.5 * dj
    y = dj * _SQRT3_2
    p1 = np.abs(x)
    p2 = np.abs(0.5 * x + _SQRT3_2 * y)
    p3 = np.abs(-0.5 * x + _SQRT3_2 * y)
    margin = 0.5 - np.maximum(np.maximum(p1, p2), p3)
    return i, j, margin


def build_cell_index(districts: pd.DataFrame, resolution: int = 9) -> CellIndex:
    """The study area: every res-``resolution`` H3 cell whose centre lies in the districts.

    Args:
        districts: canonical districts frame (``district_id``, ``geometry`` in WGS84).
        resolution: 8, 9 or 10.
    """
    resolution = check_resolution(resolution)
    if districts is None or len(districts) == 0:
        raise ValueError("districts must hold at least one polygon, got an empty frame")
    geoms = [g for g in districts["geometry"].tolist() if g is not None and not g.is_empty]
    if not geoms:
        raise ValueError("districts must hold at least one non-empty polygon")
    union = shapely.union_all(geoms)
    edge_deg = h3.average_hexagon_edge_length(resolution, unit="km") / 111.0
    xmin, ymin, xmax, ymax = union.bounds
    pad_y = 2 * edge_deg
    pad_x = 2 * edge_deg / max(np.cos(np.radians((ymin + ymax) / 2)), 0.1)
    box = h3.LatLngPoly([(ymin - pad_y, xmin - pad_x), (ymin - pad_y, xmax + pad_x),
                         (ymax + pad_y, xmax + pad_x), (ymax + pad_y, xmin - pad_x)])
    candidates = np.array(sorted(h3.polygon_to_cells(box, resolution)), dtype=object)
    centres = np.array([h3.cell_to_latlng(c) for c in candidates], dtype=np.float64).reshape(-1, 2)
    shapely.prepare(union)
    inside = shapely.intersects_xy(union, centres[:, 1], centres[:, 0])
    cells = candidates[inside]
    lat = centres[inside, 0].copy()
    lon = centres[inside, 1].copy()
    n = len(cells)
    district = assign_polygons(lat, lon, districts["geometry"].tolist(),
                               districts["district_id"].tolist())
    position = {c: k for k, c in enumerate(cells.tolist())}
    rows: list[int] = []
    cols: list[int] = []
    for k, c in enumerate(cells.tolist()):
        for nb in h3.grid_disk(c, 1):
            m = position.get(nb)
            if m is not None:
                rows.append(k)
                cols.append(m)
    neighbours = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (np.asarray(rows), np.asarray(cols))), shape=(n, n)
    )
    neighbours.sort_indices()
    cells_int = np.array([h3.str_to_int(c) for c in cells.tolist()], dtype=np.uint64)
    fingerprint = hashlib.sha1(
        (f"{resolution}:" + ",".join(cells.tolist())).encode("ascii")
    ).hexdigest()[:16]
    lattice = _build_lattice(cells.tolist(), lat, lon, position, edge_deg)
    return CellIndex(
        resolution=resolution,
        cells=cells,
        district=district,
        lat=lat,
        lon=lon,
        neighbours=neighbours,
        position=position,
        cells_int=cells_int,
        fingerprint=fingerprint,
        _lattice=lattice,
    )


def index_from_parts(resolution: int, cells: np.ndarray, district: np.ndarray, lat: np.ndarray,
                     lon: np.ndarray, nb_rows: np.ndarray, nb_cols: np.ndarray,
                     matrix: np.ndarray | None) -> CellIndex:
    """A :class:`CellIndex` from its stored parts (see geo.prepared), without calling h3.

    ``nb_rows``/``nb_cols`` are the non-zero positions of the neighbour matrix; ``matrix``
    is the fitted lattice map (None: every point goes through h3).
    """
    resolution = check_resolution(resolution)
    cells = np.asarray(cells, dtype=object)
    n = len(cells)
    position = {c: k for k, c in enumerate(cells.tolist())}
    neighbours = sp.csr_matrix((np.ones(len(nb_rows), dtype=np.int8),
                                (np.asarray(nb_rows, dtype=np.int64),
                                 np.asarray(nb_cols, dtype=np.int64))), shape=(n, n))
    neighbours.sort_indices()
    cells_int = np.array([h3.str_to_int(c) for c in cells.tolist()], dtype=np.uint64)
    fingerprint = hashlib.sha1(
        (f"{resolution}:" + ",".join(cells.tolist())).encode("ascii")).hexdigest()[:16]
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    lattice = None
    if matrix is not None and n:
        edge_deg = h3.average_hexagon_edge_length(resolution, unit="km") / 111.0
        lattice = _lattice_table(np.asarray(matrix, dtype=np.float64), cells.tolist(), lat, lon,
                                 position, edge_deg)
    return CellIndex(resolution=resolution, cells=cells, district=np.asarray(district, dtype=object),
                     lat=lat, lon=lon, neighbours=neighbours, position=position,
                     cells_int=cells_int, fingerprint=fingerprint, _lattice=lattice)


def index_parts(index: CellIndex) -> dict:
    """The parts :func:`index_from_parts` needs, as plain arrays (to store an index)."""
    coo = index.neighbours.tocoo()
    lattice = index._lattice
    return {"resolution": index.resolution, "cells": index.cells, "district": index.district,
            "lat": index.lat, "lon": index.lon, "nb_rows": coo.row, "nb_cols": coo.col,
            "matrix": None if lattice is None else lattice.matrix}


def subset_index(index: CellIndex, keep: np.ndarray) -> CellIndex:
    """The study area of some of the districts: the cells where ``keep`` (a boolean mask).

    Equals :func:`build_cell_index` on those districts' polygons (a cell belongs to the
    district its centre lies in), without calling h3 for the cells again.
    """
    keep = np.asarray(keep, dtype=bool)
    codes = np.flatnonzero(keep)
    new = np.full(len(index.cells), -1, dtype=np.int64)
    new[codes] = np.arange(len(codes))
    coo = index.neighbours.tocoo()
    ok = keep[coo.row] & keep[coo.col]
    lattice = index._lattice
    return index_from_parts(index.resolution, index.cells[codes], index.district[codes],
                            index.lat[codes], index.lon[codes], new[coo.row[ok]], new[coo.col[ok]],
                            None if lattice is None else lattice.matrix)


def _build_lattice(cells: list[str], lat: np.ndarray, lon: np.ndarray, position: dict[str, int],
                   edge_deg: float) -> _Lattice | None:
    if not cells:
        return None
    ring: set[str] = set()
    for c in cells:
        ring.update(h3.grid_disk(c, 2))
    fit_cells = sorted(ring)
    fit_ll = np.array([h3.cell_to_latlng(c) for c in fit_cells], dtype=np.float64)
    matrix = _fit_lattice(fit_cells, fit_ll[:, 0], fit_ll[:, 1])
    if matrix is None:
        return None
    return _lattice_table(matrix, cells, lat, lon, position, edge_deg)


def _lattice_table(matrix: np.ndarray, cells: list[str], lat: np.ndarray, lon: np.ndarray,
                   position: dict[str, int], edge_deg: float) -> _Lattice | None:
    hom = matrix @ _unit_vectors(lat, lon)
    i, j, _ = _hex_round(hom[0] / hom[2], hom[1] / hom[2])
    i0, j0 = int(i.min()), int(j.min())
    table = np.full((int(i.max()) - i0 + 1, int(j.max()) - j0 + 1), -1, dtype=np.int32)
    table[i - i0, j - j0] = [position[c] for c in cells]
    if len(np.unique(table[table >= 0])) != len(cells):
        return None
    pad_y = 3 * edge_deg
    pad_x = 3 * edge_deg / max(np.cos(np.radians(float(lat.mean()))), 0.1)
    bbox = (float(lon.min() - pad_x), float(lat.min() - pad_y), float(lon.max() + pad_x),
            float(lat.max() + pad_y))
    return _Lattice(matrix=matrix, i0=i0, j0=j0, table=table, bbox=bbox)


def _exact_codes(index: CellIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Codes by calling h3 per point (the reference path)."""
    if lat.size == 0:
        return np.empty(0, dtype=np.int32)
    res = index.resolution
    ids = np.fromiter((_latlng_to_cell_int(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(),
                                                                        strict=True)),
                      dtype=np.uint64, count=lat.size)
    pos = np.searchsorted(index.cells_int, ids)
    pos_c = np.minimum(pos, max(len(index.cells_int) - 1, 0))
    hit = (pos < len(index.cells_int)) & (index.cells_int[pos_c] == ids) if len(index.cells_int) else (
        np.zeros(ids.size, dtype=bool))
    return np.where(hit, pos_c, -1).astype(np.int32)


def cell_codes(index: CellIndex, lat: np.ndarray | Sequence[float],
               lon: np.ndarray | Sequence[float], *, chunk: int = 500_000) -> np.ndarray:
    """Code (position in ``index.cells``) of the H3 cell of each point; -1 outside the area.

    Non-finite coordinates give -1. Equal to mapping ``h3.latlng_to_cell`` per point.
    """
    lat = np.asarray(lat, dtype=np.float64).ravel()
    lon = np.asarray(lon, dtype=np.float64).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon must have the same length, got {lat.size} and {lon.size}")
    out = np.full(lat.size, -1, dtype=np.int32)
    if lat.size == 0 or len(index.cells) == 0:
        return out
    lat_t = index._lattice
    if lat_t is None:
        ok = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90))
        out[ok] = _exact_codes(index, lat[ok], lon[ok])
        return out
    starts = range(0, lat.size, chunk)

    def run(start: int) -> None:
        _lattice_codes(index, lat_t, lat[start:start + chunk], lon[start:start + chunk],
                       out[start:start + chunk])

    workers = min(len(starts), _WORKERS)
    if workers <= 1:
        for start in starts:
            run(start)
    else:  # numpy releases the GIL in the heavy ufuncs
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, starts))
    return out


def _lattice_codes(index: CellIndex, lat_t: _Lattice, la: np.ndarray, lo: np.ndarray,
                   out: np.ndarray) -> None:
    """Fill ``out`` (a view) with the codes of one chunk of points by the lattice map."""
    x0, y0, x1, y1 = lat_t.bbox
    ni, nj = lat_t.table.shape
    sel = np.flatnonzero((la >= y0) & (la <= y1) & (lo >= x0) & (lo <= x1))
    if sel.size == 0:
        return
    v = _unit_vectors(la[sel], lo[sel])
    hom = lat_t.matrix @ v
    i, j, margin = _hex_round(hom[0] / hom[2], hom[1] / hom[2])
    i -= lat_t.i0
    j -= lat_t.j0
    inside = (i >= 0) & (i < ni) & (j >= 0) & (j < nj)
    codes = np.full(sel.size, -1, dtype=np.int32)
    codes[inside] = lat_t.table[i[inside], j[inside]]
    close = np.flatnonzero(margin < _EDGE_MARGIN)
    if close.size:
        codes[close] = _exact_codes(index, la[sel[close]], lo[sel[close]])
    out[sel] = codes


def _rings(index: CellIndex, digits: int) -> np.ndarray:
    """(n, 6, 2) lon/lat vertices of every cell, rounded; computed once per index."""
    key = ("rings", digits)
    rings = index._cache.get(key)
    if rings is None:
        rings = np.empty((len(index.cells), 6, 2), dtype=np.float64)
        for k, c in enumerate(index.cells.tolist()):
            b = h3.cell_to_boundary(c)
            if len(b) != 6:  # a pentagon (never in a German city): repeat the last vertex
                b = (list(b) + [b[-1]] * 6)[:6]
            rings[k] = np.asarray(b)[:, ::-1]
        rings = np.round(rings, digits)
        index._cache[key] = rings
    return rings


def cell_boundaries(index: CellIndex, codes: np.ndarray | Sequence[int],
                    digits: int = 6) -> list[dict]:
    """GeoJSON Polygon geometries (closed lon/lat rings, rounded) of the given cell codes."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    n = len(index.cells)
    bad = (codes < 0) | (codes >= n)
    if bad.any():
        raise ValueError(f"cell codes must lie in 0..{n - 1}, got {int(codes[bad][0])!r}")
    out = []
    for ring in _rings(index, digits)[codes].tolist():
        ring.append(ring[0])
        out.append({"type": "Polygon", "coordinates": [ring]})
    return out


def cells_frame(index: CellIndex) -> pd.DataFrame:
    """One row per cell: code, h3, district_id, lat, lon."""
    return pd.DataFrame({
        "code": np.arange(len(index.cells), dtype=np.int32),
        "h3": index.cells,
        "district_id": index.district,
        "lat": index.lat,
        "lon": index.lon,
    })
