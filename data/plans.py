"""Saved patrol plans: versioned JSON documents kept beside the data (the store's plans area).

Layout under a plans root (``<store>/plans`` for saved plans, ``data/demo_plans`` for the
plan that ships with the demo city)::

    <plan_id>/v000001.json     {"plan_id", "version", "saved_at", "saved_by", "plan": {...}}
    <plan_id>/v000002.json     a later save of a plan with the same name

``plan_id`` is derived from the plan's name (lower-case letters, digits and dashes), so saving
a plan under the same name adds a version and never overwrites one. Each version is
written to a temporary file, fsynced and renamed into place. The plan document itself
(``geo.planning.plan_document``) is opaque here, except for ``name``, ``dataset``,
``settings.start``/``weeks`` and the ``district_id`` of places, visits and budgets, which
:func:`visible_part` uses to apply a principal's districts (the role rules hold for plans as
for data: a coordinator sees and saves only the part of a plan in their districts).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from data.contracts import TZ

DATA_DIR = Path(__file__).resolve().parent
DEMO_PLANS = DATA_DIR / "demo_plans"
_VERSION = re.compile(r"^v(\d{6})\.json$")
_MAX_BYTES = 20 * 1024 * 1024


def plan_id_of(name: str) -> str:
    """A file-safe id from a plan's name (``"Plan Q2/2026"`` -> ``"plan-q2-2026"``)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a plan needs a name, got {name!r}")
    ascii_name = unicodedata.normalize("NFKD", name.replace("ß", "ss")).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if not slug:
        raise ValueError(f"the plan name must contain a letter or digit, got {name!r}")
    return slug


@dataclass(frozen=True)
class SavedPlan:
    plan_id: str
    version: int
    name: str
    saved_at: str
    saved_by: str | None
    dataset: str | None
    start: str | None
    weeks: int | None
    districts: tuple[str, ...]
    versions: int
    shipped: bool = False


class PlanArchive:
    """Versioned plan documents under ``root`` (read-only for the shipped demo plans)."""

    def __init__(self, root: str | Path, read_only: bool = False) -> None:
        self.root = Path(root)
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"PlanArchive({str(self.root)!r}, read_only={self.read_only})"

    def _versions(self, plan_id: str) -> list[int]:
        folder = self.root / plan_id
        if not folder.is_dir():
            return []
        out = []
        for p in folder.iterdir():
            m = _VERSION.match(p.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def save(self, doc: dict[str, Any], saved_by: str | None = None, saved_at: str | None = None,
             ) -> SavedPlan:
        """Save ``doc`` as the next version of the plan with its name; returns what was saved.

        ``saved_at`` (ISO time) defaults to now; a fixed value makes the file reproducible
        (the shipped demo plan)."""
        if self.read_only:
            raise PermissionError(f"the plans under {self.root} are read-only")
        if not isinstance(doc, dict) or doc.get("kind") != "lagebild-plan":
            raise ValueError(f"not a Lagebild plan document, got {str(doc)[:80]!r}")
        plan_id = plan_id_of(str(doc.get("name", "")))
        folder = self.root / plan_id
        folder.mkdir(parents=True, exist_ok=True)
        version = (self._versions(plan_id) or [0])[-1] + 1
        record = {"plan_id": plan_id, "version": version,
                  "saved_at": saved_at or pd.Timestamp.now(tz=TZ).isoformat(timespec="seconds"),
                  "saved_by": saved_by, "plan": doc}
        text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        target = folder / f"v{version:06d}.json"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            os.chmod(tmp, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            if target.exists():  # a concurrent save took this number
                raise FileExistsError(f"plan version {target} exists already")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._summary(record, len(self._versions(plan_id)))

    def load(self, plan_id: str, version: int | None = None) -> dict[str, Any]:
        """The saved record (``plan`` holds the document); the newest version by default."""
        if not re.fullmatch(r"[a-z0-9-]{1,60}", str(plan_id)):
            raise ValueError(f"invalid plan id, got {plan_id!r}")
        versions = self._versions(plan_id)
        if not versions:
            raise KeyError(f"no plan {plan_id!r} under {self.root}")
        v = versions[-1] if version is None else int(version)
        if v not in versions:
            raise KeyError(f"plan {plan_id!r} has no version {version!r} (known: {versions})")
        path = self.root / plan_id / f"v{v:06d}.json"
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"plan file {path} is larger than {_MAX_BYTES} bytes")
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("plan"), dict):
            raise ValueError(f"plan file {path} holds no plan")
        return record

    def versions(self, plan_id: str) -> list[int]:
        return self._versions(plan_id)

    def list(self) -> list[SavedPlan]:
        """The newest version of every plan, newest save first (unreadable files skipped)."""
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or not re.fullmatch(r"[a-z0-9-]{1,60}", folder.name):
                continue
            try:
                record = self.load(folder.name)
            except (KeyError, ValueError, OSError):
                continue
            out.append(self._summary(record, len(self._versions(folder.name))))
        return sorted(out, key=lambda s: (s.saved_at, s.plan_id), reverse=True)

    def _summary(self, record: dict[str, Any], n_versions: int) -> SavedPlan:
        doc = record["plan"]
        settings = doc.get("settings") or {}
        return SavedPlan(plan_id=str(record["plan_id"]), version=int(record["version"]),
                         name=str(doc.get("name", record["plan_id"])),
                         saved_at=str(record.get("saved_at", "")),
                         saved_by=record.get("saved_by"), dataset=doc.get("dataset"),
                         start=settings.get("start"), weeks=settings.get("weeks"),
                         districts=plan_districts(doc), versions=n_versions, shipped=self.read_only)


def plan_districts(doc: dict[str, Any]) -> tuple[str, ...]:
    """The districts a plan document covers (its places' districts, else its settings')."""
    found = {str(p.get("district_id")) for p in doc.get("places") or [] if p.get("district_id")}
    if not found:
        found = set((doc.get("settings") or {}).get("districts") or [])
    return tuple(sorted(found))


def visible_part(doc: dict[str, Any], districts: tuple[str, ...] | None) -> dict[str, Any] | None:
    """The part of a plan document a principal with ``districts`` may see (None: all).

    Places, visits, excluded windows, budgets and used minutes of other districts are
    dropped (the city-wide pool ``*`` stays); ``None`` when no district of the plan is left.
    """
    if districts is None:
        return doc
    allowed = set(districts)
    own = [d for d in plan_districts(doc) if d in allowed]
    if not own:
        return None
    out = dict(doc)
    places = [p for p in doc.get("places") or [] if p.get("district_id") in allowed]
    ids = {p.get("place_id") for p in places}
    out["places"] = places
    out["visits"] = [v for v in doc.get("visits") or [] if v.get("district_id") in allowed]
    out["excluded"] = [e for e in doc.get("excluded") or [] if e.get("place_id") in ids]
    for key in ("budgets", "used"):
        out[key] = {d: v for d, v in (doc.get(key) or {}).items() if d in allowed or d == "*"}
    settings = dict(doc.get("settings") or {})
    settings["districts"] = own
    out["settings"] = settings
    out["partial"] = len(own) < len(plan_districts(doc))
    return out
