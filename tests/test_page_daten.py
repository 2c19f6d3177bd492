"""AppTest of the Daten page: upload, mapping, report, import, restore, source switch."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from import_fixtures import german_excel_csv, open311_json, shapefile_zip, tree_hash
from streamlit.testing.v1 import AppTest

from data.store import Store

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("LAGEBILD_STORE", str(root))
    monkeypatch.delenv("LAGEBILD_DATA", raising=False)
    return root


def daten_page() -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    at.switch_page("pages/daten.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    """The first table showing ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _upload(at: AppTest, kind: str, name: str, data: bytes) -> None:
    at.selectbox(key="dt_kind").set_value(kind).run()
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.message for e in at.exception]


def test_daten_flow(store_root: Path, tmp_path: Path) -> None:
    at = daten_page()
    assert at.title[0].value == "Daten"
    assert "Demo-Daten" in _texts(at.markdown)
    assert _frame(at, "Stand").shape[0] == 8

    # 1. districts from a zipped Shapefile (false easting 2,500,000, cp1252 .dbf)
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    assert at.selectbox(key="dt_map_district_id").value == "BEZ_NR"
    assert at.selectbox(key="dt_map_name").value == "BEZ_NAME"
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "2", "Übernommen": "2", "Abgelehnt": "0"}
    at.button(key="dt_import").click().run()
    assert not at.exception
    success = _texts(at.success)
    assert "Bezirke: Version 1 gespeichert (2 Datensätze aus bezirke.zip)." in success
    assert "keine Beschwerden oder Streifen" in success  # not shown yet: nothing to show per quarter
    assert Store(store_root).generation == 1 and not Store(store_root).is_active()

    # 2. complaints from a German Excel CSV: proposed mapping, one field unmapped by the user
    _upload(at, "complaints", "beschwerden.csv", german_excel_csv(tmp_path / "b.csv").read_bytes())
    assert at.selectbox(key="dt_map_complaint_id").value == "Vorgangsnummer"
    assert at.selectbox(key="dt_map_lat").value == "Breite"
    at.selectbox(key="dt_map_description").set_value("").run()
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "7", "Übernommen": "3", "Abgelehnt": "4"}
    errors = _frame(at, "Grund")
    assert errors["Zeile"].tolist() == [3, 4, 5, 6]
    assert errors.loc[errors["Zeile"] == 5, "Grund"].item() == "Punkt liegt in keinem Bezirk (51.5, 7.5)"
    assert [b.label for b in at.get("download_button")] == ["Abgelehnte Datensätze als CSV herunterladen"]
    at.button(key="dt_import").click().run()
    assert not at.exception
    assert "Beschwerden: Version 2 gespeichert (3 Datensätze aus beschwerden.csv)." in _texts(at.success)
    store = Store(store_root)
    assert store.is_active()
    assert store.read_dataset("complaints")["description"].isna().all()  # the user's mapping was used
    assert "importierten Daten" in _texts(at.markdown)
    assert "Importierte Daten" in _texts(at.sidebar.caption)

    # 3. a second complaints version (Open311), then restore version 2
    _upload(at, "complaints", "sagsuns.json", open311_json(tmp_path / "o.json").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    assert Store(store_root).read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    versions = _frame(at, "Aktion")
    assert list(dict.fromkeys(versions["Version"])) == [3, 2, 1]
    assert "Kategorien" in versions.loc[versions["Version"] == 3, "Datensatz"].tolist()
    at.selectbox(key="dt_restore_version").set_value(2).run()
    at.selectbox(key="dt_restore_dataset").set_value("complaints").run()
    at.button(key="dt_restore").click().run()
    assert not at.exception
    assert "Version 2 wiederhergestellt (neue Version 4)." in _texts(at.success)
    assert Store(store_root).read_dataset("complaints")["complaint_id"].tolist() == ["B-1", "B-2", "B-7"]

    # 4. switch back to the demo and again to the imported data
    at.radio(key="dt_source").set_value("demo").run()
    assert not Store(store_root).is_active()
    assert "Demo-Daten" in _texts(at.markdown)
    assert any("Demo-Daten (synthetisch)" in w.value for w in at.sidebar.warning)
    at.radio(key="dt_source").set_value("store").run()
    assert Store(store_root).is_active()


def test_bad_upload_shows_a_message_and_changes_nothing(store_root: Path, tmp_path: Path) -> None:
    at = daten_page()
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    before = tree_hash(store_root)
    for name, data, text in (
        ("leer.csv", b"", "ist leer"),
        ("kaputt.json", b'{"type": "FeatureCollection", "features": [', "kein gültiges JSON"),
        ("bezirke.zip", _zip_without_shp(), "enthält kein Shapefile"),
        ("muell.csv", bytes(range(256)) * 4, "Binärdaten"),
    ):
        _upload(at, "complaints", name, data)
        assert text in _texts(at.error), name
        assert not [b for b in at.button if b.key == "dt_check"]
    assert tree_hash(store_root) == before


def test_switching_to_an_incomplete_store_is_refused(store_root: Path, tmp_path: Path) -> None:
    at = daten_page()
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    at.radio(key="dt_source").set_value("store").run()
    assert not at.exception
    assert "keine Beschwerden oder Streifen" in _texts(at.error)
    assert at.radio(key="dt_source").value == "demo"
    assert not Store(store_root).is_active()


def _zip_without_shp() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("liesmich.txt", "nichts")
    return buf.getvalue()


def test_english_and_a_broken_data_folder(store_root: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.query_params["lang"] = "en"
    at.run()
    at.switch_page("pages/daten.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Data"
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Records": "2", "Accepted": "2", "Rejected": "0"}
    # the chrome stops on data it cannot load; this page still opens so the admin can act
    broken = tmp_path / "kaputt"
    broken.mkdir()
    monkeypatch.setenv("LAGEBILD_DATA", str(broken))
    at = daten_page()
    assert at.title[0].value == "Daten"
    assert "lassen sich nicht anzeigen" in _texts(at.warning)
    assert "`LAGEBILD_DATA` ist gesetzt" in _texts(at.info)


def test_geopackage_layer_and_gps_import(store_root: Path, tmp_path: Path) -> None:
    from gis_fixtures import device_mapping_csv, fixes_csv, gpkg_two_layers, gpx_two_tracks

    at = daten_page()
    gpkg = gpkg_two_layers(tmp_path / "stadt.gpkg").read_bytes()
    # 1. a GeoPackage: its layers are listed, the first with features is proposed
    _upload(at, "districts", "stadt.gpkg", gpkg)
    assert at.selectbox(key="dt_layer").options == ["bezirke (Standard)", "bezirke", "wachen"]
    at.selectbox(key="dt_map_district_id").set_value("BEZ_NR").run()
    at.selectbox(key="dt_map_name").set_value("BEZ_NAME").run()
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "2", "Übernommen": "2", "Abgelehnt": "0"}
    at.button(key="dt_import").click().run()
    assert not at.exception
    # the other layer of the same file, as offices: the outside point is reported by row
    _upload(at, "offices", "stadt.gpkg", gpkg)
    at.selectbox(key="dt_layer").set_value("wachen").run()
    assert not at.exception
    at.selectbox(key="dt_map_office_id").set_value("wache_id").run()
    at.selectbox(key="dt_map_kind").set_value("art").run()
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "3", "Übernommen": "2", "Abgelehnt": "1"}
    assert _frame(at, "Grund")["Zeile"].tolist() == [3]

    # 2. GPS: a GPX with two tracks; the kind must be chosen, then patrols are formed
    _upload(at, "gps", "touren.gpx", gpx_two_tracks(tmp_path / "t.gpx").read_bytes())
    assert at.selectbox(key="dt_map_device").value == "track_name"
    assert at.selectbox(key="dt_map_time").value == "time"
    at.button(key="dt_check").click().run()
    assert "nie geraten" in _texts(at.error)
    at.selectbox(key="dt_gps_kind").set_value("kod").run()
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "9", "Übernommen": "7", "Abgelehnt": "2", "Streifen gebildet": "3"}
    assert _frame(at, "Grund")["Zeile"].tolist() == [3, 8]
    at.button(key="dt_import").click().run()
    assert not at.exception
    store = Store(store_root)
    assert len(store.read_dataset("patrols")) == 3 and len(store.read_dataset("patrol_points")) == 7

    # 3. a CSV of fixes from two radio units with a device mapping file
    _upload(at, "gps", "fixes.csv", fixes_csv(tmp_path / "f.csv").read_bytes())
    at.selectbox(key="dt_gps_kind").set_value("").run()
    at.file_uploader(key="dt_gps_devices").set_value(
        ("geraete.csv", device_mapping_csv(tmp_path / "g.csv").read_bytes(), "text/csv")).run()
    assert at.selectbox(key="dt_map_device").value == "Funkrufname"
    at.button(key="dt_check").click().run()
    assert not at.exception
    assert _metrics(at)["Streifen gebildet"] == "3"
    assert _metrics(at)["Abgelehnt"] == "1"
