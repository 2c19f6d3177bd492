"""Patrol presence (dosage) and the pre-aggregated cubes behind every filter.

Presence (design.md section 4): for each GPS ping, the seconds until the next ping of the
same patrol are credited to the cell of the first ping; an interval longer than
:data:`MAX_GAP_S` (300 s) is a gap (a break, a lost signal) and counts 0; the last ping of a
patrol counts 0. The interval also takes the quarter, weekday and hour of its first ping.

Filters of the app: a quarter range, a set of weekdays, an hour window, patrol kinds
(presence) or categories (complaints), districts. Aggregating 10 million pings per rerun is
too slow, so each data set is reduced once to a *cube*: a small long-form table of sums by
(cell, quarter, kind or category, weekday, hour). A filter then selects rows of the cube
(hundreds of thousands at most) and sums them per cell with ``np.bincount``.

Filter arguments, shared by all query functions (``None`` means no restriction):

* ``quarters``: iterable of quarter ordinals (see :mod:`data.periods`) or labels ``"2025-Q1"``;
* ``weekdays``: iterable of ints, 0 = Monday .. 6 = Sunday (local time);
* ``hours``: ``(start, end)`` with 0 <= start <= 23 and 0 <= end <= 24, the local hours
  ``start <= h < end``; when ``start > end`` the window wraps midnight (``(22, 6)`` is
  22:00-06:00); ``start == end`` means the whole day (24 hours from ``start``);
* ``kinds``: patrol kinds from ``kod``, ``joint``, ``police``;
* ``categories``: complaint category codes (unknown codes simply match nothing);
* ``districts``: district ids; a row counts for a district when its *cell* lies in the
  district (cells are assigned by their centre, see :mod:`geo.cells`).

Rows outside the study area keep cell code -1 in the cubes (so totals stay complete) and
are ignored by every per-cell and per-district function.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from data.contracts import PATROL_KINDS, TZ
from data.periods import parse_quarter
from data.privacy import cell_key_secret, record_keys
from geo.cells import CellIndex, cell_codes

MAX_GAP_S = 300.0
_DENSE_LIMIT = 1 << 24  # largest dense bincount (bins) before falling back to np.unique
_UNIT_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

PRESENCE_CUBE_COLUMNS = ["cell", "quarter", "kind", "weekday", "hour", "seconds"]
COMPLAINT_CUBE_COLUMNS = ["cell", "quarter", "category", "weekday", "hour", "count", "key_sum"]
#: The summable values of the complaint cube: the number of complaints and the sum of their record
#: keys (data.privacy.record_keys; the cell key method publishes any slice from both).
COMPLAINT_VALUES = ("count", "key_sum")


# --- time helpers ----------------------------------------------------------------------------

def _as_tz_series(times: pd.Series | pd.DatetimeIndex, name: str) -> pd.Series:
    s = pd.Series(times) if not isinstance(times, pd.Series) else times
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{name} must be timezone-aware datetimes, got dtype {s.dtype}")
    return s


def _ticks(s: pd.Series) -> tuple[np.ndarray, int, np.ndarray]:
    """(int64 ticks, ticks per second, NaT mask) of a datetime series."""
    arr = s.array
    unit = getattr(s.dt, "unit", "ns")
    ticks = np.asarray(arr.asi8)
    return ticks, _UNIT_PER_S[unit], np.asarray(arr.isna())


def time_parts(times: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quarter ordinal (int32), weekday (int8, 0 = Monday) and hour (int8) in local time.

    Missing times give quarter -1, weekday -1 and hour -1.
    """
    s = _as_tz_series(times, "times")
    local = s.dt.tz_convert(TZ).dt.tz_localize(None)
    ticks, per_s, nat = _ticks(local)
    secs = ticks // per_s
    days = secs // 86_400
    weekday = ((days + 3) % 7).astype(np.int8)  # 1970-01-01 was a Thursday
    hour = ((secs // 3_600) % 24).astype(np.int8)
    months = local.to_numpy().astype("datetime64[M]").astype(np.int64)
    quarter = ((1970 + months // 12) * 4 + (months % 12) // 3).astype(np.int32)
    if nat.any():
        quarter[nat] = -1
        weekday[nat] = -1
        hour[nat] = -1
    return quarter, weekday, hour


# --- filters ---------------------------------------------------------------------------------

def hour_mask(hours: tuple[int, int] | Sequence[int] | None) -> np.ndarray:
    """Boolean mask over the 24 local hours for an hour window (see module docstring)."""
    if hours is None:
        return np.ones(24, dtype=bool)
    try:
        start, end = hours
    except (TypeError, ValueError):
        raise ValueError(f"hours must be a (start, end) pair, got {hours!r}") from None
    for label, value, hi in (("start", start, 23), ("end", end, 24)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= hi:
            raise ValueError(f"hours {label} must be an integer in 0..{hi}, got {value!r}")
    h = np.arange(24)
    if start == end % 24:
        return np.ones(24, dtype=bool)
    if start < end:
        return (h >= start) & (h < end)
    return (h >= start) | (h < end)


def _quarter_list(quarters: Iterable[int | str] | None) -> np.ndarray | None:
    if quarters is None:
        return None
    if isinstance(quarters, (str, int, np.integer)):
        raise ValueError(f"quarters must be an iterable of quarters, got {quarters!r}")
    out = []
    for q in quarters:
        if isinstance(q, str):
            out.append(parse_quarter(q))
        elif isinstance(q, (int, np.integer)) and not isinstance(q, bool):
            out.append(int(q))
        else:
            raise ValueError(f"quarter must be an ordinal or a label like '2024-Q3', got {q!r}")
    return np.asarray(out, dtype=np.int64)


def _weekday_list(weekdays: Iterable[int] | None) -> np.ndarray | None:
    if weekdays is None:
        return None
    if isinstance(weekdays, (str, int, np.integer)):
        raise ValueError(f"weekdays must be an iterable of 0..6, got {weekdays!r}")
    out = []
    for d in weekdays:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d <= 6:
            raise ValueError(f"weekday must be an integer 0 (Monday)..6 (Sunday), got {d!r}")
        out.append(int(d))
    return np.asarray(out, dtype=np.int64)


def _kind_list(kinds: Iterable[str] | None) -> list[str]:
    if kinds is None:
        return list(PATROL_KINDS)
    if isinstance(kinds, str):
        raise ValueError(f"kinds must be an iterable of {list(PATROL_KINDS)}, got {kinds!r}")
    out = []
    for k in kinds:
        if k not in PATROL_KINDS:
            raise ValueError(f"patrol kind must be one of {list(PATROL_KINDS)}, got {k!r}")
        if k not in out:
            out.append(k)
    return out


def _base_mask(cube: pd.DataFrame, index: CellIndex | None, *, quarters, weekdays, hours,
               districts) -> np.ndarray:
    """Rows of a cube that pass the quarter, weekday, hour and district filters."""
    mask = np.ones(len(cube), dtype=bool)
    q = _quarter_list(quarters)
    if q is not None:
        mask &= np.isin(cube["quarter"].to_numpy(), q)
    w = _weekday_list(weekdays)
    if w is not None:
        allowed = np.zeros(7, dtype=bool)
        allowed[w] = True
        mask &= allowed[cube["weekday"].to_numpy()]
    if hours is not None:
        mask &= hour_mask(hours)[cube["hour"].to_numpy()]
    if districts is not None:
        if index is None:
            raise ValueError("a districts filter needs the cell index")
        if isinstance(districts, str):
            raise ValueError(f"districts must be an iterable of district ids, got {districts!r}")
        in_district = np.append(index.district_cells(list(districts)), False)  # code -1 -> False
        mask &= in_district[cube["cell"].to_numpy()]
    return mask


# --- aggregation -----------------------------------------------------------------------------

def group_sum(parts: list[tuple[np.ndarray, int]], weights: np.ndarray | None
               ) -> tuple[list[np.ndarray], np.ndarray]:
    """Sum ``weights`` (or count rows) by the combination of small non-negative int arrays.

    ``parts`` holds (values in 0..size-1, size). Returns the distinct combinations with a
    non-zero sum (one array per part, ascending by combination) and their sums.
    """
    shape = tuple(size for _, size in parts)
    total = int(np.prod(shape, dtype=np.int64)) if shape else 1
    n = len(parts[0][0]) if parts else 0
    if n == 0:
        return [np.empty(0, dtype=np.int64) for _ in parts], np.empty(0)
    key = np.zeros(n, dtype=np.int64)
    for values, size in parts:
        key *= size
        key += values
    if total <= _DENSE_LIMIT:
        sums = np.bincount(key, weights=weights, minlength=total)
        keys = np.flatnonzero(sums)
        sums = sums[keys]
    else:
        keys, inverse = np.unique(key, return_inverse=True)
        sums = np.bincount(inverse, weights=weights, minlength=len(keys))
        nz = sums != 0
        keys, sums = keys[nz], sums[nz]
    return list(np.unravel_index(keys, shape)), sums


def group_sums(parts: list[tuple[np.ndarray, int]], weights: list[np.ndarray]
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Like :func:`group_sum` for several weights at once; the combinations kept are those
    whose *first* weight sums to non-zero (e.g. counts, then key sums of the same rows)."""
    shape = tuple(size for _, size in parts)
    n = len(parts[0][0]) if parts else 0
    if n == 0:
        return [np.empty(0, dtype=np.int64) for _ in parts], [np.empty(0) for _ in weights]
    key = np.zeros(n, dtype=np.int64)
    for values, size in parts:
        key *= size
        key += values
    total = int(np.prod(shape, dtype=np.int64))
    if total <= _DENSE_LIMIT:
        sums = [np.bincount(key, weights=w, minlength=total) for w in weights]
        keys = np.flatnonzero(sums[0])
        return list(np.unravel_index(keys, shape)), [s[keys] for s in sums]
    keys, inverse = np.unique(key, return_inverse=True)
    sums = [np.bincount(inverse, weights=w, minlength=len(keys)) for w in weights]
    nz = sums[0] != 0
    return list(np.unravel_index(keys[nz], shape)), [s[nz] for s in sums]


def _compact_cells(codes: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Map cell codes (-1..n-1) to 0..u-1 over the codes present; returns (compact, used codes)."""
    present = np.bincount(codes + 1, minlength=n_cells + 1) > 0
    used = np.flatnonzero(present) - 1
    lookup = np.full(n_cells + 1, -1, dtype=np.int64)
    lookup[used + 1] = np.arange(len(used))
    return lookup[codes + 1], used


# --- presence --------------------------------------------------------------------------------

def ping_dwell_seconds(patrol_points: pd.DataFrame, max_gap_s: float = MAX_GAP_S) -> np.ndarray:
    """Seconds credited to each ping (aligned with the rows of ``patrol_points``).

    The interval to the next ping of the same patrol (by time); 0 for the last ping of a
    patrol, for intervals longer than ``max_gap_s`` and for pings without a time.
    """
    if max_gap_s < 0:
        raise ValueError(f"max_gap_s must not be negative, got {max_gap_s!r}")
    n = len(patrol_points)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    pid = patrol_points["patrol_id"]
    if isinstance(pid.dtype, pd.CategoricalDtype):
        owner = pid.cat.codes.to_numpy().astype(np.int64)
    else:
        owner = pd.factorize(pid, use_na_sentinel=True)[0].astype(np.int64)
    s = _as_tz_series(patrol_points["time"], "patrol_points.time")
    ticks, per_s, nat = _ticks(s)
    valid = ~nat & (owner >= 0)
    d_owner = np.diff(owner)
    d_time = np.diff(ticks)
    already_sorted = bool(valid.all()) and bool(np.all((d_owner > 0) | ((d_owner == 0) & (d_time >= 0))))
    if already_sorted:
        order = None
        o, t = owner, ticks
    else:
        idx = np.flatnonzero(valid)
        order = idx[np.lexsort((ticks[idx], owner[idx]))]
        o, t = owner[order], ticks[order]
    dt = np.diff(t).astype(np.float64) / per_s
    same = np.diff(o) == 0
    gap = np.where(same & (dt <= max_gap_s), dt, 0.0)
    dwell = np.append(gap, 0.0)
    if order is None:
        out[:] = dwell
    else:
        out[order] = dwell
    return out


def build_presence_cube(patrol_points: pd.DataFrame, patrols: pd.DataFrame, index: CellIndex,
                        max_gap_s: float = MAX_GAP_S) -> pd.DataFrame:
    """Presence seconds by (cell, quarter, kind, weekday, hour); built once per data set.

    Columns: ``cell`` (int32 code, -1 outside the study area), ``quarter`` (int32 ordinal),
    ``kind`` (categorical kod/joint/police), ``weekday`` (int8), ``hour`` (int8),
    ``seconds`` (float64). Only non-zero rows. Pings of patrols missing from ``patrols`` or
    with an unknown kind, and pings without time, are left out.
    """
    lat, lon, quarter, kind, weekday, hour, dwell = presence_rows(patrol_points, patrols, max_gap_s)
    cells = cell_codes(index, lat, lon)
    return presence_cube_from_rows(cells, quarter, kind, weekday, hour, dwell, len(index.cells))


def presence_rows(patrol_points: pd.DataFrame, patrols: pd.DataFrame, max_gap_s: float = MAX_GAP_S
                  ) -> tuple[np.ndarray, ...]:
    """The pings that count, as arrays: lat, lon, quarter, kind code, weekday, hour, seconds.

    Everything of :func:`build_presence_cube` but the cells (so that several resolutions
    share one pass over the pings).
    """
    for col in ("patrol_id", "time", "lat", "lon"):
        if col not in patrol_points.columns:
            raise ValueError(f"patrol_points needs a column {col!r}")
    for col in ("patrol_id", "kind"):
        if col not in patrols.columns:
            raise ValueError(f"patrols needs a column {col!r}")
    dwell = ping_dwell_seconds(patrol_points, max_gap_s)
    pid = patrol_points["patrol_id"]
    kind_of = pd.Series(
        pd.Categorical(patrols["kind"], categories=list(PATROL_KINDS)).codes,
        index=patrols["patrol_id"].astype(str).to_numpy(),
    )
    kind_of = kind_of[~kind_of.index.duplicated()]
    if isinstance(pid.dtype, pd.CategoricalDtype):
        per_cat = kind_of.reindex(pid.cat.categories.astype(str)).fillna(-1).to_numpy(np.int64)
        codes = pid.cat.codes.to_numpy()
        kind = np.where(codes >= 0, per_cat[np.maximum(codes, 0)], -1)
    else:
        ids, uniq = pd.factorize(pid.astype(str))
        per_cat = kind_of.reindex(uniq).fillna(-1).to_numpy(np.int64)
        kind = np.where(ids >= 0, per_cat[np.maximum(ids, 0)], -1)
    quarter, weekday, hour = time_parts(patrol_points["time"])
    keep = (dwell > 0) & (kind >= 0) & (quarter >= 0)
    return (patrol_points["lat"].to_numpy()[keep], patrol_points["lon"].to_numpy()[keep],
            quarter[keep], kind[keep], weekday[keep], hour[keep], dwell[keep])


def presence_cube_from_rows(cells, quarter, kind, weekday, hour, seconds, n_cells) -> pd.DataFrame:
    """The presence cube of rows (single pings, or partial sums): seconds summed by
    (cell, quarter, kind code, weekday, hour); rows of cell -1 stay as one row per key."""
    if len(cells) == 0:
        return pd.DataFrame({
            "cell": np.empty(0, np.int32), "quarter": np.empty(0, np.int32),
            "kind": pd.Categorical([], categories=list(PATROL_KINDS)),
            "weekday": np.empty(0, np.int8), "hour": np.empty(0, np.int8),
            "seconds": np.empty(0, np.float64)})
    compact, used = _compact_cells(cells.astype(np.int64), n_cells)
    q0 = int(quarter.min())
    nq = int(quarter.max()) - q0 + 1
    (c, q, k, w, h), sums = group_sum(
        [(compact, len(used)), (quarter.astype(np.int64) - q0, nq), (kind.astype(np.int64), 3),
         (weekday.astype(np.int64), 7), (hour.astype(np.int64), 24)],
        seconds,
    )
    return pd.DataFrame({
        "cell": used[c].astype(np.int32),
        "quarter": (q + q0).astype(np.int32),
        "kind": pd.Categorical.from_codes(k.astype(np.int8), categories=list(PATROL_KINDS)),
        "weekday": w.astype(np.int8),
        "hour": h.astype(np.int8),
        "seconds": sums.astype(np.float64),
    })


def presence_minutes(cube: pd.DataFrame, index: CellIndex, *, quarters=None, kinds=None,
                     weekdays=None, hours=None, districts=None) -> dict[str, np.ndarray]:
    """Presence minutes per cell (float64, length ``len(index.cells)``) for a filter.

    Keys: each selected kind (in the order kod, joint, police) and ``"total"`` (their sum).
    """
    selected = _kind_list(kinds)
    mask = _base_mask(cube, index, quarters=quarters, weekdays=weekdays, hours=hours,
                      districts=districts)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    kind_codes = cube["kind"].cat.codes.to_numpy()
    seconds = cube["seconds"].to_numpy()
    n = len(index.cells)
    out: dict[str, np.ndarray] = {}
    total = np.zeros(n, dtype=np.float64)
    for kind in PATROL_KINDS:
        if kind not in selected:
            continue
        sel = mask & (kind_codes == PATROL_KINDS.index(kind))
        minutes = np.bincount(cells[sel], weights=seconds[sel], minlength=n) / 60.0
        out[kind] = minutes
        total += minutes
    out["total"] = total
    return out


def presence_by_quarter(cube: pd.DataFrame, index: CellIndex, quarters: Sequence[int | str], *,
                        kinds=None, weekdays=None, hours=None, districts=None) -> np.ndarray:
    """Presence minutes as a (len(quarters) x n_cells) array for the selected kinds."""
    qs = _quarter_list(quarters)
    if qs is None or len(qs) == 0:
        raise ValueError(f"quarters must list at least one quarter, got {quarters!r}")
    selected = [PATROL_KINDS.index(k) for k in _kind_list(kinds)]
    mask = _base_mask(cube, index, quarters=qs, weekdays=weekdays, hours=hours, districts=districts)
    cells = cube["cell"].to_numpy()
    mask &= (cells >= 0) & np.isin(cube["kind"].cat.codes.to_numpy(), selected)
    row = pd.Index(qs).get_indexer(cube["quarter"].to_numpy()[mask])
    n = len(index.cells)
    flat = np.bincount(row.astype(np.int64) * n + cells[mask], weights=cube["seconds"].to_numpy()[mask],
                       minlength=len(qs) * n)
    return flat.reshape(len(qs), n) / 60.0


def district_hours(cube: pd.DataFrame, index: CellIndex, district_ids: np.ndarray, *, quarters=None,
                   weekdays=None, hours=None) -> np.ndarray:
    """Patrol hours as (len(district_ids), 3) (kinds kod, joint, police) by the district of each
    ping's cell, for a filter (the hours columns of :func:`district_presence`, without its frame;
    :func:`geo.sums.district_hours` answers the filters it covers from pre-summed rows)."""
    mask = _base_mask(cube, index, quarters=quarters, weekdays=weekdays, hours=hours, districts=None)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    cell_district = pd.Index(np.asarray(district_ids, dtype=object).astype(str)).get_indexer(
        index.district.astype(str))
    row_district = cell_district[cells[mask]]
    kind_codes = cube["kind"].cat.codes.to_numpy()[mask].astype(np.int64)
    ok = row_district >= 0
    nd = len(district_ids)
    key = row_district[ok] * 3 + kind_codes[ok]
    return np.bincount(key, weights=cube["seconds"].to_numpy()[mask][ok],
                       minlength=nd * 3).reshape(nd, 3) / 3600.0


def district_presence(cube: pd.DataFrame, index: CellIndex, districts: pd.DataFrame, *,
                      by_quarter: bool = False, quarters=None, kinds=None, weekdays=None,
                      hours=None, district_ids=None) -> pd.DataFrame:
    """Patrol hours per district (by the cell of each ping) for a filter.

    Columns: ``district_id``, ``name``, (``quarter`` when ``by_quarter``), ``hours`` (selected
    kinds), ``hours_per_1000`` (per 1,000 inhabitants; NaN without population),
    ``joint_share`` (joint hours / hours; NaN when there are no hours or joint is not
    selected), ``hours_kod``, ``hours_joint``, ``hours_police`` (NaN for kinds not selected).
    One row per district of ``districts`` (times each quarter of the cube that passes the
    filter, when ``by_quarter``), in the order of ``districts``.
    """
    selected = _kind_list(kinds)
    mask = _base_mask(cube, index, quarters=quarters, weekdays=weekdays, hours=hours,
                      districts=district_ids)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    ids = districts["district_id"].astype(str).to_numpy()
    cell_district = pd.Index(ids).get_indexer(index.district.astype(str))  # -1: cell not in table
    row_district = cell_district[cells[mask]]
    kind_codes = cube["kind"].cat.codes.to_numpy()[mask].astype(np.int64)
    seconds = cube["seconds"].to_numpy()[mask]
    ok = row_district >= 0
    if by_quarter:
        q_all = cube["quarter"].to_numpy()[mask]
        quarter_values = np.unique(q_all) if quarters is None else np.unique(_quarter_list(quarters))
        q_row = pd.Index(quarter_values).get_indexer(q_all)
        ok &= q_row >= 0
    else:
        quarter_values = np.array([0])
        q_row = np.zeros(mask.sum(), dtype=np.int64)
    nd, nq = len(ids), len(quarter_values)
    key = (row_district[ok] * nq + q_row[ok]) * 3 + kind_codes[ok]
    hours = np.bincount(key, weights=seconds[ok], minlength=nd * nq * 3).reshape(nd, nq, 3) / 3600.0
    frame = pd.DataFrame({
        "district_id": np.repeat(ids, nq),
        "name": np.repeat(districts["name"].to_numpy() if "name" in districts else ids, nq),
    })
    if by_quarter:
        frame["quarter"] = np.tile(quarter_values.astype(np.int32), nd)
    by_kind = hours.reshape(nd * nq, 3)
    sel_idx = [PATROL_KINDS.index(k) for k in selected]
    total = by_kind[:, sel_idx].sum(axis=1)
    frame["hours"] = total
    if "population" in districts:
        pop = pd.to_numeric(districts["population"], errors="coerce").to_numpy(dtype=float,
                                                                               na_value=np.nan)
        pop = np.repeat(np.where(pop > 0, pop, np.nan), nq)
    else:
        pop = np.full(nd * nq, np.nan)
    frame["hours_per_1000"] = total / pop * 1000.0
    if "joint" in selected:
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["joint_share"] = np.where(total > 0, by_kind[:, 1] / np.where(total > 0, total, 1),
                                            np.nan)
    else:
        frame["joint_share"] = np.nan
    for k, kind in enumerate(PATROL_KINDS):
        frame[f"hours_{kind}"] = by_kind[:, k] if kind in selected else np.nan
    return frame


# --- complaints ------------------------------------------------------------------------------

def build_complaint_cube(complaints: pd.DataFrame, index: CellIndex, secret: str | None = None
                         ) -> pd.DataFrame:
    """Complaint counts by (cell, quarter, category, weekday, hour); built once per data set.

    Columns: ``cell`` (int32 code, -1 outside the study area), ``quarter`` (int32),
    ``category`` (categorical, categories sorted), ``weekday`` (int8), ``hour`` (int8),
    ``count`` (int64), ``key_sum`` (float64: the sum of the complaints' record keys, keyed with
    ``secret``, default ``LAGEBILD_CELL_KEY_SECRET``; 0 without a ``complaint_id`` column).
    Complaints without time or category are left out.
    """
    for col in ("received_at", "category", "lat", "lon"):
        if col not in complaints.columns:
            raise ValueError(f"complaints needs a column {col!r}")
    quarter, weekday, hour = time_parts(complaints["received_at"])
    raw = complaints["category"]
    if isinstance(raw.dtype, pd.CategoricalDtype):  # canonical frames: no string round trip
        cat = pd.Categorical.from_codes(raw.cat.codes.to_numpy(),
                                        categories=[str(c) for c in raw.cat.categories])
    else:
        cat = pd.Categorical(raw.astype("string").astype(object))
    cat_codes = np.asarray(cat.codes, dtype=np.int64)
    keep = (quarter >= 0) & (cat_codes >= 0)
    cells = cell_codes(index, complaints["lat"].to_numpy()[keep], complaints["lon"].to_numpy()[keep])
    keys = complaint_record_keys(complaints, secret)[keep]
    return complaint_cube_from_rows(cells, quarter[keep], cat_codes[keep], list(cat.categories),
                                    weekday[keep], hour[keep], None, len(index.cells), keys)


def complaint_record_keys(complaints: pd.DataFrame, secret: str | None = None) -> np.ndarray:
    """The record key of every complaint (data.privacy.record_keys of ``complaint_id``)."""
    if "complaint_id" not in complaints.columns:
        return np.zeros(len(complaints))
    return record_keys(complaints["complaint_id"],
                       cell_key_secret(os.environ) if secret is None else secret)


def complaint_cube_from_rows(cells: np.ndarray, quarter: np.ndarray, cat_codes: np.ndarray,
                             categories: list[str], weekday: np.ndarray, hour: np.ndarray,
                             counts: np.ndarray | None, n_cells: int,
                             key_sums: np.ndarray | None = None) -> pd.DataFrame:
    """The complaint cube of rows (single complaints, or partial sums with ``counts``).

    Rows with the same (cell, quarter, category, weekday, hour) are summed; the result
    is the same whether the rows are single complaints or already summed in parts (how
    geo.prepared derives a district's cube from the stored one). ``key_sums``: the record
    keys of the rows (or their partial sums), summed the same way (record keys are multiples
    of 2**-26: the sums are exact in any order).
    """
    if cells.size == 0:
        return pd.DataFrame({
            "cell": np.empty(0, np.int32), "quarter": np.empty(0, np.int32),
            "category": pd.Categorical([], categories=categories),
            "weekday": np.empty(0, np.int8), "hour": np.empty(0, np.int8),
            "count": np.empty(0, np.int64), "key_sum": np.empty(0, np.float64)})
    compact, used = _compact_cells(cells.astype(np.int64), n_cells)
    q = quarter.astype(np.int64)
    q0 = int(q.min())
    parts = [(compact, len(used)), (q - q0, int(q.max()) - q0 + 1),
             (cat_codes.astype(np.int64), len(categories)),
             (weekday.astype(np.int64), 7), (hour.astype(np.int64), 24)]
    weights = np.ones(len(compact)) if counts is None else counts.astype(np.float64)
    keys = np.zeros(len(compact)) if key_sums is None else np.asarray(key_sums, dtype=np.float64)
    (c, qq, k, w, h), (sums, key_sum) = group_sums(parts, [weights, keys])
    return pd.DataFrame({
        "cell": used[c].astype(np.int32),
        "quarter": (qq + q0).astype(np.int32),
        "category": pd.Categorical.from_codes(k.astype(np.int32), categories=categories),
        "weekday": w.astype(np.int8),
        "hour": h.astype(np.int8),
        "count": np.rint(sums).astype(np.int64),
        "key_sum": key_sum,
    })


def _complaint_mask(cube: pd.DataFrame, index: CellIndex | None, *, quarters, categories, weekdays,
                    hours, districts) -> np.ndarray:
    mask = _base_mask(cube, index, quarters=quarters, weekdays=weekdays, hours=hours,
                      districts=districts)
    if categories is not None:
        if isinstance(categories, str):
            raise ValueError(f"categories must be an iterable of category codes, got {categories!r}")
        cats = cube["category"].cat.categories
        wanted = np.zeros(len(cats) + 1, dtype=bool)  # last slot: code -1
        pos = pd.Index(cats).get_indexer([str(c) for c in categories])
        wanted[pos[pos >= 0]] = True
        mask &= wanted[cube["category"].cat.codes.to_numpy()]
    return mask


def _values(cube: pd.DataFrame, value: str) -> np.ndarray:
    if value not in COMPLAINT_VALUES:
        raise ValueError(f"value must be one of {(*COMPLAINT_VALUES, 'both')}, got {value!r}")
    if value not in cube.columns:
        raise ValueError(f"the complaint cube has no column {value!r} (prepared before key sums?), "
                         f"got {list(cube.columns)!r}")
    return cube[value].to_numpy()


def _typed(values: np.ndarray, value: str) -> np.ndarray:
    return values.astype(np.int64) if value == "count" else values


def _sum_by(key: np.ndarray, cube: pd.DataFrame, mask: np.ndarray, size: int, value: str, shape=None):
    """Sums of the cube's ``value`` over the rows in ``mask`` by ``key`` (0..size-1); ``value``
    "both": (counts, key sums) from one mask (the cell key method needs both)."""
    if value == "both":
        return tuple(_sum_by(key, cube, mask, size, v, shape) for v in COMPLAINT_VALUES)
    flat = np.bincount(key, weights=_values(cube, value)[mask], minlength=size)
    return _typed(flat if shape is None else flat.reshape(shape), value)


def complaint_counts(cube: pd.DataFrame, index: CellIndex, *, quarters=None, categories=None,
                     weekdays=None, hours=None, districts=None, value: str = "count") -> np.ndarray:
    """Complaints per cell (int64, length ``len(index.cells)``) for a filter
    (``value="key_sum"``: the sums of their record keys, float64; ``"both"``: the two as a tuple)."""
    mask = _complaint_mask(cube, index, quarters=quarters, categories=categories, weekdays=weekdays,
                           hours=hours, districts=districts)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    return _sum_by(cells[mask], cube, mask, len(index.cells), value)


def complaint_counts_by_quarter(cube: pd.DataFrame, index: CellIndex, quarters: Sequence[int | str], *,
                                categories=None, weekdays=None, hours=None,
                                districts=None, value: str = "count") -> np.ndarray:
    """Complaints as a (len(quarters) x n_cells) int64 array, rows in the given quarter order."""
    qs = _quarter_list(quarters)
    if qs is None or len(qs) == 0:
        raise ValueError(f"quarters must list at least one quarter, got {quarters!r}")
    mask = _complaint_mask(cube, index, quarters=qs, categories=categories, weekdays=weekdays,
                           hours=hours, districts=districts)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    row = pd.Index(qs).get_indexer(cube["quarter"].to_numpy()[mask]).astype(np.int64)
    n = len(index.cells)
    return _sum_by(row * n + cells[mask], cube, mask, len(qs) * n, value, (len(qs), n))


def complaint_category_counts(cube: pd.DataFrame, index: CellIndex, *, quarters=None, categories=None,
                              weekdays=None, hours=None, districts=None) -> pd.DataFrame:
    """Long form (``cell``, ``category``, ``count``) of complaints per cell and category, count > 0
    (and ``key_sum``, the sum of their record keys, when the cube has it)."""
    mask = _complaint_mask(cube, index, quarters=quarters, categories=categories, weekdays=weekdays,
                           hours=hours, districts=districts)
    cells = cube["cell"].to_numpy()
    mask &= cells >= 0
    cats = cube["category"].cat.categories
    codes = cube["category"].cat.codes.to_numpy().astype(np.int64)[mask]
    n_cat = max(len(cats), 1)
    key = cells[mask].astype(np.int64) * n_cat + codes
    keys, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=cube["count"].to_numpy()[mask], minlength=len(keys))
    out = pd.DataFrame({
        "cell": (keys // n_cat).astype(np.int32),
        "category": pd.Categorical.from_codes((keys % n_cat).astype(np.int32), categories=cats),
        "count": np.rint(sums).astype(np.int64),
    })
    if "key_sum" in cube.columns:
        out["key_sum"] = np.bincount(inverse, weights=cube["key_sum"].to_numpy()[mask], minlength=len(keys))
    return out


def complaint_weekday_hour(cube: pd.DataFrame, index: CellIndex | None = None, *, quarters=None,
                           categories=None, weekdays=None, hours=None,
                           districts=None, value: str = "count") -> np.ndarray:
    """Complaints as a 7 x 24 int64 array (weekday 0 = Monday by local hour); all rows count."""
    mask = _complaint_mask(cube, index, quarters=quarters, categories=categories, weekdays=weekdays,
                           hours=hours, districts=districts)
    key = cube["weekday"].to_numpy()[mask].astype(np.int64) * 24 + cube["hour"].to_numpy()[mask]
    return _sum_by(key, cube, mask, 7 * 24, value, (7, 24))
