"""How many script runs of one replica process execute at once (``LAGEBILD_MAX_RUNS``).

Streamlit runs every session's script in its own thread; all of them share one interpreter
lock with the event loop that sends their messages and answers new connections. With many
users on one replica (after another one died) a dozen runs share the lock in 5 ms slices:
each takes a dozen times its own CPU time, and the event loop waits behind them (health
pings and WebSocket handshakes of reconnecting browsers included). A limit lets that many
runs execute and queues the rest in arrival order; a queued run holds no lock.

``LAGEBILD_MAX_RUNS`` unset, empty or 0: no limit (the default, also in the systemd unit:
under load on the shared development machine a limit of 2 or 3 showed no gain that stood
out of the noise; see the README's load figures). A run that waits for something slow (an
export rendered by Chromium, an import on the Daten page) gives its slot back meanwhile
(:meth:`Slots.released`), so one long task never holds up the replica's other users.

``LAGEBILD_MAX_FIRST_RUNS`` limits only the first run of each session on the process
(``dashboard.py`` knows it by a session-state marker): a new user, or a user whose replica
died and whose browser reconnected here. These runs are the expensive ones (a fresh session,
often a filter state this replica has not drawn) and they come in bursts: 20 users moved by
a failover at once, 40 users opening the app at 8 o'clock. Queued one at a time in arrival
order, a burst no longer slows the reruns of the users already working on the replica; the
queued users wait about as long as they would have sharing the interpreter. The systemd
unit sets 1 (``bench/load.py``, README: rerun p95 0.87–1.47 s without it, 0.35–0.99 s
in 7 of 8 runs with it).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping

ENV = "LAGEBILD_MAX_RUNS"
FIRST_ENV = "LAGEBILD_MAX_FIRST_RUNS"


def limit_from(env: Mapping[str, str], name: str = ENV) -> int | None:
    """The configured limit, None for none; a value that is not a whole number >= 0 is an error."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number >= 0 (0 = no limit), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be a whole number >= 0 (0 = no limit), got {raw!r}")
    return value or None


class Slots:
    """At most ``limit`` holders at once, served in arrival order (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {limit!r}")
        self.limit = limit
        self._lock = threading.Lock()
        self._free = limit or 0
        self._waiting: list[threading.Event] = []  # FIFO of queued runs
        self.active = 0
        self.peak = 0
        self._held = threading.local()  # does this thread hold a slot?

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self.limit is None or getattr(self._held, "on", False):
            yield
            return
        self._acquire()
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Give this thread's slot back for a long task, take one again after it (queued
        like a new run). Outside a slot (or without a limit) it does nothing."""
        if self.limit is None or not getattr(self._held, "on", False):
            yield
            return
        self._release()
        try:
            yield
        finally:
            self._acquire()

    def _acquire(self) -> None:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                ticket = None
            else:
                ticket = threading.Event()
                self._waiting.append(ticket)
        if ticket is not None:
            ticket.wait()  # the releasing run handed its slot to this one
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        self._held.on = True

    def _release(self) -> None:
        self._held.on = False
        with self._lock:
            self.active -= 1
            if self._waiting:
                self._waiting.pop(0).set()  # handed on: the slot stays taken
            else:
                self._free += 1


_slots: Slots | None = None
_first: Slots | None = None
_slots_lock = threading.Lock()


def slots() -> Slots:
    """The process's slots (limit read from the environment once)."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = Slots(limit_from(os.environ))
        return _slots


def first_slots() -> Slots:
    """The slots for the first run of a session on this process (``LAGEBILD_MAX_FIRST_RUNS``)."""
    global _first
    with _slots_lock:
        if _first is None:
            _first = Slots(limit_from(os.environ, FIRST_ENV))
        return _first
