"""Cached loaders at the page edge. Every input of a cached function is a parameter."""

from __future__ import annotations

import gc

import streamlit as st

from data.folder import DataBundle, load_folder
from data.roles import Principal, restrict
from data.sources import Source, resolve, signature


@st.cache_resource(show_spinner=False, max_entries=4)
def load_bundle(folder: str, sig: str) -> DataBundle:
    """The validated data of a folder; ``sig`` changes when its files change."""
    del sig  # part of the cache key only
    bundle = load_folder(folder)
    gc.collect()  # once per data set: collect what is garbage, then exempt the long-lived
    gc.freeze()  # data from the collector's rescans on every rerun
    return bundle


def current_bundle() -> tuple[Source, str, DataBundle | None, Exception | None]:
    """Resolve the data source and load it (cached); errors are returned, not raised."""
    source = resolve()
    sig = signature(source.folder)
    try:
        return source, sig, load_bundle(str(source.folder), sig), None
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
