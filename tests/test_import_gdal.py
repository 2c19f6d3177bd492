"""GIS formats through GDAL (pyogrio): GeoPackage, KMZ, GPX, FlatGeobuf, GML; errors as reports."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from gis_fixtures import flatgeobuf_points, gml_districts, gpkg_two_layers, gpx_two_tracks, kmz_folders
from import_fixtures import districts_frame, shapefile_zip
from test_import_cli import run

from data.importers import ImportError_, UsageError_, read_file, validate_import
from data.importers.gdal import sniff


@pytest.fixture
def districts() -> object:
    import pandas as pd

    return pd.DataFrame(districts_frame())


def test_sniff_by_content_not_name(tmp_path: Path) -> None:
    gpkg = gpkg_two_layers(tmp_path / "x.gpkg").read_bytes()
    assert sniff(gpkg) == "gpkg"
    assert sniff(gpx_two_tracks(tmp_path / "t.gpx").read_bytes()) == "gpx"
    assert sniff(flatgeobuf_points(tmp_path / "p.fgb").read_bytes()) == "flatgeobuf"
    assert sniff(gml_districts(tmp_path / "d.gml").read_bytes()) == "gml"
    assert sniff(b"\xef\xbb\xbf<?xml version='1.0'?>\n<kml xmlns='http://www.opengis.net/kml/2.2'/>") == "kml"
    assert sniff(b"a;b\n1;2\n") is None
    assert sniff(b'{"type": "FeatureCollection", "features": []}') is None
    # the name does not matter: a GeoPackage called .csv is still a GeoPackage
    renamed = tmp_path / "export.csv"
    renamed.write_bytes(gpkg)
    assert read_file(renamed).format == "gpkg"


def test_geopackage_layers_listed_and_chosen(tmp_path: Path, districts) -> None:
    path = gpkg_two_layers(tmp_path / "stadt.gpkg")
    raw = read_file(path)
    assert raw.layers == ["bezirke", "wachen"]
    assert raw.layer == "bezirke" and len(raw) == 2
    assert raw.source_crs == "EPSG:25832"
    # reprojected to WGS84 from the file's CRS, to the same squares
    minx, miny, maxx, maxy = __import__("shapely").total_bounds(list(raw.geometry))
    assert (round(minx, 4), round(miny, 4), round(maxx, 4), round(maxy, 4)) == (7.78, 51.66, 7.86, 51.7)
    report = validate_import("districts", raw, {"district_id": "BEZ_NR", "name": "BEZ_NAME",
                                                "population": "EINWOHNER"})
    assert (report.records_total, report.records_accepted) == (2, 2)
    offices = read_file(path, layer="wachen")
    assert offices.layer == "wachen" and len(offices) == 3
    rep = validate_import("offices", offices, {"office_id": "wache_id", "name": "name", "kind": "art"},
                          districts=districts, lang="en")
    assert (rep.records_accepted, rep.records_rejected) == (2, 1)
    assert rep.errors.iloc[0]["row"] == 3 and "outside every district" in rep.errors.iloc[0]["reason"]
    with pytest.raises(UsageError_, match="Available: bezirke, wachen"):
        read_file(path, layer="nope")


def test_cli_geopackage_layer_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    path = gpkg_two_layers(tmp_path / "stadt.gpkg")
    code, _, _, last = run(["import", "districts", str(path), "--store", str(store), "--layer", "bezirke",
                            "--map", "district_id=BEZ_NR", "--map", "name=BEZ_NAME", "--json"], capsys)
    assert code == 0 and last["records_accepted"] == 2 and last["source_crs"] == "EPSG:25832"
    code, _, _, last = run(["import", "offices", str(path), "--store", str(store), "--layer", "wachen",
                            "--map", "office_id=wache_id", "--map", "kind=art", "--dry-run", "--json",
                            "--lang", "en"], capsys)
    assert code == 0
    assert {k: last[k] for k in ("format", "records_total", "records_accepted", "records_rejected",
                                 "source_crs")} == {"format": "gpkg", "records_total": 3,
                                                    "records_accepted": 2, "records_rejected": 1,
                                                    "source_crs": "EPSG:25832"}
    assert last["bbox"] == [7.8, 51.675, 7.845, 51.68]
    assert last["errors"][0]["row"] == 3
    code, _, err, last = run(["import", "offices", str(path), "--store", str(store), "--layer", "x",
                              "--json"], capsys)
    assert code == 2 and "bezirke, wachen" in err


def test_kmz_folders_become_a_column(tmp_path: Path, districts) -> None:
    raw = read_file(kmz_folders(tmp_path / "schwerpunkte.kmz"))
    assert raw.format == "kmz" and len(raw) == 4
    assert list(raw.frame["folder"]) == ["Innenstadt", "Innenstadt", "Süden", "Süden"]
    assert raw.source_crs == "EPSG:4326"
    name_col = next(c for c in raw.columns if c.lower() == "name")
    rep = validate_import("offices", raw, {"office_id": "@row", "name": name_col, "kind": "folder"},
                          constants={}, districts=districts, lang="en")
    # "Innenstadt"/"Süden" are no office kinds: every record is reported, row by row
    assert rep.records_total == 4
    assert set(rep.errors["row"]) == {1, 2, 3, 4}
    assert "outside every district" in " ".join(rep.errors[rep.errors["row"] == 4]["reason"])
    one = read_file(tmp_path / "schwerpunkte.kmz", layer="Süden")
    assert len(one) == 2 and set(one.frame["folder"]) == {"Süden"}


def test_gpx_waypoints_default_and_track_points(tmp_path: Path) -> None:
    path = gpx_two_tracks(tmp_path / "t.gpx")
    raw = read_file(path)  # no waypoints: the track points are read
    assert raw.format == "gpx" and raw.layer == "track_points" and len(raw) == 9
    assert list(raw.frame["track_name"].unique()) == ["KOD-7", "KOD-9"]
    assert "time" in raw.columns and "ele" in raw.columns
    assert "magvar" not in raw.columns  # empty GPX columns are dropped


def test_flatgeobuf_and_gml(tmp_path: Path, districts) -> None:
    fgb = read_file(flatgeobuf_points(tmp_path / "p.fgb"))
    assert fgb.format == "flatgeobuf" and len(fgb) == 2 and fgb.source_crs == "EPSG:4326"
    rep = validate_import("offices", fgb, {"office_id": "id", "name": "name", "kind": "kind"},
                          districts=districts)
    assert rep.records_accepted == 2
    gml = read_file(gml_districts(tmp_path / "d.gml"))
    assert gml.format == "gml" and len(gml) == 2 and gml.source_crs == "EPSG:25832"
    assert "lowerCorner" not in gml.columns
    rep = validate_import("districts", gml, {"district_id": "bez_id", "name": "bez_name"})
    assert rep.records_accepted == 2


@pytest.mark.parametrize("cut", [100, 5000, -1])
def test_broken_geopackage_is_a_report_not_a_traceback(tmp_path: Path, cut: int,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = gpkg_two_layers(tmp_path / "ok.gpkg").read_bytes()
    bad = tmp_path / "kaputt.gpkg"
    bad.write_bytes(data[:cut] if cut > 0 else data[:16] + b"\x00" * 4096)
    with pytest.raises(ImportError_) as info:
        read_file(bad)
    assert "kaputt.gpkg" in info.value.message("en") and "GeoPackage" in info.value.message("en")
    code, _, err, last = run(["import", "districts", str(bad), "--store", str(tmp_path / "s"), "--json"],
                             capsys)
    assert code == 1 and "Traceback" not in err
    assert last["imported"] is False and "kaputt.gpkg" in last["errors"][0]["reason"]


def test_broken_kml_and_gpx_are_reports(tmp_path: Path) -> None:
    (tmp_path / "a.kml").write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2">'
                                    "<Document><Placemark><Point><coordinates>7.8,", encoding="utf-8")
    (tmp_path / "b.gpx").write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="x"',
                                    encoding="utf-8")
    for name, fmt in (("a.kml", "KML"), ("b.gpx", "GPX")):
        with pytest.raises(ImportError_) as info:
            read_file(tmp_path / name)
        text = info.value.message("en")
        assert text.startswith(f"The file {name} ({fmt}) could not be read: ")
        assert "pyogrio_" not in text and "vsimem" not in text


def test_zip_limits_apply_to_kmz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    path = tmp_path / "gross.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", "<kml>" + " " * 3_000_000 + "</kml>")
    monkeypatch.setenv("LAGEBILD_MAX_UPLOAD_MB", "0.1")
    with pytest.raises(ImportError_) as info:
        read_file(path)
    assert info.value.key == "zip_too_large"


def test_old_readers_keep_their_formats(tmp_path: Path) -> None:
    """Shapefiles keep pyshp (odd .prj, .dbf encoding): GDAL does not take them over."""
    raw = read_file(shapefile_zip(tmp_path / "b.zip"))
    assert raw.format == "shapefile"
    assert list(raw.frame["BEZ_NAME"]) == ["Mitte", "Süd-Höve"]


def test_json_report_line_is_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _, last = run(["import", "offices", str(flatgeobuf_points(tmp_path / "p.fgb")), "--store",
                              str(tmp_path / "s"), "--dry-run", "--json"], capsys)
    assert code == 0 and json.loads(out.strip().splitlines()[-1]) == last
    assert last["format"] == "flatgeobuf" and last["records_accepted"] == 2


def test_gdal_fetches_nothing_from_the_network(tmp_path: Path) -> None:
    """A GML's schemaLocation and a KML NetworkLink point at a local server: GDAL never asks it."""
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gml = gml_districts(tmp_path / "d.gml").read_text(encoding="utf-8")
        gml = gml.replace('xsi:schemaLocation="http://ogr.maptools.org/ d.xsd"',
                          f'xsi:schemaLocation="http://ogr.maptools.org/ http://127.0.0.1:{port}/d.xsd"')
        (tmp_path / "d.xsd").unlink(missing_ok=True)
        (tmp_path / "remote.gml").write_text(gml, encoding="utf-8")
        assert f"127.0.0.1:{port}" in gml
        assert len(read_file(tmp_path / "remote.gml")) == 2
        kml = (f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
               f'<Style id="s"><IconStyle><Icon><href>http://127.0.0.1:{port}/icon.png</href></Icon></IconStyle>'
               f'</Style><NetworkLink><Link><href>http://127.0.0.1:{port}/more.kml</href></Link></NetworkLink>'
               f'<Placemark><name>A</name><styleUrl>http://127.0.0.1:{port}/style.kml#s</styleUrl>'
               f'<Point><coordinates>7.8,51.68</coordinates></Point></Placemark></Document></kml>')
        (tmp_path / "link.kml").write_text(kml, encoding="utf-8")
        with contextlib.suppress(ImportError_):  # refusing the file is fine too; fetching is not
            read_file(tmp_path / "link.kml")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
