"""A corpus of hostile import files, generated (never stored), shared by tests and bench/hostile.py.

Each case is written at a ``scale``: the tests use small variants together with lowered
limits (environment, see :data:`TEST_ENV`) so they exercise the same checks in seconds; the
benchmark (``bench/hostile.py``) writes the full-size files of issue #15 (a 190 MB one-line
CSV, a zip holding a 1.9 GB .shp of zeros, 1,000,000 columns) against the default limits.

A case is (id, data set kind, file name, writer(path, full), expected outcome) where the
outcome is ``"rejected"`` (a whole-file error: exit 1, nothing imported) or ``"rows"`` (the
file is read; the bad records are listed by row and column, the rest may be imported).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Limits the tests set so that small files hit the same checks as the full-size ones.
TEST_ENV = {"LAGEBILD_MAX_UPLOAD_MB": "2", "LAGEBILD_IMPORT_MAX_COLUMNS": "200",
            "LAGEBILD_IMPORT_MAX_LINE_KB": "64", "LAGEBILD_IMPORT_MAX_CELLS": "100000"}

HEADER = "complaint_id,received_at,category,lat,lon"


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    name: str
    write: Callable[[Path, bool], None]
    outcome: str  # "rejected" or "rows"
    key: str | None = None  # the message key of a whole-file rejection
    row_column: str | None = None  # for "rows": the column named in a row error


# --- XLSX -----------------------------------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Tabelle1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _col(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx_bytes(sheet_xml: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return buf.getvalue()


def _sheet(rows_xml: str, dimension: str | None = None, prolog: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet {NS}>{dim}'
            f"<sheetData>{rows_xml}</sheetData></worksheet>")


def xlsx_declared(last_row: int) -> Callable[[Path, bool], None]:
    """One header cell in A1 and one cell in column XFD of ``last_row``; the sheet declares the box."""
    def write(path: Path, full: bool) -> None:
        rows = (f'<row r="1">{_cell("A1", "complaint_id")}</row>'
                f'<row r="{last_row}">{_cell(f"XFD{last_row}", "x")}</row>')
        path.write_bytes(xlsx_bytes(_sheet(rows, f"A1:XFD{last_row}")))
    return write


def xlsx_wide_real(path: Path, full: bool) -> None:
    """A header row with real cells in 16,384 columns (no dimension declared)."""
    n = 16384 if full else 2000
    cells = "".join(_cell(f"{_col(i)}1", f"c{i}") for i in range(1, n + 1))
    path.write_bytes(xlsx_bytes(_sheet(f'<row r="1">{cells}</row>')))


def xlsx_xxe(path: Path, full: bool) -> None:
    prolog = '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    rows = f'<row r="1">{_cell("A1", "complaint_id")}</row><row r="2">{_cell("A2", "&xxe;")}</row>'
    path.write_bytes(xlsx_bytes(_sheet(rows, "A1:A2", prolog)))


def xlsx_billion_laughs(path: Path, full: bool) -> None:
    ents = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    rows = f'<row r="1">{_cell("A1", "complaint_id")}</row><row r="2">{_cell("A2", "&lol9;")}</row>'
    path.write_bytes(xlsx_bytes(_sheet(rows, "A1:A2", f"<!DOCTYPE worksheet [{ents}]>")))


# --- zip / Shapefile --------------------------------------------------------------------------------

def zip_bomb_shp(path: Path, full: bool) -> None:
    """A zip holding a .shp of zeros (1.9 GB full size; 19 MB scaled), a .shx and a .dbf."""
    size = 1900 * 2**20 if full else 19 * 2**20
    chunk = b"\x00" * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("bezirke.shp", "w", force_zip64=True) as f:
            for _ in range(size // len(chunk)):
                f.write(chunk)
        zf.writestr("bezirke.shx", b"\x00" * 100)
        zf.writestr("bezirke.dbf", b"\x03" + b"\x00" * 31 + b"\r")


def zip_bomb_dbf(path: Path, full: bool) -> None:
    """A valid small .shp with a .dbf that unpacks to zeros (the same bomb in another member)."""
    size = 1900 * 2**20 if full else 19 * 2**20
    shp, shx, dbf = _district_shapefile([[(7.78, 51.66), (7.82, 51.66), (7.82, 51.70), (7.78, 51.66)]])
    chunk = b"\x00" * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("bezirke.shp", shp)
        zf.writestr("bezirke.shx", shx)
        with zf.open("bezirke.dbf", "w", force_zip64=True) as f:
            f.write(dbf)
            for _ in range(size // len(chunk)):
                f.write(chunk)


def _district_shapefile(rings: list[list[tuple[float, float]]]) -> tuple[bytes, bytes, bytes]:
    import shapefile  # pyshp

    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON)
    w.field("BEZ_NR", "C", size=10)
    w.field("BEZ_NAME", "C", size=40)
    for i, ring in enumerate(rings):
        w.poly([ring])
        w.record(f"{i + 1:02d}", f"Bezirk {i + 1}")
    w.close()
    return shp.getvalue(), shx.getvalue(), dbf.getvalue()


def shapefile_nan_vertex(path: Path, full: bool) -> None:
    """Two districts; the second has a NaN vertex (pyshp writes the double as it is)."""
    good = [(7.78, 51.66), (7.78, 51.70), (7.82, 51.70), (7.82, 51.66), (7.78, 51.66)]
    bad = [(7.82, 51.66), (7.82, 51.70), (math.nan, math.nan), (7.86, 51.66), (7.82, 51.66)]
    shp, shx, dbf = _district_shapefile([good, bad])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bezirke.shp", shp)
        zf.writestr("bezirke.shx", shx)
        zf.writestr("bezirke.dbf", dbf)
        zf.writestr("bezirke.prj", 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
                                   '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')


# --- CSV --------------------------------------------------------------------------------------------

def csv_wide(n_full: int, n_small: int) -> Callable[[Path, bool], None]:
    def write(path: Path, full: bool) -> None:
        n = n_full if full else n_small
        header = ",".join(f"c{i}" for i in range(n))
        path.write_text(header + "\n" + ",".join("1" for _ in range(n)) + "\n")
    return write


def csv_one_line(path: Path, full: bool) -> None:
    """One line, no newline: 190 MB full size (under the 200 MB limit); 1.9 MB scaled."""
    size = 190 * 2**20 if full else int(1.9 * 2**20)
    block = (HEADER + ",").encode() * 1024
    with path.open("wb") as f:
        written = 0
        while written < size:
            part = block[: size - written]
            f.write(part)
            written += len(part)


def csv_long_record(path: Path, full: bool) -> None:
    """A normal header, then one record of 1.1 million separators (over the 1 MB line limit)."""
    n = 1_100_000 if full else 100_000
    rows = [HEADER, "A-1,2026-07-01 10:00,laerm,51.68,7.80", "A-2" + "," * n,
            "A-3,2026-07-01 11:00,laerm,51.68,7.80"]
    path.write_text("\n".join(rows) + "\n")


def csv_cr_only(path: Path, full: bool) -> None:
    """Old Mac line ends (CR only) over the line limit: still lines, not one huge line."""
    n = 200_000 if full else 5_000
    rows = [HEADER] + [f"A-{i},2026-07-01 10:00,laerm,51.68,7.80" for i in range(n)]
    path.write_bytes("\r".join(rows).encode() + b"\r")


def csv_nonfinite_points(path: Path, full: bool) -> None:
    rows = [HEADER, "A-1,2026-07-01 10:00,laerm,51.68,7.80", "A-2,2026-07-01 10:00,laerm,nan,nan",
            "A-3,2026-07-01 10:00,laerm,inf,-inf", "A-4,2026-07-01 10:00,laerm,1e999,7.80",
            "A-5,2026-07-01 10:00,laerm,51.68,7.80"]
    path.write_text("\n".join(rows) + "\n")


# --- GeoJSON / JSON ----------------------------------------------------------------------------------

def geojson_deep(levels: int, where: str = "coordinates") -> Callable[[Path, bool], None]:
    def write(path: Path, full: bool) -> None:
        nested = "[" * levels + "7.8, 51.68" + "]" * levels
        if where == "properties":
            value = '{"a": ' * levels + "1" + "}" * levels
            feat = (f'{{"type": "Feature", "properties": {{"name": "Mitte", "deep": {value}}}, '
                    '"geometry": {"type": "Point", "coordinates": [7.8, 51.68]}}')
        else:
            feat = (f'{{"type": "Feature", "properties": {{"name": "Mitte"}}, '
                    f'"geometry": {{"type": "Polygon", "coordinates": {nested}}}}}')
        path.write_text(f'{{"type": "FeatureCollection", "features": [{feat}]}}')
    return write


def geojson_deep_collection(path: Path, full: bool) -> None:
    """GeometryCollections nested 500 deep (each level a valid GeoJSON object)."""
    geom = '{"type": "Point", "coordinates": [7.8, 51.68]}'
    for _ in range(500):
        geom = f'{{"type": "GeometryCollection", "geometries": [{geom}]}}'
    path.write_text(f'{{"type": "FeatureCollection", "features": [{{"type": "Feature", '
                    f'"properties": {{"name": "Mitte"}}, "geometry": {geom}}}]}}')


def _square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def geojson_districts(bad_vertex: str) -> Callable[[Path, bool], None]:
    """Two districts; the second polygon has one vertex written as ``bad_vertex`` (raw JSON)."""
    def write(path: Path, full: bool) -> None:
        good = json.dumps(_square(7.78, 51.66, 7.82, 51.70))
        ring = _square(7.82, 51.66, 7.86, 51.70)
        bad = "[" + ", ".join(json.dumps(p) for p in ring[:2]) + f", {bad_vertex}, " + \
            ", ".join(json.dumps(p) for p in ring[3:]) + "]"
        feats = [f'{{"type": "Feature", "properties": {{"district_id": "{d}", "name": "{n}"}}, '
                 f'"geometry": {{"type": "Polygon", "coordinates": [{r}]}}}}'
                 for d, n, r in (("mitte", "Mitte", good), ("sued", "Süd", bad))]
        path.write_text('{"type": "FeatureCollection", "features": [' + ", ".join(feats) + "]}")
    return write


def geojson_unrepairable(path: Path, full: bool) -> None:
    """Polygons GEOS cannot turn into an area: a ring of one repeated point, a line-like ring,
    a ring of three points, coordinates at the float limit."""
    good = _square(7.78, 51.66, 7.82, 51.70)
    rings = {"mitte": good, "p1": [[7.83, 51.67]] * 5, "line": [[7.83, 51.67], [7.84, 51.68], [7.85, 51.69],
                                                                 [7.83, 51.67]],
             "short": [[7.83, 51.67], [7.84, 51.68], [7.83, 51.67]],
             "huge": [[1e308, 1e308], [-1e308, 1e308], [-1e308, -1e308], [1e308, 1e308]]}
    feats = [{"type": "Feature", "properties": {"district_id": d, "name": d},
              "geometry": {"type": "Polygon", "coordinates": [r]}} for d, r in rings.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def json_lone_surrogate(path: Path, full: bool) -> None:
    """Open311 JSON whose description holds an unpaired UTF-16 surrogate (valid JSON, not UTF-8)."""
    recs = [{"service_request_id": f"A-{i}", "requested_datetime": "2026-07-01T10:00:00+02:00",
             "service_name": "Lärm", "lat": 51.68, "long": 7.80, "description": "x"} for i in range(3)]
    text = json.dumps(recs).replace('"description": "x"', '"description": "bad \\ud800 text"', 1)
    path.write_text(text)


def utf16_odd(path: Path, full: bool) -> None:
    path.write_bytes(b"\xff\xfe" + (HEADER + "\n").encode("utf-16-le") + b"\x41")


def utf16_no_bom(path: Path, full: bool) -> None:
    path.write_bytes((HEADER + "\nA-1,2026-07-01 10:00,laerm,51.68,7.80\n").encode("utf-16-le"))


def utf8_mixed(path: Path, full: bool) -> None:
    """UTF-8 with a BOM, then invalid bytes and control characters in a value."""
    body = (HEADER + "\nA-1,2026-07-01 10:00,l\xe4rm,51.68,7.80\n").encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + body + b"A-2,2026-07-01 10:00,\xc3\x28\xa0\xa1,51.68,7.80\n")


CASES: list[Case] = [
    Case("xlsx-dimension-XFD1048576", "categories", "kategorien.xlsx", xlsx_declared(1_048_576), "rejected",
         "xlsx_too_large"),
    Case("xlsx-dimension-20000-rows", "categories", "kategorien.xlsx", xlsx_declared(20_000), "rejected",
         "xlsx_too_large"),
    Case("xlsx-real-wide-row", "complaints", "breit.xlsx", xlsx_wide_real, "rejected", "too_many_columns"),
    Case("xlsx-external-entity", "complaints", "xxe.xlsx", xlsx_xxe, "rejected", "xlsx_bad"),
    Case("xlsx-billion-laughs", "complaints", "lol.xlsx", xlsx_billion_laughs, "rejected", "xlsx_bad"),
    Case("zip-bomb-shp", "districts", "bezirke.zip", zip_bomb_shp, "rejected", "shp_bad"),
    Case("zip-bomb-dbf", "districts", "bezirke.zip", zip_bomb_dbf, "rejected",
         "zip_member_too_large"),
    Case("csv-100000-columns", "complaints", "breit.csv", csv_wide(100_000, 1_000), "rejected",
         "too_many_columns"),
    Case("csv-1000000-columns", "complaints", "breiter.csv", csv_wide(1_000_000, 10_000), "rejected",
         "too_many_columns"),
    Case("csv-one-line-190MB", "complaints", "eine_zeile.csv", csv_one_line, "rejected", "line_too_long"),
    Case("csv-one-long-record", "complaints", "lang.csv", csv_long_record, "rejected", "line_too_long"),
    Case("csv-cr-line-ends", "complaints", "mac.csv", csv_cr_only, "rows", None, None),
    Case("csv-nan-inf-coordinates", "complaints", "nan.csv", csv_nonfinite_points, "rows", None, "lat"),
    Case("geojson-980-levels", "districts", "tief.geojson", geojson_deep(980), "rejected", "json_too_deep"),
    Case("geojson-100000-levels", "districts", "tiefer.geojson", geojson_deep(100_000), "rejected",
         "json_too_deep"),
    Case("geojson-deep-properties", "complaints", "tief.geojson", geojson_deep(900, "properties"), "rejected",
         "json_too_deep"),
    Case("geojson-deep-collections", "districts", "sammlung.geojson", geojson_deep_collection, "rejected",
         "json_too_deep"),
    Case("geojson-nan-vertex", "districts", "bezirke.geojson", geojson_districts("[NaN, NaN]"), "rows", None,
         "geometry"),
    Case("geojson-infinity-vertex", "districts", "bezirke.geojson", geojson_districts("[Infinity, 51.7]"),
         "rows", None, "geometry"),
    Case("geojson-1e999-vertex", "districts", "bezirke.geojson", geojson_districts("[1e999, 51.7]"), "rows",
         None, "geometry"),
    Case("geojson-unrepairable", "districts", "bezirke.geojson", geojson_unrepairable, "rows", None,
         "geometry"),
    Case("shapefile-nan-vertex", "districts", "bezirke.zip", shapefile_nan_vertex, "rows", None, "geometry"),
    Case("json-lone-surrogate", "complaints", "sagsuns.json", json_lone_surrogate, "rows", None, None),
    Case("utf16-odd-length", "complaints", "utf16.csv", utf16_odd, "rejected", "binary_garbage"),
    Case("utf16-without-bom", "complaints", "utf16.csv", utf16_no_bom, "rejected", "binary_garbage"),
    Case("utf8-invalid-bytes", "complaints", "kaputt.csv", utf8_mixed, "rows", None, None),
]
