"""Cached loaders at the page edge. Every input of a cached function is a parameter."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from pathlib import Path

import streamlit as st

from base.i18n import register, t
from data.folder import DataBundle
from data.roles import Principal, restrict
from data.sources import DEMO_FOLDER, Source, resolve, signature
from geo import model as geo_model
from geo import prepared
from geo.model import SpatialModel
from viz.pagedata import RESOLUTIONS

#: For the import store of the app (imports, restores): each new generation gets prepared.
preparer = prepared.prepare_hook

register({"cache.preparing": ("Daten werden vorbereitet (einmalig nach einer Änderung) …",
                                "Preparing the data (once after a change) …")})

_opened: set[tuple[str, str]] = set()  # (folder, sig) whose prepared form was checked


@st.cache_resource(show_spinner=False, max_entries=4)
def load_bundle(folder: str, sig: str) -> DataBundle:
    """The data of a folder as the app uses it: small tables and the prepared form (the raw
    complaints and pings stay on disk); ``sig`` changes when its files change."""
    del sig  # part of the cache key only
    bundle = prepared.open_bundle(folder)
    gc.collect()  # once per data set: collect what is garbage, then exempt the long-lived
    gc.freeze()  # data from the collector's rescans on every rerun
    return bundle


@st.cache_resource(show_spinner=False, max_entries=2)
def load_db_bundle(url: str, generation: int, _engine: object) -> DataBundle:
    """One generation of the database store: its prepared cubes and small tables, never the
    raw pings (geo.dbbundle; cached per generation: every rerun of every session takes the
    current generation from the replica's listener (:func:`state_watcher`), so an import
    reaches every replica at its sessions' next rerun after the notification, never half)."""
    from data.dbstore import DbStore
    from geo.dbbundle import open_db_bundle

    bundle = open_db_bundle(DbStore(_engine), generation)  # type: ignore[arg-type]
    gc.collect()
    gc.freeze()
    return bundle


@st.cache_resource(show_spinner=False, on_release=lambda watcher: watcher.stop(timeout=0))
def state_watcher(url: str, _engine: object) -> object:
    """The replica's one listener on the store's state row (``LISTEN lagebild_state``,
    :class:`data.dbstore.watch.StateWatcher`): reruns read the current generation from it
    instead of querying PostgreSQL each time; while it is down it polls ``_engine`` (bounded).
    A new generation is made ready (:func:`ready_generation`) before reruns are given it."""
    from data.dbstore import read_state
    from data.dbstore.watch import StateWatcher

    return StateWatcher(url, lambda: read_state(_engine),  # type: ignore[arg-type]
                        ready=lambda state: ready_generation(url, state[0], _engine))


#: The principals whose views were drawn last (scope key -> principal, newest last): a new
#: generation is made ready for these before the replica's reruns switch to it.
_recent_views: dict[str, Principal] = {}
_RECENT_VIEWS = 2
_views_lock = threading.Lock()


def ready_generation(url: str, generation: int, engine: object) -> None:
    """Load a generation of the database store and build the spatial model of the views drawn
    last, through the cached functions the pages call (same keys), so that the sessions' first
    runs on it find them ready (called by the replica's listener, :class:`StateWatcher`)."""
    from data.dbstore import redact

    label = redact(url)
    folder, sig = str(_db_folder(label)), _db_sig(label, generation)
    bundle = load_db_bundle(label, generation, engine)
    with _views_lock:
        views = list(_recent_views.items())
    for scope, principal in views:
        view = _restricted(folder, sig, scope, bundle, principal)
        spatial_model(folder, view_signature(sig, scope), DEFAULT_RESOLUTION, view)


def _listens() -> bool:
    """Whether reruns take the store's state from the listener (``LAGEBILD_DB_LISTEN=0``: they
    read the row at every rerun, e.g. behind PgBouncer's transaction pooling)."""
    return os.environ.get("LAGEBILD_DB_LISTEN", "1").strip() != "0"


def store_written() -> None:
    """After this replica changed the database store's state (an import, a restore, a switch):
    read the state row now, so that its next run shows the change even if the notification
    has not reached the listener yet (other replicas get it from the notification)."""
    if not os.environ.get("LAGEBILD_DB", "").strip() or os.environ.get("LAGEBILD_DATA", "").strip():
        return
    if not _listens():
        return  # every rerun reads the row anyway
    from data.dbstore import database_url
    from ui import db

    url = database_url()
    if url:  # (the same cached watcher as _db_bundle's: keyed by the URL)
        # (the write is committed: if this read fails, the listener or the poll catches up)
        with contextlib.suppress(Exception):
            state_watcher(url, db.connection(url).engine).refresh()  # type: ignore[attr-defined]


def _db_folder(label: str) -> Path:
    """What stands for a folder in the cache keys of the database store's data sets."""
    return Path(label.replace("/", "_"))


def _db_sig(label: str, generation: int) -> str:
    """The signature of one generation of the database store (its cache keys)."""
    return f"db:{label}:{generation}"


def view_signature(sig: str, scope: str) -> str:
    """The signature of what one principal sees of a data set (``scope``:
    :attr:`Principal.scope_key`), the key of the caches derived from the restricted view."""
    return f"{sig}|{scope}"


def _db_bundle(url: str) -> tuple[Source, str, DataBundle | None, Exception | None] | None:
    """The database store's active generation, or None when it is not active (demo)."""
    from data.dbstore import read_state, redact
    from ui import db

    label = redact(url)
    source = Source(_db_folder(label), "db", None, label)
    try:
        engine = db.connection(url).engine
        if not _listens():
            generation, active = read_state(engine)  # ask at every rerun
        else:
            generation, active = state_watcher(url, engine).state()  # type: ignore[attr-defined]
    except Exception as exc:  # unreachable database or no schema: an error page, not a crash
        return source, f"db:{label}", None, exc
    if not active:
        return None
    source = Source(source.folder, "db", generation, label)
    sig = _db_sig(label, generation)
    try:
        return source, sig, load_db_bundle(label, generation, engine), None
    except Exception as exc:
        return source, sig, None, exc


def current_bundle(lang: str = "de") -> tuple[Source, str, DataBundle | None, Exception | None]:
    """Resolve the data source and load it (cached); errors are returned, not raised.

    ``LAGEBILD_DATA`` wins; then the database store when ``LAGEBILD_DB`` is set (its active
    generation, else the demo); then the file store's active import; else the demo. A data
    folder without a current prepared form is prepared first, under a progress message.
    """
    try:  # the database modules (SQLAlchemy) are imported only when a database is configured
        url = None
        if os.environ.get("LAGEBILD_DB", "").strip() and not os.environ.get("LAGEBILD_DATA", "").strip():
            from data.dbstore import database_url

            url = database_url()
    except ValueError as exc:
        return Source(DEMO_FOLDER, "db"), "db:invalid", None, exc
    if url:
        found = _db_bundle(url)
        if found is not None:
            return found
        source = Source(DEMO_FOLDER, "demo")  # the database store is not active (yet)
    else:
        source = resolve()
    sig = signature(source.folder)
    key = (str(source.folder), sig)
    try:
        if key not in _opened and source.folder.is_dir() and not prepared.is_current(source.folder):
            with st.spinner(t("cache.preparing", lang), show_time=True):
                bundle = load_bundle(*key)
        else:
            bundle = load_bundle(*key)
        _opened.add(key)
        return source, sig, bundle, None
    except Exception as exc:  # shown as an error page by the chrome
        return source, sig, None, exc


def restricted_bundle(folder: str, sig: str, scope: str, bundle: DataBundle, principal: Principal
                      ) -> DataBundle:
    """The part of a data set a principal may see (:func:`data.roles.restrict`), cached.

    ``scope`` (:attr:`Principal.scope_key`) determines the result; the bundle and the
    principal themselves are not hashed. The principal is remembered among the views drawn
    last (:func:`ready_generation`).
    """
    with _views_lock:
        _recent_views.pop(scope, None)
        _recent_views[scope] = principal
        while len(_recent_views) > _RECENT_VIEWS:
            del _recent_views[next(iter(_recent_views))]
    return _restricted(folder, sig, scope, bundle, principal)


@st.cache_resource(show_spinner=False, max_entries=16)
def _restricted(folder: str, sig: str, scope: str, _bundle: DataBundle, _principal: Principal) -> DataBundle:
    del folder, sig, scope
    return restrict(_bundle, _principal)


#: The cell size of the pages that do not choose one (and the default of those that do).
DEFAULT_RESOLUTION = RESOLUTIONS[0]


@st.cache_resource(show_spinner=False, max_entries=6)
def spatial_model(folder: str, sig: str, resolution: int, _bundle: DataBundle) -> SpatialModel:
    """Cells, per-record cell codes and presence cubes; built once per data set and resolution.

    ``folder``/``sig`` identify the data set (the bundle itself is not hashed).
    """
    del folder, sig
    built = geo_model.build(_bundle, resolution)
    gc.collect()  # once per data set: collect what is garbage, then exempt the long-lived
    gc.freeze()  # model from the collector's rescans on every rerun
    return built
