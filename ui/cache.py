"""Cached loaders at the page edge. Every input of a cached function is a parameter."""

from __future__ import annotations

import gc

import streamlit as st

from base.i18n import register, t
from data.folder import DataBundle
from data.roles import Principal, restrict
from data.sources import Source, resolve, signature
from geo import prepared

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


def current_bundle(lang: str = "de") -> tuple[Source, str, DataBundle | None, Exception | None]:
    """Resolve the data source and load it (cached); errors are returned, not raised.

    A data set without a current prepared form is prepared first, under a progress message.
    """
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


@st.cache_resource(show_spinner=False, max_entries=16)
def restricted_bundle(folder: str, sig: str, scope: str, _bundle: DataBundle, _principal: Principal
                      ) -> DataBundle:
    """The part of a data set a principal may see (:func:`data.roles.restrict`).

    ``scope`` (:attr:`Principal.scope_key`) determines the result; the bundle and the
    principal themselves are not hashed.
    """
    del folder, sig, scope
    return restrict(_bundle, _principal)
