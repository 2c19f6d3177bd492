"""The store: atomic versions, restore, active source, consistency, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from import_fixtures import INSIDE_MITTE, german_excel_csv, open311_json, shapefile_zip, tree_hash

from data import folder as folder_mod
from data import store as store_mod
from data.folder import load_folder, read_folder
from data.importers import prepare_import
from data.store import DEMO_FOLDER, Store, StoreError, data_folder


def _import(store: Store, kind: str, path: Path, **kw: object) -> tuple:
    report = prepare_import(kind, path, store=store, **kw)
    return report, store.commit(report)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    _import(s, "districts", shapefile_zip(tmp_path / "b.zip"))
    return s


def test_fresh_store_is_empty_and_inactive(tmp_path: Path) -> None:
    s = Store(tmp_path / "nothing")
    assert s.generation == 0 and s.current_folder() is None and s.active_folder() is None
    assert s.read_dataset("complaints").empty
    assert s.versions() == []
    assert s.status()["datasets"]["districts"]["records"] == 0
    with pytest.raises(StoreError) as exc:
        s.activate()
    assert exc.value.key == "store_empty"
    s.deactivate()  # harmless
    assert not (tmp_path / "nothing").exists()


def test_env_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAGEBILD_STORE", str(tmp_path / "s"))
    assert Store().root == tmp_path / "s"
    monkeypatch.delenv("LAGEBILD_STORE")
    assert Store().root == store_mod.DEFAULT_ROOT


def test_each_generation_is_a_loadable_data_folder(store: Store, tmp_path: Path) -> None:
    folder = store.current_folder()
    assert folder is not None
    bundle = load_folder(folder)  # empty data sets included
    assert bundle.counts()["districts"] == 2 and bundle.counts()["complaints"] == 0
    assert not bundle.synthetic
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    bundle = load_folder(store.current_folder())
    assert bundle.counts()["complaints"] == 3
    assert sorted(bundle["categories"]["category"]) == ["laermbelaestigung", "wilder_muell"]
    assert bundle["complaints"]["district_id"].tolist() == ["01", "02", "01"]
    assert bundle.meta["sources"]["complaints"]["source"] == "b.csv"


def test_versions_restore_and_nothing_lost(store: Store, tmp_path: Path) -> None:
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    _import(store, "complaints", open311_json(tmp_path / "o.json"))
    versions = store.versions("complaints")
    assert [(v.generation, v.source, v.records, v.rejected, v.current) for v in versions] == [
        (3, "o.json", 2, 2, True), (2, "b.csv", 3, 4, False)]
    assert store.read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    restored = store.restore(2, "complaints")
    assert restored.generation == 4 and restored.action == "restore"
    assert restored.source == "Version 2 (b.csv)"
    assert store.read_dataset("complaints")["complaint_id"].tolist() == ["B-1", "B-2", "B-7"]
    assert load_folder(store.current_folder()).counts()["complaints"] == 3
    # every generation is still there and still loads
    for gen in (1, 2, 3, 4):
        _, _, errors = read_folder(store.generation_folder(gen))
        assert errors.empty
    # the restore itself can be undone
    store.restore(3, "complaints")
    assert store.read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    with pytest.raises(StoreError) as exc:
        store.restore(99, "complaints")
    assert "99" in exc.value.message("de")


def test_restore_everything(store: Store, tmp_path: Path) -> None:
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    store.restore(1)
    assert store.read_dataset("complaints").empty
    assert len(store.read_dataset("districts")) == 2


def test_unchanged_data_sets_are_linked_not_copied(store: Store, tmp_path: Path) -> None:
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    a = store.generation_folder(1) / "districts.geojson"
    b = store.generation_folder(2) / "districts.geojson"
    assert a.read_bytes() == b.read_bytes()
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert os.stat(store.generation_folder(1) / "complaints.parquet").st_ino != \
        os.stat(store.generation_folder(2) / "complaints.parquet").st_ino


def test_active_switch(store: Store, tmp_path: Path) -> None:
    assert store.active_folder() is None and data_folder(store) == DEMO_FOLDER
    with pytest.raises(StoreError) as exc:  # districts alone: the app has no quarter to show
        store.activate()
    assert exc.value.key == "store_no_quarters"
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    store.activate()
    assert store.is_active() and store.active_folder() == store.current_folder()
    assert data_folder(store) == store.current_folder()
    _import(store, "complaints", open311_json(tmp_path / "o.json"))
    assert store.active_folder() == store.generation_folder(3)  # follows the newest version
    store.deactivate()
    assert store.active_folder() is None and data_folder(store) == DEMO_FOLDER


def test_activation_needs_districts(tmp_path: Path) -> None:
    s = Store(tmp_path / "s")
    _import(s, "complaints", open311_json(tmp_path / "o.json"))
    with pytest.raises(StoreError) as exc:
        s.activate()
    assert exc.value.message("de").startswith("Die importierten Daten enthalten noch keine Bezirke")


@pytest.mark.parametrize("when", ["write", "verify", "rename", "head"])
@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_or_interrupted_commit_leaves_store_unchanged(store: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, when: str,
                                                             exc: BaseException) -> None:
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), store=store)
    before = tree_hash(store.root)

    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    target = {"write": "write_table", "verify": "read_folder", "rename": "_fsync_dir",
              "head": "os.replace"}[when]
    if target == "os.replace":
        monkeypatch.setattr(store_mod.os, "replace", boom)
    elif target == "write_table":  # fails while a data set's file is being written
        monkeypatch.setattr(folder_mod, "write_table", boom)
    else:
        monkeypatch.setattr(store_mod, target, boom)
    with pytest.raises(type(exc)):
        store.commit(report)
    monkeypatch.undo()
    assert tree_hash(store.root) == before
    assert store.generation == 1
    store.commit(report)  # and the store still works afterwards
    assert store.generation == 2


def test_failed_first_commit_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store(tmp_path / "new")
    report = prepare_import("districts", shapefile_zip(tmp_path / "b.zip"), store=s)
    monkeypatch.setattr(folder_mod, "write_geojson", lambda *a, **k: (_ for _ in ()).throw(OSError("nope")))
    with pytest.raises(OSError):
        s.commit(report)
    assert tree_hash(s.root) == "absent"


def test_commit_refuses_an_empty_report(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("complaint_id,received_at,category,lat,lon\na,2024-01-01,x,0,0\n", encoding="utf-8")
    report = prepare_import("complaints", path, store=store)
    assert report.records_accepted == 0
    before = tree_hash(store.root)
    with pytest.raises(StoreError):
        store.commit(report)
    assert tree_hash(store.root) == before


def test_mapping_is_remembered_for_the_same_shape(store: Store, tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text(f"Kennung;Wann;Was;N;E\nk1;01.02.2024;Lärm;{INSIDE_MITTE[0]};{INSIDE_MITTE[1]}\n",
                 encoding="utf-8")
    mapping = {"complaint_id": "Kennung", "received_at": "Wann", "category": "Was", "lat": "N", "lon": "E"}
    report, _ = _import(store, "complaints", a, mapping=mapping)
    assert report.records_accepted == 1
    b = tmp_path / "b.csv"  # same columns, other order and data
    b.write_text(f"Was;Kennung;E;N;Wann\nMüll;k2;{INSIDE_MITTE[1]};{INSIDE_MITTE[0]};02.02.2024\n",
                 encoding="utf-8")
    report = prepare_import("complaints", b, store=store, lang="en")
    assert report.mapping == mapping
    assert set(report.mapping_origin.values()) == {"remembered"}
    assert "Mapping taken from an earlier import with the same columns." in report.notes
    c = tmp_path / "c.csv"  # another shape: no memory
    c.write_text("Kennung;Wann;Was;N;E;Extra\n", encoding="utf-8")
    assert store.remembered_mapping("complaints", ["Kennung", "Wann", "Was", "N", "E", "Extra"]) is None


def test_reconcile_references(store: Store, tmp_path: Path) -> None:
    patrols = tmp_path / "p.csv"
    patrols.write_text("patrol_id,start,end,kind,district_id\nS1,2024-01-01T10:00,2024-01-01T12:00,kod,01\n"
                       "S2,2024-01-02T10:00,2024-01-02T12:00,joint,02\n", encoding="utf-8")
    _import(store, "patrols", patrols)
    pings = tmp_path / "g.csv"
    pings.write_text("patrol_id,time,lat,lon\nS1,2024-01-01T10:00,51.68,7.8\nS2,2024-01-02T10:00,51.68,7.8\n"
                     "S9,2024-01-02T10:00,51.68,7.8\n", encoding="utf-8")
    report, _ = _import(store, "patrol_points", pings, lang="en")
    assert report.errors["reason"].tolist() == ["unknown patrol 'S9' (import the patrols first)"]
    # new districts without "02": patrol S2 loses its district (noted), nothing else changes
    new_districts = tmp_path / "d.geojson"
    from import_fixtures import MITTE, polygon_feature_collection

    polygon_feature_collection(new_districts, [MITTE], ["01"])
    _, version = _import(store, "districts", new_districts)
    assert any("district_id was cleared" in n for n in version.notes)
    assert store.read_dataset("patrols")["district_id"].tolist()[0] == "01"
    assert pd.isna(store.read_dataset("patrols")["district_id"].tolist()[1])
    # patrols without S2: its GPS points go (kept in the previous version)
    fewer = tmp_path / "p2.csv"
    fewer.write_text("patrol_id,start,end,kind\nS1,2024-01-01T10:00,2024-01-01T12:00,kod\n", encoding="utf-8")
    _, version = _import(store, "patrols", fewer)
    assert store.read_dataset("patrol_points")["patrol_id"].astype(str).tolist() == ["S1"]
    assert len(Store(store.root).frames(version.generation - 1)["patrol_points"]) == 2
    assert {v.dataset for v in store.versions() if v.generation == version.generation} == {
        "patrols", "patrol_points"}
    assert load_folder(store.current_folder()).counts()["patrol_points"] == 1


def test_categories_import_keeps_complaint_categories(store: Store, tmp_path: Path) -> None:
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    cats = tmp_path / "k.csv"
    cats.write_text("category,field,label_de,label_en\nlaerm,nachbarschaft,Lärm,Noise\n", encoding="utf-8")
    _, version = _import(store, "categories", cats)
    got = store.read_dataset("categories").set_index("category")
    assert set(got.index) == {"laerm", "laermbelaestigung", "wilder_muell"}
    assert got.loc["wilder_muell", "field"] == "oeffentliche_raeume"
    assert any("were missing and were added" in n for n in version.notes)


def test_status(store: Store, tmp_path: Path) -> None:
    _import(store, "complaints", german_excel_csv(tmp_path / "b.csv"))
    status = store.status()
    assert status["generation"] == 2 and status["active"] is False
    assert status["datasets"]["complaints"]["source"] == "b.csv"
    assert status["datasets"]["complaints"]["records"] == 3
    assert status["datasets"]["complaints"]["rejected"] == 4
    assert status["datasets"]["districts"]["version"] == 1
    assert status["datasets"]["categories"]["action"] == "auto"
