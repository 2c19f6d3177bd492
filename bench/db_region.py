"""Region scale through the database: chunked COPY load, database size, replica cold start.

Starts a throwaway PostgreSQL 15/PostGIS cluster (tests/pgcluster.py; its data directory
under ``--pgdir``, removed at the end unless ``--keep``), creates the schema with
``python -m data db upgrade`` and loads ``--folder`` (default: the region data set of the
performance issue, /work/wt/data/region) with ``python -m data db load FOLDER --activate``:
complaints and pings streamed in COPY chunks, the prepared cubes built by a forked child
beside the copy, one transaction. Measured:

* ``load_s``: wall time of the load command (schema excluded);
* ``loader_peak_rss_mb``: the peak RSS of the loader process, ``preparer_peak_rss_mb`` of its
  preparing child, ``peak_rss_sum_mb`` of both together (sampled every 0.2 s from /proc);
* ``loader_cpu_s``: CPU seconds of the loader and its preparing child together,
  ``server_cpu_s`` of the cluster's processes during the load (the machine is shared: wall
  time depends on the load average, CPU seconds much less);
* ``db_size_gb``: ``pg_database_size`` after the load;
* ``points_s``: the coordinators' single-complaint layer at region scale
  (:meth:`DbStore.query_points`: the 1,000 newest complaints of the latest quarter and their
  count) in one district (``points_district_s``) and in all (``points_all_s``), best of 3;
* ``cold_start_s``: a new ``streamlit run`` replica with ``LAGEBILD_DB`` from process start to
  the first complete Übersicht (health check, page, WebSocket, one script run without an
  exception: tests/stclient.py), ``first_run_s`` the script run alone; and the same again
  for a second replica (``cold_start_2_s``) to show it does not depend on a warm OS cache of
  the first one only.

With ``--url`` (a database already loaded, e.g. one kept with ``--keep``) only the points
layer and the two cold starts are measured.

Figures depend on the machine's load: quote them with ``uptime``. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from deployment import Replica, wait_healthy  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from stclient import Session  # noqa: E402


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    """Peak RSS of a process, of its descendants, and of both together."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_self, self.peak_children, self.peak_sum = pid, 0, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            own = _rss_kb(self.pid)
            todo, kids = _children(self.pid), 0
            while todo:
                c = todo.pop()
                kids += _rss_kb(c)
                todo += _children(c)
            self.peak_self = max(self.peak_self, own)
            self.peak_children = max(self.peak_children, kids)
            self.peak_sum = max(self.peak_sum, own + kids)
            self.stop.wait(0.2)


async def _first_overview(url: str, timeout: float) -> float:
    s = Session(url, timeout=timeout)
    run = await s.open()
    await s.close()
    if run.exceptions:
        raise RuntimeError(f"the Übersicht showed an exception: {run.exceptions[0][:300]}")
    if not run.texts:
        raise RuntimeError("the Übersicht showed nothing")
    return run.seconds


def _cpu_s(pid: int, waited: bool = False) -> float:
    """utime + stime of a process (and of its reaped children with ``waited``), seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if waited else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_s(cluster: Cluster) -> float:
    """CPU seconds of a cluster so far: its postmaster, the backends it reaped and the live ones."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    return _cpu_s(pid, waited=True) + sum(_cpu_s(c) for c in _children(pid))


def points_timing(url: str) -> dict[str, float]:
    """The single-complaint layer's query at region scale (see the module docstring)."""
    from sqlalchemy import text

    from data.dbstore import DbStore
    from data.filters import Filters
    from data.periods import quarter_ordinals

    store = DbStore(url)
    gen = store.generation
    small = store.small_frames(gen)
    with store.engine.connect() as conn:
        newest = conn.execute(text("SELECT max(received_at) FROM ds_complaints WHERE generation = :g"),
                              {"g": gen}).scalar()
    q = int(quarter_ordinals(pd.Series(pd.to_datetime([newest], utc=True)))[0]) - 1
    district = str(small["districts"]["district_id"].iloc[0])
    out = {}
    for key, f in (("points_district_s", Filters(q_from=q, q_to=q, districts=(district,))),
                   ("points_all_s", Filters(q_from=q, q_to=q))):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            rows, total = store.query_points(gen, small, f, None, 1000)
            best = min(best, time.perf_counter() - t0)
        print(f"points layer ({key}): {len(rows):,} of {total:,} complaints in {best:.2f} s", flush=True)
        out[key] = round(best, 3)
    store.engine.dispose()
    return out


def cold_start(url: str, tmp: Path, timeout: float) -> tuple[float, float]:
    env = {"LAGEBILD_DB": url, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16),
           "LAGEBILD_STORE": str(tmp / "store")}
    replica = Replica(env, log_dir=tmp)
    t0 = time.monotonic()
    try:
        replica.start(wait=False)
        wait_healthy(f"{replica.url}/_stcore/health", timeout=timeout, proc=replica.proc)
        run_s = asyncio.run(_first_overview(replica.url, timeout))
        return time.monotonic() - t0, run_s
    finally:
        replica.stop()


def measure_replicas(url: str, timeout: float) -> int:
    """The points layer and two replica cold starts on an existing database (``--url``)."""
    tmp = Path(tempfile.mkdtemp(prefix="lagebild-dbregion-"))
    try:
        print(f"uptime before: {os.getloadavg()}", flush=True)
        out: dict[str, object] = {"url": url.rsplit("@", 1)[-1], **points_timing(url)}
        for n, key in ((1, ""), (2, "_2")):
            cold, first = cold_start(url, tmp, timeout)
            print(f"replica {n} cold start to a complete Übersicht: {cold:.1f} s (script run "
                  f"{first:.1f} s); load average {os.getloadavg()}", flush=True)
            out.update({f"cold_start{key}_s": round(cold, 2), f"first_run{key}_s": round(first, 2)})
        out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", default="/work/wt/data/region")
    p.add_argument("--pgdir", default=None, help="parent of the cluster's data directory (default: $TMPDIR; "
                   "the region needs ~25 GB)")
    p.add_argument("--chunk-rows", type=int, default=None)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--keep", action="store_true", help="keep the cluster running (prints its URL)")
    p.add_argument("--url", help="a loaded database: measure the points layer and cold starts only")
    args = p.parse_args(argv)
    if args.url:
        return measure_replicas(args.url, args.timeout)
    if args.pgdir:
        Path(args.pgdir).mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = args.pgdir
    cluster = Cluster(settings={"shared_buffers": "512MB", "max_wal_size": "16GB",
                                "checkpoint_timeout": "30min", "maintenance_work_mem": "256MB",
                                "work_mem": "32MB"}).start()
    tempfile.tempdir = None
    tmp = Path(tempfile.mkdtemp(prefix="lagebild-dbregion-"))
    out: dict[str, object] = {"folder": args.folder}
    try:
        url = cluster.create_database("lagebild")
        env = {**os.environ, "LAGEBILD_DB": url}
        subprocess.run([sys.executable, "-m", "data", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        cmd = [sys.executable, "-m", "data", "db", "load", args.folder, "--activate"]
        if args.chunk_rows:
            cmd += ["--chunk-rows", str(args.chunk_rows)]
        print(f"uptime before: {os.getloadavg()}", flush=True)
        t0 = time.monotonic()
        cpu0, server0 = resource.getrusage(resource.RUSAGE_CHILDREN), server_cpu_s(cluster)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        sampler = Sampler(proc.pid)
        sampler.start()
        for line in proc.stderr:  # the loader's progress
            print(f"  {time.monotonic() - t0:7.1f} s  {line.rstrip()}", flush=True)
        proc.wait()
        load_s = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        loader_cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        server_cpu = server_cpu_s(cluster) - server0
        sampler.stop.set()
        sampler.join()
        if proc.returncode != 0:
            raise RuntimeError(f"load failed with exit code {proc.returncode}")
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            db_bytes = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
            tables = conn.execute(text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
                "AND (relname LIKE 'ds_%' OR relname = 'lagebild_prepared') ORDER BY 2 DESC")).all()
            cubes = int(conn.execute(text("SELECT coalesce(sum(length(body)), 0) FROM lagebild_prepared "
                                          "WHERE name LIKE 'prepared/%'")).scalar())
        engine.dispose()
        load_avg = os.getloadavg()
        print(f"load: {load_s:.0f} s; loader peak RSS {sampler.peak_self / 1024:.0f} MB, preparer "
              f"{sampler.peak_children / 1024:.0f} MB, together {sampler.peak_sum / 1024:.0f} MB; "
              f"database {db_bytes / 1e9:.2f} GB (prepared form {cubes / 1e6:.1f} MB); load average "
              f"{load_avg}", flush=True)
        print(f"CPU: loader and preparer {loader_cpu:.0f} s, database server {server_cpu:.0f} s", flush=True)
        for name, size in tables[:6]:
            print(f"  {name}: {size / 1e9:.2f} GB", flush=True)
        points = points_timing(url)
        cold, first = cold_start(url, tmp, args.timeout)
        print(f"replica cold start to a complete Übersicht: {cold:.1f} s (script run {first:.1f} s); "
              f"load average {os.getloadavg()}", flush=True)
        cold2, first2 = cold_start(url, tmp, args.timeout)
        print(f"second replica: {cold2:.1f} s (script run {first2:.1f} s)", flush=True)
        out.update({"load_s": round(load_s, 1), "loader_peak_rss_mb": round(sampler.peak_self / 1024),
                    "preparer_peak_rss_mb": round(sampler.peak_children / 1024),
                    "peak_rss_sum_mb": round(sampler.peak_sum / 1024), "loader_cpu_s": round(loader_cpu),
                    "server_cpu_s": round(server_cpu), "db_size_gb": round(db_bytes / 1e9, 2),
                    "prepared_mb": round(cubes / 1e6, 1), "cold_start_s": round(cold, 2),
                    "first_run_s": round(first, 2), "cold_start_2_s": round(cold2, 2),
                    "first_run_2_s": round(first2, 2), **points, "load_avg_1m": round(os.getloadavg()[0], 1)})
        if args.keep:
            print(f"cluster kept: {url} (data {cluster.tmp})", flush=True)
    finally:
        if not args.keep:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
