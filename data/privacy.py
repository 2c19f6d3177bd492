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

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

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
