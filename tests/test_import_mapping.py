"""Column mapping and value conversion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.importers.mapping import (
    COMPOSED_ADDRESS,
    add_derived_columns,
    column_values,
    normalise_enum,
    normalise_name,
    parse_datetimes,
    parse_numbers,
    propose_mapping,
    shape_key,
    slug,
)
from data.importers.pipeline import parse_latlon_text


@pytest.mark.parametrize(
    ("columns", "kind", "expected"),
    [
        (["lat", "lon", "complaint_id", "received_at", "category"], "complaints",
         {"lat": "lat", "lon": "lon", "complaint_id": "complaint_id", "received_at": "received_at",
          "category": "category"}),
        (["Vorgangsnummer", "Eingangsdatum", "Kategorie", "Breite", "Länge", "Straße", "Hausnummer"],
         "complaints", {"complaint_id": "Vorgangsnummer", "received_at": "Eingangsdatum",
                        "category": "Kategorie", "lat": "Breite", "lon": "Länge",
                        "address": COMPOSED_ADDRESS}),
        (["SRNumber", "CreatedDate", "RequestType", "Status", "ClosedDate", "Latitude", "Longitude",
          "Location", "Address", "RequestSource"], "complaints",
         {"complaint_id": "SRNumber", "received_at": "CreatedDate", "category": "RequestType",
          "status": "Status", "closed_at": "ClosedDate", "lat": "Latitude", "lon": "Longitude",
          "latlon": "Location", "address": "Address", "source": "RequestSource"}),
        (["ID", "Rechtswert", "Hochwert", "Datum", "Art"], "complaints",
         {"complaint_id": "ID", "x": "Rechtswert", "y": "Hochwert", "received_at": "Datum",
          "category": "Art"}),
        (["lng", "LAT", "Nr", "Zeitpunkt", "Thema"], "complaints",
         {"lon": "lng", "lat": "LAT", "complaint_id": "Nr", "received_at": "Zeitpunkt", "category": "Thema"}),
        (["STB_NR", "STB_NAME", "SHAPE_AREA", "SHAPE_LEN"], "districts",
         {"district_id": "STB_NR", "name": "STB_NAME"}),
        (["Bezirksnummer", "Bezirksname", "Einwohner", "Teamleitung", "E-Mail", "Telefon"], "districts",
         {"district_id": "Bezirksnummer", "name": "Bezirksname", "population": "Einwohner",
          "team_lead": "Teamleitung", "email": "E-Mail", "phone": "Telefon"}),
        (["@id", "name", "amenity", "operator", "phone", "contact:phone", "addr:street",
          "addr:housenumber", "opening_hours"], "offices",
         {"office_id": "@id", "name": "name", "kind": "amenity", "operator": "operator",
          "phone": "phone|contact:phone", "address": COMPOSED_ADDRESS, "opening_hours": "opening_hours"}),
        (["Streifen-Nr", "Beginn", "Ende", "Art", "Einheit", "Bezirk"], "patrols",
         {"patrol_id": "Streifen-Nr", "start": "Beginn", "end": "Ende", "kind": "Art", "unit": "Einheit",
          "district_id": "Bezirk"}),
        (["Kategorie", "Handlungsfeld", "Bezeichnung", "Englisch"], "categories",
         {"category": "Kategorie", "field": "Handlungsfeld", "label_de": "Bezeichnung",
          "label_en": "Englisch"}),
        (["foo", "bar"], "complaints", {}),
        (["x", "name"], "complaints", {}),  # a lone x is no coordinate pair
    ],
)
def test_propose_mapping(columns: list[str], kind: str, expected: dict[str, str]) -> None:
    assert propose_mapping(columns, kind) == expected


def test_propose_mapping_skips_mostly_empty_columns() -> None:
    cols = ["@id", "name", "type", "amenity"]
    assert propose_mapping(cols, "offices")["kind"] == "type"
    assert propose_mapping(cols, "offices", fill={"type": 0.02, "amenity": 1.0})["kind"] == "amenity"


def test_propose_mapping_unknown_kind() -> None:
    with pytest.raises(ValueError, match="data set must be one of"):
        propose_mapping(["a"], "beschwerden")


def test_normalise_name() -> None:
    assert normalise_name(" Länge (°) ") == "laenge"
    assert normalise_name("addr:street") == "addrstreet"
    assert normalise_name("Straße") == "strasse"


def test_shape_key_is_order_independent() -> None:
    assert shape_key("complaints", ["a", "b"]) == shape_key("complaints", ["b", "a"])
    assert shape_key("complaints", ["a", "b"]) != shape_key("offices", ["a", "b"])
    assert shape_key("complaints", ["a", "b"]) != shape_key("complaints", ["a", "b", "c"])


def test_composed_address_and_coalesce() -> None:
    frame = pd.DataFrame({"Straße": ["Markt", None, "Weg"], "Hausnummer": ["1", None, 2.0],
                          "PLZ": ["59065", None, None], "Ort": ["Hamm", None, None],
                          "a": [None, "x", None], "b": ["y", "z", None]}, dtype=object)
    out = add_derived_columns(frame)
    assert out[COMPOSED_ADDRESS].tolist() == ["Markt 1, 59065 Hamm", None, "Weg 2"]
    assert column_values(out, "a|b").tolist() == ["y", "x", None]
    assert column_values(out, "@row").tolist() == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("values", "hint", "expected", "bad"),
    [
        (["51,68", "7,8", "-0,5", ""], ".", [51.68, 7.8, -0.5, np.nan], [False] * 4),
        (["51.68", "7.8", "1e3"], ".", [51.68, 7.8, 1000.0], [False] * 3),
        (["1.234,5", "2,5"], ",", [1234.5, 2.5], [False, False]),
        (["1,234.5", "2.5"], ".", [1234.5, 2.5], [False, False]),
        (["12", "abc", None], ".", [12.0, np.nan, np.nan], [False, True, False]),
        ([51.68, 7, None], ".", [51.68, 7.0, np.nan], [False, False, False]),
        (["51,68", "51.68"], ",", [51.68, np.nan], [False, True]),
    ],
)
@pytest.mark.parametrize("dtype", [object, "str"])  # Python objects (Excel, JSON) or text read from CSV
def test_parse_numbers(values: list, hint: str, expected: list, bad: list, dtype) -> None:
    nums, flags = parse_numbers(pd.Series(values, dtype=dtype), hint)
    np.testing.assert_allclose(nums, expected)
    assert flags.tolist() == bad


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["31.12.2024 23:59", "01.01.2025", "02.01.2025 08:15:30"],
         ["2024-12-31T23:59:00+01:00", "2025-01-01T00:00:00+01:00", "2025-01-02T08:15:30+01:00"]),
        (["2024-07-31T18:00:00+02:00", "2024-07-31 18:00", "2024-01-01T00:00:00Z"],
         ["2024-07-31T18:00:00+02:00", "2024-07-31T18:00:00+02:00", "2024-01-01T01:00:00+01:00"]),
        (["12/31/2017 11:59:58 PM", "01/03/2018 10:11:23 AM"],
         ["2017-12-31T23:59:58+01:00", "2018-01-03T10:11:23+01:00"]),
        (["13/01/2024", "02/01/2024"], ["2024-01-13T00:00:00+01:00", "2024-01-02T00:00:00+01:00"]),
    ],
)
@pytest.mark.parametrize("dtype", [object, "str"])
def test_parse_datetimes(values: list[str], expected: list[str], dtype) -> None:
    out, bad = parse_datetimes(pd.Series(values, dtype=dtype))
    assert not bad.any()
    assert [t.isoformat() for t in out] == expected


@pytest.mark.parametrize("dtype", [object, "str"])
def test_parse_datetimes_timezone_and_bad_values(dtype) -> None:
    out, bad = parse_datetimes(pd.Series(["12/31/2017 11:59:58 PM", "31.02.2024", None, "morgen"],
                                         dtype=dtype), tz="America/Los_Angeles")
    assert out.iloc[0].isoformat() == "2018-01-01T08:59:58+01:00"
    assert bad.tolist() == [False, True, False, True]


@pytest.mark.parametrize("dtype", [object, "str"])
def test_german_formats_mixed_in_a_long_column_are_all_read(dtype) -> None:
    """The format most of the first values use is tried first; values in the other German
    formats further down are read all the same, in their place."""
    head = [f"{1 + k % 28:02d}.07.2026 {k % 24:02d}:{k % 60:02d}" for k in range(400)]
    tail = ["31.12.2024", "02.01.2025 08:15:30", "03.01.25 07:00", "04.01.2025, 09:30",
            "05.01.2025 10.45", "31.02.2024", " "]
    out, bad = parse_datetimes(pd.Series(head + tail, dtype=dtype))
    assert out.iloc[0].isoformat() == "2026-07-01T00:00:00+02:00"
    assert out.iloc[399].isoformat() == "2026-07-08T15:39:00+02:00"
    assert [None if pd.isna(t) else t.isoformat() for t in out.iloc[400:]] == [
        "2024-12-31T00:00:00+01:00", "2025-01-02T08:15:30+01:00", "2025-01-03T07:00:00+01:00",
        "2025-01-04T09:30:00+01:00", "2025-01-05T10:45:00+01:00", None, None]
    assert bad.tolist() == [False] * 405 + [True, False]


def test_parse_datetimes_excel_values() -> None:
    import datetime as dt

    out, bad = parse_datetimes(pd.Series([dt.datetime(2024, 5, 1, 8), dt.date(2024, 5, 2), None],
                                         dtype=object))
    assert [None if pd.isna(t) else t.isoformat() for t in out] == [
        "2024-05-01T08:00:00+02:00", "2024-05-02T00:00:00+02:00", None]
    assert not bad.any()


def test_dst_edges() -> None:
    out, bad = parse_datetimes(pd.Series(["27.10.2024 02:30", "31.03.2024 02:30"], dtype=object))
    assert not bad.any()
    assert out.iloc[0].isoformat() == "2024-10-27T02:30:00+02:00"  # repeated hour: summer time
    assert out.iloc[1].isoformat() == "2024-03-31T03:00:00+02:00"  # skipped hour: shifted forward


@pytest.mark.parametrize(
    ("kind", "field", "values", "expected"),
    [
        ("offices", "kind", ["Polizeiwache", "KOD-Büro", "Citywache", "police", "Kiosk"],
         ["police_station", "kod_office", "citywache", "police_station", "Kiosk"]),
        ("offices", "operator", ["Polizei Berlin", "Bundespolizei", "Stadt Hamm – Ordnungsamt", "joint"],
         ["police", "police", "city", "joint"]),
        ("complaints", "status",
         ["offen", "In Bearbeitung", "erledigt", "Closed", "Cancelled", "Referred Out"],
         ["open", "in_progress", "closed", "closed", "closed", "Referred Out"]),
        ("complaints", "source", ["Telefon", "Mobile App", "Self Service", "Polizei"],
         ["phone", "online", "online", "police"]),
        ("complaints", "field", ["Sichere Nachbarschaft", "öffentliche Räume", "INFRASTRUKTUR"],
         ["nachbarschaft", "oeffentliche_raeume", "infrastruktur"]),
        ("patrols", "kind", ["KOD", "gemeinsame Streife", "Polizei"], ["kod", "joint", "police"]),
        ("staff_incidents", "kind", ["Beleidigung", "Bedrohung", "körperlich"],
         ["verbal", "threat", "physical"]),
    ],
)
def test_normalise_enum(kind: str, field: str, values: list[str], expected: list[str]) -> None:
    assert normalise_enum(kind, field, pd.Series(values, dtype=object)).tolist() == expected


def test_slug() -> None:
    assert slug("Wilder Müll") == "wilder_muell"
    assert slug("Schrottfahrzeuge/Fahrräder") == "schrottfahrzeuge_fahrraeder"
    assert slug("!!!") == "kategorie"


def test_parse_latlon_text() -> None:
    lat, lon, bad = parse_latlon_text(pd.Series(["(34.07, -118.26)", "51,68;7,8", "POINT (7.8 51.68)",
                                                 "", None, "Marktplatz 1"], dtype=object))
    np.testing.assert_allclose(lat[:3], [34.07, 51.68, 51.68])
    np.testing.assert_allclose(lon[:3], [-118.26, 7.8, 7.8])
    assert bad.tolist() == [False, False, False, False, False, True]
