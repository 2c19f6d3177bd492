"""Pre-summed slices of a spatial model's cubes: a period or district change without a cube scan.

The cubes (:mod:`geo.dosage`) hold sums by (cell, quarter, kind or category, weekday, hour);
every query masks all their rows (7 million complaint rows at region scale) and sums the
selected ones. Most filter changes, though, only move the period or the districts. For
those, this module sums each cube once more, by quarter and cell only (and patrol kind), into
dense arrays; a query then adds the rows of its quarters and zeroes the cells outside its
districts: work proportional to ``quarters x cells``, not to the cube.

:func:`of` builds them once per cube (lazily, on the first query; kept beside the cube) and
the query functions return ``None`` when a filter needs the full cube (a category, weekday
or hour restriction), so that callers fall back to :mod:`geo.dosage`.

The numbers are exactly those of the cube queries: complaint counts are integers and key
sums multiples of 2**-26 (exact in any order); presence seconds are taken from here only when
every cube row holds a whole number of seconds (then every sum is exact), else the caller
falls back to the cube.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.contracts import PATROL_KINDS
from geo.cells import CellIndex

_MAX_EXACT = float(2**52)  # float sums of whole numbers below this are exact in any order


@dataclass(frozen=True, eq=False)
class ComplaintSums:
    """Complaints per (quarter, cell): ``count`` (int64) and ``key_sum`` (float64), both of
    shape (n_quarters, n_cells) for quarters ``q0 .. q0 + n_quarters - 1``."""

    q0: int
    count: np.ndarray
    key_sum: np.ndarray


@dataclass(frozen=True, eq=False)
class PresenceSums:
    """Presence seconds per (quarter, kind, cell), shape (n_quarters, 3, n_cells); ``exact``
    when every cube row is a whole number of seconds (sums exact in any order)."""

    q0: int
    seconds: np.ndarray
    exact: bool


_lock = threading.Lock()
_built: dict[int, tuple[weakref.ref, object]] = {}  # id(cube) -> (ref to the cube, sums)


def _memo(cube: pd.DataFrame, build):
    """``build(cube)`` once per cube object (dropped with the cube)."""
    key = id(cube)
    with _lock:
        found = _built.get(key)
        if found is not None and found[0]() is cube:
            return found[1]
    value = build(cube)
    with _lock:
        for k in [k for k, (ref, _v) in _built.items() if ref() is None]:
            del _built[k]
        _built[key] = (weakref.ref(cube), value)
    return value


def _quarter_axis(quarters: np.ndarray) -> tuple[int, int, np.ndarray]:
    if len(quarters) == 0:
        return 0, 0, np.zeros(0, dtype=np.int64)
    q = quarters.astype(np.int64)
    q0 = int(q.min())
    return q0, int(q.max()) - q0 + 1, q - q0


def complaint_sums(cube: pd.DataFrame, n_cells: int) -> ComplaintSums:
    """The complaint cube summed by (quarter, cell) (rows outside the study area left out)."""

    def build(c: pd.DataFrame) -> ComplaintSums:
        cells = c["cell"].to_numpy().astype(np.int64)
        inside = cells >= 0
        q0, nq, row = _quarter_axis(c["quarter"].to_numpy()[inside])
        key = row * n_cells + cells[inside]
        size = nq * n_cells
        count = np.bincount(key, weights=c["count"].to_numpy()[inside].astype(np.float64),
                            minlength=size)
        if "key_sum" in c.columns:
            keys = np.bincount(key, weights=c["key_sum"].to_numpy()[inside], minlength=size)
        else:
            keys = np.zeros(size)
        return ComplaintSums(q0, np.rint(count).astype(np.int64).reshape(nq, n_cells),
                             keys.reshape(nq, n_cells))

    return _memo_sized(cube, n_cells, "complaints", build)


def presence_sums(cube: pd.DataFrame, n_cells: int) -> PresenceSums:
    """The presence cube summed by (quarter, kind, cell) (rows outside the study area left out)."""

    def build(c: pd.DataFrame) -> PresenceSums:
        cells = c["cell"].to_numpy().astype(np.int64)
        inside = cells >= 0
        q0, nq, row = _quarter_axis(c["quarter"].to_numpy()[inside])
        kinds = c["kind"].cat.codes.to_numpy().astype(np.int64)[inside]
        seconds = c["seconds"].to_numpy().astype(np.float64)
        ok_kind = list(c["kind"].cat.categories) == list(PATROL_KINDS)
        exact = bool(ok_kind and np.all(seconds == np.rint(seconds))
                     and float(np.abs(seconds).sum()) < _MAX_EXACT)
        key = (row * 3 + kinds) * n_cells + cells[inside]
        sums = np.bincount(key, weights=seconds[inside], minlength=nq * 3 * n_cells)
        return PresenceSums(q0, sums.reshape(nq, 3, n_cells), exact)

    return _memo_sized(cube, n_cells, "presence", build)


def _memo_sized(cube: pd.DataFrame, n_cells: int, what: str, build):
    per_cube = _memo(cube, lambda _c: {})
    key = (what, n_cells)
    if key not in per_cube:
        per_cube[key] = build(cube)
    return per_cube[key]


def _rows(q0: int, nq: int, quarters: Iterable[int] | None) -> np.ndarray:
    """Positions (0..nq-1) of the wanted quarters on a sums' quarter axis (all: None)."""
    if quarters is None:
        return np.arange(nq)
    wanted = np.unique(np.asarray([int(q) for q in quarters], dtype=np.int64)) - q0
    return wanted[(wanted >= 0) & (wanted < nq)]


def _simple_quarters(quarters) -> bool:
    return quarters is None or all(isinstance(q, (int, np.integer)) and not isinstance(q, bool)
                                   for q in quarters)


def complaint_counts(cube: pd.DataFrame, index: CellIndex, *, quarters=None, categories=None,
                     weekdays=None, hours=None, districts=None
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """(counts int64, key sums float64) per cell, as :func:`geo.dosage.complaint_counts` with
    ``value="both"``; None when the filter needs the cube (categories, weekdays, hours)."""
    if categories is not None or weekdays is not None or hours is not None \
            or not _simple_quarters(quarters):
        return None
    sums = complaint_sums(cube, len(index.cells))
    rows = _rows(sums.q0, sums.count.shape[0], quarters)
    counts = sums.count[rows].sum(axis=0)
    keys = sums.key_sum[rows].sum(axis=0) if len(rows) else np.zeros(len(index.cells))
    if districts is not None:
        outside = ~index.district_cells(list(districts))
        counts[outside] = 0
        keys[outside] = 0.0
    return counts.astype(np.int64), keys.astype(np.float64)


def complaint_counts_by_quarter(cube: pd.DataFrame, index: CellIndex, quarters, *,
                                categories=None, weekdays=None, hours=None, districts=None
                                ) -> tuple[np.ndarray, np.ndarray] | None:
    """(counts, key sums) as (len(quarters) x n_cells) arrays, rows in the given order
    (:func:`geo.dosage.complaint_counts_by_quarter`); None when the filter needs the cube."""
    if categories is not None or weekdays is not None or hours is not None \
            or quarters is None or not _simple_quarters(quarters) or len(quarters) == 0 \
            or len(set(int(q) for q in quarters)) != len(quarters):
        return None
    sums = complaint_sums(cube, len(index.cells))
    n = len(index.cells)
    counts = np.zeros((len(quarters), n), dtype=np.int64)
    keys = np.zeros((len(quarters), n))
    nq = sums.count.shape[0]
    for i, q in enumerate(quarters):
        r = int(q) - sums.q0
        if 0 <= r < nq:
            counts[i] = sums.count[r]
            keys[i] = sums.key_sum[r]
    if districts is not None:
        outside = ~index.district_cells(list(districts))
        counts[:, outside] = 0
        keys[:, outside] = 0.0
    return counts, keys


def presence_seconds(cube: pd.DataFrame, index: CellIndex, *, quarters=None, weekdays=None,
                     hours=None) -> np.ndarray | None:
    """Presence seconds per (kind, cell), shape (3, n_cells), summed over ``quarters``; None
    when the filter needs the cube (weekdays, hours) or the seconds are not whole numbers."""
    if weekdays is not None or hours is not None or not _simple_quarters(quarters):
        return None
    sums = presence_sums(cube, len(index.cells))
    if not sums.exact:
        return None
    rows = _rows(sums.q0, sums.seconds.shape[0], quarters)
    if not len(rows):
        return np.zeros((3, len(index.cells)))
    return sums.seconds[rows].sum(axis=0)


def presence_minutes(cube: pd.DataFrame, index: CellIndex, *, quarters=None, kinds=None,
                     weekdays=None, hours=None, districts=None) -> dict[str, np.ndarray] | None:
    """As :func:`geo.dosage.presence_minutes` (``kinds``: checked kinds or None), or None."""
    seconds = presence_seconds(cube, index, quarters=quarters, weekdays=weekdays, hours=hours)
    if seconds is None:
        return None
    selected = list(PATROL_KINDS) if kinds is None else list(kinds)
    outside = None if districts is None else ~index.district_cells(list(districts))
    out: dict[str, np.ndarray] = {}
    total = np.zeros(len(index.cells), dtype=np.float64)
    for k, kind in enumerate(PATROL_KINDS):
        if kind not in selected:
            continue
        minutes = seconds[k] / 60.0
        if outside is not None:
            minutes[outside] = 0.0
        out[kind] = minutes
        total += minutes
    out["total"] = total
    return out


def district_hours(cube: pd.DataFrame, index: CellIndex, district_ids: np.ndarray, *,
                   quarters=None, weekdays=None, hours=None) -> np.ndarray | None:
    """Patrol hours as (len(district_ids), 3) (kinds kod, joint, police), by the district of
    each cell (cells of other districts left out); None when the filter needs the cube."""
    seconds = presence_seconds(cube, index, quarters=quarters, weekdays=weekdays, hours=hours)
    if seconds is None:
        return None
    nd = len(district_ids)
    cell_district = pd.Index(district_ids).get_indexer(index.district.astype(str))
    ok = cell_district >= 0
    out = np.zeros((nd, 3))
    for k in range(3):
        out[:, k] = np.bincount(cell_district[ok], weights=seconds[k][ok], minlength=nd)
    return out / 3600.0


def cube_rows_of_cells(cube: pd.DataFrame, cells: np.ndarray) -> pd.DataFrame:
    """The rows of ``cube`` whose cell is in ``cells``, in the cube's order (a cube sorted by
    cell, as every cube built here is, is sliced; another one is masked)."""
    info = _memo(cube, lambda c: {})
    codes = cube["cell"].to_numpy()
    if "bounds" not in info:
        is_sorted = bool(len(codes) < 2 or np.all(codes[1:] >= codes[:-1]))
        top = int(codes.max()) + 2 if len(codes) else 1
        # bounds[c] .. bounds[c + 1]: the rows of cell c (sorted cubes only)
        info["bounds"] = np.searchsorted(codes, np.arange(top), side="left") if is_sorted else None
    wanted = np.unique(np.asarray(cells, dtype=np.int64))
    bounds = info["bounds"]
    if bounds is None:
        return cube[np.isin(codes, wanted)]
    wanted = wanted[(wanted >= 0) & (wanted < len(bounds) - 1)]
    if not len(wanted):
        return cube.iloc[:0]
    starts, ends = bounds[wanted], bounds[wanted + 1]
    lengths = ends - starts
    take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    return cube.iloc[take]


def merge_district_rows(cube: pd.DataFrame) -> pd.DataFrame | None:
    """The complaint cube of the whole data set from the stored one, whose rows are also split
    by the district of the complaint: rows equal in (cell, quarter, category, weekday, hour)
    summed, as :func:`geo.dosage.complaint_cube_from_rows` does (same rows, order and types).

    Needs the rows sorted by those keys (the stored cubes are: ascending by the keys, then by
    district); None when they are not (the caller groups them instead). One linear pass.
    """
    n = len(cube)
    if n == 0 or "district" not in cube.columns:
        return None
    # A row starts a new combination where any key differs from the row before; the rows
    # are sorted when, at the first key that differs, it grows (column by column, no casts).
    keys = [cube["cell"].to_numpy(), cube["quarter"].to_numpy(),
            cube["category"].cat.codes.to_numpy(), cube["weekday"].to_numpy(),
            cube["hour"].to_numpy()]
    same = np.ones(n - 1, dtype=bool)
    unsorted = np.zeros(n - 1, dtype=bool)
    for values in keys:
        step = np.diff(values.astype(np.int64) if values.dtype.itemsize < 4 else values)
        unsorted |= same & (step < 0)
        same &= step == 0
    if unsorted.any():
        return None
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    counts = np.add.reduceat(cube["count"].to_numpy().astype(np.int64), starts)
    key_sum = np.add.reduceat(cube["key_sum"].to_numpy().astype(np.float64), starts) \
        if "key_sum" in cube.columns else np.zeros(len(starts))
    keep = counts != 0  # as the grouping, which keeps combinations with a non-zero count
    rows = starts[keep]
    return pd.DataFrame({  # (columns taken as they are stored: int32, int8, the categorical)
        "cell": cube["cell"].to_numpy()[rows].astype(np.int32, copy=False),
        "quarter": cube["quarter"].to_numpy()[rows].astype(np.int32, copy=False),
        "category": pd.Categorical.from_codes(cube["category"].cat.codes.to_numpy()[rows],
                                              dtype=cube["category"].dtype),
        "weekday": cube["weekday"].to_numpy()[rows].astype(np.int8, copy=False),
        "hour": cube["hour"].to_numpy()[rows].astype(np.int8, copy=False),
        "count": counts[keep],
        "key_sum": key_sum[keep],
    }, copy=False)
