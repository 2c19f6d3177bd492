"""Emerging hot spot analysis over the last n >= 4 quarters (design.md section 4).

Method (after ArcGIS Pro, *How Emerging Hot Spot Analysis works*):

1. Gi* for every cell and quarter (a *bin* of the space-time cube), in one of two ways
   (``method``):

   * ``"space_time"`` (the default, as ArcGIS does on a space-time cube): the neighbourhood
     of bin (t, i) is cell i and its ring-1 neighbours in quarter t **and in quarter t - 1**
     (the first quarter has only its own quarter), binary weights; the mean and the standard
     deviation are those of **all bins of the cube** (n = quarters x cells), so a quarter that
     is busier everywhere shows up as hotter everywhere. With ``W`` the number of neighbour
     bins (7 or 14 inside the area, fewer at its edge)::

         z = (sum of the neighbour bins - mean * W) / (std * sqrt((n W - W^2) / (n - 1)))

     The p-values are Benjamini-Hochberg adjusted over all bins of the cube (one family of
     tests).
   * ``"per_quarter"`` (the earlier method, kept as an option): Gi* per quarter
     (:mod:`geo.hotspots`) with that quarter's cells only, its own mean and variance, and
     the Benjamini-Hochberg adjustment over the cells of that quarter.

   When do they differ? (a) The space-time neighbourhood smooths over two quarters: a cell
   that turns hot only in the final quarter has half of its neighbourhood in the calm
   quarter before, so it needs a stronger jump to be significant, and a single hot quarter
   also lifts the next one (a one-quarter burst can leave two hot quarters). (b) With the
   cube's mean and variance, a quarter with more complaints everywhere (summer, a growing
   reporting channel) makes many cells hot in that quarter and a quiet quarter few, while
   the per-quarter method only compares cells within a quarter (it is blind to city-wide
   change). (c) Counts that rise in one cell while the city stays flat give the same
   picture in both. (d) Seasonal cities: the demo's fading cluster halves relative to the
   city (per quarter: *diminishing*), but its counts still peak every summer with the whole
   city, so on the cube its z has no significant trend (*persistent*). Both methods are
   tested in tests/test_emerging.py and tests/test_analytics_demo.py.

   A cell is a *hot spot in a quarter* when ``z > 0`` and ``p_fdr <= alpha``, a *cold spot*
   when ``z < 0`` and ``p_fdr <= alpha``, with ``alpha = 1 - confidence`` (default 0.90).
2. Mann-Kendall trend test per cell on its series of Gi* z-scores (as ArcGIS does):
   ``S = sum_{i<j} sign(z_j - z_i)``,
   ``Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18`` (``t`` = sizes of groups of tied
   values), ``mk_z = (S - sign(S)) / sqrt(Var(S))`` (0 when ``Var(S) = 0``), ``mk_p`` its
   two-sided normal p-value. The trend is *significant* when ``mk_p <= alpha``; upward when
   ``mk_z > 0``.

Let n be the number of quarters, H the number of hot quarters, C the number of cold
quarters, "final" the last quarter. "At least 90 %" means ``H >= 0.9 n``. Classes (first
match wins):

* **intensifying**: hot in the final quarter, hot in at least 90 % of the quarters, and a
  significant upward trend of z.
* **diminishing**: hot in the final quarter, hot in at least 90 % of the quarters, and a
  significant downward trend of z.
* **persistent**: hot in the final quarter, hot in at least 90 % of the quarters, no
  significant trend.
* **oscillating**: hot in the final quarter, less than 90 % hot, and a cold spot in at least
  one earlier quarter.
* **new**: hot in the final quarter and in no earlier quarter (and never cold).
* **consecutive**: hot in an uninterrupted run of at least two quarters at the end, never hot
  before that run (and never cold), less than 90 % hot.
* **sporadic**: hot in the final quarter, less than 90 % hot, on and off before, never cold.
* **historical**: not hot in the final quarter but hot in at least 90 % of the quarters.
  Note that this needs n >= 10: with fewer quarters 90 % cannot be reached without the
  final one (e.g. 7 of 8 is 87.5 %).
* **none**: none of the above.

With ``include_cold=True`` the mirror-image cold-spot patterns are added as
``cold_intensifying`` (cold, significant *downward* trend: getting colder),
``cold_diminishing`` (significant upward trend), ``cold_persistent``, ``cold_oscillating``
(earlier hot), ``cold_new``, ``cold_consecutive``, ``cold_sporadic``, ``cold_historical``.
The hot patterns are tested first.

ArcGIS does not say how new and consecutive relate to an earlier cold spot; as in R's
``sfdep`` implementation, a cold history makes a final hot spot *oscillating*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import CellIndex
from geo.hotspots import _check_counts, bh_adjust, gi_star_z, two_sided_p

MIN_QUARTERS = 4
METHODS = ("space_time", "per_quarter")
DEFAULT_METHOD = "space_time"
EMERGING_CLASSES = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
                    "oscillating", "historical", "none")
COLD_CLASSES = tuple(f"cold_{c}" for c in EMERGING_CLASSES if c != "none")
EMERGING_COLUMNS = ["h3", "cls", "mk_z", "mk_p", "hot_quarters", "cold_quarters", "z_last",
                    "history"]


def space_time_gi_z(counts_by_quarter: np.ndarray, neighbours) -> np.ndarray:
    """Gi* z of every bin of a (quarters x cells) cube with the space-time neighbourhood.

    Neighbours of (t, i): the ring-1 disk of i (``neighbours``, self included) in quarter t
    and quarter t - 1; the mean and the population standard deviation of the whole cube.
    """
    x = np.asarray(counts_by_quarter, dtype=np.float64)
    n_t, m = x.shape
    total = n_t * m
    if total == 0:
        return np.zeros(x.shape)
    w = neighbours.astype(np.float64)
    wi = np.asarray(w.sum(axis=1)).ravel()
    same = (w @ x.T).T  # (n_t, m)
    lag = same.copy()
    lag[1:] += same[:-1]
    weight = np.repeat(wi[None, :], n_t, axis=0)
    weight[1:] *= 2.0
    mean = x.mean()
    std = x.std()
    spread = (total * weight - weight**2) / (total - 1) if total > 1 else np.zeros_like(weight)
    den = std * np.sqrt(np.maximum(spread, 0.0))
    num = lag - mean * weight
    ok = den > 1e-12 * max(float(np.abs(x).max()), 1.0)
    z = np.zeros_like(num)
    np.divide(num, den, out=z, where=ok)
    return z


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall test along axis 0 of a (n_times, n_series) array.

    Returns (S, z, two-sided p) per series, with the tie-corrected variance and the
    continuity correction of the module docstring.
    """
    y = np.asarray(series, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    n, m = y.shape
    s = np.zeros(m, dtype=np.float64)
    for i in range(n - 1):
        s += np.sign(y[i + 1:] - y[i]).sum(axis=0)
    var = np.full(m, n * (n - 1) * (2 * n + 5), dtype=np.float64)
    ys = np.sort(y, axis=0)
    tied = (ys[1:] == ys[:-1]).any(axis=0)
    for col in np.flatnonzero(tied):
        _, counts = np.unique(ys[:, col], return_counts=True)
        t = counts[counts > 1].astype(np.float64)
        var[col] -= (t * (t - 1) * (2 * t + 5)).sum()
    var /= 18.0
    z = np.zeros(m, dtype=np.float64)
    ok = var > 0
    z[ok] = (s[ok] - np.sign(s[ok])) / np.sqrt(var[ok])
    return s, z, two_sided_p(z)


def _final_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True at the end of each column of a (n, m) bool array."""
    n = flags.shape[0]
    rev = flags[::-1]
    return np.where(rev.all(axis=0), n, np.argmin(rev, axis=0)).astype(np.int64)


def _patterns(hot: np.ndarray, cold: np.ndarray, trend_up: np.ndarray, trend_down: np.ndarray,
              prefix: str = "") -> np.ndarray:
    """Pattern names (or "") for one side: ``hot`` are the spots, ``cold`` the opposite ones."""
    n, m = hot.shape
    h = hot.sum(axis=0)
    c = cold.sum(axis=0)
    last = hot[-1]
    most = h * 10 >= 9 * n
    run = _final_run(hot)
    out = np.full(m, "", dtype=object)
    rules = [
        (last & most & trend_up, "intensifying"),
        (last & most & trend_down, "diminishing"),
        (last & most, "persistent"),
        (last & (c > 0), "oscillating"),
        (last & (h == 1), "new"),
        (last & (run >= 2) & (run == h), "consecutive"),
        (last, "sporadic"),
        (~last & most, "historical"),
    ]
    for cond, name in reversed(rules):  # first rule wins: apply in reverse
        out[cond] = prefix + name
    return out


def emerging_hotspots(counts_by_quarter: np.ndarray, index: CellIndex, confidence: float = 0.90,
                      include_cold: bool = False, method: str = DEFAULT_METHOD) -> pd.DataFrame:
    """Emerging hot spot classes of each cell from counts per quarter.

    Args:
        counts_by_quarter: (n_quarters x n_cells) counts, oldest quarter first, n >= 4.
        index: the cell index the columns refer to.
        confidence: confidence level for the per-quarter hot/cold spots and the trend,
            in (0, 1); 0.90, 0.95 and 0.99 are the usual choices.
        include_cold: also classify cold-spot patterns (``cold_*`` classes).
        method: ``"space_time"`` (default, ArcGIS's space-time cube) or ``"per_quarter"``
            (see the module docstring).

    Returns one row per cell in index order: ``h3``, ``cls``, ``mk_z``, ``mk_p``,
    ``hot_quarters``, ``cold_quarters`` (counts), ``z_last`` (Gi* z of the final quarter),
    ``history`` (one character per quarter, oldest first: ``H`` hot, ``C`` cold, ``.``).
    """
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) or not (
        0.0 < float(confidence) < 1.0
    ):
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    x = np.asarray(counts_by_quarter)
    if x.ndim != 2:
        raise ValueError(f"counts_by_quarter must be 2-dimensional (quarters x cells), got shape {x.shape}")
    if x.shape[0] < MIN_QUARTERS:
        raise ValueError(f"emerging hot spots need at least {MIN_QUARTERS} quarters, got {x.shape[0]}")
    x = _check_counts(x, len(index.cells), "counts_by_quarter")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    alpha = 1.0 - float(confidence)
    if method == "per_quarter":
        z = gi_star_z(x, index.neighbours)  # (n, m)
        p_fdr = bh_adjust(two_sided_p(z))  # per quarter (last axis = cells)
    else:
        z = space_time_gi_z(x, index.neighbours)
        p_fdr = bh_adjust(two_sided_p(z).ravel()).reshape(z.shape)  # over the whole cube
    sig = p_fdr <= alpha
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    _, mk_z, mk_p = mann_kendall(z)
    trend = mk_p <= alpha
    up = trend & (mk_z > 0)
    down = trend & (mk_z < 0)
    cls = _patterns(hot, cold, up, down)
    if include_cold:
        cold_cls = _patterns(cold, hot, down, up, prefix="cold_")
        cls = np.where(cls == "", cold_cls, cls)
    cls = np.where(cls == "", "none", cls).astype(object)
    marks = np.where(hot, ord("H"), np.where(cold, ord("C"), ord("."))).astype(np.uint8)
    history = np.ascontiguousarray(marks.T).view(f"S{marks.shape[0]}").ravel().astype(str).astype(object)
    return pd.DataFrame({
        "h3": index.cells,
        "cls": cls,
        "mk_z": mk_z,
        "mk_p": mk_p,
        "hot_quarters": hot.sum(axis=0).astype(np.int64),
        "cold_quarters": cold.sum(axis=0).astype(np.int64),
        "z_last": z[-1],
        "history": history,
    })
