"""The database store: imported data in PostgreSQL 15 / PostGIS 3 (``LAGEBILD_DB``).

The same promises and the same interface as the file store (:class:`data.store.Store`,
protocol :class:`data.storeapi.StoreLike`), for shared deployments with several app
replicas. Schema: ``data/dbstore/migrations`` (Alembic; ``python -m data db upgrade``).

* **One transaction per import or restore.** The state row is locked (``SELECT ... FOR
  UPDATE``, so writers queue), the new generation is validated in memory exactly like the
  file store validates its staging folder, its changed data sets are written with COPY,
  and only the commit makes it visible. A failure, a lost connection or a killed process
  rolls everything back: no generation number, no row, no report is left behind.
* **Nothing lost.** Every generation stays. A generation's data set points at the rows of
  the generation that last wrote it (``lagebild_generation_data``); unchanged data sets
  are shared, never copied. A restore writes a new generation, so it can be undone.
* **Replicas.** ``lagebild_state`` holds the current generation and the active switch;
  every app rerun reads it (one indexed row) and the cached loaders key on the
  generation, so an import reaches every replica at the next rerun and a rerun never
  mixes two generations (it loads one generation number, whole). Each commit also sends
  ``NOTIFY lagebild_state``.
* **The prepared form** (geo.prepared's cubes and summaries) of every generation is built by
  the injected preparer and stored in ``lagebild_prepared`` in the writing transaction; a
  replica opens a generation from it and the small data sets (geo.dbbundle) and asks SQL
  only for the single records it shows (:mod:`data.dbstore.records`). Whole data folders
  are loaded in chunks (:mod:`data.dbstore.bulk`).

Canonical rows are read back through :func:`data.contracts.validate`, so the database
path yields the very frames the file store yields.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

from data import contracts
from data.contracts import DATASETS, SPECS
from data.importers.geocoding import GeocodeCache
from data.importers.mapping import shape_key
from data.store import (
    DEFAULT_ROOT,
    STORE_NAME,
    StoreError,
    Version,
    _now,
    _reconcile,
    activation_problem,
    restore_changes,
)

if TYPE_CHECKING:
    from data.folder import DataBundle
    from data.importers.pipeline import ImportReport

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0003"
VERSION_TABLE = "lagebild_alembic_version"
CHANNEL = "lagebild_state"
POINT_TABLES = ("offices", "patrol_points", "complaints", "staff_incidents")
H3_RESOLUTIONS = (8, 9, 10)
LARGE = ("complaints", "patrol_points")  # never held by a replica (it reads the prepared cubes)
COPY_CHUNK = 200_000  # rows per COPY chunk (bounded memory for the large tables)

_DB_MESSAGES = {
    "store_schema": (
        "Die Datenbank {root} hat nicht das Schema dieser Version (vorhanden: {found}, nötig: "
        "{wanted}). Bitte `python -m data db upgrade` ausführen.",
        "The database {root} does not have this release's schema (found: {found}, needed: "
        "{wanted}). Please run `python -m data db upgrade`."),
}


def _register_messages() -> None:
    from data.importers import messages

    for key, texts in _DB_MESSAGES.items():
        messages.MESSAGES.setdefault(key, texts)


_register_messages()


# --- connection -----------------------------------------------------------------------------------

def database_url(env: dict[str, str] | None = None) -> str | None:
    """The database URL from ``LAGEBILD_DB`` (None: the file store is used)."""
    env = os.environ if env is None else env
    url = (env.get("LAGEBILD_DB") or "").strip()
    if not url:
        return None
    if not url.startswith("postgresql"):
        raise ValueError(f"LAGEBILD_DB must be a postgresql+psycopg://... URL, got {redact(url)!r}")
    return url


def redact(url: str) -> str:
    """The URL without its password (for messages and the Daten page)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as its scheme only
        return url.split(":", 1)[0] + ":…"


def engine_for(url: str, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for ``url`` (psycopg 3), checked out connections are pinged."""
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with the Alembic migrations (idempotent)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def schema_revision(conn: Connection | Engine) -> str | None:
    """The schema's migration revision (None: not created yet)."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return schema_revision(c)
    exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": VERSION_TABLE}).scalar()
    if exists is None:
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def read_state(conn: Connection | Engine) -> tuple[int, bool]:
    """(current generation, active switch): what every replica keys its caches on."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_state(c)
    row = conn.execute(text("SELECT generation, active FROM lagebild_state WHERE id = 1")).one()
    return int(row.generation), bool(row.active) and int(row.generation) > 0


# --- rows <-> canonical frames ------------------------------------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_expr(field: contracts.Field) -> str:
    col = _q(field.name)
    if field.kind == "datetime":
        return f"to_json({col}) #>> '{{}}' AS {col}"
    if field.kind == "geometry":
        return f"encode(ST_AsBinary({col}), 'hex') AS {col}"
    if field.kind == "bool":
        return f"{col}::text AS {col}"
    return col


#: (lat, lon, resolution) -> the H3 ids (int64) of many points (geo.h3cells.point_cells).
CellCoder = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def _h3_columns(frame: pd.DataFrame, coder: CellCoder | None = None) -> dict[str, np.ndarray]:
    if coder is not None:
        lat = frame["lat"].to_numpy(dtype=np.float64)
        lon = frame["lon"].to_numpy(dtype=np.float64)
        return {f"h3_{res}": coder(lat, lon, res) for res in H3_RESOLUTIONS}
    try:
        from h3._cy import latlng_to_cell as cell
    except ImportError:  # pragma: no cover - h3 builds without the cython module
        from h3.api.basic_int import latlng_to_cell as cell
    lat = frame["lat"].to_numpy(dtype=np.float64)
    lon = frame["lon"].to_numpy(dtype=np.float64)
    out = {}
    for res in H3_RESOLUTIONS:
        out[f"h3_{res}"] = np.fromiter((cell(a, b, res) for a, b in zip(lat, lon, strict=True)),
                                       dtype=np.int64, count=len(lat))
    return out


def _utc_text(values: pd.Series) -> Any:
    """UTC times as text for COPY (``2024-05-31 12:20:26.000000Z``; null stays null).

    The same text Arrow's CSV writer makes of a UTC timestamp column, 20 times faster
    (the writer converts zoned times value by value: a third of a region load's CPU)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    naive = pa.array(values, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
    return pc.binary_join_element_wise(naive.cast(pa.string()), pa.scalar("Z"), "")


def _csv_chunks(name: str, frame: pd.DataFrame, generation: int, offset: int = 0,
                coder: CellCoder | None = None) -> Iterator[tuple[list[str], bytes]]:
    """The rows of a canonical frame as CSV for COPY (Arrow's writer), in chunks (columns, bytes).

    Arrow writes a null unquoted (NULL for COPY) and an empty string quoted; times in UTC.
    ``offset``: the position (``rn``) of the frame's first row in the data set.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    spec = SPECS[name]
    for start in range(0, len(frame), COPY_CHUNK):
        part = frame.iloc[start:start + COPY_CHUNK].reset_index(drop=True)
        cols: dict[str, Any] = {"generation": pa.array(np.full(len(part), generation, dtype=np.int64)),
                                "rn": pa.array(np.arange(offset + start, offset + start + len(part),
                                                       dtype=np.int64))}
        for field in spec.fields:
            values = part[field.name] if field.name in part.columns else pd.Series([None] * len(part))
            if field.kind == "geometry":
                geoms = shapely.set_srid(np.asarray(values.to_numpy(dtype=object)), 4326)
                cols[field.name] = pa.array(shapely.to_wkb(geoms, hex=True, include_srid=True), pa.string())
            elif field.kind == "datetime":
                cols[field.name] = _utc_text(pd.to_datetime(values, utc=True))
            elif isinstance(values.dtype, pd.CategoricalDtype) and \
                    pd.api.types.is_string_dtype(values.cat.categories.dtype):
                cols[field.name] = pa.array(values).cast(pa.string())  # dictionary -> text, in C++
            elif isinstance(values.dtype, pd.CategoricalDtype):
                cols[field.name] = pa.array(values.astype(object).where(values.notna(), None), pa.string())
            else:
                cols[field.name] = pa.Array.from_pandas(values)
        if name in POINT_TABLES:
            for col, cells in _h3_columns(part, coder).items():
                cols[col] = pa.array(cells)
        table = pa.table(cols)
        buf = io.BytesIO()
        pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
        yield list(cols), buf.getvalue()


#: Tables partitioned by generation (migration 0003): one partition per generation that wrote them.
PARTITIONED = LARGE


def partition_name(name: str, generation: int) -> str:
    """The partition of ``ds_<name>`` holding the rows written by ``generation``."""
    if name not in PARTITIONED:
        raise ValueError(f"only {', '.join(PARTITIONED)} are partitioned, got {name!r}")
    return f"ds_{name}_g{int(generation)}"


def create_partition(conn: Connection, name: str, generation: int, *, attach: bool = True) -> str:
    """A new, empty table for the rows of ``generation`` in ``ds_<name>`` (same columns, a
    CHECK constraint on the generation, so that attaching it needs no scan); attached at
    once, or later with :func:`attach_partition` (after a bulk COPY into the bare table:
    its indexes are then built in bulk). Returns its name."""
    table = partition_name(name, generation)
    conn.execute(text(f"CREATE TABLE {table} (LIKE ds_{name} INCLUDING DEFAULTS INCLUDING GENERATED)"))
    conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {table}_generation "
                      f"CHECK (generation = {int(generation)})"))
    if attach:
        attach_partition(conn, name, generation)
    return table


def attach_partition(conn: Connection, name: str, generation: int) -> None:
    """Attach the partition of ``generation``: PostgreSQL builds the parent's indexes on it
    and checks its foreign key with one join (a lock that readers do not wait for)."""
    conn.execute(text(f"ALTER TABLE ds_{name} ATTACH PARTITION {partition_name(name, generation)} "
                      f"FOR VALUES IN ({int(generation)})"))


def _write_rows(conn: Connection, name: str, frame: pd.DataFrame, generation: int,
                offset: int = 0, coder: CellCoder | None = None) -> None:
    if name in PARTITIONED and conn.execute(text("SELECT to_regclass(:t)"), {
            "t": partition_name(name, generation)}).scalar() is None:
        create_partition(conn, name, generation)
    dbapi = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        for columns, chunk in _csv_chunks(name, frame, generation, offset, coder):
            sql = f"COPY ds_{name} ({', '.join(map(_q, columns))}) FROM STDIN WITH (FORMAT csv)"
            with cur.copy(sql) as copy:
                copy.write(chunk)


CANONICAL = "canonical/"  # lagebild_prepared names of the canonical frames (Parquet)


def _put_canonical(conn: Connection, name: str, frame: pd.DataFrame, generation: int) -> None:
    """The validated canonical frame as one Parquet blob: what replicas read (one row, no
    per-record parsing); the SQL rows are for spatial queries and the city's GIS."""
    out = frame[[c for c in SPECS[name].columns if c in frame.columns]].reset_index(drop=True)
    if SPECS[name].form == "polygons":
        out = out.assign(geometry=shapely.to_wkb(np.asarray(out["geometry"].to_numpy(dtype=object))))
    buf = io.BytesIO()
    out.to_parquet(buf, index=False, compression="zstd")
    conn.execute(text("INSERT INTO lagebild_prepared (generation, name, body) VALUES (:g, :n, :b)"),
                 {"g": generation, "n": CANONICAL + name, "b": buf.getvalue()})


def _get_canonical(conn: Connection, name: str, data_generation: int) -> pd.DataFrame | None:
    body = conn.execute(text("SELECT body FROM lagebild_prepared WHERE generation = :g AND name = :n"),
                        {"g": data_generation, "n": CANONICAL + name}).scalar()
    if body is None:
        return None
    frame = pd.read_parquet(io.BytesIO(bytes(body)))
    if SPECS[name].form == "polygons":
        frame["geometry"] = list(shapely.from_wkb(frame["geometry"].to_numpy(dtype=object)))
    return frame


def _read_rows(conn: Connection, name: str, data_generation: int, where: str = "",
               params: dict[str, Any] | None = None, order: str = "rn", limit: int | None = None
               ) -> pd.DataFrame:
    """Validated canonical rows of one data set (``where``: an extra SQL condition with
    psycopg ``%(name)s`` parameters ``params``; ``order`` and ``limit`` as in SQL)."""
    spec = SPECS[name]
    select = ", ".join(_select_expr(f) for f in spec.fields)
    sql = (f"COPY (SELECT {select} FROM ds_{name} WHERE generation = {int(data_generation)} "
           f"{'AND ' + where if where else ''} ORDER BY {order}"
           f"{'' if limit is None else f' LIMIT {int(limit)}'}) "
           f"TO STDOUT WITH (FORMAT csv, HEADER)")
    buf = io.BytesIO()
    dbapi = conn.connection.driver_connection
    with dbapi.cursor() as cur, cur.copy(sql, params or None) as copy:
        for data in copy:
            buf.write(data)
    buf.seek(0)
    raw = pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    if raw.empty:
        return contracts.empty_frame(name)
    for field in spec.fields:
        if field.kind == "geometry":
            hexes = raw[field.name].to_numpy(dtype=object)
            raw[field.name] = list(shapely.from_wkb(hexes))
    frame, errors = contracts.validate(name, raw)
    if not errors.empty:
        raise StoreError("store_corrupt", root=f"ds_{name}@{data_generation}",
                         detail="; ".join(contracts.format_errors(errors, limit=3)))
    return frame


# --- the store ----------------------------------------------------------------------------------

class DbStore:
    """Imported data sets, versioned in PostgreSQL/PostGIS (see the module docstring)."""

    def __init__(self, engine: Engine | str, preparer: Callable[[Path], object] | None = None,
                 cells: Callable[[pd.DataFrame], CellCoder] | None = None) -> None:
        """``preparer`` builds the prepared form of a data folder in place (issue #9's
        ``geo.prepared.prepare_folder``, handed in from above): see :func:`store_prepared`.
        ``cells`` (districts -> :data:`CellCoder`, geo.h3cells.point_cells) computes the H3
        cells of a whole chunk of points at once in :meth:`load_folder`; None: per point."""
        self.engine = engine_for(engine) if isinstance(engine, str) else engine
        self.preparer = preparer
        self.cells = cells
        self.root = redact(self.engine.url.render_as_string(hide_password=False))
        self._schema_ok = False

    def __repr__(self) -> str:
        return f"DbStore({self.root!r})"

    def _connect(self) -> Connection:
        conn = self.engine.connect()
        if not self._schema_ok:
            found = schema_revision(conn)
            conn.rollback()
            if found != HEAD_REVISION:
                conn.close()
                raise StoreError("store_schema", root=self.root, found=found or "—",
                                 wanted=HEAD_REVISION)
            self._schema_ok = True
        return conn

    # --- state -----------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        with self._connect() as conn:
            return read_state(conn)[0]

    def is_active(self) -> bool:
        with self._connect() as conn:
            return read_state(conn)[1]

    def state(self) -> tuple[int, bool]:
        with self._connect() as conn:
            return read_state(conn)

    def can_activate(self) -> StoreError | None:
        return activation_problem(self)

    def activate(self) -> None:
        problem = self.can_activate()
        if problem is not None:
            raise problem
        self._set_active(True)

    def deactivate(self) -> None:
        self._set_active(False)

    def _set_active(self, value: bool) -> None:
        with self._connect() as conn, conn.begin():
            conn.execute(text("UPDATE lagebild_state SET active = :v, changed_at = now() "
                              "WHERE id = 1 AND active <> :v"), {"v": value})
            conn.execute(text(f"NOTIFY {CHANNEL}"))

    # --- reading ---------------------------------------------------------------------------------
    def _data_generations(self, conn: Connection, generation: int) -> dict[str, int]:
        rows = conn.execute(text("SELECT dataset, data_generation FROM lagebild_generation_data "
                                 "WHERE generation = :g"), {"g": generation}).all()
        return {r.dataset: int(r.data_generation) for r in rows}

    def _frames(self, conn: Connection, generation: int,
                names: Sequence[str] = DATASETS) -> dict[str, pd.DataFrame]:
        if not generation:
            return {name: contracts.empty_frame(name) for name in names}
        where = self._data_generations(conn, generation)
        out = {}
        for name in names:
            if name not in where:
                out[name] = contracts.empty_frame(name)
                continue
            frame = _get_canonical(conn, name, where[name])
            out[name] = frame if frame is not None else _read_rows(conn, name, where[name])
        return out

    def read_dataset(self, name: str) -> pd.DataFrame:
        contracts.spec(name)
        with self._connect() as conn:
            return self._frames(conn, read_state(conn)[0], [name])[name]

    def frames(self, generation: int | None = None) -> dict[str, pd.DataFrame]:
        with self._connect() as conn:
            # one snapshot: a concurrent import never shows half here
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            gen = read_state(conn)[0] if generation is None else generation
            return self._frames(conn, gen)

    def meta(self, generation: int) -> dict[str, Any]:
        with self._connect() as conn:
            row = conn.execute(text("SELECT meta FROM lagebild_generations WHERE generation = :g"),
                               {"g": generation}).one_or_none()
        return dict(row.meta) if row else {}

    def load_bundle(self, generation: int) -> DataBundle:
        """The app's data of one generation (the seam for the prepared form, see
        :func:`data.dbstore.bundle_of`)."""
        return bundle_of(self, generation)

    # --- what a replica reads (the prepared form, see geo.dbbundle) --------------------------------
    def small_frames(self, generation: int) -> dict[str, pd.DataFrame]:
        """Every data set of a generation except the large ones (:data:`LARGE`: complaints
        and pings), read in one snapshot: the tables a replica holds beside the cubes."""
        with self._connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            return self._frames(conn, generation, [n for n in DATASETS if n not in LARGE])

    def prepared_files(self, generation: int, later: str | None = None) -> dict[str, bytes]:
        """The prepared form's files of a generation (empty: it has none); ``later``: a SQL
        LIKE pattern of names left out, to be read when needed (:meth:`prepared_file`)."""
        with self._connect() as conn:
            return get_prepared_files(conn, generation, later)

    def prepared_file(self, generation: int, name: str) -> bytes:
        """One file of a generation's prepared form (``name`` relative to ``prepared/``)."""
        with self._connect() as conn:
            return get_prepared_file(conn, generation, name)

    def read_records(self, generation: int, name: str, small: dict[str, pd.DataFrame],
                     start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
        """Rows of a data set in a time range, filtered in SQL (:mod:`data.dbstore.records`)."""
        from data.dbstore.records import read_records

        return read_records(self, generation, name, small, start, end)

    def query_points(self, generation: int, small: dict[str, pd.DataFrame], f: Any,
                     scope: frozenset[str] | None, limit: int) -> tuple[pd.DataFrame, int]:
        """The single-complaint layer's rows, filtered and limited in SQL
        (:func:`data.dbstore.records.query_points`)."""
        from data.dbstore.records import query_points

        return query_points(self, generation, small, f, scope, limit)

    def _history(self, conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(text("SELECT generation, time, action, source, restored_from, datasets, "
                                 "notes FROM lagebild_generations ORDER BY generation")).all()
        return [{"generation": int(r.generation), "time": r.time, "action": r.action,
                 "source": r.source, "datasets": r.datasets, "notes": r.notes} for r in rows]

    def status(self) -> dict[str, Any]:
        with self._connect() as conn:
            gen, active = read_state(conn)
        current = {v.dataset: v for v in self.versions() if v.current}
        datasets = {}
        for name in DATASETS:
            v = current.get(name)
            datasets[name] = ({"version": v.generation, "time": v.time, "source": v.source,
                               "action": v.action, "records": v.records, "rejected": v.rejected}
                              if v else {"version": None, "time": None, "source": None,
                                         "action": None, "records": 0, "rejected": 0})
        return {"root": self.root, "generation": gen, "active": active, "datasets": datasets}

    def versions(self, dataset: str | None = None) -> list[Version]:
        if dataset is not None:
            contracts.spec(dataset)
        with self._connect() as conn:
            history = self._history(conn)
        latest: dict[str, int] = {}
        for entry in history:
            for name in entry["datasets"]:
                latest[name] = max(latest.get(name, 0), entry["generation"])
        out = []
        for entry in reversed(history):
            for name, info in entry["datasets"].items():
                if dataset is not None and name != dataset:
                    continue
                gen = entry["generation"]
                out.append(Version(dataset=name, generation=gen, time=entry["time"],
                                   action=info.get("action", entry["action"]),
                                   source=info.get("source"), records=int(info.get("records", 0)),
                                   rejected=int(info.get("rejected", 0)), current=latest[name] == gen,
                                   notes=tuple(entry.get("notes") or ())))
        return out

    def import_report(self, generation: int, dataset: str) -> dict[str, Any] | None:
        """The stored validation report of an import (None for restores and auto changes)."""
        with self._connect() as conn:
            return conn.execute(text("SELECT report FROM lagebild_import_reports WHERE generation = :g "
                                     "AND dataset = :d"), {"g": generation, "d": dataset}).scalar()

    def remembered_mapping(self, kind: str, columns: Sequence[str]) -> dict[str, str] | None:
        with self._connect() as conn:
            entry = conn.execute(text("SELECT entry FROM lagebild_mappings WHERE shape_key = :k"),
                                 {"k": shape_key(kind, columns)}).scalar()
        return dict(entry["mapping"]) if entry else None

    def geocode_cache(self) -> GeocodeCache:
        """Geocoding results are a local cache of each machine (not versioned, not shared)."""
        root = Path(os.environ.get("LAGEBILD_STORE") or DEFAULT_ROOT)
        return GeocodeCache(root / "cache" / "geocode.sqlite")

    # --- writing ---------------------------------------------------------------------------------
    def commit(self, report: ImportReport, default_field: str = "oeffentliche_raeume") -> Version:
        if report.records_accepted == 0:
            raise StoreError("store_nothing")
        changes = {report.kind: report.frame}
        info = {report.kind: {"source": report.source_name, "records": report.records_accepted,
                              "rejected": report.records_rejected, "action": "import"}}
        memory = None
        if report.mapping and report.columns:
            memory = (shape_key(report.kind, report.columns),
                      {"kind": report.kind, "columns": sorted(report.columns),
                       "mapping": report.mapping, "time": _now()})
        summary = report.to_dict(max_errors=100)
        return self._write(changes, info, action="import", source=report.source_name,
                           new_categories=report.new_categories, memory=memory,
                           default_field=default_field, notes=[],
                           report=(report.kind, summary))

    def load_folder(self, folder: str | Path, chunk_rows: int | None = COPY_CHUNK,
                    progress: Callable[[str], None] | None = None) -> Version:
        """Store a whole data folder (data/folder.py layout, e.g. the demo city or the
        generator's output) as one new version of every data set; validated first.

        ``chunk_rows`` (default): the large data sets are streamed in chunks of that many
        rows and the preparer runs beside the copy (:mod:`data.dbstore.bulk`, bounded
        memory at region scale); None: the whole folder is read into memory and written
        like an import.
        """
        if chunk_rows is not None:
            from data.dbstore.bulk import load_folder_streaming

            return load_folder_streaming(self, folder, chunk_rows=chunk_rows, preparer=self.preparer,
                                         progress=progress)
        from data.folder import read_folder

        folder = Path(folder)
        frames, _meta, errors = read_folder(folder)
        if not errors.empty:
            raise StoreError("store_invalid", detail="; ".join(contracts.format_errors(errors, limit=5)))
        info = {n: {"source": folder.name, "records": len(frames[n]), "rejected": 0, "action": "import"}
                for n in DATASETS}
        return self._write(frames, info, action="import", source=folder.name, notes=[])

    def restore(self, generation: int, dataset: str | None = None) -> Version:
        with self._connect() as conn:
            known = [e["generation"] for e in self._history(conn)]
        if generation not in known:
            raise StoreError("store_unknown_version", generation=generation,
                             known=", ".join(map(str, known)) or "—")
        changes, info = restore_changes(self.frames(generation), self.meta(generation), generation, dataset)
        return self._write(changes, info, action="restore", source=f"Version {generation}",
                           restored_from=generation, notes=[])

    def _write(self, changes: dict[str, pd.DataFrame], info: dict[str, dict[str, Any]], *, action: str,
               source: str, new_categories: pd.DataFrame | None = None,
               memory: tuple[str, dict[str, Any]] | None = None,
               default_field: str = "oeffentliche_raeume", restored_from: int | None = None,
               notes: list[str], report: tuple[str, dict[str, Any]] | None = None) -> Version:
        with self._connect() as conn, conn.begin():
            previous = int(conn.execute(text(
                "SELECT generation FROM lagebild_state WHERE id = 1 FOR UPDATE")).scalar())
            gen = int(conn.execute(text(
                "SELECT coalesce(max(generation), 0) FROM lagebild_generations")).scalar()) + 1
            frames = self._frames(conn, previous)
            frames.update({k: v.reset_index(drop=True) for k, v in changes.items()})
            changed = set(changes)
            if new_categories is not None and len(new_categories):
                cats = frames["categories"]
                add = new_categories[~new_categories["category"].isin(set(cats["category"]))]
                if len(add):
                    frames["categories"] = pd.concat([cats, add], ignore_index=True)
                    changed.add("categories")
                    info.setdefault("categories", {"source": f"auto ({source})", "action": "auto",
                                                   "records": len(frames["categories"]), "rejected": 0})
            notes = list(notes) + _reconcile(frames, changed, info, source, default_field)
            for name in changed:
                info[name]["records"] = len(frames[name])
            # the checks the file store makes by reading its staging folder back
            problems = []
            for name in sorted(changed):
                cols = [c for c in SPECS[name].columns if c in frames[name].columns]
                checked, errors = contracts.validate(name, frames[name][cols])
                problems.append(errors)
                frames[name] = checked
            problems.append(contracts.check_references(frames))
            problems = [p for p in problems if not p.empty]
            if problems:
                raise StoreError("store_invalid", detail="; ".join(
                    contracts.format_errors(pd.concat(problems, ignore_index=True), limit=5)))
            time = _now()
            old_meta = (conn.execute(text("SELECT meta FROM lagebild_generations WHERE generation = :g"),
                                     {"g": previous}).scalar() or {}) if previous else {}
            sources = dict(old_meta.get("sources", {}))
            for name in changed:
                sources[name] = {"version": gen, "time": time, **info[name]}
            meta = {"name": STORE_NAME, "synthetic": False, "generation": gen, "created": time,
                    "sources": sources}
            conn.execute(text(
                "INSERT INTO lagebild_generations (generation, time, action, source, restored_from, "
                "datasets, notes, meta) VALUES (:g, :t, :a, :s, :r, CAST(:d AS jsonb), "
                "CAST(:n AS jsonb), CAST(:m AS jsonb))"),
                {"g": gen, "t": time, "a": action, "s": source, "r": restored_from,
                 "d": json.dumps({n: info[n] for n in sorted(changed)}, ensure_ascii=False, default=str),
                 "n": json.dumps(notes, ensure_ascii=False), "m": json.dumps(meta, ensure_ascii=False)})
            old_data = self._data_generations(conn, previous) if previous else {}
            for name in DATASETS:
                if name in changed:
                    _write_rows(conn, name, frames[name], gen)
                    _put_canonical(conn, name, frames[name], gen)
                    data_gen = gen
                else:
                    data_gen = old_data.get(name, gen)
                conn.execute(text("INSERT INTO lagebild_generation_data (generation, dataset, "
                                  "data_generation, records) VALUES (:g, :d, :dg, :r)"),
                             {"g": gen, "d": name, "dg": data_gen, "r": len(frames[name])})
            if report is not None:
                conn.execute(text("INSERT INTO lagebild_import_reports (generation, dataset, report) "
                                  "VALUES (:g, :d, CAST(:r AS jsonb))"),
                             {"g": gen, "d": report[0],
                              "r": json.dumps(report[1], ensure_ascii=False, default=str)})
            if memory is not None:
                conn.execute(text(
                    "INSERT INTO lagebild_mappings (shape_key, entry) VALUES (:k, CAST(:e AS jsonb)) "
                    "ON CONFLICT (shape_key) DO UPDATE SET entry = EXCLUDED.entry"),
                    {"k": memory[0], "e": json.dumps(memory[1], ensure_ascii=False)})
            store_prepared(conn, gen, frames, meta, self.preparer)
            conn.execute(text("UPDATE lagebild_state SET generation = :g, changed_at = now() WHERE id = 1"),
                         {"g": gen})
            conn.execute(text(f"NOTIFY {CHANNEL}, '{gen}'"))
        versions = [v for v in self.versions() if v.generation == gen]
        return next((v for v in versions if v.dataset in changes), versions[0])


# --- the prepared form (the seam for issue #9) -------------------------------------------------------

PREPARED = "prepared/"  # lagebild_prepared names of the prepared form's files


def store_prepared(conn: Connection, generation: int, frames: dict[str, pd.DataFrame],
                   meta: dict[str, Any], preparer: Callable[[Path], object] | None = None) -> None:
    """Store a generation's prepared form inside its transaction (the seam for issue #9).

    The preparer works on data folders (it writes ``prepared/`` beside the data), so the
    generation is written to a temporary data folder, prepared there, and every file of its
    ``prepared/`` directory becomes one blob ``prepared/<file>`` of this generation. Without
    a preparer a generation has no prepared form and the app builds it from the canonical
    frames (:func:`bundle_of`). A failing preparer fails the import (nothing is stored).
    """
    if preparer is None:
        return
    import tempfile

    from data.folder import write_folder

    with tempfile.TemporaryDirectory(prefix="lagebild-prepare-") as tmp:
        folder = write_folder(Path(tmp) / "data", frames, meta)
        preparer(folder)
        store_prepared_files(conn, generation, folder / "prepared")


def store_prepared_files(conn: Connection, generation: int, root: Path) -> int:
    """Store every file under ``root`` (a ``prepared/`` directory; missing: none) as a blob
    ``prepared/<relative path>`` of ``generation``; returns the bytes stored."""
    total = 0
    if not root.is_dir():
        return total
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        body = path.read_bytes()
        total += len(body)
        conn.execute(text("INSERT INTO lagebild_prepared (generation, name, format, body) "
                          "VALUES (:g, :n, 'file', :b)"),
                     {"g": generation, "n": PREPARED + str(path.relative_to(root)), "b": body})
    return total


def get_prepared_files(conn: Connection | Engine, generation: int, later: str | None = None
                       ) -> dict[str, bytes]:
    """The prepared form's files of a generation (``{relative path: bytes}``, empty: none),
    without those whose relative path matches the SQL LIKE pattern ``later`` (if given).

    A replica writes them to a directory and opens them with issue #9's reader, so it
    cold-starts from the cubes without reading the raw pings.
    """
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return get_prepared_files(c, generation, later)
    sql = "SELECT name, body FROM lagebild_prepared WHERE generation = :g AND name LIKE 'prepared/%'"
    params: dict[str, Any] = {"g": generation}
    if later is not None:
        sql += " AND name NOT LIKE :later"
        params["later"] = PREPARED + later
    rows = conn.execute(text(sql), params).all()
    return {r.name[len(PREPARED):]: bytes(r.body) for r in rows}


def get_prepared_file(conn: Connection | Engine, generation: int, name: str) -> bytes:
    """One file of a generation's prepared form; ``KeyError`` when it has no such file."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return get_prepared_file(c, generation, name)
    body = conn.execute(text("SELECT body FROM lagebild_prepared WHERE generation = :g AND name = :n"),
                        {"g": generation, "n": PREPARED + name}).scalar()
    if body is None:
        raise KeyError(f"generation {generation} has no prepared file {name!r}")
    return bytes(body)


def put_prepared(conn: Connection, generation: int, tables: dict[str, Any]) -> None:
    """Write named Arrow tables as Parquet blobs of a generation (inside the caller's transaction)."""
    import pyarrow.parquet as pq

    for name, table in tables.items():
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        conn.execute(text("INSERT INTO lagebild_prepared (generation, name, body) VALUES (:g, :n, :b) "
                          "ON CONFLICT (generation, name) DO UPDATE SET body = EXCLUDED.body"),
                     {"g": generation, "n": name, "b": buf.getvalue()})


def get_prepared(conn: Connection, generation: int) -> dict[str, Any]:
    """The named Arrow tables of a generation's prepared form (empty: none stored)."""
    import pyarrow.parquet as pq

    rows = conn.execute(text("SELECT name, body FROM lagebild_prepared WHERE generation = :g"),
                        {"g": generation}).all()
    return {r.name: pq.read_table(io.BytesIO(bytes(r.body))) for r in rows}


def bundle_of(store: DbStore, generation: int) -> DataBundle:
    """The app's :class:`~data.folder.DataBundle` of one generation, read in one snapshot."""
    from data.folder import prepare

    frames = store.frames(generation)
    return prepare(frames, store.meta(generation), None)
