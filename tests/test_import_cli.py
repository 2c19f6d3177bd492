"""``python -m data import`` / ``store``: exit codes, the JSON line, dry runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from import_fixtures import districts_geojson, german_excel_csv, open311_json, shapefile_zip, tree_hash

from data.cli import main
from data.store import Store

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, dict | None]:
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    last = None
    if lines:
        try:
            last = json.loads(lines[-1])
        except ValueError:
            last = None
    return code, out, err, last


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    store = tmp_path / "store"
    code, *_ = run(["import", "districts", str(shapefile_zip(tmp_path / "b.zip")), "--store", str(store)],
                   capsys)
    assert code == 0
    return store


def test_import_json_line(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _, last = run(["import", "complaints", str(german_excel_csv(tmp_path / "b.csv")),
                              "--store", str(root), "--json", "--lang", "en"], capsys)
    assert code == 0
    assert last is not None
    assert {k: last[k] for k in ("kind", "records_total", "records_accepted", "records_rejected",
                                 "source_crs", "errors_count", "imported", "version")} == {
        "kind": "complaints", "records_total": 7, "records_accepted": 3, "records_rejected": 4,
        "source_crs": "EPSG:4326", "errors_count": 4, "imported": True, "version": 2}
    assert last["bbox"] == [7.8, 51.675, 7.845, 51.68]
    assert last["errors"][0] == {
        "row": 3, "column": "Adresse (zusammengesetzt)", "value": "Marktplatz 3",
        "reason": "coordinates are missing; an address is present but geocoding is off"}
    assert "complaints from b.csv: 7 records, 3 accepted, 4 rejected." in out


def test_errors_capped_at_100(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "many.csv"
    path.write_text("complaint_id,received_at,category,lat,lon\n" + "".join(
        f"c{i},2024-01-01,x,51.5,7.5\n" for i in range(150)) + "ok,2024-01-01,x,51.68,7.8\n",
        encoding="utf-8")
    code, _, _, last = run(["import", "complaints", str(path), "--store", str(root), "--json"], capsys)
    assert code == 0
    assert len(last["errors"]) == 100 and last["errors_count"] == 150 and last["records_accepted"] == 1


def test_dry_run_changes_nothing(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_hash(root)
    code, out, _, last = run(["import", "complaints", str(open311_json(tmp_path / "o.json")), "--store",
                              str(root), "--dry-run", "--json"], capsys)
    assert code == 0 and last["dry_run"] and not last["imported"] and last["records_accepted"] == 2
    assert "Probelauf: nichts gespeichert." in out
    assert tree_hash(root) == before


def test_all_rejected_exits_1(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "aussen.csv"
    path.write_text("complaint_id,received_at,category,lat,lon\na,2024-01-01,x,51.5,7.5\n", encoding="utf-8")
    before = tree_hash(root)
    code, _, err, last = run(["import", "complaints", str(path), "--store", str(root), "--json"], capsys)
    assert code == 1 and last["exit_code"] == 1 and not last["imported"]
    assert "Nichts importiert" in err
    assert tree_hash(root) == before
    code, *_ = run(["import", "complaints", str(path), "--store", str(root), "--dry-run"], capsys)
    assert code == 1  # not valid, even as a dry run


def test_strict(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_hash(root)
    csv = str(german_excel_csv(tmp_path / "b.csv"))
    code, _, err, _ = run(["import", "complaints", csv, "--store", str(root), "--strict"], capsys)
    assert code == 1 and "--strict" in err
    assert tree_hash(root) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["import", "beschwerden", "{file}"], "invalid choice"),
        (["import", "complaints", "{missing}"], "Datei nicht gefunden"),
        (["import", "complaints", "{file}", "--map", "complaint_id"], "expected field=column"),
        (["import", "complaints", "{file}", "--map", "=Nr"], "expected field=column"),
        (["import", "complaints", "{file}", "--map", "complaint_id=Gibtsnicht"],
         "keine Spalte 'Gibtsnicht'"),
        (["import", "complaints", "{file}", "--map", "farbe=Vorgangsnummer"], "kein Feld 'farbe'"),
        (["import", "complaints", "{file}", "--set", "kind"], "expected field=value"),
        (["import", "complaints", "{file}", "--crs", "EPSG:999999"], "Unbekanntes Bezugssystem"),
        (["import", "complaints", "{file}", "--timezone", "Mars/Base"], "Unbekannte Zeitzone"),
        (["import", "complaints"], "required"),
    ],
)
def test_usage_errors_exit_2(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             args: list[str], needle: str) -> None:
    file = german_excel_csv(tmp_path / "b.csv")
    args = [a.format(file=file, missing=tmp_path / "fehlt.csv") for a in args] + ["--store", str(root)]
    before = tree_hash(root)
    code, out, err, _ = run(args, capsys)
    assert code == 2
    assert needle in err
    assert "Traceback" not in out + err
    assert tree_hash(root) == before


def test_missing_file_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _, last = run(["import", "complaints", str(tmp_path / "fehlt.csv"), "--store",
                            str(tmp_path / "s"), "--json", "--lang", "en"], capsys)
    assert code == 2 and last["errors"][0]["reason"].startswith("File not found")


def test_map_and_activate_and_rejected_csv(root: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rejected = tmp_path / "abgelehnt.csv"
    code, out, _, last = run(["import", "complaints", str(german_excel_csv(tmp_path / "b.csv")), "--store",
                              str(root), "--map", "description=", "--map", "complaint_id=Vorgangsnummer",
                              "--activate", "--rejected-csv", str(rejected), "--json"], capsys)
    assert code == 0 and "description" not in last["mapping"]
    assert "Die App zeigt jetzt die importierten Daten." in out
    assert Store(root).active_folder() == Store(root).current_folder()
    assert rejected.read_bytes().startswith(b"\xef\xbb\xbfZeile;Grund;")


def test_store_command(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["import", "districts", str(districts_geojson(tmp_path / "d.geojson")), "--store", str(root)], capsys)
    code, out, *_ = run(["store", "versions", "districts", "--store", str(root)], capsys)
    assert code == 0 and [v["version"] for v in json.loads(out)] == [2, 1]
    code, out, *_ = run(["store", "restore", "1", "districts", "--store", str(root)], capsys)
    assert code == 0 and json.loads(out)["version"] == 3
    code, out, *_ = run(["store", "--store", str(root)], capsys)
    assert json.loads(out)["datasets"]["districts"]["source"] == "Version 1 (b.zip)"
    code, _, err, _ = run(["store", "activate", "--store", str(root)], capsys)
    assert code == 1 and "keine Beschwerden oder Streifen" in err
    run(["import", "complaints", str(open311_json(tmp_path / "o.json")), "--store", str(root)], capsys)
    assert run(["store", "activate", "--store", str(root)], capsys)[0] == 0
    assert Store(root).is_active()
    assert run(["store", "deactivate", "--store", str(root)], capsys)[0] == 0
    assert not Store(root).is_active()
    assert run(["store", "restore", "77", "--store", str(root)], capsys)[0] == 1
    assert run(["store", "restore", "x", "--store", str(root)], capsys)[0] == 2
    assert run(["store", "versions", "beschwerden", "--store", str(root)], capsys)[0] == 2


def test_help_text_documents_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, *_ = run(["import", "--help"], capsys)
    assert code == 0
    for needle in ("Import policy", "Exit codes: 0 imported", "--strict", "--map FIELD=COLUMN", "@row",
                   "LAGEBILD_MAX_UPLOAD_MB"):
        assert needle in out


def test_python_dash_m_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "data", "import", "complaints",
                           str(open311_json(tmp_path / "o.json")), "--store", str(tmp_path / "s"),
                           "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["records_total"] == 4 and last["records_accepted"] == 2
