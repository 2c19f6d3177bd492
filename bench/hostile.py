"""Hostile files through the import command line: time and peak memory per case (issue #15).

Writes each case of tests/hostile_corpus.py at full size (a 190 MB one-line CSV, a zip holding
a 1.9 GB .shp of zeros, 1,000,000 columns, XLSX declaring 17 billion cells, ...) plus a valid
190 MB complaint CSV, and runs ``python -m data import KIND FILE --dry-run --json`` for each in
its own process against a store holding two districts. Per case: outcome, exit code, wall
time, CPU time and peak RSS of the import process (``wait4``), and whether it stayed within the
budget (≤ 60 s, ≤ 1.5 GB RSS; the time is the process's CPU time, which is what its wall time is
on an idle machine — the shared build machine often runs at a load of 20 on 2 cores). The last
line is one JSON object with all figures.

    .venv/bin/python bench/hostile.py              # full size (writes about 2.5 GB to /tmp)
    .venv/bin/python bench/hostile.py --small      # the test sizes with the test limits
    .venv/bin/python bench/hostile.py --only csv-one-line-190MB zip-bomb-shp
    .venv/bin/python bench/hostile.py --only valid- over-   # valid files at the limits (issue #15)

The ``valid-*`` cases are valid complaint files of every format (bench/large_files.py): CSV at
the 200 MB upload limit (read in chunks), the formats read whole just under their own limits
(data.importers.errors.FORMAT_LIMITS_MB). They are imported for real into a copy of the store,
so the figures include writing the new version and its prepared form.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import large_files  # noqa: E402
from hostile_corpus import CASES, HEADER, TEST_ENV, Case  # noqa: E402
from import_fixtures import shapefile_zip  # noqa: E402

from data.importers.errors import FORMAT_LIMITS_MB  # noqa: E402

BUDGET_S = 60.0
BUDGET_MB = 1536.0


def valid_csv(path: Path, full: bool) -> None:
    """A valid complaint CSV just under the 200 MB limit (about 3.4 million records)."""
    size = 190 * 2**20 if full else 2**20
    line = "A-{i:08d},2026-07-{d:02d} 10:{m:02d},laerm,51.68{j:02d},7.80{j:02d}\n"
    with path.open("w") as f:
        f.write(HEADER + "\n")
        written, i = 0, 0
        while written < size:
            text = "".join(line.format(i=i + n, d=1 + (i + n) % 28, m=(i + n) % 60, j=(i + n) % 100)
                           for n in range(10_000))
            f.write(text)
            written += len(text)
            i += 10_000


EXTRA = [Case("csv-valid-190MB", "complaints", "beschwerden.csv", valid_csv, "rows", None, None)]


def _valid(fmt: str, full_mb: float) -> Case:
    """A valid complaint file of ``fmt`` (bench/large_files.py) of about ``full_mb`` MB: at the
    upload limit for CSV, just under the format's own limit for the formats read whole."""
    name, writer = large_files.FORMATS[fmt]

    def write(path: Path, full: bool) -> None:
        target = int((full_mb if full else 0.3) * 2**20)
        writer(path, target)
        actual = path.stat().st_size
        if not 0.9 * target <= actual <= target:  # bytes per record guessed wrong: scale once
            path.unlink()  # GDAL's writers would add to the file, not replace it
            writer(path, int(target * target / actual * 0.98))

    return Case(f"valid-{fmt}-{full_mb:g}MB", "complaints", name, write, "rows", None, None)


#: Valid large files of every format, imported for real (written and prepared) into a copy of
#: the store: the budget covers the whole command-line import.
VALID = [_valid("csv", 190), _valid("csv-excel", 190)] + [
    _valid(fmt, round(FORMAT_LIMITS_MB[key] * 0.95, 1)) for fmt, key in (
        ("geojson", "json"), ("open311", "json"), ("xlsx", "xlsx"), ("shapefile", "shapefile"),
        ("gpkg", "gpkg"), ("flatgeobuf", "flatgeobuf"), ("gml", "gml"), ("kml", "kml"), ("gpx", "gpx"))]
#: Over the limit of its format: refused before parsing.
OVER = [Case("over-limit-geojson-80MB", "complaints", "gross.geojson",
             lambda path, full: large_files.geojson(path, int((80 if full else 0.3) * 2**20)), "rejected",
             "format_too_large")]
EXTRA_ARGS = {"valid-gpx": ["--map", "complaint_id=name", "--map", "received_at=time", "--map",
                            "category=type"],
              "valid-kml": ["--set", "received_at=2026-07-01 10:00"]}


def run(case: Case, folder: Path, store: Path, env: dict[str, str], full: bool) -> dict:
    path = folder / f"{case.id}-{case.name}"
    t0 = time.perf_counter()
    case.write(path, full)
    written = time.perf_counter() - t0
    real = case in VALID  # imported for real into a copy of the store (write + prepare included)
    target = store
    if real:
        target = folder / "store-copy"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(store, target)
    extra = next((v for k, v in EXTRA_ARGS.items() if case.id.startswith(k)), [])
    cmd = [sys.executable, "-m", "data", "import", case.kind, str(path), "--store", str(target), "--json",
           *extra, *([] if real else ["--dry-run"])]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            proc.returncode = 0  # reaped by wait4
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    lines = stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        report = {}
    reason = report.get("errors", [{}])[0].get("reason", "") if report.get("errors") else ""
    rss_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    result = {
        "case": case.id, "size_mb": round(path.stat().st_size / 2**20, 2), "exit_code": code,
        "outcome": "rejected" if code == 1 and not report.get("records_accepted") else "read",
        "records_total": report.get("records_total"), "records_rejected": report.get("records_rejected"),
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(rss_mb, 1),
        "traceback": "Traceback" in stderr, "within_budget": cpu <= BUDGET_S and rss_mb <= BUDGET_MB,
        "write_seconds": round(written, 1), "imported": bool(report.get("imported")),
        "records_accepted": report.get("records_accepted"),
        "message": reason[:160],
    }
    path.unlink()
    if real:
        shutil.rmtree(target, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="test sizes with the test limits")
    parser.add_argument("--only", nargs="*", help="case ids (a prefix selects all its cases, e.g. valid-)")
    parser.add_argument("--tmp", help="folder for the generated files (default: the system's)")
    args = parser.parse_args()
    env = dict(os.environ)
    for name in TEST_ENV:
        env.pop(name, None)
    if args.small:
        env.update(TEST_ENV)
    results = []
    with tempfile.TemporaryDirectory(prefix="lagebild-hostile-", dir=args.tmp) as tmp:
        folder = Path(tmp)
        store = folder / "store"
        districts = shapefile_zip(folder / "b.zip")
        subprocess.run([sys.executable, "-m", "data", "import", "districts", str(districts),
                        "--store", str(store)], cwd=REPO, env=env, check=True, capture_output=True)
        for case in CASES + EXTRA + VALID + OVER:
            if args.only and not any(case.id.startswith(o) for o in args.only):
                continue
            r = run(case, folder, store, env, not args.small)
            results.append(r)
            print(f"{r['case']:28s} {r['size_mb']:9.2f} MB  exit {r['exit_code']}  {r['outcome']:8s} "
                  f"{r['seconds']:6.2f} s wall {r['cpu_seconds']:6.2f} s cpu {r['peak_rss_mb']:7.1f} MB  "
                  f"{'ok' if r['within_budget'] and not r['traceback'] else 'OVER'}  {r['message'][:70]}",
                  flush=True)
    summary = {"bench": "hostile", "full_size": not args.small, "budget_s": BUDGET_S, "budget_mb": BUDGET_MB,
               "cases": results, "all_within_budget": all(r["within_budget"] for r in results),
               "tracebacks": sum(r["traceback"] for r in results),
               "max_seconds": max((r["seconds"] for r in results), default=0),
               "max_cpu_seconds": max((r["cpu_seconds"] for r in results), default=0),
               "max_rss_mb": max((r["peak_rss_mb"] for r in results), default=0)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
