"""The database store (PostgreSQL/PostGIS): the file store's promises, on a real cluster.

Migrations from an empty database, import as one transaction, rollback on failure and on a
killed import (kill -9 of a real ``python -m data import`` mid-COPY), every version kept and
restorable, the same canonical frames as the file store, the CLI on ``LAGEBILD_DB``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from import_fixtures import MITTE, german_excel_csv, open311_json, polygon_feature_collection, shapefile_zip
from pgcluster import wait_until
from sqlalchemy import text

from data import dbstore
from data.dbstore import DbStore, engine_for, migrate, schema_revision
from data.importers import prepare_import
from data.store import Store, StoreError
from data.storeapi import StoreLike, open_store

REPO = Path(__file__).resolve().parent.parent


def _import(store: StoreLike, kind: str, path: Path, **kw: object) -> tuple:
    report = prepare_import(kind, path, store=store, **kw)
    return report, store.commit(report)


@pytest.fixture
def db(pg_url: str, tmp_path: Path) -> DbStore:
    s = DbStore(pg_url)
    _import(s, "districts", shapefile_zip(tmp_path / "b.zip"))
    yield s
    s.engine.dispose()


def snapshot(store: DbStore) -> dict:
    """Everything the store holds, as comparable values (row counts and contents digests)."""
    out = {}
    with store.engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                   "ORDER BY tablename")).scalars().all()
        for t in tables:
            if t == "spatial_ref_sys":
                continue
            out[t] = conn.execute(text(f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' "
                                       f"ORDER BY x::text), '')) FROM {t} x")).one()
    return out


def test_migrations_from_an_empty_database(pg_cluster) -> None:
    url = pg_cluster.create_database()
    engine = engine_for(url)
    assert schema_revision(engine) is None
    with pytest.raises(StoreError) as exc:
        DbStore(engine).status()
    assert exc.value.key == "store_schema" and "python -m data db upgrade" in exc.value.message("de")
    migrate(engine)
    assert schema_revision(engine) == dbstore.HEAD_REVISION
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        geo = conn.execute(text("SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns "
                                "ORDER BY 1, 2")).all()
        gist = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"))
                   .scalars())
        h3_cols = conn.execute(text("SELECT table_name, data_type FROM information_schema.columns "
                                    "WHERE column_name = 'h3_9' ORDER BY 1")).all()
    assert {(r[0], r[1]) for r in geo} == {
        ("ds_districts", "geometry"), ("ds_focus_areas", "geometry"), ("ds_offices", "geom"),
        ("ds_complaints", "geom"), ("ds_staff_incidents", "geom"), ("ds_patrol_points", "geom")}
    assert {r[2] for r in geo} == {4326}
    assert {"ds_districts_geometry", "ds_complaints_geom"} <= gist
    with engine.connect() as conn:  # pings: a BRIN index (cheap at 100 million rows, 0002)
        brin = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING brin%'"))
                   .scalars())
    assert "ds_patrol_points_geom_brin" in brin
    assert h3_cols and {r[1] for r in h3_cols} == {"bigint"}
    s = DbStore(engine)
    assert s.generation == 0 and not s.is_active() and s.versions() == []
    dbstore.downgrade(engine)
    assert schema_revision(engine) is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('ds_complaints')")).scalar() is None
    migrate(engine)
    assert schema_revision(engine) == dbstore.HEAD_REVISION
    engine.dispose()


def test_same_frames_as_the_file_store(db: DbStore, tmp_path: Path) -> None:
    files = Store(tmp_path / "files")
    (tmp_path / "f").mkdir()
    _import(files, "districts", shapefile_zip(tmp_path / "f" / "b.zip"))
    for store in (files, db):
        _import(store, "complaints", german_excel_csv(tmp_path / "c.csv"))
        _import(store, "complaints", open311_json(tmp_path / "o.json"))
    for gen in (1, 2, 3):
        a, b = files.frames(gen), db.frames(gen)
        for name in a:
            left, right = a[name].reset_index(drop=True), b[name].reset_index(drop=True)
            if "geometry" in left.columns:
                # the file store rounds to 6 decimals (GeoJSON), the database keeps full precision
                far = shapely.hausdorff_distance(np.asarray(left.pop("geometry").tolist()),
                                                 np.asarray(right.pop("geometry").tolist()))
                assert (far < 1e-5).all()
            pd.testing.assert_frame_equal(left, right, check_dtype=False, check_categorical=False)
    assert [v.to_dict() | {"time": None} for v in files.versions()] == \
        [v.to_dict() | {"time": None} for v in db.versions()]
    fs, ds = files.status(), db.status()
    untimed = [{n: {**d, "time": None} for n, d in x["datasets"].items()} for x in (fs, ds)]
    assert untimed[0] == untimed[1] and fs["generation"] == ds["generation"] == 3
    # the bundle the app loads from the database
    bundle = db.load_bundle(3)
    assert bundle.counts()["complaints"] == 2 and bundle.meta["sources"]["complaints"]["source"] == "o.json"
    assert bundle["complaints"]["district_id"].notna().all()


def test_points_carry_postgis_geometry_and_h3_cells(db: DbStore, tmp_path: Path) -> None:
    _import(db, "complaints", german_excel_csv(tmp_path / "c.csv"))
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT lat, lon, ST_SRID(geom), ST_X(geom), ST_Y(geom), h3_8, h3_9, h3_10 "
                                 "FROM ds_complaints ORDER BY complaint_id")).all()
        inside = conn.execute(text(
            "SELECT count(*) FROM ds_complaints c JOIN ds_districts d ON d.generation = 1 "
            "AND ST_Contains(d.geometry, c.geom) WHERE c.generation = 2")).scalar()
    assert len(rows) == 3 and inside == 3
    for lat, lon, srid, x, y, c8, c9, c10 in rows:
        assert srid == 4326 and (x, y) == (lon, lat)
        assert [c8, c9, c10] == [h3.str_to_int(h3.latlng_to_cell(lat, lon, r)) for r in (8, 9, 10)]


def test_sql_rows_hold_the_same_records_as_the_stored_frames(db: DbStore, tmp_path: Path) -> None:
    """Replicas read each data set as one Parquet blob; the SQL rows (for spatial queries and
    the city's GIS) hold the very same records."""
    _import(db, "complaints", german_excel_csv(tmp_path / "c.csv"))
    with db.engine.connect() as conn:
        for name, gen in (("complaints", 2), ("districts", 1), ("categories", 2)):
            rows = dbstore._read_rows(conn, name, gen)
            blob = dbstore._get_canonical(conn, name, gen)
            assert blob is not None and len(rows) == len(blob) > 0
            if "geometry" in rows.columns:
                assert [a.equals(b) for a, b in zip(rows.pop("geometry"), blob.pop("geometry"),
                                                    strict=True)] == [True] * len(blob)
            pd.testing.assert_frame_equal(rows, blob, check_dtype=False, check_categorical=False)


def test_versions_restore_and_nothing_lost(db: DbStore, tmp_path: Path) -> None:
    _import(db, "complaints", german_excel_csv(tmp_path / "b.csv"))
    _import(db, "complaints", open311_json(tmp_path / "o.json"))
    got = [(v.generation, v.source, v.records, v.rejected, v.current) for v in db.versions("complaints")]
    assert got == [(3, "o.json", 2, 2, True), (2, "b.csv", 3, 4, False)]
    assert db.read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    restored = db.restore(2, "complaints")
    assert restored.generation == 4 and restored.action == "restore"
    assert restored.source == "Version 2 (b.csv)"
    assert db.read_dataset("complaints")["complaint_id"].tolist() == ["B-1", "B-2", "B-7"]
    for gen, ids in ((1, []), (2, ["B-1", "B-2", "B-7"]), (3, ["A-1", "A-2"]), (4, ["B-1", "B-2", "B-7"])):
        assert db.frames(gen)["complaints"]["complaint_id"].tolist() == ids
    db.restore(3, "complaints")  # the restore itself can be undone
    assert db.read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    with pytest.raises(StoreError) as exc:
        db.restore(99, "complaints")
    assert "99" in exc.value.message("de")
    db.restore(1)  # everything as in version 1
    assert db.read_dataset("complaints").empty and len(db.read_dataset("districts")) == 2
    report = db.import_report(3, "complaints")
    assert report["records_accepted"] == 2 and report["records_rejected"] == 2


def test_unchanged_data_sets_are_shared_not_copied(db: DbStore, tmp_path: Path) -> None:
    _import(db, "complaints", german_excel_csv(tmp_path / "b.csv"))
    _import(db, "complaints", open311_json(tmp_path / "o.json"))
    with db.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT generation, data_generation FROM lagebild_generation_data "
                                      "WHERE dataset = 'districts'")).all())
        count = conn.execute(text("SELECT count(*) FROM ds_districts")).scalar()
    assert rows == {1: 1, 2: 1, 3: 1} and count == 2


def test_active_switch_and_activation_rules(db: DbStore, pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        db.activate()
    assert exc.value.key == "store_no_quarters"
    _import(db, "complaints", german_excel_csv(tmp_path / "b.csv"))
    db.activate()
    assert db.is_active() and db.state() == (2, True)
    _import(db, "complaints", open311_json(tmp_path / "o.json"))
    assert db.state() == (3, True)  # follows the newest version
    db.deactivate()
    assert db.state() == (3, False)


def test_activation_needs_districts(pg_url: str, tmp_path: Path) -> None:
    s = DbStore(pg_url)
    with pytest.raises(StoreError) as exc:
        s.activate()
    assert exc.value.key == "store_empty"
    _import(s, "complaints", open311_json(tmp_path / "o.json"))
    with pytest.raises(StoreError) as exc:
        s.activate()
    assert exc.value.key == "store_no_districts"
    s.engine.dispose()


@pytest.mark.parametrize("when, exc", [
    ("rows", RuntimeError("connection lost")), ("rows", KeyboardInterrupt()),
    ("prepared", RuntimeError("disk full")), ("prepared", KeyboardInterrupt()),
    ("notify", None)])
def test_failed_or_interrupted_commit_leaves_no_trace(db: DbStore, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, when: str,
                                                      exc: BaseException | None) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), store=db)
    before = snapshot(db)
    name = {"rows": "_write_rows", "prepared": "store_prepared"}.get(when)
    if name is not None:
        original = getattr(dbstore, name)

        def boom_after(*args: object, **kwargs: object) -> None:
            original(*args, **kwargs)  # written inside the transaction, then it fails
            raise exc

        monkeypatch.setattr(dbstore, name, boom_after)
        expected: type[BaseException] = type(exc)
    else:  # the very last statement of the transaction fails (NOTIFY with a bad channel)
        monkeypatch.setattr(dbstore, "CHANNEL", "bad channel")
        expected = Exception
    with pytest.raises(expected):
        db.commit(report)
    monkeypatch.undo()
    assert snapshot(db) == before
    assert db.generation == 1 and [v.generation for v in db.versions()] == [1]
    assert db.commit(report).generation == 2  # and the store works afterwards


def test_killed_import_leaves_no_trace(db: DbStore, pg_url: str, tmp_path: Path) -> None:
    patrols = tmp_path / "p.csv"
    patrols.write_text("patrol_id,start,end,kind\nS1,2024-01-01T10:00,2024-01-01T18:00,kod\n",
                       encoding="utf-8")
    _import(db, "patrols", patrols)
    n = 400_000  # big enough that the COPY of the pings runs for a while
    rng = np.random.default_rng(1)
    lat, lon = MITTE.centroid.y, MITTE.centroid.x
    pings = pd.DataFrame({"patrol_id": "S1",
                          "time": pd.date_range("2024-01-01T10:00", periods=n, freq="s").strftime(
                              "%Y-%m-%dT%H:%M:%S"),
                          "lat": np.round(lat + rng.normal(0, 1e-4, n), 6),
                          "lon": np.round(lon + rng.normal(0, 1e-4, n), 6)})
    path = tmp_path / "pings.csv"
    pings.to_csv(path, index=False)
    before = snapshot(db)
    env = {**os.environ, "LAGEBILD_DB": pg_url}
    proc = subprocess.Popen([sys.executable, "-m", "data", "import", "patrol_points", str(path)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def copying() -> int | None:
        with db.engine.connect() as conn:
            return conn.execute(text("SELECT pid FROM pg_stat_activity "
                                     "WHERE query LIKE 'COPY ds_patrol_points%' AND xact_start IS NOT NULL "
                                     "AND pid <> pg_backend_pid()")).scalar()

    try:
        assert wait_until(lambda: copying() is not None or proc.poll() is not None,
                          timeout=240, interval=0.02)
        backend = copying()
        assert backend is not None, "the import finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    def gone() -> bool:
        with db.engine.connect() as conn:
            return not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                    {"p": backend}).scalar()

    assert wait_until(gone, timeout=30)
    assert snapshot(db) == before
    assert db.generation == 2 and db.read_dataset("patrol_points").empty


def test_cli_on_the_database(pg_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "LAGEBILD_DB": pg_url}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "data", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=180)

    r = cli("import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["version"] == 1
    assert "127.0.0.1" in r.stdout and "@" in r.stdout  # the store named by its URL
    r = cli("import", "complaints", str(german_excel_csv(tmp_path / "c.csv")), "--activate", "--json")
    last = json.loads(r.stdout.splitlines()[-1])
    assert r.returncode == 0 and last["version"] == 2 and last["activated"] is True
    status = json.loads(cli("store", "status").stdout)
    assert status["generation"] == 2 and status["active"] is True
    assert status["datasets"]["complaints"]["records"] == 3
    versions = json.loads(cli("store", "versions", "complaints").stdout)
    assert [v["version"] for v in versions] == [2]
    r = cli("store", "restore", "1")
    assert r.returncode == 0 and json.loads(r.stdout)["version"] == 3
    assert json.loads(cli("store", "status").stdout)["datasets"]["complaints"]["records"] == 0
    r = cli("store", "activate")  # version 3 has no complaints: refused, precise message
    assert r.returncode == 1 and "Beschwerden" in r.stderr
    r = cli("db", "current")
    assert r.returncode == 0 and dbstore.HEAD_REVISION in r.stdout


def test_open_store_follows_lagebild_db(monkeypatch: pytest.MonkeyPatch, pg_url: str, tmp_path: Path) -> None:
    monkeypatch.delenv("LAGEBILD_DB", raising=False)
    assert isinstance(open_store(), Store)
    monkeypatch.setenv("LAGEBILD_DB", pg_url)
    s = open_store()
    assert isinstance(s, DbStore) and isinstance(s, StoreLike)
    assert isinstance(open_store(tmp_path / "x"), Store)  # an explicit folder wins
    monkeypatch.setenv("LAGEBILD_DB", "mysql://x")
    with pytest.raises(ValueError, match="postgresql"):
        open_store()


def test_replaced_districts_keep_references_consistent(db: DbStore, tmp_path: Path) -> None:
    patrols = tmp_path / "p.csv"
    patrols.write_text("patrol_id,start,end,kind,district_id\nS1,2024-01-01T10:00,2024-01-01T12:00,kod,01\n"
                       "S2,2024-01-02T10:00,2024-01-02T12:00,joint,02\n", encoding="utf-8")
    _import(db, "patrols", patrols)
    polygon_feature_collection(tmp_path / "d.geojson", [MITTE], ["01"])
    _, version = _import(db, "districts", tmp_path / "d.geojson")
    assert any("district_id was cleared" in n for n in version.notes)
    assert db.read_dataset("patrols")["district_id"].isna().tolist() == [False, True]


def test_a_preparer_stores_the_prepared_form_in_the_same_transaction(pg_url: str, tmp_path: Path) -> None:
    """The seam for prepared data sets: a preparer's files become blobs of the generation."""
    seen = []

    def preparer(folder: Path) -> None:
        seen.append(sorted(p.name for p in folder.iterdir()))
        (folder / "prepared").mkdir()
        (folder / "prepared" / "manifest.json").write_text('{"ok": true}', encoding="utf-8")
        districts = pd.read_json(folder / "districts.geojson")
        (folder / "prepared" / "n.txt").write_text(str(len(districts["features"])), encoding="utf-8")

    store = DbStore(pg_url, preparer=preparer)
    _import(store, "districts", shapefile_zip(tmp_path / "b.zip"))
    assert "districts.geojson" in seen[0] and "dataset.json" in seen[0]
    assert dbstore.get_prepared_files(store.engine, 1) == {"manifest.json": b'{"ok": true}', "n.txt": b"2"}

    def broken(folder: Path) -> None:
        raise RuntimeError("cannot prepare")

    before = snapshot(store)
    store.preparer = broken
    with pytest.raises(RuntimeError):
        _import(store, "complaints", german_excel_csv(tmp_path / "c.csv"))
    assert snapshot(store) == before and store.generation == 1
    store.engine.dispose()
