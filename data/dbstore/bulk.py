"""Loading a whole data folder into the database store in chunks (region scale).

``python -m data db load FOLDER`` stores every data set of a data folder (data/folder.py
layout: the demo city, the generator's region) as one new generation, in ONE transaction:

* the small data sets (districts, categories, patrols, offices, staff incidents, focus
  areas) are read and validated whole, as :func:`data.folder.read_folder` does;
* the large ones (complaints, pings) are streamed: Parquet row batches (or CSV chunks) of
  ``chunk_rows`` rows, each validated (:func:`data.contracts.validate`, its references to
  patrols and categories checked) and written with COPY. Memory stays bounded by one
  chunk, whatever the size of the folder;
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
from sqlalchemy import text

from data import contracts
from data.contracts import DATASETS
from data.folder import META_FILE, _find, read_folder
from data.store import STORE_NAME, StoreError, _now

if TYPE_CHECKING:
    from data.dbstore import DbStore
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


def stream_validated(folder: Path, name: str, small: dict[str, pd.DataFrame], chunk_rows: int
                     ) -> Iterator[pd.DataFrame]:
    """Validated canonical chunks of a large data set; raises :class:`StoreError` naming
    the file, the row (counted over the whole file) and the column of the first errors."""
    path = _find(folder, name)
    if path is None:
        return
    column, target, target_column = REFERENCES[name]
    known = set(small[target][target_column].dropna().astype(str))
    offset = 0
    for raw in _chunks(path, chunk_rows):
        frame, errors = contracts.validate(name, raw)
        bad = frame[column].notna().to_numpy() & ~frame[column].astype(str).isin(known).to_numpy()
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
                n = 0
                for chunk in stream_validated(folder, name, small, chunk_rows):
                    _write_rows(conn, name, chunk, gen, offset=n, coder=coder)
                    n += len(chunk)
                    say(f"{name}: {n:,} rows copied ({time.perf_counter() - t0:.0f} s)")
                records[name] = n
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
    say(f"{folder} stored as version {gen} in {time.perf_counter() - t0:.0f} s")
    versions = [v for v in store.versions() if v.generation == gen]
    return versions[0]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


