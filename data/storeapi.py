"""The store interface shared by the file store and the database store, and the choice.

``LAGEBILD_DB`` set (``postgresql+psycopg://...``): :class:`data.dbstore.DbStore`; else
the file store :class:`data.store.Store` under ``LAGEBILD_STORE`` (or ``data/store``).
Callers (CLI, Daten page, import pipeline) see only :class:`StoreLike`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

from data.importers.geocoding import GeocodeCache

if TYPE_CHECKING:
    from data.importers.pipeline import ImportReport
    from data.store import StoreError, Version


@runtime_checkable
class StoreLike(Protocol):
    """What every store promises (see data/store.py for the rules)."""

    root: Any  # where it lives: a directory, or the database URL without password

    @property
    def generation(self) -> int: ...

    def is_active(self) -> bool: ...

    def can_activate(self) -> StoreError | None: ...

    def activate(self) -> None: ...

    def deactivate(self) -> None: ...

    def read_dataset(self, name: str) -> pd.DataFrame: ...

    def frames(self, generation: int | None = None) -> dict[str, pd.DataFrame]: ...

    def status(self) -> dict[str, Any]: ...

    def versions(self, dataset: str | None = None) -> list[Version]: ...

    def remembered_mapping(self, kind: str, columns: Sequence[str]) -> dict[str, str] | None: ...

    def geocode_cache(self) -> GeocodeCache: ...

    def commit(self, report: ImportReport, default_field: str = ...) -> Version: ...

    def restore(self, generation: int, dataset: str | None = None) -> Version: ...


def open_store(root: str | Path | None = None, url: str | None = None,
               preparer: Callable[[Path], object] | None = None) -> StoreLike:
    """The configured store: ``url`` or ``LAGEBILD_DB`` (database), else the file store at
    ``root`` (default ``LAGEBILD_STORE`` or data/store). An explicit ``root`` wins over
    ``LAGEBILD_DB``."""
    from data.dbstore import DbStore, database_url
    from data.store import Store

    if root is None:
        url = url or database_url()
        if url:
            return DbStore(url, preparer=preparer)
    return Store(root, preparer=preparer)
