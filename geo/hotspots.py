"""Getis-Ord Gi* hot spots on cell counts (design.md section 4).

For ``n`` cells with counts ``x`` and binary weights ``w_ij`` (1 when ``j`` is ``i`` itself or
one of its ring-1 neighbours in the study area, else 0; see :class:`geo.cells.CellIndex`)::

    W_i   = sum_j w_ij                       (the cell and its neighbours: 7 inside, fewer at
                                              the edge of the study area)
    x_bar = sum_j x_j / n
    S     = sqrt(sum_j x_j^2 / n - x_bar^2)  (population standard deviation, all n cells)

    Gi*_i = (sum_j w_ij x_j - x_bar W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))

This is the z-score of Getis & Ord (1992), Ord & Getis (1995) for binary weights
(``sum_j w_ij^2 = W_i``); it equals ``esda.G_Local(x, w, transform="B", star=True).Zs`` on the
same weights (esda's ``(G - E[G]) / sqrt(V[G])`` with ``G = sum_j w_ij x_j / sum_j x_j``, the
self-weight 1 included). ``p`` is the two-sided normal p-value ``2 (1 - Phi(|z|))`` =
``2 * esda.p_norm``. ``p_fdr`` are Benjamini-Hochberg adjusted p-values over all ``n`` cells;
the class is decided on ``p_fdr``: ``hot99`` when ``z > 0`` and ``p_fdr <= 0.01``, ``hot95``
when ``<= 0.05``, ``hot90`` when ``<= 0.10``; ``cold..`` likewise for ``z < 0``; else
``none``.

Degenerate input (no cells, one cell, all counts equal, a cell whose neighbourhood is the
whole study area) has no variance to test against: z = 0, p = 1, class ``none``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr

from geo.cells import CellIndex

DEFAULT_ALPHAS = (0.10, 0.05, 0.01)
HOTSPOT_CLASSES = ("hot99", "hot95", "hot90", "cold99", "cold95", "cold90", "none")
GI_COLUMNS = ["h3", "count", "z", "p", "p_fdr", "cls"]


def _check_alphas(alpha_levels: Sequence[float]) -> list[float]:
    try:
        alphas = [float(a) for a in alpha_levels]
    except (TypeError, ValueError):
        raise ValueError(f"alpha_levels must be numbers in (0, 1), got {alpha_levels!r}") from None
    if not alphas:
        raise ValueError(f"alpha_levels must hold at least one level, got {alpha_levels!r}")
    for a in alphas:
        if not 0.0 < a < 1.0:
            raise ValueError(f"alpha levels must lie in (0, 1), got {a!r}")
    return sorted(set(alphas))


def _check_counts(counts: np.ndarray, n_cells: int, name: str = "counts") -> np.ndarray:
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim == 1:
        if x.shape[0] != n_cells:
            raise ValueError(f"{name} must have one value per cell ({n_cells}), got {x.shape[0]}")
    elif x.ndim == 2:
        if x.shape[1] != n_cells:
            raise ValueError(f"{name} must have {n_cells} columns (one per cell), got {x.shape[1]}")
    else:
        raise ValueError(f"{name} must be 1- or 2-dimensional, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x.ravel()))
    if bad.size:
        raise ValueError(f"{name} must be finite, got {float(x.ravel()[bad[0]])!r} at flat "
                         f"position {int(bad[0])}")
    bad = np.flatnonzero(x.ravel() < 0)
    if bad.size:
        raise ValueError(f"{name} must not be negative, got {float(x.ravel()[bad[0]])!r} at flat "
                         f"position {int(bad[0])}")
    return x


def gi_star_z(counts: np.ndarray, neighbours: sp.csr_matrix) -> np.ndarray:
    """Gi* z-scores for one count vector (n,) or a stack of them (k, n), row by row.

    ``neighbours`` is the binary (n x n) weight matrix with ones on the diagonal.
    """
    x = np.asarray(counts, dtype=np.float64)
    single = x.ndim == 1
    x2 = np.atleast_2d(x)
    n = x2.shape[1]
    if n == 0:
        return np.zeros(x.shape)
    w = neighbours.astype(np.float64)
    wi = np.asarray(w.sum(axis=1)).ravel()
    lag = (w @ x2.T).T  # (k, n)
    mean = x2.mean(axis=1, keepdims=True)
    std = x2.std(axis=1, keepdims=True)  # population standard deviation, two-pass
    spread = (n * wi - wi**2) / (n - 1) if n > 1 else np.zeros(n)
    den = std * np.sqrt(np.maximum(spread, 0.0))[None, :]
    num = lag - mean * wi[None, :]
    scale = np.maximum(np.abs(x2).max(axis=1, keepdims=True), 1.0)
    ok = den > 1e-12 * scale
    z = np.zeros_like(num)
    np.divide(num, den, out=z, where=ok)
    return z[0] if single else z


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-values 2 (1 - Phi(|z|))."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=np.float64)))


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (along the last axis)."""
    p = np.asarray(p, dtype=np.float64)
    if p.shape[-1] == 0:
        return p.copy()
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


def classify(z: np.ndarray, p_fdr: np.ndarray, alpha_levels: Sequence[float] = DEFAULT_ALPHAS
             ) -> np.ndarray:
    """Class labels (``hot99`` .. ``cold90``, ``none``) from z and adjusted p-values."""
    alphas = _check_alphas(alpha_levels)
    z = np.asarray(z, dtype=np.float64)
    p_fdr = np.asarray(p_fdr, dtype=np.float64)
    out = np.full(z.shape, "none", dtype=object)
    for a in sorted(alphas, reverse=True):  # strictest last, so it wins
        conf = round((1.0 - a) * 100)
        sig = p_fdr <= a
        out[sig & (z > 0)] = f"hot{conf}"
        out[sig & (z < 0)] = f"cold{conf}"
    return out


def gi_star(counts: np.ndarray, index: CellIndex,
            alpha_levels: Sequence[float] = DEFAULT_ALPHAS) -> pd.DataFrame:
    """Gi* hot spots of ``counts`` (one value per cell of ``index``).

    Returns one row per cell, in the order of ``index.cells``, with columns ``h3``,
    ``count``, ``z``, ``p`` (two-sided), ``p_fdr`` (Benjamini-Hochberg) and ``cls``.
    """
    alphas = _check_alphas(alpha_levels)
    x = _check_counts(counts, len(index.cells))
    if x.ndim != 1:
        raise ValueError(f"counts must be 1-dimensional, got shape {x.shape}")
    z = gi_star_z(x, index.neighbours)
    p = two_sided_p(z)
    p_fdr = bh_adjust(p)
    integral = bool(np.all(x == np.rint(x)))
    return pd.DataFrame({
        "h3": index.cells,
        "count": x.astype(np.int64) if integral else x,
        "z": z,
        "p": p,
        "p_fdr": p_fdr,
        "cls": classify(z, p_fdr, alphas),
    })
