"""Emerging hot spot analysis over the last n >= 4 quarters (design.md section 4).

Method (after ArcGIS Pro, *How Emerging Hot Spot Analysis works*):

1. Gi* per quarter (:mod:`geo.hotspots`): z-scores, two-sided p-values and
   Benjamini-Hochberg adjustment over all cells of that quarter. A cell is a *hot spot in a
   quarter* when ``z > 0`` and ``p_fdr <= alpha``, a *cold spot* when ``z < 0`` and
   ``p_fdr <= alpha``, with ``alpha = 1 - confidence`` (default confidence 0.90).
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
EMERGING_CLASSES = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
                    "oscillating", "historical", "none")
COLD_CLASSES = tuple(f"cold_{c}" for c in EMERGING_CLASSES if c != "none")
EMERGING_COLUMNS = ["h3", "cls", "mk_z", "mk_p", "hot_quarters", "cold_quarters", "z_last",
                    "history"]


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
                      include_cold: bool = False) -> pd.DataFrame:
    """Emerging hot spot classes of each cell from counts per quarter.

    Args:
        counts_by_quarter: (n_quarters x n_cells) counts, oldest quarter first, n >= 4.
        index: the cell index the columns refer to.
        confidence: confidence level for the per-quarter hot/cold spots and the trend,
            in (0, 1); 0.90, 0.95 and 0.99 are the usual choices.
        include_cold: also classify cold-spot patterns (``cold_*`` classes).

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
    alpha = 1.0 - float(confidence)
    z = gi_star_z(x, index.neighbours)  # (n, m)
    p_fdr = bh_adjust(two_sided_p(z))  # per quarter (last axis = cells)
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
