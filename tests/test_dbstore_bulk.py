"""Region-scale loading into the database store (data/dbstore/bulk.py, migration 0003).

* the vectorised pieces of a chunk (reference check, UTC times as text) give what the
  per-value ways gave;
* complaints and pings live in one partition per generation: a load COPYs into a bare
  partition and attaches it (indexes, foreign key), an import attaches an empty one;
* ids repeated in different chunks are rejected with file, row and column, and leave no trace;
* migration 0003 moves the rows of existing generations into their partitions and back.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sqlalchemy import text
from test_dbstore import snapshot

from data import dbstore
from data.dbstore import DbStore, _utc_text
from data.dbstore.bulk import _isin
from data.folder import write_folder
from data.generator import generate
from data.importers.pipeline import prepare_import
from data.store import StoreError


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames, meta = generate(seed=7, complaints=600, pings=4000)
    return write_folder(tmp_path_factory.mktemp("city") / "data", frames, meta)


@pytest.mark.parametrize(("values", "known", "expected"), [
    (pd.Series(["a", "b", None, "c"], dtype="string[pyarrow]"), {"a", "c"}, [True, False, False, True]),
    (pd.Series(["a", "b", None, "a"], dtype=object), {"a"}, [True, False, False, True]),
    (pd.Series(["x", "y", "x"], dtype="category"), {"y"}, [False, True, False]),
    (pd.Series([1, 2, 3]), {"2", "3"}, [False, True, True]),
    (pd.Series([], dtype=object), {"a"}, []),
    (pd.Series(["", "a"]), {""}, [True, False]),
])
def test_reference_check_is_pandas_isin_on_text(values: pd.Series, known: set[str],
                                                expected: list[bool]) -> None:
    got = _isin(values, frozenset(known))
    assert got.tolist() == expected
    old = values.notna().to_numpy() & values.astype(str).isin(known).to_numpy()  # the former check
    assert (values.notna().to_numpy() & got).tolist() == old.tolist()


def test_utc_times_as_text_are_what_arrows_csv_writer_wrote() -> None:
    times = pd.Series(pd.to_datetime(["2024-03-31 01:59:59.5+01:00", None, "1999-12-31 23:00:00+00:00",
                                      "1900-01-01 00:00:00.000001+00:00", "2024-10-27 02:30:00+02:00"],
                                     utc=True, format="mixed"))
    old, new = io.BytesIO(), io.BytesIO()
    opts = pa_csv.WriteOptions(include_header=False)
    pa_csv.write_csv(pa.table({"t": pa.array(times, pa.timestamp("us", tz="UTC"))}), old, opts)
    pa_csv.write_csv(pa.table({"t": _utc_text(times)}), new, opts)
    assert new.getvalue().replace(b'"', b"").splitlines() == old.getvalue().splitlines()
    assert _utc_text(times).to_pylist()[:2] == ["2024-03-31 00:59:59.500000Z", None]


def _partitions(store: DbStore) -> dict[str, list[str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p' ORDER BY 1, 2")).all()
    out: dict[str, list[str]] = {}
    for parent, child in rows:
        out.setdefault(parent, []).append(child)
    return out


def test_a_load_and_an_import_each_write_their_own_partition(pg_url: str, city: Path, tmp_path: Path) -> None:
    store = DbStore(pg_url)
    store.load_folder(city, chunk_rows=250)
    complaints = pd.read_parquet(city / "complaints.parquet") if (city / "complaints.parquet").exists() \
        else pd.read_csv(city / "complaints.csv", dtype=str)
    one = complaints.head(5)
    path = tmp_path / "c.csv"
    one.to_csv(path, index=False)
    store.commit(prepare_import("complaints", path, store=store))
    assert _partitions(store) == {"ds_complaints": ["ds_complaints_g1", "ds_complaints_g2"],
                                  "ds_patrol_points": ["ds_patrol_points_g1"]}
    with store.engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT generation, count(*) FROM ds_complaints GROUP BY 1")).all())
        # the partition of the load has the parent's indexes (built on attach) and its foreign key
        indexes = set(conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'ds_complaints_g1'")).scalars())
        fk = conn.execute(text("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                               "conrelid = 'ds_complaints_g1'::regclass")).scalar()
        in_g1 = conn.execute(text("SELECT count(*) FROM ds_complaints_g1")).scalar()
    assert counts == {1: len(complaints), 2: 5}
    assert any("gist (geom)" in d for d in indexes) and any("(generation, rn)" in d for d in indexes)
    assert any("(generation, received_at)" in d for d in indexes) and fk == 1 and in_g1 == len(complaints)
    assert len(store.read_dataset("complaints")) == 5 and store.generation == 2
    store.engine.dispose()


def _with_complaints(city: Path, folder: Path, change) -> Path:
    folder.mkdir()
    for path in city.iterdir():
        if path.is_file() and not path.name.startswith("complaints."):
            (folder / path.name).symlink_to(path)
    src = city / "complaints.parquet"
    complaints = pd.read_parquet(src) if src.exists() else pd.read_csv(city / "complaints.csv", dtype=str)
    change(complaints)
    complaints.to_parquet(folder / "complaints.parquet", index=False)
    return folder


def test_ids_repeated_in_different_chunks_are_rejected_and_leave_no_trace(pg_url: str, city: Path,
                                                                         tmp_path: Path) -> None:
    def repeat(frame: pd.DataFrame) -> None:
        frame["complaint_id"] = frame["complaint_id"].astype(str)
        frame.loc[450, "complaint_id"] = frame.loc[3, "complaint_id"]  # chunk 1 (rows 1-100), chunk 5

    bad = _with_complaints(city, tmp_path / "bad", repeat)
    store = DbStore(pg_url)
    before = snapshot(store)
    with pytest.raises(StoreError) as exc:
        store.load_folder(bad, chunk_rows=100)
    message = exc.value.message("en")
    assert "complaints.parquet" in message and "row 451," in message and "complaint_id" in message
    assert "duplicate id" in message
    assert snapshot(store) == before and store.generation == 0 and _partitions(store) == {}
    # within one chunk the chunk's validation finds it (the same message)
    with pytest.raises(StoreError) as exc:
        store.load_folder(bad, chunk_rows=1000)
    assert "row 451," in exc.value.message("en") and "complaint_id" in exc.value.message("en")
    store.engine.dispose()


def test_migration_0003_moves_existing_rows_into_partitions_and_back(pg_cluster) -> None:
    url = pg_cluster.create_database()
    engine = dbstore.engine_for(url)
    dbstore.migrate(engine, "0002")
    with engine.begin() as conn:
        for g in (1, 2):
            conn.execute(text("INSERT INTO lagebild_generations (generation, time, action, datasets) "
                              "VALUES (:g, 't', 'import', '{}')"), {"g": g})
        conn.execute(text(
            "INSERT INTO ds_complaints (generation, rn, complaint_id, received_at, category, lat, lon, h3_9) "
            "VALUES (1, 0, 'A', '2024-01-01T10:00Z', 'x', 51.5, 7.4, 11), "
            "(2, 0, 'B', '2024-01-02T10:00Z', 'x', 51.6, 7.5, 12), "
            "(2, 1, 'C', '2024-01-03T10:00Z', 'x', 51.7, 7.6, 13)"))
        conn.execute(text("INSERT INTO ds_patrol_points (generation, rn, patrol_id, time, lat, lon) "
                          "VALUES (2, 0, 'S1', '2024-01-01T10:00Z', 51.5, 7.4)"))

    def rows() -> list[tuple]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT generation, rn, complaint_id, received_at, lat, lon, h3_9, ST_AsText(geom) "
                "FROM ds_complaints ORDER BY generation, rn"))] + [tuple(r) for r in conn.execute(text(
                    "SELECT generation, rn, patrol_id, time, ST_AsText(geom) FROM ds_patrol_points"))]

    before = rows()
    dbstore.migrate(engine)
    assert rows() == before
    with engine.connect() as conn:
        parts = conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                  "ORDER BY 1")).scalars().all()
        kinds = dict(conn.execute(text("SELECT relname, relkind::text FROM pg_class WHERE relname IN "
                                       "('ds_complaints', 'ds_patrol_points')")).all())
        only_g2 = conn.execute(text("SELECT count(*) FROM ds_complaints_g2")).scalar()
    assert kinds == {"ds_complaints": "p", "ds_patrol_points": "p"}
    assert {"ds_complaints_g1", "ds_complaints_g2", "ds_patrol_points_g2"} <= set(parts) and only_g2 == 2
    with engine.begin() as conn, pytest.raises(Exception, match="duplicate key"):  # (generation, rn)
        conn.execute(text("INSERT INTO ds_complaints (generation, rn, complaint_id, received_at, category, "
                          "lat, lon) VALUES (2, 1, 'Z', now(), 'x', 1, 1)"))
    dbstore.downgrade(engine, "0002")
    assert rows() == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT relkind::text FROM pg_class WHERE relname = 'ds_complaints'")
                            ).scalar() == "r"
    dbstore.migrate(engine)
    assert rows() == before
    engine.dispose()


def test_partition_names_are_for_the_large_tables_only() -> None:
    assert dbstore.partition_name("complaints", 12) == "ds_complaints_g12"
    with pytest.raises(ValueError, match="got 'districts'"):
        dbstore.partition_name("districts", 1)
    assert np.array_equal(_isin(pd.Series(["a"]), frozenset()), [False])
