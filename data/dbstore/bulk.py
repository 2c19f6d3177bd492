"""Loading a whole data folder into the database store in chunks (region scale).

``python -m data db load FOLDER`` stores every data set of a data folder (data/folder.py
layout: the demo city, the generator's region) as one new generation, in ONE transaction:

* the small data sets (districts, categories, patrols, offices, staff incidents, focus
  areas) are read and validated whole, as :func:`data.folder.read_folder` does;
* the large ones (complaints, pings) are streamed: Parquet row batches (or CSV chunks) of
  ``chunk_rows`` rows, each validated (:func:`data.contracts.validate`, its references to
  patrols and categories checked) and written with COPY. Memory stays bounded by one
  chunk (and the COPY writer's queue), whatever the size of the folder. Each goes into a
  new partition of its table (migration 0003, :func:`copy_large`): one ``COPY ... FREEZE``
  into a bare table, then its ids checked across chunks, its indexes built in bulk and
  its foreign key checked once, when it is attached. Everything per value is vectorised
  (Arrow's CSV writer, the reference check against the patrols, the UTC times, the H3
  cells from the region's lattice);
* the prepared form (the cubes, see geo.prepared) is built by the injected ``preparer`` on
  a scratch folder of links to the source files, in a forked child process that runs
  while the parent copies (it streams the pings itself), and its files are stored with
  the generation;
* only the commit makes the generation visible: an invalid chunk, a failing preparer, a
  lost connection or a killed loader (``kill -9``) leave no trace.

The raw rows are not stored as canonical Parquet blobs for the large data sets (a blob
is at most 1 GB in PostgreSQL); reading them whole goes through the SQL rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text

from data import contracts
from data.contracts import DATASETS
from data.folder import META_FILE, _find, read_folder
from data.store import STORE_NAME, StoreError, _now

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from data.dbstore import CellCoder, DbStore
    from data.store import Version

Progress = Callable[[str], None]
SCRATCH = "lagebild-dbload-"  # temporary folders of loads: SCRATCH<pid>-<random>
#: Reference checks of the streamed data sets: column -> (small data set, its column).
REFERENCES = {"complaints": ("category", "categories", "category"),
              "patrol_points": ("patrol_id", "patrols", "patrol_id")}


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The raw rows of a data set file in chunks (Parquet row batches, CSV chunks)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                               encoding="utf-8-sig", chunksize=chunk_rows)


def _as_text(values: pd.Series) -> pa.Array:
    """The values as an Arrow string array (nulls kept), in C++ whatever the column type."""
    arr = pa.array(values.array if not isinstance(values.dtype, pd.CategoricalDtype) else values,
                   from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def _isin(values: pd.Series, known: frozenset[str]) -> np.ndarray:
    """Which values are among ``known`` (as text; a null is not). A chunk holds few distinct
    values (pings come patrol by patrol): the set is asked about those only, and Arrow maps
    them back to the rows. (pandas' ``isin`` with a set walks the set in Python: 3 s per
    chunk against the 416,670 patrols of the region, most of a region load's time.)"""
    arr = _as_text(values)
    distinct = pc.unique(arr).drop_null()
    ok = pa.array([v in known for v in distinct.to_pylist()], pa.bool_())
    return pc.is_in(arr, value_set=distinct.filter(ok)).fill_null(False).to_numpy(zero_copy_only=False)


def stream_validated(folder: Path, name: str, small: dict[str, pd.DataFrame], chunk_rows: int
                     ) -> Iterator[pd.DataFrame]:
    """Validated canonical chunks of a large data set; raises :class:`StoreError` naming
    the file, the row (counted over the whole file) and the column of the first errors."""
    path = _find(folder, name)
    if path is None:
        return
    column, target, target_column = REFERENCES[name]
    known = frozenset(_as_text(small[target][target_column].dropna()).to_pylist())
    offset = 0
    for raw in _chunks(path, chunk_rows):
        frame, errors = contracts.validate(name, raw)
        bad = frame[column].notna().to_numpy() & ~_isin(frame[column], known)
        if bad.any():
            rows = np.flatnonzero(bad)[:10]
            errors = pd.concat([errors, contracts.errors_frame(
                [(name, int(r) + 1, column, str(frame[column].iloc[r]), f"unknown {column} (not in {target})")
                 for r in rows])], ignore_index=True)
        if not errors.empty:
            errors = errors.copy()
            errors["row"] = errors["row"] + offset
            raise StoreError("store_invalid", detail=f"{path.name}: " + "; ".join(
                contracts.format_errors(errors, limit=5)))
        offset += len(frame)
        yield frame


def copy_large(conn: Connection, folder: Path, name: str, small: dict[str, pd.DataFrame], generation: int,
               chunk_rows: int, *, coder: CellCoder | None = None, say: Progress | None = None) -> int:
    """Stream one large data set of ``folder`` into a new partition of ``ds_<name>`` (see
    migration 0003); returns its number of rows.

    The partition is created bare in the load's transaction; ONE ``COPY ... FREEZE`` takes
    every validated chunk (written as CSV by Arrow, :func:`data.dbstore._csv_chunks`; a
    writer thread sends a chunk while the next one is read, validated and formatted, so
    the loader and the server work at the same time); ids repeated across chunks are
    looked for in SQL; then the partition is analysed and attached (its indexes built in
    bulk, its foreign key checked once)."""
    from psycopg.copy import QueuedLibpqWriter

    from data.dbstore import _csv_chunks, _q, attach_partition, create_partition

    say = say or (lambda _m: None)
    table = create_partition(conn, name, generation, attach=False)
    dbapi = conn.connection.driver_connection
    n = 0
    with dbapi.cursor() as cur, contextlib.ExitStack() as stack:
        copy = None
        for chunk in stream_validated(folder, name, small, chunk_rows):
            for columns, data in _csv_chunks(name, chunk, generation, n, coder):
                if copy is None:
                    copy = stack.enter_context(cur.copy(
                        f"COPY {table} ({', '.join(map(_q, columns))}) FROM STDIN WITH (FORMAT csv, FREEZE)",
                        writer=QueuedLibpqWriter(cur)))
                copy.write(data)
            n += len(chunk)
            say(f"{name}: {n:,} rows sent")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    say(f"{name}: {n:,} rows copied (loader CPU so far {cpu.ru_utime + cpu.ru_stime:.0f} s)")
    if n:
        _check_unique_ids(conn, folder, name, table)
        conn.execute(text(f"ANALYZE {table}"))
    attach_partition(conn, name, generation)
    say(f"{name}: indexes built")
    return n


def _check_unique_ids(conn: Connection, folder: Path, name: str, table: str) -> None:
    """Ids repeated in different chunks (each chunk's own repeats are caught by its
    validation): :class:`StoreError` naming the file, rows and column, as validation does."""
    unique = [f.name for f in contracts.SPECS[name].fields if f.unique]
    for column in unique:
        col = '"' + column.replace('"', '""') + '"'
        repeated = conn.execute(text(f"SELECT {col} FROM {table} GROUP BY {col} HAVING count(*) > 1 "
                                     "LIMIT 5")).scalars().all()
        if not repeated:
            continue
        hits = conn.execute(text(f"SELECT rn, {col} FROM {table} WHERE {col} = ANY(:ids) ORDER BY rn"),
                            {"ids": list(repeated)}).all()
        seen: set[str] = set()
        found = []
        for rn, value in hits:
            if value in seen:
                found.append((name, int(rn) + 1, column, str(value), "duplicate id (already used above)"))
            seen.add(value)
        path = _find(folder, name)
        raise StoreError("store_invalid", detail=f"{path.name if path else name}: " + "; ".join(
            contracts.format_errors(contracts.errors_frame(found), limit=5)))


def _scratch_folder(folder: Path) -> Path:
    """A scratch folder of symbolic links to the data files of ``folder`` (the preparer
    writes its ``prepared/`` there, the source folder stays untouched)."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{SCRATCH}*"):  # left by a killed load (its process is gone)
        pid = old.name[len(SCRATCH):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))
    data = scratch / "data"
    data.mkdir()
    names = {META_FILE} | {f"{n}.{ext}" for n in DATASETS for ext in ("csv", "parquet", "geojson")}
    for path in folder.iterdir():
        if path.is_file() and path.name in names:
            (data / path.name).symlink_to(path.resolve())
    return data


def _child(preparer: Callable[[Path], object], folder: Path) -> None:
    """The preparer in a forked child that dies with its parent (a killed load leaves no
    process behind)."""
    with contextlib.suppress(OSError):  # not Linux: the child may outlive a killed parent
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    preparer(folder)


def load_folder_streaming(store: DbStore, folder: str | Path, *, chunk_rows: int, preparer:
                          Callable[[Path], object] | None, progress: Progress | None = None) -> Version:
    """Store a whole data folder as one new generation (see the module docstring)."""
    from data.dbstore import (
        CHANNEL,
        LARGE,
        _put_canonical,
        _write_rows,
        store_prepared_files,
    )

    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    say = progress or (lambda _m: None)
    folder = Path(folder)
    t0 = time.perf_counter()
    small, _meta, errors = read_folder(folder, skip=LARGE)
    if not errors.empty:
        raise StoreError("store_invalid", detail="; ".join(contracts.format_errors(errors, limit=5)))
    small = {n: f for n, f in small.items() if n not in LARGE}
    say(f"{folder}: small data sets valid ({', '.join(f'{n} {len(f):,}' for n, f in small.items())})")
    scratch = _scratch_folder(folder) if preparer is not None else None
    child = None
    try:
        if scratch is not None:
            child = multiprocessing.get_context("fork").Process(target=_child, args=(preparer, scratch),
                                                                 daemon=True)
            child.start()
            say("preparing the cubes in a child process while copying")
        with store._connect() as conn, conn.begin():
            conn.execute(text("SELECT generation FROM lagebild_state WHERE id = 1 FOR UPDATE"))
            gen = int(conn.execute(text(
                "SELECT coalesce(max(generation), 0) FROM lagebild_generations")).scalar()) + 1
            created = _now()
            conn.execute(text(
                "INSERT INTO lagebild_generations (generation, time, action, source, datasets) "
                "VALUES (:g, :t, 'import', :s, '{}'::jsonb)"), {"g": gen, "t": created, "s": folder.name})
            records: dict[str, int] = {}
            coder = None
            if store.cells is not None and len(small["districts"]):
                coder = store.cells(small["districts"])
                say(f"cell indexes of the region built ({time.perf_counter() - t0:.0f} s)")
            for name in DATASETS:
                if name in LARGE:
                    continue
                _write_rows(conn, name, small[name], gen, coder=coder)
                _put_canonical(conn, name, small[name], gen)
                records[name] = len(small[name])
            for name in LARGE:
                records[name] = copy_large(conn, folder, name, small, gen, chunk_rows, coder=coder,
                                           say=lambda m: say(f"{m} ({time.perf_counter() - t0:.0f} s)"))
            for name in DATASETS:
                conn.execute(text("INSERT INTO lagebild_generation_data (generation, dataset, "
                                  "data_generation, records) VALUES (:g, :d, :g, :r)"),
                             {"g": gen, "d": name, "r": records[name]})
            info = {n: {"source": folder.name, "records": records[n], "rejected": 0, "action": "import"}
                    for n in DATASETS}
            meta = {"name": STORE_NAME, "synthetic": False, "generation": gen, "created": created,
                    "sources": {n: {"version": gen, "time": created, **info[n]} for n in DATASETS}}
            conn.execute(text("UPDATE lagebild_generations SET datasets = CAST(:d AS jsonb), "
                              "meta = CAST(:m AS jsonb) WHERE generation = :g"),
                         {"g": gen, "d": json.dumps(info, ensure_ascii=False),
                          "m": json.dumps(meta, ensure_ascii=False)})
            if child is not None and scratch is not None:
                say("waiting for the cubes")
                child.join()
                if child.exitcode != 0:
                    raise StoreError("store_invalid", detail=f"preparing {folder} failed "
                                                             f"(exit code {child.exitcode})")
                stored = store_prepared_files(conn, gen, scratch / "prepared")
                say(f"prepared form stored ({stored:,} bytes)")
            conn.execute(text("UPDATE lagebild_state SET generation = :g, changed_at = now() WHERE id = 1"),
                         {"g": gen})
            conn.execute(text(f"NOTIFY {CHANNEL}, '{gen}'"))
            say("committing")
    finally:
        if child is not None and child.is_alive():
            child.kill()
            child.join()
        if scratch is not None:
            shutil.rmtree(scratch.parent, ignore_errors=True)
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    say(f"{folder} stored as version {gen} in {time.perf_counter() - t0:.0f} s (CPU: loader "
        f"{own.ru_utime + own.ru_stime:.0f} s, preparer {kids.ru_utime + kids.ru_stime:.0f} s)")
    versions = [v for v in store.versions() if v.generation == gen]
    return versions[0]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


