"""The validation report: counts, rejections with row/column/value/reason, warnings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from import_fixtures import (
    INSIDE_MITTE,
    INSIDE_SUED,
    MITTE,
    OUTSIDE,
    SUED,
    districts_frame,
    german_excel_csv,
    offices_xlsx,
    open311_json,
    project,
)

from data.importers import ImportError_, UsageError_, prepare_import, read_file, validate_import
from data.importers.pipeline import suggest_mapping


def _csv(tmp_path: Path, text: str, name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _reasons(report, row: int) -> list[str]:
    return report.errors.loc[report.errors["row"] == row, "reason"].tolist()


def test_german_excel_report(tmp_path: Path) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame())
    assert (report.records_total, report.records_accepted, report.records_rejected) == (7, 3, 4)
    assert report.frame["complaint_id"].tolist() == ["B-1", "B-2", "B-7"]
    errors = report.errors.set_index("row")
    assert errors.loc[3, "reason"].startswith("Koordinaten fehlen; Adresse vorhanden")
    assert errors.loc[3, "value"] == "Marktplatz 3"
    assert errors.loc[4, "column"] == "Eingang" and errors.loc[4, "value"] == "31.02.2025"
    assert errors.loc[5, "reason"] == "Punkt liegt in keinem Bezirk (51.5, 7.5)"
    assert errors.loc[6, "reason"].startswith("Breite und Länge vertauscht? Vertauscht läge der Punkt "
                                              "im Bezirk Mitte")
    assert errors.loc[6, "value"] == "7,80, 51,68"  # the original text, decimal commas and all
    first = report.frame.iloc[0]
    assert first["received_at"].isoformat() == "2024-12-31T23:59:00+01:00"
    assert (first["lat"], first["lon"]) == (51.68, 7.80)
    assert first["status"] == "open" and first["address"] == "Marktplatz 1"
    assert report.frame["status"].tolist() == ["open", "closed", "open"]
    assert report.bbox == [7.8, 51.68, 7.845, 51.68] or report.bbox == [7.8, 51.675, 7.845, 51.68]


def test_reasons_in_english(tmp_path: Path) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame(),
                            lang="en")
    assert _reasons(report, 5) == ["point lies outside every district (51.5, 7.5)"]
    assert _reasons(report, 4)[0].startswith("not a date/time")


def test_rejected_rows_csv_has_original_values_and_reasons(tmp_path: Path) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame())
    text = report.rejected_csv().decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str)
    assert frame["Zeile"].tolist() == ["3", "4", "5", "6"]
    assert frame.columns[:3].tolist() == ["Zeile", "Grund", "Vorgangsnummer"]
    assert frame.loc[frame["Zeile"] == "6", "Breite"].item() == "7,80"
    assert "vertauscht" in frame.loc[frame["Zeile"] == "6", "Grund"].item()
    assert "Status" in frame.loc[frame["Zeile"] == "6", "Grund"].item()  # all reasons of the row
    en = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame(),
                        lang="en").rejected_csv().decode("utf-8-sig")
    assert en.splitlines()[0].startswith("row,reason,Vorgangsnummer")


def test_first_record_is_row_one(tmp_path: Path) -> None:
    path = _csv(tmp_path, "id,received,category,lat,lon\n,2024-01-01,laerm,51.68,7.8\n"
                          "b,2024-01-01,laerm,51.68,7.8\n")
    report = prepare_import("complaints", path, mapping={"complaint_id": "id", "received_at": "received"},
                            districts=districts_frame())
    assert report.errors[["row", "column", "reason"]].values.tolist() == [
        [1, "id", "Pflichtwert fehlt"]]


@pytest.mark.parametrize(
    ("lat", "lon", "reason"),
    [
        ("", "", "Koordinaten fehlen"),
        ("0", "0", "0/0 ist kein Ort (Platzhalter für fehlende Koordinaten)"),
        ("95", "100", "Breite 95 liegt außerhalb von -90..90"),
        ("51.68", "190", "Länge 190 liegt außerhalb von -180..180"),
        ("-118.26", "34.07", "Breite und Länge vertauscht? (Breite -118.26 ist unmöglich, Länge 34.07 wäre "
                             "eine Breite)"),
        ("7.845", "51.675", "Breite und Länge vertauscht? Vertauscht läge der Punkt im Bezirk Süd-Höve (02)"),
        ("51.5", "7.5", "Punkt liegt in keinem Bezirk (51.5, 7.5)"),
        ("abc", "7.8", "keine Zahl"),
    ],
)
def test_coordinate_rejections(tmp_path: Path, lat: str, lon: str, reason: str) -> None:
    path = _csv(tmp_path, f"complaint_id,received_at,category,lat,lon\nok,2024-01-01,laerm,51.68,7.8\n"
                          f"bad,2024-01-01,laerm,{lat},{lon}\n")
    report = prepare_import("complaints", path, districts=districts_frame())
    assert report.records_accepted == 1 and report.records_rejected == 1
    assert _reasons(report, 2) == [reason]


def test_missing_coordinates_with_address_without_geocoding(tmp_path: Path) -> None:
    path = _csv(tmp_path, "complaint_id,received_at,category,lat,lon,address\n"
                          "a,2024-01-01,laerm,,,Marktplatz 1\n")
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert _reasons(report, 1) == ["coordinates are missing; an address is present but geocoding is off"]
    assert any("geocoding is off" in n for n in report.notes)


def test_swapped_columns_note(tmp_path: Path) -> None:
    rows = "\n".join(f"c{i},2024-01-01,laerm,{INSIDE_MITTE[1]},{INSIDE_MITTE[0]}" for i in range(4))
    path = _csv(tmp_path, "complaint_id,received_at,category,lat,lon\n" + rows + "\n")
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert report.records_accepted == 0
    assert any("look swapped" in n for n in report.notes)
    fixed = prepare_import("complaints", path, districts=districts_frame(),
                           mapping={"lat": "lon", "lon": "lat"})
    assert fixed.records_accepted == 4


def test_patrol_points_are_not_district_checked(tmp_path: Path) -> None:
    path = _csv(tmp_path, "patrol_id,time,lat,lon\nS-1,2024-01-01T10:00,51.5,7.5\n"
                          f"S-1,2024-01-01T10:01,{INSIDE_MITTE[0]},{INSIDE_MITTE[1]}\n")
    report = prepare_import("patrol_points", path, districts=districts_frame())
    assert report.records_accepted == 2


def test_xy_metres_are_reprojected(tmp_path: Path) -> None:
    pt = project(shapely.Point(INSIDE_MITTE[1], INSIDE_MITTE[0]), "EPSG:25832")
    x, y = f"{pt.x:.2f}".replace(".", ","), f"{pt.y:.2f}".replace(".", ",")
    path = tmp_path / "x.csv"
    path.write_bytes(f"Nr;Datum;Art;Rechtswert;Hochwert\n1;01.02.2024 10:00;Lärm;{x};{y}\n".encode("cp1252"))
    report = prepare_import("complaints", path, districts=districts_frame())
    assert report.records_accepted == 1
    assert report.source_crs == "EPSG:25832"
    assert report.frame["lat"].iloc[0] == pytest.approx(INSIDE_MITTE[0], abs=1e-6)
    assert report.frame["lon"].iloc[0] == pytest.approx(INSIDE_MITTE[1], abs=1e-6)
    custom = prepare_import("complaints", path, districts=districts_frame(), crs="EPSG:31467")
    assert custom.records_accepted == 0  # the same numbers read as Gauss-Krüger lie elsewhere


def test_xy_in_degrees(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"id,date,type,x,y\n1,2024-01-01,laerm,{INSIDE_MITTE[1]},{INSIDE_MITTE[0]}\n")
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert report.records_accepted == 1
    assert any("degrees" in n for n in report.notes)


def test_location_text_fills_missing_lat_lon(tmp_path: Path) -> None:
    path = _csv(tmp_path, "SRNumber,CreatedDate,RequestType,Latitude,Longitude,Location\n"
                          f"1,12/31/2017 11:59:58 PM,Graffiti,{INSIDE_MITTE[0]},{INSIDE_MITTE[1]},\n"
                          f'2,12/31/2017 11:00:00 PM,Graffiti,,,"({INSIDE_SUED[0]}, {INSIDE_SUED[1]})"\n'
                          '3,12/31/2017 10:00:00 PM,Graffiti,,,"Main St"\n')
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert report.records_accepted == 2
    assert report.frame["lat"].tolist() == [INSIDE_MITTE[0], INSIDE_SUED[0]]
    assert _reasons(report, 3) == ['not a coordinate like "(lat, lon)"']


def test_no_districts_means_no_district_check(tmp_path: Path) -> None:
    path = _csv(tmp_path, "complaint_id,received_at,category,lat,lon\n"
                          f"a,2024-01-01,x,{OUTSIDE[0]},{OUTSIDE[1]}\n")
    report = prepare_import("complaints", path, lang="en")
    assert report.records_accepted == 1
    assert any("district membership was not checked" in n for n in report.notes)


def test_optional_field_problems_are_warnings_and_dropped(tmp_path: Path) -> None:
    report = prepare_import("offices", offices_xlsx(tmp_path / "o.xlsx"), districts=districts_frame())
    assert (report.records_total, report.records_accepted, report.records_rejected) == (3, 2, 1)
    assert report.frame["kind"].tolist() == ["citywache", "police_station"]
    assert report.frame["staff"].tolist() == [14, 30]
    assert report.frame["office_id"].tolist() == ["1", "2"]
    assert report.warnings[["row", "column", "value"]].values.tolist() == [[3, "Personal", "viele"]]
    closing = _csv(tmp_path, "complaint_id,received_at,category,lat,lon,status,closed_at\n"
                             "a,2024-01-02,x,51.68,7.8,geheim,2024-01-01\n")
    report = prepare_import("complaints", closing, districts=districts_frame(), lang="en")
    assert report.records_accepted == 1
    assert sorted(report.warnings["reason"]) == ["closed before it was received",
                                                 "must be one of open, in_progress, closed"]
    assert pd.isna(report.frame["status"].iloc[0]) and pd.isna(report.frame["closed_at"].iloc[0])


def test_duplicate_ids_reject_the_later_record(tmp_path: Path) -> None:
    path = _csv(tmp_path, "complaint_id,received_at,category,lat,lon\na,2024-01-01,x,51.68,7.8\n"
                          "a,2024-01-02,x,51.68,7.8\n")
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert report.errors[["row", "reason"]].values.tolist() == [[2, "duplicate id (already used above)"]]


def test_nothing_dropped_without_being_listed(tmp_path: Path) -> None:
    for report in (
        prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame()),
        prepare_import("offices", offices_xlsx(tmp_path / "o.xlsx"), districts=districts_frame()),
        prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame()),
    ):
        assert report.records_accepted + report.records_rejected == report.records_total
        rejected_rows = set(report.errors["row"].dropna().astype(int))
        assert len(rejected_rows) == report.records_rejected == len(report.rejected)


def test_open311_report(tmp_path: Path) -> None:
    report = prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame(),
                            lang="en")
    assert (report.records_total, report.records_accepted) == (4, 2)
    f = report.frame
    assert f["complaint_id"].tolist() == ["A-1", "A-2"]
    assert f["status"].tolist() == ["open", "closed"]
    assert pd.isna(f["closed_at"].iloc[0])
    assert f["closed_at"].iloc[1].isoformat() == "2024-03-05T12:00:00+01:00"
    assert f["category"].tolist() == ["ampel_defekt", "wilder_muell"]
    assert set(report.new_categories["label_de"]) == {"Ampel defekt", "Wilder Müll"}
    assert _reasons(report, 3) == ["coordinates are missing; an address is present but geocoding is off"]
    assert _reasons(report, 4) == ["coordinates are missing"]
    assert report.source_crs == "EPSG:4326"


def test_open311_only_as_complaints(tmp_path: Path) -> None:
    with pytest.raises(ImportError_) as exc:
        prepare_import("offices", open311_json(tmp_path / "o.json"))
    assert "complaints" in exc.value.message("en")


def test_categories_match_labels_and_take_fields(tmp_path: Path) -> None:
    existing = pd.DataFrame({"category": ["laerm"], "field": ["nachbarschaft"],
                             "label_de": ["Lärmbelästigung"], "label_en": ["Noise nuisance"]})

    class FakeStore:
        def read_dataset(self, name: str) -> pd.DataFrame:
            return {"categories": existing, "districts": districts_frame()}[name]

        def remembered_mapping(self, kind: str, columns: list[str]) -> None:
            return None

    path = _csv(tmp_path, "complaint_id,received_at,category,lat,lon,Handlungsfeld\n"
                          "a,2024-01-01,LÄRMBELÄSTIGUNG,51.68,7.8,\n"
                          "b,2024-01-01,noise nuisance,51.68,7.8,\n"
                          "c,2024-01-01,Graffiti,51.68,7.8,Sichere Infrastruktur\n"
                          "d,2024-01-01,Graffiti,51.68,7.8,\n")
    report = prepare_import("complaints", path, store=FakeStore())  # type: ignore[arg-type]
    assert report.frame["category"].tolist() == ["laerm", "laerm", "graffiti", "graffiti"]
    assert report.new_categories.to_dict("records") == [
        {"category": "graffiti", "field": "infrastruktur", "label_de": "Graffiti", "label_en": None}]


FAR = shapely.box(7.9, 51.66, 7.95, 51.70)


def test_polygons_repaired_collections_and_parents(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[7.7, 51.6], [7.75, 51.65], [7.75, 51.6], [7.7, 51.65],
                                                  [7.7, 51.6]]]}
    feats = [
        {"type": "Feature", "properties": {"id": "1", "name": "Schleife", "parent": "9"}, "geometry": bowtie},
        {"type": "Feature", "properties": {"id": "2", "name": "Sammlung", "parent": "1"},
         "geometry": {"type": "GeometryCollection", "geometries": [
             shapely.geometry.mapping(MITTE), shapely.geometry.mapping(FAR),
             {"type": "Point", "coordinates": [7, 51]}]}},
        {"type": "Feature", "properties": {"id": "3", "name": "Punkt"},
         "geometry": {"type": "Point", "coordinates": [7, 51]}},
    ]
    path = tmp_path / "d.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    report = prepare_import("districts", path, lang="en")
    assert report.frame["district_id"].tolist() == ["1", "2"]
    assert report.frame["geometry"].iloc[0].is_valid
    assert report.frame["geometry"].iloc[1].geom_type == "MultiPolygon"
    # the unknown parent is dropped and listed as a warning
    assert [None if pd.isna(v) else v for v in report.frame["parent_id"]] == [None, "1"]
    assert _reasons(report, 3) == ["must be a Polygon or MultiPolygon"]
    assert set(report.warnings["row"]) == {1}
    assert any("repaired" in n for n in report.notes)


def test_points_are_no_districts(tmp_path: Path) -> None:
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {"district_id": "1", "name": "x"},
                                "geometry": {"type": "Point", "coordinates": [7, 51]}}), encoding="utf-8")
    with pytest.raises(ImportError_) as exc:
        prepare_import("districts", path)
    assert exc.value.message("de") == "p.geojson: districts braucht Flächen (Polygone); die Datei hat Point."


def test_bare_geometry_with_row_numbers_and_constants(tmp_path: Path) -> None:
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps({"type": "GeometryCollection", "geometries": [
        shapely.geometry.mapping(MITTE), shapely.geometry.mapping(SUED)]}), encoding="utf-8")
    with pytest.raises(ImportError_):
        prepare_import("focus_areas", path)
    report = prepare_import("focus_areas", path, mapping={"area_id": "@row"},
                            constants={"name": "Innenstadt", "kind": "Angstraum"})
    assert report.frame["area_id"].tolist() == ["1", "2"]
    assert report.frame["kind"].tolist() == ["angstraum", "angstraum"]


def test_constants_fill_required_fields(tmp_path: Path) -> None:
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"@id": "node/1", "name": "Wache"},
         "geometry": {"type": "Point", "coordinates": [INSIDE_MITTE[1], INSIDE_MITTE[0], 70.0]}}]}),
        encoding="utf-8")
    with pytest.raises(ImportError_) as exc:
        prepare_import("offices", path)
    assert exc.value.key == "required_unmapped" and "kind" in exc.value.message("en")
    report = prepare_import("offices", path, constants={"kind": "police_station"},
                            districts=districts_frame())
    assert report.records_accepted == 1 and report.frame["office_id"].iloc[0] == "node/1"
    assert report.source_crs == "OGC:CRS84"


@pytest.mark.parametrize(
    ("mapping", "constants", "key"),
    [
        ({"beschwerde": "id"}, None, "map_field"),
        ({"complaint_id": "nope"}, None, "map_column"),
        ({}, {"farbe": "rot"}, "map_field"),
    ],
)
def test_usage_errors(tmp_path: Path, mapping: dict, constants: dict | None, key: str) -> None:
    path = _csv(tmp_path, "id,received_at,category,lat,lon\n1,2024-01-01,x,51.68,7.8\n")
    with pytest.raises(UsageError_) as exc:
        prepare_import("complaints", path, mapping=mapping, constants=constants)
    assert exc.value.key == key


def test_unknown_kind_and_timezone(tmp_path: Path) -> None:
    path = _csv(tmp_path, "id\n1\n")
    with pytest.raises(UsageError_) as exc:
        prepare_import("beschwerden", path)
    assert "complaints" in exc.value.message("de")
    with pytest.raises(UsageError_):
        prepare_import("complaints", _csv(tmp_path, "complaint_id,received_at,category,lat,lon\n"
                                                    "a,2024-01-01,x,51.68,7.8\n", "y.csv"),
                       timezone="Mars/Olympus")


def test_suggest_mapping_origins(tmp_path: Path) -> None:
    raw = read_file(open311_json(tmp_path / "o.json"))
    proposal = suggest_mapping("complaints", raw, overrides={"description": "", "address": "zipcode"})
    assert proposal.origin["complaint_id"] == "file"
    assert proposal.origin["address"] == "user" and proposal.mapping["address"] == "zipcode"
    assert "description" not in proposal.mapping


def test_report_to_dict_shape(tmp_path: Path) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), districts=districts_frame())
    d = report.to_dict(max_errors=2)
    for key in ("kind", "records_total", "records_accepted", "records_rejected", "source_crs", "bbox",
                "errors", "errors_count"):
        assert key in d
    assert len(d["errors"]) == 2 and d["errors_count"] == 4
    assert set(d["errors"][0]) == {"row", "column", "value", "reason"}
    json.dumps(d)


def test_validate_import_reuses_a_read_file(tmp_path: Path) -> None:
    raw = read_file(german_excel_csv(tmp_path / "b.csv"))
    a = validate_import("complaints", raw, districts=districts_frame())
    b = validate_import("complaints", raw, {**suggest_mapping("complaints", raw).mapping, "description": ""},
                        districts=districts_frame())
    assert a.records_accepted == b.records_accepted == 3
    assert a.frame["description"].notna().all() and b.frame["description"].isna().all()


def test_many_records(tmp_path: Path) -> None:
    """200,000 German-Excel rows import completely (speed: bench/analytics.py)."""
    n = 200_000
    rng = np.random.default_rng(1)
    lat = rng.uniform(51.66, 51.70, n)
    lon = rng.uniform(7.78, 7.86, n)
    frame = pd.DataFrame({"Nr": np.arange(n), "Datum": "31.12.2024 10:00", "Art": "Lärm",
                          "Breite": [f"{v:.5f}".replace(".", ",") for v in lat],
                          "Länge": [f"{v:.5f}".replace(".", ",") for v in lon]})
    path = tmp_path / "big.csv"
    frame.to_csv(path, sep=";", index=False, encoding="cp1252")
    report = prepare_import("complaints", path, districts=districts_frame())
    assert report.records_accepted == n


def test_staff_incidents_german_values(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_bytes("Vorfall-Nr;Tatzeit;Art;Breite;Länge;Während;verletzt;angezeigt\n"
                     "V1;01.03.2024 22:15;Bedrohung;51,68;7,80;Streife;nein;ja\n"
                     "V2;02.03.2024 01:00;körperlich;51,675;7,845;Büro;ja;vielleicht\n"
                     .encode("cp1252"))
    report = prepare_import("staff_incidents", path, districts=districts_frame(), lang="en")
    assert report.records_accepted == 2
    f = report.frame
    assert f["kind"].tolist() == ["threat", "physical"]
    assert f["during"].tolist() == ["kod_patrol", "office"]
    assert f["injured"].tolist() == [False, True]
    assert f["reported_to_police"].iloc[0] and pd.isna(f["reported_to_police"].iloc[1])
    assert report.warnings[["row", "column", "reason"]].values.tolist() == [
        [2, "angezeigt", "must be true or false (ja/nein)"]]
