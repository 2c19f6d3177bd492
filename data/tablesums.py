"""The complaint summary pre-summed by quarter: per-district (or per-category) counts of a
period without scanning the summary.

:attr:`data.folder.DataBundle.complaint_table` has one row per combination of every filter
dimension (a million rows at region scale). A period or district change asks for counts per
district of the period, of the previous period and of the complaints still open at the
period's end; :func:`count_by` answers these from dense sums by (quarter, value of ``by``,
closing quarter), built once per summary, exactly as :func:`data.filters.count` over
:func:`data.filters.complaint_mask` does (counts are whole numbers and key sums multiples of
2**-26: sums in any order are exact). It returns None for filters it does not cover (fields,
categories, weekdays, hours, a district filter on another ``by``); callers then count the
summary itself.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.filters import Filters


@dataclass(frozen=True, eq=False)
class _Sums:
    q0: int
    levels: pd.Index  # values of ``by`` (the categories of a categorical column)
    closed: np.ndarray  # sorted distinct closing quarters
    n: np.ndarray  # (quarters, levels, closing quarters)
    key_sum: np.ndarray  # same shape


_lock = threading.Lock()
_built: dict[tuple[int, str], tuple[weakref.ref, _Sums]] = {}


def _sums(table: pd.DataFrame, by: str) -> _Sums:
    key = (id(table), by)
    with _lock:
        found = _built.get(key)
        if found is not None and found[0]() is table:
            return found[1]
    values = table[by]
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        levels = pd.Index(values.cat.categories)
    else:
        found_codes, uniques = pd.factorize(values.to_numpy(), sort=True)
        codes, levels = found_codes.astype(np.int64), pd.Index(uniques)
    q = table["quarter"].to_numpy().astype(np.int64)
    found, uniques = pd.factorize(table["closed_quarter"].to_numpy().astype(np.int64))
    order = np.argsort(uniques, kind="stable")  # (a hash pass and a sort of the few distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    closed, c_codes = np.asarray(uniques)[order], rank[found]
    ok = codes >= 0  # a missing value of ``by`` counts for no group (as in a groupby)
    q0 = int(q.min()) if len(q) else 0
    nq = int(q.max()) - q0 + 1 if len(q) else 0
    shape = (nq, max(len(levels), 1), max(len(closed), 1))
    flat = np.ravel_multi_index((q[ok] - q0, codes[ok], c_codes.reshape(-1)[ok]), shape) \
        if ok.any() else np.zeros(0, dtype=np.int64)
    size = int(np.prod(shape))
    n = np.bincount(flat, weights=table["n"].to_numpy()[ok].astype(np.float64), minlength=size)
    keys = np.bincount(flat, weights=table["key_sum"].to_numpy()[ok], minlength=size) \
        if "key_sum" in table.columns else np.zeros(size)
    sums = _Sums(q0, levels, closed, np.rint(n).astype(np.int64).reshape(shape),
                 keys.reshape(shape))
    with _lock:
        for k in [k for k, (ref, _v) in _built.items() if ref() is None]:
            del _built[k]
        _built[key] = (weakref.ref(table), sums)
    return sums


def covers(table: pd.DataFrame, f: Filters, by: str) -> bool:
    """Whether :func:`count_by` answers ``f`` for ``by`` from the pre-summed form."""
    return (not (f.fields or f.categories or f.weekdays) and f.hours == (0, 24)
            and (not f.districts or by == "district_id")
            and all(c in table.columns for c in ("quarter", "closed_quarter", "n", by)))


def count_by(table: pd.DataFrame, f: Filters, by: str, publisher=None, open_at_end: bool = False
             ) -> pd.Series | None:
    """``count(table, complaint_mask(table, f) [& closed_quarter > f.q_to], by, publisher)``
    (:mod:`data.filters`) from the pre-summed summary; None when it does not cover ``f``.

    Values per group with complaints only (int64 exact counts; published: float, NaN
    suppressed), indexed by the values of ``by``.
    """
    if not covers(table, f, by) or (publisher is not None and "key_sum" not in table.columns):
        return None
    s = _sums(table, by)
    nq = s.n.shape[0]
    lo, hi = max(f.q_from - s.q0, 0), min(f.q_to - s.q0, nq - 1)
    cols = np.flatnonzero(s.closed > f.q_to) if open_at_end else slice(None)
    if hi < lo:
        n = np.zeros(s.n.shape[1], dtype=np.int64)
        keys = np.zeros(s.n.shape[1])
    else:
        n = s.n[lo:hi + 1][:, :, cols].sum(axis=(0, 2))
        keys = s.key_sum[lo:hi + 1][:, :, cols].sum(axis=(0, 2))
    levels = s.levels
    if f.districts and len(levels):  # by == district_id (covers)
        n = np.where(np.asarray(levels.isin(list(f.districts))), n, 0)
    rows = np.flatnonzero(n)
    index = pd.Index(levels[rows], name=by)
    if publisher is None:
        return pd.Series(n[rows].astype(np.int64), index=index, name="n")
    return publisher.series(pd.Series(n[rows].astype(np.float64), index=index, name="n"),
                            pd.Series(keys[rows], index=index, name="key_sum"))
