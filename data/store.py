"""The local store of imported data: versioned, atomic, loadable.

Layout under the store root (``data/store`` by default, env ``LAGEBILD_STORE``)::

    HEAD.json                 the whole state: current generation, active source switch,
                              history of every import/restore, remembered mappings
    generations/000001/       a complete data folder (data/folder.py layout, load_folder
    generations/000002/       works on it), one per import or restore; never modified
    cache/geocode.sqlite      geocoding cache (not versioned, not part of the state)
    plans/<plan_id>/v….json   saved patrol plans, versioned (data/plans.py)

Rules:

* **All or nothing.** An import is validated completely before anything is written. The
  new generation is written into a staging directory inside the root, fsynced, checked
  by reading it back with :func:`data.folder.read_folder` (the large data sets, complaints
  and pings, in Parquet row batches: the same errors as read whole, bounded memory),
  renamed into ``generations/``, and only then does ``HEAD.json`` (written to a temp
  file, fsynced, ``os.replace``d) point at it. Any failure or interruption before that last step removes
  what was written, so the store stays byte-for-byte as it was.
* **Nothing lost.** Every generation stays on disk; unchanged data sets are hard links to
  the previous generation's files (copies where links are impossible). A restore writes a
  new generation with the old data set, so it can be undone as well.
* **Data sets not imported yet are empty** (a fresh store has empty districts,
  categories, …). The store can be *activated* (the app shows it instead of the demo)
  once it holds districts and complaints or patrols (the app shows quarters).
* **Consistency on commit** (each reported as a note of the version):
  categories used by complaints but missing from the categories table are added
  (field ``default_field``, the key as German label); patrols whose district no longer
  exists lose their ``district_id``; GPS points of patrols that no longer exist are
  removed from the new generation (the previous generation keeps them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from data import contracts
from data.contracts import DATASETS, TZ
from data.folder import META_FILE, read_folder, write_dataset
from data.importers.errors import ImportError_
from data.importers.geocoding import GeocodeCache
from data.importers.mapping import shape_key
from data.plans import PlanArchive

if TYPE_CHECKING:
    from data.importers.pipeline import ImportReport

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_ROOT = DATA_DIR / "store"
DEMO_FOLDER = DATA_DIR / "demo"
HEAD_FILE = "HEAD.json"
GENERATIONS = "generations"
STORE_NAME = "Importierte Daten"
FORMAT = 1


class StoreError(ImportError_):
    """The store refuses an operation (message in German/English like ImportError_)."""


_STORE_MESSAGES = {
    "store_empty": ("Der Speicher {root} enthält noch keine importierten Daten.",
                    "The store {root} holds no imported data yet."),
    "store_no_districts": (
        "Die importierten Daten enthalten noch keine Bezirke: bitte zuerst Bezirke importieren.",
        "The imported data holds no districts yet: please import districts first."),
    "store_no_quarters": (
        "Die importierten Daten enthalten noch keine Beschwerden oder Streifen: die App braucht "
        "mindestens eines davon.",
        "The imported data holds no complaints or patrols yet: the app needs at least one of them."),
    "store_unknown_version": ("Version {generation} gibt es im Speicher nicht (vorhanden: {known}).",
                              "Version {generation} does not exist in the store (known: {known})."),
    "store_invalid": ("Die neue Version wäre nicht ladbar, Speicher unverändert: {detail}",
                      "The new version would not load, store unchanged: {detail}"),
    "store_corrupt": ("Der Speicher {root} ist beschädigt: {detail}",
                      "The store {root} is damaged: {detail}"),
    "store_nothing": ("Nichts zu importieren: kein gültiger Datensatz.",
                      "Nothing to import: no valid record."),
}


def _register_messages() -> None:
    from data.importers import messages

    for key, texts in _STORE_MESSAGES.items():
        messages.MESSAGES.setdefault(key, texts)


_register_messages()


@dataclass(frozen=True)
class Version:
    """One version of one data set (a generation that changed it)."""

    dataset: str
    generation: int
    time: str  # ISO 8601, Europe/Berlin
    action: str  # "import", "restore" or "auto" (changed to keep the data consistent)
    source: str | None  # file name of the import, or what was restored
    records: int
    rejected: int
    current: bool
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.generation, "time": self.time,
                "action": self.action, "source": self.source, "records": self.records,
                "rejected": self.rejected, "current": self.current, "notes": list(self.notes)}


def _now() -> str:
    return pd.Timestamp.now(tz=TZ).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


def _read_one(folder: Path, name: str) -> pd.DataFrame:
    """One canonical data set of a data folder (empty when the file is absent)."""
    from data import folder as folder_mod

    path = folder_mod._find(folder, name)
    if path is None:
        return contracts.empty_frame(name)
    raw = folder_mod._read_geojson(path) if path.suffix == ".geojson" else folder_mod._read_table(path)
    if raw.empty and len(raw.columns) == 0:
        return contracts.empty_frame(name)
    frame, errors = contracts.validate(name, raw)
    if not errors.empty:
        raise StoreError("store_corrupt", root=str(folder),
                         detail="; ".join(contracts.format_errors(errors, limit=3)))
    return frame


class Store:
    """Imported data sets, versioned under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path | None = None,
                 preparer: Callable[[Path], object] | None = None) -> None:
        """``preparer`` (geo.prepared's, handed in by the app or ``python -m data``) builds
        the prepared form of every generation before it becomes visible."""
        if root is None:
            root = os.environ.get("LAGEBILD_STORE") or DEFAULT_ROOT
        self.root = Path(root)
        self.preparer = preparer

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- state ---------------------------------------------------------------------------------
    @property
    def head_path(self) -> Path:
        return self.root / HEAD_FILE

    def _head(self) -> dict[str, Any]:
        if not self.head_path.exists():
            return {"format": FORMAT, "generation": 0, "active": False, "history": [], "mappings": {}}
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError("store_corrupt", root=str(self.root), detail=f"{HEAD_FILE}: {exc}") from None
        head.setdefault("mappings", {})
        head.setdefault("history", [])
        return head

    def _write_head(self, head: dict[str, Any]) -> None:
        tmp = self.root / f".{HEAD_FILE}.{uuid.uuid4().hex}.tmp"
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(head, fh, ensure_ascii=False, indent=1)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.head_path)
            _fsync_dir(self.root)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive lock on the root directory (no lock file is created)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: single user
            yield
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def generation(self) -> int:
        """The current generation number (0: nothing imported yet)."""
        return int(self._head()["generation"])

    def generation_folder(self, generation: int) -> Path:
        return self.root / GENERATIONS / f"{generation:06d}"

    def current_folder(self) -> Path | None:
        """The current generation's data folder (whether active or not), None if empty."""
        gen = self.generation
        return self.generation_folder(gen) if gen else None

    def is_active(self) -> bool:
        return bool(self._head().get("active")) and self.generation > 0

    def active_folder(self) -> Path | None:
        """The folder the app should load instead of the demo, or None (use the demo)."""
        head = self._head()
        if not head.get("active") or not head["generation"]:
            return None
        folder = self.generation_folder(int(head["generation"]))
        return folder if folder.is_dir() else None

    def can_activate(self) -> StoreError | None:
        """Why the store cannot be shown by the app yet (None: it can).

        The app needs districts and at least one complaint or patrol (it shows quarters).
        """
        return activation_problem(self)

    def activate(self) -> None:
        """Show the imported data in the app (see :meth:`can_activate`)."""
        problem = self.can_activate()
        if problem is not None:
            raise problem
        self._set_active(True)

    def deactivate(self) -> None:
        """Show the demo data in the app (the imported data stays in the store)."""
        if self.head_path.exists():
            self._set_active(False)

    def _set_active(self, value: bool) -> None:
        with self._lock():
            head = self._head()
            if bool(head.get("active")) != value:
                head["active"] = value
                self._write_head(head)

    # --- reading -------------------------------------------------------------------------------
    def read_dataset(self, name: str) -> pd.DataFrame:
        """A data set of the current generation in canonical form (empty if none)."""
        contracts.spec(name)
        folder = self.current_folder()
        if folder is None:
            return contracts.empty_frame(name)
        return _read_one(folder, name)

    def frames(self, generation: int | None = None) -> dict[str, pd.DataFrame]:
        """All data sets of a generation (default: the current one)."""
        gen = self.generation if generation is None else generation
        if not gen:
            return {name: contracts.empty_frame(name) for name in DATASETS}
        folder = self.generation_folder(gen)
        return {name: _read_one(folder, name) for name in DATASETS}

    def status(self) -> dict[str, Any]:
        """What is loaded: generation, active switch, and per data set its current version."""
        head = self._head()
        current = {v.dataset: v for v in self.versions() if v.current}
        datasets = {}
        for name in DATASETS:
            v = current.get(name)
            datasets[name] = ({"version": v.generation, "time": v.time, "source": v.source,
                               "action": v.action, "records": v.records, "rejected": v.rejected}
                              if v else {"version": None, "time": None, "source": None,
                                         "action": None, "records": 0, "rejected": 0})
        return {"root": str(self.root), "generation": int(head["generation"]),
                "active": bool(head.get("active")) and int(head["generation"]) > 0,
                "datasets": datasets}

    def versions(self, dataset: str | None = None) -> list[Version]:
        """Versions, newest first (of one data set, or of all)."""
        if dataset is not None:
            contracts.spec(dataset)
        head = self._head()
        latest: dict[str, int] = {}
        for entry in head["history"]:
            for name in entry["datasets"]:
                latest[name] = max(latest.get(name, 0), int(entry["generation"]))
        out = []
        for entry in reversed(head["history"]):
            for name, info in entry["datasets"].items():
                if dataset is not None and name != dataset:
                    continue
                gen = int(entry["generation"])
                out.append(Version(dataset=name, generation=gen, time=entry["time"],
                                   action=info.get("action", entry["action"]),
                                   source=info.get("source"), records=int(info.get("records", 0)),
                                   rejected=int(info.get("rejected", 0)), current=latest[name] == gen,
                                   notes=tuple(entry.get("notes", ()))))
        return out

    def remembered_mapping(self, kind: str, columns: Sequence[str]) -> dict[str, str] | None:
        """The mapping of the last successful import of a file with exactly these columns."""
        if not self.head_path.exists():
            return None
        entry = self._head()["mappings"].get(shape_key(kind, columns))
        return dict(entry["mapping"]) if entry else None

    def geocode_cache(self) -> GeocodeCache:
        return GeocodeCache(self.root / "cache" / "geocode.sqlite")

    def plans(self) -> PlanArchive:
        """Saved patrol plans (``<root>/plans``, versioned; see :mod:`data.plans`)."""
        return PlanArchive(self.root / "plans")

    # --- writing -------------------------------------------------------------------------------
    def commit(self, report: ImportReport, default_field: str = "oeffentliche_raeume",
               release: bool = False) -> Version:
        """Store the accepted records of ``report`` as the new version of its data set.

        ``release``: the report hands its records over (:meth:`ImportReport.release_frame`) and
        they are freed once written, before the new version is re-read and prepared (bounded
        memory of large imports, issue #15)."""
        if report.records_accepted == 0:
            raise StoreError("store_nothing")
        info = {report.kind: {"source": report.source_name, "records": report.records_accepted,
                              "rejected": report.records_rejected, "action": "import"}}
        # a report marked for hand-over (the command line) gives up its records: only the
        # store holds them, and frees them once written (before the new version is re-read)
        changes = {report.kind: report.release_frame() if release else report.frame}
        for name, frame in getattr(report, "related", {}).items():  # a GPS import: patrols too
            changes[name] = frame
            info[name] = {"source": report.source_name, "records": len(frame), "rejected": 0,
                          "action": "import"}
        memory = None
        if report.mapping and report.columns:
            memory = (shape_key(report.kind, report.columns),
                      {"kind": report.kind, "columns": sorted(report.columns),
                       "mapping": report.mapping, "time": _now()})
        return self._write(changes, info, action="import", source=report.source_name,
                           new_categories=report.new_categories, memory=memory,
                           default_field=default_field, notes=[], release=release)

    def restore(self, generation: int, dataset: str | None = None) -> Version:
        """Make ``dataset`` (or every data set) as it was in ``generation`` current again.

        Writes a new generation, so the restore itself can be undone.
        """
        head = self._head()
        known = [int(e["generation"]) for e in head["history"]]
        if generation not in known or not self.generation_folder(generation).is_dir():
            raise StoreError("store_unknown_version", generation=generation,
                             known=", ".join(map(str, known)) or "—")
        changes, info = restore_changes(self.frames(generation), self._meta(generation), generation,
                                        dataset)
        return self._write(changes, info, action="restore", source=f"Version {generation}",
                           restored_from=generation, notes=[])

    def _meta(self, generation: int) -> dict[str, Any]:
        path = self.generation_folder(generation) / META_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write(self, changes: dict[str, pd.DataFrame], info: dict[str, dict[str, Any]], *, action: str,
               source: str, new_categories: pd.DataFrame | None = None,
               memory: tuple[str, dict[str, Any]] | None = None,
               default_field: str = "oeffentliche_raeume", restored_from: int | None = None,
               notes: list[str], release: bool = False) -> Version:
        created_root = not self.root.exists()
        staging: Path | None = None
        target: Path | None = None
        committed = False
        written = set(changes)  # the data sets asked for (changes may be freed on the way)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._lock():
                head = self._head()
                gen = int(head["generation"]) + 1
                frames = self._base(int(head["generation"]), set(changes))
                frames.update({k: v.reset_index(drop=True) for k, v in changes.items()})
                self._complete(frames, int(head["generation"]))
                changed = set(changes)
                if new_categories is not None and len(new_categories):
                    cats = frames["categories"]
                    add = new_categories[~new_categories["category"].isin(set(cats["category"]))]
                    if len(add):
                        frames["categories"] = pd.concat([cats, add], ignore_index=True)
                        changed.add("categories")
                        info.setdefault("categories", {"source": f"auto ({source})", "action": "auto",
                                                       "records": len(frames["categories"]),
                                                       "rejected": 0})
                notes = list(notes) + _reconcile(frames, changed, info, source, default_field)
                partial = {n for n in LARGE if frames[n].attrs.get(_PARTIAL)}
                if partial & changed:  # pragma: no cover - _complete reads what may change
                    raise AssertionError(f"only some columns read of {sorted(partial & changed)}")
                for name in changed:
                    info[name]["records"] = len(frames[name])
                staging = self.root / f".staging-{uuid.uuid4().hex}"
                staging.mkdir()
                previous = self.current_folder() if head["generation"] else None
                for name in DATASETS:
                    self._place(name, frames[name], staging, previous, name in changed)
                if release:  # written: the frames are read back from the files below
                    frames.clear()
                    changes.clear()
                    _release_memory()
                time = _now()
                old_meta = self._meta(int(head["generation"])) if head["generation"] else {}
                sources = dict(old_meta.get("sources", {}))
                for name in changed:
                    sources[name] = {"version": gen, "time": time, **info[name]}
                meta = {"name": STORE_NAME, "synthetic": False, "generation": gen, "created": time,
                        "sources": sources}
                (staging / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")
                # the whole new version is checked as it was written (the large data sets in
                # row batches: what is held is one batch, not millions of records)
                _, _, errors = read_folder(staging, stream=LARGE)
                _release_memory()  # what the check's batches held, before the preparer's
                if not errors.empty:
                    raise StoreError("store_invalid",
                                     detail="; ".join(contracts.format_errors(errors, limit=5)))
                if self.preparer is not None:  # the generation comes with its prepared form
                    self.preparer(staging)
                _fsync_tree(staging)
                target = self.generation_folder(gen)
                target.parent.mkdir(exist_ok=True)
                if target.exists():  # an orphan of an earlier crash, never referenced by HEAD
                    shutil.rmtree(target)
                os.rename(staging, target)
                staging = None
                _fsync_dir(target.parent)
                entry = {"generation": gen, "time": time, "action": action, "source": source,
                         "datasets": {n: info[n] for n in sorted(changed)}, "notes": notes}
                if restored_from is not None:
                    entry["restored_from"] = restored_from
                head["generation"] = gen
                head["history"].append(entry)
                if memory is not None:
                    head["mappings"][memory[0]] = memory[1]
                self._write_head(head)
                committed = True
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            if not committed:
                if target is not None and target.exists():
                    shutil.rmtree(target, ignore_errors=True)
                gens = self.root / GENERATIONS
                if gens.exists() and not any(gens.iterdir()) and not self.head_path.exists():
                    gens.rmdir()
                if created_root and self.root.exists() and not any(self.root.iterdir()):
                    self.root.rmdir()
        versions = [v for v in self.versions() if v.generation == gen]
        primary = next((v for v in versions if v.dataset in written), versions[0])
        return primary

    def _base(self, generation: int, replaced: set[str]) -> dict[str, pd.DataFrame]:
        """The data sets of ``generation`` that a new generation replacing ``replaced`` keeps.

        Small data sets are read and validated whole. A large one (:data:`LARGE`) is linked
        unchanged into the new generation, so only what the consistency rules (:func:`_reconcile`)
        look at is read: the complaints' categories, the pings' patrol ids (see
        :meth:`_complete`). Replaced data sets are not read at all (an empty frame stands in)."""
        frames = {name: contracts.empty_frame(name) for name in DATASETS}
        if not generation:
            return frames
        folder = self.generation_folder(generation)
        for name in DATASETS:
            if name in replaced:
                continue
            if name in LARGE:
                frames[name] = _read_columns(folder, name, [_REFERENCE_COLUMN[name]])
            else:
                frames[name] = _read_one(folder, name)
        return frames

    def _complete(self, frames: dict[str, pd.DataFrame], generation: int) -> None:
        """Read the pings of ``generation`` whole when some lose their patrol in ``frames``
        (:func:`_reconcile` removes them, so they are written anew)."""
        points = frames["patrol_points"]
        if not points.attrs.get(_PARTIAL) or not len(points):
            return
        known = set(frames["patrols"]["patrol_id"])
        if (~points["patrol_id"].astype(object).isin(known)).any():
            frames["patrol_points"] = _read_one(self.generation_folder(generation), "patrol_points")

    @staticmethod
    def _place(name: str, frame: pd.DataFrame, staging: Path, previous: Path | None, changed: bool) -> None:
        """Write a changed data set fresh; link (or copy) an unchanged one from the previous generation."""
        if not changed and previous is not None:
            for src in sorted(previous.glob(f"{name}.*")):
                dst = staging / src.name
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
            if any(staging.glob(f"{name}.*")):
                return
        write_dataset(name, frame, staging)


#: Data sets read in parts or batches by a commit (never held whole when unchanged).
LARGE = ("complaints", "patrol_points")
#: The column of a large data set that the consistency rules (_reconcile) look at.
_REFERENCE_COLUMN = {"complaints": "category", "patrol_points": "patrol_id"}
_PARTIAL = "lagebild_partial"  # DataFrame.attrs flag: only some columns were read


def _read_columns(folder: Path, name: str, columns: list[str]) -> pd.DataFrame:
    """Some columns of a large data set of a committed generation (validated when it was
    committed): what the consistency rules need, without reading the records whole."""
    from data import folder as folder_mod

    path = folder_mod._find(folder, name)
    if path is None:
        return contracts.empty_frame(name)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path, columns=columns)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig", usecols=columns)
    frame.attrs[_PARTIAL] = True
    return frame


def _release_memory() -> None:
    """Return freed memory to the system (glibc's malloc_trim, Arrow's memory pool)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover
        pass


def _reconcile(frames: dict[str, pd.DataFrame], changed: set[str], info: dict[str, dict[str, Any]],
               source: str, default_field: str) -> list[str]:
    """Keep references valid (see the module docstring); returns notes (English)."""
    notes: list[str] = []
    cats = frames["categories"]
    used = set(frames["complaints"]["category"].dropna().unique())  # not per record (millions)
    missing = sorted(used - set(cats["category"]))
    if missing:
        add = pd.DataFrame({"category": missing, "field": default_field, "label_de": missing,
                            "label_en": None})
        frames["categories"] = pd.concat([cats, add], ignore_index=True)
        changed.add("categories")
        info.setdefault("categories", {"source": f"auto ({source})", "action": "auto", "rejected": 0})
        notes.append(f"{len(missing)} categories used by complaints were missing and were added "
                     f"(field {default_field}): {', '.join(missing[:10])}")
    known = set(frames["districts"]["district_id"].dropna())
    patrols = frames["patrols"]
    bad = patrols["district_id"].notna() & ~patrols["district_id"].isin(known)
    if bad.any():
        patrols = patrols.copy()
        patrols.loc[bad, "district_id"] = None
        frames["patrols"] = patrols
        changed.add("patrols")
        info.setdefault("patrols", {"source": f"auto ({source})", "action": "auto", "rejected": 0})
        notes.append(f"{int(bad.sum())} patrols referred to districts that no longer exist; "
                     f"their district_id was cleared")
    points = frames["patrol_points"]
    orphan = ~points["patrol_id"].astype(object).isin(set(frames["patrols"]["patrol_id"]))
    if orphan.any():
        frames["patrol_points"] = points[~orphan.to_numpy()].reset_index(drop=True)
        changed.add("patrol_points")
        info.setdefault("patrol_points", {"source": f"auto ({source})", "action": "auto", "rejected": 0})
        notes.append(f"{int(orphan.sum())} GPS points of patrols that no longer exist were removed "
                     f"(the previous version keeps them)")
    return notes


def data_folder(store: Store | None = None, demo: Path = DEMO_FOLDER) -> Path:
    """The folder the app loads: the store's active folder, else the demo."""
    store = store or Store()
    return store.active_folder() or demo


def activation_problem(store: Any) -> StoreError | None:
    """Why a store (the file store or the database store) cannot be shown by the app yet
    (None: it can): the app needs districts and at least one complaint or patrol."""
    if store.generation == 0:
        return StoreError("store_empty", root=str(store.root))
    if store.read_dataset("districts").empty:
        return StoreError("store_no_districts")
    counts = {k: v["records"] for k, v in store.status()["datasets"].items()}
    if not counts["complaints"] and not counts["patrols"]:
        return StoreError("store_no_quarters")
    return None


def restore_changes(old: dict[str, pd.DataFrame], meta: dict[str, Any], generation: int,
                    dataset: str | None) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]]]:
    """What a restore of ``dataset`` (or every data set) from ``generation`` writes (the frames
    ``old`` of that generation, its ``meta``): the changes and their version info. Shared by
    the file and the database store."""
    names = list(DATASETS) if dataset is None else [contracts.spec(dataset).name]
    sources = meta.get("sources", {})
    changes = {n: old[n] for n in names}
    info = {n: {"source": f"Version {generation}"
                + (f" ({sources[n]['source']})" if sources.get(n, {}).get("source") else ""),
                "records": len(old[n]), "rejected": 0, "action": "restore"} for n in names}
    return changes, info
