"""The database store's prepared form, chunked COPY loads and the single-complaint query.

Against a real throwaway PostgreSQL/PostGIS cluster (tests/pgcluster.py):

* a loaded or imported generation carries the prepared form geo.prepared builds for the
  same data in the file store (same manifest, same cubes);
* a replica (geo.dbbundle) starts from the cubes and the small tables and never reads a
  raw ping or complaint row;
* the chunked COPY load equals the in-memory load, also with a tiny chunk size, and a
  killed load leaves no trace;
* the coordinators' single-complaint layer is filtered and limited in SQL, within the
  role's districts, and shows the same points as the file store.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pgcluster import wait_until
from sqlalchemy import event, text
from test_dbstore import snapshot

from data import dbstore
from data.dbstore import DbStore
from data.filters import Filters
from data.folder import write_folder
from data.generator import generate
from data.roles import Principal, restrict
from data.store import StoreError
from geo import prepared
from geo.dbbundle import open_db_bundle
from geo.h3cells import point_cells
from viz.pagedata import complaint_points

REPO = Path(__file__).resolve().parent.parent
ADMIN = Principal("admin")


def _quiet(folder: Path) -> object:
    return prepared.prepare_folder(folder, progress=None)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo city as a data folder with its prepared form (what the file store holds)."""
    frames, meta = generate(seed=5, complaints=3000, pings=30_000)
    return write_folder(tmp_path_factory.mktemp("city") / "data", frames, meta, preparer=_quiet)


def _read(body: bytes, name: str) -> object:
    return json.loads(body) if name.endswith(".json") else pd.read_parquet(io.BytesIO(body))


def _same_prepared(files: dict[str, bytes], folder: Path, cubes_only: bool = False) -> None:
    root = prepared.prepared_dir(folder)
    names = sorted(p.name for p in root.iterdir() if p.name != prepared.STAMPS)
    assert sorted(n for n in files if n != prepared.STAMPS) == names
    for name in names:
        mine, theirs = _read(files[name], name), _read((root / name).read_bytes(), name)
        if isinstance(mine, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs)
        elif cubes_only:  # another folder of the same data: other file hashes, same content
            drop = ("fingerprint", "files")
            assert {k: v for k, v in mine.items() if k not in drop} == \
                {k: v for k, v in theirs.items() if k not in drop}
        else:
            assert mine == theirs


def test_loaded_generation_carries_the_file_stores_prepared_form(pg_url: str, city: Path) -> None:
    store = DbStore(pg_url, preparer=_quiet)
    version = store.load_folder(city, chunk_rows=700)
    assert version.generation == 1 and store.generation == 1
    _same_prepared(store.prepared_files(1), city)  # the same source files: the same fingerprint
    store.engine.dispose()


def test_imports_and_restores_store_the_prepared_form_too(pg_url: str, city: Path) -> None:
    store = DbStore(pg_url, preparer=_quiet)
    store.load_folder(city, chunk_rows=None)  # in memory, written like an import
    _same_prepared(store.prepared_files(1), city, cubes_only=True)
    store.restore(1)
    _same_prepared(store.prepared_files(2), city, cubes_only=True)
    store.engine.dispose()


def test_a_replica_reads_the_cubes_and_never_a_raw_row(pg_url: str, city: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    writer = DbStore(pg_url, preparer=_quiet)
    writer.load_folder(city)
    writer.engine.dispose()
    replica = DbStore(pg_url)  # a replica has no preparer
    statements: list[str] = []
    event.listen(replica.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, params, *_: statements.append(f"{statement} {params}"))
    copies: list[str] = []
    real = dbstore._read_rows
    monkeypatch.setattr(dbstore, "_read_rows", lambda conn, name, *a, **k: (copies.append(name),
                                                                           real(conn, name, *a, **k))[1])
    bundle = open_db_bundle(replica, 1)
    assert statements and copies == []
    raw = [s for s in statements if "ds_patrol_points" in s or "ds_complaints" in s
           or "canonical/patrol_points" in s or "canonical/complaints" in s]
    assert raw == []
    assert not bundle.is_loaded("patrol_points") and not bundle.is_loaded("complaints")
    files = prepared.open_bundle(city, progress=None)
    assert bundle.counts() == files.counts() and bundle.quarters() == files.quarters()
    pd.testing.assert_frame_equal(bundle.complaint_table, files.complaint_table)
    for r in (8, 9):
        mine, theirs = bundle.prepared.view(r), files.prepared.view(r)
        assert list(mine[0].cells) == list(theirs[0].cells)
        pd.testing.assert_frame_equal(mine[1], theirs[1])
        pd.testing.assert_frame_equal(mine[2], theirs[2])
    assert copies == []  # the cubes and summaries were enough
    replica.engine.dispose()


def test_a_replica_reads_a_complaint_cube_from_the_database_when_first_used(pg_url: str, city: Path) -> None:
    """A replica starts without the complaint cubes (the bulk of the prepared bytes) and reads
    each once, when its resolution is first used; the cubes are the stored ones."""
    writer = DbStore(pg_url, preparer=_quiet)
    writer.load_folder(city)
    writer.engine.dispose()
    replica = DbStore(pg_url)
    statements: list[str] = []
    event.listen(replica.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, params, *_: statements.append(f"{statement} {params}"))
    bundle = open_db_bundle(replica, 1)
    folder = bundle.prepared.folder
    assert (folder / "manifest.json").is_file() and (folder / "cells_r9.parquet").is_file()
    assert sorted(p.name for p in folder.glob("complaint_cube_r*")) == []
    assert not any("complaint_cube" in s for s in statements)
    files = prepared.open_bundle(city, progress=None)
    statements.clear()
    mine, theirs = bundle.prepared.view(10), files.prepared.view(10)
    pd.testing.assert_frame_equal(mine[1], theirs[1])
    assert sorted(p.name for p in folder.glob("complaint_cube_r*")) == ["complaint_cube_r10.parquet"]
    fetched = [s for s in statements if "complaint_cube" in s]
    assert len(fetched) == 1 and "prepared/complaint_cube_r10.parquet" in fetched[0]
    bundle.prepared.view(10)
    assert len([s for s in statements if "complaint_cube" in s]) == 1  # read once
    with pytest.raises(KeyError, match=r"no prepared file 'nothing\.parquet'"):
        replica.prepared_file(1, "nothing.parquet")
    replica.engine.dispose()


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif not pd.api.types.is_numeric_dtype(out[col].dtype) or isinstance(out[col].dtype,
                                                                               pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def test_chunked_load_equals_the_in_memory_load(pg_cluster, pg_template: str, city: Path) -> None:
    chunked = DbStore(pg_cluster.create_database(template=pg_template), cells=point_cells)
    whole = DbStore(pg_cluster.create_database(template=pg_template))
    chunked.load_folder(city, chunk_rows=97)  # H3 cells by the lattice of the region
    whole.load_folder(city, chunk_rows=None)  # H3 cells point by point
    a, b = chunked.frames(1), whole.frames(1)
    for name in a:  # the same records (large sets come back from SQL rows: other dtypes)
        pd.testing.assert_frame_equal(_values(a[name]), _values(b[name]), obj=name, check_dtype=False)
    for name in ("complaints", "patrol_points", "districts", "patrols", "offices", "staff_incidents"):
        sql = (f"SELECT count(*), md5(string_agg(x::text, '|' ORDER BY rn)) FROM "
               f"(SELECT * FROM ds_{name}) x")
        with chunked.engine.connect() as c1, whole.engine.connect() as c2:
            assert c1.execute(text(sql)).one() == c2.execute(text(sql)).one(), name
    assert chunked.versions()[0].records == whole.versions()[0].records
    chunked.engine.dispose()
    whole.engine.dispose()


def test_an_invalid_chunk_names_file_row_and_column_and_leaves_no_trace(pg_url: str, city: Path,
                                                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in city.iterdir():
        if path.is_file():
            (bad / path.name).symlink_to(path)
    pings = pd.read_parquet(city / "patrol_points.parquet")
    (bad / "patrol_points.parquet").unlink()
    pings["patrol_id"] = pings["patrol_id"].astype(str)
    pings.loc[1234, "patrol_id"] = "nobody"
    pings.to_parquet(bad / "patrol_points.parquet", index=False)
    store = DbStore(pg_url)
    before = snapshot(store)
    with pytest.raises(StoreError) as exc:
        store.load_folder(bad, chunk_rows=500)
    message = exc.value.message("en")
    # index 1234 is the file's 1,235th record (rows count from 1, as every import report does)
    assert "patrol_points.parquet" in message and "row 1235," in message and "patrol_id" in message
    assert snapshot(store) == before and store.generation == 0
    store.engine.dispose()


def test_killed_load_leaves_no_trace(pg_url: str, city: Path) -> None:
    store = DbStore(pg_url)
    before = snapshot(store)
    env = {**os.environ, "LAGEBILD_DB": pg_url}
    proc = subprocess.Popen([sys.executable, "-m", "data", "db", "load", str(city), "--chunk-rows", "50"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def copying() -> int | None:
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT pid FROM pg_stat_activity WHERE query LIKE "
                                     "'COPY ds_patrol_points%' AND pid <> pg_backend_pid()")).scalar()

    try:
        assert wait_until(lambda: copying() is not None or proc.poll() is not None, timeout=240,
                          interval=0.02)
        backend = copying()
        assert backend is not None, "the load finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    def gone() -> bool:
        with store.engine.connect() as conn:
            return not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                    {"p": backend}).scalar()

    assert wait_until(gone, timeout=30)
    assert snapshot(store) == before and store.generation == 0
    store.engine.dispose()


@pytest.fixture(scope="module")
def both(pg_cluster, pg_template: str, city: Path):
    """(database bundle, file bundle) of the same city."""
    store = DbStore(pg_cluster.create_database(template=pg_template), preparer=_quiet)
    store.load_folder(city)
    yield open_db_bundle(store, 1), prepared.open_bundle(city, progress=None)
    store.engine.dispose()


def _filters(bundle, **kw) -> Filters:
    q = bundle.quarters()
    return Filters(q[0], q[-1], **kw)


@pytest.mark.parametrize("kw", [
    {}, {"categories": ("laerm",)}, {"fields": ("nachbarschaft",)}, {"weekdays": (0, 5, 6)},
    {"hours": (22, 6)}, {"hours": (9, 17), "weekdays": (1, 2)},
])
@pytest.mark.parametrize("limit", [7, 100_000])
def test_points_query_shows_what_the_file_store_shows(both, kw: dict, limit: int) -> None:
    db, files = both
    for principal in (ADMIN, Principal("coordinator", ("mitte",)),
                      Principal("coordinator", ("uentrop", "heessen"))):
        mine = complaint_points(restrict(db, principal), _filters(files, **kw), "de", principal, limit)
        theirs = complaint_points(restrict(files, principal), _filters(files, **kw), "de", principal, limit)
        assert mine[1] == theirs[1]
        assert len(mine[0]) == min(limit, theirs[1])
        pd.testing.assert_frame_equal(mine[0], theirs[0])


def test_points_query_honours_role_districts_and_the_limit(both) -> None:
    db, files = both
    coordinator = Principal("coordinator", ("rhynern",))
    view = restrict(db, coordinator)
    f = _filters(files)
    points, total = complaint_points(view, f, "de", coordinator, 5)
    allowed = files["complaints"]["district_id"] == "rhynern"
    assert total == int(allowed.sum()) > 5 and len(points) == 5
    assert set(points["complaint_id"]) <= set(files["complaints"].loc[allowed, "complaint_id"])
    # a district filter outside the role's districts shows nothing, never another district
    assert complaint_points(view, _filters(files, districts=("mitte",)), "de", coordinator, 5)[1] == 0
    # a viewer gets no points at all; a coordinator's descriptions stay
    viewer = Principal("viewer", ("rhynern",))
    assert complaint_points(restrict(db, viewer), f, "de", viewer, 5)[1] == 0
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        db.points(f, None, 0)
