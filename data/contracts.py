"""The data contracts of Lagebild (design.md section 2), defined once.

Eight data sets make up a city's picture. Each is described by a :class:`DataSetSpec`
listing its fields; :func:`validate` coerces a raw frame (strings from a CSV, typed
columns from Parquet, properties from GeoJSON) into the canonical form used inside the app
and reports every violation as a row of an error table.

Canonical form:

* geometry is WGS84 (EPSG:4326); polygons are shapely geometries in a ``geometry`` column,
  points are ``lat``/``lon`` float columns;
* times are timezone-aware ``Europe/Berlin`` (naive input is read as local time);
* enumerations are lower-case strings from a fixed vocabulary.

Rows in errors are 1-based record numbers: row 1 is the first record (the first line after
a CSV header, the first feature of a GeoJSON file), as a user counts records in a
spreadsheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

TZ = "Europe/Berlin"

ERROR_COLUMNS = ["dataset", "row", "column", "value", "reason"]

OFFICE_KINDS = ("kod_office", "citywache", "police_station", "other")
OPERATORS = ("city", "police", "joint")
PATROL_KINDS = ("kod", "joint", "police")
FIELDS = ("nachbarschaft", "oeffentliche_raeume", "infrastruktur")
COMPLAINT_STATUS = ("open", "in_progress", "closed")
COMPLAINT_SOURCES = ("phone", "online", "police", "patrol")
INCIDENT_KINDS = ("verbal", "threat", "physical")
INCIDENT_DURING = ("kod_patrol", "joint_patrol", "office")
FOCUS_KINDS = ("schwerpunkt", "angstraum")


@dataclass(frozen=True)
class Field:
    """One column of a data set.

    ``kind`` is one of ``str``, ``float``, ``int``, ``lat``, ``lon``, ``datetime``,
    ``enum``, ``bool`` or ``geometry``.
    """

    name: str
    kind: str
    required: bool = False
    unique: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def __post_init__(self) -> None:
        kinds = {"str", "float", "int", "lat", "lon", "datetime", "enum", "bool", "geometry"}
        if self.kind not in kinds:
            raise ValueError(f"Field kind must be one of {sorted(kinds)}, got {self.kind!r}")
        if self.kind == "enum" and not self.choices:
            raise ValueError(f"enum field {self.name!r} needs choices")


@dataclass(frozen=True)
class DataSetSpec:
    name: str
    form: str  # "polygons", "points" or "table"
    fields: tuple[Field, ...]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _f(name: str, kind: str = "str", **kw) -> Field:
    return Field(name, kind, **kw)


SPECS: dict[str, DataSetSpec] = {
    spec.name: spec
    for spec in (
        DataSetSpec(
            "districts",
            "polygons",
            (
                _f("district_id", required=True, unique=True),
                _f("name", required=True),
                _f("geometry", "geometry", required=True),
                _f("population", "int", minimum=0),
                _f("parent_id"),
                _f("team_name"),
                _f("team_lead"),
                _f("phone"),
                _f("email"),
            ),
        ),
        DataSetSpec(
            "offices",
            "points",
            (
                _f("office_id", required=True, unique=True),
                _f("name", required=True),
                _f("kind", "enum", required=True, choices=OFFICE_KINDS),
                _f("lat", "lat", required=True),
                _f("lon", "lon", required=True),
                _f("operator", "enum", choices=OPERATORS),
                _f("address"),
                _f("phone"),
                _f("opening_hours"),
                _f("staff", "int", minimum=0),
            ),
        ),
        DataSetSpec(
            "patrols",
            "table",
            (
                _f("patrol_id", required=True, unique=True),
                _f("start", "datetime", required=True),
                _f("end", "datetime", required=True),
                _f("kind", "enum", required=True, choices=PATROL_KINDS),
                _f("unit"),
                _f("staff", "int", minimum=0),
                _f("district_id"),
            ),
        ),
        DataSetSpec(
            "patrol_points",
            "table",
            (
                _f("patrol_id", required=True),
                _f("time", "datetime", required=True),
                _f("lat", "lat", required=True),
                _f("lon", "lon", required=True),
            ),
        ),
        DataSetSpec(
            "complaints",
            "points",
            (
                _f("complaint_id", required=True, unique=True),
                _f("received_at", "datetime", required=True),
                _f("category", required=True),
                _f("lat", "lat", required=True),
                _f("lon", "lon", required=True),
                _f("field", "enum", choices=FIELDS),
                _f("description"),
                _f("address"),
                _f("status", "enum", choices=COMPLAINT_STATUS),
                _f("closed_at", "datetime"),
                _f("source", "enum", choices=COMPLAINT_SOURCES),
            ),
        ),
        DataSetSpec(
            "staff_incidents",
            "points",
            (
                _f("incident_id", required=True, unique=True),
                _f("occurred_at", "datetime", required=True),
                _f("kind", "enum", required=True, choices=INCIDENT_KINDS),
                _f("lat", "lat", required=True),
                _f("lon", "lon", required=True),
                _f("during", "enum", choices=INCIDENT_DURING),
                _f("injured", "bool"),
                _f("reported_to_police", "bool"),
            ),
        ),
        DataSetSpec(
            "focus_areas",
            "polygons",
            (
                _f("area_id", required=True, unique=True),
                _f("name", required=True),
                _f("kind", "enum", required=True, choices=FOCUS_KINDS),
                _f("geometry", "geometry", required=True),
                _f("since", "datetime"),
                _f("until", "datetime"),
            ),
        ),
        DataSetSpec(
            "categories",
            "table",
            (
                _f("category", required=True, unique=True),
                _f("field", "enum", required=True, choices=FIELDS),
                _f("label_de", required=True),
                _f("label_en"),
            ),
        ),
    )
}

DATASETS: tuple[str, ...] = tuple(SPECS)


def spec(name: str) -> DataSetSpec:
    """The spec of a data set by name, with a precise error for unknown names."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"data set must be one of {list(SPECS)}, got {name!r}") from None


def empty_frame(name: str) -> pd.DataFrame:
    """An empty, canonical frame of the data set ``name``."""
    frame, _ = validate(name, pd.DataFrame({c: [] for c in spec(name).columns}))
    return frame


@dataclass
class Validation:
    """The outcome of validating one data set."""

    dataset: str
    frame: pd.DataFrame
    errors: pd.DataFrame  # columns ERROR_COLUMNS

    @property
    def ok(self) -> bool:
        return self.errors.empty

    @property
    def bad_rows(self) -> np.ndarray:
        """Sorted 1-based row numbers with at least one error."""
        rows = self.errors["row"].dropna().astype(int).unique()
        return np.sort(rows)


class _Errors:
    """Collects error rows for one data set, vectorised (one call per rule)."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.parts: list[pd.DataFrame] = []

    def add_mask(self, mask: np.ndarray, column: str, values: pd.Series, reason: str) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if idx.size == 0:
            return
        self.parts.append(
            pd.DataFrame(
                {
                    "dataset": self.dataset,
                    "row": idx + 1,
                    "column": column,
                    "value": values.iloc[idx].to_numpy(dtype=object),
                    "reason": reason,
                }
            )
        )

    def add(self, row: int | None, column: str | None, value: object, reason: str) -> None:
        self.parts.append(
            pd.DataFrame(
                [{"dataset": self.dataset, "row": row, "column": column, "value": value,
                  "reason": reason}]
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ERROR_COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)
        out["row"] = out["row"].astype("Int64")
        return out.sort_values(["row", "column"], na_position="first", kind="stable").reset_index(
            drop=True
        )


def _stripped(series: pd.Series) -> pd.Series | None:
    """The values as stripped text (pandas "string"), for a text or object column; else None."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return None
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.astype("string").str.strip()
    return None


def _blank(series: pd.Series, stripped: pd.Series | None = None) -> np.ndarray:
    """True where a value is missing or an empty/whitespace string (``stripped``: the
    column's :func:`_stripped` text when the caller has it already)."""
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories.astype("string").str.strip()
        blank_cat = (cats == "").fillna(True).to_numpy()
        codes = series.cat.codes.to_numpy()
        return missing | ((codes >= 0) & blank_cat[np.maximum(codes, 0)])
    as_str = _stripped(series) if stripped is None else stripped
    if as_str is not None:
        missing = missing | (as_str == "").fillna(True).to_numpy()
    return missing


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _first(n: int) -> np.ndarray:
    """For ``tz_localize``: a naive time in the repeated autumn hour is its first (summer
    time) occurrence, as the importers read it; one in the skipped spring hour becomes 03:00."""
    return np.ones(n, dtype=bool)


def parse_datetimes(series: pd.Series, stripped: pd.Series | None = None) -> pd.Series:
    """Parse to tz-aware Europe/Berlin; naive values are local time; bad values become NaT.

    ``stripped``: the column as stripped text when the caller has it already."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(TZ)
    if pd.api.types.is_datetime64_dtype(series):
        return series.dt.tz_localize(TZ, ambiguous=_first(len(series)), nonexistent="shift_forward")
    text = series.astype("string").str.strip() if stripped is None else stripped
    out = pd.Series(pd.NaT, index=series.index, dtype=f"datetime64[ns, {TZ}]")
    has_offset = text.str.contains(_OFFSET, na=False).to_numpy()
    if has_offset.any():
        parsed = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
        out.loc[has_offset] = parsed.dt.tz_convert(TZ).astype(out.dtype)
    naive = ~has_offset & text.notna().to_numpy() & (text != "").fillna(False).to_numpy()
    if naive.any():
        parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        out.loc[naive] = parsed.dt.tz_localize(
            TZ, ambiguous=_first(len(parsed)), nonexistent="shift_forward"
        ).astype(out.dtype)
    return out


_TRUE = {"true", "1", "yes", "ja", "y", "j", "wahr"}
_FALSE = {"false", "0", "no", "nein", "n", "falsch"}


def _coerce(field: Field, raw: pd.Series, errors: _Errors) -> pd.Series:
    """Coerce one column to its canonical type, recording values that do not fit."""
    stripped = _stripped(raw) if field.kind in ("str", "datetime", "enum", "bool") else None
    blank = _blank(raw, stripped)
    if field.required:
        errors.add_mask(blank, field.name, raw, "required value is missing")
    kind = field.kind
    if kind == "str":
        if isinstance(raw.dtype, pd.CategoricalDtype):  # large id columns (pings) stay compact
            cats = raw.cat.categories.astype("string").str.strip()
            if cats.duplicated().any() or (cats == "").any():
                raw = raw.astype(object)
            else:
                return raw.cat.rename_categories(list(cats))
        out = stripped if stripped is not None else raw.astype("string").str.strip()
        out[blank] = pd.NA
        return out
    if kind in ("float", "int", "lat", "lon"):
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = ~blank & num.isna().to_numpy()
        errors.add_mask(bad, field.name, raw, "not a number")
        num = num.where(~np.isinf(num))
        if kind == "lat":
            out_of = (num < -90) | (num > 90)
            errors.add_mask(out_of.to_numpy(), field.name, raw, "latitude outside -90..90")
        elif kind == "lon":
            out_of = (num < -180) | (num > 180)
            errors.add_mask(out_of.to_numpy(), field.name, raw, "longitude outside -180..180")
        if field.minimum is not None:
            low = (num < field.minimum).to_numpy()
            errors.add_mask(low, field.name, raw, f"must be at least {field.minimum:g}")
        if kind == "int":
            frac = (num.notna() & (num != np.floor(num))).to_numpy()
            errors.add_mask(frac, field.name, raw, "not a whole number")
            return num.round().astype("Int64")
        return num
    if kind == "datetime":
        out = parse_datetimes(raw, stripped)
        bad = ~blank & out.isna().to_numpy()
        errors.add_mask(bad, field.name, raw, "not a date/time (use ISO 8601, e.g. 2024-07-31T18:00)")
        return out
    if kind == "enum":
        text = stripped if stripped is not None else raw.astype("string").str.strip()
        out = text.str.lower()
        bad = ~blank & ~out.isin(field.choices).fillna(False).to_numpy()
        errors.add_mask(bad, field.name, raw, f"must be one of {', '.join(field.choices)}")
        return out.astype(object).where(~blank & ~bad, None)
    if kind == "bool":
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype("boolean")
        text = (stripped if stripped is not None else raw.astype("string").str.strip()).str.lower()
        is_true = text.isin(_TRUE).fillna(False).to_numpy()
        is_false = text.isin(_FALSE).fillna(False).to_numpy()
        bad = ~blank & ~is_true & ~is_false
        errors.add_mask(bad, field.name, raw, "must be true or false (ja/nein)")
        out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        out[is_true] = True
        out[is_false] = False
        return out
    if kind == "geometry":
        geoms = raw.to_numpy(dtype=object)
        is_geom = np.array([isinstance(g, shapely.Geometry) for g in geoms], dtype=bool)
        errors.add_mask(~blank & ~is_geom, field.name, raw, "not a geometry")
        kinds = np.array([g.geom_type if isinstance(g, shapely.Geometry) else "" for g in geoms])
        wrong = is_geom & ~np.isin(kinds, ["Polygon", "MultiPolygon"])
        errors.add_mask(wrong, field.name, pd.Series(kinds, index=raw.index),
                        "must be a Polygon or MultiPolygon")
        ok = is_geom & ~wrong
        empty = np.zeros(len(geoms), dtype=bool)
        invalid = np.zeros(len(geoms), dtype=bool)
        if ok.any():
            empty[ok] = shapely.is_empty(geoms[ok])
            invalid[ok] = ~shapely.is_valid(geoms[ok]) & ~empty[ok]
        errors.add_mask(empty, field.name, pd.Series(kinds, index=raw.index), "geometry is empty")
        reasons = pd.Series([shapely.is_valid_reason(g) if bad else "" for g, bad in
                             zip(geoms, invalid, strict=True)], index=raw.index, dtype=object)
        errors.add_mask(invalid, field.name, reasons, "geometry is not valid (self-intersection?)")
        return pd.Series([g if good else None for g, good in zip(geoms, ok, strict=True)],
                         index=raw.index, dtype=object)
    raise AssertionError(kind)  # pragma: no cover - Field validates kinds


def validate(name: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate one data set on its own (without cross-references).

    Returns the canonical frame (all contract columns, extra columns dropped, index
    0..n-1) and the error table (columns :data:`ERROR_COLUMNS`).
    """
    sp = spec(name)
    errors = _Errors(name)
    raw = raw.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for field in sp.fields:
        if field.name not in raw.columns:
            if field.required:
                errors.add(None, field.name, None, "required column is missing")
            column = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        else:
            column = raw[field.name]
        out[field.name] = _coerce(field, column, errors)
        if field.unique and field.name in raw.columns:
            values = out[field.name]
            dup = values.duplicated(keep="first").to_numpy() & values.notna().to_numpy()
            errors.add_mask(dup, field.name, raw[field.name], "duplicate id (already used above)")
    frame = pd.DataFrame(out, index=raw.index)
    _row_rules(name, frame, raw, errors)
    return frame, errors.frame()


def _row_rules(name: str, frame: pd.DataFrame, raw: pd.DataFrame, errors: _Errors) -> None:
    """Rules that relate two columns of the same record."""
    if name == "patrols":
        bad = (frame["end"] < frame["start"]).fillna(False).to_numpy()
        errors.add_mask(bad, "end", raw.get("end", frame["end"]), "end is before start")
    elif name == "complaints":
        bad = (frame["closed_at"] < frame["received_at"]).fillna(False).to_numpy()
        errors.add_mask(bad, "closed_at", raw.get("closed_at", frame["closed_at"]),
                        "closed before it was received")
    elif name == "focus_areas":
        bad = (frame["until"] < frame["since"]).fillna(False).to_numpy()
        errors.add_mask(bad, "until", raw.get("until", frame["until"]), "until is before since")


def check_references(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rules across data sets: ids that must exist elsewhere."""
    parts: list[pd.DataFrame] = []

    def ref(dataset: str, column: str, target: str, target_column: str, reason: str) -> None:
        if dataset not in frames or target not in frames or frames[dataset].empty:
            return  # nothing to check (e.g. a large data set not read): skip the lookup set
        values = frames[dataset][column]
        known = set(frames[target][target_column].dropna())
        bad = values.notna().to_numpy() & ~values.isin(known).to_numpy()
        err = _Errors(dataset)
        err.add_mask(bad, column, values, reason)
        parts.append(err.frame())

    ref("districts", "parent_id", "districts", "district_id", "unknown parent district")
    ref("patrols", "district_id", "districts", "district_id", "unknown district_id")
    ref("patrol_points", "patrol_id", "patrols", "patrol_id", "unknown patrol_id (not in patrols)")
    ref("complaints", "category", "categories", "category", "unknown category (not in categories)")
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _Errors("").frame()
    return pd.concat(parts, ignore_index=True)


def derive_fields(complaints: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
    """Fill the complaints' Masterplan field from their category (the category wins)."""
    mapping = dict(zip(categories["category"], categories["field"], strict=True))
    derived = complaints["category"].map(mapping)
    out = complaints.copy()
    out["field"] = derived.where(derived.notna(), complaints["field"])
    return out


def format_errors(errors: pd.DataFrame, limit: int = 20) -> list[str]:
    """Human-readable lines for the first ``limit`` errors."""
    lines = []
    for rec in errors.head(limit).itertuples(index=False):
        where = [f"row {rec.row}"] if pd.notna(rec.row) else []
        if rec.column is not None and not pd.isna(rec.column):
            where.append(f"column {rec.column!r}")
        got = "" if rec.value is None or (isinstance(rec.value, float) and np.isnan(rec.value)) \
            else f" (got {rec.value!r})"
        prefix = f"{rec.dataset}: {', '.join(where)}" if where else rec.dataset
        lines.append(f"{prefix}: {rec.reason}{got}")
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more errors")
    return lines


def error_records(errors: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """JSON-ready error dicts (dataset, row, column, value as text, reason)."""
    out = []
    table = errors if limit is None else errors.head(limit)
    for rec in table.itertuples(index=False):
        value = rec.value
        missing = value is None or (not isinstance(value, str) and bool(pd.isna(value)))
        out.append({
            "dataset": rec.dataset,
            "row": None if pd.isna(rec.row) else int(rec.row),
            "column": None if rec.column is None or pd.isna(rec.column) else str(rec.column),
            "value": None if missing else str(value),
            "reason": rec.reason,
        })
    return out


def errors_frame(rows: Iterable[Sequence[object]]) -> pd.DataFrame:
    """Build an error table from (dataset, row, column, value, reason) tuples."""
    out = pd.DataFrame(list(rows), columns=ERROR_COLUMNS)
    out["row"] = out["row"].astype("Int64")
    return out
