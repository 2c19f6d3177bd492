"""Chunked reading and validation of large CSV files (issue #15): the same report, the same records.

Every case runs the whole-file path and the chunked path (with tiny chunks forced through
``chunk_rows``) and compares the accepted records, the errors, the warnings, the rejected
records and the JSON report. Rows are numbered across chunk borders (1 = first record of
the file); an id used in an earlier chunk is a duplicate; mapping, x/y CRS guessing,
categories and geocoding work as before.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from import_fixtures import (
    INSIDE_MITTE,
    INSIDE_SUED,
    districts_frame,
    german_excel_csv,
    project,
    shapefile_zip,
    tree_hash,
)
from shapely.geometry import Point

from data.importers import GeocodeCache, GeocoderSettings, prepare_import
from data.importers import readers as readers_mod
from data.importers.pipeline import SeenIds

ROOT = Path(__file__).resolve().parents[1]


def write_text(lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_bytes((newline.join(lines) + newline).encode(encoding))
        return path

    return write


def plain_with_problems(path: Path) -> Path:
    """Comma CSV: blank lines inside, duplicates across chunk borders, bad numbers,
    0/0, out of range, swapped, outside, new and known categories, an unknown status."""
    lat, lon = INSIDE_MITTE
    slat, slon = INSIDE_SUED
    lines = ["complaint_id,received_at,category,lat,lon,status"]
    for i in range(1, 41):
        cat = ("laerm", "Wilder Müll", "Graffiti", "Lärm")[i % 4]
        la, lo = (lat, lon) if i % 2 else (slat, slon)
        cid = f"C-{i}"
        if i in (9, 23):
            cid = "C-2"  # duplicates of a record in an earlier chunk
        if i == 12:
            cid = "C-12"
        if i == 13:
            cid = "C-12"  # a duplicate right after (same or next chunk)
        row = f"{cid},2026-07-{1 + i % 28:02d}T10:{i % 60:02d}:00,{cat},{la},{lo},offen"
        if i == 5:
            row = f"C-5,2026-07-01 10:00,laerm,abc,{lon},offen"
        if i == 7:
            row = "C-7,2026-07-01 10:00,laerm,0,0,offen"
        if i == 11:
            row = f"C-11,2026-07-01 10:00,laerm,{lon},{lat},offen"
        if i == 14:
            row = "C-14,2026-07-01 10:00,laerm,51.50,7.50,offen"
        if i == 17:
            row = "C-17,2026-07-01 10:00,laerm,95,7.8,offen"
        if i == 19:
            row = f"C-19,kein Datum,laerm,{lat},{lon},seltsam"
        if i == 21:
            row = f"C-21,2026-07-01 10:00,laerm,{lat},{lon},komisch"
        lines.append(row)
        if i in (6, 15):
            lines.append(",,,,,")
    return write_text(lines)(path)


def xy_metres(path: Path) -> Path:
    """Rechtswert/Hochwert in EPSG:25832 without a CRS given (guessed once, noted once)."""
    lines = ["Nr;Datum;Art;Rechtswert;Hochwert"]
    for i in range(1, 26):
        p = project(Point(INSIDE_MITTE[1] + i * 1e-4, INSIDE_MITTE[0]), "EPSG:25832")
        x = f"{p.x:.2f}".replace(".", ",")
        y = f"{p.y:.2f}".replace(".", ",")
        if i == 10:
            x = "kaputt"
        lines.append(f"X{i};{i % 28 + 1:02d}.03.2026 08:00;Ruhestörung;{x};{y}")
    return write_text(lines, "cp1252", "\r\n")(path)


def ragged(path: Path) -> Path:
    """Records with more fields than the header (the csv-module path) after several chunks."""
    lat, lon = INSIDE_MITTE
    lines = ["complaint_id,received_at,category,lat,lon"]
    for i in range(1, 21):
        extra = ",x,y" if i in (4, 15) else (",," if i == 16 else "")
        lines.append(f"R-{i},2026-05-0{1 + i % 9} 12:00,laerm,{lat},{lon}{extra}")
    return write_text(lines)(path)


def bom_unnamed_columns(path: Path) -> Path:
    """UTF-8 with BOM; an unnamed column with data only in a late record, one without data."""
    lat, lon = INSIDE_SUED
    lines = ["complaint_id;received_at;category;lat;lon;;;Bemerkung"]
    for i in range(1, 16):
        note = "spät" if i == 14 else ""
        lines.append(f"U-{i};01.02.2026 09:{i:02d};Lärm;{str(lat).replace('.', ',')};"
                     f"{str(lon).replace('.', ',')};{note};;frei {i}")
    return write_text(lines, "utf-8-sig")(path)


def latin1_undefined(path: Path) -> Path:
    """Bytes undefined in cp1252 (0x81): read as latin-1, as the whole-file reader does."""
    lat, lon = INSIDE_MITTE
    rows = ["complaint_id,received_at,category,lat,lon"] + [
        f"L-{i},2026-06-01 10:00,K\x81{i % 3},{lat},{lon}" for i in range(1, 12)]
    return write_text(rows, "latin-1")(path)


CASES = [
    ("german-excel", german_excel_csv),
    ("plain-with-problems", plain_with_problems),
    ("xy-metres", xy_metres),
    ("ragged-rows", ragged),
    ("bom-unnamed-columns", bom_unnamed_columns),
    ("latin1-undefined-cp1252", latin1_undefined),
]


def both(path: Path, chunk_rows: int, **options: object) -> tuple:
    whole = prepare_import("complaints", path, districts=districts_frame(), lang="en", **options)
    chunked = prepare_import("complaints", path, districts=districts_frame(), lang="en",
                             chunk_rows=chunk_rows, **options)
    return whole, chunked


def assert_same(whole: object, chunked: object, skip_note: str | None = None) -> None:
    """Equal records and report; ``skip_note``: a note that legitimately differs (compared apart)."""
    pd.testing.assert_frame_equal(whole.frame, chunked.frame)
    for name in ("errors", "warnings", "rejected"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(chunked, name), check_dtype=False,
                                      obj=name)
    a, b = whole.to_dict(max_errors=10_000), chunked.to_dict(max_errors=10_000)
    if skip_note:
        a["notes"] = [n for n in a["notes"] if not n.startswith(skip_note)]
        b["notes"] = [n for n in b["notes"] if not n.startswith(skip_note)]
    assert json.dumps(a, default=str) == json.dumps(b, default=str)
    assert whole.columns == chunked.columns
    if whole.new_categories is not None:
        pd.testing.assert_frame_equal(whole.new_categories, chunked.new_categories, check_dtype=False)
    assert whole.rejected_csv() == chunked.rejected_csv()


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7, 10_000])
@pytest.mark.parametrize(("case", "writer"), CASES, ids=[c[0] for c in CASES])
def test_chunked_report_equals_whole_file(case: str, writer: Callable[[Path], Path], chunk_rows: int,
                                          tmp_path: Path) -> None:
    path = writer(tmp_path / f"{case}.csv")
    whole, chunked = both(path, chunk_rows)
    assert whole.records_total > 0
    assert_same(whole, chunked)


def test_rows_are_numbered_across_chunk_borders(tmp_path: Path) -> None:
    whole, chunked = both(plain_with_problems(tmp_path / "p.csv"), chunk_rows=4)
    assert_same(whole, chunked)
    errors = chunked.errors.set_index("row")
    # records 9 and 23 reuse C-2 (record 2, another chunk); 13 reuses C-12 (record 12)
    assert {9, 13, 23} <= set(errors.index)
    assert errors.loc[23, "reason"] == "duplicate id (already used above)"
    assert errors.loc[23, "value"] == "C-2"
    assert errors.loc[5, "column"] == "lat" and errors.loc[5, "value"] == "abc"
    assert chunked.records_total == 40 and chunked.records_accepted == 40 - chunked.records_rejected
    assert "C-2" in set(chunked.frame["complaint_id"])  # the first use stays
    assert any("2 empty rows" in n or "2 blank" in n for n in chunked.notes) or \
        any("blank" in n.lower() or "empty" in n.lower() for n in chunked.notes)


def test_xy_crs_guessed_once(tmp_path: Path) -> None:
    whole, chunked = both(xy_metres(tmp_path / "xy.csv"), chunk_rows=3)
    assert_same(whole, chunked)
    assert sum("EPSG:25832" in n for n in chunked.notes) == 1
    assert chunked.records_rejected == 1


FAST = GeocoderSettings(min_delay_s=0.0, url="geocoder.test.invalid", retry_wait_s=0.0)


class FakeGeocoder:
    def __init__(self, answers: dict[str, tuple[float, float] | None]) -> None:
        self.answers, self.calls = answers, []

    def geocode(self, query: str) -> tuple[float, float] | None:
        self.calls.append(query)
        return self.answers.get(query)


def test_geocoding_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    lat, lon = INSIDE_MITTE
    lines = ["complaint_id,received_at,category,lat,lon,address"]
    for i in range(1, 13):
        coords = f"{lat},{lon}" if i % 3 else ","
        lines.append(f"G-{i},2026-07-01 10:00,laerm,{coords},Marktplatz {i % 2 + 1}")
    path = write_text(lines)(tmp_path / "g.csv")
    answers = {"Marktplatz 1": INSIDE_SUED, "Marktplatz 2": None}
    whole = prepare_import("complaints", path, districts=districts_frame(), lang="en", geocode=True,
                           geocoder=FakeGeocoder(answers), geocoder_settings=FAST,
                           geocode_cache=GeocodeCache(tmp_path / "a.sqlite"))
    fake = FakeGeocoder(answers)
    chunked = prepare_import("complaints", path, districts=districts_frame(), lang="en", geocode=True,
                             geocoder=fake, geocoder_settings=FAST, chunk_rows=2,
                             geocode_cache=GeocodeCache(tmp_path / "b.sqlite"))
    # the geocoding note counts distinct addresses per chunk (an address of two chunks is looked
    # up once and then found in the cache); records, errors and counts are the same
    assert_same(whole, chunked, skip_note="Geocoding:")
    assert sum(n.startswith("Geocoding:") for n in chunked.notes) == 1
    assert chunked.geocoded == whole.geocoded > 0
    assert sorted(set(fake.calls)) == ["Marktplatz 1", "Marktplatz 2"]


def test_large_csv_is_chunked_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above CHUNK_MIN_BYTES the CLI path reads in chunks (lowered here), with the same result."""
    path = plain_with_problems(tmp_path / "p.csv")
    whole = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    seen: list[int] = []
    original = readers_mod.CsvChunks._table

    def spy(self: readers_mod.CsvChunks, grid: pd.DataFrame, long_rows: object) -> object:
        seen.append(len(grid))
        return original(self, grid, long_rows)

    monkeypatch.setattr(readers_mod, "CHUNK_MIN_BYTES", 100)
    monkeypatch.setattr(readers_mod, "CHUNK_ROWS", 8)
    monkeypatch.setattr(readers_mod.CsvChunks, "_table", spy)
    chunked = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert len(seen) > 3 and max(seen) <= 8
    assert_same(whole, chunked)


@pytest.mark.parametrize(("lines", "key"), [
    (["", "  ", ""], "file_empty"),
    (["", ",,,", ""], "no_header"),
    (["complaint_id,received_at,category,lat,lon", ",,,,", ""], "no_records"),
])
def test_chunked_whole_file_errors(lines: list[str], key: str, tmp_path: Path) -> None:
    from data.importers import ImportError_

    path = write_text(lines)(tmp_path / "e.csv")
    for rows in (None, 1):
        with pytest.raises(ImportError_) as info:
            prepare_import("complaints", path, districts=districts_frame(), chunk_rows=rows)
        assert info.value.key == key


def test_cli_chunked_import_and_failure_leave_store_right(tmp_path: Path) -> None:
    """Through the command line with chunking forced by a lowered threshold: the import stores
    the same records as the whole-file path; a file rejected whole leaves the store unchanged."""
    store = tmp_path / "store"
    env_base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAGEBILD_LANG": "en"}
    subprocess.run([sys.executable, "-m", "data", "import", "districts",
                    str(shapefile_zip(tmp_path / "b.zip")), "--store", str(store)],
                   cwd=ROOT, env=env_base, check=True, capture_output=True)
    csv_path = plain_with_problems(tmp_path / "p.csv")
    code = ("import runpy, sys; import data.importers.readers as r; r.CHUNK_MIN_BYTES = 1; r.CHUNK_ROWS = 5; "
            "sys.argv = ['data'] + sys.argv[1:]; runpy.run_module('data', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code, "import", "complaints", str(csv_path), "--store",
                          str(store), "--json"], cwd=ROOT, env=env_base, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    last = json.loads(out.stdout.strip().splitlines()[-1])
    whole = prepare_import("complaints", csv_path, districts=districts_frame(), lang="en")
    assert last["records_total"] == 40 and last["records_accepted"] == whole.records_accepted
    assert last["errors"] == whole.to_dict()["errors"]
    from data.store import Store

    stored = Store(store).read_dataset("complaints")
    assert sorted(stored["complaint_id"]) == sorted(whole.frame["complaint_id"])
    before = tree_hash(store)
    bad = write_text(["complaint_id,received_at,category,lat,lon", "Z-1,kein Datum,laerm,95,200"])(
        tmp_path / "bad.csv")
    out = subprocess.run([sys.executable, "-c", code, "import", "complaints", str(bad), "--store", str(store),
                          "--json"], cwd=ROOT, env=env_base, capture_output=True, text=True)
    assert out.returncode == 1
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["records_accepted"] == 0 and last["errors"][0]["row"] == 1
    assert tree_hash(store) == before


# --- per-format limits: formats read whole are refused above their limit, the store unchanged ------

def _geojson_points(path: Path) -> Path:
    lat, lon = INSIDE_MITTE
    feats = [{"type": "Feature",
              "properties": {"complaint_id": f"J-{i}", "received_at": "2026-07-01T10:00:00",
                             "category": "laerm"},
              "geometry": {"type": "Point", "coordinates": [lon, lat]}} for i in range(50)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def _xlsx_points(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["complaint_id", "received_at", "category", "lat", "lon"])
    for i in range(50):
        ws.append([f"X-{i}", "2026-07-01 10:00", "laerm", INSIDE_MITTE[0], INSIDE_MITTE[1]])
    wb.save(path)
    return path


LIMIT_CASES = [
    # (format key, data set, writer, what the message recommends instead)
    ("json", "complaints", _geojson_points, "CSV"),
    ("xlsx", "complaints", _xlsx_points, "CSV"),
    ("shapefile", "districts", lambda p: shapefile_zip(p), "GeoPackage"),
]


@pytest.mark.parametrize(("fmt", "kind", "writer", "instead"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_file_over_its_format_limit_is_refused(fmt: str, kind: str, writer: Callable[[Path], Path],
                                               instead: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from data.cli import main

    store = tmp_path / "store"
    assert main(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(store)]) == 0
    path = writer(tmp_path / f"f.{fmt}")
    size = path.stat().st_size
    assert main(["import", kind, str(path), "--store", str(store), "--dry-run"]) == 0  # under the limit
    before = tree_hash(store)
    limit_mb = size / 2**20 / 2
    monkeypatch.setenv(f"LAGEBILD_IMPORT_MAX_MB_{fmt.upper()}", f"{limit_mb:.6f}")
    capsys.readouterr()
    code = main(["import", kind, str(path), "--store", str(store), "--json", "--lang", "en"])
    out, err = capsys.readouterr()
    assert code == 1
    last = json.loads(out.strip().splitlines()[-1])
    reason = last["errors"][0]["reason"]
    assert path.name in reason and f"LAGEBILD_IMPORT_MAX_MB_{fmt.upper()}" in reason
    assert "accepted up to" in reason and instead in reason
    assert last["imported"] is False and "Traceback" not in err
    assert tree_hash(store) == before
    code = main(["import", kind, str(path), "--store", str(store), "--json", "--lang", "de"])
    assert code == 1 and "ganz in den Speicher" in capsys.readouterr().out


def test_csv_read_whole_has_a_limit_but_not_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload (bytes, the Daten page) is read whole: refused over the CSV limit with the
    advice to use the command line; the same file on disk is read in chunks."""
    from data.importers import ImportError_, read_file

    path = plain_with_problems(tmp_path / "p.csv")
    monkeypatch.setenv("LAGEBILD_IMPORT_MAX_MB_CSV", f"{path.stat().st_size / 2**20 / 2:.6f}")
    with pytest.raises(ImportError_) as info:
        read_file(path.read_bytes(), "p.csv")
    assert info.value.key == "format_too_large"
    assert "python -m data import" in info.value.message("en")
    monkeypatch.setattr(readers_mod, "CHUNK_MIN_BYTES", 100)
    report = prepare_import("complaints", path, districts=districts_frame(), lang="en")
    assert report.records_total == 40


def test_commit_with_release_hands_the_records_over(tmp_path: Path) -> None:
    """The command line's commit: the store writes the records, the report keeps its counts but
    no longer the records (so they can be freed before the new version is re-read)."""
    from data.store import Store

    store = Store(tmp_path / "store")
    store.commit(prepare_import("districts", shapefile_zip(tmp_path / "b.zip")))
    report = prepare_import("complaints", plain_with_problems(tmp_path / "p.csv"), store=store, lang="en")
    accepted, rejected = report.records_accepted, report.records_rejected
    ids = sorted(report.frame["complaint_id"])
    version = store.commit(report, release=True)
    assert version.dataset == "complaints"
    assert report.frame.empty and (report.records_accepted, report.records_rejected) == (accepted, rejected)
    assert sorted(store.read_dataset("complaints")["complaint_id"]) == ids


def _hashes(ids: list) -> np.ndarray:
    return pd.util.hash_array(np.array(ids, dtype=object), categorize=False)


def test_seen_ids_across_chunks() -> None:
    """Ids of earlier chunks are found whichever chunk held them; a chunk's own ids are not
    "earlier" (duplicates within a chunk are the contract check's)."""
    seen = SeenIds()
    chunks = [["a", "b", "c"], ["d", "a", "e", "e"], ["e", "f", "b", "g"], []]
    expected = [[False] * 3, [False, True, False, False], [True, False, True, False], []]
    for ids, want in zip(chunks, expected, strict=True):
        arr = np.array(ids, dtype=object)
        assert seen.contains(arr, _hashes(ids)).tolist() == want
        seen.add(arr, _hashes(ids))
    assert seen.size == 11


def test_seen_ids_verify_hash_collisions() -> None:
    """Two ids with the same 64-bit hash are told apart by their text, also when the
    colliding one sorts first among the equal hashes."""
    seen = SeenIds()
    same = np.array([7, 7, 7], dtype=np.uint64)
    seen.add(np.array(["x", "y"], dtype=object), same[:2])
    assert seen.contains(np.array(["y", "z", "x"], dtype=object), same).tolist() == [True, False, True]
