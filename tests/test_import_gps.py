"""GPS fixes (GPX tracks, CSV logs) imported as patrols + patrol_points."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from gis_fixtures import device_mapping_csv, fixes_csv, gpx_two_tracks
from import_fixtures import districts_frame, shapefile_zip
from test_import_cli import run

from data.folder import read_folder
from data.importers import UsageError_, read_file
from data.importers.gps import parse_device_mapping, prepare_gps_import, suggest_gps_mapping, validate_gps
from data.store import Store


@pytest.fixture
def districts() -> pd.DataFrame:
    return pd.DataFrame(districts_frame())


def test_gpx_two_tracks_and_a_gap(tmp_path: Path, districts: pd.DataFrame) -> None:
    report = prepare_gps_import(gpx_two_tracks(tmp_path / "t.gpx"), districts=districts,
                                constants={"kind": "kod", "staff": "2"}, lang="en")
    assert (report.records_total, report.records_accepted, report.records_rejected) == (9, 7, 2)
    assert report.patrols_formed == 3
    patrols = report.related["patrols"]
    assert list(patrols["patrol_id"]) == ["KOD-7-20260504-1000", "KOD-7-20260504-1130", "KOD-9-20260504-1000"]
    assert list(patrols["kind"]) == ["kod"] * 3 and list(patrols["staff"]) == [2, 2, 2]
    assert list(patrols["unit"]) == ["KOD-7", "KOD-7", "KOD-9"]
    assert list(patrols["district_id"]) == ["01", "01", "02"]
    assert patrols.iloc[0]["end"] - patrols.iloc[0]["start"] == pd.Timedelta(minutes=3)
    errors = report.errors.set_index("row")
    assert errors.loc[3, "reason"] == ("impossible speed: 211 km/h since the previous fix "
                                       "(row 2; limit 50 km/h)")
    assert errors.loc[8, "reason"] == "point lies outside every district (51.5, 7.5)"
    points = report.frame
    assert points.groupby("patrol_id").size().to_dict() == {
        "KOD-7-20260504-1000": 3, "KOD-7-20260504-1130": 2, "KOD-9-20260504-1000": 2}
    assert report.to_dict()["patrols_formed"] == 3
    assert report.source_crs == "EPSG:4326"


def test_gap_and_speed_are_configurable(tmp_path: Path, districts: pd.DataFrame) -> None:
    path = gpx_two_tracks(tmp_path / "t.gpx")
    wide = prepare_gps_import(path, districts=districts, constants={"kind": "kod"}, gap_minutes=120)
    assert wide.patrols_formed == 2
    fast = prepare_gps_import(path, districts=districts, constants={"kind": "kod"}, max_speed_kmh=300)
    assert fast.records_rejected == 1  # only the fix outside every district
    with pytest.raises(UsageError_):
        prepare_gps_import(path, districts=districts, constants={"kind": "kod"}, gap_minutes=0)


def test_kind_is_never_guessed(tmp_path: Path, districts: pd.DataFrame) -> None:
    with pytest.raises(UsageError_) as info:
        prepare_gps_import(gpx_two_tracks(tmp_path / "t.gpx"), districts=districts)
    assert info.value.key == "gps_no_kind"
    with pytest.raises(UsageError_):
        prepare_gps_import(tmp_path / "t.gpx", districts=districts, constants={"kind": "fahrrad"})


def test_csv_of_fixes_with_device_mapping(tmp_path: Path, districts: pd.DataFrame) -> None:
    devices = parse_device_mapping(device_mapping_csv(tmp_path / "geraete.csv"))
    assert devices == {"Florian 1": {"kind": "kod", "staff": 2, "unit": None},
                       "Adler 2": {"kind": "joint", "staff": 3, "unit": None}}
    raw = read_file(fixes_csv(tmp_path / "fixes.csv"))
    mapping = suggest_gps_mapping(raw)
    assert mapping == {"time": "Zeitpunkt", "x": "Rechtswert", "y": "Hochwert", "device": "Funkrufname"}
    report = validate_gps(raw, mapping, devices=devices, districts=districts, lang="en")
    assert (report.records_total, report.records_accepted, report.records_rejected) == (8, 7, 1)
    assert report.errors.iloc[0]["row"] == 6 and report.errors.iloc[0]["value"] == "gestern"
    assert report.source_crs == "EPSG:25832"
    patrols = report.related["patrols"].set_index("patrol_id")
    assert list(patrols.index) == ["Adler 2-20260504-1000", "Florian 1-20260504-1000",
                                   "Florian 1-20260504-1047"]
    assert list(patrols["kind"]) == ["joint", "kod", "kod"] and list(patrols["staff"]) == [3, 2, 2]
    # an unmapped device is rejected per row, the others imported
    only_florian = {"Florian 1": devices["Florian 1"]}
    partial = validate_gps(raw, mapping, devices=only_florian, districts=districts, lang="en")
    adler = partial.errors[partial.errors["reason"].str.contains("not in the device mapping")]
    assert sorted(adler["row"]) == [3, 5] and partial.patrols_formed == 2


def test_toml_device_mapping(tmp_path: Path) -> None:
    path = tmp_path / "geraete.toml"
    path.write_text('[devices."KOD-7"]\nkind = "kod"\nstaff = 2\n[devices."POL-1"]\nkind = "Polizei"\n',
                    encoding="utf-8")
    assert parse_device_mapping(path) == {"KOD-7": {"kind": "kod", "staff": 2, "unit": None},
                                          "POL-1": {"kind": "police", "staff": None, "unit": None}}
    path.write_text('[devices."X"]\nkind = "hund"\n', encoding="utf-8")
    with pytest.raises(UsageError_, match="hund"):
        parse_device_mapping(path)


def test_cli_gps_json_and_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    code, *_ = run(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(store)],
                   capsys)
    assert code == 0
    gpx = gpx_two_tracks(tmp_path / "t.gpx")
    code, _, err, last = run(["import", "gps", str(gpx), "--store", str(store), "--json"], capsys)
    assert code == 2 and "nie geraten" in err and last["imported"] is False
    code, _, _, last = run(["import", "gps", str(gpx), "--store", str(store), "--set", "kind=kod", "--json",
                            "--dry-run"], capsys)
    assert code == 0
    assert {k: last[k] for k in ("kind", "records_total", "records_accepted", "records_rejected",
                                 "source_crs", "errors_count", "patrols_formed")} == {
        "kind": "gps", "records_total": 9, "records_accepted": 7, "records_rejected": 2,
        "source_crs": "EPSG:4326", "errors_count": 2, "patrols_formed": 3}
    assert last["bbox"] == [7.8, 51.675, 7.846, 51.684]
    code, _, _, last = run(["import", "gps", str(fixes_csv(tmp_path / "f.csv")), "--store", str(store),
                            "--devices", str(device_mapping_csv(tmp_path / "g.csv")), "--gap-minutes", "60",
                            "--json"], capsys)
    assert code == 0 and last["patrols_formed"] == 2 and last["imported"] is True
    frames = Store(store).frames()
    assert len(frames["patrols"]) == 2 and len(frames["patrol_points"]) == 7
    _, _, errors = read_folder(Store(store).current_folder())
    assert errors.empty
