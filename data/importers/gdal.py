"""GIS formats read through GDAL (pyogrio): GeoPackage, KML/KMZ, GPX, FlatGeobuf, GML.

The hand-written readers in :mod:`data.importers.readers` stay for what they do better than
GDAL alone (odd ``.prj`` CRS, ``.dbf`` encoding detection, German CSV, Open311, GeoJSON with
row-precise geometry errors); this module adds the formats GIS departments and police tools
hand over in practice:

* **GeoPackage** (and any SQLite/SpatiaLite database GDAL opens): every layer is listed
  (:attr:`GdalTable.layers`), one is read (``layer``; default: the first with features,
  named in a note); the CRS comes from the file;
* **KML**: every placemark of every folder; GDAL exposes folders as layers, they are read
  together and the folder becomes the column ``folder`` (``layer`` reads one folder only);
  **KMZ** (zipped KML) is unpacked by :mod:`readers` within the zip limits and read here;
* **GPX**: waypoints, else track points, else route points (``layer`` chooses); track
  points carry their track's name as ``track_name`` (the device of a GPS log), the
  track and segment numbers and the time;
* **FlatGeobuf** and **GML** (also WFS ``GetFeature`` answers): one layer, CRS from the file.

Nothing here touches the disk or the network: the bytes (already bounded by the upload
limit) go to GDAL's in-memory file system through pyogrio. Every GDAL failure becomes an
:class:`~data.importers.errors.ImportError_` with the file name and GDAL's message; no
GDAL error surfaces as a traceback. Geometries are returned in the file's CRS; the caller
reprojects (:func:`data.importers.readers._finish_geometries`).

This module imports nothing from :mod:`data.importers.readers` (readers dispatches here; the
import-linter forbids cycles among the importers' modules).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from data.importers import messages
from data.importers.errors import ImportError_, UsageError_

#: Format keys (RawTable.format) of the GDAL readers.
GDAL_FORMATS = ("gpkg", "kml", "gpx", "flatgeobuf", "gml")
#: Member suffixes of a zip that are read through GDAL (a KMZ holds a .kml).
ZIP_SUFFIXES = {".kml": "kml", ".gpkg": "gpkg", ".fgb": "flatgeobuf", ".gml": "gml", ".gpx": "gpx"}
#: GPX layers tried in this order when no layer is given.
GPX_DEFAULT_LAYERS = ("waypoints", "track_points", "route_points")
FOLDER_COLUMN = "folder"
TRACK_NAME_COLUMN = "track_name"
#: At most this many features are read from one file (a hostile GeoPackage can declare
#: millions of tiny rows well within the byte limit).
MAX_FEATURES = 5_000_000

_MESSAGES: dict[str, tuple[str, str]] = {
    "gdal_bad": (
        "Die Datei {file} ({format}) konnte nicht gelesen werden: {detail}",
        "The file {file} ({format}) could not be read: {detail}"),
    "gdal_no_layer": (
        "Die Datei {file} ({format}) enthält keine Ebene mit Daten.",
        "The file {file} ({format}) holds no layer with data."),
    "layer_unknown": (
        "Die Ebene „{layer}“ gibt es in {file} nicht. Vorhanden: {layers}",
        "The layer \"{layer}\" does not exist in {file}. Available: {layers}"),
    "gdal_too_many": (
        "Die Ebene {layer} in {file} hat {count} Objekte (Grenze {limit}).",
        "The layer {layer} in {file} has {count} features (limit {limit})."),
    "note_layer_chosen": (
        "Ebene {layer} gelesen ({count} Objekte); die Datei hat {n} Ebenen: {layers}.",
        "Layer {layer} read ({count} features); the file has {n} layers: {layers}."),
    "note_kml_folders": (
        "{count} Platzmarken aus {n} Ordnern gelesen; der Ordner steht in der Spalte „folder“.",
        "{count} placemarks read from {n} folders; the folder is in the column \"folder\"."),
    "zip_many_gis": (
        "Das ZIP-Archiv {file} enthält mehrere GIS-Dateien ({members}): bitte eine je Import.",
        "The zip archive {file} holds several GIS files ({members}): please one per import."),
    "note_gdal": ("Gelesen mit GDAL {version} ({driver}).", "Read with GDAL {version} ({driver})."),
}
for _key, _texts in _MESSAGES.items():
    messages.MESSAGES.setdefault(_key, _texts)

_FORMAT_LABELS = {"gpkg": "GeoPackage", "kml": "KML", "gpx": "GPX", "flatgeobuf": "FlatGeobuf",
                  "gml": "GML"}
_GML_NS = re.compile(rb"http://www\.opengis\.net/gml|<gml:", re.I)


@dataclass
class GdalTable:
    """One layer (or all KML folders) of a GDAL-readable file, geometries in the file's CRS."""

    frame: pd.DataFrame
    geometry: np.ndarray | None  # None: a table without geometry (e.g. a GeoPackage attribute table)
    crs: pyproj.CRS | None
    format: str
    layers: list[str]
    layer: str | None
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    row_errors: list[tuple[int, str | None, object, str, dict[str, Any]]] = field(default_factory=list)


def label(fmt: str) -> str:
    return _FORMAT_LABELS.get(fmt, fmt)


def sniff(data: bytes) -> str | None:
    """The GDAL format of ``data`` by content (magic bytes, XML root), or None."""
    head = data[:16]
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"fgb\x03"):
        return "flatgeobuf"
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return None
    lowered = text.lower()
    body = re.sub(rb"<\?xml[^>]*\?>|<!--.*?-->|<!doctype[^>]*>", b"", lowered, flags=re.S).lstrip()
    if body.startswith(b"<kml") or b"<kml " in lowered[:600] or b"<kml>" in lowered[:600]:
        return "kml"
    if body.startswith(b"<gpx"):
        return "gpx"
    if _GML_NS.search(text):
        return "gml"
    return None


#: GDAL settings for untrusted files: nothing is fetched from the network (a GML's
#: ``xsi:schemaLocation``, xlinks, a KML NetworkLink, a remote style) and every HTTP request
#: GDAL might still try goes to a dead local proxy.
GDAL_SAFE_OPTIONS = {
    "GML_DOWNLOAD_SCHEMA": "NO",
    "GML_SKIP_RESOLVE_ELEMS": "ALL",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "2",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".none",
    "LIBKML_RESOLVE_STYLE": "NO",
}
_configured = False


def _configure() -> None:
    global _configured
    if not _configured:
        import pyogrio

        pyogrio.set_gdal_config_options(GDAL_SAFE_OPTIONS)
        _configured = True


def _gdal_call(fmt: str, name: str, fn, *args: Any, **kwargs: Any) -> Any:
    """Run a pyogrio call; any GDAL failure becomes the normal whole-file report."""
    _configure()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "GPKG application_id, but non conformant file extension"
            return fn(*args, **kwargs)
    except ImportError_:
        raise
    except MemoryError:
        raise ImportError_("gdal_bad", file=name, format=label(fmt), detail="out of memory") from None
    except Exception as exc:  # pyogrio.errors.*, RuntimeError from GDAL, ValueError, ...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        detail = re.sub(r"(/vsimem/)?pyogrio_[0-9a-f]{32}\S*", name, detail)[:300]
        raise ImportError_("gdal_bad", file=name, format=label(fmt), detail=detail) from None


def list_layers(data: bytes, name: str, fmt: str) -> list[tuple[str, str]]:
    """(layer name, geometry type) of every layer of the file."""
    import pyogrio
    import pyogrio.raw

    found = _gdal_call(fmt, name, pyogrio.list_layers, data)
    return [(str(r[0]), str(r[1])) for r in found]


def _read_layer(data: bytes, name: str, fmt: str, layer: str) -> tuple[pd.DataFrame, np.ndarray,
                                                                      pyproj.CRS | None]:
    import pyogrio
    import pyogrio.raw

    info = _gdal_call(fmt, name, pyogrio.read_info, data, layer=layer)
    count = int(info.get("features") or 0)  # -1 when the driver cannot tell cheaply (GPX, KML)
    if count > MAX_FEATURES:
        raise ImportError_("gdal_too_many", file=name, layer=layer, count=count, limit=MAX_FEATURES)
    result = _gdal_call(fmt, name, pyogrio.raw.read, data, layer=layer, datetime_as_string=True,
                        max_features=MAX_FEATURES + 1)
    meta, _fids, geoms, field_data = result
    columns = [str(c) for c in meta["fields"]]
    if len(field_data) and len(field_data[0]) > MAX_FEATURES:
        raise ImportError_("gdal_too_many", file=name, layer=layer, count=len(field_data[0]),
                           limit=MAX_FEATURES)
    n = len(geoms) if geoms is not None else (len(field_data[0]) if field_data else 0)
    frame = pd.DataFrame({c: pd.Series(np.asarray(v, dtype=object), dtype=object)
                          for c, v in zip(columns, field_data, strict=True)}, index=pd.RangeIndex(n))
    if geoms is None:
        geometry = None
    else:
        geometry = _gdal_call(fmt, name, shapely.from_wkb, geoms, on_invalid="ignore")
        geometry = np.asarray(geometry, dtype=object)
    crs = None
    if meta.get("crs"):
        try:
            crs = pyproj.CRS.from_user_input(meta["crs"])
        except pyproj.exceptions.CRSError as exc:
            raise ImportError_("gdal_bad", file=name, format=label(fmt),
                               detail=f"unknown CRS {meta['crs']!r}: {exc}") from None
    return frame, geometry, crs


#: Columns GDAL adds that carry no information of the file's own (LIBKML display flags,
#: the GML envelope of each feature).
_NOISE = {"kml": ("tessellate", "extrude", "visibility", "drawOrder", "icon", "altitudeMode"),
          "gml": ("lowerCorner", "upperCorner")}


def _clean(frame: pd.DataFrame, fmt: str = "") -> pd.DataFrame:
    """Drop columns without any value (GPX has ~20 optional ones) and GDAL's display flags;
    turn NaN into None."""
    keep = []
    for c in frame.columns:
        if c in _NOISE.get(fmt, ()):
            continue
        s = frame[c]
        text = s.astype("string").str.strip()
        if (s.notna() & (text != "").fillna(False)).any():
            keep.append(c)
    out = frame[keep].astype(object)
    return out.where(out.notna(), None)


def read(data: bytes, name: str, fmt: str, layer: str | None = None) -> GdalTable:
    """Read one GDAL-readable file (see the module docstring); raises ImportError_."""
    import pyogrio
    import pyogrio.raw

    if fmt not in GDAL_FORMATS:
        raise ValueError(f"format must be one of {GDAL_FORMATS}, got {fmt!r}")
    layers = list_layers(data, name, fmt)
    names = [n for n, _ in layers]
    if not names:
        raise ImportError_("gdal_no_layer", file=name, format=label(fmt))
    if layer is not None and layer not in names:
        raise UsageError_("layer_unknown", layer=layer, file=name, layers=", ".join(names))
    notes: list[tuple[str, dict[str, Any]]] = [
        ("note_gdal", {"version": pyogrio.__gdal_version_string__, "driver": label(fmt)})]
    if fmt == "kml" and layer is None and len(names) > 1:
        frames, geoms, crs = [], [], None
        for n in names:
            f, g, c = _read_layer(data, name, fmt, n)
            f[FOLDER_COLUMN] = n
            frames.append(f)
            geoms.append(g)
            crs = crs or c
        frame = pd.concat(frames, ignore_index=True)
        geometry = np.concatenate([g if g is not None else np.full(len(f), None, dtype=object)
                                   for f, g in zip(frames, geoms, strict=True)])
        notes.append(("note_kml_folders", {"count": len(frame), "n": len(names)}))
        chosen = None
    else:
        chosen = layer
        if chosen is None:
            order = [n for n in GPX_DEFAULT_LAYERS if n in names] if fmt == "gpx" else names
            counts = {n: int(_gdal_call(fmt, name, pyogrio.read_info, data, layer=n,
                                        force_feature_count=True).get("features") or 0)
                      for n in order}
            chosen = next((n for n in order if counts[n] != 0), order[0] if order else names[0])
            if len(names) > 1 and fmt != "kml":
                notes.append(("note_layer_chosen", {"layer": chosen, "count": counts.get(chosen, 0),
                                                    "n": len(names), "layers": ", ".join(names)}))
        frame, geometry, crs = _read_layer(data, name, fmt, chosen)
        if fmt == "kml":
            frame[FOLDER_COLUMN] = chosen
        if fmt == "gpx" and chosen == "track_points" and "tracks" in names and "track_fid" in frame:
            tracks, _, _ = _read_layer(data, name, fmt, "tracks")
            if "name" in tracks.columns:
                names_by_fid = dict(enumerate(tracks["name"].tolist()))
                frame[TRACK_NAME_COLUMN] = frame["track_fid"].map(
                    lambda v: names_by_fid.get(int(v)) if v is not None and v == v else None)
    frame = _clean(frame, fmt)
    row_errors = []
    if geometry is None:
        return GdalTable(frame=frame, geometry=None, crs=crs, format=fmt, layers=names, layer=chosen,
                         notes=notes, row_errors=row_errors)
    present = np.array([g is not None and not shapely.is_empty(g) for g in geometry], dtype=bool)
    for i in np.flatnonzero(~present):
        row_errors.append((int(i) + 1, "geometry", None, "r_no_geometry", {}))
    if present.any():
        geometry = geometry.copy()
        geometry[present] = shapely.force_2d(np.asarray(geometry[present], dtype=object))
    return GdalTable(frame=frame, geometry=geometry, crs=crs, format=fmt, layers=names, layer=chosen,
                     notes=notes, row_errors=row_errors)
