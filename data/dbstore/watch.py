"""The state row of the database store, kept current by ``LISTEN lagebild_state``.

Every rerun of every session needs the store's current generation (the cached loaders key
on it). Asking PostgreSQL on every rerun costs a pooled connection checkout, a pre-ping and
a query per rerun; with many sessions that is most of the database's work. A
:class:`StateWatcher` instead holds ONE connection per replica process in a background
thread that ``LISTEN``\\ s on the channel every commit of the store notifies
(:data:`data.dbstore.CHANNEL`), and re-reads the row when a notification arrives (and every
``check_s`` seconds as a safety net that also detects a silently dead connection). Reruns
read the cached ``(generation, active)`` without touching the database.

When the listener is down (database restarted, connection dropped, LISTEN not allowed), the
watcher falls back to polling the state row through the caller's engine, at most once every
``fallback_s`` seconds, and keeps trying to reconnect every ``reconnect_s`` seconds; once it
listens again it re-reads the row after ``LISTEN`` (so nothing committed in between is
missed). An import is therefore seen by every replica within about ``max(fallback_s,
check_s)`` seconds in the worst case, and within milliseconds in the normal case.

A rerun still reads the generation ONCE and loads that generation whole, so no session
ever sees a mix of two versions. No Streamlit here: the page edge (:mod:`ui.cache`) keeps
one watcher per replica.

A new generation is made ready before reruns are given it: with a ``ready`` hook the
listener calls it with the new state (the page edge loads the generation and builds its
spatial model, through the same cached functions the pages call) and publishes the state
when the hook returns, or after ``ready_s`` seconds at the latest (the hook then goes on in
the background). Meanwhile reruns keep showing the previous generation, fully, without
waiting; without the hook every session's next rerun would wait for that load (seconds at
region scale). Only a change from one active generation to another is prepared; the first
state, a switch to or from the demo, a poll and :meth:`StateWatcher.refresh` (the replica's
own write) are published at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from data.dbstore import CHANNEL

_LOG = logging.getLogger(__name__)

#: The state row, read on the listener's own connection (autocommit: no open transaction).
STATE_SQL = "SELECT generation, active FROM lagebild_state WHERE id = 1"


def conninfo(url: str) -> str:
    """A libpq connection string from the store's SQLAlchemy URL (``postgresql+psycopg://``)."""
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        raise ValueError(f"LISTEN needs a PostgreSQL URL, got {u.render_as_string(hide_password=True)!r}")
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _state_of(row: Any) -> tuple[int, bool]:
    generation, active = int(row[0]), bool(row[1])
    return generation, active and generation > 0


class StateWatcher:
    """``(generation, active)`` of one database store, pushed by LISTEN/NOTIFY (module doc).

    ``poll`` reads the state row through the replica's ordinary engine; it is used only while
    the listener is down, at most every ``fallback_s`` seconds.
    """

    def __init__(self, url: str, poll: Callable[[], tuple[int, bool]], *, fallback_s: float = 2.0,
                 check_s: float = 5.0, reconnect_s: float = 1.0, connect_timeout: int = 5,
                 ready: Callable[[tuple[int, bool]], object] | None = None, ready_s: float = 5.0) -> None:
        for name, value in (("fallback_s", fallback_s), ("check_s", check_s), ("reconnect_s", reconnect_s)):
            if not 0 < value <= 10:
                raise ValueError(f"{name} must be in (0, 10] seconds (imports reach replicas within 10 s), "
                                 f"got {value!r}")
        if not 0 < ready_s <= 5:  # + the notification and a listener that was busy: within 10 s
            raise ValueError(f"ready_s must be in (0, 5] seconds (imports reach replicas within 10 s), "
                             f"got {ready_s!r}")
        self.conninfo = conninfo(url)
        self.poll = poll
        self.ready, self.ready_s = ready, ready_s
        self.fallback_s, self.check_s, self.reconnect_s = fallback_s, check_s, reconnect_s
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._state: tuple[int, bool] | None = None
        self._read_started = float("-inf")  # when the read that gave ``_state`` started
        self._listening = False
        self._polled_at = float("-inf")
        self._conn: psycopg.Connection | None = None
        self._stop = threading.Event()
        #: counters for tests and the load bench: notifications seen, row reads by the
        #: listener, fallback polls, (re)connects, generations made ready (of them: published
        #: at the ``ready_s`` deadline, hooks that raised) and the last one's seconds
        self.stats = {"notifications": 0, "listener_reads": 0, "polls": 0, "connects": 0,
                      "readied": 0, "ready_late": 0, "ready_failed": 0, "ready_s": 0.0}
        self._thread = threading.Thread(target=self._run, name=f"lagebild-listen-{CHANNEL}", daemon=True)
        self._thread.start()

    # --- what reruns call ------------------------------------------------------------------------
    @property
    def listening(self) -> bool:
        return self._listening

    def state(self) -> tuple[int, bool]:
        """The current ``(generation, active)``: from the listener, or polled (bounded) while it
        is down. Raises what the poll raises (database unreachable) when nothing is known."""
        with self._lock:
            if self._listening and self._state is not None:
                return self._state
            due = time.monotonic() - self._polled_at >= self.fallback_s or self._state is None
        if due:
            started = time.monotonic()
            state = self.poll()  # outside the lock: a slow database must not block the listener
            with self._lock:
                self.stats["polls"] += 1
                self._polled_at = time.monotonic()
                if not self._listening:
                    self._keep(state, started)
                return self._state if self._state is not None else state
        with self._lock:
            return self._state  # type: ignore[return-value]

    def refresh(self) -> tuple[int, bool]:
        """Read the state row now (through ``poll``) and keep it: for the replica that has just
        written it (an import, a restore, a switch), whose next run must show its own change
        also before the notification has reached the listener."""
        started = time.monotonic()
        state = self.poll()
        with self._lock:
            self._keep(state, started)
            self.stats["polls"] += 1
            return self._state  # type: ignore[return-value]

    def wait_listening(self, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self._listening:
            time.sleep(0.02)
        return self._listening

    def stop(self, timeout: float = 10.0) -> None:
        """End the listener (its thread ends within ``check_s``; waits ``timeout`` for it)."""
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.cancel_safe()
        self._thread.join(timeout=timeout)

    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the listener connection (tests terminate it)."""
        conn = self._conn
        return conn.info.backend_pid if conn is not None and not conn.closed else None

    # --- the listener thread -----------------------------------------------------------------------
    def _read(self, conn: psycopg.Connection) -> None:
        started = time.monotonic()
        row = conn.execute(STATE_SQL).fetchone()
        if row is None:
            raise RuntimeError("lagebild_state has no row (schema not migrated?)")
        state = _state_of(row)
        with self._lock:
            self.stats["listener_reads"] += 1
            current = self._state
        if self.ready is not None and current is not None and current[1] and state[1] and state != current:
            self._make_ready(state)  # reruns keep the previous generation meanwhile
        with self._lock:
            self._keep(state, started)

    def _make_ready(self, state: tuple[int, bool]) -> None:
        """Run the ``ready`` hook for ``state`` in a thread; return when it is done or after
        ``ready_s`` (it then finishes in the background: its work is cached, not lost)."""
        hook = self.ready
        assert hook is not None
        t0 = time.monotonic()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                hook(state)
            except Exception as exc:  # the sessions load it themselves (and show the error)
                failed.append(exc)
                _LOG.warning("making generation %s ready failed (the sessions load it): %r", state[0], exc)

        worker = threading.Thread(target=run, name=f"lagebild-ready-g{state[0]}", daemon=True)
        worker.start()
        worker.join(self.ready_s)
        late = worker.is_alive()
        if late:
            _LOG.warning("generation %s not ready after %.1f s: published, still loading",
                         state[0], self.ready_s)
        with self._lock:
            self.stats["readied"] += 1
            self.stats["ready_late"] += late
            self.stats["ready_failed"] += bool(failed)
            self.stats["ready_s"] = time.monotonic() - t0

    def _keep(self, state: tuple[int, bool], started: float) -> None:
        """Take ``state`` unless a read that started later was taken already (under the lock):
        a read that starts later sees every commit an earlier one saw."""
        if started >= self._read_started:
            self._state, self._read_started = state, started

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout,
                                     keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                     keepalives_count=2, tcp_user_timeout=10000,
                                     application_name="lagebild-listen") as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._read(conn)  # after LISTEN: nothing committed in between is missed
                    with self._lock:
                        self._listening = True
                        self.stats["connects"] += 1
                    while not self._stop.is_set():
                        seen = 0
                        for _ in conn.notifies(timeout=self.check_s):
                            seen += 1
                            break  # one re-read covers every queued notification
                        if self._stop.is_set():
                            break
                        with self._lock:
                            self.stats["notifications"] += seen
                        self._read(conn)  # on a notification, and every check_s as a safety net
            except Exception:
                pass
            finally:
                with self._lock:
                    self._listening = False
                self._conn = None
            self._stop.wait(self.reconnect_s)
