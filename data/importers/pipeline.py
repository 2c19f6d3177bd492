"""The import pipeline: file -> mapping -> canonical frame + validation report.

One code path for the *Daten* page and the command line:

1. :func:`read_file` reads the upload into a :class:`~data.importers.readers.RawTable`;
2. :func:`suggest_mapping` proposes ``{field: column}`` (a remembered mapping for files of
   the same shape wins over name matching; the user corrects it);
3. :func:`validate_import` converts and checks every record and returns an
   :class:`ImportReport`; nothing is written;
4. :meth:`data.store.Store.commit` stores the accepted records.

Import policy (also in the CLI help):

* a record with a problem in a **required** field (ids, times, coordinates, geometry,
  kind, …), a duplicate id, coordinates out of range or swapped, a point outside every
  district (complaints, offices, staff incidents) is **rejected** and listed with row,
  column, value and reason;
* a problem in an **optional** field (e.g. an unknown status) keeps the record, drops that
  value and lists it as a **warning**;
* the accepted records replace the data set (all or nothing); when no record is accepted
  nothing is imported. ``strict`` (CLI ``--strict``) refuses the import if any record
  is rejected;
* complaints whose category is not in the categories table add it (key from the label,
  Masterplan field from the file's ``field`` column when present, else
  ``default_field``), reported as a note.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from data import contracts
from data.contracts import FIELDS, SPECS
from data.csvsafe import neutralise_formulas
from data.importers import crs as crs_mod
from data.importers import mapping as mp
from data.importers.errors import ImportError_, UsageError_, excerpt, max_upload_bytes
from data.importers.geocoding import GeocodeCache, GeocoderSettings, geocode_addresses, query_key
from data.importers.messages import contract_reason, msg
from data.importers.readers import CsvChunks, RawTable, RestartChunks, open_csv_chunks, read_source


class Store(Protocol):
    """What the pipeline reads from a store (``data.store.Store`` is one; the store imports
    the pipeline's report, so the pipeline names only this protocol)."""

    def remembered_mapping(self, kind: str, columns: Sequence[str]) -> dict[str, str] | None: ...

    def read_dataset(self, name: str) -> pd.DataFrame: ...

    def geocode_cache(self) -> GeocodeCache: ...

POINT_KINDS = ("offices", "patrol_points", "complaints", "staff_incidents")
POLYGON_KINDS = ("districts", "focus_areas")
DISTRICT_CHECKED = ("offices", "complaints", "staff_incidents")
DEFAULT_FIELD = "oeffentliche_raeume"
REPORT_COLUMNS = ["row", "column", "field", "value", "reason"]


# --- the report ----------------------------------------------------------------------------------

@dataclass
class ImportReport:
    """The outcome of validating one file as one data set (nothing stored yet).

    ``frame`` holds the accepted records in canonical form; ``errors`` one line per
    problem of a rejected record, ``warnings`` one line per dropped optional value (both
    with columns row, column, field, value, reason; row is the 1-based record number,
    None for the whole file); ``rejected`` the original values of each rejected record
    with its reasons (for the CSV download).
    """

    kind: str
    source_name: str
    format: str
    lang: str
    records_total: int
    frame: pd.DataFrame
    errors: pd.DataFrame
    warnings: pd.DataFrame
    rejected: pd.DataFrame
    mapping: dict[str, str]
    mapping_origin: dict[str, str]
    columns: list[str]
    constants: dict[str, str] = field(default_factory=dict)
    source_crs: str | None = None
    notes: list[str] = field(default_factory=list)
    new_categories: pd.DataFrame | None = None
    not_geocoded: int = 0
    geocoded: int = 0
    #: set by :meth:`release_frame`: the accepted count once the records are handed over
    released: int | None = None

    @property
    def records_accepted(self) -> int:
        return len(self.frame) if self.released is None else self.released

    def release_frame(self) -> pd.DataFrame:
        """Hand the accepted records over (the file store writes them, then nothing keeps them:
        a large import does not hold them while the new version is checked and prepared).
        The counts stay; ``frame`` becomes empty."""
        frame = self.frame
        self.released = len(frame)
        self.frame = frame.iloc[:0].copy()  # a copy: a view of no rows keeps the columns alive
        return frame

    @property
    def records_rejected(self) -> int:
        return self.records_total - self.records_accepted

    @property
    def ok(self) -> bool:
        """True when at least one record can be imported."""
        return self.records_accepted > 0

    @property
    def bbox(self) -> list[float] | None:
        """[min lon, min lat, max lon, max lat] of the accepted records (WGS84), None if empty."""
        if self.frame.empty:
            return None
        if "geometry" in self.frame.columns:
            geoms = [g for g in self.frame["geometry"] if g is not None]
            if not geoms:
                return None
            b = shapely.total_bounds(geoms)
        elif "lat" in self.frame.columns:
            lat, lon = self.frame["lat"].to_numpy(float), self.frame["lon"].to_numpy(float)
            b = [np.nanmin(lon), np.nanmin(lat), np.nanmax(lon), np.nanmax(lat)]
        else:
            return None
        return [round(float(v), 6) for v in b]

    def summary(self) -> str:
        return msg("summary", self.lang, kind=self.kind, file=self.source_name, total=self.records_total,
                   accepted=self.records_accepted, rejected=self.records_rejected)

    def to_dict(self, max_errors: int = 100) -> dict[str, Any]:
        """The machine-readable report (the CLI's ``--json`` line)."""

        def items(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{"row": None if pd.isna(r.row) else int(r.row), "column": r.column,
                     "value": _json_value(r.value), "reason": r.reason}
                    for r in frame.head(max_errors).itertuples(index=False)]

        return {
            "kind": self.kind,
            "source": self.source_name,
            "format": self.format,
            "records_total": self.records_total,
            "records_accepted": self.records_accepted,
            "records_rejected": self.records_rejected,
            "source_crs": self.source_crs,
            "bbox": self.bbox,
            "errors": items(self.errors),
            "errors_count": len(self.errors),
            "warnings": items(self.warnings),
            "warnings_count": len(self.warnings),
            "not_geocoded": self.not_geocoded,
            "geocoded": self.geocoded,
            "mapping": self.mapping,
            "notes": self.notes,
        }

    def rejected_csv(self) -> bytes:
        """The rejected records with their reasons as CSV (UTF-8 with BOM for Excel;
        semicolons in German, commas in English)."""
        sep = ";" if self.lang == "de" else ","
        return neutralise_formulas(self.rejected).to_csv(index=False, sep=sep,
                                                         lineterminator="\n").encode("utf-8-sig")


def _json_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# --- problem collection --------------------------------------------------------------------------

_SEVERITY_ORDER = {"reject": 0, "warn": 1, "note": 2}


class _Problems:
    """Row problems, vectorised. Severity: ``reject`` (rejects the record when the field is
    required, else drops the value with a warning), ``warn`` (drops the value, keeps the
    record), ``note`` (keeps both, e.g. a repaired geometry). Per record and field the
    most severe, then the earliest problem is kept."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, rows: np.ndarray, fld: str, column: object, values: object,
            reasons: object, severity: str = "reject") -> None:
        rows = np.asarray(rows, dtype="int64")
        if rows.size == 0:
            return

        def per_row(v: object) -> list:
            return list(v) if isinstance(v, list | np.ndarray | pd.Series) else [v] * rows.size

        cols = [fld if c is None or c == "" else c for c in per_row(column)]
        self.parts.append(pd.DataFrame({
            "row": rows, "column": pd.Series(cols, dtype=object).to_numpy(), "field": fld,
            "value": pd.Series(per_row(values), dtype=object).to_numpy(),
            "reason": pd.Series(per_row(reasons), dtype=object).to_numpy(), "severity": severity,
        }))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in [*REPORT_COLUMNS, "severity"]})
        out = pd.concat(self.parts, ignore_index=True)
        out["_order"] = out["severity"].map(_SEVERITY_ORDER)
        out = out.sort_values(["row", "_order"], kind="stable")
        out = out.drop_duplicates(subset=["row", "field"], keep="first").drop(columns="_order")
        return out.reset_index(drop=True)


# --- public steps --------------------------------------------------------------------------------

def check_kind(kind: str) -> str:
    if kind not in SPECS:
        raise UsageError_("unknown_kind", kind=kind, kinds=", ".join(SPECS))
    return kind


def read_file(source: Any, name: str | None = None, *, crs: str | None = None,
              max_upload_mb: float | None = None, layer: str | None = None) -> RawTable:
    """Read an upload or a path (see :mod:`data.importers.readers`); ``layer``: the layer of
    a GeoPackage (KML folder, GPX layer) to read."""
    parsed = None
    if crs:
        try:
            parsed = crs_mod.parse_crs(crs)
        except ValueError:
            raise UsageError_("crs_option_bad", crs=crs) from None
    try:
        return read_source(source, name, crs=parsed, max_bytes=max_upload_bytes(max_upload_mb),
                           layer=layer)
    except ImportError_:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError, MemoryError, OSError,
            UnicodeError, shapely.errors.ShapelyError) as exc:  # a last guard: a report, never a traceback
        raise ImportError_("file_unreadable", file=_source_name(source, name),
                           detail=excerpt(f"{type(exc).__name__}: {exc}", 200)) from None


def _source_name(source: Any, name: str | None) -> str:
    if name:
        return str(name)
    if isinstance(source, str | Path):
        return Path(source).name
    return str(getattr(source, "name", None) or "upload")


@dataclass
class MappingProposal:
    mapping: dict[str, str]
    origin: dict[str, str]  # field -> "file" (format), "remembered", "proposed", "user"
    columns: list[str]


def suggest_mapping(kind: str, raw: RawTable, store: Store | None = None,
                    overrides: Mapping[str, str] | None = None) -> MappingProposal:
    """The mapping to use: name matching < format default (Open311) < remembered < user."""
    check_kind(kind)
    frame = mp.add_derived_columns(raw.frame)
    columns = [str(c) for c in frame.columns]
    fill = {str(c): float(frame[c].notna().mean()) if len(frame) else 1.0 for c in frame.columns}
    proposed = mp.propose_mapping(columns, kind, fill)
    proposed = _refine(kind, frame, proposed)
    mapping = dict(proposed)
    origin = dict.fromkeys(proposed, "proposed")
    for f, c in raw.default_mapping.items():
        if f in mp.target_fields(kind) and mp.spec_exists(columns, c):
            mapping[f], origin[f] = c, "file"
    if store is not None:
        remembered = store.remembered_mapping(kind, raw.columns)
        if remembered:
            mapping = {f: c for f, c in remembered.items() if mp.spec_exists(columns, c)}
            origin = dict.fromkeys(mapping, "remembered")
    for f, c in (overrides or {}).items():
        if c:
            mapping[f], origin[f] = c, "user"
        else:
            mapping.pop(f, None)
            origin.pop(f, None)
    return MappingProposal(mapping=mapping, origin=origin, columns=raw.columns)


_LATLON = re.compile(r"^\s*\(?\s*([+-]?\d+(?:[.,]\d+)?)\s*[,; ]\s*([+-]?\d+(?:[.,]\d+)?)\s*\)?\s*$")
_WKT_POINT = re.compile(r"^\s*POINT\s*Z?\s*\(\s*([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s+"
                        r"([+-]?[\d.]+(?:[eE][+-]?\d+)?)(?:\s+[+-]?[\d.eE+-]+)*\s*\)\s*$", re.IGNORECASE)


def parse_latlon_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon, bad) from "(lat, lon)" / "lat, lon" / "lat;lon" / WKT "POINT (lon lat)" text."""
    text = mp.to_text(series).astype("string")
    lat = np.full(len(text), np.nan)
    lon = np.full(len(text), np.nan)
    m = text.str.extract(_LATLON)
    ok = m[0].notna().to_numpy()
    lat[ok] = pd.to_numeric(m[0][ok].str.replace(",", ".", regex=False)).to_numpy(float)
    lon[ok] = pd.to_numeric(m[1][ok].str.replace(",", ".", regex=False)).to_numpy(float)
    w = text.str.extract(_WKT_POINT)
    wok = w[0].notna().to_numpy() & ~ok
    lon[wok] = pd.to_numeric(w[0][wok]).to_numpy(float)
    lat[wok] = pd.to_numeric(w[1][wok]).to_numpy(float)
    bad = text.notna().to_numpy() & ~ok & ~wok
    return lat, lon, bad


def _refine(kind: str, frame: pd.DataFrame, proposed: dict[str, str]) -> dict[str, str]:
    """Drop proposed coordinate columns whose values do not fit (e.g. an address in 'Location')."""
    out = dict(proposed)
    sample = frame.head(2000)
    if "latlon" in out:
        _, _, bad = parse_latlon_text(mp.column_values(sample, out["latlon"]))
        present = mp.to_text(mp.column_values(sample, out["latlon"])).notna().to_numpy()
        if present.any() and bad[present].mean() > 0.5:
            out.pop("latlon")
    for pair in (("x", "y"), ("lat", "lon")):
        if all(p in out for p in pair):
            bad_any = False
            for p in pair:
                vals = mp.column_values(sample, out[p])
                _, bad = mp.parse_numbers(vals)
                present = mp.to_text(vals).notna().to_numpy()
                if present.any() and bad[present].mean() > 0.5:
                    bad_any = True
            if bad_any:
                for p in pair:
                    out.pop(p)
    return out


def validate_mapping(kind: str, raw: RawTable, mapping: Mapping[str, str],
                     constants: Mapping[str, str] | None = None) -> None:
    """Usage errors for unknown fields and columns that the file does not have."""
    fields = mp.target_fields(kind)
    columns = [str(c) for c in mp.add_derived_columns(raw.frame).columns]
    for f, c in {**mapping, **(constants or {})}.items():
        if f not in fields:
            raise UsageError_("map_field", item=f"{f}={c}", kind=kind, field=f, fields=", ".join(fields))
    for f, c in mapping.items():
        if not mp.spec_exists(columns, c):
            raise UsageError_("map_column", field=f, column=c, file=raw.source_name,
                              columns=", ".join(columns) or "—")


def prepare_import(kind: str, source: Any, *, name: str | None = None,
                   mapping: Mapping[str, str] | None = None, store: Store | None = None,
                   crs: str | None = None, max_upload_mb: float | None = None,
                   layer: str | None = None, chunk_rows: int | None = None, **options: Any) -> ImportReport:
    """Read, map and validate in one go (the CLI path). ``options`` go to :func:`validate_import`.

    A CSV file on disk larger than :data:`~data.importers.readers.CHUNK_MIN_BYTES` is read
    and validated in chunks of ``chunk_rows`` lines (default
    :data:`~data.importers.readers.CHUNK_ROWS`; given explicitly, every CSV file is chunked):
    the same report and records as the whole-file path, with memory bounded by the chunk and
    the accepted records (see :func:`_prepare_chunked`)."""
    check_kind(kind)
    if isinstance(source, str | Path) and kind in CHUNKED_KINDS:
        chunks = _guarded(lambda: open_csv_chunks(
            source, name, max_bytes=max_upload_bytes(max_upload_mb), chunk_rows=chunk_rows,
            min_bytes=0 if chunk_rows else None), _source_name(source, name))
        if chunks is not None:
            return _prepare_chunked(kind, chunks, mapping=mapping, store=store, crs=crs, **options)
    raw = read_file(source, name, crs=crs, max_upload_mb=max_upload_mb, layer=layer)
    proposal = suggest_mapping(kind, raw, store, overrides=mapping)
    return validate_import(kind, raw, proposal.mapping, store=store, crs=crs,
                           mapping_origin=proposal.origin, **options)


# --- chunked validation (large CSV files, issue #15) -----------------------------------------------

#: Kinds validated in chunks when large: all but polygons, whose parent ids refer within the file.
CHUNKED_KINDS = tuple(k for k in SPECS if k not in POLYGON_KINDS)
DUPLICATE_REASON = "duplicate id (already used above)"  # the reason data.contracts.validate gives
_SUMMED = ("count", "total", "found", "cached", "missing")


def _guarded(step: Callable[[], Any], name: str) -> Any:
    """Run a reading step; unexpected errors become a report naming the file (as in read_file)."""
    try:
        return step()
    except (ImportError_, RestartChunks):
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError, MemoryError, OSError,
            UnicodeError, shapely.errors.ShapelyError) as exc:
        raise ImportError_("file_unreadable", file=name,
                           detail=excerpt(f"{type(exc).__name__}: {exc}", 200)) from None


@dataclass
class _Chunking:
    """What one chunk's validation leaves for the next: the store context (read once), the
    categories created so far, the CRS guessed for x/y, the ids used so far (as sorted 64-bit
    hashes, verified against the ids themselves) and each chunk's notes."""

    ctx: _Context | None = None
    xy_crs: Any = None
    notes: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=list)
    seen: dict[str, SeenIds] = field(default_factory=dict)  # unique field -> ids of earlier chunks

    def cross_duplicates(self, kind: str, canonical: pd.DataFrame, valid: pd.DataFrame,
                         verrs: pd.DataFrame) -> pd.DataFrame:
        """``verrs`` plus "duplicate id" errors for ids that an earlier chunk used (any record,
        accepted or not: as :func:`data.contracts.validate` does over the whole file)."""
        extra = []
        for fld in SPECS[kind].fields:
            if not fld.unique or fld.name not in canonical.columns:
                continue
            values = valid[fld.name]
            idx = np.flatnonzero(values.notna().to_numpy())
            if idx.size == 0:
                continue
            ids = values.iloc[idx].to_numpy(dtype=object)
            hashes = pd.util.hash_array(ids, categorize=False)
            seen = self.seen.setdefault(fld.name, SeenIds())
            hit = seen.contains(ids, hashes)
            seen.add(ids, hashes)
            if hit.any():
                rows = idx[hit] + 1
                already = verrs[(verrs["column"] == fld.name) & (verrs["reason"] == DUPLICATE_REASON)]
                new = ~np.isin(rows, already["row"].dropna().astype("int64").to_numpy())
                extra.append(pd.DataFrame({"dataset": kind, "row": rows[new], "column": fld.name,
                                           "value": ids[hit][new], "reason": DUPLICATE_REASON}))
        if not extra:
            return verrs
        out = pd.concat([verrs, *extra], ignore_index=True)
        out["row"] = out["row"].astype("Int64")
        return out.sort_values(["row", "column"], na_position="first", kind="stable").reset_index(drop=True)


class SeenIds:
    """The ids of a unique field in the chunks read so far, for "used in an earlier chunk".

    One sorted array of 64-bit hashes over all earlier chunks (with each hash's position in
    their concatenation) and the ids themselves as Arrow arrays, to rule out a hash
    collision: a chunk is looked up with one search of its sorted hashes, not one per
    earlier chunk.
    """

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.where = np.empty(0, dtype=np.int64)  # position of each hash in all ids so far
        self.chunks: list[Any] = []  # pyarrow arrays of the earlier chunks' ids
        self.starts: list[int] = []  # position of each chunk's first id
        self.size = 0

    def contains(self, ids: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Mask of ``ids`` (with their ``hashes``) that an earlier chunk holds."""
        hit = np.zeros(len(ids), dtype=bool)
        if not self.size or not len(ids):
            return hit
        order = np.argsort(hashes)
        pos = np.empty(len(ids), dtype=np.int64)
        pos[order] = np.searchsorted(self.hashes, hashes[order])  # sorted queries: one sweep
        pos_ok = np.minimum(pos, self.size - 1)
        for i in np.flatnonzero(self.hashes[pos_ok] == hashes):
            j = int(pos[i])
            while j < self.size and self.hashes[j] == hashes[i]:  # verify: hashes may collide
                if self._id(int(self.where[j])) == ids[i]:
                    hit[i] = True
                    break
                j += 1
        return hit

    def _id(self, position: int) -> Any:
        chunk = int(np.searchsorted(self.starts, position, side="right")) - 1
        return self.chunks[chunk][position - self.starts[chunk]].as_py()

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        import pyarrow as pa

        merged = np.concatenate([self.hashes, hashes])
        order = np.argsort(merged, kind="stable")
        self.hashes = merged[order]
        self.where = np.concatenate([self.where, self.size + np.arange(len(ids), dtype=np.int64)])[order]
        self.chunks.append(pa.array(ids))
        self.starts.append(self.size)
        self.size += len(ids)


def _merge_notes(parts: list[list[tuple[str, dict[str, Any]]]],
                 total: int) -> list[tuple[str, dict[str, Any]]]:
    """The chunks' notes as the whole file would give them: one per message, counts summed."""
    merged: dict[str, dict[str, Any]] = {}
    for notes in parts:
        for key, params in notes:
            if key not in merged:
                merged[key] = dict(params)
                continue
            for p in _SUMMED:
                if isinstance(params.get(p), int) and isinstance(merged[key].get(p), int):
                    merged[key][p] += params[p]
    swapped = merged.get("note_swapped_majority")
    if swapped is not None:
        swapped["total"] = total
        if not (swapped["count"] > 0.5 * total and total >= 3):
            del merged["note_swapped_majority"]
    return list(merged.items())


def _prepare_chunked(kind: str, chunks: CsvChunks, *, mapping: Mapping[str, str] | None,
                     store: Store | None, crs: str | None, lang: str = "de",
                     default_field: str = DEFAULT_FIELD, districts: pd.DataFrame | None = None,
                     **options: Any) -> ImportReport:
    """Read, map and validate a CSV file chunk by chunk and merge the chunks' reports.

    Row numbers run across chunks (1 = first record of the file); an id used in an earlier
    chunk is a duplicate; categories created by one chunk are known to the next; the CRS of
    x/y columns is guessed once. The mapping is proposed from the first chunk (the whole-file
    path looks at all records: the fill ratios may differ, the names do not); a new
    category's Masterplan field comes from the first chunk that holds it.
    """
    state = _Chunking()
    reports: list[ImportReport] = []
    proposal: MappingProposal | None = None

    def run(tables: Any) -> None:
        nonlocal proposal
        offset = 0
        for raw in tables:
            if proposal is None:
                proposal = suggest_mapping(kind, raw, store, overrides=mapping)
                state.ctx = _context(store, kind, districts)
            rep = validate_import(kind, raw, proposal.mapping, store=store, crs=crs, lang=lang,
                                  default_field=default_field, mapping_origin=proposal.origin,
                                  _chunking=state, **options)
            _shift_rows(rep, offset, lang)
            offset += rep.records_total
            reports.append(rep)
            del raw, rep
            _release_memory()

    try:
        _guarded(lambda: run(chunks.chunks()), chunks.name)
    except RestartChunks:  # ragged rows: again from the start with the csv module
        state, reports, proposal = _Chunking(), [], None
        _guarded(lambda: run(chunks.ragged_chunks()), chunks.name)
    if chunks.header is None:
        raise ImportError_("no_header", file=chunks.name)
    if not reports or proposal is None:
        raise ImportError_("no_records", file=chunks.name)
    total = sum(r.records_total for r in reports)
    parts = [r.frame for r in reports]
    for r in reports:  # the concatenated frame is the only copy that stays
        r.frame = parts[0].iloc[:0].copy()  # (a view of no rows would keep a chunk alive)
    frame = pd.concat(parts, ignore_index=True)
    del parts
    _release_memory()
    unused = chunks.unused_columns()
    rejected = pd.concat([r.rejected for r in reports], ignore_index=True).drop(columns=unused)
    notes = list(state.notes)
    head = notes[0][:len(chunks.notes)] if notes else []
    notes = [head + chunks.end_notes(), *[n[len(chunks.notes):] for n in notes]]
    merged = _merge_notes(notes, total)
    new_cats = None
    created = [r.new_categories for r in reports if r.new_categories is not None and len(r.new_categories)]
    if kind == "complaints":
        new_cats = pd.concat(created, ignore_index=True) if created else \
            pd.DataFrame(columns=["category", "field", "label_de", "label_en"])
        used = set(frame["category"].dropna()) if "category" in frame.columns else set()
        new_cats = new_cats[new_cats["category"].isin(used)].reset_index(drop=True)
        if not new_cats.empty:
            shown = ", ".join(new_cats["label_de"].head(8)) + (" …" if len(new_cats) > 8 else "")
            fields_used = ", ".join(sorted(set(new_cats["field"])))
            merged.append(("note_new_categories", {"count": len(new_cats), "field": fields_used,
                                                   "names": shown}))
    sources = [r.source_crs for r in reports if r.source_crs]
    source_crs = " + ".join(dict.fromkeys(p for s in sources for p in s.split(" + "))) or None
    first = reports[0]
    return ImportReport(
        kind=kind, source_name=chunks.name, format="csv", lang=lang, records_total=total, frame=frame,
        errors=pd.concat([r.errors for r in reports], ignore_index=True),
        warnings=pd.concat([r.warnings for r in reports], ignore_index=True), rejected=rejected,
        mapping=dict(first.mapping), mapping_origin=dict(first.mapping_origin),
        columns=[c for c in first.columns if c not in unused], constants=dict(first.constants),
        source_crs=source_crs, notes=[msg(k, lang, **p) for k, p in merged], new_categories=new_cats,
        geocoded=sum(r.geocoded for r in reports), not_geocoded=sum(r.not_geocoded for r in reports))


def _release_memory() -> None:
    """Give the freed memory of a chunk back to the system (glibc keeps it in its arenas, where
    the fragments of millions of small strings would add up across chunks)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _shift_rows(report: ImportReport, offset: int, lang: str) -> None:
    """Chunk-local row numbers (1 = the chunk's first record) to the file's."""
    if not offset:
        return
    for frame in (report.errors, report.warnings):
        if len(frame):
            frame["row"] = frame["row"] + offset
    if len(report.rejected):
        col = report.rejected.columns[0]
        report.rejected[col] = report.rejected[col] + offset


# --- validation ----------------------------------------------------------------------------------

@dataclass
class _Context:
    """What the store knows that the checks need."""

    districts: pd.DataFrame | None = None
    categories: pd.DataFrame | None = None
    patrol_ids: set[str] | None = None


def _context(store: Store | None, kind: str, districts: pd.DataFrame | None) -> _Context:
    ctx = _Context(districts=districts)
    if store is None:
        return ctx
    if ctx.districts is None and kind in (*POINT_KINDS, "patrols"):
        ctx.districts = store.read_dataset("districts")
    if kind == "complaints":
        ctx.categories = store.read_dataset("categories")
    if kind == "patrol_points":
        ctx.patrol_ids = set(store.read_dataset("patrols")["patrol_id"].dropna().astype(str))
    return ctx


def validate_import(kind: str, raw: RawTable, *args: Any, **kwargs: Any) -> ImportReport:
    """Convert and check every record of ``raw`` as data set ``kind`` (see :func:`_validate_import`).

    Whatever a hostile file provokes below ends as :class:`ImportError_` (a report naming the
    file), never as a traceback.
    """
    try:
        return _validate_import(kind, raw, *args, **kwargs)
    except ImportError_:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError, MemoryError,
            UnicodeError, shapely.errors.ShapelyError) as exc:
        raise ImportError_("file_unreadable", file=raw.source_name,
                           detail=excerpt(f"{type(exc).__name__}: {exc}", 200)) from None


def _validate_import(kind: str, raw: RawTable, mapping: Mapping[str, str] | None = None, *,
                    constants: Mapping[str, str] | None = None, store: Store | None = None,
                    districts: pd.DataFrame | None = None, crs: str | None = None,
                    timezone: str = "Europe/Berlin", geocode: bool = False, geocoder: Any = None,
                    geocoder_settings: GeocoderSettings | None = None,
                    geocode_cache: GeocodeCache | None = None,
                    progress: Callable[[int, int, str], None] | None = None, lang: str = "de",
                    default_field: str = DEFAULT_FIELD,
                    mapping_origin: Mapping[str, str] | None = None,
                    _chunking: _Chunking | None = None) -> ImportReport:
    """Convert and check every record of ``raw`` as data set ``kind`` (see the module docstring).

    Raises :class:`ImportError_` for problems of the whole file (no usable column, a
    required field without a column) and :class:`UsageError_` for a wrong request.
    """
    check_kind(kind)
    if default_field not in FIELDS:
        raise UsageError_("default_field_bad", value=default_field, fields=", ".join(FIELDS))
    try:
        pd.Timestamp("2024-01-01").tz_localize(timezone)
    except Exception:
        raise UsageError_("tz_bad", tz=timezone) from None
    if mapping is None:
        proposal = suggest_mapping(kind, raw, store)
        mapping, mapping_origin = proposal.mapping, proposal.origin
    mapping = {f: c for f, c in mapping.items() if c}
    constants = dict(constants or {})
    validate_mapping(kind, raw, mapping, constants)
    if raw.format == "open311" and kind != "complaints":
        raise ImportError_("open311_kind", file=raw.source_name)
    sp = SPECS[kind]
    frame = mp.add_derived_columns(raw.frame)
    n = len(frame)
    name = raw.source_name
    notes: list[tuple[str, dict[str, Any]]] = list(raw.notes)
    if mapping_origin and set(mapping_origin.values()) == {"remembered"}:
        notes.append(("note_mapping_remembered", {}))
    _check_usable(kind, raw, frame, mapping, constants)
    if n == 0:
        raise ImportError_("no_records", file=name)
    probs = _Problems()
    for row, column, value, key, params in raw.row_errors:
        where = column or "(record)"
        probs.add(np.array([row]), where, where, value, msg(key, lang, **params))
    ctx = _chunking.ctx if _chunking is not None and _chunking.ctx is not None else \
        _context(store, kind, districts)
    canon: dict[str, Any] = {}
    for fld in sp.fields:
        if fld.name in ("lat", "lon", "geometry"):
            continue
        if fld.name in constants:
            values = pd.Series([constants[fld.name]] * n, dtype=object)
            column = f"={constants[fld.name]}"
        elif fld.name in mapping:
            values = mp.column_values(frame, mapping[fld.name]).reset_index(drop=True)
            column = mapping[fld.name]
        else:
            continue
        canon[fld.name] = _convert(kind, fld, values, column, raw, probs, timezone, lang)
    source_crs = raw.source_crs
    coord_rows = np.zeros(n, dtype=bool)
    geocode_stats = (0, 0)
    if kind in POINT_KINDS:
        lat, lon, source_crs, coord_rows, geocode_stats = _coordinates(
            kind, raw, frame, mapping, canon, probs, ctx, crs, lang, notes, geocode, geocoder,
            geocoder_settings, geocode_cache, store, progress, _chunking)
        canon["lat"], canon["lon"] = lat, lon
    if kind in POLYGON_KINDS or "geometry" in mapping:
        canon["geometry"] = _polygons(raw, frame, mapping, probs, lang, notes)
    if kind == "complaints" and "category" in canon:
        canon["category"], new_cats = _categories(canon, ctx.categories, default_field)
        if _chunking is not None and not new_cats.empty:  # later chunks find them as existing
            known = ctx.categories if ctx.categories is not None else contracts.empty_frame("categories")
            ctx.categories = pd.concat([known, new_cats], ignore_index=True)
    else:
        new_cats = None
    canonical = pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else pd.Series(v))
                              for k, v in canon.items()}, index=pd.RangeIndex(n))
    valid_frame, verrs = contracts.validate(kind, canonical)
    if _chunking is not None:  # ids already used in an earlier chunk
        verrs = _chunking.cross_duplicates(kind, canonical, valid_frame, verrs)
    _add_contract_errors(kind, verrs, frame, mapping, constants, probs, coord_rows, lang)
    _cross_checks(kind, valid_frame, frame, mapping, ctx, probs, lang)
    table = probs.frame()
    required = set(sp.required) | {"lat", "lon", "geometry"}
    reject_mask = ((table["severity"] == "reject")
                   & (table["field"].isin(required) | ~table["field"].isin(sp.columns))).to_numpy()
    clear_mask = ~reject_mask & table["severity"].isin(["reject", "warn"]).to_numpy()
    errors = table[reject_mask]
    warnings = table[~reject_mask]
    rejected_rows = np.unique(errors["row"].dropna().astype("int64").to_numpy())
    for fld_name, grp in table[clear_mask].groupby("field"):
        if fld_name in valid_frame.columns:
            drop = np.zeros(n, dtype=bool)
            drop[grp["row"].astype("int64").to_numpy() - 1] = True
            column = valid_frame[fld_name]
            if column.dtype == object:
                valid_frame[fld_name] = column.where(~drop, None)
            else:
                valid_frame.loc[drop, fld_name] = None
    keep = np.ones(n, dtype=bool)
    keep[rejected_rows - 1] = False
    accepted = valid_frame.loc[keep].reset_index(drop=True)
    if _chunking is not None:
        _chunking.notes.append(notes)
        notes = []  # merged and rendered once for the whole file
    elif new_cats is not None and not new_cats.empty:
        used = set(accepted["category"].dropna())
        new_cats = new_cats[new_cats["category"].isin(used)].reset_index(drop=True)
        if not new_cats.empty:
            shown = ", ".join(new_cats["label_de"].head(8)) + (" …" if len(new_cats) > 8 else "")
            fields_used = ", ".join(sorted(set(new_cats["field"])))
            notes.append(("note_new_categories", {"count": len(new_cats), "field": fields_used,
                                                  "names": shown}))
    rejected = _rejected_records(raw, frame, table, rejected_rows, lang)
    report = ImportReport(
        kind=kind, source_name=name, format=raw.format, lang=lang, records_total=n, frame=accepted,
        errors=errors[REPORT_COLUMNS].reset_index(drop=True),
        warnings=warnings[REPORT_COLUMNS].reset_index(drop=True), rejected=rejected,
        mapping=dict(mapping), mapping_origin=dict(mapping_origin or {}), columns=raw.columns,
        constants=constants, source_crs=source_crs,
        notes=[msg(k, lang, **p) for k, p in notes], new_categories=new_cats,
        geocoded=geocode_stats[0], not_geocoded=geocode_stats[1])
    return report


def _check_usable(kind: str, raw: RawTable, frame: pd.DataFrame, mapping: Mapping[str, str],
                  constants: Mapping[str, str]) -> None:
    sp = SPECS[kind]
    columns = [str(c) for c in frame.columns]
    has_geometry = raw.geometry is not None and any(g is not None for g in raw.geometry)
    if not mapping and not constants and not has_geometry:
        raise ImportError_("no_usable_column", file=raw.source_name, kind=kind,
                           columns=", ".join(columns) or "—", fields=", ".join(sp.required))
    missing = []
    for f in sp.required:
        if f in mapping or f in constants:
            continue
        if f in ("lat", "lon") and (has_geometry or {"x", "y"} <= set(mapping) or "latlon" in mapping
                                    or ("lat" in mapping and "lon" in mapping) or "address" in mapping):
            continue
        if f == "geometry" and has_geometry:
            continue
        missing.append(f)
    if missing:
        if len(missing) == len(sp.required):
            raise ImportError_("no_usable_column", file=raw.source_name, kind=kind,
                               columns=", ".join(columns) or "—", fields=", ".join(sp.required))
        raise ImportError_("required_unmapped", file=raw.source_name, kind=kind, fields=", ".join(missing),
                           columns=", ".join(columns) or "—")
    if kind in POLYGON_KINDS and has_geometry and "geometry" not in mapping:
        kinds = {g.geom_type for g in raw.geometry if g is not None}
        polygonal = {"Polygon", "MultiPolygon", "GeometryCollection"}
        if not kinds & polygonal:
            raise ImportError_("needs_polygons", file=raw.source_name, kind=kind,
                               found=", ".join(sorted(kinds)))


def _convert(kind: str, fld: contracts.Field, values: pd.Series, column: str, raw: RawTable,
             probs: _Problems, tz: str, lang: str) -> pd.Series:
    """One mapped column into the field's type; values that do not convert are problems."""
    k = fld.kind
    if k in ("float", "int"):
        nums, bad = mp.parse_numbers(values, raw.decimal_hint)
        probs.add(np.flatnonzero(bad) + 1, fld.name, column, values.to_numpy()[bad],
                  msg("r_not_number", lang))
        return pd.Series(nums)
    if k == "datetime":
        times, bad = mp.parse_datetimes(values, tz, raw.dayfirst_hint)
        probs.add(np.flatnonzero(bad) + 1, fld.name, column, values.to_numpy()[bad],
                  msg("r_not_datetime", lang))
        return times.reset_index(drop=True)
    if k == "enum":
        return mp.normalise_enum(kind, fld.name, values).reset_index(drop=True)
    return mp.to_text(values).reset_index(drop=True)


def _number_column(frame: pd.DataFrame, spec: str, fld: str, raw: RawTable, probs: _Problems,
                   lang: str) -> tuple[np.ndarray, np.ndarray]:
    """(numbers, bad mask) of a mapped coordinate column; bad values are problems."""
    values = mp.column_values(frame, spec).reset_index(drop=True)
    nums, bad = mp.parse_numbers(values, raw.decimal_hint)
    probs.add(np.flatnonzero(bad) + 1, fld, spec, values.to_numpy()[bad], msg("r_not_number", lang))
    return nums, bad


def _fmt(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if np.isfinite(v) else "?"


def _fmt_numbers(values: np.ndarray) -> pd.Series:
    """Coordinates for messages: at most 6 decimals, no trailing '.0' (vectorised)."""
    text = pd.Series(np.round(np.asarray(values, dtype="float64"), 6)).astype(str)
    return text.str.replace(r"\.0$", "", regex=True)


def _render(key: str, lang: str, **columns: object) -> list[str]:
    """One message per row with per-row parameters (no format conversions in the template)."""
    marks = {k: f"\x00{k}\x00" for k in columns}
    parts = re.split("\x00(\\w+)\x00", msg(key, lang, **marks))
    size = len(next(iter(columns.values()))) if columns else 0
    out = pd.Series([parts[0]] * size, dtype=object)
    for i in range(1, len(parts), 2):
        out = out + pd.Series(list(columns[parts[i]]), dtype=object).astype(str).to_numpy() + parts[i + 1]
    return out.tolist()


class _Origin:
    """Where each record's coordinates came from, for messages: column label and original text."""

    def __init__(self, n: int) -> None:
        self.column = np.full(n, "", dtype=object)
        self.a = np.full(n, None, dtype=object)
        self.b = np.full(n, None, dtype=object)

    def set(self, mask: np.ndarray, column: str, a: np.ndarray, b: np.ndarray | None) -> None:
        self.column[mask] = column
        self.a[mask] = a[mask]
        self.b[mask] = None if b is None else b[mask]

    def values(self, rows: np.ndarray) -> list[object]:
        a = pd.Series(self.a[rows], dtype=object)
        b = pd.Series(self.b[rows], dtype=object)
        text = a.astype(str) + ", " + b.astype(str)
        return text.where(b.notna(), a).where(a.notna(), None).tolist()


def _coordinates(kind: str, raw: RawTable, frame: pd.DataFrame, mapping: Mapping[str, str],
                 canon: dict[str, Any], probs: _Problems, ctx: _Context, crs: str | None, lang: str,
                 notes: list, geocode: bool, geocoder: Any, settings: GeocoderSettings | None,
                 cache: GeocodeCache | None, store: Store | None,
                 progress: Callable[[int, int, str], None] | None, chunking: _Chunking | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, str | None, np.ndarray, tuple[int, int]]:
    """lat/lon per record from geometry, lat/lon, x/y or "(lat, lon)" columns (first that has one);
    range, 0/0, swap and district checks; geocoding of address-only records."""
    n = len(frame)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    origin = _Origin(n)
    crs_used: list[str] = []
    flagged = np.zeros(n, dtype=bool)  # records with a coordinate problem already
    # 1. geometry of geo formats
    if raw.geometry is not None:
        geoms = raw.geometry
        present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        if present.any():
            pts = np.array(geoms[present], dtype=object)
            non_point = shapely.get_type_id(pts) != 0
            if non_point.any():
                pts[non_point] = shapely.point_on_surface(pts[non_point])
                notes.append(("note_non_point", {"count": int(non_point.sum())}))
            lon[present] = shapely.get_x(pts)
            lat[present] = shapely.get_y(pts)
            origin.set(present, "geometry", _fmt_numbers(lon).to_numpy(), _fmt_numbers(lat).to_numpy())
            crs_used.append(raw.source_crs or "OGC:CRS84")
        flagged |= np.isin(np.arange(1, n + 1), [r for r, c, *_ in raw.row_errors if c == "geometry"])
    # 2. lat/lon columns
    if "lat" in mapping and "lon" in mapping:
        la, bad_a = _number_column(frame, mapping["lat"], "lat", raw, probs, lang)
        lo, bad_b = _number_column(frame, mapping["lon"], "lon", raw, probs, lang)
        bad = bad_a | bad_b
        flagged |= bad
        take = np.isnan(lat) & ~bad & (np.isfinite(la) | np.isfinite(lo))
        lat[take], lon[take] = la[take], lo[take]
        origin.set(take, f"{mapping['lat']}/{mapping['lon']}",
                   mp.column_values(frame, mapping["lat"]).to_numpy(),
                   mp.column_values(frame, mapping["lon"]).to_numpy())
        if take.any():
            crs_used.append("EPSG:4326")
    # 3. x/y in metres (or degrees)
    if "x" in mapping and "y" in mapping:
        xs, _ = _number_column(frame, mapping["x"], "x", raw, probs, lang)
        ys, _ = _number_column(frame, mapping["y"], "y", raw, probs, lang)
        take = np.isnan(lat) & np.isfinite(xs) & np.isfinite(ys)
        if take.any():
            if crs:
                src = crs_mod.parse_crs(crs)
            elif chunking is not None and chunking.xy_crs is not None:
                src = chunking.xy_crs  # decided (and noted) by the first chunk with x/y
            elif crs_mod.looks_like_degrees(xs[take], ys[take]):
                src = crs_mod.WGS84
                notes.append(("note_xy_degrees", {}))
            else:
                src = crs_mod.guess_projected(xs[take], ys[take])
                if src is None:
                    ok = np.flatnonzero(take)
                    raise ImportError_("crs_guess_failed", file=raw.source_name,
                                       x=_fmt(float(np.median(xs[ok]))), y=_fmt(float(np.median(ys[ok]))))
                notes.append(("note_crs_assumed", {"crs": crs_mod.describe(src)}))
            if chunking is not None:
                chunking.xy_crs = src
            tlon, tlat = crs_mod.to_wgs84_xy(xs[take], ys[take], src)
            lon[take], lat[take] = tlon, tlat
            origin.set(take, f"{mapping['x']}/{mapping['y']}",
                       mp.column_values(frame, mapping["x"]).to_numpy(),
                       mp.column_values(frame, mapping["y"]).to_numpy())
            crs_used.append(crs_mod.describe(src))
    # 4. "(lat, lon)" text
    if "latlon" in mapping:
        values = mp.column_values(frame, mapping["latlon"]).reset_index(drop=True)
        la, lo, bad = parse_latlon_text(values)
        missing_now = np.isnan(lat) & ~flagged
        probs.add(np.flatnonzero(bad & missing_now) + 1, "lat", mapping["latlon"],
                  values.to_numpy()[bad & missing_now], msg("r_latlon_text", lang))
        flagged |= bad & missing_now
        take = np.isnan(lat) & np.isfinite(la)
        lat[take], lon[take] = la[take], lo[take]
        origin.set(take, mapping["latlon"], values.to_numpy(), None)
        if take.any() and "EPSG:4326" not in crs_used:
            crs_used.append("EPSG:4326")
    have = np.isfinite(lat) & np.isfinite(lon)
    # 0/0 placeholders
    zero = have & (lat == 0) & (lon == 0)
    rows = np.flatnonzero(zero)
    probs.add(rows + 1, "lat", origin.column[rows], origin.values(rows), msg("r_zero", lang))
    lat[zero] = np.nan
    lon[zero] = np.nan
    flagged |= zero
    have &= ~zero
    # ranges and swaps by range
    lat_bad = have & (np.abs(lat) > 90)
    lon_bad = have & (np.abs(lon) > 180)
    swapped = lat_bad & ~lon_bad & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    rows = np.flatnonzero(swapped)
    probs.add(rows + 1, "lat", origin.column[rows], origin.values(rows),
              _render("r_swapped_range", lang, lat=_fmt_numbers(lat[rows]), lon=_fmt_numbers(lon[rows])))
    rows = np.flatnonzero(lat_bad & ~swapped)
    probs.add(rows + 1, "lat", origin.column[rows], origin.values(rows),
              _render("r_lat_range", lang, value=_fmt_numbers(lat[rows])))
    rows = np.flatnonzero(lon_bad & ~lat_bad)
    probs.add(rows + 1, "lon", origin.column[rows], origin.values(rows),
              _render("r_lon_range", lang, value=_fmt_numbers(lon[rows])))
    out_of_range = lat_bad | lon_bad
    lat[out_of_range] = np.nan
    lon[out_of_range] = np.nan
    flagged |= out_of_range
    have &= ~out_of_range
    # records without coordinates: geocode or reject
    stats = (0, 0)
    missing = ~have & ~flagged
    if missing.any():
        address = mp.to_text(mp.column_values(frame, mapping["address"])).reset_index(drop=True) \
            if "address" in mapping else pd.Series([None] * n, dtype=object)
        has_addr = missing & address.notna().to_numpy()
        no_addr = missing & ~has_addr
        label = "/".join(mapping[f] for f in ("lat", "lon", "x", "y", "latlon") if f in mapping)
        probs.add(np.flatnonzero(no_addr) + 1, "lat", label or "geometry", None, msg("r_no_coords", lang))
        if has_addr.any() and not geocode:
            rows = np.flatnonzero(has_addr)
            probs.add(rows + 1, "lat", mapping.get("address"), address.to_numpy()[rows],
                      msg("r_no_coords_address", lang))
            notes.append(("note_geocode_off", {"count": len(rows)}))
        elif has_addr.any():
            stats = _geocode(has_addr, address, lat, lon, origin, probs, lang, notes, geocoder,
                             settings, cache, store, progress, mapping.get("address"))
            if stats[0]:
                crs_used.append("geocoder")
        flagged |= missing & ~np.isfinite(lat)
        have = np.isfinite(lat) & np.isfinite(lon) & ~flagged
    # districts: membership, swaps, outside
    districts = ctx.districts
    if districts is not None and len(districts) and have.any():
        from data.spatial import assign_polygons

        polys = list(districts["geometry"])
        ids = list(districts["district_id"])
        names = dict(zip(districts["district_id"], districts["name"], strict=True))
        idx = np.flatnonzero(have)
        inside = assign_polygons(lat[idx], lon[idx], polys, ids)
        out_idx = idx[pd.isna(inside)]
        if out_idx.size:
            alt = assign_polygons(lon[out_idx], lat[out_idx], polys, ids)
            sw = ~pd.isna(alt)
            rows = out_idx[sw]
            label = pd.Series(alt[sw], dtype=object).map(lambda d: f"{names[d]} ({d})").tolist()
            probs.add(rows + 1, "lat", origin.column[rows], origin.values(rows),
                      _render("r_swapped_district", lang, district=label))
            flagged[rows] = True
            if (rows.size > 0.5 * n and n >= 3) or (chunking is not None and rows.size):
                notes.append(("note_swapped_majority", {"count": int(rows.size), "total": n}))
            if kind in DISTRICT_CHECKED:
                rows = out_idx[~sw]
                probs.add(rows + 1, "lat", origin.column[rows], origin.values(rows),
                          _render("r_outside", lang, lat=_fmt_numbers(lat[rows]),
                                  lon=_fmt_numbers(lon[rows])))
                flagged[rows] = True
    elif kind in DISTRICT_CHECKED and (districts is None or not len(districts)):
        notes.append(("note_no_districts", {}))
    lat = np.where(flagged, np.nan, lat)
    lon = np.where(flagged, np.nan, lon)
    source = " + ".join(dict.fromkeys(crs_used)) or raw.source_crs
    return lat, lon, source, flagged, stats


def _geocode(rows_mask: np.ndarray, address: pd.Series, lat: np.ndarray, lon: np.ndarray,
             origin: _Origin, probs: _Problems, lang: str, notes: list,
             geocoder: Any, settings: GeocoderSettings | None, cache: GeocodeCache | None,
             store: Store | None, progress: Callable[[int, int, str], None] | None,
             column: str | None) -> tuple[int, int]:
    settings = settings or GeocoderSettings.from_env()
    if cache is None and store is not None:
        cache = store.geocode_cache()
    rows = np.flatnonzero(rows_mask)
    addrs = address.to_numpy()[rows]
    outcome = geocode_addresses(addrs, geocoder=geocoder, settings=settings, cache=cache, progress=progress)
    found = 0
    not_found_rows, failed_rows = [], []
    for i, a in zip(rows, addrs, strict=True):
        key = query_key(a, settings)
        res = outcome.results.get(key)
        if res is not None:
            lat[i], lon[i] = res
            origin.column[i] = f"{column} (geocoded)"
            origin.a[i], origin.b[i] = a, None
            found += 1
        elif key in outcome.failed:
            failed_rows.append(i)
        else:
            not_found_rows.append(i)
    r = np.array(not_found_rows, dtype="int64")
    probs.add(r + 1, "lat", column, list(address.to_numpy()[r]),
              msg("r_not_geocoded", lang, detail=msg("r_geocode_not_found", lang)))
    r = np.array(failed_rows, dtype="int64")
    probs.add(r + 1, "lat", column, list(address.to_numpy()[r]),
              msg("r_not_geocoded", lang, detail=msg("r_geocode_offline", lang, server=outcome.server)))
    if outcome.error:
        notes.append(("note_geocode_failed", {"server": outcome.server, "detail": outcome.error[:200],
                                              "count": len(failed_rows)}))
    notes.append(("note_geocoded", {"found": outcome.found, "cached": outcome.cached,
                                    "missing": outcome.not_found}))
    return found, len(not_found_rows) + len(failed_rows)


def _polygons(raw: RawTable, frame: pd.DataFrame, mapping: Mapping[str, str], probs: _Problems, lang: str,
              notes: list) -> pd.Series:
    """Polygon geometries (from the file's geometry or a WKT/GeoJSON text column), repaired."""
    n = len(frame)
    if "geometry" in mapping:
        values = mp.column_values(frame, mapping["geometry"]).reset_index(drop=True)
        geoms = np.full(n, None, dtype=object)
        bad = np.zeros(n, dtype=bool)
        for i, v in enumerate(values):
            if v is None:
                continue
            try:
                text = str(v).strip()
                if text.startswith("{"):
                    from data.importers.readers import geometry_from_geojson

                    geoms[i] = geometry_from_geojson(json.loads(text))
                else:
                    geoms[i] = shapely.force_2d(shapely.from_wkt(text))
            except Exception:
                bad[i] = True
        probs.add(np.flatnonzero(bad) + 1, "geometry", mapping["geometry"], values.to_numpy()[bad],
                  msg("r_not_geometry_text", lang))
        column = mapping["geometry"]
    else:
        geoms = np.array(raw.geometry, dtype=object) if raw.geometry is not None else np.full(n, None)
        column = "geometry"
    repaired = 0
    for i, g in enumerate(geoms):
        if g is None:
            continue
        if g.geom_type == "GeometryCollection":
            g = _polygonal(g)
            geoms[i] = g
        if g is None or g.is_empty:
            continue
        minx, miny, maxx, maxy = g.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            probs.add(np.array([i + 1]), "geometry", column, g.geom_type, msg("r_geom_range", lang))
            geoms[i] = None
            continue
        if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_valid:
            reason = shapely.is_valid_reason(g)
            fixed = _polygonal(shapely.make_valid(g))
            if fixed is not None and not fixed.is_empty:
                geoms[i] = fixed
                repaired += 1
                probs.add(np.array([i + 1]), "geometry", column, reason,
                          msg("r_repaired", lang, detail=reason), severity="note")
    if repaired:
        notes.append(("note_repaired", {"count": repaired}))
    return pd.Series(geoms, dtype=object)


def _polygonal(g: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal part of a geometry (GeometryCollection, make_valid output) or itself."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return g  # no polygonal part: validation reports the type
    polys = []
    for p in parts:
        polys.extend(p.geoms if p.geom_type == "MultiPolygon" else [p])
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _categories(canon: dict[str, Any], existing: pd.DataFrame | None,
                default_field: str) -> tuple[pd.Series, pd.DataFrame]:
    """Category keys for the complaints' category texts, and the categories to add.

    A text that equals a key, a German or an English label of the categories table
    (ignoring case, umlaut spelling and separators) takes that key; any other text
    becomes a new category with a key made from the text (``Wilder Müll`` ->
    ``wilder_muell``), the text as its German label, and the Masterplan field most often
    given for it in the file's ``field`` column, else ``default_field``.
    """
    cats = canon["category"]
    existing = existing if existing is not None else contracts.empty_frame("categories")
    lookup: dict[str, str] = {}
    for col in ("label_en", "label_de", "category"):  # keys win over labels
        for key, label in zip(existing["category"], existing[col], strict=True):
            if label is not None and not (isinstance(label, float) and np.isnan(label)):
                lookup[mp.normalise_value(label)] = key
    taken = set(existing["category"])
    field_hint = canon.get("field")
    uniques = list(pd.unique(cats.dropna()))
    best_field: dict[str, str] = {}
    if field_hint is not None:
        pairs = pd.DataFrame({"c": cats.to_numpy(), "f": pd.Series(field_hint).to_numpy()}).dropna()
        pairs = pairs[pairs["f"].isin(FIELDS)]
        if len(pairs):
            counts = pairs.groupby(["c", "f"]).size().reset_index(name="k")
            counts = counts.sort_values(["c", "k"], ascending=[True, False]).drop_duplicates("c")
            best_field = dict(zip(counts["c"], counts["f"], strict=True))
    mapping: dict[str, str] = {}
    new_rows = []
    for u in uniques:
        norm = mp.normalise_value(u)
        if u in taken:
            mapping[u] = u
        elif norm in lookup:
            mapping[u] = lookup[norm]
        else:
            key = mp.slug(u)
            base, k = key, 2
            while key in taken:
                key = f"{base}_{k}"
                k += 1
            taken.add(key)
            lookup[norm] = key
            mapping[u] = key
            fld = best_field.get(u, default_field)
            new_rows.append({"category": key, "field": fld, "label_de": str(u), "label_en": None})
    keys = cats.map(lambda v: None if v is None else mapping.get(v, v)).astype(object)
    new = pd.DataFrame(new_rows, columns=["category", "field", "label_de", "label_en"])
    return keys, new


def _add_contract_errors(kind: str, verrs: pd.DataFrame, frame: pd.DataFrame, mapping: Mapping[str, str],
                         constants: Mapping[str, str], probs: _Problems, coord_rows: np.ndarray,
                         lang: str) -> None:
    """Errors of data.contracts.validate, with the original values and the file's column names."""
    if verrs.empty:
        return
    verrs = verrs[verrs["row"].notna()]
    for (fld, reason), grp in verrs.groupby(["column", "reason"], sort=False):
        rows = grp["row"].astype("int64").to_numpy()
        if fld in ("lat", "lon"):
            rows = rows[~coord_rows[rows - 1]]
            if rows.size == 0:
                continue
        if fld in mapping:
            column = mapping[fld]
            original = mp.column_values(frame, mapping[fld]).to_numpy()[rows - 1]
        elif fld in constants:
            column, original = f"={constants[fld]}", constants[fld]
        else:
            column, original = fld, grp["value"].to_numpy()
        probs.add(rows, fld, column, original, contract_reason(str(reason), lang))


def _cross_checks(kind: str, valid: pd.DataFrame, frame: pd.DataFrame, mapping: Mapping[str, str],
                  ctx: _Context, probs: _Problems, lang: str) -> None:
    """References: parent districts in the file, districts and patrols in the store."""
    if kind == "districts":
        parents = valid["parent_id"]
        known = set(valid["district_id"].dropna())
        bad = parents.notna().to_numpy() & ~parents.isin(known).to_numpy()
        rows = np.flatnonzero(bad)
        probs.add(rows + 1, "parent_id", mapping.get("parent_id"), list(parents.to_numpy()[rows]),
                  [msg("r_unknown_parent", lang, value=v) for v in parents.to_numpy()[rows]],
                  severity="warn")
    elif kind == "patrols" and ctx.districts is not None and len(ctx.districts):
        ids = valid["district_id"]
        bad = ids.notna().to_numpy() & ~ids.isin(set(ctx.districts["district_id"])).to_numpy()
        rows = np.flatnonzero(bad)
        probs.add(rows + 1, "district_id", mapping.get("district_id"), list(ids.to_numpy()[rows]),
                  [msg("r_unknown_district", lang, value=v) for v in ids.to_numpy()[rows]],
                  severity="warn")
    elif kind == "patrol_points" and ctx.patrol_ids is not None:
        ids = valid["patrol_id"].astype(object)
        bad = ids.notna().to_numpy() & ~ids.astype(str).isin(ctx.patrol_ids).to_numpy()
        rows = np.flatnonzero(bad)
        vals = ids.to_numpy()[rows]
        uniq = {v: msg("r_unknown_patrol", lang, value=v) for v in pd.unique(vals)}
        probs.add(rows + 1, "patrol_id", mapping.get("patrol_id"), list(vals), [uniq[v] for v in vals])


def _rejected_records(raw: RawTable, frame: pd.DataFrame, table: pd.DataFrame, rows: np.ndarray,
                      lang: str) -> pd.DataFrame:
    """Original values of the rejected records, with row number and all reasons."""
    row_col = msg("row", lang).capitalize() if lang == "de" else "row"
    reason_col = "Grund" if lang == "de" else "reason"
    if rows.size == 0:
        return pd.DataFrame(columns=[row_col, reason_col, *raw.columns])
    mine = table[table["row"].isin(rows)].sort_values("row", kind="stable")
    text = (mine["column"].astype(str) + ": " + mine["reason"].astype(str)).to_numpy(dtype=object)
    r = mine["row"].to_numpy(dtype="int64")
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    counts = np.diff(np.r_[starts, r.size])
    joined = text[starts].copy()
    for i in np.flatnonzero(counts > 1):  # most records have one reason: join only the others
        joined[i] = "; ".join(text[starts[i]:starts[i] + counts[i]])
    reasons = pd.Series(joined, index=r[starts])
    original = raw.frame.iloc[rows - 1].reset_index(drop=True)
    out = pd.DataFrame({row_col: rows, reason_col: reasons.reindex(rows).to_numpy()})
    out = pd.concat([out, original], axis=1)
    if raw.geometry is not None and "geometry" not in out.columns:
        out["geometry"] = [None if g is None else g.wkt for g in np.asarray(raw.geometry)[rows - 1]]
    return out
