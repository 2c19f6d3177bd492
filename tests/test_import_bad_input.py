"""Bad input: a clear message for each, never a traceback, and the store unchanged."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from import_fixtures import shapefile_zip, tree_hash

from data.cli import main
from data.importers import ImportError_, prepare_import, read_file


def _zip_without_shp(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bezirke.dbf", b"\x03")
        zf.writestr("liesmich.txt", "keine Geometrie")


def _zip_without_dbf(path: Path) -> None:
    src = shapefile_zip(path.with_suffix(".src.zip"))
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for n in zin.namelist():
            if not n.endswith(".dbf"):
                zout.writestr(n, zin.read(n))


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


BAD_INPUTS: list[tuple[str, str, Callable[[Path], None], str, str]] = [
    # (id, file name, writer, message key, a piece of the German message)
    ("empty", "leer.csv", _bytes(b""), "file_empty", "ist leer"),
    ("whitespace", "leer.geojson", _bytes(b" \r\n\t\n"), "file_empty", "ist leer"),
    ("bom-only", "bom.csv", _bytes(b"\xef\xbb\xbf"), "file_empty", "ist leer"),
    ("binary", "daten.csv", _bytes(bytes(range(256)) * 8), "binary_garbage", "Binärdaten"),
    ("truncated-json", "kaputt.json", _bytes(b'[{"service_request_id": "A-1", "lat": 51.6'), "json_bad",
     "abgeschnitten"),
    ("truncated-geojson", "kaputt.geojson",
     _bytes(b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Po'),
     "json_bad", "Zeile 1"),
    ("json-unknown", "x.json", _bytes(b'{"hello": "world"}'), "json_unknown", "weder GeoJSON"),
    ("zip-without-shp", "bezirke.zip", _zip_without_shp, "zip_no_shp", "liesmich.txt"),
    ("zip-without-dbf", "bezirke.zip", _zip_without_dbf, "zip_no_dbf", "bezirke.dbf"),
    ("broken-zip", "bezirke.zip", _bytes(b"PK\x03\x04" + b"\x00garbage" * 10), "zip_bad", "kein lesbares"),
    ("csv-no-usable-column", "farben.csv", _bytes("Farbe;Größe\nrot;groß\nblau;klein\n".encode("cp1252")),
     "no_usable_column", "keine verwendbare Spalte"),
    ("csv-header-only", "kopf.csv", _bytes(b"complaint_id,received_at,category,lat,lon\n"), "no_records",
     "keine Datensätze"),
    ("xls", "alt.xls", _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100), "xls_unsupported",
     ".xlsx"),
    ("gzip", "daten.csv.gz", _bytes(gzip.compress(b"a,b\n1,2\n")), "gzip_unsupported", "entpacken"),
    ("bare-shp", "bezirke.shp", _bytes(b"\x00\x00\x27\x0a" + b"\x00" * 96), "bare_shp", "als ZIP"),
    ("broken-xlsx", "liste.xlsx",
     lambda p: p.write_bytes(_xlsx_like()), "xlsx_bad", "keine lesbare Excel-Datei"),
]


def _xlsx_like() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<nope/>")
        zf.writestr("xl/workbook.xml", "<kaputt")
    return buf.getvalue()


@pytest.fixture
def store_with_districts(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    assert main(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(root)]) == 0
    return root


@pytest.mark.parametrize(("name", "writer", "key", "text"),
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_message(tmp_path: Path, name: str, writer: Callable[[Path], None], key: str,
                           text: str) -> None:
    path = tmp_path / name
    writer(path)
    with pytest.raises(ImportError_) as exc:
        prepare_import("complaints", path)
    assert exc.value.key == key
    assert text in exc.value.message("de")
    assert exc.value.message("en") and exc.value.message("en") != exc.value.message("de")


@pytest.mark.parametrize(("name", "writer", "key", "text"),
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_leaves_store_unchanged(tmp_path: Path, store_with_districts: Path, name: str,
                                          writer: Callable[[Path], None], key: str, text: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    writer(path)
    before = tree_hash(store_with_districts)
    capsys.readouterr()
    code = main(["import", "complaints", str(path), "--store", str(store_with_districts), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert text in err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["records_accepted"] == 0 and last["errors_count"] == 1
    assert tree_hash(store_with_districts) == before


def test_bad_input_into_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leer.csv"
    path.write_bytes(b"")
    root = tmp_path / "nostore"
    assert main(["import", "complaints", str(path), "--store", str(root)]) == 1
    assert not root.exists()


def test_oversized_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_with_districts: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gross.csv"
    path.write_bytes(b"complaint_id,received_at,category,lat,lon\n" + b"a,2024-01-01,x,51.68,7.8\n" * 200)
    monkeypatch.setenv("LAGEBILD_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(ImportError_) as exc:
        read_file(path)
    assert exc.value.key == "file_too_large"
    text = exc.value.message("de")
    assert text == ("Die Datei gross.csv ist zu groß: 0.00481 MB (Grenze 0.000999 MB, einstellbar mit "
                    "LAGEBILD_MAX_UPLOAD_MB).")
    before = tree_hash(store_with_districts)
    assert main(["import", "complaints", str(path), "--store", str(store_with_districts)]) == 1
    assert tree_hash(store_with_districts) == before
    monkeypatch.delenv("LAGEBILD_MAX_UPLOAD_MB")
    assert main(["import", "complaints", str(path), "--store", str(store_with_districts),
                 "--max-upload-mb", "0.001"]) == 1
    assert "zu groß" in capsys.readouterr().err


def test_oversized_upload_object_is_refused_before_reading() -> None:
    class Upload:
        name = "riesig.csv"
        size = 300 * 1024 * 1024

        def getvalue(self) -> bytes:
            raise AssertionError("must not be read")

    with pytest.raises(ImportError_) as exc:
        read_file(Upload(), max_upload_mb=200)
    assert exc.value.message("en").startswith("The file riesig.csv is too large: 300 MB (limit 200 MB")


def test_default_limit_is_200_mb(monkeypatch: pytest.MonkeyPatch) -> None:
    from data.importers import max_upload_bytes

    monkeypatch.delenv("LAGEBILD_MAX_UPLOAD_MB", raising=False)
    assert max_upload_bytes() == 200 * 1024 * 1024
    monkeypatch.setenv("LAGEBILD_MAX_UPLOAD_MB", "viel")
    with pytest.raises(ValueError, match="LAGEBILD_MAX_UPLOAD_MB"):
        max_upload_bytes()


def test_xlsx_that_unpacks_too_large_is_refused_before_reading(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An XLSX is a zip: its unpacked size is checked before openpyxl reads any row."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", " " * 2_000_000)  # compresses to almost nothing
    path = tmp_path / "bombe.xlsx"
    path.write_bytes(buf.getvalue())
    monkeypatch.setenv("LAGEBILD_MAX_UPLOAD_MB", "0.1")  # the file itself is far below this
    with pytest.raises(ImportError_) as exc:
        read_file(path)
    assert exc.value.key == "zip_too_large"
