"""Two app replicas on one database, behind nginx (deploy/): one import reaches both, a
killed replica's users come back on the same view. Real processes on localhost, spoken to
with Streamlit's own WebSocket protocol (tests/stclient.py)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import pytest
from deployment import Nginx, Replica, established
from pgcluster import wait_until
from stclient import Session, SessionError

from data.dbstore import DbStore
from data.importers import prepare_import

pytestmark = pytest.mark.slow
DEMO = "data/demo"


def version_of(run) -> int:
    found = {int(m) for t in run.texts for m in re.findall(r"Importierte Daten, Version (\d+)", t)}
    assert len(found) == 1, run.texts[:20]
    return found.pop()


@pytest.fixture(scope="module")
def deployment(pg_cluster, pg_template, tmp_path_factory):
    import shutil

    if shutil.which("nginx") is None and not __import__("os").path.exists("/usr/sbin/nginx"):
        pytest.skip("nginx not installed (make test installs it)")
    url = pg_cluster.create_database(template=pg_template)
    store = DbStore(url)
    store.load_folder(DEMO)
    store.activate()
    logs = tmp_path_factory.mktemp("replicas")
    env = {"LAGEBILD_DB": url, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16),
           "LAGEBILD_STORE": str(logs / "store")}
    replicas = [Replica(env, log_dir=logs), Replica(env, log_dir=logs)]
    nginx = None
    try:
        for r in replicas:
            r.start(wait=False)
        for r in replicas:
            from deployment import wait_healthy

            wait_healthy(f"{r.url}/_stcore/health", proc=r.proc)
        nginx = Nginx([r.port for r in replicas]).start()
        yield store, replicas, nginx
    finally:
        if nginx:
            nginx.stop()
        for r in replicas:
            r.stop()
        store.engine.dispose()


def test_one_import_reaches_both_replicas(deployment, tmp_path) -> None:
    store, replicas, _ = deployment

    async def scenario() -> None:
        sessions = [Session(r.url) for r in replicas]
        runs = [await s.open() for s in sessions]
        old = store.state()[0]
        assert [version_of(r) for r in runs] == [old, old]
        assert all(not r.exceptions for r in runs)
        complaints = store.read_dataset("complaints").head(5)
        path = tmp_path / "neu.csv"
        path.write_text("complaint_id,received_at,category,lat,lon\n" + "".join(
            f"NEU-{i},2026-08-03T10:00,{c.category},{c.lat},{c.lon}\n"
            for i, c in enumerate(complaints.itertuples())), encoding="utf-8")
        store.commit(prepare_import("complaints", path, store=store))
        new = store.state()[0]
        assert new == old + 1
        # each replica learns of it by LISTEN/NOTIFY (data/dbstore/watch.py): within 10 s every
        # session's rerun shows the new version, whole; a rerun racing the notification shows
        # the old one, whole
        end = time.monotonic() + 10
        for s in sessions:
            while True:
                run = await s.rerun()
                assert version_of(run) in (old, new) and not run.exceptions
                if version_of(run) == new or time.monotonic() > end:
                    break
                await asyncio.sleep(0.05)
            assert version_of(run) == new
            assert any(t.startswith("Beschwerden: 5") for t in run.texts), run.texts[:12]
        for s in sessions:
            await s.close()

    asyncio.run(scenario())


def test_nginx_keeps_a_session_on_its_replica_and_fails_over_to_the_same_view(deployment) -> None:
    _, replicas, nginx = deployment

    async def scenario() -> None:
        before = [established(r.proc.pid) for r in replicas]
        s = Session(nginx.url, page="lagebild", timeout=30)
        run = await s.open()
        assert not run.exceptions and "lagebild_route" in s.cookies
        for _ in range(3):  # the page, its WebSocket and every rerun: one replica only
            districts = run.widgets["flt_d"].options
            s.set_widget("flt_d", string_array_value=[districts[1], districts[3]])
            run = await s.rerun()
        after = [established(r.proc.pid) for r in replicas]
        grew = [a > b for a, b in zip(after, before, strict=True)]
        assert grew.count(True) == 1, (before, after)
        holder = replicas[grew.index(True)]
        view, chosen = s.query, list(run.widgets["flt_d"].raw_values)
        assert "d=" in view and len(chosen) == 2
        holder.kill()
        with pytest.raises(SessionError):
            await s.rerun()
        await s.close()
        # the browser reconnects with its URL and cookie; nginx sends it to the living replica
        again = Session(nginx.url, page="lagebild", query=view, cookies=dict(s.cookies), timeout=30)
        run = await again.open()
        assert not run.exceptions
        assert again.query == view and list(run.widgets["flt_d"].raw_values) == chosen
        await again.close()

    try:
        asyncio.run(scenario())
    finally:  # the module's other tests keep two replicas
        for r in replicas:
            if r.proc.poll() is not None:
                r.start()
    assert wait_until(lambda: all(r.proc.poll() is None for r in replicas))
