"""The database store at the page edge: ``st.connection`` (SQLConnection) for ``LAGEBILD_DB``.

Streamlit caches the connection (one SQLAlchemy engine and pool per replica); the logic in
:mod:`data.dbstore` receives that engine and never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.connections import SQLConnection

from data.dbstore import DbStore, database_url
from data.store import Store
from data.storeapi import StoreLike

CONNECTION = "lagebild_db"


def connection(url: str) -> SQLConnection:
    """The replica's connection to the database store (cached by Streamlit per URL)."""
    return st.connection(CONNECTION, type=SQLConnection, url=url, pool_pre_ping=True,
                         pool_size=5, max_overflow=10)


def page_store(preparer: Callable[[Path], object] | None = None) -> StoreLike:
    """The store the Daten page works on: the database when ``LAGEBILD_DB`` is set, else files;
    ``preparer`` builds the prepared form of each new generation."""
    url = database_url()
    if url:
        return DbStore(connection(url).engine, preparer=preparer)
    return Store(preparer=preparer)
