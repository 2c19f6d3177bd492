"""Shared deployment under load and failure: PostgreSQL, two replicas, nginx, simulated users.

Starts on localhost a throwaway PostgreSQL 15/PostGIS cluster (tests/pgcluster.py) with the
demo city loaded through ``python -m data db load``, N Streamlit replicas on it
(``LAGEBILD_DB``) and Debian's nginx with ``deploy/nginx/lagebild.conf``. Simulated users
speak Streamlit's own WebSocket protocol through nginx (tests/stclient.py):

1. ``--sessions`` concurrent users each open the Übersicht, then the Lagebild page, and make
   ``--changes`` filter changes (districts, period, weekdays), with a think time of
   ``--think`` seconds (uniform) between changes. A rerun is timed from sending the
   BackMsg to receiving ``script_finished`` (server work + transfer of the page).
2. Halfway through, an administrator imports an updated complaints file with the CLI
   (``python -m data import complaints ... --activate``). Every rerun must show the old or
   the new version (the sidebar names it), a session never goes back, and every rerun
   that starts after the import committed shows the new one.
3. At 70 %, one replica is killed with SIGKILL. Its users' WebSockets close; they reconnect
   through nginx like the browser does (same cookie, same URL) and must be back on the same
   view on the other replica: the same query string after the run there (the app writes its
   widget state back into the URL at every run). ``failover_s`` is the
   worst time from the kill to a user being back on the same view.
4. ``--churn`` sessions are opened (Übersicht) and closed one after another on a surviving
   replica; ``rss_growth_mb`` is its RSS after minus before (after 20 warm-up sessions).

Errors: exceptions shown by the app, runs that fail or time out, reconnects that fail, a
run without a version marker. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pandas as pd  # noqa: E402
from deployment import Nginx, Replica, rss_mb, wait_healthy  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from stclient import Session, SessionError  # noqa: E402

VERSION = re.compile(r"Importierte Daten, Version (\d+)")


def version_of(run) -> int | None:
    found = {int(m) for t in run.texts for m in VERSION.findall(t)}
    return found.pop() if len(found) == 1 else None


class Load:
    def __init__(self, args: argparse.Namespace, nginx: Nginx, replicas: list[Replica], url: str,
                 import_file: Path) -> None:
        self.args = args
        self.nginx = nginx
        self.replicas = replicas
        self.url = url
        self.import_file = import_file
        self.rerun_s: list[float] = []
        self.open_s: list[float] = []
        self.errors: list[str] = []
        self.changes_done = 0
        self.total_changes = args.sessions * args.changes
        self.versions: list[list[tuple[float, float, int | None]]] = []
        self.import_done: float | None = None
        self.import_versions: tuple[int, int] | None = None
        self.kill_time: float | None = None
        self.killed: asyncio.Event | None = None
        self.failovers: list[float] = []
        self.failover_views_ok = True

    async def user(self, i: int) -> None:
        rng = random.Random(self.args.seed * 1000 + i)
        log: list[tuple[float, float, int | None]] = []
        self.versions.append(log)
        s = Session(self.nginx.url, timeout=self.args.timeout)

        async def run(action) -> object | None:
            t0 = time.monotonic()
            try:
                r = await action()
            except SessionError as exc:
                return exc
            t1 = time.monotonic()
            if r.exceptions:
                self.errors.append(f"user {i}: exception {r.exceptions[0][:200]}")
            v = version_of(r)
            if v is None:
                self.errors.append(f"user {i}: no version marker")
            log.append((t0, t1, v))
            return (r, t1 - t0)

        got = await run(s.open)
        if isinstance(got, Exception):
            self.errors.append(f"user {i}: open failed: {got}")
            return
        self.open_s.append(got[1])
        s.page, s.page_hash = "lagebild", ""
        got = await run(s.rerun)
        if isinstance(got, Exception):
            self.errors.append(f"user {i}: Lagebild failed: {got}")
            return
        self.open_s.append(got[1])
        run_ = got[0]
        for _ in range(self.args.changes):
            closed = asyncio.ensure_future(s._ws.wait_closed())
            await asyncio.wait([closed], timeout=rng.uniform(*self.args.think))
            if not closed.done():
                closed.cancel()
            if s._ws.state.name in ("CLOSING", "CLOSED") or closed.done():
                s, run_ = await self.failover(i, s, run_)
                if s is None:
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
            got = await run(s.rerun)
            if isinstance(got, Exception):
                if self.kill_time is not None:
                    s, run_ = await self.failover(i, s, run_)
                    if s is None:
                        return
                    continue
                self.errors.append(f"user {i}: rerun failed: {got}")
                return
            run_, seconds = got
            self.rerun_s.append(seconds)
            self.changes_done += 1
        await s.close()

    async def failover(self, i: int, old: Session, last) -> tuple[Session | None, object]:
        """The browser's reconnect: same cookies, same URL; must show the same view."""
        view = old.query
        await old.close()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            s = Session(self.nginx.url, page="lagebild", query=view, cookies=dict(old.cookies),
                        timeout=self.args.timeout)
            try:
                r = await s.open()
            except Exception:  # nginx still trying the dead replica, connection refused, ...
                await asyncio.sleep(0.2)
                continue
            now = time.monotonic()
            # the app writes its widget state back into the URL at every run, so the same
            # query string after the run on the new replica is the same view
            same = s.query == view and not r.exceptions
            if not same:
                self.failover_views_ok = False
                self.errors.append(f"user {i}: other view after failover: {view!r} -> {s.query!r}")
            if self.kill_time is not None:
                self.failovers.append(now - self.kill_time)
            return s, r
        self.errors.append(f"user {i}: could not reconnect within 30 s")
        return None, last

    async def controller(self) -> None:
        while self.changes_done < self.total_changes * 0.5:
            await asyncio.sleep(0.1)
        old = self.state()[0]
        env = {**os.environ, "LAGEBILD_DB": self.url}
        t0 = time.monotonic()
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
        while self.changes_done < self.total_changes * 0.7:
            await asyncio.sleep(0.1)
        victim = self.replicas[0]
        victim.kill()
        self.kill_time = time.monotonic()
        print(f"killed replica on port {victim.port} (SIGKILL)", flush=True)

    def state(self) -> tuple[int, bool]:
        from data.dbstore import engine_for, read_state

        engine = engine_for(self.url)
        try:
            return read_state(engine)
        finally:
            engine.dispose()

    def import_switch_ok(self) -> bool:
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
            if any(t0 > self.import_done and v != new for t0, _, v in log):
                return False
        return True

    async def main(self) -> None:
        users = [asyncio.ensure_future(self.user(i)) for i in range(self.args.sessions)]
        control = [asyncio.ensure_future(self.controller()), asyncio.ensure_future(self.killer())]
        await asyncio.gather(*users)
        if not control[1].done():
            control[1].cancel()
            self.errors.append("the run ended before a replica was killed")
        if not control[0].done():  # the import still runs: wait for it, it must not be lost
            await control[0]
            self.errors.append("the run ended before the import committed")


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
    args = p.parse_args(argv)
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
        nginx = Nginx([r.port for r in replicas]).start()

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
        t0 = time.monotonic()
        asyncio.run(load.main())
        wall = time.monotonic() - t0
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
        print(f"failover: {len(load.failovers)} users moved, worst {max(load.failovers, default=0):.2f} s, "
              f"same view: {load.failover_views_ok}")
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
            "replicas": args.replicas, "think_s": list(args.think),
            "cold_first_page_s": [round(c, 2) for c in cold],
        }
        print(json.dumps(result))
        return 0 if not errors else 1
    finally:
        if nginx:
            nginx.stop()
        for r in replicas:
            r.stop()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
