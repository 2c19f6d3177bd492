"""Pre-warming at server start: what the first visitor would otherwise wait for.

``app.py`` (the server that ``make run`` and the service start) calls :func:`start` when
Streamlit loads it, i.e. while the server is still starting and before any browser has
loaded the page. A background thread then does the first session's fixed work ahead of it,
through the very cached functions the pages call (same cache keys, so the first script run
finds them filled or waits for the computation already under way):

- imports the modules the pages need (pandas, folium and its ~100 Jinja templates, the
  app's own modules; not streamlit-folium, whose component registers itself only when it is
  imported during a script run),
- opens the current data folder's bundle (small tables and the prepared form,
  :func:`ui.cache.load_bundle`) — only when its prepared form is current: a missing or stale
  one is rebuilt by the first session, under its progress message,
- builds the spatial model at the default resolution for the local single-user view (no
  login configured; with login, each role's restricted view is built at its first visit).

Nothing here changes what a session shows: a failure is logged and the first session does
the work as before (and reports any data error on its page). The database store
(``LAGEBILD_DB``) is not pre-warmed here (its generation is read per session); each new
generation is made ready by the replica's listener before its sessions switch to it
(:func:`ui.cache.ready_generation`).
``LAGEBILD_PREWARM=0`` turns it off.
"""

from __future__ import annotations

import inspect
import os
import threading
import time

from streamlit.logger import get_logger

_LOG = get_logger(__name__)  # Streamlit's logging set-up: the server's log shows the steps
ENV = "LAGEBILD_PREWARM"
_started: list[threading.Thread] = []


def warm() -> dict[str, float]:
    """Do the first session's fixed work now; returns seconds per step (for the log)."""
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    # Not streamlit-folium: it registers its component only when imported in a script run
    # (ui.foliumview imports it at first use); but what it imports (folium.plugins: ~50 more
    # Jinja templates compiled at import).
    import folium.plugins  # noqa: F401

    from ui import chrome, widgets  # (pandas, folium and its templates, the app's modules)
    from viz import pagedata  # noqa: F401

    # Streamlit's first element of the process checks for a REPL with inspect.stack(), which
    # maps every loaded module to its file (realpath of each) once: fill that cache now.
    inspect.stack()
    steps["imports"] = time.perf_counter() - t0
    if os.environ.get("LAGEBILD_DB", "").strip() and not os.environ.get("LAGEBILD_DATA", "").strip():
        return steps
    from data.filters import Filters
    from data.roles import LOCAL_ADMIN
    from data.sources import resolve, signature
    from geo import prepared
    from ui import auth, cache

    source = resolve()
    if not source.folder.is_dir() or not prepared.is_current(source.folder):
        return steps  # the first session prepares it, with a progress message
    t1 = time.perf_counter()
    sig = signature(source.folder)
    bundle = cache.load_bundle(str(source.folder), sig)
    steps["bundle"] = time.perf_counter() - t1
    if auth.auth_configured():
        return steps
    t2 = time.perf_counter()
    principal = LOCAL_ADMIN
    view = cache.restricted_bundle(str(source.folder), sig, principal.scope_key, bundle, principal)
    quarter = view.quarters()[-1]  # the model does not depend on the filters
    ctx = chrome.Context(lang=chrome.DEFAULT_LANG, filters=Filters(quarter, quarter),
                         bundle=view, source=source, signature=cache.view_signature(sig, principal.scope_key),
                         principal=principal)
    widgets.spatial_model(ctx)
    steps["model"] = time.perf_counter() - t2
    return steps


def _run() -> None:
    t0 = time.perf_counter()
    try:
        steps = warm()
    except Exception:  # the first session does the work (and shows any data error)
        _LOG.exception("pre-warming failed after %.2f s", time.perf_counter() - t0)
        return
    _LOG.info("pre-warmed in %.2f s (%s)", time.perf_counter() - t0,
              ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()))


def start() -> threading.Thread | None:
    """Start pre-warming in a background thread (once per process); None when turned off."""
    if os.environ.get(ENV, "1").strip() == "0":
        return None
    if not _started:
        # not a daemon: a server stopped while it reads the prepared form (pyarrow) waits for
        # it instead of hanging or crashing in the interpreter's finalisation
        thread = threading.Thread(target=_run, name="lagebild-prewarm", daemon=False)
        thread.start()
        _started.append(thread)
    return _started[0]
