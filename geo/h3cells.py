"""H3 cells of many points at once, exactly, for the database store's bulk load.

``data.dbstore`` stores the H3 cell of every point at resolutions 8, 9 and 10. Per point,
``h3.latlng_to_cell`` costs about a microsecond; for the 100 million pings of a region that
is minutes of one core per resolution. :func:`point_cells` builds the study area's cell
indexes once (geo.cells, the lattice map that ``cell_codes`` uses, equal to
``latlng_to_cell`` per point) and maps whole arrays; points outside the study area (no
cell of theirs has its centre in a district) fall back to ``latlng_to_cell`` one by one.
Handed to :class:`data.dbstore.DbStore` from above (``cells=``), like the preparer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from geo.cells import build_cell_index, cell_codes

CellCoder = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def point_cells(districts: pd.DataFrame, resolutions: tuple[int, ...] = (8, 9, 10)) -> CellCoder:
    """A function (lat, lon, resolution) -> H3 ids (int64) for the points of ``districts``'
    region; any other point is computed per point. Empty districts: per point only."""
    from h3 import latlng_to_cell, str_to_int

    indexes = {r: build_cell_index(districts, r) for r in resolutions} if len(districts) else {}
    ids = {r: np.array([str_to_int(c) for c in index.cells], dtype=np.int64)
           for r, index in indexes.items()}

    def code(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        out = np.zeros(len(lat), dtype=np.int64)
        if resolution in indexes and len(ids[resolution]):
            codes = cell_codes(indexes[resolution], lat, lon)
            inside = codes >= 0
            out[inside] = ids[resolution][codes[inside]]
            missing = np.flatnonzero(~inside)
        else:
            missing = np.arange(len(lat))
        for i in missing:
            out[i] = str_to_int(latlng_to_cell(float(lat[i]), float(lon[i]), resolution))
        return out

    return code
