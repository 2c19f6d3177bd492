"""Data folders: the on-disk layout of a city's data, read and written in one place.

Layout of a data folder (every file optional unless marked)::

    dataset.json            metadata: {"name": ..., "synthetic": true|false, ...}
    districts.geojson       (required) FeatureCollection, properties = contract fields
    focus_areas.geojson     FeatureCollection, properties = contract fields
    categories.csv|.parquet (required)
    offices.csv|.parquet
    patrols.csv|.parquet
    patrol_points.csv|.parquet
    complaints.csv|.parquet
    staff_incidents.csv|.parquet

Polygons are GeoJSON in WGS84; tables are CSV (UTF-8, comma, ISO 8601 times with offset)
or Parquet (typed columns; preferred for the large tables). When both exist, Parquet wins.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from data import contracts
from data.contracts import DATASETS, SPECS
from data.periods import quarter_label, quarter_ordinals
from data.privacy import cell_key_secret, record_keys

REQUIRED_FILES = ("districts", "categories")
META_FILE = "dataset.json"


class DataFolderError(ValueError):
    """A data folder that cannot be used; ``errors`` is the error table."""

    def __init__(self, folder: Path, errors: pd.DataFrame) -> None:
        self.folder = folder
        self.errors = errors
        lines = contracts.format_errors(errors, limit=10)
        super().__init__(f"invalid data folder {str(folder)!r}:\n" + "\n".join(lines))


@dataclass
class DataBundle:
    """The validated data sets of one data folder, in canonical form.

    Derived columns added on load: ``district_id`` (point in polygon), ``quarter``
    (ordinal, see :mod:`data.periods`), ``weekday`` (0 = Monday) and ``hour`` (local time)
    on complaints and staff incidents, ``closed_quarter`` and ``field`` (from the category)
    on complaints, ``district_id`` on offices and ``quarter`` on patrols.
    """

    frames: dict[str, pd.DataFrame]
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    _cache: dict = field(default_factory=dict, repr=False)  # derived values, computed once
    # Large data sets not read yet: name -> loader (see :func:`load_folder` with ``lazy``).
    # ``bundle[name]`` reads one on first use; pages that only need aggregates never do.
    lazy: dict[str, Callable[[], pd.DataFrame]] = field(default_factory=dict, repr=False)
    # Raw records filtered on read: (name, start, end) -> rows whose time lies in [start, end)
    # (see :meth:`records_between`); None reads the whole frame and filters in memory.
    reader: Callable[[str, pd.Timestamp | None, pd.Timestamp | None], pd.DataFrame] | None = \
        field(default=None, repr=False)
    # The districts a restricted view keeps (data.roles.restrict); None: the whole data set.
    district_scope: frozenset[str] | None = None
    # Single complaints queried at their source (the database store, data.dbstore.records):
    # (filters, district scope, limit) -> (the newest ``limit`` matching rows, how many match).
    # None: viz filters the rows of records_between.
    points: Callable[[Any, frozenset[str] | None, int], tuple[pd.DataFrame, int]] | None = \
        field(default=None, repr=False)
    # The prepared form this bundle was opened from (geo.prepared.Prepared), else None.
    prepared: Any = field(default=None, repr=False)
    # How counts are published to whoever sees this bundle (data.privacy.Publisher): set by
    # data.roles.restrict for viewers (cell key method); None: exact numbers.
    publisher: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.frames and name in self.lazy:
            with self._lock:
                if name not in self.frames:
                    self.frames[name] = self.lazy[name]()
        return self.frames[name]

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is in memory (False for a large data set not read yet)."""
        return name in self.frames

    def records_between(self, name: str, column: str, start: pd.Timestamp | None,
                        end: pd.Timestamp | None) -> pd.DataFrame:
        """Rows of ``name`` whose ``column`` lies in [start, end) (None: open end).

        Read from disk with a filter when the data set is not in memory (the app never
        holds all raw complaints), else selected in memory.
        """
        if name not in self.frames and self.reader is not None:
            return self.reader(name, start, end)
        frame = self[name]
        mask = np.ones(len(frame), dtype=bool)
        if start is not None:
            mask &= (frame[column] >= start).to_numpy()
        if end is not None:
            mask &= (frame[column] < end).to_numpy()
        return frame.loc[mask].reset_index(drop=True)

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))

    def category_labels(self, lang: str) -> dict[str, str]:
        """category -> its label in ``lang`` ("de"/"en"; English falls back to German)."""
        key = ("category_labels", lang == "en")
        if key not in self._cache:
            cats = self.frames["categories"]
            col = "label_en" if lang == "en" else "label_de"
            labels = cats[col].where(cats[col].notna(), cats["label_de"])
            self._cache[key] = dict(zip(cats["category"], labels, strict=True))
        return dict(self._cache[key])

    def district_centres(self) -> pd.DataFrame:
        """district_id, name, lat, lon of a point inside each district (its centroid when that
        lies inside, else a point on its surface); computed once."""
        if "district_centres" not in self._cache:
            d = self["districts"]
            geoms = d["geometry"].to_numpy()
            centroids = shapely.centroid(geoms)
            centres = np.where(shapely.contains(geoms, centroids), centroids,
                               shapely.point_on_surface(geoms))
            self._cache["district_centres"] = pd.DataFrame({
                "district_id": d["district_id"].to_numpy(), "name": d["name"].to_numpy(),
                "lat": shapely.get_y(centres), "lon": shapely.get_x(centres)})
        return self._cache["district_centres"].copy()

    def district_bounds(self, districts: tuple[str, ...] = ()) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the districts (all: empty); once per set."""
        key = ("district_bounds", tuple(districts))
        if key not in self._cache:
            d = self["districts"]
            if districts:
                d = d[d["district_id"].isin(districts)]
            xmin, ymin, xmax, ymax = shapely.total_bounds(d["geometry"].to_numpy())
            self._cache[key] = (float(xmin), float(ymin), float(xmax), float(ymax))
        return self._cache[key]

    def quarters(self) -> list[int]:
        """Quarter ordinals that hold complaints or patrols, ascending (computed once)."""
        if "quarters" not in self._cache:
            self._cache["quarters"] = self._find_quarters()
        return list(self._cache["quarters"])

    @property
    def as_of(self) -> pd.Timestamp | None:
        """When the newest complaint came in (None without complaints)."""
        if "as_of" not in self._cache:
            received = self["complaints"]["received_at"]
            self._cache["as_of"] = received.max() if len(received) else None
        return self._cache["as_of"]

    @property
    def complaint_table(self) -> pd.DataFrame:
        """Complaints summarised once by every filter and KPI dimension (computed once).

        Columns quarter, district_id, field, category, weekday, hour, status, ``n`` (how
        many complaints the row stands for) and ``key_sum`` (the sum of their record keys, see
        :func:`data.privacy.record_keys`; secret: ``LAGEBILD_CELL_KEY_SECRET``): a filter change
        sums a few thousand rows instead of scanning every complaint, and any slice gets the
        key sum the cell key method needs by summing too.
        """
        if "complaint_table" not in self._cache:
            keys = ["quarter", "district_id", "field", "category", "weekday", "hour", "status",
                    "closed_quarter"]
            c = self.frames["complaints"]
            c = c[keys].assign(key_sum=record_keys(c["complaint_id"], cell_key_secret(os.environ)))
            grouped = c.groupby(keys, observed=True, dropna=False, sort=False)["key_sum"]
            table = grouped.agg(["size", "sum"]).rename(columns={"size": "n", "sum": "key_sum"})
            self._cache["complaint_table"] = table.reset_index()
        return self._cache["complaint_table"]

    def _find_quarters(self) -> list[int]:
        found: set[int] = set()
        complaints = self["complaints"]
        if len(complaints):
            found.update(np.unique(complaints["quarter"]).tolist())
        if "patrol_quarters" in self._cache:  # a prepared form knows them: patrols stay unread
            found.update(self._cache["patrol_quarters"])
        else:
            patrols = self["patrols"]  # read now when they were left lazy
            if len(patrols):
                found.update(np.unique(quarter_ordinals(patrols["start"])).tolist())
        return sorted(q for q in found if q >= 0)

    def bbox(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the districts."""
        geoms = self.frames["districts"]["geometry"].to_numpy()
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        return (float(xmin), float(ymin), float(xmax), float(ymax))

    def counts(self) -> dict[str, int]:
        """Records per data set (known without reading a large data set not in memory)."""
        known = self._cache.get("counts", {})
        names = [n for n in DATASETS if n in self.frames or n in self.lazy]
        names += [n for n in self.frames if n not in names]
        return {name: len(self.frames[name]) if name in self.frames else int(known[name])
                for name in names if name in self.frames or name in known}

    def summary(self) -> dict:
        return {
            "records": self.counts(),
            "quarters": [quarter_label(q) for q in self.quarters()],
            "bbox": [round(v, 6) for v in self.bbox()],
        }


def _read_geojson(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    if doc.get("type") != "FeatureCollection":
        raise ValueError(f"{path.name}: expected a GeoJSON FeatureCollection, got {doc.get('type')!r}")
    rows = []
    for feature in doc.get("features", []):
        props = dict(feature.get("properties") or {})
        try:
            props["geometry"] = shapely.geometry.shape(feature["geometry"])
        except Exception as exc:  # malformed geometry: reported by validation
            props["geometry"] = f"invalid geometry: {exc}"
        rows.append(props)
    return pd.DataFrame(rows)


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")


def _find(folder: Path, name: str) -> Path | None:
    if SPECS[name].form == "polygons":
        candidates = [folder / f"{name}.geojson"]
    else:
        candidates = [folder / f"{name}.parquet", folder / f"{name}.csv"]
    return next((p for p in candidates if p.exists()), None)


STREAM_ROWS = 500_000  # rows per batch of a data set checked in batches (read_folder's stream)


def read_folder(folder: str | Path, skip: tuple[str, ...] = (), stream: tuple[str, ...] = (),
                chunk_rows: int | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """Read and validate every data set; never raises for bad content.

    Data sets named in ``skip`` are not read (an empty frame stands in for them, also in
    the cross-reference checks). Data sets named in ``stream`` (the large ones; only when
    stored as Parquet) are validated in row batches of ``chunk_rows`` (default
    :data:`STREAM_ROWS`) and not kept: an empty frame stands in for them in the result, but
    the error table is the one reading them whole gives (the contract, ids unique over the
    whole file, references into the other data sets; same rows, same order), with memory
    bounded by one batch plus a 64-bit hash per id (equal hashes: the ids are read again).
    Returns (canonical frames, metadata, error table).
    """
    folder = Path(folder)
    errors: list[pd.DataFrame] = []
    frames: dict[str, pd.DataFrame] = {}
    if not folder.is_dir():
        return {}, {}, contracts.errors_frame(
            [("folder", None, None, str(folder), "data folder does not exist")]
        )
    meta: dict = {}
    meta_path = folder / META_FILE
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            errors.append(contracts.errors_frame([(META_FILE, None, None, None, f"not JSON: {exc}")]))
    streamed: list[tuple[str, Path, int]] = []  # (name, file, its slot in ``errors``)
    for name in DATASETS:
        path = _find(folder, name)
        if name in skip and path is not None:
            frames[name] = contracts.empty_frame(name)
            continue
        if name in stream and path is not None and path.suffix == ".parquet":
            streamed.append((name, path, len(errors)))  # checked once the small ones are read
            errors.append(contracts.errors_frame([]))
            frames[name] = contracts.empty_frame(name)
            continue
        if path is None:
            if name in REQUIRED_FILES:
                errors.append(contracts.errors_frame(
                    [(name, None, None, None, f"file {name}.* is missing in {folder}")]))
            frames[name] = contracts.empty_frame(name)
            continue
        try:
            raw = _read_geojson(path) if path.suffix == ".geojson" else _read_table(path)
        except Exception as exc:
            errors.append(contracts.errors_frame(
                [(name, None, None, path.name, f"cannot read {path.name}: {exc}")]))
            frames[name] = contracts.empty_frame(name)
            continue
        if raw.empty and len(raw.columns) == 0:  # e.g. a FeatureCollection without features
            raw = pd.DataFrame({c: [] for c in SPECS[name].columns})
        frame, errs = contracts.validate(name, raw)
        frames[name] = frame
        errors.append(errs)
    errors.append(contracts.check_references(frames))
    references: dict[str, pd.DataFrame] = {}
    for name, path, slot in streamed:
        errors[slot], references[name] = _check_in_batches(
            name, path, frames, STREAM_ROWS if chunk_rows is None else chunk_rows)
    # check_references reports data set by data set, in DATASETS order (as read whole)
    errors.extend(references[name] for name in DATASETS if name in references)
    errors = [e for e in errors if not e.empty]
    table = pd.concat(errors, ignore_index=True) if errors else contracts.errors_frame([])
    return frames, meta, table


_DUPLICATE = "duplicate id (already used above)"  # contracts.validate's reason


def _check_in_batches(name: str, path: Path, frames: dict[str, pd.DataFrame], chunk_rows: int
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The errors of a Parquet data set read in row batches: (its own, its references into
    ``frames``), each as contracts.validate / contracts.check_references report them for
    the whole file (rows counted over the file; an id repeated in a later batch is a
    duplicate; a file-level error once)."""
    import pyarrow.parquet as pq

    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    unique = [f.name for f in SPECS[name].fields if f.unique]
    own: list[pd.DataFrame] = []
    refs: list[pd.DataFrame] = []
    hashes: dict[str, list[np.ndarray]] = {col: [] for col in unique}  # of the ids, file order
    offset = 0
    others = {k: v for k, v in frames.items() if k != name}

    def check(raw: pd.DataFrame, first: bool) -> None:
        nonlocal offset
        frame, errs = contracts.validate(name, raw)
        ref = contracts.check_references({**others, name: frame})
        ref = ref[ref["dataset"] == name]
        if not first:  # a missing column is reported once, as for the whole file
            errs = errs[errs["row"].notna()]
        for part, out in ((errs, own), (ref, refs)):
            if not part.empty:
                part = part.copy()
                part["row"] = part["row"] + offset
                out.append(part)
        for col in unique:
            if col in raw.columns:
                hashes[col].append(pd.util.hash_pandas_object(frame[col], index=False).to_numpy())
        offset += len(frame)

    try:
        pf = pq.ParquetFile(path)
        first = True
        for batch in pf.iter_batches(batch_size=chunk_rows):
            check(batch.to_pandas(), first)
            first = False
        if first:  # no rows: the columns alone, as reading the whole file gives them
            raw = pf.schema_arrow.empty_table().to_pandas()
            if raw.empty and len(raw.columns) == 0:
                raw = pd.DataFrame({c: [] for c in SPECS[name].columns})
            check(raw, True)
    except Exception as exc:  # as read_folder reports a file it cannot read
        return contracts.errors_frame([(name, None, None, path.name, f"cannot read {path.name}: {exc}")]), \
            contracts.errors_frame([])
    for col in unique:
        if len(hashes[col]) < 2:
            continue  # one batch: contracts.validate saw every id
        ordered = np.sort(np.concatenate(hashes[col]))
        if not (ordered[1:] == ordered[:-1]).any():
            continue  # no two ids alike
        del ordered  # equal hashes: the ids themselves decide (read again, one column)
        raw_values = pd.read_parquet(path, columns=[col])[col]
        values, _ = contracts.validate(name, raw_values.to_frame())
        values = values[col]
        dup = values.duplicated(keep="first").to_numpy() & values.notna().to_numpy()
        rows = np.flatnonzero(dup) + 1
        seen = [e for e in own if not e.empty]
        if seen:  # a duplicate within one batch is reported already
            known = pd.concat(seen, ignore_index=True)
            known = known[(known["column"] == col) & (known["reason"] == _DUPLICATE)]
            rows = rows[~np.isin(rows, known["row"].to_numpy(dtype=np.int64))]
        if len(rows):
            own.append(pd.DataFrame({"dataset": name, "row": rows, "column": col,
                                     "value": raw_values.iloc[rows - 1].to_numpy(dtype=object),
                                     "reason": _DUPLICATE}))
    own = [e for e in own if not e.empty]
    errors = pd.concat(own, ignore_index=True) if own else contracts.errors_frame([])
    if len(own) > 1:  # the order contracts.validate gives the whole file
        errors["row"] = errors["row"].astype("Int64")
        errors = errors.sort_values(["row", "column"], na_position="first", kind="stable") \
            .reset_index(drop=True)
    refs = [e for e in refs if not e.empty]
    return errors, pd.concat(refs, ignore_index=True) if refs else contracts.errors_frame([])


def load_folder(folder: str | Path, lazy: tuple[str, ...] = ()) -> DataBundle:
    """Load a data folder into a :class:`DataBundle`; raises :class:`DataFolderError`.

    Data sets named in ``lazy`` (large ones: ``complaints``, ``patrol_points``) are neither
    read nor validated now: the bundle reads one when it is first asked for it, and
    :meth:`DataBundle.records_between` reads only the rows of a time range. Use this only
    for a folder whose large data sets were validated before (its prepared form is current,
    see geo.prepared); otherwise load everything.
    """
    folder = Path(folder)
    frames, meta, errors = read_folder(folder, skip=lazy)
    if not errors.empty:
        raise DataFolderError(folder, errors)
    present = tuple(n for n in lazy if _find(folder, n) is not None)
    bundle = prepare({n: f for n, f in frames.items()}, meta, folder)
    small = dict(bundle.frames)  # districts and categories of the whole data set

    def read_rows(name: str, start=None, end=None) -> pd.DataFrame:
        refs = small
        if name == "patrol_points" and "patrols" in present:  # pings refer to the patrols
            refs = {**small, "patrols": bundle["patrols"]}
        return _read_records(folder, name, refs, start, end)

    for name in present:
        del bundle.frames[name]
        bundle.lazy[name] = (lambda n=name: read_rows(n))
    bundle.reader = read_rows if present else None
    return bundle


_TIME_COLUMN = {"complaints": "received_at", "patrol_points": "time",
                "staff_incidents": "occurred_at"}


def _read_records(folder: Path, name: str, small: dict[str, pd.DataFrame],
                  start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    """The validated, derived rows of one data set, filtered on read by its time column.

    Parquet is read through a pyarrow dataset with the time range as a filter: row groups
    outside the range are skipped by their statistics and only matching rows reach pandas.
    """
    path = _find(folder, name)
    if path is None:
        return prepare_one(name, contracts.empty_frame(name), small)
    time_col = _TIME_COLUMN.get(name)
    if path.suffix == ".parquet":
        import pyarrow.dataset as ds

        dataset = ds.dataset(path, format="parquet")
        expr = None
        if time_col is not None and (start is not None or end is not None):
            col_type = dataset.schema.field(time_col).type
            field_ = ds.field(time_col)
            for bound, op in ((start, "ge"), (end, "lt")):
                if bound is None:
                    continue
                import pyarrow as pa

                value = pa.scalar(pd.Timestamp(bound).to_pydatetime(), type=col_type)
                cond = field_ >= value if op == "ge" else field_ < value
                expr = cond if expr is None else expr & cond
        raw = dataset.to_table(filter=expr).to_pandas()
    else:
        raw = _read_table(path)
    frame, errors = contracts.validate(name, raw)
    if not errors.empty:
        raise DataFolderError(folder, errors)
    if path.suffix != ".parquet" and time_col is not None:
        keep = np.ones(len(frame), dtype=bool)
        if start is not None:
            keep &= (frame[time_col] >= start).to_numpy()
        if end is not None:
            keep &= (frame[time_col] < end).to_numpy()
        frame = frame.loc[keep].reset_index(drop=True)
    return prepare_one(name, frame, small)


def prepare(frames: dict[str, pd.DataFrame], meta: dict, path: Path | None = None) -> DataBundle:
    """Add the derived columns to validated frames."""
    frames = dict(frames)
    for name in ("complaints", "staff_incidents", "offices", "patrols"):
        frames[name] = prepare_one(name, frames[name], frames)
    return DataBundle(frames=frames, meta=meta, path=path)


def prepare_one(name: str, frame: pd.DataFrame, small: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The derived columns of one validated data set (``small`` gives districts, categories)."""
    from data.spatial import assign_polygons

    if name == "patrols":
        patrols = frame.copy()
        patrols["quarter"] = quarter_ordinals(patrols["start"])
        return patrols
    if name not in ("complaints", "staff_incidents", "offices"):
        return frame
    districts = small["districts"]
    polys, ids = districts["geometry"].tolist(), districts["district_id"].tolist()
    if name == "complaints":
        frame = contracts.derive_fields(frame, small["categories"])
    time_col = _TIME_COLUMN.get(name)
    frame = frame.copy()
    frame["district_id"] = assign_polygons(frame["lat"].to_numpy(), frame["lon"].to_numpy(),
                                           polys, ids)
    if time_col:
        local = frame[time_col].dt.tz_convert(contracts.TZ)
        frame["quarter"] = quarter_ordinals(local)
        frame["weekday"] = local.dt.day_of_week.to_numpy(dtype="int8")
        frame["hour"] = local.dt.hour.to_numpy(dtype="int8")
    if name == "complaints":
        # Low-cardinality columns of the big table as categoricals: filters and counts on a
        # million complaints then work on small integer codes.
        frame["closed_quarter"] = closed_quarters(frame)
        for col in ("district_id", "category", "field", "status", "source"):
            frame[col] = frame[col].astype("category")
    return frame


NEVER_CLOSED = 2**30  # closed_quarter of a complaint that is still open


def closed_quarters(complaints: pd.DataFrame) -> np.ndarray:
    """The quarter in which each complaint was closed, for "open at the end of a period".

    Open and in-progress complaints get :data:`NEVER_CLOSED`; closed ones the quarter of
    ``closed_at``, or -1 when the file gives no closing time (closed, but not known when).
    """
    still_open = complaints["status"].isin(["open", "in_progress"]).to_numpy()
    closed = quarter_ordinals(complaints["closed_at"]) if len(complaints) else np.zeros(0, np.int32)
    return np.where(still_open, NEVER_CLOSED, closed).astype(np.int64)


# --- writing -------------------------------------------------------------------------------

def _json_value(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA \
            or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _round_coords(geom: shapely.Geometry, digits: int = 6) -> dict:
    return json.loads(json.dumps(shapely.geometry.mapping(shapely.set_precision(geom, 10**-digits))))


def write_geojson(frame: pd.DataFrame, path: Path) -> None:
    features = []
    for rec in frame.to_dict("records"):
        geom = rec.pop("geometry")
        props = {k: _json_value(v) for k, v in rec.items()}
        features.append({"type": "Feature", "properties": props, "geometry": _round_coords(geom)})
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda t: "" if pd.isna(t) else t.isoformat())
    return out


def write_table(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False, compression="zstd")
    else:
        _csv_ready(frame).to_csv(path, index=False, lineterminator="\n")


PARQUET_DATASETS = ("complaints", "patrol_points")  # the large tables


def write_dataset(name: str, frame: pd.DataFrame, folder: Path,
                  parquet: tuple[str, ...] = PARQUET_DATASETS) -> Path:
    """Write one data set (only its contract columns) into ``folder``, replacing older files."""
    cols = [c for c in SPECS[name].columns if c in frame.columns]
    frame = frame[cols]
    for stale in folder.glob(f"{name}.*"):
        stale.unlink()
    if SPECS[name].form == "polygons":
        path = folder / f"{name}.geojson"
        write_geojson(frame, path)
    else:
        path = folder / f"{name}.{'parquet' if name in parquet else 'csv'}"
        write_table(frame, path)
    return path


def write_folder(
    folder: str | Path,
    frames: dict[str, pd.DataFrame],
    meta: dict,
    parquet: tuple[str, ...] = PARQUET_DATASETS,
    preparer: Callable[[Path], object] | None = None,
) -> Path:
    """Write canonical frames as a data folder (only the contract columns).

    ``preparer`` (geo.prepared.prepare_folder, handed in by a layer above) then builds the
    folder's prepared form, so that a data set is prepared once, when it is written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        write_dataset(name, frame, folder, parquet)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    if preparer is not None:
        preparer(folder)
    return folder
