"""Coordinate reference systems: reading them from files, guessing them, reprojecting.

Everything inside Lagebild is WGS84 lon/lat. Transformers are built with
``always_xy=True``, so x is the easting/longitude and y the northing/latitude whatever
axis order an authority defines (GeoJSON and Shapefiles store x first).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pyproj
import shapely

WGS84 = pyproj.CRS.from_epsg(4326)
CRS84 = pyproj.CRS.from_user_input("OGC:CRS84")

_EPSG_URN = re.compile(r"EPSG[:/](?:[\d.]*[:/])*:?(\d+)\s*$", re.IGNORECASE)


def parse_crs(text: str | int) -> pyproj.CRS:
    """A CRS from user input: ``EPSG:25832``, ``25832``, URNs, OGC URLs, WKT, PROJ strings.

    Raises ``ValueError`` (with the input) when pyproj cannot make sense of it.
    """
    raw = str(text).strip()
    if not raw:
        raise ValueError("empty CRS")
    if raw.isdigit():
        raw = f"EPSG:{raw}"
    if "crs84" in raw.lower():
        return CRS84
    m = _EPSG_URN.search(raw)
    candidates = [f"EPSG:{m.group(1)}"] if m else []
    candidates.append(raw)
    last: Exception | None = None
    for cand in candidates:
        try:
            return pyproj.CRS.from_user_input(cand)
        except pyproj.exceptions.CRSError as exc:
            last = exc
    raise ValueError(f"unknown coordinate reference system {text!r}: {last}")


def geojson_crs(member: object) -> pyproj.CRS | None:
    """The CRS of a GeoJSON ``crs`` member (2008 spec: ``name`` or ``EPSG`` type); None if absent."""
    if member is None:
        return None
    if not isinstance(member, dict):
        raise ValueError(f"crs member must be an object, got {member!r}")
    props = member.get("properties") or {}
    kind = str(member.get("type", "")).lower()
    if kind == "name":
        return parse_crs(str(props.get("name", "")))
    if kind == "epsg":
        return parse_crs(f"EPSG:{props.get('code')}")
    if kind == "link":
        raise ValueError(f"linked crs members are not supported: {props.get('href')!r}")
    raise ValueError(f"crs member of unknown type {member.get('type')!r}")


def describe(crs: pyproj.CRS) -> str:
    """``EPSG:25832`` / ``OGC:CRS84`` when the CRS equals an authority code, else name + PROJ.

    A .prj named "UTM zone 32N" with a false easting of 2,500,000 is *not* EPSG:25832:
    the match must be exact (confidence 100 %), so such a CRS is described by its
    parameters.
    """
    auth = crs.to_authority(min_confidence=100)
    if auth:
        return f"{auth[0]}:{auth[1]}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj = crs.to_proj4()
    return f"{crs.name} [{proj}]" if proj else crs.name


def is_wgs84(crs: pyproj.CRS) -> bool:
    if crs.is_geographic and crs.datum is not None and crs.datum.name in (
            "World Geodetic System 1984", "World Geodetic System 1984 ensemble"):
        return True
    return crs.equals(WGS84, ignore_axis_order=True) or crs.equals(CRS84, ignore_axis_order=True)


def transformer(crs: pyproj.CRS) -> pyproj.Transformer | None:
    """x/y (easting/northing or lon/lat) to WGS84 lon/lat; None when no change is needed."""
    if is_wgs84(crs):
        return None
    return pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)


def to_wgs84_xy(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Reproject coordinate arrays; returns (lon, lat). Non-finite input stays NaN."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    tr = transformer(crs)
    if tr is None:
        return x.copy(), y.copy()
    with np.errstate(invalid="ignore"):
        lon, lat = tr.transform(x, y, errcheck=False)
    lon = np.where(np.isfinite(lon), lon, np.nan)
    lat = np.where(np.isfinite(lat), lat, np.nan)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def geometries_to_wgs84(geoms: Sequence[shapely.Geometry | None], crs: pyproj.CRS) -> np.ndarray:
    """Reproject an array of geometries (None stays None)."""
    arr = np.asarray(list(geoms), dtype=object)
    tr = transformer(crs)
    if tr is None or arr.size == 0:
        return arr
    mask = np.array([g is not None for g in arr], dtype=bool)
    if mask.any():

        def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return tr.transform(x, y, errcheck=False)

        arr[mask] = shapely.transform(arr[mask], fn, interleaved=False)
    return arr


def looks_like_degrees(x: np.ndarray, y: np.ndarray) -> bool:
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
    if not ok.any():
        return True
    return bool(np.all(np.abs(x[ok]) <= 180) and np.all(np.abs(y[ok]) <= 90))


def guess_projected(x: np.ndarray, y: np.ndarray) -> pyproj.CRS | None:
    """A German projected CRS that fits the medians of x (easting) and y (northing), or None.

    * 6-digit eastings (100 000-900 000 m), northings 5.2-6.2 million: ETRS89 / UTM 32N
      (EPSG:25832, the usual German GIS export; eastern Länder may use 25833);
    * 8-digit eastings with a zone prefix 32/33: EPSG:4647 / EPSG:5650 (zE-N);
    * 7-digit eastings 2.5-5.5 million: Gauss-Krüger zone 2..5 (EPSG:31466..31469).
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y) & (x != 0) & (y != 0)
    if not ok.any():
        return None
    mx, my = float(np.median(x[ok])), float(np.median(y[ok]))
    if not 5_100_000 <= my <= 6_200_000:
        return None
    if 100_000 <= mx <= 900_000:
        return pyproj.CRS.from_epsg(25832)
    if 32_100_000 <= mx <= 32_900_000:
        return pyproj.CRS.from_epsg(4647)
    if 33_100_000 <= mx <= 33_900_000:
        return pyproj.CRS.from_epsg(5650)
    if 2_100_000 <= mx <= 5_900_000:
        zone = int(mx // 1_000_000)
        return pyproj.CRS.from_epsg(31464 + zone)
    return None
