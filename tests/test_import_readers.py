"""Readers: every format quirk, with fixtures written by the tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from import_fixtures import (
    MITTE,
    SUED,
    WKT_25832,
    WKT_FALSE_EASTING,
    districts_geojson,
    german_excel_csv,
    offices_xlsx,
    open311_json,
    project,
    shapefile_zip,
)

from data.importers import crs as crs_mod
from data.importers.readers import read_source, sniff_delimiter


def _close(a: shapely.Geometry, b: shapely.Geometry, tol: float = 1e-6) -> bool:
    return a.symmetric_difference(b).area < tol * max(a.area, 1e-12) + 1e-12 and \
        shapely.hausdorff_distance(a, b) < tol


# --- Shapefile ---------------------------------------------------------------------------------

def test_shapefile_false_easting_is_honoured_not_the_name(tmp_path: Path) -> None:
    raw = read_source(shapefile_zip(tmp_path / "bezirke.zip"))
    assert raw.format == "shapefile"
    # the .prj is *named* ETRS89 / UTM 32N but has x_0=2500000: it must not become EPSG:25832
    assert "EPSG:25832" not in raw.source_crs
    assert "+x_0=2500000" in raw.source_crs
    assert _close(raw.geometry[0], MITTE) and _close(raw.geometry[1], SUED)
    # read as plain EPSG:25832 the squares would land ~2,500 km away: prove the test is sharp
    wrong = crs_mod.geometries_to_wgs84(
        [project(MITTE, WKT_FALSE_EASTING)], crs_mod.parse_crs("EPSG:25832"))[0]
    assert abs(wrong.centroid.x - MITTE.centroid.x) > 10


def test_shapefile_standard_prj_is_described_by_its_code(tmp_path: Path) -> None:
    raw = read_source(shapefile_zip(tmp_path / "b.zip", prj=WKT_25832))
    assert raw.source_crs == "EPSG:25832"
    assert _close(raw.geometry[0], MITTE)


@pytest.mark.parametrize(
    ("encoding", "cpg", "expected_codec"),
    [
        ("cp1252", None, "cp1252"),  # no .cpg: detected (not UTF-8, language driver, then cp1252)
        ("utf-8", None, "utf-8"),  # no .cpg: valid UTF-8 is detected
        ("utf-8", "UTF-8", "utf-8"),
        ("cp1252", "1252", "cp1252"),
        ("latin-1", "ISO-8859-1", "iso8859-1"),
        ("cp1252", "UTF-8", None),  # a wrong .cpg: falls back to detection, umlauts still right
    ],
)
def test_dbf_encoding(tmp_path: Path, encoding: str, cpg: str | None, expected_codec: str | None) -> None:
    raw = read_source(shapefile_zip(tmp_path / "b.zip", encoding=encoding, cpg=cpg,
                                    names=("Hövel", "Süd-Größe")))
    assert raw.frame["BEZ_NAME"].tolist() == ["Hövel", "Süd-Größe"]
    codecs_named = [p["encoding"] for k, p in raw.notes if k == "note_encoding"]
    if expected_codec:
        assert codecs_named[-1] == expected_codec


def test_shapefile_without_prj_in_metres_is_guessed(tmp_path: Path) -> None:
    # write projected coordinates (EPSG:25832) but no .prj: the extent says UTM 32N
    path = shapefile_zip(tmp_path / "b.zip", prj=WKT_25832)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if not n.endswith(".prj")}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    raw = read_source(path)
    assert raw.source_crs == "EPSG:25832"
    assert ("note_crs_assumed", {"crs": "EPSG:25832"}) in raw.notes
    assert _close(raw.geometry[0], MITTE)


def test_shapefile_integer_and_text_fields(tmp_path: Path) -> None:
    raw = read_source(shapefile_zip(tmp_path / "b.zip"))
    assert raw.frame["BEZ_NR"].tolist() == ["01", "02"]
    assert raw.frame["EINWOHNER"].tolist() == [41000, 23500]


# --- GeoJSON -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [2, 3, 4])
@pytest.mark.parametrize(
    ("crs", "described"),
    [
        ("urn:ogc:def:crs:EPSG::25832", "EPSG:25832"),
        ("EPSG:25832", "EPSG:25832"),
        ("http://www.opengis.net/def/crs/EPSG/0/25832", "EPSG:25832"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "OGC:CRS84"),
        (None, "OGC:CRS84"),
    ],
)
def test_geojson_crs_member_and_dimensions(tmp_path: Path, crs: str | None, described: str,
                                           dims: int) -> None:
    raw = read_source(districts_geojson(tmp_path / "d.geojson", crs=crs, dims=dims))
    assert raw.source_crs == described
    assert raw.frame["BEZ_NAME"].tolist() == ["Mitte", "Süd-Höve"]
    assert not shapely.has_z(raw.geometry).any()
    assert _close(raw.geometry[0], MITTE) and _close(raw.geometry[1], SUED)


def test_geojson_epsg_type_crs_member(tmp_path: Path) -> None:
    path = districts_geojson(tmp_path / "d.geojson", crs="EPSG:25832")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["crs"] = {"type": "EPSG", "properties": {"code": 25832}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    raw = read_source(path)
    assert raw.source_crs == "EPSG:25832"
    assert _close(raw.geometry[0], MITTE)


def test_geojson_in_metres_without_crs_is_guessed(tmp_path: Path) -> None:
    path = districts_geojson(tmp_path / "d.geojson", crs="EPSG:25832", dims=2)
    doc = json.loads(path.read_text(encoding="utf-8"))
    del doc["crs"]
    path.write_text(json.dumps(doc), encoding="utf-8")
    raw = read_source(path)
    assert raw.source_crs == "EPSG:25832"
    assert [k for k, _ in raw.notes] == ["note_crs_assumed"]


def _write(tmp_path: Path, doc: object, name: str = "x.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("doc", "records", "types"),
    [
        ({"type": "Feature", "properties": {"name": "A"}, "geometry": shapely.geometry.mapping(MITTE)},
         1, ["Polygon"]),
        (shapely.geometry.mapping(MITTE), 1, ["Polygon"]),
        ({"type": "GeometryCollection", "geometries": [shapely.geometry.mapping(MITTE),
                                                       shapely.geometry.mapping(SUED)]},
         2, ["Polygon", "Polygon"]),
        ({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "A"},
             "geometry": {"type": "GeometryCollection",
                          "geometries": [shapely.geometry.mapping(MITTE)]}}]},
         1, ["GeometryCollection"]),
        ({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "A"},
             "geometry": {"type": "Point", "coordinates": [7.8, 51.68, 60.0, 99.0]}}]},
         1, ["Point"]),
    ],
    ids=["lone-feature", "bare-geometry", "geometry-collection", "feature-with-collection", "4d-point"],
)
def test_geojson_shapes(tmp_path: Path, doc: dict, records: int, types: list[str]) -> None:
    raw = read_source(_write(tmp_path, doc))
    assert len(raw) == records
    assert [g.geom_type for g in raw.geometry] == types


def test_geojson_feature_errors_are_row_errors(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "ok"}, "geometry": shapely.geometry.mapping(MITTE)},
        {"type": "Feature", "properties": {"name": "none"}, "geometry": None},
        {"type": "Feature", "properties": {"name": "bad"},
         "geometry": {"type": "Polygon", "coordinates": [[[1, "a"], [2, 2]]]}},
    ]}
    raw = read_source(_write(tmp_path, doc))
    assert [(r[0], r[1], r[3]) for r in raw.row_errors] == [(2, "geometry", "r_no_geometry"),
                                                            (3, "geometry", "r_bad_geometry")]


def test_osm_feature_ids_and_varying_properties(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "node/1", "properties": {"@id": "node/1", "name": "A", "phone": "1"},
         "geometry": {"type": "Point", "coordinates": [7.8, 51.68]}},
        {"type": "Feature", "id": "way/2", "properties": {"@id": "way/2", "contact:phone": "2"},
         "geometry": {"type": "Point", "coordinates": [7.81, 51.68]}},
    ]}
    raw = read_source(_write(tmp_path, doc))
    assert raw.columns == ["@id", "name", "phone", "id", "contact:phone"]
    assert raw.frame["name"].tolist() == ["A", None]


# --- CSV ---------------------------------------------------------------------------------------

def test_german_excel_csv(tmp_path: Path) -> None:
    raw = read_source(german_excel_csv(tmp_path / "b.csv"))
    assert raw.format == "csv"
    assert raw.decimal_hint == "," and raw.dayfirst_hint
    assert raw.columns[:5] == ["Vorgangsnummer", "Eingang", "Kategorie", "Breite", "Länge"]
    assert len(raw) == 7  # the ;;;; line is skipped and not counted
    assert raw.frame["Kategorie"].iloc[0] == "Lärmbelästigung"
    assert raw.frame["Bemerkung"].iloc[-1] == "Umlaut äöüß"
    notes = dict(raw.notes)
    assert notes["note_encoding"]["encoding"] == "cp1252"
    assert notes["note_delimiter"]["delimiter"] == ";"


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("id,name\n1,Äpfel\n", "utf-8", ","),
        ("id,name\n1,Äpfel\n", "utf-8-sig", ","),
        ("id;name\n1;Äpfel\n", "cp1252", ";"),
        ("id\tname\n1\tÄpfel\n", "utf-8", "\t"),
        ("id|name\n1|Äpfel\n", "utf-16", "|"),
        ('id,name\n1,"Äpfel, Birnen; Quitten"\n', "utf-8", ","),
    ],
)
def test_csv_dialects(tmp_path: Path, content: str, encoding: str, delimiter: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content.encode(encoding))
    raw = read_source(path)
    assert raw.columns == ["id", "name"]
    assert raw.frame["name"].iloc[0].startswith("Äpfel")
    assert dict(raw.notes)["note_delimiter"]["delimiter"] == delimiter


def test_sniff_prefers_consistent_delimiter() -> None:
    text = "a;b;c\n1,5;2,5;x\n3,5;4,5;y\n"
    assert sniff_delimiter(text) == ";"
    assert sniff_delimiter("a,b\n1,2\n") == ","
    assert sniff_delimiter("onlyone\nvalue\n") == ","


def test_csv_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,name,x\n1,a,1\n2,b\n3,c,3,EXTRA\n4,d,4,\n", encoding="utf-8")
    raw = read_source(path)
    assert len(raw) == 4
    assert raw.frame["x"].tolist() == ["1", None, "3", "4"]
    assert [(r[0], r[3], r[4]) for r in raw.row_errors] == [(3, "r_field_count", {"found": 4, "expected": 3})]


def test_csv_header_names_empty_and_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,,id\n1,2,3\n", encoding="utf-8")
    assert read_source(path).columns == ["id", "Spalte 2", "id (2)"]


# --- XLSX and JSON -----------------------------------------------------------------------------

def test_xlsx_keeps_excel_types(tmp_path: Path) -> None:
    raw = read_source(offices_xlsx(tmp_path / "o.xlsx"))
    assert raw.format == "xlsx"
    assert raw.columns[0] == "Nr" and "Öffnungszeiten" in raw.columns
    assert len(raw) == 3  # the empty row is skipped
    assert raw.frame["Nr"].tolist() == [1, 2, 3]
    assert raw.frame["Stand"].iloc[0].year == 2024


@pytest.mark.parametrize("wrapped", [False, True])
def test_open311_list_or_object(tmp_path: Path, wrapped: bool) -> None:
    raw = read_source(open311_json(tmp_path / "o.json", wrapped=wrapped))
    assert raw.format == "open311"
    assert len(raw) == 4
    closed = raw.frame["updated_datetime (closed)"].tolist()
    assert closed == [None, "2024-03-05T12:00:00+01:00", None, "2024-03-04T09:00:00+01:00"]
    assert raw.default_mapping["complaint_id"] == "service_request_id"


def test_single_open311_request_object(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"service_request_id": "X", "service_name": "Müll",
                                "requested_datetime": "2024-01-01T10:00:00Z", "lat": 51.68,
                                "long": 7.8}), encoding="utf-8")
    raw = read_source(path)
    assert raw.format == "open311" and len(raw) == 1


def test_json_records(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"id": 1, "name": "a"}, {"id": 2, "name": "b", "x": {"k": 1}}]),
                    encoding="utf-8")
    raw = read_source(path)
    assert raw.format == "json" and raw.columns == ["id", "name", "x"]
    assert raw.frame["x"].tolist() == [None, '{"k": 1}']


def test_geometries_to_wgs84_keeps_none() -> None:
    out = crs_mod.geometries_to_wgs84([None, project(MITTE, WKT_25832)], crs_mod.parse_crs("EPSG:25832"))
    assert out[0] is None and _close(out[1], MITTE)


@pytest.mark.parametrize(
    ("x", "y", "epsg"),
    [
        (412000.0, 5725000.0, 25832),
        (32412000.0, 5725000.0, 4647),
        (3412000.0, 5725000.0, 31467),
        (2590000.0, 5725000.0, 31466),
        (1.0, 2.0, None),
    ],
)
def test_guess_projected(x: float, y: float, epsg: int | None) -> None:
    crs = crs_mod.guess_projected(np.array([x]), np.array([y]))
    assert (crs.to_epsg() if crs else None) == epsg
