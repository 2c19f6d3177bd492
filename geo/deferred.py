"""Values read in the background: a cube the first page does not need is read while it renders.

:class:`Deferred` starts computing a value in a background thread at once (one the
interpreter waits for at exit); :meth:`Deferred.get`
waits for it (and raises what the computation raised). :class:`deferrable` is a descriptor for
a dataclass field that may be given either the value or a :class:`Deferred`; reading the
field returns the value (waiting once), so callers never see the difference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Deferred:
    """``compute()`` run in a background thread (or at the first :meth:`get`, ``background=False``)."""

    def __init__(self, compute: Callable[[], Any], background: bool = True) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            # Not a daemon: the interpreter waits for it at exit. A daemon thread still
            # inside pyarrow (reading a cube) when the interpreter finalises hangs the process
            # or crashes it (seen: a short-lived process that exited while a cube was read).
            self._thread = threading.Thread(target=self._run, name="lagebild-deferred", daemon=False)
            self._thread.start()

    def _run(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self._value = self._compute()
            except BaseException as exc:  # handed to the reader in get()
                self._error = exc
            self._done = True
            self._compute = None  # type: ignore[assignment]

    def get(self) -> Any:
        if not self._done:
            self._run()  # waits for the background run (the lock) or computes now
        if self._error is not None:
            raise self._error
        return self._value


class deferrable:
    """A dataclass field holding a value or a :class:`Deferred` of it; reads give the value."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_deferred_{name}"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:  # no default: the field stays required
            raise AttributeError(self._slot)
        value = obj.__dict__[self._slot]
        if isinstance(value, Deferred):
            value = value.get()
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self._slot] = value

    def is_ready(self, obj: object) -> bool:
        value = obj.__dict__.get(self._slot)
        return not isinstance(value, Deferred) or value._done
