"""Shared deployment under load and failure: PostgreSQL, two replicas, nginx, simulated users.

Starts on localhost a throwaway PostgreSQL 15/PostGIS cluster (tests/pgcluster.py) with the
demo city loaded through ``python -m data db load``, N Streamlit replicas on it
(``LAGEBILD_DB``) and Debian's nginx with ``deploy/nginx/lagebild.conf``. Simulated users
speak Streamlit's own WebSocket protocol through nginx (tests/stclient.py):

1. ``--sessions`` concurrent users each open the Übersicht, then the Lagebild page, and make
   ``--changes`` filter changes (districts, period, weekdays) on the Lagebild page (every
   rerun is checked to have run that page), with a think time of ``--think`` seconds
   (uniform) between changes. A rerun is timed from sending the BackMsg to receiving
   ``script_finished`` (server work + transfer of the page). The default think time, 2-4 s,
   is a busy burst, not an average day: a coordinator who changes a filter and reads the
   redrawn map and table takes longer than that (the field notes have no measurement of it;
   we make no claim of one), so 40 users at 2-4 s (about 11 reruns a second) is the harsh
   end of "a busy Monday morning". ``--think`` sets another pattern; the figure must be
   quoted with it (it is in the JSON line).
2. Halfway through (``--import-at``), an administrator imports an updated complaints file
   with the CLI (``python -m data import complaints ... --activate``). Every rerun must show
   the old or the new version (the sidebar names it), a session never goes back, and every
   rerun that starts later than 10 s after the import committed shows the new one (the
   issue's bound; ``import_seen_s`` is how late one still showed the old version).
3. At 70 % (``--kill-at``), or ``--kill-in-import SECONDS`` after the import started (the kill
   while it runs: the survivor then takes the moved users and switches to the new version at
   once; ``kill_while_importing`` in the JSON line says where it fell), one replica is killed
   with SIGKILL. Its users' WebSockets close; they reconnect through nginx like the browser
   does (same cookie, same URL; the frontend's waits and
   health pings, tests/stclient.py) and must be back on the same view on the other
   replica: the same query string after the run there (the app writes its widget state
   back into the URL at every run). ``failover_s`` is the worst time from the kill to a
   user being back on the same view; every moved user reruns at once (the frontend does
   so only for a tab whose run was in progress; an idle tab reruns at its next change),
   so the burst on the surviving replica is the worst case.
4. ``--churn`` sessions are opened (Übersicht) and closed one after another on a surviving
   replica; ``rss_growth_mb`` is its RSS after minus before (after 20 warm-up sessions).

Errors: exceptions shown by the app, runs that fail or time out, reconnects that fail, a
run without a version marker, a filter change that ran another page. Besides the issue's
keys the JSON line breaks the run down: CPU seconds of each replica, nginx, PostgreSQL and
this load client during the load phase (``cpu_s``; ``other_cpu_s`` is what other work on the
machine took meanwhile), the same per script run (``cpu_ms_per_run``), PostgreSQL
transactions per script run (``db_xacts_per_run``), the bytes a rerun sends
(``rerun_mb_p50``; the simulated browser keeps large messages as the frontend does, so an
unchanged map is not sent again), the load average at the end of the load phase
(``load_avg``), and how late after the import's commit a rerun still showed the old version
(``import_seen_s``). Where the p95 comes from: every script run is recorded with its kind
(``open`` = Übersicht, ``lagebild`` = a session's first Lagebild run, ``first`` = a filter
state that replica had not shown in that version, ``revisit``, ``failover``), the replica
that served it (nginx names it in a response header the bench adds) and the phase of the
run it started in (``two replicas``, ``import`` running, ``after import``, ``after kill``):
``p95_by_phase``, ``p95_by_kind``, ``p95_tail_by_phase`` (where the slowest 5 % fell),
``runs_by_replica`` and ``cpu_ms_per_own_run`` (a replica's CPU over the runs it served),
the mean runs in flight per replica and phase, the cores each part of the deployment used
per phase (``cores_used_by_phase``: CPU seconds / wall seconds from the once-a-second CPU
samples; a replica near 1.0 is limited by its interpreter lock), and ``failover_parts`` (kill to closed
socket, the frontend's reconnect wait, health pings, WebSocket handshake, first run).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pandas as pd  # noqa: E402
from deployment import SERVER_ENV, Nginx, Replica, rss_mb, wait_healthy  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from stclient import Session, SessionError  # noqa: E402

VERSION = re.compile(r"Importierte Daten, Version (\d+)")


def version_of(run) -> int | None:
    found = {int(m) for t in run.texts for m in VERSION.findall(t)}
    return found.pop() if len(found) == 1 else None


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, children: bool = False) -> float | None:
    """CPU seconds (user + system) of a process, with its reaped children's if asked."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)
    return ticks / TICK


def child_map() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, from one pass over /proc."""
    out: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            f = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.setdefault(int(f[1]), []).append(int(stat.parent.name))
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores) since boot."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / TICK  # minus idle and iowait


class CpuMeter:
    """Samples, once a second, the CPU time of each part of the deployment (replicas, nginx,
    PostgreSQL, this load client) and of the whole machine, so a run can say where its
    CPU went and how much of the machine other work took. A killed replica keeps its last
    sample (at most a second is lost)."""

    def __init__(self, parts: dict[str, list[int]], postmaster: int | None) -> None:
        self.parts = parts  # name -> pids (their children are added: nginx workers)
        self.postmaster = postmaster
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.timeline: list[tuple[float, dict[str, float]]] = []  # (monotonic time, CPU so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        children = child_map()  # one pass over /proc per sample (this thread shares the users' GIL)
        for name, pids in self.parts.items():
            total = 0.0
            for pid in pids:
                for p in [pid, *children.get(pid, ())]:
                    total += proc_cpu(p) or 0.0
            out[name] = total
        if self.postmaster:
            out["postgresql"] = sum(proc_cpu(p) or 0.0 for p in children.get(self.postmaster, ())) + \
                (proc_cpu(self.postmaster, children=True) or 0.0)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        out["load_client"] = ru.ru_utime + ru.ru_stime
        out["machine"] = machine_busy()
        return out

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            for name, v in self.sample().items():
                if v > 0 or name not in self.last:  # a dead replica reads 0: keep its last value
                    self.last[name] = v
            self.timeline.append((time.monotonic(), dict(self.last)))

    def used(self, a: float, b: float) -> dict[str, float]:
        """Cores each part used on average between the samples nearest to ``a`` and ``b``
        (CPU seconds / wall seconds; 1.0 = one core busy all the time)."""
        if len(self.timeline) < 2:
            return {}
        t_a, at_a = min(self.timeline, key=lambda s: abs(s[0] - a))
        t_b, at_b = min(self.timeline, key=lambda s: abs(s[0] - b))
        if t_b - t_a < 1.0:
            return {}
        return {k: round((at_b[k] - at_a.get(k, 0.0)) / (t_b - t_a), 2) for k in at_b}

    def start(self) -> CpuMeter:
        self.first = self.last = self.sample()
        self.last = dict(self.first)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        for name, v in self.sample().items():
            if v > 0:
                self.last[name] = v
        return {k: round(self.last[k] - self.first[k], 1) for k in self.first}


def xacts(url: str) -> int:
    """Transactions committed + rolled back in the database so far (pg_stat_database)."""
    from sqlalchemy import text

    from data.dbstore import engine_for

    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                         "WHERE datname = current_database()")).scalar())
    finally:
        engine.dispose()


class Load:
    def __init__(self, args: argparse.Namespace, nginx: Nginx, replicas: list[Replica], url: str,
                 import_file: Path) -> None:
        self.args = args
        self.nginx = nginx
        self.replicas = replicas
        self.url = url
        self.import_file = import_file
        self.rerun_s: list[float] = []
        self.rerun_bytes: list[int] = []
        self.runs = 0  # every script run a user waited for (opens, reruns, failover opens)
        self.open_s: list[float] = []
        self.errors: list[str] = []
        self.changes_done = 0
        self.cache_hits = 0  # references the server sent for messages a session held (like a browser)
        self.total_changes = args.sessions * args.changes
        self.versions: list[list[tuple[float, float, int | None]]] = []
        self.import_done: float | None = None
        self.import_versions: tuple[int, int] | None = None
        self.kill_time: float | None = None
        self.killed: asyncio.Event | None = None
        self.failovers: list[float] = []
        self.failover_parts: list[dict[str, float]] = []  # per moved user: where its seconds went
        self.failover_views_ok = True
        self.reconnect_errors: list[str] = []
        self.import_start: float | None = None
        #: every script run a user waited for: kind (open = Übersicht, lagebild = the session's
        #: first Lagebild run, first = a filter state not shown before on that replica in that
        #: version, revisit = one shown before, failover = the first run after a reconnect),
        #: start, end, replica, bytes received
        self.records: list[dict] = []
        self._seen: set[tuple[str, int | None, str]] = set()

    def record(self, kind: str, t0: float, t1: float, s: Session, v: int | None, nbytes: int) -> str:
        if kind == "change":
            kind = "revisit" if (s.upstream, v, s.query) in self._seen else "first"
        self._seen.add((s.upstream, v, s.query))
        self.records.append({"kind": kind, "t0": t0, "t1": t1, "replica": s.upstream.split(",")[-1].strip(),
                             "bytes": nbytes})
        return kind

    def phase(self, t: float) -> str:
        """Which part of the run a moment belongs to (the import's and the kill's times)."""
        if self.kill_time is not None and t >= self.kill_time:
            return "after kill"
        if self.import_done is not None and t >= self.import_done:
            return "after import"
        if self.import_start is not None and t >= self.import_start:
            return "import"
        return "two replicas"

    async def user(self, i: int) -> None:
        rng = random.Random(self.args.seed * 1000 + i)
        log: list[tuple[float, float, int | None]] = []
        self.versions.append(log)
        s = Session(self.nginx.url, timeout=self.args.timeout)

        async def run(action, kind: str) -> object | None:
            t0 = time.monotonic()
            b0 = s.received
            try:
                r = await action()
            except SessionError as exc:
                return exc
            t1 = time.monotonic()
            self.runs += 1
            self.last_bytes = s.received - b0
            if r.exceptions:
                self.errors.append(f"user {i}: exception {r.exceptions[0][:200]}")
            v = version_of(r)
            if v is None:
                self.errors.append(f"user {i}: no version marker")
            log.append((t0, t1, v))
            self.record(kind, t0, t1, s, v, self.last_bytes)
            return (r, t1 - t0)

        got = await run(s.open, "open")
        if isinstance(got, Exception):
            self.errors.append(f"user {i}: open failed: {got}")
            return
        self.open_s.append(got[1])
        s.page, s.page_hash = "lagebild", ""
        got = await run(s.rerun, "lagebild")
        if isinstance(got, Exception):
            self.errors.append(f"user {i}: Lagebild failed: {got}")
            return
        self.open_s.append(got[1])
        run_ = got[0]
        if run_.page != "lagebild":
            self.errors.append(f"user {i}: opened page {run_.page!r}, not the Lagebild page")
        for _ in range(self.args.changes):
            closed = asyncio.ensure_future(s._ws.wait_closed())
            await asyncio.wait([closed], timeout=rng.uniform(*self.args.think))
            if not closed.done():
                closed.cancel()
            if s._ws.state.name in ("CLOSING", "CLOSED") or closed.done():
                run_ = await self.failover(i, s, run_, rng, log)
                if run_ is None:
                    return
            districts = list(run_.widgets["flt_d"].options)
            period = list(run_.widgets["None"].options) if "None" in run_.widgets else []
            kind = rng.choice(("districts", "districts", "period", "weekdays"))
            if kind == "districts" or not period:
                s.set_widget("flt_d", string_array_value=rng.sample(districts, rng.randint(0, 3)))
            elif kind == "period":
                a = rng.randrange(max(1, len(period) - 4), len(period))
                b = rng.randrange(a, len(period))
                s.set_widget("None", string_array_value=[period[a], period[b]])
            else:
                days = list(run_.widgets["flt_wd"].options)
                s.set_widget("flt_wd", string_array_value=rng.sample(days, rng.randint(0, 3)))
            got = await run(s.rerun, "change")
            if isinstance(got, Exception):
                if self.kill_time is not None:
                    run_ = await self.failover(i, s, run_, rng, log)
                    if run_ is None:
                        return
                    continue
                self.errors.append(f"user {i}: rerun failed: {got}")
                return
            run_, seconds = got
            if run_.page != "lagebild":  # the figure is about the Lagebild page's reruns
                self.errors.append(f"user {i}: a filter change ran page {run_.page!r}, not the Lagebild page")
            self.rerun_s.append(seconds)
            self.rerun_bytes.append(self.last_bytes)
            self.changes_done += 1
        self.cache_hits += s.cache.hits
        await s.close()

    async def failover(self, i: int, s: Session, last, rng: random.Random, log: list) -> object | None:
        """The browser's reconnect (:meth:`stclient.Session.reconnect`: the frontend's delays,
        health pings, then the WebSocket through nginx with the same cookie), then a run of its
        page with its URL and widget values: it must show the same view. (The frontend reruns
        at once only when a run was in progress; an idle tab reruns at its next change. Every
        moved user reruns at once here: the bench's burst on the other replica is the worst
        case.)"""
        view = s.query
        closed = time.monotonic()
        try:
            parts = await s.reconnect(rng, deadline=closed + 30)
        except SessionError as exc:
            self.errors.append(f"user {i}: could not reconnect within 30 s: {exc}")
            return None
        t0 = time.monotonic()
        b0 = s.received
        try:
            r = await s.rerun()
        except SessionError as exc:
            self.errors.append(f"user {i}: the first run after the reconnect failed: {exc}")
            return None
        now = time.monotonic()
        # the app writes its widget state back into the URL at every run, so the same
        # query string after the run on the new replica is the same view
        same = s.query == view and not r.exceptions
        self.runs += 1
        v = version_of(r)
        log.append((t0, now, v))
        self.record("failover", t0, now, s, v, s.received - b0)
        if not same:
            self.failover_views_ok = False
            self.errors.append(f"user {i}: other view after failover: {view!r} -> {s.query!r}")
        if self.kill_time is not None:
            self.failovers.append(now - self.kill_time)
            self.failover_parts.append({"noticed_s": closed - self.kill_time, **parts, "run_s": now - t0})
            self.reconnect_errors.extend(s.reconnect_errors)
        return r

    async def controller(self) -> None:
        while self.changes_done < self.total_changes * self.args.import_at:
            await asyncio.sleep(0.1)
        old = self.state()[0]
        env = {**os.environ, "LAGEBILD_DB": self.url}
        t0 = self.import_start = time.monotonic()
        proc = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "data", "import", "complaints",
                                                        str(self.import_file), "--activate", "--json"],
                                       cwd=ROOT, env=env, capture_output=True, text=True)
        self.import_done = time.monotonic()
        if proc.returncode != 0:
            self.errors.append(f"import failed: {proc.stderr[-500:]}")
        new = self.state()[0]
        self.import_versions = (old, new)
        print(f"import: version {old} -> {new} in {self.import_done - t0:.1f} s", flush=True)

    async def killer(self) -> None:
        delay = self.args.kill_in_import
        if delay is None:
            while self.changes_done < self.total_changes * self.args.kill_at:
                await asyncio.sleep(0.1)
        else:  # the alignment of a kill while an import runs: the survivor then switches
            while self.import_start is None:  # version with the moved users' first runs
                await asyncio.sleep(0.05)
            await asyncio.sleep(max(0.0, self.import_start + delay - time.monotonic()))
        victim = self.replicas[0]
        self.kill_time = time.monotonic()  # failover_s counts from the signal, teardown included
        await asyncio.to_thread(victim.kill)  # waiting for the process must not stall the users
        print(f"killed replica on port {victim.port} (SIGKILL)", flush=True)

    def state(self) -> tuple[int, bool]:
        from data.dbstore import engine_for, read_state

        engine = engine_for(self.url)
        try:
            return read_state(engine)
        finally:
            engine.dispose()

    def stale_after_import(self) -> list[float]:
        """For every rerun that started after the import had committed (the CLI exited) and
        still showed the old version: how long after the commit it started. Replicas learn of
        an import by LISTEN/NOTIFY (milliseconds) or, with the listener down, by bounded
        polling; the issue allows 10 s."""
        if self.import_versions is None or self.import_done is None:
            return []
        old, _ = self.import_versions
        return [t0 - self.import_done for log in self.versions for t0, _, v in log
                if t0 > self.import_done and v == old]

    def import_switch_ok(self) -> bool:
        """Only the old or the new version, never back, and no rerun starting later than 10 s
        after the commit shows the old one (the issue: seen by every replica within 10 s)."""
        if self.import_versions is None or self.import_done is None:
            return False
        old, new = self.import_versions
        if new != old + 1:
            return False
        for log in self.versions:
            seen = [v for _, _, v in log]
            if any(v not in (old, new) for v in seen):
                return False
            if any(a > b for a, b in itertools.pairwise(seen)):  # never back
                return False
        return all(lag <= 10.0 for lag in self.stale_after_import())

    async def main(self) -> None:
        self.t_start = time.monotonic()
        users = [asyncio.ensure_future(self.user(i)) for i in range(self.args.sessions)]
        control = [asyncio.ensure_future(self.controller()), asyncio.ensure_future(self.killer())]
        await asyncio.gather(*users)
        if not control[1].done():
            control[1].cancel()
            self.errors.append("the run ended before a replica was killed")
        if not control[0].done():  # the import still runs: wait for it, it must not be lost
            await control[0]
            self.errors.append("the run ended before the import committed")


KINDS = ("open", "lagebild", "first", "revisit", "failover")
PHASES = ("two replicas", "import", "after import", "after kill")
RERUNS = ("first", "revisit")  # the filter changes: the "rerun"


def pct(values: list[float], q: float) -> float | None:
    """The bench's percentile: the value at rank round(q * (n - 1)) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def breakdown(load: Load, t_end: float, meter: CpuMeter | None = None) -> dict:
    """Where the rerun times come from: by phase of the run and kind of script run, per
    replica (runs, time in flight, cores used), and the parts of each failover."""
    recs = load.records
    kill = load.kill_time if load.kill_time is not None else t_end

    def upto(t: float | None) -> float | None:  # a phase ends at the kill at the latest
        return None if t is None else min(t, kill)

    bounds = {"two replicas": (load.t_start, upto(load.import_start)),
              "import": (upto(load.import_start), upto(load.import_done)),
              "after import": (upto(load.import_done), load.kill_time),
              "after kill": (load.kill_time, t_end)}
    out: dict = {"phases": {}, "kinds": {}, "replicas": {}}
    for ph in PHASES:
        a, b = bounds[ph]
        if a is None or (b is not None and b <= a):
            continue
        b = b if b is not None else t_end
        rows = [r for r in recs if load.phase(r["t0"]) == ph]
        secs = [r["t1"] - r["t0"] for r in rows if r["kind"] in RERUNS]
        entry = {"wall_s": round(b - a, 1), "reruns": len(secs),
                 "p50_s": round(pct(secs, 0.5), 3) if secs else None,
                 "p95_s": round(pct(secs, 0.95), 3) if secs else None, "kinds": {}}
        for kind in KINDS:
            ks = [r["t1"] - r["t0"] for r in rows if r["kind"] == kind]
            if ks:
                entry["kinds"][kind] = [len(ks), round(pct(ks, 0.5), 3), round(pct(ks, 0.95), 3)]
        # Little's law: runs in flight on each replica on average during the phase
        busy = {rep: sum(r["t1"] - r["t0"] for r in rows if r["replica"] == rep)
                for rep in sorted({r["replica"] for r in rows}) if rep}
        entry["in_flight"] = {f"replica_{rep.rsplit(':', 1)[-1]}": round(v / max(b - a, 1e-9), 1)
                              for rep, v in busy.items()}
        if meter is not None:  # is a replica's one core the limit (≈ 1.0), or something else?
            entry["cores_used"] = meter.used(a, b)
        out["phases"][ph] = entry
    reruns = [r["t1"] - r["t0"] for r in recs if r["kind"] in RERUNS]
    slow = pct(reruns, 0.95)
    for kind in KINDS:
        ks = [r for r in recs if r["kind"] == kind]
        if ks:
            secs = [r["t1"] - r["t0"] for r in ks]
            out["kinds"][kind] = {"runs": len(ks), "p50_s": round(pct(secs, 0.5), 3),
                                  "p95_s": round(pct(secs, 0.95), 3),
                                  "mb_p50": round(statistics.median(r["bytes"] for r in ks) / 1e6, 3)}
    if slow is not None:  # the reruns at or above the p95: which phase they fell in
        tail = [r for r in recs if r["kind"] in RERUNS and r["t1"] - r["t0"] >= slow]
        out["p95_tail_by_phase"] = {ph: sum(load.phase(r["t0"]) == ph for r in tail) for ph in PHASES}
    for rep in sorted({r["replica"] for r in recs if r["replica"]}):
        out["replicas"][f"replica_{rep.rsplit(':', 1)[-1]}"] = sum(r["replica"] == rep for r in recs)
    if load.failover_parts:
        out["failover_parts"] = {k: {"p50": round(statistics.median(p[k] for p in load.failover_parts), 2),
                                     "max": round(max(p[k] for p in load.failover_parts), 2)}
                                 for k in load.failover_parts[0]}
    return out


async def churn(url: str, n: int, pid: int, timeout: float) -> tuple[float, float, int]:
    failed = 0
    for _ in range(20):
        s = Session(url, timeout=timeout)
        await s.open()
        await s.close()
    await asyncio.sleep(2)
    before = rss_mb(pid)
    for _ in range(n):
        s = Session(url, timeout=timeout)
        try:
            r = await s.open()
            failed += bool(r.exceptions)
        except SessionError:
            failed += 1
        finally:
            await s.close()
    await asyncio.sleep(5)
    return before, rss_mb(pid), failed


def import_file(folder: Path, extra: int = 300) -> Path:
    """The demo's complaints plus ``extra`` new ones in the latest quarter (an update)."""
    from data.folder import load_folder

    bundle = load_folder(ROOT / "data" / "demo")
    c = bundle["complaints"]
    cols = ["complaint_id", "received_at", "category", "lat", "lon", "description", "address", "status",
            "closed_at", "source"]
    base = c[cols].copy()
    latest = c["received_at"].max()
    new = base.sample(extra, random_state=1).copy()
    new["complaint_id"] = [f"NEU-{i}" for i in range(extra)]
    new["received_at"] = latest - pd.Timedelta(hours=1)
    new["status"], new["closed_at"] = "open", pd.NaT
    out = pd.concat([base, new], ignore_index=True)
    for col in ("received_at", "closed_at"):
        out[col] = out[col].map(lambda t: "" if pd.isna(t) else t.isoformat())
    path = folder / "beschwerden_update.csv"
    out.to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--changes", type=int, default=20)
    p.add_argument("--think", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"))
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--churn", type=int, default=500)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--import-at", type=float, default=0.5, metavar="FRACTION",
                   help="start the import when this fraction of all filter changes is done")
    p.add_argument("--kill-at", type=float, default=0.7, metavar="FRACTION",
                   help="kill a replica when this fraction of all filter changes is done")
    p.add_argument("--kill-in-import", type=float, default=None, metavar="SECONDS",
                   help="instead: kill a replica this many seconds after the import started "
                        "(a kill while the import runs, or just after it committed)")
    args = p.parse_args(argv)
    for name in ("import_at", "kill_at"):
        if not 0 < getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a fraction in (0, 1), got {getattr(args, name)!r}")
    if args.kill_in_import is not None and args.kill_in_import < 0:
        p.error(f"--kill-in-import must be >= 0 seconds, got {args.kill_in_import!r}")
    tmp = Path(tempfile.mkdtemp(prefix="lagebild-load-"))
    cluster = Cluster(settings={"max_connections": "300"}).start()
    replicas: list[Replica] = []
    nginx = None
    try:
        url = cluster.create_database("lagebild")
        env = {**os.environ, "LAGEBILD_DB": url}
        t0 = time.monotonic()
        for cmd in (["db", "upgrade"], ["db", "load", "data/demo", "--activate"]):
            subprocess.run([sys.executable, "-m", "data", *cmd], cwd=ROOT, env=env, check=True,
                           capture_output=True)
        print(f"database: schema + demo city loaded in {time.monotonic() - t0:.1f} s", flush=True)
        renv = {"LAGEBILD_DB": url, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16),
                "LAGEBILD_STORE": str(tmp / "store")}
        replicas = [Replica(renv, log_dir=tmp) for _ in range(args.replicas)]
        t0 = time.monotonic()
        for r in replicas:
            r.start(wait=False)
        for r in replicas:
            wait_healthy(f"{r.url}/_stcore/health", proc=r.proc)
        nginx = Nginx([r.port for r in replicas], upstream_header=True).start()

        async def warm() -> list[float]:
            out = []
            for r in replicas:
                t = time.monotonic()
                s = Session(r.url, timeout=args.timeout)
                await s.open()
                out.append(time.monotonic() - t)
                await s.close()
                s = Session(r.url, page="lagebild", timeout=args.timeout)
                await s.open()
                await s.close()
            return out

        cold = asyncio.run(warm())
        print(f"replicas up; first Übersicht per replica (cold, from the database): "
              f"{', '.join(f'{c:.1f} s' for c in cold)}", flush=True)
        load = Load(args, nginx, replicas, url, import_file(tmp))
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        meter = CpuMeter({f"replica_{r.port}": [r.proc.pid] for r in replicas} | {"nginx": [nginx.proc.pid]},
                         postmaster).start()
        x0 = xacts(url)
        t0 = time.monotonic()
        asyncio.run(load.main())
        t_end = time.monotonic()
        wall = t_end - t0
        cpu = meter.stop()
        db_xacts = xacts(url) - x0 - 1  # minus this query's own
        load_avg = os.getloadavg()
        survivor = next(r for r in replicas if r.proc.poll() is None)
        rss_before, rss_after, churn_failed = asyncio.run(churn(survivor.url, args.churn, survivor.proc.pid,
                                                                args.timeout))
        errors = load.errors + ([f"{churn_failed} churn sessions failed"] if churn_failed else [])
        times = sorted(load.rerun_s)
        p50 = statistics.median(times) if times else None
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None
        for e in errors[:20]:
            print("error:", e)
        opens = statistics.median(load.open_s) if load.open_s else float("nan")
        print(f"{len(times)} reruns by {args.sessions} users in {wall:.0f} s; rerun p50 {p50:.3f} s, "
              f"p95 {p95:.3f} s, max {times[-1]:.3f} s; page opens p50 {opens:.2f} s")
        replica_cpu = sum(v for k, v in cpu.items() if k.startswith("replica_"))
        ours = replica_cpu + cpu["nginx"] + cpu["postgresql"] + cpu["load_client"]
        per_run = {k: round(v / max(load.runs, 1) * 1000, 1) for k, v in cpu.items() if k != "machine"}
        print(f"CPU during the load phase ({wall:.0f} s wall, {os.cpu_count()} cores = "
              f"{wall * (os.cpu_count() or 1):.0f} core-seconds): {cpu}; other work on the machine "
              f"{cpu['machine'] - ours:.0f} s")
        print(f"CPU per script run ({load.runs} runs: opens, reruns, failover opens), ms: {per_run}; "
              f"replicas together {replica_cpu / max(load.runs, 1) * 1000:.0f} ms")
        stale = load.stale_after_import()
        print(f"PostgreSQL: {db_xacts} transactions in the load phase = "
              f"{db_xacts / max(load.runs, 1):.2f} per script run (import included)")
        mb = statistics.median(load.rerun_bytes) / 1e6 if load.rerun_bytes else 0.0
        print(f"each rerun sends {mb:.2f} MB (median); import: {len(stale)} reruns after the commit "
              f"showed the old version (latest started {max(stale, default=0):.2f} s after it)")
        print(f"failover: {len(load.failovers)} users moved, worst {max(load.failovers, default=0):.2f} s, "
              f"same view: {load.failover_views_ok}")
        parts = breakdown(load, t_end, meter)
        print("where the rerun times come from (p50 / p95 s; runs in flight = mean concurrent runs):")
        for ph, e in parts["phases"].items():
            kinds = ", ".join(f"{k} {n}× {a:.2f}/{b:.2f}" for k, (n, a, b) in e["kinds"].items())
            print(f"  {ph:13s} {e['wall_s']:6.1f} s wall: {e['reruns']} reruns p50 {e['p50_s']} "
                  f"p95 {e['p95_s']}; {kinds}; in flight {e['in_flight']}; cores used "
                  f"{e.get('cores_used')}")
        print("  by kind:", {k: (v["runs"], v["p50_s"], v["p95_s"], v["mb_p50"])
                             for k, v in parts["kinds"].items()}, "(runs, p50 s, p95 s, MB p50)")
        print("  reruns at or above the p95, by phase:", parts.get("p95_tail_by_phase"))
        own = {k: round(cpu.get(k, 0.0) / max(n, 1) * 1000, 1) for k, n in parts["replicas"].items()}
        print(f"  runs per replica {parts['replicas']}; replica CPU per run it served, ms: {own}")
        if "failover_parts" in parts:
            print("  failover parts (p50/max s): " + ", ".join(
                f"{k} {v['p50']}/{v['max']}" for k, v in parts["failover_parts"].items()))
            from collections import Counter

            print("  failed reconnect steps:", dict(Counter(load.reconnect_errors).most_common(6)))
        print(f"churn: {args.churn} sessions on port {survivor.port}: RSS {rss_before:.0f} -> "
              f"{rss_after:.0f} MB")
        result = {
            "sessions": args.sessions, "reruns": len(times), "errors": len(errors),
            "p50_s": round(p50, 3) if p50 is not None else None,
            "p95_s": round(p95, 3) if p95 is not None else None,
            "import_switch_ok": load.import_switch_ok(),
            "failover_s": round(max(load.failovers), 2) if load.failovers else None,
            "failover_users": len(load.failovers), "failover_same_view": load.failover_views_ok,
            "rss_growth_mb": round(rss_after - rss_before, 1), "churn_sessions": args.churn,
            "replicas": args.replicas, "think_s": list(args.think), "changes": args.changes,
            "import_at": args.import_at, "kill_at": args.kill_at, "kill_in_import": args.kill_in_import,
            # where the kill fell: seconds after the import started, and whether it ran then
            "kill_after_import_start_s": (round(load.kill_time - load.import_start, 2)
                                          if None not in (load.kill_time, load.import_start) else None),
            "kill_while_importing": (None not in (load.kill_time, load.import_start, load.import_done)
                                     and load.import_start <= load.kill_time <= load.import_done),
            "server_options": list(replicas[0].options),
            "server_env": {k: replicas[0].env.get(k) for k in (*SERVER_ENV, "LAGEBILD_MAX_RUNS")
                           if replicas[0].env.get(k)},
            "db_listen": os.environ.get("LAGEBILD_DB_LISTEN", "1") != "0",
            "cold_first_page_s": [round(c, 2) for c in cold],
            "runs": load.runs, "wall_s": round(wall, 1), "load_avg": [round(x, 2) for x in load_avg],
            "cpu_s": cpu, "cpu_ms_per_run": per_run,
            "replicas_cpu_ms_per_run": round(replica_cpu / max(load.runs, 1) * 1000, 1),
            "other_cpu_s": round(cpu["machine"] - ours, 1),
            "db_xacts_per_run": round(db_xacts / max(load.runs, 1), 3),
            "rerun_mb_p50": round(mb, 3),
            "import_stale_reruns": len(stale), "import_seen_s": round(max(stale, default=0.0), 3),
            "p95_by_phase": {ph: e["p95_s"] for ph, e in parts["phases"].items()},
            "cores_used_by_phase": {ph: e.get("cores_used") for ph, e in parts["phases"].items()},
            "p95_by_kind": {k: v["p95_s"] for k, v in parts["kinds"].items()},
            "p95_tail_by_phase": parts.get("p95_tail_by_phase"),
            "runs_by_replica": parts["replicas"], "cpu_ms_per_own_run": own,
            "failover_parts": parts.get("failover_parts"),
            "message_cache_hits": load.cache_hits,
        }
        print(json.dumps(result))
        return 0 if not errors else 1
    finally:
        if nginx:
            nginx.stop()
        for r in replicas:
            r.stop()
        cluster.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
