"""The presence gap: hot spots that patrols do not reach (design.md section 4).

A cell is in the gap when

1. it is a Gi* hot spot at >= 95 % confidence (class ``hot95`` or ``hot99`` of
   :func:`geo.hotspots.gi_star`), and
2. its presence (patrol minutes, :func:`geo.dosage.presence_minutes`) lies in the lowest
   third of the hot spot cells (>= 95 %) of the same district: presence <= the 1/3 quantile
   (linear interpolation, ``numpy.quantile``) of their presence values. Ties count in, so
   with one hot spot cell in a district that cell is in its own lowest third, and all cells
   without any presence are in whenever a third of the district's hot spot cells have none.

The list is ranked by complaints (descending), then presence (ascending), then H3 id.
Cells without a district (cannot happen for cells of the study area) are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import CellIndex

GAP_CLASSES = ("hot99", "hot95")
GAP_COLUMNS = ["rank", "district_id", "h3", "cell", "cls", "complaints", "presence_minutes",
               "main_categories", "lat", "lon"]


def main_categories(complaint_categories: pd.DataFrame | None, n_cells: int, top: int = 3,
                    cells: np.ndarray | None = None) -> np.ndarray:
    """Per cell, the ``top`` category codes by count (ties by code), comma-separated.

    ``complaint_categories`` is the long form (``cell``, ``category``, ``count``) of
    :func:`geo.dosage.complaint_category_counts`; ``None`` gives empty strings. With
    ``cells`` only those cells are filled (the others stay empty), which is faster.
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    out = np.full(n_cells, "", dtype=object)
    if complaint_categories is None or len(complaint_categories) == 0:
        return out
    for col in ("cell", "category", "count"):
        if col not in complaint_categories.columns:
            raise ValueError(f"complaint_categories needs a column {col!r}")
    cell = complaint_categories["cell"].to_numpy().astype(np.int64)
    count = complaint_categories["count"].to_numpy().astype(np.float64)
    keep = (cell >= 0) & (cell < n_cells) & (count > 0)
    keep &= complaint_categories["category"].notna().to_numpy()  # no category: not counted
    if cells is not None:
        wanted = np.zeros(n_cells, dtype=bool)
        wanted[np.asarray(cells, dtype=np.int64)] = True
        keep &= wanted[np.clip(cell, 0, max(n_cells - 1, 0))]
    if not keep.any():
        return out
    names, codes = _category_codes(complaint_categories["category"], keep)
    n_names = max(len(names), 1)
    # sum by (cell, category); then per cell: count descending, ties by category (names are
    # sorted, so code order is their order), the first ``top``
    keys, inverse = np.unique(cell[keep] * n_names + codes, return_inverse=True)
    sums = np.bincount(inverse, weights=count[keep], minlength=len(keys))
    g_cell, g_code = keys // n_names, keys % n_names
    order = np.lexsort((g_code, -sums, g_cell))
    g_cell, g_code = g_cell[order], g_code[order]
    at = np.arange(len(g_cell))
    starts = np.maximum.accumulate(np.where(np.r_[True, g_cell[1:] != g_cell[:-1]], at, 0))
    first = (at - starts) < top
    joined: dict[int, list[str]] = {}
    for c, k in zip(g_cell[first].tolist(), g_code[first].tolist(), strict=True):
        joined.setdefault(c, []).append(names[k])
    for c, parts in joined.items():
        out[c] = ",".join(parts)
    return out


def _category_codes(column: pd.Series, keep: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The kept rows' categories as text: the distinct texts (sorted) and each row's position
    among them (a categorical column is converted per category, not per row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        labels = np.asarray([str(c) for c in column.cat.categories], dtype=object)
        raw = column.cat.codes.to_numpy().astype(np.int64)[keep]
    else:
        labels, raw = np.unique(column.astype(str).to_numpy()[keep].astype(object), return_inverse=True)
    names, remap = np.unique(labels, return_inverse=True)
    return names.tolist(), remap.reshape(-1)[raw.reshape(-1)]


def presence_gap(hotspots: pd.DataFrame, presence_minutes: np.ndarray, index: CellIndex,
                 complaint_categories: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ranked presence gap list.

    Args:
        hotspots: the frame of :func:`geo.hotspots.gi_star` for ``index`` (one row per cell,
            in index order; columns ``h3``, ``count``, ``cls``).
        presence_minutes: presence per cell (length ``len(index.cells)``), e.g.
            ``presence_minutes(cube, index, ...)["total"]``.
        index: the cell index.
        complaint_categories: long form (``cell``, ``category``, ``count``) of the same
            filtered complaints, for the main categories; optional.

    Returns columns ``rank`` (1..), ``district_id``, ``h3``, ``cell`` (code),
    ``cls``, ``complaints``, ``presence_minutes``, ``main_categories`` (top 3 category
    codes, comma-separated), ``lat``, ``lon`` (cell centre).
    """
    n = len(index.cells)
    for col in ("h3", "count", "cls"):
        if col not in hotspots.columns:
            raise ValueError(f"hotspots needs a column {col!r}")
    if len(hotspots) != n:
        raise ValueError(f"hotspots must have one row per cell ({n}), got {len(hotspots)}")
    if not np.array_equal(hotspots["h3"].to_numpy(dtype=object), index.cells):
        raise ValueError("hotspots rows must be the cells of the index, in index order")
    presence = np.asarray(presence_minutes, dtype=np.float64)
    if presence.shape != (n,):
        raise ValueError(f"presence_minutes must have one value per cell ({n}), got shape "
                         f"{presence.shape}")
    if not np.all(np.isfinite(presence)) or (presence < 0).any():
        raise ValueError("presence_minutes must be finite and not negative")
    cls = hotspots["cls"].to_numpy(dtype=object)
    district = np.asarray(index.district, dtype=object)
    hot = np.isin(cls, GAP_CLASSES) & pd.notna(district)
    codes = np.flatnonzero(hot)
    cells = codes[:0]
    if codes.size:  # per district: presence at or below its 1/3 quantile (linear)
        names, which = np.unique(district[codes].astype(str), return_inverse=True)
        pres = presence[codes]
        limit = np.array([np.quantile(pres[which == i], 1 / 3) for i in range(len(names))])
        cells = codes[pres <= limit[which] + 1e-9]
    cells = cells.astype(np.int64)
    complaints = hotspots["count"].to_numpy()[cells]
    h3_ids = index.cells[cells]
    # ranked: complaints descending (missing last), presence ascending, H3 id ascending
    h3_rank = np.unique(h3_ids.astype(str), return_inverse=True)[1].reshape(-1)
    neg = -np.asarray(complaints, dtype=np.float64)
    order = np.lexsort((h3_rank, presence[cells], neg))
    cells, complaints, h3_ids = cells[order], complaints[order], h3_ids[order]
    out = pd.DataFrame({
        "rank": np.arange(1, len(cells) + 1, dtype=np.int64),
        "district_id": district[cells],
        "h3": h3_ids,
        "cell": cells.astype(np.int32),
        "cls": cls[cells],
        "complaints": complaints,
        "presence_minutes": presence[cells],
        "main_categories": main_categories(complaint_categories, n, cells=cells)[cells],
        "lat": index.lat[cells],
        "lon": index.lon[cells],
    })
    return out[GAP_COLUMNS]
