"""Where the memory of a large valid import goes: peak RSS per stage (issue #15).

Runs the import pipeline in this process on one file, stage by stage, sampling the resident
set size every 20 ms: read (file -> raw table), map (mapping proposal), validate (convert,
check, point in polygon, report), commit (write the new version, check it as written, build
its prepared form). The commit hands the records over to the store as ``python -m data
import`` does (``--keep``: the report keeps them).
``--chunked`` runs the bounded path that ``python -m data import`` takes for large CSV files
(read, map and validate per chunk; the stages then overlap and are reported as one).
The last line is one JSON object.

    .venv/bin/python bench/import_memory.py FILE --kind complaints --store DIR
    .venv/bin/python bench/import_memory.py FILE --kind complaints --store DIR --chunked
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The peak RSS since the last :meth:`stage` call, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.stages: list[dict] = []
        self.t0 = time.perf_counter()

    def _run(self) -> None:
        while not self.stop:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)

    def stage(self, name: str) -> None:
        now = rss_mb()
        self.peak = max(self.peak, now)
        t = time.perf_counter()
        self.stages.append({"stage": name, "seconds": round(t - self.t0, 2),
                            "peak_rss_mb": round(self.peak, 1), "rss_after_mb": round(now, 1)})
        print(f"{name:10s} {t - self.t0:7.2f} s  peak {self.peak:7.1f} MB  after {now:7.1f} MB", flush=True)
        self.peak = now
        self.t0 = t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--kind", default="complaints")
    parser.add_argument("--store", required=True)
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--no-commit", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the records in the report while committing (the command line "
                             "hands them over to the file store, which frees them once written)")
    args = parser.parse_args()
    s = Sampler()
    from cli import PREPARER
    from data.importers import pipeline
    from data.storeapi import open_store

    store = open_store(args.store, preparer=PREPARER)
    s.stage("start")
    if args.chunked:
        report = pipeline.prepare_import(args.kind, args.file, store=store)
        s.stage("read+validate")
    else:
        raw = pipeline.read_file(args.file)
        s.stage("read")
        proposal = pipeline.suggest_mapping(args.kind, raw, store)
        s.stage("map")
        report = pipeline.validate_import(args.kind, raw, proposal.mapping, store=store,
                                          mapping_origin=proposal.origin)
        del raw
        s.stage("validate")
    report.to_dict()
    print(report.summary())
    if not args.no_commit and report.ok:
        import data.store as store_mod

        read_folder, preparer = store_mod.read_folder, store.preparer

        def checked(*a: object, **k: object) -> object:  # the store re-reads the new version
            s.stage("write")
            out = read_folder(*a, **k)
            s.stage("re-read")
            return out

        store_mod.read_folder = checked
        if preparer is not None:
            def prepare(folder: Path) -> object:
                s.stage("check")  # stages: write, re-read (the check), prepare
                return preparer(folder)

            store.preparer = prepare
        store.commit(report, **({} if args.keep else {"release": True}))
        s.stage("prepare")
        store_mod.read_folder = read_folder
    s.stop = True
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "import_memory", "file": Path(args.file).name, "chunked": args.chunked,
                      "records": report.records_total, "accepted": report.records_accepted,
                      "stages": s.stages, "peak_rss_mb": round(peak, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
