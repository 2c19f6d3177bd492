"""The store's commit check of large data sets in row batches (issue #15: bounded commits).

A commit checks the new version as written; the large data sets (complaints, pings) are
checked in Parquet row batches (data.folder.read_folder's ``stream``), never read whole, and
the check reports exactly what reading them whole reports. An invalid written version still
never becomes current.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from import_fixtures import INSIDE_MITTE, MITTE, SUED, german_excel_csv, shapefile_zip, tree_hash

from data import contracts
from data import folder as folder_mod
from data.folder import read_folder, write_folder
from data.importers import prepare_import
from data.store import Store, StoreError
from geo import prepared


def _folder(tmp_path: Path, complaints: pd.DataFrame, points: pd.DataFrame | None = None) -> Path:
    """A data folder (two districts, two categories, one patrol) with these raw rows."""
    frames = {name: contracts.empty_frame(name) for name in contracts.DATASETS}
    frames["districts"] = pd.DataFrame({"district_id": ["01", "02"], "name": ["Mitte", "Süd"],
                                        "geometry": [MITTE, SUED]})
    frames["categories"] = pd.DataFrame({"category": ["laerm", "muell"], "field": "oeffentliche_raeume",
                                         "label_de": ["Lärm", "Müll"], "label_en": None})
    frames["patrols"] = pd.DataFrame({"patrol_id": ["S1"], "start": ["2024-01-01T10:00"],
                                      "end": ["2024-01-01T12:00"], "kind": ["kod"]})
    folder = write_folder(tmp_path / "f", frames, {"name": "t"})
    complaints.to_parquet(folder / "complaints.parquet", index=False)
    if points is None:
        points = pd.DataFrame({"patrol_id": ["S1"] * 3, "time": ["2024-01-01T10:00"] * 3,
                               "lat": [INSIDE_MITTE[0]] * 3, "lon": [INSIDE_MITTE[1]] * 3})
    points.to_parquet(folder / "patrol_points.parquet", index=False)
    return folder


def _complaints(n: int = 11) -> pd.DataFrame:
    return pd.DataFrame({
        "complaint_id": [f"c{i}" for i in range(n)],
        "received_at": [f"2024-03-{1 + i % 28:02d}T10:00:00+01:00" for i in range(n)],
        "category": ["laerm" if i % 2 else "muell" for i in range(n)],
        "lat": [INSIDE_MITTE[0]] * n, "lon": [INSIDE_MITTE[1]] * n,
        "status": ["open"] * n})


def _broken(case: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    c = _complaints()
    points = None
    if case == "valid":
        pass
    elif case == "duplicate across batches":
        c.loc[7, "complaint_id"] = "c1"
        c.loc[9, "complaint_id"] = " c1 "  # the same id once stripped
    elif case == "duplicate within a batch":
        c.loc[4, "complaint_id"] = "c3"
    elif case == "duplicate within and across batches":
        c.loc[1, "complaint_id"] = "c0"
        c.loc[2, "complaint_id"] = "c0"
        c.loc[10, "complaint_id"] = "c0"
    elif case == "bad values in several batches":
        c.loc[2, "received_at"] = "gestern"
        c.loc[5, "lat"] = 95.0
        c.loc[8, "status"] = "vielleicht"
        c.loc[8, "complaint_id"] = None
    elif case == "unknown category":
        c.loc[3, "category"] = "graffiti"
        c.loc[10, "category"] = "graffiti"
    elif case == "missing column":
        c = c.drop(columns=["category"])
    elif case == "no rows":
        c = c.iloc[:0]
    elif case == "unknown patrol of a ping":
        points = pd.DataFrame({"patrol_id": ["S1", "S2", "S1", "S9"],
                               "time": ["2024-01-01T10:00"] * 4, "lat": [51.68] * 4, "lon": [7.8] * 4})
    else:  # pragma: no cover
        raise AssertionError(case)
    return c, points


CASES = ["valid", "duplicate across batches", "duplicate within a batch",
         "duplicate within and across batches", "bad values in several batches", "unknown category",
         "missing column", "no rows", "unknown patrol of a ping"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("chunk_rows", [1, 3, 4, 100])
def test_batched_check_reports_what_reading_whole_reports(tmp_path: Path, case: str,
                                                          chunk_rows: int) -> None:
    folder = _folder(tmp_path, *_broken(case))
    whole = read_folder(folder)[2]
    frames, _, batched = read_folder(folder, stream=("complaints", "patrol_points"), chunk_rows=chunk_rows)
    assert (case in ("valid", "no rows")) == whole.empty
    pd.testing.assert_frame_equal(batched.reset_index(drop=True), whole.reset_index(drop=True),
                                  check_dtype=False)
    assert frames["complaints"].empty and frames["patrol_points"].empty  # checked, not kept
    assert len(frames["categories"]) == 2  # the small ones are read as before


def test_batched_check_rejects_a_bad_batch_size(tmp_path: Path) -> None:
    folder = _folder(tmp_path, _complaints())
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer, got 0"):
        read_folder(folder, stream=("complaints",), chunk_rows=0)


def test_batched_check_of_an_unreadable_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, _complaints())
    (folder / "complaints.parquet").write_bytes(b"PAR1 not really")
    errors = read_folder(folder, stream=("complaints",))[2]
    assert errors["dataset"].tolist() == ["complaints"]
    assert errors["reason"].iloc[0].startswith("cannot read complaints.parquet")


# --- the store's commit ------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store", preparer=lambda folder: prepared.prepare_folder(folder, progress=None))
    s.commit(prepare_import("districts", shapefile_zip(tmp_path / "b.zip"), store=s))
    return s


def _no_whole_read(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> list[str]:
    """Make reading ``names`` whole (data.folder._read_table) fail; returns what was read whole."""
    read: list[str] = []
    original = folder_mod._read_table

    def guarded(path: Path) -> pd.DataFrame:
        read.append(path.name)
        if path.stem in names:
            raise AssertionError(f"{path.name} read whole")
        return original(path)

    monkeypatch.setattr(folder_mod, "_read_table", guarded)
    return read


@pytest.mark.parametrize("release", [False, True])
def test_commit_checks_large_data_sets_in_batches(store: Store, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, release: bool) -> None:
    monkeypatch.setattr(folder_mod, "STREAM_ROWS", 2)  # three complaints: two batches
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), store=store)
    read = _no_whole_read(monkeypatch, ("complaints", "patrol_points"))
    version = store.commit(report, release=release)
    assert version.generation == 2 and version.records == 3
    assert "categories.csv" in read  # the small data sets are read whole as before
    monkeypatch.undo()
    assert len(store.read_dataset("complaints")) == 3
    assert prepared.is_current(store.current_folder())
    assert read_folder(store.current_folder())[2].empty


def test_commit_keeps_the_old_large_data_sets_unread(store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A later import (here categories) links the complaints unchanged: they are checked in
    batches and their categories read as one column, never the records whole."""
    from data.importers import prepare_import as prep

    store.commit(prep("complaints", german_excel_csv(tmp_path / "b.csv"), store=store))
    cats = tmp_path / "k.csv"
    cats.write_text("category,field,label_de,label_en\nlaerm,nachbarschaft,Lärm,Noise\n", encoding="utf-8")
    report = prep("categories", cats, store=store)
    _no_whole_read(monkeypatch, ("complaints",))
    version = store.commit(report)
    monkeypatch.undo()
    got = set(store.read_dataset("categories")["category"])
    assert got == {"laerm", "laermbelaestigung", "wilder_muell"}  # the complaints' ones stay
    assert any("were missing and were added" in n for n in version.notes)
    old, new = store.generation_folder(2), store.generation_folder(3)
    assert (old / "complaints.parquet").stat().st_ino == (new / "complaints.parquet").stat().st_ino


def _corrupt_written(monkeypatch: pytest.MonkeyPatch, change) -> None:
    """Let the store write complaints.parquet with ``change`` applied (what a faulty writer,
    a full disk or a bug between validation and file could do)."""
    original = folder_mod.write_table

    def write(frame: pd.DataFrame, path: Path) -> None:
        if path.name == "complaints.parquet":
            frame = change(frame.copy())
        original(frame, path)

    monkeypatch.setattr(folder_mod, "write_table", write)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f.assign(category=["laermbelaestigung", "graffiti", "wilder_muell"]),
     "complaints: row 2, column 'category': unknown category (not in categories) (got 'graffiti')"),
    (lambda f: f.assign(complaint_id=[f["complaint_id"].iloc[0]] * 3),
     "complaints: row 2, column 'complaint_id': duplicate id (already used above)"),
    (lambda f: f.assign(lat=[51.6, 95.0, 51.6]),
     "complaints: row 2, column 'lat': latitude outside -90..90 (got 95.0)"),
])
def test_commit_refuses_a_written_version_that_breaks_the_contract(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change, expected: str) -> None:
    monkeypatch.setattr(folder_mod, "STREAM_ROWS", 1)  # every complaint its own batch
    report = prepare_import("complaints", german_excel_csv(tmp_path / "b.csv"), store=store)
    before = tree_hash(store.root)
    _corrupt_written(monkeypatch, change)
    with pytest.raises(StoreError) as exc:
        store.commit(report, release=True)
    assert exc.value.key == "store_invalid"
    assert expected in exc.value.message("en")
    assert tree_hash(store.root) == before  # an invalid version never becomes current
    assert store.generation == 1
