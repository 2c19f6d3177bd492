"""Point-in-polygon and simple geometry helpers on WGS84 lon/lat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely import STRtree


def assign_polygons(
    lat: np.ndarray, lon: np.ndarray, polygons: Sequence[shapely.Geometry], ids: Sequence[object]
) -> np.ndarray:
    """The id of the polygon containing each point (object array, None outside all).

    Points on a shared boundary go to the first polygon that covers them, so a tiling
    assigns every point exactly once.
    """
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon must have the same shape, got {lat.shape} and {lon.shape}")
    out = np.full(lat.shape, None, dtype=object)
    if lat.size == 0 or len(polygons) == 0:
        return out
    valid = np.isfinite(lat) & np.isfinite(lon)
    ids_arr = np.asarray(list(ids), dtype=object)
    pending = valid.copy()
    for k, poly in enumerate(polygons):
        if poly is None or not pending.any():
            continue
        shapely.prepare(poly)
        idx = np.flatnonzero(pending)
        xmin, ymin, xmax, ymax = poly.bounds
        box = (lon[idx] >= xmin) & (lon[idx] <= xmax) & (lat[idx] >= ymin) & (lat[idx] <= ymax)
        idx = idx[box]
        if idx.size == 0:
            continue
        inside = shapely.intersects_xy(poly, lon[idx], lat[idx])
        hit = idx[inside]
        out[hit] = ids_arr[k]
        pending[hit] = False
    return out


def tree(polygons: Sequence[shapely.Geometry]) -> STRtree:
    return STRtree(list(polygons))
