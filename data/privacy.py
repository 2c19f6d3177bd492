"""Anonymisation for conference mode and its exports: small counts are suppressed.

Complaints and staff incidents are personal data (DSGVO). Whatever the conference mode
shows or exports is an aggregate: a cell, a district or a quarter with fewer than ``k``
records is suppressed (k = 5 by default, never below 3; design.md section 6).

Primary suppression hides every unit below ``k``. Units of one margin (the districts of a
total that is shown elsewhere, e.g. in the trend chart) also get *secondary* suppression:
when the hidden units add up to between 1 and k − 1, the total minus the shown units
would reveal them, so the next smallest units are hidden too until the hidden sum is 0 or
at least ``k`` (:func:`suppress_margin`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from data.filters import Filters

K_DEFAULT = 5
K_MIN = 3
#: The largest k a page parameter (``kmin``) may ask for; higher requests are capped here.
K_MAX = 50
K_ENV = "LAGEBILD_K"


def check_k(k: object) -> int:
    """``k`` as an int; ``ValueError`` unless it is a whole number ≥ 3."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be a whole number ≥ {K_MIN}, got {k!r}")
    if int(k) < K_MIN:
        raise ValueError(f"k must be at least {K_MIN}, got {k!r}")
    return int(k)


def parse_k(text: object) -> int:
    """``k`` from text (environment, URL); ``ValueError`` for anything but a whole number ≥ 3."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"k must be a whole number ≥ {K_MIN}, got {text!r}") from None
    if str(value) != str(text).strip():
        raise ValueError(f"k must be a whole number ≥ {K_MIN}, got {text!r}")
    if value < K_MIN:
        raise ValueError(f"k must be at least {K_MIN}, got {text!r}")
    return value


def k_from_env(env: Mapping[str, str]) -> int:
    """The configured minimum k: ``LAGEBILD_K`` or 5."""
    raw = env.get(K_ENV, "").strip()
    return parse_k(raw) if raw else K_DEFAULT


def effective_k(configured: int, requested: object | None = None) -> int:
    """The k to apply: a page parameter may raise the configured k, never lower it."""
    configured = check_k(configured)
    if requested is None:
        return configured
    return max(configured, parse_k(requested))


def k_choices(floor: int) -> list[int]:
    """The values of k a page offers: the configured floor up to ``max(floor, K_MAX)``."""
    floor = check_k(floor)
    return list(range(floor, max(floor, K_MAX) + 1))


def requested_k(floor: int, raw: object | None) -> tuple[int, str | None]:
    """The k a URL's ``kmin`` asks for, and why it was changed (``None``: taken as it is).

    k only ever goes up: a whole number above the floor raises k, capped at
    ``max(floor, K_MAX)`` ("capped"); a number at or below the floor, or anything that is not
    a whole number, leaves k at the floor ("floor" / "invalid").
    """
    floor = check_k(floor)
    if raw is None:
        return floor, None
    text = str(raw).strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        return floor, "invalid"
    value = int(text)
    top = max(floor, K_MAX)
    if value > top:
        return top, "capped"
    if value < floor:
        return floor, "floor"
    return value, None


def below_k(counts: Sequence[float] | np.ndarray | pd.Series, k: int) -> np.ndarray:
    """Which units are suppressed by primary suppression (count < k, including 0 and NaN)."""
    k = check_k(k)
    values = pd.to_numeric(pd.Series(np.asarray(counts, dtype="float64")), errors="coerce").to_numpy()
    return ~(np.nan_to_num(values, nan=0.0) >= k)


def suppress_margin(counts: Sequence[float] | np.ndarray | pd.Series, k: int) -> np.ndarray:
    """Primary and secondary suppression over the units of one margin (a boolean mask).

    Units below ``k`` are hidden; then, while the hidden units add up to more than 0 and
    less than ``k``, the smallest shown unit is hidden as well.
    """
    values = np.nan_to_num(np.asarray(counts, dtype="float64"), nan=0.0)
    hidden = below_k(values, k)
    order = np.argsort(values, kind="stable")
    while 0 < values[hidden].sum() < k and not hidden.all():
        nxt = next(i for i in order if not hidden[i])
        hidden[nxt] = True
    return hidden


def suppress_rows(frame: pd.DataFrame, count_col: str, k: int) -> pd.DataFrame:
    """The rows whose ``count_col`` is at least ``k`` (index reset)."""
    if count_col not in frame.columns:
        raise ValueError(f"suppress_rows: no column {count_col!r}, got {list(frame.columns)!r}")
    return frame.loc[~below_k(frame[count_col], k)].reset_index(drop=True)


def mask_values(values: pd.Series, hidden: np.ndarray) -> pd.Series:
    """``values`` with the hidden ones replaced by NaN (float)."""
    out = pd.to_numeric(values, errors="coerce").astype("float64").copy()
    out[np.asarray(hidden, dtype=bool)] = np.nan
    return out


def assert_k_anonymous(frame: pd.DataFrame, count_cols: Sequence[str], k: int, what: str) -> None:
    """A last guard before anything anonymised leaves the server.

    Every value of ``count_cols`` must be NaN (suppressed) or at least ``k``; otherwise
    ``ValueError`` naming the first offending row.
    """
    k = check_k(k)
    for col in count_cols:
        if col not in frame.columns:
            raise ValueError(f"{what}: no column {col!r}, got {list(frame.columns)!r}")
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        bad = np.flatnonzero(np.isfinite(values) & (values < k))
        if bad.size:
            raise ValueError(f"{what}: {col} below k={k} in row {int(bad[0])}, got {float(values[bad[0]])!r}")


# --- the cell key method (differencing protection) ----------------------------------------------
#
# Suppression alone does not protect against differencing: two views whose record sets differ by
# a few records (another hour window, one quarter more) both show counts ≥ k, and their difference
# is the small group. Conference mode therefore publishes every count through the *cell key
# method* (Fraser & Wooton 2005, Australian Bureau of Statistics; used by the German statistical
# offices for the Zensus 2011/2022 tables, Giessing & Tent 2019):
#
# * every record carries a fixed random *record key* in [0, 1); here a keyed hash (SipHash-2-4,
#   pandas' hash_array) of its id with a secret (``LAGEBILD_CELL_KEY_SECRET``), so nothing is
#   stored and the key of a record never changes;
# * a cell's *cell key* is the sum of its records' keys modulo 1: the same set of records always
#   has the same cell key, a different set an unrelated one;
# * a *perturbation table* (ptable) maps (true count, cell key) to a noise value; the published
#   count is true count + noise. The same records therefore give the same published number in
#   every view and export (consistency), while two views of different record sets carry
#   independent noise, so their difference does not reveal the records in between.
#
# Our ptable: maximum deviation D = 2, noise -2..+2 with probabilities 0.1, 0.2, 0.4, 0.2, 0.1
# (variance 1.2; unbiased away from the threshold). Counts below k are suppressed as before; for
# counts from k on, noise that would publish a value below k is removed from the row and the
# row renormalised (the "js" threshold of the destatis ptable), so every published count is ≥ k
# and every published value v ≥ k could come from at least two true counts.

CELL_KEY_ENV = "LAGEBILD_CELL_KEY_SECRET"
#: Used when LAGEBILD_CELL_KEY_SECRET is not set (demo and tests). A deployment sets its own
#: secret once and keeps it: changing it changes every published number.
DEFAULT_CELL_KEY_SECRET = "lagebild-demo-cell-key"
KEY_BITS = 26  # record keys are multiples of 2**-26 (exact sums)


def cell_key_secret(env: Mapping[str, str]) -> str:
    """The secret of the record keys: ``LAGEBILD_CELL_KEY_SECRET`` or the demo default."""
    return env.get(CELL_KEY_ENV, "").strip() or DEFAULT_CELL_KEY_SECRET


def record_keys(ids: Sequence[object] | pd.Series | np.ndarray, secret: str) -> np.ndarray:
    """A fixed random key in [0, 1) per record id: SipHash-2-4 of the id keyed with ``secret``.

    Keys are multiples of 2**-26, so sums over up to 2**27 records are exact in float64 in any
    order: the same records give the same cell key in every view. Vectorised; the same id and
    secret always give the same key.
    """
    hash_key = hashlib.blake2b(secret.encode("utf-8"), digest_size=8).hexdigest()  # 16 characters
    values = pd.Series(ids, dtype="object").astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(values, hash_key=hash_key, categorize=False)
    return (hashed >> np.uint64(64 - KEY_BITS)).astype(np.float64) / float(2**KEY_BITS)


def cell_keys(key_sums: np.ndarray | Sequence[float]) -> np.ndarray:
    """Cell keys from sums of record keys: the fractional part (sum modulo 1)."""
    return np.mod(np.asarray(key_sums, dtype=np.float64), 1.0)


@dataclass(frozen=True)
class PTable:
    """A perturbation table: noise ``-d..d`` with ``probs`` (symmetric, summing to 1)."""

    d: int = 2
    probs: tuple[float, ...] = (0.1, 0.2, 0.4, 0.2, 0.1)

    def __post_init__(self) -> None:
        if len(self.probs) != 2 * self.d + 1 or abs(sum(self.probs) - 1.0) > 1e-9 or min(self.probs) <= 0:
            raise ValueError(f"ptable needs 2d+1 positive probabilities summing to 1, got {self.probs!r}")

    @property
    def noise_values(self) -> np.ndarray:
        return np.arange(-self.d, self.d + 1)

    def row(self, count: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(noise values, probabilities) for a true ``count`` ≥ k: no published value below k."""
        e = self.noise_values
        p = np.asarray(self.probs, dtype=np.float64)
        ok = count + e >= k
        return e[ok], p[ok] / p[ok].sum()

    def sources(self, published: int, k: int) -> list[int]:
        """The true counts that can be published as ``published`` (what an attacker can infer)."""
        return [n for n in range(max(k, published - self.d), published + self.d + 1)
                if published - n in self.row(n, k)[0]]

    def perturb(self, counts: np.ndarray | Sequence[float], keys: np.ndarray | Sequence[float],
                k: int) -> np.ndarray:
        """Published counts: ``count + noise(count, cell key)`` for counts ≥ k; others unchanged
        (they are suppressed by the caller). Deterministic in (count, cell key)."""
        k = check_k(k)
        n = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0).astype(np.int64)
        r = np.asarray(keys, dtype=np.float64)
        if n.shape != r.shape:
            raise ValueError(f"counts and keys must have the same shape, got {n.shape} and {r.shape}")
        out = n.copy()
        big = n >= k + self.d  # the full row applies
        cum = np.cumsum(self.probs)
        idx = np.minimum(np.searchsorted(cum, r[big], side="right"), len(cum) - 1)
        out[big] = n[big] + self.noise_values[idx]
        for count in range(k, k + self.d):  # rows cut at k
            sel = n == count
            if sel.any():
                e, p = self.row(count, k)
                j = np.minimum(np.searchsorted(np.cumsum(p), r[sel], side="right"), len(p) - 1)
                out[sel] = count + e[j]
        return out


PTABLE = PTable()


def conference_filters(f: Filters) -> Filters:
    """The filters conference mode applies: whole quarters, whole days, all categories.

    Hour windows, weekdays, categories and fields are dropped (each would slice the records
    into groups that differ by a few records); quarters and districts stay (their counts are
    published through the cell key method). Patrol kinds stay (they select presence, not
    records of people).
    """
    return replace(f, categories=(), fields=(), weekdays=(), hours=(0, 24))


def published_counts(counts: np.ndarray | Sequence[float], key_sums: np.ndarray | Sequence[float], k: int,
                     ptable: PTable = PTABLE, floor: int | None = None) -> np.ndarray:
    """The counts conference mode shows: below k NaN (suppressed), from k on perturbed (≥ k).

    The noise is always that of the configured floor (``floor``, default ``LAGEBILD_K``, at
    most k), as on a viewer's pages (:class:`Publisher`): a raised k (``kmin``) only suppresses
    more and never gives one count a second, different noise (two noisy values of one count
    would narrow it down, and two narrowed counts would give an exact difference). A count
    whose published value falls below k is suppressed too, so nothing below k is shown.
    """
    k = check_k(k)
    base = min(k, k_from_env(os.environ) if floor is None else check_k(floor))
    n = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0)
    out = ptable.perturb(n, cell_keys(key_sums), base).astype(np.float64)
    out[below_k(n, k) | (out < k)] = np.nan
    return out


# --- the publisher: one choke point for everything a viewer sees ---------------------------------
#
# A viewer's bundle (data.roles.restrict) and the spatial model built from it carry a Publisher;
# every count a viewer's page, chart, map or export shows is published through it:
#
# | viewer-visible number                                   | published as                        |
# |---------------------------------------------------------|-------------------------------------|
# | complaints, open complaints, staff incidents (KPIs)     | cell key method, NaN below k        |
# | previous period, change %, z signal, "what changed"     | from the published counts           |
# | district complaints/previous/open/incidents (table, CSV, | cell key method per district        |
# |   choropleth, GeoPackage)                                |                                     |
# | per 1,000 inhabitants, district trend z                 | from the published counts           |
# | complaints per H3 cell (layers, GeoJSON, GeoPackage)    | cell key method, 0/null below k     |
# | Gi* z and class, emerging classes, gap list and ranks   | computed from published cell counts |
# | trend, category chart, weekday x hour, district profile | cell key method per point/bar/bin   |
# | patrol hours, presence minutes, joint share             | exact (not records of people)       |
#
# A number derived only from published numbers (post-processing) cannot reveal more than they
# do. Coordinators, admins and the local single-user mode have no publisher (exact numbers).

def secret_tag(secret: str) -> str:
    """A short, one-way tag of the cell key secret (stored with prepared key sums: a changed
    secret makes them stale; the tag does not reveal the secret)."""
    return hashlib.blake2b(secret.encode("utf-8"), digest_size=8, person=b"lagebild-ck").hexdigest()


@dataclass(frozen=True)
class Publisher:
    """How complaint and incident counts are published to one principal.

    A data bundle restricted for a *viewer* (:func:`data.roles.restrict`) carries one; the
    spatial model built from it (:func:`geo.model.build`) copies it, and every count the pages,
    charts, maps and exports take from the bundle or the model goes through it:
    ``count`` records with ``key_sum`` (sum of their record keys) are published as
    ``ptable(count, key_sum mod 1)`` from ``k`` on and suppressed below ``k``. Coordinators,
    admins and the local single-user mode have no publisher (``None``): exact numbers.
    """

    k: int
    secret: str = field(repr=False)
    ptable: PTable = PTABLE

    def __post_init__(self) -> None:
        check_k(self.k)

    def counts(self, counts: np.ndarray | Sequence[float], key_sums: np.ndarray | Sequence[float]
               ) -> np.ndarray:
        """Published counts (float, any shape): NaN below k (suppressed), else ptable-perturbed (≥ k)."""
        n = np.asarray(counts, dtype=np.float64)
        sums = np.asarray(key_sums, dtype=np.float64)
        if n.shape != sums.shape:
            raise ValueError(f"counts and key sums must have the same shape, got {n.shape} and {sums.shape}")
        n = np.nan_to_num(n.ravel(), nan=0.0)
        out = self.ptable.perturb(n, cell_keys(sums.ravel()), self.k).astype(np.float64)
        out[~(n >= self.k)] = np.nan  # as published_counts, without its pandas round trip
        return out.reshape(np.shape(counts))

    def filled(self, counts: np.ndarray | Sequence[float], key_sums: np.ndarray | Sequence[float]
               ) -> np.ndarray:
        """Published counts as int64 with suppressed ones as 0 (per-cell arrays, chart series and
        the inputs of Gi*, emerging classes and gap rankings: these only ever see published counts)."""
        shown = self.counts(counts, key_sums)
        return np.nan_to_num(shown, nan=0.0).astype(np.int64)

    def one(self, count: float, key_sum: float) -> float:
        """One published count (NaN: suppressed)."""
        return float(self.counts(np.array([count], dtype=np.float64), np.array([key_sum]))[0])

    def series(self, counts: pd.Series, key_sums: pd.Series) -> pd.Series:
        """Published counts of a labelled series (same index; NaN: suppressed)."""
        key_sums = key_sums.reindex(counts.index, fill_value=0.0)
        return pd.Series(self.counts(counts.to_numpy(dtype=np.float64), key_sums.to_numpy(dtype=np.float64)),
                         index=counts.index, name=counts.name)

    def record_keys(self, ids: Sequence[object] | pd.Series | np.ndarray) -> np.ndarray:
        """Record keys of small tables counted live (staff incidents)."""
        return record_keys(ids, self.secret)

    def keys_of(self, frame: pd.DataFrame, id_column: str) -> np.ndarray:
        """The record key of every row of ``frame`` (from ``id_column``), hashed once per frame."""
        tag = (id_column, self.secret, len(frame))
        with _ROW_KEYS_LOCK:  # sessions run in threads of one process
            found = _ROW_KEYS.get(id(frame))
        if found is not None and found[0]() is frame and found[1] == tag:
            return found[2]
        keys = record_keys(frame[id_column].to_numpy(), self.secret)
        with _ROW_KEYS_LOCK:
            for key in [k for k, v in _ROW_KEYS.items() if v[0]() is None]:  # frames gone
                del _ROW_KEYS[key]
            _ROW_KEYS[id(frame)] = (weakref.ref(frame), tag, keys)
        return keys


#: Record keys per table (small tables counted live, e.g. staff incidents), by frame identity
#: (DataFrames are not hashable: id plus a weak reference that must still point to the frame).
_ROW_KEYS: dict[int, tuple] = {}
_ROW_KEYS_LOCK = threading.Lock()


def publisher_for(role: str, env: Mapping[str, str]) -> Publisher | None:
    """The publisher of a principal: viewers get the cell key method with ``LAGEBILD_K`` and
    ``LAGEBILD_CELL_KEY_SECRET``; coordinators, admins and the local mode get exact numbers."""
    if role != "viewer":
        return None
    return Publisher(k=k_from_env(env), secret=cell_key_secret(env))
