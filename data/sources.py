"""Which data folder the app shows: ``LAGEBILD_DATA``, the import store, or the demo city."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_FOLDER = REPO / "data" / "demo"
STORE_ROOT = REPO / "data" / "store"


@dataclass(frozen=True)
class Source:
    folder: Path
    kind: str  # "env", "store", "demo" or "db" (the database store, LAGEBILD_DB)
    generation: int | None = None  # the database store's generation shown ("db" only)
    label: str = ""  # where it comes from, for people (the database URL without password)


def resolve(env: Mapping[str, str] | None = None, store_root: Path | None = None) -> Source:
    """``LAGEBILD_DATA`` wins; then the store's active imported data; else the demo."""
    env = os.environ if env is None else env
    named = env.get("LAGEBILD_DATA", "").strip()
    if named:
        return Source(Path(named).expanduser(), "env")
    root = Path(env.get("LAGEBILD_STORE", "")) if env.get("LAGEBILD_STORE") else (
        store_root or STORE_ROOT)
    try:
        from data.store import Store  # the import store (optional until it exists)
    except ImportError:  # pragma: no cover - store module always present in releases
        return Source(DEMO_FOLDER, "demo")
    active = Store(root).active_folder() if root.exists() else None
    if active is not None:
        return Source(Path(active), "store")
    return Source(DEMO_FOLDER, "demo")


def signature(folder: Path) -> str:
    """Changes whenever a file of the folder changes (name, size or mtime): a cache key."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    else:
        h.update(b"missing")
    return h.hexdigest()[:16]
