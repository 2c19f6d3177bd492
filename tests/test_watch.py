"""The replica's listener on the store's state row (data/dbstore/watch.py) against a real
throwaway PostgreSQL: a commit in another process reaches it within 10 s without per-rerun
polling; a dropped listener connection falls back to bounded polling and recovers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pgcluster import wait_until

from data.dbstore import DbStore, read_state
from data.dbstore.watch import StateWatcher, conninfo
from data.importers import prepare_import

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


@pytest.fixture
def store(pg_url: str):
    s = DbStore(pg_url)
    s.load_folder(DEMO)
    s.activate()
    yield s
    s.engine.dispose()


class CountingPoll:
    """The fallback poll through the replica's engine, counted."""

    def __init__(self, store: DbStore) -> None:
        self.store, self.calls = store, 0

    def __call__(self) -> tuple[int, bool]:
        self.calls += 1
        return read_state(self.store.engine)


def _import(store: DbStore, tmp_path: Path, n: int = 3) -> int:
    rows = store.read_dataset("complaints").head(n)
    path = tmp_path / f"c{time.monotonic_ns()}.csv"
    path.write_text("complaint_id,received_at,category,lat,lon\n" + "".join(
        f"W-{i},2026-08-03T10:00,{c.category},{c.lat},{c.lon}\n" for i, c in enumerate(rows.itertuples())),
        encoding="utf-8")
    return store.commit(prepare_import("complaints", path, store=store)).generation


def _terminate_listener(store: DbStore, watcher: StateWatcher) -> None:
    from sqlalchemy import text

    pid = watcher.backend_pid()
    assert pid is not None
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg://u:p@db:5433/lagebild", "postgresql://u:p@db:5433/lagebild"),
    ("postgresql://u@127.0.0.1/x?sslmode=require", "postgresql://u@127.0.0.1/x?sslmode=require"),
])
def test_conninfo_from_the_store_url(url: str, expected: str) -> None:
    assert conninfo(url) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fallback_s": 0}, "fallback_s"), ({"check_s": 11}, "check_s"), ({"reconnect_s": -1}, "reconnect_s"),
])
def test_intervals_are_bounded_by_the_10_s_promise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StateWatcher("postgresql+psycopg://u@127.0.0.1/x", lambda: (0, False), **kwargs)


def test_sqlite_url_is_rejected() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        conninfo("sqlite:///x.db")


def test_an_import_elsewhere_reaches_the_listener_without_polling(store: DbStore, tmp_path: Path) -> None:
    poll = CountingPoll(store)
    watcher = StateWatcher(store.engine.url.render_as_string(hide_password=False), poll)
    try:
        assert watcher.wait_listening(10)
        before = watcher.state()
        assert before == store.state() and before[1]
        for _ in range(200):  # many reruns: none of them asks the database
            assert watcher.state() == before
        other = DbStore(store.engine.url.render_as_string(hide_password=False))  # another replica / the CLI
        new = _import(other, tmp_path)
        other.engine.dispose()
        assert new == before[0] + 1
        assert wait_until(lambda: watcher.state() == (new, True), timeout=10)
        assert watcher.stats["notifications"] >= 1
        other_off = DbStore(store.engine.url.render_as_string(hide_password=False))
        other_off.deactivate()  # the active switch is notified too
        other_off.engine.dispose()
        assert wait_until(lambda: watcher.state() == (new, False), timeout=10)
        assert poll.calls == 0  # everything came through LISTEN
    finally:
        watcher.stop()


def _listener_role(store: DbStore, login: bool) -> str:
    """A role for the listener alone (so that the test can keep it from reconnecting while
    the replica's own engine still works); returns the listener's URL."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'lagebild_listener'")).first()
        if not exists:
            conn.execute(text("CREATE ROLE lagebild_listener"))
            conn.execute(text("GRANT SELECT ON lagebild_state TO lagebild_listener"))
        conn.execute(text(f"ALTER ROLE lagebild_listener {'LOGIN' if login else 'NOLOGIN'}"))
    return store.engine.url.set(username="lagebild_listener", password=None).render_as_string(
        hide_password=False)


def test_a_dropped_listener_falls_back_to_bounded_polling_and_recovers(store: DbStore, tmp_path: Path
                                                                       ) -> None:
    poll = CountingPoll(store)
    url = _listener_role(store, login=True)
    watcher = StateWatcher(url, poll, fallback_s=0.5, reconnect_s=0.2)
    try:
        assert watcher.wait_listening(10)
        first_backend = watcher.backend_pid()
        # the listener's connection drops and cannot come back (its role may not log in) until
        # the test allows it: however slow the machine, the fallback is what is tested here
        _listener_role(store, login=False)
        _terminate_listener(store, watcher)
        assert wait_until(lambda: not watcher.listening, timeout=10)
        # while it is down: an import is still seen (by polling), and polling is bounded
        new = _import(store, tmp_path)
        assert wait_until(lambda: watcher.state() == (new, True), timeout=10)
        assert not watcher.listening
        calls = poll.calls
        assert calls >= 1
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 0.9:
            watcher.state()
            n += 1
        assert n > 50 and poll.calls - calls <= 3  # many reruns, at most one poll per 0.5 s
        # it reconnects on its own, on a new backend, and listens again
        _listener_role(store, login=True)
        assert watcher.wait_listening(10)
        assert watcher.backend_pid() not in (None, first_backend)
        assert watcher.stats["connects"] >= 2
        calls = poll.calls
        newer = _import(store, tmp_path)
        assert wait_until(lambda: watcher.state() == (newer, True), timeout=10)
        assert poll.calls == calls  # back on LISTEN: no polling
    finally:
        watcher.stop()


def test_an_unreachable_database_raises_from_the_fallback_poll() -> None:
    import pgcluster

    from data.dbstore import engine_for

    engine = engine_for(f"postgresql+psycopg://nobody@127.0.0.1:{pgcluster.free_port()}/x")
    watcher = StateWatcher(engine.url.render_as_string(hide_password=False), lambda: read_state(engine),
                           reconnect_s=0.2)
    try:
        assert not watcher.wait_listening(0.5)
        with pytest.raises(Exception, match=r"127\.0\.0\.1"):
            watcher.state()
    finally:
        watcher.stop()
        engine.dispose()


def test_refresh_reads_the_row_at_once_and_an_older_read_never_wins(store: DbStore, tmp_path: Path) -> None:
    """The replica that wrote the state row reads it at once (``refresh``), not only when the
    notification arrives; a read that started earlier never replaces one that started later."""
    poll = CountingPoll(store)
    watcher = StateWatcher(store.engine.url.render_as_string(hide_password=False), poll)
    try:
        assert watcher.wait_listening()
        before = watcher.state()
        generation = _import(store, tmp_path)
        store.activate()
        assert watcher.refresh() == (generation, True) == watcher.state()  # no wait for the listener
        assert poll.calls == 1
        watcher._keep(before, started=time.monotonic() - 3600)  # a read from before the import
        assert watcher.state() == (generation, True)
        assert wait_until(lambda: watcher.stats["notifications"] > 0, timeout=10)
        assert watcher.state() == (generation, True)  # the listener's later read agrees
    finally:
        watcher.stop()


def test_refresh_while_the_listener_is_down_bypasses_the_poll_interval() -> None:
    """Down, ``state`` polls at most every ``fallback_s``; ``refresh`` reads at once."""
    import pgcluster

    states = iter([(1, True), (2, True), (3, False)])
    watcher = StateWatcher(f"postgresql+psycopg://nobody@127.0.0.1:{pgcluster.free_port()}/x",
                           lambda: next(states), fallback_s=10, reconnect_s=0.2)
    try:
        assert not watcher.wait_listening(0.3)
        assert watcher.state() == (1, True)
        assert watcher.state() == (1, True)  # within fallback_s: not polled again
        assert watcher.refresh() == (2, True)
        assert watcher.state() == (2, True)
        assert watcher.refresh() == (3, False)
    finally:
        watcher.stop()


@pytest.mark.parametrize("ready_s", [0, -1, 5.5, 11])
def test_the_ready_bound_keeps_the_10_s_promise(ready_s: float) -> None:
    with pytest.raises(ValueError, match=rf"ready_s must be in \(0, 5\] seconds .* got {ready_s!r}"):
        StateWatcher("postgresql+psycopg://u@127.0.0.1/x", lambda: (0, False), ready=print, ready_s=ready_s)


class Hook:
    """A ``ready`` hook that records its states and waits until the test lets it finish."""

    def __init__(self, fail: bool = False) -> None:
        import threading

        self.fail, self.states, self.release = fail, [], threading.Event()

    def __call__(self, state: tuple[int, bool]) -> None:
        self.states.append(state)
        self.release.wait(30)
        if self.fail:
            raise RuntimeError("the generation could not be loaded")


def test_a_new_generation_is_published_when_it_is_ready(store: DbStore, tmp_path: Path) -> None:
    """Reruns keep the previous generation while the hook prepares the new one, and get the
    new one as soon as the hook returns (long before the bound)."""
    hook = Hook()
    watcher = StateWatcher(store.engine.url.render_as_string(hide_password=False), CountingPoll(store),
                           ready=hook, ready_s=5)
    try:
        assert watcher.wait_listening()
        before = watcher.state()
        assert hook.states == []  # the first state is published at once, not prepared
        new = _import(store, tmp_path)
        assert wait_until(lambda: hook.states == [(new, True)], timeout=10)
        for _ in range(20):  # the hook is still running: reruns see the previous generation
            assert watcher.state() == before
            time.sleep(0.05)
        hook.release.set()
        assert wait_until(lambda: watcher.state() == (new, True), timeout=10)
        # published when the hook returned, not at the bound
        assert watcher.stats["readied"] == 1 and watcher.stats["ready_late"] == 0
        assert watcher.stats["ready_failed"] == 0
        store.deactivate()  # a switch to the demo is not prepared
        assert wait_until(lambda: watcher.state() == (new, False), timeout=10)
        store.activate()  # nor one from the demo
        assert wait_until(lambda: watcher.state() == (new, True), timeout=10)
        assert hook.states == [(new, True)]
    finally:
        hook.release.set()
        watcher.stop()


@pytest.mark.parametrize("fail", [False, True])
def test_a_slow_or_failing_hook_delays_the_switch_by_the_bound_at_most(store: DbStore, tmp_path: Path,
                                                                       fail: bool) -> None:
    """A hook that takes longer than ``ready_s`` (or raises) does not keep the new generation
    from the replica: it is published at the bound or at once (the sessions then load it
    themselves); the 10 s wait is the issue's promise."""
    hook = Hook(fail=fail)
    if fail:
        hook.release.set()  # raises at once
    watcher = StateWatcher(store.engine.url.render_as_string(hide_password=False), CountingPoll(store),
                           ready=hook, ready_s=1.0)
    try:
        assert watcher.wait_listening()
        new = _import(store, tmp_path)
        committed = time.monotonic()
        assert wait_until(lambda: watcher.state() == (new, True), timeout=10)
        waited = time.monotonic() - committed
        assert hook.states == [(new, True)]
        if fail:
            assert watcher.stats["ready_failed"] == 1 and watcher.stats["ready_late"] == 0
        else:  # held back for the bound, then published while the hook still runs
            assert watcher.stats["ready_late"] == 1 and waited >= 0.9  # (commit ~ hook start)
            assert watcher.state() == (new, True) and not hook.release.is_set()
    finally:
        hook.release.set()
        watcher.stop()


def test_refresh_wins_over_a_generation_being_prepared(store: DbStore, tmp_path: Path) -> None:
    """The replica that imported publishes its own write at once (``refresh``), even while its
    listener is still preparing that generation; the listener's later publish changes nothing."""
    hook = Hook()
    watcher = StateWatcher(store.engine.url.render_as_string(hide_password=False), CountingPoll(store),
                           ready=hook, ready_s=5)
    try:
        assert watcher.wait_listening()
        new = _import(store, tmp_path)
        assert wait_until(lambda: hook.states == [(new, True)], timeout=10)
        assert watcher.refresh() == (new, True) == watcher.state()
        hook.release.set()
        assert wait_until(lambda: watcher.stats["readied"] == 1, timeout=10)
        assert watcher.state() == (new, True)
    finally:
        hook.release.set()
        watcher.stop()
