"""The data contracts: each rule with a bad example, table-driven."""

from __future__ import annotations

import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon

from data import contracts

SQUARE = Polygon([(7.8, 51.6), (7.9, 51.6), (7.9, 51.7), (7.8, 51.7)])
BOWTIE = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])

GOOD = {
    "districts": {"district_id": "d1", "name": "Mitte", "geometry": SQUARE, "population": "1000"},
    "offices": {"office_id": "o1", "name": "Citywache", "kind": "citywache", "lat": "51.68",
                "lon": "7.81", "opening_hours": "Mo-Sa 09:00-20:30"},
    "patrols": {"patrol_id": "p1", "start": "2024-07-01T10:00:00+02:00",
                "end": "2024-07-01T12:00:00+02:00", "kind": "joint"},
    "patrol_points": {"patrol_id": "p1", "time": "2024-07-01T10:00:30", "lat": "51.6",
                      "lon": "7.8"},
    "complaints": {"complaint_id": "c1", "received_at": "2024-07-01 18:00", "category": "laerm",
                   "lat": "51.68", "lon": "7.81", "status": "closed",
                   "closed_at": "2024-07-02T09:00:00+02:00", "source": "online"},
    "staff_incidents": {"incident_id": "i1", "occurred_at": "2024-07-01T22:00:00Z",
                        "kind": "threat", "lat": "51.68", "lon": "7.81", "injured": "nein"},
    "focus_areas": {"area_id": "a1", "name": "Bahnhofsquartier", "kind": "schwerpunkt",
                    "geometry": SQUARE, "since": "2024-01-01"},
    "categories": {"category": "laerm", "field": "nachbarschaft", "label_de": "Lärm",
                   "label_en": "Noise"},
}


def frame(dataset: str, /, **changes: object) -> pd.DataFrame:
    """Two good records of ``dataset``; ``changes`` apply to the second (row 2)."""
    name = dataset
    first = dict(GOOD[name])
    second = dict(GOOD[name])
    for key in contracts.spec(name).fields:
        if key.unique and key.name in second:
            second[key.name] = f"{second[key.name]}-2"
    for key, value in changes.items():
        if value is _DROP:
            second.pop(key, None)
        else:
            second[key] = value
    return pd.DataFrame([first, second])


_DROP = object()


@pytest.mark.parametrize("name", contracts.DATASETS)
def test_good_records_pass(name: str) -> None:
    out, errors = contracts.validate(name, frame(name))
    assert errors.empty, errors.to_dict("records")
    assert list(out.columns) == contracts.spec(name).columns
    assert len(out) == 2


BAD = [
    # dataset, column, bad value, expected reason fragment
    ("districts", "district_id", "", "required value is missing"),
    ("districts", "name", None, "required value is missing"),
    ("districts", "geometry", "POLYGON((0 0))", "not a geometry"),
    ("districts", "geometry", LineString([(0, 0), (1, 1)]), "Polygon or MultiPolygon"),
    ("districts", "geometry", BOWTIE, "not valid"),
    ("districts", "population", "-5", "at least 0"),
    ("districts", "population", "12.5", "whole number"),
    ("districts", "population", "viele", "not a number"),
    ("offices", "kind", "castle", "must be one of"),
    ("offices", "lat", "95", "latitude outside"),
    ("offices", "lon", "-181", "longitude outside"),
    ("offices", "lat", "51,6", "not a number"),
    ("offices", "operator", "army", "must be one of"),
    ("patrols", "start", "gestern", "not a date/time"),
    ("patrols", "end", "2024-07-01T09:00:00+02:00", "end is before start"),
    ("patrols", "kind", "horse", "must be one of"),
    ("patrol_points", "time", "", "required value is missing"),
    ("patrol_points", "lon", "abc", "not a number"),
    ("complaints", "status", "lost", "must be one of"),
    ("complaints", "closed_at", "2024-06-01T00:00:00+02:00", "closed before it was received"),
    ("complaints", "source", "pigeon", "must be one of"),
    ("complaints", "received_at", "31.13.2024", "not a date/time"),
    ("staff_incidents", "kind", "meh", "must be one of"),
    ("staff_incidents", "injured", "vielleicht", "true or false"),
    ("focus_areas", "kind", "park", "must be one of"),
    ("focus_areas", "until", "2023-01-01", "until is before since"),
    ("categories", "field", "sport", "must be one of"),
    ("categories", "label_de", " ", "required value is missing"),
]


@pytest.mark.parametrize(("name", "column", "value", "reason"), BAD)
def test_each_rule_names_dataset_row_column_value(name, column, value, reason) -> None:
    _, errors = contracts.validate(name, frame(name, **{column: value}))
    assert not errors.empty
    hit = errors[errors["column"] == column]
    assert len(hit) >= 1, errors.to_dict("records")
    rec = hit.iloc[0]
    assert rec["dataset"] == name
    assert rec["row"] == 2  # the second record, counted from 1
    assert reason in rec["reason"]
    if isinstance(value, str) and value.strip():
        assert rec["value"] == value


@pytest.mark.parametrize("name", contracts.DATASETS)
def test_missing_required_column_is_reported(name: str) -> None:
    required = contracts.spec(name).required[0]
    raw = frame(name).drop(columns=[required])
    _, errors = contracts.validate(name, raw)
    rec = errors.iloc[0]
    assert (rec["column"], rec["reason"]) == (required, "required column is missing")
    assert pd.isna(rec["row"])


@pytest.mark.parametrize("name", [n for n in contracts.DATASETS
                                  if any(f.unique for f in contracts.spec(n).fields)])
def test_duplicate_ids_are_reported(name: str) -> None:
    id_col = next(f.name for f in contracts.spec(name).fields if f.unique)
    raw = frame(name, **{id_col: GOOD[name][id_col]})
    _, errors = contracts.validate(name, raw)
    assert errors.iloc[0]["reason"].startswith("duplicate id")
    assert errors.iloc[0]["row"] == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-07-01T10:00:00+02:00", "2024-07-01 10:00:00+02:00"),
    ("2024-07-01T08:00:00Z", "2024-07-01 10:00:00+02:00"),
    ("2024-07-01 10:00", "2024-07-01 10:00:00+02:00"),  # naive = local time
    ("2024-12-24", "2024-12-24 00:00:00+01:00"),  # winter time
    ("2025-10-26T02:30", "2025-10-26 02:30:00+02:00"),  # repeated hour: first occurrence
    ("2025-03-30T02:30", "2025-03-30 03:00:00+02:00"),  # skipped hour: to the next valid time
])
def test_datetimes_become_europe_berlin(text: str, expected: str) -> None:
    out = contracts.parse_datetimes(pd.Series([text]))
    assert str(out.iloc[0]) == expected
    assert str(out.dt.tz) == "Europe/Berlin"


REFS = [
    ("patrol_points", "patrol_id", "ghost", "unknown patrol_id"),
    ("complaints", "category", "ufo", "unknown category"),
    ("patrols", "district_id", "atlantis", "unknown district_id"),
    ("districts", "parent_id", "nowhere", "unknown parent district"),
]


@pytest.mark.parametrize(("name", "column", "value", "reason"), REFS)
def test_references_across_data_sets(name, column, value, reason) -> None:
    frames = {n: contracts.validate(n, frame(n))[0] for n in contracts.DATASETS}
    frames[name], _ = contracts.validate(name, frame(name, **{column: value}))
    errors = contracts.check_references(frames)
    assert len(errors) == 1
    rec = errors.iloc[0]
    assert (rec["dataset"], rec["row"], rec["column"], rec["value"]) == (name, 2, column, value)
    assert reason in rec["reason"]


def test_field_is_derived_from_category() -> None:
    complaints, _ = contracts.validate("complaints", frame("complaints", field="infrastruktur"))
    categories, _ = contracts.validate("categories", frame("categories"))
    out = contracts.derive_fields(complaints, categories)
    assert out["field"].tolist() == ["nachbarschaft", "nachbarschaft"]


@pytest.mark.parametrize("bad", ["", "nothing", "complaint"])
def test_unknown_data_set_is_a_precise_error(bad: str) -> None:
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        contracts.spec(bad)


def test_format_errors_reads_like_a_sentence() -> None:
    _, errors = contracts.validate("offices", frame("offices", lat="95"))
    line = contracts.format_errors(errors)[0]
    assert line == "offices: row 2, column 'lat': latitude outside -90..90 (got '95')"
