"""Readers: turn an uploaded file into a :class:`RawTable` of original values.

Formats are recognised by content (magic bytes, JSON structure), not by the file name:

* GeoJSON: FeatureCollection, a lone Feature, a bare Geometry or GeometryCollection
  (each member one record); a ``crs`` member (CRS84, EPSG codes, URNs); 3D/4D positions
  are cut to 2D;
* a zipped Shapefile (pyshp): CRS from the .prj WKT (all its parameters), .dbf encoding
  from the .cpg, else detected (UTF-8 if valid, else the dBase language driver, else cp1252);
* CSV: delimiter sniffed (; , tab |), encoding UTF-8 (with or without BOM), UTF-16 with BOM,
  else cp1252; all values stay text;
* XLSX (openpyxl): the first sheet holding data; cell values keep their Excel types;
* Open311 GeoReport v2 JSON (a list of requests, or an object holding one);
* a JSON list of flat records;
* through GDAL (:mod:`data.importers.gdal`): GeoPackage (a chosen layer), KML and KMZ
  (folders as a column), GPX, FlatGeobuf, GML.

Geometries are returned in WGS84 (2D). Row numbers are 1-based record numbers: row 1 is
the first record (the first line after the header, the first feature).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.geometry

from data.importers import crs as crs_mod
from data.importers import gdal
from data.importers.errors import (
    FORMAT_INSTEAD,
    ZIP_EXPANSION_FACTOR,
    ImportError_,
    excerpt,
    format_limit_bytes,
    format_limit_env,
    max_cells,
    max_columns,
    max_depth,
    max_line_bytes,
    max_upload_bytes,
)
from data.importers.messages import Msg

Note = tuple[str, dict[str, Any]]
RowError = tuple[int, str | None, object, str, dict[str, Any]]  # row, column, value, key, params

OPEN311_COLUMNS = {"service_request_id", "requested_datetime", "service_name", "service_code"}
OPEN311_CLOSED = "updated_datetime (closed)"
OPEN311_MAPPING = {
    "complaint_id": "service_request_id",
    "category": "service_name",
    "received_at": "requested_datetime",
    "lat": "lat",
    "lon": "long",
    "address": "address",
    "description": "description",
    "status": "status",
    "closed_at": OPEN311_CLOSED,
}


@dataclass
class RawTable:
    """The records of one file with their original values.

    ``frame`` has one row per record (index 0..n-1, object columns named as in the file);
    ``geometry`` (geo formats only) holds one WGS84 shapely geometry or None per record;
    ``row_errors`` are problems found while reading (reported, the rows rejected).
    """

    frame: pd.DataFrame
    format: str
    source_name: str
    geometry: np.ndarray | None = None
    source_crs: str | None = None
    notes: list[Note] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)
    default_mapping: dict[str, str] = field(default_factory=dict)
    decimal_hint: str = "."
    dayfirst_hint: bool = False
    layers: list[str] = field(default_factory=list)  # all layers of a multi-layer file (GeoPackage)
    layer: str | None = None  # the layer read

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def __len__(self) -> int:
        return len(self.frame)


def _mb(size: float) -> str:
    """Bytes as megabytes for messages: 3 significant digits, no trailing zeros."""
    value = size / 2**20
    text = f"{value:.1f}" if value >= 100 else f"{value:.3g}"
    return text[:-2] if text.endswith(".0") else text


# --- bounds checked before parsing (linear, chunked: memory independent of the file size) ----------

_CHUNK = 4 * 2**20


def first_long_line(data: bytes, limit: int) -> tuple[int, int, int] | None:
    """(line number, start offset, length so far) of the first line longer than ``limit`` bytes.

    Lines end at LF or CR (so CRLF and old Mac files both count as lines). ``None`` if every
    line fits. Linear in ``data`` with numpy over 4 MB chunks.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    start = 0
    for pos in range(0, len(arr), _CHUNK):
        chunk = arr[pos:pos + _CHUNK]
        ends = np.flatnonzero((chunk == 10) | (chunk == 13)) + pos
        if ends.size:
            starts = np.concatenate(([start], ends[:-1] + 1))
            over = np.flatnonzero(ends - starts > limit)
            if over.size:
                start = int(starts[over[0]])
                return _line_number(data, start), start, int(ends[over[0]] - start)
            start = int(ends[-1]) + 1
        end = pos + len(chunk)
        if end - start > limit:
            return _line_number(data, start), start, end - start
    return None


def _line_number(data: bytes, offset: int) -> int:
    head = data[:offset]
    breaks = head.count(b"\n")
    return (breaks if breaks else head.count(b"\r")) + 1


def _check_lines(data: bytes, name: str) -> None:
    limit = max_line_bytes()
    found = first_long_line(data, limit)
    if found is not None:
        line, start, length = found
        raise ImportError_("line_too_long", file=name, line=line, limit_kb=limit // 1024,
                           size_kb=f"{length // 1024:,}",
                           excerpt=excerpt(data[start:start + 200].decode("utf-8", "replace"), 60))


def json_depth_offset(data: bytes, limit: int) -> int | None:
    """The byte offset where JSON arrays/objects first nest deeper than ``limit`` (``None``: never).

    Brackets inside strings do not count (escaped backslashes and quotes are blanked first,
    keeping offsets). Linear, numpy over 4 MB chunks, before any parser recurses.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"  ").replace(b'\\"', b"  ")
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes, depth = 0, 0
    for pos in range(0, len(arr), _CHUNK):
        chunk = arr[pos:pos + _CHUNK]
        q = chunk == 34
        in_string = ((np.cumsum(q, dtype=np.int64) + quotes) & 1).astype(bool) & ~q
        quotes += int(q.sum())
        delta = ((chunk == 91) | (chunk == 123)).astype(np.int32) - ((chunk == 93) | (chunk == 125))
        delta[in_string] = 0
        levels = np.cumsum(delta, dtype=np.int64) + depth
        over = np.flatnonzero(levels > limit)
        if over.size:
            return pos + int(over[0])
        if len(levels):
            depth = int(levels[-1])
    return None


def _check_depth(data: bytes, name: str) -> None:
    limit = max_depth()
    offset = json_depth_offset(data, limit)
    if offset is not None:
        raise ImportError_("json_too_deep", file=name, limit=limit, offset=f"{offset:,}")


def _check_columns(count: int, cells: list[object], name: str) -> None:
    limit = max_columns()
    if count > limit:
        head = ", ".join(str(c) for c in cells[:8])
        raise ImportError_("too_many_columns", file=name, count=f"{count:,}", limit=f"{limit:,}",
                           excerpt=excerpt(head, 60))


# --- entry point -----------------------------------------------------------------------------

_FORMAT_NAMES = {"csv": "CSV", "json": "JSON/GeoJSON", "xlsx": "XLSX", "shapefile": "Shapefile (ZIP)",
                 "kmz": "KMZ"}


def check_format_size(fmt: str, size: int, name: str) -> None:
    """Refuse a file over the size limit of its format (formats read whole; see
    :data:`data.importers.errors.FORMAT_LIMITS_MB`) before it is parsed."""
    limit = format_limit_bytes(fmt)
    if limit is not None and size > limit:
        raise ImportError_("format_too_large", file=name, format=_FORMAT_NAMES.get(fmt) or gdal.label(fmt),
                           size_mb=_mb(size), limit_mb=_mb(limit), env=format_limit_env(fmt),
                           instead=Msg.of(FORMAT_INSTEAD[fmt]))


def source_bytes(source: str | Path | bytes | BinaryIO, name: str | None = None,
                 max_bytes: int | None = None) -> tuple[bytes, str]:
    """Read the raw bytes of a path, bytes or a file-like object (e.g. st.UploadedFile).

    Enforces the upload limit before reading a file from disk.
    """
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        if not path.is_file():
            raise ImportError_("file_missing", file=str(path))
        size = path.stat().st_size
        if size > limit:
            raise ImportError_("file_too_large", file=name, size_mb=_mb(size), limit_mb=_mb(limit))
        data = path.read_bytes()
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        name = name or getattr(source, "name", None)
        size = getattr(source, "size", None)
        if isinstance(size, int) and size > limit:
            raise ImportError_("file_too_large", file=name or "upload", size_mb=_mb(size),
                               limit_mb=_mb(limit))
        data = source.getvalue() if hasattr(source, "getvalue") else source.read()
    name = str(name or "upload")
    if len(data) > limit:
        raise ImportError_("file_too_large", file=name, size_mb=_mb(len(data)), limit_mb=_mb(limit))
    return data, name


def read_source(source: str | Path | bytes | BinaryIO, name: str | None = None, *,
                crs: pyproj.CRS | None = None, max_bytes: int | None = None,
                layer: str | None = None) -> RawTable:
    """Read any supported file into a :class:`RawTable`; raises :class:`ImportError_`.

    ``layer`` chooses the layer of a GeoPackage (KML folder, GPX layer); default: the first
    layer with features (all folders of a KML)."""
    data, name = source_bytes(source, name, max_bytes)
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    head = data[:8]
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ImportError_("file_empty", file=name)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _read_zip(data, name, crs, limit, layer)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ImportError_("xls_unsupported", file=name)
    if head.startswith(b"\x1f\x8b"):
        raise ImportError_("gzip_unsupported", file=name)
    if head.startswith(b"\x00\x00\x27\x0a"):
        raise ImportError_("bare_shp", file=name)
    fmt = gdal.sniff(data)
    if fmt is not None:
        check_format_size(fmt, len(data), name)
        return _read_gdal(data, name, fmt, crs, layer)
    first = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if first not in (b"{", b"[") and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _check_lines(data, name)  # before decoding: a 190 MB line is refused in a second
    text, encoding, how = _decode(data, name)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        check_format_size("json", len(data), name)
        _check_depth(data if encoding != "UTF-16" else text.encode("utf-8", "surrogatepass"), name)
        try:
            return _read_json(text, name, crs)
        except RecursionError:  # a guard behind the depth check (parsers recurse per level)
            raise ImportError_("json_too_deep", file=name, limit=max_depth(), offset="?") from None
    if encoding == "UTF-16":
        _check_lines(text.encode("utf-8", "surrogatepass"), name)
    check_format_size("csv", len(data), name)  # on disk, large CSV files are read in chunks
    table = _read_csv(text, name)
    table.notes.insert(0, ("note_encoding", {"encoding": encoding, "how": how}))
    return table


# --- text ------------------------------------------------------------------------------------

def _looks_binary(data: bytes) -> bool:
    sample = data[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > max(8, len(sample) // 50)


def _decode(data: bytes, name: str) -> tuple[str, str, Msg]:
    """Decode text: BOMs, then strict UTF-8, then cp1252 (German Excel), then latin-1."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), "UTF-16", Msg.of("how_bom")
        except UnicodeDecodeError:
            raise ImportError_("binary_garbage", file=name) from None
    if _looks_binary(data):
        raise ImportError_("binary_garbage", file=name)
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "UTF-8", Msg.of("how_bom")
        except UnicodeDecodeError:
            return data[3:].decode("utf-8", errors="replace"), "UTF-8", Msg.of("how_bom_replaced")
    try:
        return data.decode("utf-8"), "UTF-8", Msg.of("how_utf8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252", Msg.of("how_cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", Msg.of("how_latin1")


# --- CSV -------------------------------------------------------------------------------------

_DELIMITERS = (";", ",", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter whose field count is most consistent over the first lines (``,`` if none)."""
    sample = text[:65536]
    truncated = len(text) > len(sample)
    best, best_score = ",", 0.0
    for delim in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delim))
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        counts = [len(r) for r in rows[:60] if any(c.strip() for c in r)]
        if not counts:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = freq / len(counts) * 1000 + mode
        if counts[0] != mode:  # the header should have the usual width
            score -= 500
        if score > best_score:
            best, best_score = delim, score
    return best


def _unique_header(cells: list[object]) -> list[str]:
    """Header names: stripped, "Spalte N" for empty cells, " (2)" for repeated names."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(cells):
        base = str(cell).strip() if cell is not None and str(cell).strip() else f"Spalte {i + 1}"
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return names


def _blank_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """True where a cell is missing or an empty/whitespace string (vectorised per column)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        text = s.astype("string").str.strip()
        out[col] = (s.isna() | (text == "").fillna(True)).to_numpy()
    return pd.DataFrame(out, index=frame.index)


def blank_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values and empty strings become None (object columns)."""
    blank = _blank_cells(frame)
    out = frame.astype(object)
    for col in out.columns:
        mask = blank[col].to_numpy()
        if mask.any():
            out[col] = out[col].where(~mask, None)
    return out


def _long_row_errors(long_rows: dict, positions) -> list[RowError]:
    """Row errors for lines with more fields than the header, numbered by the record they
    became (``positions``: the grid position of each kept record, in order)."""
    row_errors: list[RowError] = []
    if long_rows:
        record_of = {int(pos): i + 1 for i, pos in enumerate(positions)}
        for pos, (found, expected, text) in sorted(long_rows.items()):
            if pos in record_of:
                row_errors.append((record_of[pos], None, text, "r_field_count",
                                   {"found": found, "expected": expected}))
    return row_errors


def _grid_table(grid: pd.DataFrame, name: str, fmt: str,
                long_rows: dict[int, tuple[int, int, str]] | None = None) -> RawTable:
    """A table from a grid of cells (rows as in the file, columns by position).

    The header is the first non-empty row; empty rows are skipped (and counted in a
    note); header cells that are empty get a name ("Spalte 3") if their column holds data.
    ``long_rows`` maps grid positions of CSV records with too many fields to
    (fields found, fields expected, original text): those records are reported.
    """
    grid = grid.reset_index(drop=True)
    grid.columns = range(grid.shape[1])
    blank = _blank_cells(grid)
    row_empty = blank.all(axis=1).to_numpy()
    nonempty = np.flatnonzero(~row_empty)
    if nonempty.size == 0:
        raise ImportError_("no_header", file=name)
    start = int(nonempty[0])
    header_cells = grid.iloc[start].tolist()
    body = grid.iloc[start + 1:]
    body_blank = blank.iloc[start + 1:]
    keep_rows = ~row_empty[start + 1:]
    keep_cols = [c for c in grid.columns
                 if not blank.iat[start, c] or not body_blank[c].to_numpy()[keep_rows].all()]
    header = _unique_header([header_cells[c] for c in keep_cols])
    data = body.loc[keep_rows, keep_cols]
    positions = data.index.to_numpy()
    data = data.reset_index(drop=True)
    data.columns = header
    frame = blank_to_none(data)
    row_errors = _long_row_errors(long_rows, positions)
    table = RawTable(frame=frame, format=fmt, source_name=name, row_errors=row_errors)
    skipped = int(row_empty[start + 1:].sum())
    if skipped:
        table.notes.append(("note_blank_rows", {"count": skipped}))
    return table


def _header_width(text: str, delim: str, name: str) -> None:
    """Refuse a header wider than the column limit before any per-column work (one C pass)."""
    start = len(text) - len(text.lstrip("\r\n \t"))
    end = min((i for i in (text.find("\n", start), text.find("\r", start)) if i >= 0), default=len(text))
    line = text[start:end]
    if line.count(delim) + 1 > max_columns():
        cells = next(csv.reader([line], delimiter=delim), [])
        _check_columns(len(cells), cells, name)


def _read_csv(text: str, name: str) -> RawTable:
    delim = sniff_delimiter(text)
    _header_width(text, delim, name)
    long_rows: dict[int, tuple[int, int, str]] = {}
    try:  # fast path: pandas' C parser; ragged rows fall back to the csv module
        grid = pd.read_csv(io.StringIO(text), sep=delim, header=None, dtype=str,
                           keep_default_na=False, na_filter=False, skip_blank_lines=False,
                           engine="c", quotechar='"')
    except pd.errors.EmptyDataError:
        raise ImportError_("no_header", file=name) from None
    except (pd.errors.ParserError, ValueError):
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        header_at = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), 0)
        width = len(rows[header_at]) if rows else 0
        while width and not rows[header_at][width - 1].strip():
            width -= 1
        fixed = []
        for i, r in enumerate(rows):
            if len(r) > width and i > header_at:
                if any(c.strip() for c in r[width:]):
                    long_rows[i] = (len(r), width, excerpt(delim.join(r[:width + 2]), 200))
                r = r[:width]
            fixed.append(r + [""] * (width - len(r)) if len(r) < width else r)
        grid = pd.DataFrame(fixed, dtype=object)
    table = _grid_table(grid, name, "csv", long_rows)
    table.notes.insert(0, ("note_delimiter", {"delimiter": delim}))
    if delim == ";":
        table.decimal_hint = ","
        table.dayfirst_hint = True
    return table


# --- XLSX ------------------------------------------------------------------------------------

def _xlsx_box(name: str, sheet: str, rows: int, cols: int) -> None:
    """Refuse a sheet box (declared or real) over the cell or column limit."""
    limit, limit_cols = max_cells(), max_columns()
    if cols > limit_cols or rows * cols > limit:
        raise ImportError_("xlsx_too_large", file=name, sheet=excerpt(sheet, 40), rows=f"{rows:,}",
                           cols=f"{cols:,}", cells=f"{rows * cols:,}", limit=f"{limit:,}",
                           limit_cols=f"{limit_cols:,}")


def _root_cause(exc: BaseException) -> str:
    """The innermost exception (openpyxl wraps defusedxml's) as a short text."""
    seen = 0
    while (exc.__cause__ or exc.__context__) is not None and seen < 10:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return excerpt(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 200)


def _sheet_rows(ws: Any, name: str) -> list[tuple]:
    """The rows of a read-only sheet, streamed: the declared box is checked first, then the
    real cells while they are read (openpyxl would pad every row to the declared width)."""
    declared_rows, declared_cols = ws.max_row or 0, ws.max_column or 0
    _xlsx_box(name, ws.title, declared_rows, declared_cols)
    ws.reset_dimensions()  # no padding to a declared width: each row as long as its cells
    rows: list[tuple] = []
    width = 0
    for row in ws.iter_rows(values_only=True):
        if len(row) > width:
            width = len(row)
            if width > max_columns():
                _check_columns(width, list(row), name)
        rows.append(row)
        if len(rows) * max(width, 1) > max_cells():
            _xlsx_box(name, ws.title, len(rows), max(width, 1))
    return [r + (None,) * (width - len(r)) if len(r) < width else r for r in rows]


def _read_xlsx(data: bytes, name: str) -> RawTable:
    import openpyxl  # parses through defusedxml when installed: no entities, no DTDs

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportError_("xlsx_bad", file=name, detail=_root_cause(exc)) from None
    try:
        sheets = wb.worksheets
        chosen, rows = None, []
        for ws in sheets:
            rows = _sheet_rows(ws, name)
            if any(any(v is not None and str(v).strip() for v in r) for r in rows):
                chosen = ws
                break
        if chosen is None:
            raise ImportError_("no_header", file=name)
        table = _grid_table(pd.DataFrame(rows, dtype=object), name, "xlsx")
        if len(sheets) > 1:
            table.notes.append(("note_sheet", {"sheet": chosen.title, "count": len(sheets)}))
        table.dayfirst_hint = True
        return table
    except ImportError_:
        raise
    except Exception as exc:  # XML errors, forbidden entities and DTDs surface while rows are read
        raise ImportError_("xlsx_bad", file=name, detail=_root_cause(exc)) from None
    finally:
        wb.close()


# --- zip: XLSX or Shapefile -------------------------------------------------------------------

def _read_zip(data: bytes, name: str, crs: pyproj.CRS | None, limit: int,
              layer: str | None = None) -> RawTable:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportError_("zip_bad", file=name, detail=str(exc)) from None
    names = [i.filename for i in infos]
    total = sum(i.file_size for i in infos)  # before any member is read: XLSX is a zip too
    if total > limit * ZIP_EXPANSION_FACTOR:
        raise ImportError_("zip_too_large", file=name, size_mb=_mb(total),
                           limit_mb=_mb(limit * ZIP_EXPANSION_FACTOR))
    if "xl/workbook.xml" in names or "[Content_Types].xml" in names:
        for info in infos:  # kept in memory whole by openpyxl (the sheets are streamed)
            if info.filename.startswith("xl/") and not info.filename.startswith("xl/worksheets/") \
                    and info.file_size > limit:
                raise ImportError_("zip_too_large", file=f"{name}: {info.filename}",
                                   size_mb=_mb(info.file_size), limit_mb=_mb(limit))
        check_format_size("xlsx", len(data), name)
        return _read_xlsx(data, name)
    members = [n for n in names if not n.startswith("__MACOSX/") and not n.endswith("/")]
    shps = [n for n in members if n.lower().endswith(".shp")]
    gis = [n for n in members if Path(n).suffix.lower() in gdal.ZIP_SUFFIXES]
    if not shps and gis:  # KMZ (doc.kml) or a zipped GeoPackage/FlatGeobuf/GML/GPX
        return _read_zipped_gdal(zf, gis, name, crs, limit, layer)
    if shps:
        check_format_size("shapefile", len(data), name)
    if not shps:
        listing = ", ".join(members[:20]) or "—"
        raise ImportError_("zip_no_shp", file=name, members=listing)
    if len(shps) > 1:
        raise ImportError_("zip_many_shp", file=name, members=", ".join(shps))
    with tempfile.TemporaryDirectory(prefix="lagebild-shp-") as tmp:
        unpacked = _Unpacked(zf, name, Path(tmp), limit * ZIP_EXPANSION_FACTOR)
        return _read_shapefile(unpacked, shps[0], members, name, crs)


SMALL_MEMBER = 2**20  # .prj and .cpg: a few hundred bytes in practice
HEADER_SLACK = 64 * 1024  # bytes a member may exceed the size its header declares


def _declared_size(ext: str, head: bytes, member: str, name: str) -> int:
    """The size a Shapefile member's own header declares (.shp/.shx: file length; .dbf: records)."""
    if ext in (".shp", ".shx"):
        code = int.from_bytes(head[0:4], "big") if len(head) >= 4 else -1
        if len(head) < 100 or code != 9994:
            raise ImportError_("shp_bad", file=name, member=member,
                               detail=f"no Shapefile header (file code {code}, expected 9994)")
        return int.from_bytes(head[24:28], "big") * 2
    if len(head) < 32:
        return len(head)
    records = int.from_bytes(head[4:8], "little")
    header_len = int.from_bytes(head[8:10], "little")
    record_len = int.from_bytes(head[10:12], "little")
    return header_len + records * record_len + 1


class _Unpacked:
    """Shapefile members unpacked to a temporary folder as a stream, with a running size check.

    Each member may unpack to at most what its header declares (+64 KB; .prj/.cpg 1 MB),
    all together to at most ``cap`` bytes: a zip bomb stops after the first bytes that
    exceed its own header, never read whole into memory.
    """

    def __init__(self, zf: zipfile.ZipFile, name: str, folder: Path, cap: int) -> None:
        self.zf, self.name, self.folder, self.cap, self.total = zf, name, folder, cap, 0

    def member(self, members: list[str], base: str, ext: str) -> tuple[str, Path] | None:
        for m in members:
            if m.lower() == (base + ext).lower():
                return m, self._extract(m, ext)
        return None

    def _extract(self, member: str, ext: str) -> Path:
        path = self.folder / f"member{ext}"
        try:
            with self.zf.open(member) as src, path.open("wb") as out:
                head = src.read(100)
                allowed = SMALL_MEMBER if ext in (".prj", ".cpg") else \
                    _declared_size(ext, head, member, self.name) + HEADER_SLACK
                size = len(head)
                out.write(head)
                while block := src.read(2**20):
                    size += len(block)
                    if size > allowed:
                        raise ImportError_("zip_member_too_large", file=self.name, member=member,
                                           size_mb=_mb(size), declared_mb=_mb(max(allowed - HEADER_SLACK, 0)))
                    if self.total + size > self.cap:
                        raise ImportError_("zip_too_large", file=self.name, size_mb=_mb(self.total + size),
                                           limit_mb=_mb(self.cap))
                    out.write(block)
            self.total += size
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, ValueError) as exc:
            raise ImportError_("zip_bad", file=member, detail=excerpt(str(exc), 200)) from None
        return path


_CPG_ALIASES = {
    "65001": "utf-8", "utf8": "utf-8", "1252": "cp1252", "ansi 1252": "cp1252", "88591": "latin-1",
    "8859-1": "latin-1", "437": "cp437", "850": "cp850", "1250": "cp1250", "ansi 1250": "cp1250",
    "28591": "latin-1", "28605": "iso8859-15", "885915": "iso8859-15",
}
# dBase language driver ids (byte 29 of the .dbf header)
_LDID = {0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x57: "cp1252", 0x58: "cp1252",
         0x59: "cp1252", 0x64: "cp852", 0x65: "cp866", 0xC8: "cp1250", 0xC9: "cp1251"}


def _cpg_codec(text: str) -> str | None:
    key = text.strip().strip("\x00").lower()
    codec = _CPG_ALIASES.get(key, key)
    try:
        return codecs.lookup(codec).name
    except LookupError:
        return None


def detect_dbf_encoding(dbf: bytes) -> tuple[str, Msg]:
    """(codec, how): valid non-ASCII UTF-8 wins, then the language driver byte, then cp1252."""
    header_len = int.from_bytes(dbf[8:10], "little") if len(dbf) >= 32 else 0
    body = dbf[header_len:] if 0 < header_len <= len(dbf) else dbf
    names = dbf[32:header_len] if header_len > 32 else b""
    blob = names + body
    if all(b < 128 for b in blob):
        return "utf-8", Msg.of("how_ascii")
    try:
        blob.decode("utf-8")
        return "utf-8", Msg.of("how_utf8")
    except UnicodeDecodeError:
        pass
    ldid = dbf[29] if len(dbf) > 29 else 0
    if ldid in _LDID:
        return _LDID[ldid], Msg.of("how_ldid", value=ldid)
    return "cp1252", Msg.of("how_dbf_cp1252")


def _read_shapefile(zf: _Unpacked, shp_name: str, members: list[str], name: str,
                    crs: pyproj.CRS | None) -> RawTable:
    import shapefile  # pyshp

    base = shp_name[:-4]
    shp_at = zf.member(members, base, ".shp")
    shx_at = zf.member(members, base, ".shx")
    dbf_at = zf.member(members, base, ".dbf")
    if dbf_at is None:
        raise ImportError_("zip_no_dbf", file=name, member=base + ".dbf")
    prj_at = zf.member(members, base, ".prj")
    cpg_at = zf.member(members, base, ".cpg")
    assert shp_at is not None
    dbf = dbf_at[0], dbf_at[1].read_bytes()
    prj = (prj_at[0], prj_at[1].read_bytes()) if prj_at else None
    cpg = (cpg_at[0], cpg_at[1].read_bytes()) if cpg_at else None
    notes: list[Note] = []
    encoding: str | None = None
    how = Msg.of("how_utf8")
    if cpg is not None:
        cpg_text = cpg[1].decode("ascii", errors="replace").strip()
        encoding = _cpg_codec(cpg_text)
        how = Msg.of("how_cpg", value=cpg_text)
    if encoding is None:
        encoding, how = detect_dbf_encoding(dbf[1])

    def load(enc: str) -> tuple[list[str], list[dict], list[Any]]:
        files = [shp_at[1].open("rb"), shx_at[1].open("rb") if shx_at else None, dbf_at[1].open("rb")]
        reader = shapefile.Reader(shp=files[0], shx=files[1], dbf=files[2], encoding=enc,
                                  encodingErrors="strict")
        try:
            fields = [f[0] for f in reader.fields[1:]]
            shapes, records = [], []
            for sr in reader.iterShapeRecords():
                shapes.append(sr.shape)
                records.append(sr.record.as_dict())
            return fields, records, shapes
        finally:
            if reader is not None:
                reader.close()
            for f in files:
                if f is not None:
                    f.close()

    try:
        try:
            fields, records, shapes = load(encoding)
        except Exception as exc:  # pyshp wraps UnicodeDecodeError in its own exception
            if not isinstance(exc, UnicodeDecodeError) and "decode" not in str(exc).lower():
                raise
            detected, how2 = detect_dbf_encoding(dbf[1])
            if detected == encoding:
                detected = "latin-1"
            notes.append(("note_encoding", {"encoding": encoding,
                                            "how": Msg.of("how_cpg_invalid", value=encoding)}))
            encoding, how = detected, how2
            fields, records, shapes = load(encoding)
    except ImportError_:
        raise
    except Exception as exc:
        raise ImportError_("shp_bad", file=name, member=shp_name,
                           detail=excerpt(str(exc) or type(exc).__name__, 200)) from None
    notes.append(("note_encoding", {"encoding": encoding, "how": how}))
    frame = pd.DataFrame(records, columns=fields, dtype=object) if records else pd.DataFrame(
        {f: pd.Series(dtype=object) for f in fields})
    frame = blank_to_none(frame)
    geoms: list[shapely.Geometry | None] = []
    row_errors: list[RowError] = []
    for i, shape in enumerate(shapes):
        if shape.shapeType == shapefile.NULL or not getattr(shape, "points", None):
            geoms.append(None)
            row_errors.append((i + 1, "geometry", None, "r_no_geometry", {}))
            continue
        try:
            geoms.append(geometry_from_geojson(shape.__geo_interface__))
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            geoms.append(None)
            row_errors.append((i + 1, "geometry", shape.shapeTypeName, "r_bad_geometry",
                               {"detail": str(exc)}))
    source_crs = crs
    if source_crs is None and prj is not None:
        try:
            source_crs = pyproj.CRS.from_wkt(prj[1].decode("utf-8", errors="replace").strip())
        except pyproj.exceptions.CRSError as exc:
            raise ImportError_("prj_bad", file=name, member=prj[0], detail=str(exc)) from None
    table = RawTable(frame=frame, format="shapefile", source_name=name, notes=notes,
                     row_errors=row_errors, dayfirst_hint=True)
    _finish_geometries(table, np.asarray(geoms, dtype=object), source_crs, name)
    return table


# --- GeoJSON / JSON ---------------------------------------------------------------------------

GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                  "GeometryCollection"}


def _positions_2d(coords: object) -> object:
    if isinstance(coords, list | tuple):
        if coords and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
            if len(coords) < 2:
                raise ValueError(f"a position needs two numbers, got {excerpt(list(coords))}")
            x, y = float(coords[0]), float(coords[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(f"coordinates must be finite numbers, got {[x, y]!r}")
            return [x, y]
        return [_positions_2d(c) for c in coords]
    raise ValueError(f"coordinates must be numbers in arrays, got {excerpt(coords)}")


def geometry_from_geojson(obj: object) -> shapely.Geometry:
    """A 2D shapely geometry from a GeoJSON geometry object (3D/4D positions are cut)."""
    if not isinstance(obj, dict):
        raise ValueError(f"geometry must be an object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind not in GEOMETRY_TYPES:
        raise ValueError(f"unknown geometry type {kind!r}")
    if kind == "GeometryCollection":
        parts = [geometry_from_geojson(g) for g in obj.get("geometries") or []]
        if any(p.geom_type == "GeometryCollection" for p in parts):
            raise ValueError("a GeometryCollection must not hold another GeometryCollection (RFC 7946 3.1.8)")
        return shapely.GeometryCollection(parts)
    if "coordinates" not in obj:
        raise ValueError(f"{kind} without coordinates")
    coords = _positions_2d(obj["coordinates"])
    geom = shapely.force_2d(shapely.geometry.shape({"type": kind, "coordinates": coords}))
    _check_finite(geom)
    return geom


def _check_finite(geom: shapely.Geometry) -> None:
    """``ValueError`` for NaN or infinite coordinates (GEOS cannot repair or compare them)."""
    coords = shapely.get_coordinates(geom)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise ValueError(f"coordinates must be finite numbers, got {coords[bad][0].tolist()!r} "
                         f"(vertex {int(np.flatnonzero(bad)[0]) + 1})")


_LONE_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _read_json(text: str, name: str, crs: pyproj.CRS | None) -> RawTable:
    replaced = 0
    if "\\u" in text:  # "\ud800" alone is valid JSON but no character: it cannot be stored
        text, replaced = _LONE_SURROGATE.subn("\\\\ufffd", text)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportError_("json_bad", file=name, detail=exc.msg, line=exc.lineno, col=exc.colno) from None
    table = _read_json_doc(doc, name, crs)
    if replaced:
        table.notes.append(("note_surrogates", {"count": replaced}))
    return table


def _read_json_doc(doc: object, name: str, crs: pyproj.CRS | None) -> RawTable:
    if isinstance(doc, dict) and doc.get("type") in ({"FeatureCollection", "Feature"} | GEOMETRY_TYPES):
        return _read_geojson(doc, name, crs)
    requests = _open311_requests(doc)
    if requests is not None:
        return _read_open311(requests, name)
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        if all(r.get("type") == "Feature" for r in doc):
            return _read_geojson({"type": "FeatureCollection", "features": doc}, name, crs)
        frame = blank_to_none(pd.DataFrame([{k: _scalar(v) for k, v in r.items()} for r in doc],
                                           dtype=object))
        return RawTable(frame=frame, format="json", source_name=name)
    raise ImportError_("json_unknown", file=name)


def _scalar(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _is_open311(rec: object) -> bool:
    return (isinstance(rec, dict) and "service_request_id" in rec) or (
        isinstance(rec, dict) and {"requested_datetime", "service_name"} <= set(rec))


def _open311_requests(doc: object) -> list[dict] | None:
    if isinstance(doc, list):
        return doc if doc and all(isinstance(r, dict) for r in doc) and _is_open311(doc[0]) else None
    if isinstance(doc, dict):
        if _is_open311(doc):
            return [doc]
        for key in ("service_requests", "requests", "service_request", "data", "items", "results"):
            value = doc.get(key)
            if isinstance(value, list) and value and _is_open311(value[0]):
                return value
            if isinstance(value, dict) and _is_open311(value):
                return [value]
        lists = [v for v in doc.values() if isinstance(v, list) and v and _is_open311(v[0])]
        if len(lists) == 1:
            return lists[0]
    return None


def _read_open311(requests: list[dict], name: str) -> RawTable:
    frame = pd.DataFrame([{k: _scalar(v) for k, v in r.items()} if isinstance(r, dict) else {}
                          for r in requests], dtype=object)
    frame = blank_to_none(frame)
    for col in ("service_request_id", "service_name", "requested_datetime", "lat", "long",
                "address", "description", "status", "updated_datetime"):
        if col not in frame.columns:
            frame[col] = None
    status = frame["status"].map(lambda s: str(s).strip().lower() if s is not None else None)
    frame[OPEN311_CLOSED] = frame["updated_datetime"].where(status == "closed", None)
    return RawTable(frame=frame, format="open311", source_name=name, source_crs="EPSG:4326",
                    default_mapping=dict(OPEN311_MAPPING))


def _geojson_records(doc: dict, name: str) -> list[tuple[dict, object, object]]:
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise ImportError_("geojson_bad", file=name, detail="FeatureCollection without a features list")
    elif kind == "Feature":
        features = [doc]
    elif kind == "GeometryCollection":
        return [({}, g, None) for g in doc.get("geometries") or []]
    else:
        return [({}, doc, None)]
    out = []
    for feat in features:
        if not isinstance(feat, dict):
            out.append(({}, {"__error__": f"feature is not an object: {feat!r}"[:200]}, None))
            continue
        props = feat.get("properties")
        out.append((props if isinstance(props, dict) else {}, feat.get("geometry"), feat.get("id")))
    return out


def _read_geojson(doc: dict, name: str, crs: pyproj.CRS | None) -> RawTable:
    records = _geojson_records(doc, name)
    source_crs = crs
    if source_crs is None:
        try:
            source_crs = crs_mod.geojson_crs(doc.get("crs"))
        except ValueError as exc:
            raise ImportError_("crs_unknown", file=name, crs=str(exc)) from None
    rows: list[dict] = []
    geoms: list[shapely.Geometry | None] = []
    row_errors: list[RowError] = []
    for i, (props, geom, fid) in enumerate(records):
        row = {k: _scalar(v) for k, v in props.items()}
        if fid is not None:
            row["id" if "id" not in row else "feature_id"] = _scalar(fid)
        rows.append(row)
        if geom is None:
            geoms.append(None)
            row_errors.append((i + 1, "geometry", None, "r_no_geometry", {}))
            continue
        if isinstance(geom, dict) and "__error__" in geom:
            geoms.append(None)
            row_errors.append((i + 1, "geometry", None, "r_bad_geometry", {"detail": geom["__error__"]}))
            continue
        try:
            geoms.append(geometry_from_geojson(geom))
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            geoms.append(None)
            row_errors.append((i + 1, "geometry", excerpt(json.dumps(geom), 200), "r_bad_geometry",
                               {"detail": excerpt(str(exc), 200)}))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    frame = pd.DataFrame(rows, columns=columns, dtype=object) if rows else pd.DataFrame()
    frame = blank_to_none(frame)
    table = RawTable(frame=frame, format="geojson", source_name=name, row_errors=row_errors)
    declared = source_crs
    _finish_geometries(table, np.asarray(geoms, dtype=object), declared, name,
                       default=crs_mod.CRS84)
    return table


MAX_COORDINATE = 1e8  # metres or degrees: no CRS used in Germany comes near it


def _finish_geometries(table: RawTable, geoms: np.ndarray, source_crs: pyproj.CRS | None, name: str,
                       default: pyproj.CRS | None = None) -> None:
    """Settle the CRS (declared, else default if the values are degrees, else guessed) and reproject."""
    for i, g in enumerate(geoms):  # beyond any CRS: a row error, not a failed guess for the file
        if g is not None and not g.is_empty:
            coords = shapely.get_coordinates(g)
            if not (np.isfinite(coords).all() and (np.abs(coords) <= MAX_COORDINATE).all()):
                geoms[i] = None
                table.row_errors.append((i + 1, "geometry", g.geom_type, "r_bad_geometry",
                                         {"detail": f"coordinates beyond ±{MAX_COORDINATE:g}"}))
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if source_crs is None:
        coords = shapely.get_coordinates(geoms[present]) if present.any() else np.empty((0, 2))
        x, y = coords[:, 0], coords[:, 1]
        if crs_mod.looks_like_degrees(x, y):
            source_crs = default or crs_mod.CRS84
        else:
            guessed = crs_mod.guess_projected(x, y)
            if guessed is None:
                ok = np.isfinite(x) & np.isfinite(y)
                raise ImportError_("crs_guess_failed", file=name,
                                   x=float(np.median(x[ok])) if ok.any() else "?",
                                   y=float(np.median(y[ok])) if ok.any() else "?")
            source_crs = guessed
            table.notes.append(("note_crs_assumed", {"crs": crs_mod.describe(guessed)}))
    out = crs_mod.geometries_to_wgs84(geoms, source_crs)
    for i, g in enumerate(out):  # outside the CRS' area the transformation gives inf
        if g is not None and not g.is_empty and not np.isfinite(shapely.get_coordinates(g)).all():
            out[i] = None
            detail = f"coordinates outside the range of {crs_mod.describe(source_crs)}"
            table.row_errors.append((i + 1, "geometry", g.geom_type, "r_bad_geometry", {"detail": detail}))
    table.geometry = out
    table.source_crs = crs_mod.describe(source_crs)


# --- GDAL formats (data.importers.gdal) --------------------------------------------------------

def _read_gdal(data: bytes, name: str, fmt: str, crs: pyproj.CRS | None, layer: str | None) -> RawTable:
    """A GeoPackage, KML, GPX, FlatGeobuf or GML file through GDAL; CRS from the file."""
    found = gdal.read(data, name, fmt, layer)
    table = RawTable(frame=blank_to_none(found.frame), format=fmt, source_name=name,
                     notes=list(found.notes), row_errors=list(found.row_errors), layers=found.layers,
                     layer=found.layer)
    if found.geometry is not None:
        _finish_geometries(table, found.geometry, crs or found.crs, name,
                           default=crs_mod.CRS84 if fmt in ("kml", "gpx") else None)
    return table


def _read_zipped_gdal(zf: zipfile.ZipFile, members: list[str], name: str, crs: pyproj.CRS | None,
                      limit: int, layer: str | None) -> RawTable:
    """The one GIS file in a zip (a KMZ's doc.kml first); its unpacked size was checked."""
    kml = [m for m in members if m.lower().endswith(".kml")]
    member = next((m for m in kml if Path(m).name.lower() == "doc.kml"), None) or (kml or members)[0]
    if len(members) > 1 and not kml:
        raise ImportError_("zip_many_gis", file=name, members=", ".join(members))
    info = zf.getinfo(member)
    if info.file_size > limit * ZIP_EXPANSION_FACTOR:
        raise ImportError_("zip_too_large", file=name, size_mb=_mb(info.file_size),
                           limit_mb=_mb(limit * ZIP_EXPANSION_FACTOR))
    try:
        data = zf.read(member)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        raise ImportError_("zip_bad", file=member, detail=str(exc)) from None
    fmt = gdal.sniff(data) or gdal.ZIP_SUFFIXES[Path(member).suffix.lower()]
    check_format_size("kmz" if fmt == "kml" else fmt, len(data), name)  # unpacked: what GDAL reads
    table = _read_gdal(data, name, fmt, crs, layer)
    if fmt == "kml":
        table.format = "kmz"
    return table


# --- CSV in chunks (bounded memory for large files; issue #15) ------------------------------------

CHUNK_MIN_BYTES = 16 * 2**20  # CSV files above this are read and validated in chunks
CHUNK_ROWS = 250_000  # lines per chunk (about 12 MB of a typical complaint CSV)
_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


@dataclass
class CsvChunks:
    """A CSV file opened for reading in chunks: what the whole-file reader decides once
    (encoding, delimiter, header), then :meth:`chunks` yields one :class:`RawTable` per chunk.

    Row numbers of each chunk's ``row_errors`` are chunk-local (1 = first record of the
    chunk); ``offset`` of a chunk (``RawTable.layer`` is unused) is given by the caller as the
    sum of the records before it. Columns with an empty header cell are kept in every chunk
    (named ``Spalte N`` by position); :attr:`used_columns` tells at the end which of them
    held data anywhere, so the caller can drop the rest as the whole-file reader does.
    """

    path: Path
    name: str
    encoding: str
    errors: str
    delimiter: str
    notes: list[Note]
    chunk_rows: int
    header: list[str] | None = None
    header_blank: list[bool] = field(default_factory=list)
    column_has_data: np.ndarray | None = None
    blank_rows: int = 0
    records: int = 0

    def chunks(self) -> Any:
        """RawTables of at most ``chunk_rows`` lines each (fewer records when lines are blank).

        The pandas C parser first; a file with ragged rows is read again from the start with
        the csv module (as the whole-file reader does), so chunks already yielded must be
        discarded by the caller when :class:`RestartChunks` is raised."""
        reader = None
        try:
            reader = pd.read_csv(self.path, sep=self.delimiter, header=None, dtype=str,
                                 keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
                                 quotechar='"', encoding=self.encoding, encoding_errors=self.errors,
                                 chunksize=self.chunk_rows)
            for grid in reader:
                table = self._table(grid, None)
                if table is not None:
                    yield table
        except pd.errors.EmptyDataError:
            raise ImportError_("no_header", file=self.name) from None
        except (pd.errors.ParserError, ValueError) as exc:
            if isinstance(exc, ImportError_):
                raise
            raise RestartChunks from None
        finally:
            if reader is not None:
                reader.close()

    def ragged_chunks(self) -> Any:
        """The csv-module reader of files with ragged rows, in chunks (see :func:`_read_csv`)."""
        self.header, self.column_has_data, self.blank_rows, self.records = None, None, 0, 0
        width = 0
        batch: list[list[str]] = []
        long_rows: dict[int, tuple[int, int, str]] = {}
        with self.path.open("r", encoding=self.encoding, errors=self.errors, newline="") as f:
            for r in csv.reader(f, delimiter=self.delimiter):
                if not width:
                    if any(c.strip() for c in r):
                        width = len(r)
                        while width and not r[width - 1].strip():
                            width -= 1
                        r = r[:width]
                elif len(r) > width:
                    if any(c.strip() for c in r[width:]):
                        long_rows[len(batch)] = (len(r), width,
                                                 excerpt(self.delimiter.join(r[:width + 2]), 200))
                    r = r[:width]
                batch.append(r)
                if len(batch) >= self.chunk_rows:
                    table = self._ragged_table(batch, long_rows, width)
                    batch, long_rows = [], {}
                    if table is not None:
                        yield table
        if batch:
            table = self._ragged_table(batch, long_rows, width)
            if table is not None:
                yield table

    def _ragged_table(self, batch: list[list[str]], long_rows: dict[int, tuple[int, int, str]],
                      width: int) -> RawTable | None:
        w = max(width, max(len(r) for r in batch))
        grid = pd.DataFrame([r + [""] * (w - len(r)) if len(r) < w else r for r in batch], dtype=object)
        return self._table(grid, long_rows)

    def _table(self, grid: pd.DataFrame,
               long_rows: dict[int, tuple[int, int, str]] | None) -> RawTable | None:
        grid = grid.reset_index(drop=True)
        grid.columns = range(grid.shape[1])
        blank = _blank_cells(grid)
        row_empty = blank.all(axis=1).to_numpy()
        start = 0
        if self.header is None:
            nonempty = np.flatnonzero(~row_empty)
            if nonempty.size == 0:
                return None
            start = int(nonempty[0]) + 1
            cells = grid.iloc[start - 1].tolist()
            self.header_blank = [bool(blank.iat[start - 1, c]) for c in grid.columns]
            self.header = _unique_header(cells)
            self.column_has_data = np.zeros(len(self.header), dtype=bool)
        width = len(self.header)
        if grid.shape[1] < width:  # the C parser gives short chunks fewer columns
            for c in range(grid.shape[1], width):
                grid[c] = None
                blank[c] = True
        keep = ~row_empty[start:]
        body = grid.iloc[start:, :width]
        body_blank = blank.iloc[start:, :width].to_numpy()[keep]
        assert self.column_has_data is not None
        self.column_has_data |= ~body_blank.all(axis=0)
        self.blank_rows += int((~keep).sum())
        positions = body.index.to_numpy()[keep]
        data = body.loc[keep].reset_index(drop=True)
        data.columns = self.header
        frame = blank_to_none(data)
        row_errors = _long_row_errors(long_rows, positions)
        self.records += len(frame)
        if frame.empty:
            return None
        table = RawTable(frame=frame, format="csv", source_name=self.name, row_errors=row_errors,
                         notes=list(self.notes))
        if self.delimiter == ";":
            table.decimal_hint = ","
            table.dayfirst_hint = True
        return table

    def unused_columns(self) -> list[str]:
        """Columns with an empty header cell that held no data (the whole-file reader drops them)."""
        if self.header is None or self.column_has_data is None:
            return []
        return [h for h, b, d in zip(self.header, self.header_blank, self.column_has_data, strict=True)
                if b and not d]

    def end_notes(self) -> list[Note]:
        return [("note_blank_rows", {"count": self.blank_rows})] if self.blank_rows else []


class RestartChunks(Exception):
    """The C parser met a ragged row: read the file again with :meth:`CsvChunks.ragged_chunks`."""


def _file_encoding(path: Path, name: str) -> tuple[str, str, Msg] | None:
    """(codec for reading, error handling, how) as :func:`_decode` decides it, streamed over the
    file; ``None`` for UTF-16 (read whole)."""
    with path.open("rb") as f:
        head = f.read(65536)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        if _looks_binary(head):
            raise ImportError_("binary_garbage", file=name)
        bom = head.startswith(codecs.BOM_UTF8)
        f.seek(3 if bom else 0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        undefined_cp1252 = False
        valid = True
        while block := f.read(_CHUNK):
            if valid:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    valid = False
            arr = np.frombuffer(block, dtype=np.uint8)
            if not undefined_cp1252 and (arr >= 0x80).any():
                undefined_cp1252 = bool(np.isin(arr, _CP1252_UNDEFINED).any())
            if not valid and undefined_cp1252:
                break
        if valid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    if bom:
        return ("utf-8-sig", "strict", Msg.of("how_bom")) if valid else \
            ("utf-8-sig", "replace", Msg.of("how_bom_replaced"))
    if valid:
        return "utf-8", "strict", Msg.of("how_utf8")
    if not undefined_cp1252:
        return "cp1252", "strict", Msg.of("how_cp1252")
    return "latin-1", "strict", Msg.of("how_latin1")


def _check_lines_file(path: Path, name: str) -> None:
    """:func:`_check_lines` over a file without reading it whole (a memory map)."""
    import mmap

    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        _check_lines(mm, name)  # type: ignore[arg-type]
        mm.madvise(mmap.MADV_DONTNEED)


def open_csv_chunks(path: str | Path, name: str | None = None, *, max_bytes: int | None = None,
                    chunk_rows: int | None = None, min_bytes: int | None = None) -> CsvChunks | None:
    """A large CSV file (or any, with ``min_bytes=0``) prepared for reading in chunks, with the
    same whole-file checks as :func:`read_source` (size, binary, line length, encoding, header
    width); ``None`` when the file is not such a CSV (JSON, zip, GDAL formats, UTF-16, small)."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        return None
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    size = path.stat().st_size
    if size > limit:
        raise ImportError_("file_too_large", file=name, size_mb=_mb(size), limit_mb=_mb(limit))
    if size < (CHUNK_MIN_BYTES if min_bytes is None else min_bytes):
        return None
    with path.open("rb") as f:
        head = f.read(2 * max_line_bytes() + 65536)
    if head[:8].startswith((b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0", b"\x1f\x8b",
                            b"\x00\x00\x27\x0a")) or not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        return None
    if gdal.sniff(head) is not None or head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"{", b"["):
        return None
    found = _file_encoding(path, name)
    if found is None:
        return None
    _check_lines_file(path, name)
    encoding, errors, how = found
    text = head.decode(encoding, errors="replace")
    if encoding == "utf-8-sig" and text.startswith("\ufeff"):
        text = text[1:]
    if size > len(head):
        text = text[:-1]  # a character may be cut at the end of the head
    delim = sniff_delimiter(text)
    _header_width(text, delim, name)
    label = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8"}.get(encoding, encoding)
    notes: list[Note] = [("note_encoding", {"encoding": label, "how": how}),
                         ("note_delimiter", {"delimiter": delim})]
    return CsvChunks(path=path, name=name, encoding=encoding, errors=errors, delimiter=delim, notes=notes,
                     chunk_rows=chunk_rows or CHUNK_ROWS)
