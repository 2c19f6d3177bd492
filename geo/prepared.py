"""Prepared data sets: everything derived from raw records that no filter changes, built once.

A data folder (data/folder.py layout) gets a ``prepared/`` folder beside its files, written
when the data set is written (store commit and restore, demo generation, ``python -m data
prepare DIR``) or, when missing or stale, by the app at start (with a progress message):

    prepared/manifest.json            format version, the fingerprint of the source files
                                      (the SHA-256 of each file), record counts, the
                                      newest complaint per district, quarters, data checks
    prepared/complaint_table.parquet  the complaint summary (DataBundle.complaint_table)
    prepared/cells_r{8,9,10}.parquet  the study cells (H3 id, district by centre, centre)
    prepared/neighbours_r{r}.parquet  ring-1 neighbour pairs of the study cells
    prepared/complaint_cube_r{r}.parquet  complaints by (cell, quarter, category, weekday,
                                      hour, district of the complaint): the H3 cell and the
                                      district membership of every complaint, summed; with
                                      ``key_sum``, the sum of their record keys (cell key
                                      method, data.privacy; the manifest's ``cell_key`` tags
                                      the secret: another secret means rebuild)
    prepared/presence_cube_r{r}.parquet   presence seconds by (cell, quarter, kind, weekday,
                                      hour): the H3 cell and dwell time of every ping, summed

The app then starts from these files and the small tables (districts, categories, patrols,
offices, staff incidents, focus areas): it never reads or holds the raw pings, and reads raw
complaints only for what needs single records (the coordinators' points layer), filtered on
read (:meth:`data.folder.DataBundle.records_between`).

API (for the app, the CLI, the import store and other stores):

* :func:`build_prepared` (bundle, pings) -> :class:`Prepared`: computes the prepared form
  from a validated :class:`~data.folder.DataBundle` (raw frames); ``pings`` is the
  ``patrol_points`` frame or an iterable of its chunks (streamed: never all rows at once).
* :func:`write_prepared` / :func:`read_prepared`: the files above.
* :func:`prepare_folder` (folder): validate a folder, build and write its prepared form
  (streams the pings from Parquet in chunks).
* :func:`is_current` (folder): whether ``prepared/`` exists and matches the source files.
* :func:`open_bundle` (folder, progress): what the app calls at start: the bundle of the small
  tables, the large ones left unread (lazy), with the prepared summaries attached; rebuilds
  a missing or stale prepared form first (``progress`` gets the messages).
* :meth:`Prepared.view` (resolution, districts): the cell index and both cubes of a
  resolution for the whole data set or a district subset (used by geo.model.build).

Staleness: the fingerprint is the SHA-256 of each source file's content. To avoid hashing
gigabytes at every start, the manifest also keeps each file's size and mtime; while both
match, the stored hash is trusted; when either differs (a copy, a new export, a git checkout)
the content is hashed again and a different hash means: rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data import contracts
from data.contracts import DATASETS, PATROL_KINDS, TZ
from data.folder import META_FILE, DataBundle, DataFolderError, load_folder, prepare_one
from data.periods import quarter_ordinals
from data.privacy import cell_key_secret, secret_tag
from geo import dosage, sums
from geo.cells import (
    RESOLUTIONS,
    CellIndex,
    build_cell_index,
    cell_codes,
    index_from_parts,
    index_parts,
    subset_index,
)
from geo.deferred import Deferred, deferrable

FORMAT_VERSION = 2  # 2: key sums (cell key method) in the complaint cubes and summary
PREPARED_DIR = "prepared"
MANIFEST = "manifest.json"
STAMPS = ".stamps.json"  # size and mtime of the source files when last hashed (local, not shipped)
LARGE = ("complaints", "patrol_points")  # never read whole by the app
#: Read by the app only when a page asks for them (the patrols: 417k rows at region scale, which
#: only the data quality view needs once the presence cubes are prepared).
OPENED_LAZY = (*LARGE, "patrols")
PING_CHUNK_ROWS = 2_000_000  # rows of pings per chunk when streaming
#: rows of complaints per chunk when streaming (a complaint chunk with its derived columns
#: and cubes takes about 500 bytes a row: 500,000 rows keep a commit of millions bounded)
COMPLAINT_CHUNK_ROWS = 500_000
#: Summaries a prepared bundle carries instead of its large data sets (DataBundle._cache keys).
SUMMARY_KEYS = ("complaint_table", "counts", "as_of", "as_of_by_district", "quarters",
                "patrol_quarters", "patrols_without_pings")

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- fingerprint -------------------------------------------------------------------------------

def source_files(folder: Path) -> list[Path]:
    """The files a prepared form derives from: the data sets and dataset.json."""
    names = {META_FILE} | {f"{n}.{ext}" for n in DATASETS for ext in ("csv", "parquet", "geojson")}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name in names)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_stamps(folder: Path, known: dict | None = None) -> dict[str, dict]:
    """name -> {size, mtime_ns, sha256}; a hash in ``known`` is reused while size and mtime match."""
    known = known or {}
    out = {}
    for path in source_files(folder):
        st = path.stat()
        old = known.get(path.name)
        if old and old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns:
            digest = old["sha256"]
        else:
            digest = _sha256(path)
        out[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    return out


def fingerprint(stamps: dict[str, dict]) -> str:
    """One hash over the content hashes of the source files (names included)."""
    h = hashlib.sha256()
    for name in sorted(stamps):
        h.update(f"{name}:{stamps[name]['sha256']};".encode())
    return h.hexdigest()[:32]


# --- the prepared form -------------------------------------------------------------------------

@dataclass(eq=False)
class Prepared:
    """The prepared form of one data set; cubes and cells are read per resolution on demand."""

    manifest: dict
    complaint_table: pd.DataFrame
    folder: Path | None = None  # where the files are (None: only in memory)
    #: Where a file missing from ``folder`` comes from, by name relative to it (None: nowhere).
    #: A replica of the database store (geo.dbbundle) starts with the files it needs first and
    #: reads the others (complaint cubes) from the database when they are first used.
    fetch: Callable[[str], bytes] | None = field(default=None, repr=False)
    _levels: dict = field(default_factory=dict, repr=False)  # resolution -> _Level
    _fetch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file(self, name: str) -> Path:
        """The path of the prepared file ``name``, fetched first if it is not there yet."""
        if self.folder is None:
            raise ValueError(f"a prepared form held only in memory has no files, got {name!r}")
        path = self.folder / name
        if self.fetch is not None and not path.is_file():
            with self._fetch_lock:  # one fetch per file, whichever thread asks first
                if not path.is_file():
                    body = self.fetch(name)
                    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
                    tmp.write_bytes(body)
                    os.replace(tmp, path)
        return path

    @property
    def fingerprint(self) -> str:
        return str(self.manifest["fingerprint"])

    def summaries(self) -> dict:
        """The DataBundle summaries (see :data:`SUMMARY_KEYS`) of the whole data set."""
        m = self.manifest
        by_district = {k or None: _timestamp(v) for k, v in m["as_of_by_district"].items()}
        return {"complaint_table": self.complaint_table, "counts": dict(m["counts"]),
                "as_of": _timestamp(m["as_of"]), "as_of_by_district": by_district,
                "quarters": list(m["quarters"]), "patrol_quarters": list(m["patrol_quarters"]),
                "patrols_without_pings": int(m["patrols_without_pings"])}

    def level(self, resolution: int) -> _Level:
        if resolution not in self._levels:
            if self.folder is None:
                raise ValueError(f"resolution {resolution} is not prepared, got "
                                 f"{sorted(self._levels)!r}")
            self._levels[resolution] = _read_level(self.file, resolution, self.manifest)
        return self._levels[resolution]

    def view(self, resolution: int, districts: Iterable[str] | None = None
             ) -> tuple[CellIndex, pd.DataFrame, pd.DataFrame]:
        """(cell index, complaint cube, presence cube) at ``resolution``.

        ``districts`` None: the whole data set; else the study area of those districts and
        the complaints that lie in them (data.roles.restrict), exactly what geo.dosage
        builds from the restricted raw records.
        """
        return self.level(resolution).view(None if districts is None else frozenset(districts))

    def view_deferred(self, resolution: int, districts: Iterable[str] | None = None
                      ) -> tuple[CellIndex, Deferred, pd.DataFrame]:
        """:meth:`view` with the complaint cube read and summed in the background: the cell
        index and presence cube now (what a first Übersicht needs), the complaint cube as a
        :class:`~geo.deferred.Deferred` (geo.model.build keeps it as such)."""
        level = self.level(resolution)
        wanted = None if districts is None else frozenset(districts)
        index, presence = level.view_presence(wanted)
        return index, Deferred(lambda: level.view_complaints(wanted)), presence


@dataclass(eq=False)
class _Level:
    index: CellIndex
    # cell, quarter, category, weekday, hour, district, count (read from the files: deferred,
    # read on first use or in the background, see view_deferred)
    complaints: pd.DataFrame = deferrable()  # type: ignore[assignment]  # noqa: RUF009 (a descriptor)
    presence: pd.DataFrame  # the presence cube of the whole data set
    district_ids: list[str]  # district codes of ``complaints``
    _areas: dict = field(default_factory=dict, repr=False)  # districts -> (index, cell remap)

    def view(self, wanted: frozenset[str] | None) -> tuple[CellIndex, pd.DataFrame, pd.DataFrame]:
        index, presence = self.view_presence(wanted)
        return index, self.view_complaints(wanted), presence

    def _area(self, wanted: frozenset[str] | None) -> tuple[CellIndex, np.ndarray | None]:
        """The cell index of the districts ``wanted`` (None: all) and the map from the whole
        set's cell codes (+1) to theirs (None: the same cells)."""
        if wanted is None:
            return self.index, None
        if wanted not in self._areas:
            in_view = np.isin(self.index.district.astype(str), sorted(wanted))
            remap = np.full(len(self.index.cells) + 1, -1, dtype=np.int64)
            remap[np.flatnonzero(in_view) + 1] = np.arange(int(in_view.sum()))
            self._areas[wanted] = (subset_index(self.index, in_view), remap)
        return self._areas[wanted]

    def view_presence(self, wanted: frozenset[str] | None) -> tuple[CellIndex, pd.DataFrame]:
        index, remap = self._area(wanted)
        if remap is None:
            return index, self.presence
        p = self.presence
        return index, dosage.presence_cube_from_rows(
            remap[p["cell"].to_numpy().astype(np.int64) + 1], p["quarter"].to_numpy(),
            p["kind"].cat.codes.to_numpy(), p["weekday"].to_numpy(), p["hour"].to_numpy(),
            p["seconds"].to_numpy(), len(index.cells))

    def view_complaints(self, wanted: frozenset[str] | None) -> pd.DataFrame:
        c = self.complaints
        if wanted is None:  # the whole data set: sum the district split away in one pass
            merged = sums.merge_district_rows(c)
            if merged is not None:
                return merged
        index, remap = self._area(wanted)
        categories = list(c["category"].cat.categories)
        cells = c["cell"].to_numpy().astype(np.int64)
        if remap is None:
            keep = np.ones(len(c), dtype=bool)
        else:
            codes = np.array([i in wanted for i in self.district_ids] + [False])
            keep = codes[c["district"].to_numpy().astype(np.int64)]  # code -1: no district
            cells = remap[cells + 1]
        return dosage.complaint_cube_from_rows(
            cells[keep], c["quarter"].to_numpy()[keep], c["category"].cat.codes.to_numpy()[keep],
            categories, c["weekday"].to_numpy()[keep], c["hour"].to_numpy()[keep],
            c["count"].to_numpy()[keep], len(index.cells), c["key_sum"].to_numpy()[keep])


def _timestamp(value: str | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).tz_convert(TZ)


# --- building ----------------------------------------------------------------------------------

def build_prepared(bundle: DataBundle, pings: pd.DataFrame | Iterable[pd.DataFrame] | None = None,
                   resolutions: Iterable[int] = RESOLUTIONS, progress: Progress | None = None,
                   complaints: pd.DataFrame | Iterable[pd.DataFrame] | None = None) -> Prepared:
    """The prepared form of a validated bundle (in memory; see :func:`write_prepared`).

    ``pings``: the ``patrol_points`` frame, an iterable of chunks of it (rows of one patrol
    contiguous and in time order across chunks, as written by the generator and the store),
    or None for ``bundle["patrol_points"]``. ``complaints``: likewise the complaints with
    their derived columns (data.folder.prepare_one), a frame or chunks of them, or None for
    ``bundle["complaints"]``. Every part is summed per chunk and the chunks' sums are
    combined, so the result does not depend on how the records were cut.
    """
    say = progress or (lambda _m: None)
    patrols = bundle["patrols"]
    districts = bundle["districts"]
    district_ids = [str(d) for d in districts["district_id"]]
    indexes = {}
    for r in resolutions:
        say(f"cells at resolution {r}")
        indexes[r] = build_cell_index(districts, r)
    secret = cell_key_secret(os.environ)
    acc = _ComplaintParts(indexes, district_ids, secret)
    for chunk in _chunks(complaints, lambda: bundle["complaints"]):
        acc.add(chunk)
        say(f"complaints: {acc.n:,}")
    levels_c = acc.cubes()
    parts: dict[int, list[pd.DataFrame]] = {r: [] for r in indexes}
    n_pings = 0
    with_pings: set[str] = set()
    for chunk in _whole_patrols(_chunks(pings, lambda: bundle["patrol_points"])):
        n_pings += len(chunk)
        with_pings.update(chunk["patrol_id"].astype(str).unique().tolist())
        lat, lon, *rest = dosage.presence_rows(chunk, patrols)
        for r, index in indexes.items():
            parts[r].append(dosage.presence_cube_from_rows(cell_codes(index, lat, lon), *rest,
                                                           len(index.cells)))
        say(f"presence: {n_pings:,} pings")
    levels = {}
    for r, index in indexes.items():
        presence = pd.concat(parts[r], ignore_index=True) if parts[r] else None
        if presence is not None and len(parts[r]) > 1:
            presence = dosage.presence_cube_from_rows(
                presence["cell"].to_numpy().astype(np.int64), presence["quarter"].to_numpy(),
                presence["kind"].cat.codes.to_numpy(), presence["weekday"].to_numpy(),
                presence["hour"].to_numpy(), presence["seconds"].to_numpy(), len(index.cells))
        if presence is None:
            presence = dosage.build_presence_cube(contracts.empty_frame("patrol_points"), patrols,
                                                  index)
        levels[r] = _Level(index=index, complaints=levels_c[r], presence=presence,
                           district_ids=district_ids)
    counts = {name: len(frame) for name, frame in bundle.frames.items()
              if name not in ("complaints", "patrol_points")}
    counts["complaints"] = acc.n
    counts["patrol_points"] = n_pings
    patrol_q = sorted(set(np.unique(quarter_ordinals(patrols["start"])).tolist())) if len(patrols) \
        else []
    quarters = sorted(q for q in acc.quarters | set(patrol_q) if q >= 0)
    manifest = {
        "format": FORMAT_VERSION,
        "cell_key": secret_tag(secret),
        "fingerprint": None, "files": {},
        "counts": {k: int(v) for k, v in counts.items()},
        "as_of": acc.as_of.isoformat() if acc.as_of is not None else None,
        "as_of_by_district": {str(k): v.isoformat() for k, v in acc.latest().items()
                              if pd.notna(v)},
        "quarters": quarters,
        "patrol_quarters": [q for q in patrol_q if q >= 0],
        "patrols_without_pings": int((~patrols["patrol_id"].astype(str).isin(with_pings)).sum()),
        "resolutions": sorted(indexes),
        "lattice": {},
    }
    return Prepared(manifest=manifest, complaint_table=acc.table(), folder=None,
                    _levels=levels)


def _chunks(given: pd.DataFrame | Iterable[pd.DataFrame] | None,
            whole: Callable[[], pd.DataFrame]) -> Iterable[pd.DataFrame]:
    if given is None:
        return [whole()]
    if isinstance(given, pd.DataFrame):
        return [given]
    return given


class _ComplaintParts:
    """What the prepared form derives from complaints, summed chunk by chunk.

    Each chunk gives its complaint cubes, its complaint summary (DataBundle.complaint_table)
    and its newest complaint per district; :meth:`cubes` and :meth:`table` combine the sums
    of all chunks (a sum of sums: the same as summing all complaints at once). A further
    additive column of a cube needs only a sum here and in :func:`_combine_cubes`.
    """

    def __init__(self, indexes: dict[int, CellIndex], district_ids: list[str], secret: str) -> None:
        self.indexes, self.district_ids, self.secret = indexes, district_ids, secret
        self._cubes: dict[int, list[pd.DataFrame]] = {r: [] for r in indexes}
        self._tables: list[pd.DataFrame] = []
        self._latest: list[pd.Series] = []
        self.n = 0
        self.as_of: pd.Timestamp | None = None
        self.quarters: set[int] = set()

    def add(self, chunk: pd.DataFrame) -> None:
        self.n += len(chunk)
        if not len(chunk) and self._tables:  # an empty chunk adds nothing (the first types)
            return
        keys = dosage.complaint_record_keys(chunk, self.secret)
        for r, index in self.indexes.items():
            self._cubes[r].append(_complaint_cube_by_district(chunk, index, self.district_ids, keys))
        self._tables.append(DataBundle(frames={"complaints": chunk}).complaint_table)
        received = chunk["received_at"]
        newest = received.max()
        if pd.notna(newest) and (self.as_of is None or pd.isna(self.as_of) or newest > self.as_of):
            self.as_of = newest  # (an empty chunk has no newest complaint)
        self._latest.append(chunk.groupby(chunk["district_id"].astype(object).fillna(""),
                                          sort=True)["received_at"].max())
        self.quarters.update(np.unique(chunk["quarter"]).tolist())

    def cubes(self) -> dict[int, pd.DataFrame]:
        empty = contracts.empty_frame("complaints")
        out = {}
        for r, index in self.indexes.items():
            parts = self._cubes[r]
            if not parts:
                out[r] = _complaint_cube_by_district(
                    _derived_empty(empty), index, self.district_ids, np.zeros(0))
            elif len(parts) == 1:
                out[r] = parts[0]
            else:
                out[r] = _combine_cubes(parts, len(index.cells), len(self.district_ids))
        return out

    def table(self) -> pd.DataFrame:
        if len(self._tables) == 1:
            return self._tables[0]
        if not self._tables:
            return DataBundle(frames={"complaints": _derived_empty(
                contracts.empty_frame("complaints"))}).complaint_table
        tables = _same_categories(self._tables)
        sums = [c for c in ("n", "key_sum") if c in tables[0].columns]  # additive columns
        keys = [c for c in tables[0].columns if c not in sums]
        return (pd.concat(tables, ignore_index=True)
                .groupby(keys, observed=True, dropna=False, sort=False)[sums].sum().reset_index())

    def latest(self) -> pd.Series:
        if not self._latest:
            return pd.Series(dtype=object)
        return pd.concat(self._latest).groupby(level=0, sort=True).max()


def _derived_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty complaints frame with the derived columns (as data.folder.prepare_one adds)."""
    frame = frame.copy()
    for col in ("quarter", "closed_quarter"):
        frame[col] = np.empty(0, np.int64)
    for col in ("weekday", "hour"):
        frame[col] = np.empty(0, np.int8)
    frame["district_id"] = pd.Series([], dtype=object)
    for col in ("district_id", "category", "field", "status", "source"):
        frame[col] = frame[col].astype("category")
    return frame


def _same_categories(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """The frames with each categorical column on one set of categories.

    Chunks typed with ``astype("category")`` have their own sorted categories; the whole
    set's are the sorted union of them (kept as they are when every chunk has the same).
    """
    out = [f.copy() for f in frames]
    for col in frames[0].columns:
        if not isinstance(frames[0][col].dtype, pd.CategoricalDtype):
            continue
        cats = [c for c in (f[col].cat.categories for f in frames) if len(c)]  # typed ones
        if not cats:
            continue
        if all(c.equals(cats[0]) for c in cats[1:]):
            union = cats[0]
        else:
            union = pd.Index(sorted(set().union(*(c.tolist() for c in cats))),
                             dtype=cats[0].dtype)
        for f in out:
            if not f[col].cat.categories.equals(union):
                f[col] = pd.Categorical(f[col].astype(object), categories=union)
    return out


def _combine_cubes(parts: list[pd.DataFrame], n_cells: int, n_districts: int) -> pd.DataFrame:
    """Complaint cubes of chunks summed into one (rows ascending by their key, as group_sum)."""
    parts = _same_categories(parts)
    cube = pd.concat(parts, ignore_index=True)
    categories = list(cube["category"].cat.categories)
    q = cube["quarter"].to_numpy().astype(np.int64)
    q0 = int(q.min())
    keys = [((cube["cell"].to_numpy().astype(np.int64) + 1), n_cells + 1),
            (q - q0, int(q.max()) - q0 + 1),
            (cube["category"].cat.codes.to_numpy().astype(np.int64), max(len(categories), 1)),
            (cube["weekday"].to_numpy().astype(np.int64), 7),
            (cube["hour"].to_numpy().astype(np.int64), 24),
            (cube["district"].to_numpy().astype(np.int64) + 1, n_districts + 1)]
    key = np.zeros(len(cube), dtype=np.int64)
    for values, size in keys:
        key = key * size + values
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    out = cube.iloc[first].reset_index(drop=True)
    for col in cube.columns:
        if col in ("cell", "quarter", "category", "weekday", "hour", "district"):
            continue
        values = cube[col].to_numpy()
        sums = np.bincount(inverse, weights=values.astype(np.float64), minlength=len(uniq))
        out[col] = np.rint(sums).astype(values.dtype) if values.dtype.kind in "iu" \
            else sums.astype(values.dtype)
    return out


def _complaint_cube_by_district(complaints: pd.DataFrame, index: CellIndex,
                                district_ids: list[str], keys: np.ndarray) -> pd.DataFrame:
    """Complaints by (cell, quarter, category, weekday, hour, district of the complaint), with
    the sum of their record keys ``keys``."""
    quarter, weekday, hour = dosage.time_parts(complaints["received_at"])
    cat = complaints["category"]
    if not isinstance(cat.dtype, pd.CategoricalDtype):
        cat = cat.astype("category")
    categories = [str(c) for c in cat.cat.categories]
    cat_codes = cat.cat.codes.to_numpy().astype(np.int64)
    dist = pd.Categorical(complaints["district_id"].astype(object), categories=district_ids)
    dist_codes = np.asarray(dist.codes, dtype=np.int64)
    keep = (quarter >= 0) & (cat_codes >= 0)
    cells = cell_codes(index, complaints["lat"].to_numpy()[keep],
                       complaints["lon"].to_numpy()[keep]).astype(np.int64)
    q = quarter[keep].astype(np.int64)
    if len(q) == 0:
        return pd.DataFrame({
            "cell": np.empty(0, np.int32), "quarter": np.empty(0, np.int32),
            "category": pd.Categorical([], categories=categories),
            "weekday": np.empty(0, np.int8), "hour": np.empty(0, np.int8),
            "district": np.empty(0, np.int16), "count": np.empty(0, np.int64),
            "key_sum": np.empty(0, np.float64)})
    q0 = int(q.min())
    (c, qq, k, w, h, d), (sums, key_sum) = dosage.group_sums(
        [(cells + 1, len(index.cells) + 1), (q - q0, int(q.max()) - q0 + 1),
         (cat_codes[keep], max(len(categories), 1)), (weekday[keep].astype(np.int64), 7),
         (hour[keep].astype(np.int64), 24), (dist_codes[keep] + 1, len(district_ids) + 1)],
        [np.ones(int(keep.sum())), keys[keep]])
    return pd.DataFrame({
        "cell": (c - 1).astype(np.int32), "quarter": (qq + q0).astype(np.int32),
        "category": pd.Categorical.from_codes(k.astype(np.int32), categories=categories),
        "weekday": w.astype(np.int8), "hour": h.astype(np.int8),
        "district": (d - 1).astype(np.int16), "count": np.rint(sums).astype(np.int64),
        "key_sum": key_sum})


def _whole_patrols(chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Re-cut chunks of pings so that no patrol is split (its dwell times need every ping).

    The rows of the last patrol of a chunk are held back and joined to the next chunk.
    Raises ValueError when a patrol shows up again after other patrols (not contiguous).
    """
    carry: pd.DataFrame | None = None
    done: set[str] = set()
    for chunk in chunks:
        if carry is not None and len(carry):
            chunk = pd.concat([carry, chunk], ignore_index=True)
        if not len(chunk):
            continue
        ids = chunk["patrol_id"].astype(str).to_numpy()
        last = ids[-1]
        other = np.flatnonzero(ids != last)
        start = int(other[-1]) + 1 if len(other) else 0  # the trailing run of the last patrol
        if last in set(ids[:start].tolist()):
            raise ValueError(f"patrol_points: the pings of a patrol are not contiguous, got "
                             f"{last!r} again")
        head, carry = chunk.iloc[:start], chunk.iloc[start:].reset_index(drop=True)
        if len(head):
            seen = set(pd.unique(ids[:start]).tolist())
            again = seen & done
            if again:
                raise ValueError(f"patrol_points: the pings of a patrol are not contiguous, got "
                                 f"{sorted(again)[:3]!r} again")
            done |= seen
            yield head.reset_index(drop=True)
    if carry is not None and len(carry):
        again = set(pd.unique(carry["patrol_id"].astype(str)).tolist()) & done
        if again:
            raise ValueError(f"patrol_points: the pings of a patrol are not contiguous, got "
                             f"{sorted(again)[:3]!r} again")
        yield carry


def stream_pings(folder: Path, patrol_ids: Iterable[str], chunk_rows: int = PING_CHUNK_ROWS
                 ) -> Iterator[pd.DataFrame]:
    """The validated pings of a folder in chunks (Parquet: row batches; CSV: read whole).

    Raises :class:`~data.folder.DataFolderError` naming the row (counted over the file) of
    the first invalid pings, as loading the whole folder would.
    """
    patrols = pd.DataFrame({"patrol_id": pd.Series(list(patrol_ids), dtype=object)})
    return stream_records(folder, "patrol_points", {"patrols": patrols}, chunk_rows)


def stream_records(folder: Path, name: str, small: dict[str, pd.DataFrame],
                   chunk_rows: int = PING_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The validated records of a large data set in chunks, with their derived columns.

    Parquet is read in row batches of ``chunk_rows``; CSV whole. Each chunk is validated
    (contracts.validate and the references into ``small``: patrols for pings, categories
    for complaints), ids that must be unique are checked across chunks, and the derived
    columns are added (data.folder.prepare_one; ``small`` gives districts and categories).
    Raises :class:`~data.folder.DataFolderError` naming the row counted over the file, as
    loading the whole folder would. Yields at least one (maybe empty) chunk.
    """
    parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
    unique = [f.name for f in contracts.SPECS[name].fields if f.unique]
    offset = 0
    hashes: dict[str, list[np.ndarray]] = {col: [] for col in unique}

    def checked(raw: pd.DataFrame) -> pd.DataFrame:
        nonlocal offset
        frame, errors = contracts.validate(name, raw)
        refs = contracts.check_references(
            {name: frame, **{k: v for k, v in small.items() if k in REFERENCES.get(name, ())}})
        errors = pd.concat([e for e in (errors, refs) if not e.empty], ignore_index=True) \
            if not refs.empty else errors
        if not errors.empty:
            errors = errors.copy()
            errors["row"] = errors["row"] + offset
            raise DataFolderError(folder, errors)
        for col in unique:
            hashes[col].append(pd.util.hash_array(frame[col].astype(str).to_numpy(dtype=object)))
        offset += len(frame)
        return prepare_one(name, frame, small) if name in DERIVED else frame

    def raw_chunks() -> Iterator[pd.DataFrame]:
        if parquet.exists():
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(parquet)
            for batch in pf.iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        elif csv.exists():
            yield pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""],
                              encoding="utf-8-sig")

    yielded = False
    for raw in raw_chunks():
        yield checked(raw)
        yielded = True
    for col, parts in hashes.items():
        if len(parts) > 1:
            _check_unique_across(folder, name, col, np.concatenate(parts))
    if not yielded:
        yield checked(contracts.empty_frame(name))


DERIVED = ("complaints", "staff_incidents", "offices", "patrols")  # data.folder.prepare
REFERENCES = {"patrol_points": ("patrols",), "complaints": ("categories",)}  # checked per chunk


def _check_unique_across(folder: Path, name: str, column: str, hashes: np.ndarray) -> None:
    """Raise DataFolderError when an id that must be unique repeats across chunks.

    ``hashes`` are 64-bit hashes of the ids in file order; a repeated hash is confirmed on
    the ids themselves (read again, one column) before it is reported.
    """
    if not pd.Series(hashes).duplicated().any():
        return
    path = folder / f"{name}.parquet"
    ids = pd.read_parquet(path, columns=[column])[column] if path.exists() else \
        pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""],
                    encoding="utf-8-sig", usecols=[column])[column]
    ids = ids.astype(object)
    dup = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)[:10]
        raise DataFolderError(folder, contracts.errors_frame(
            [(name, int(r) + 1, column, str(ids.iloc[r]), "duplicate id (already used above)")
             for r in rows]))


# --- files -------------------------------------------------------------------------------------

def prepared_dir(folder: Path) -> Path:
    return Path(folder) / PREPARED_DIR


def write_prepared(prepared: Prepared, folder: Path, stamps: dict[str, dict]) -> Path:
    """Write ``prepared`` beside the data of ``folder`` (replacing an older one, atomically)."""
    folder = Path(folder)
    target = prepared_dir(folder)
    staging = folder / f".{PREPARED_DIR}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        manifest = dict(prepared.manifest)
        manifest["files"] = {name: stamp["sha256"] for name, stamp in sorted(stamps.items())}
        manifest["fingerprint"] = fingerprint(stamps)
        (staging / STAMPS).write_text(json.dumps(stamps, indent=1) + "\n", encoding="utf-8")
        lattice = {}
        for r in manifest["resolutions"]:
            level = prepared.level(r)
            parts = index_parts(level.index)
            pd.DataFrame({"h3": parts["cells"].astype(str), "district": parts["district"],
                          "lat": parts["lat"], "lon": parts["lon"]}).to_parquet(
                staging / f"cells_r{r}.parquet", index=False)
            pd.DataFrame({"row": parts["nb_rows"].astype(np.int32),
                          "col": parts["nb_cols"].astype(np.int32)}).to_parquet(
                staging / f"neighbours_r{r}.parquet", index=False)
            matrix = parts["matrix"]
            lattice[str(r)] = None if matrix is None else np.asarray(matrix).ravel().tolist()
            level.complaints.to_parquet(staging / f"complaint_cube_r{r}.parquet", index=False)
            level.presence.to_parquet(staging / f"presence_cube_r{r}.parquet", index=False)
        manifest["lattice"] = lattice
        manifest["districts"] = prepared.level(manifest["resolutions"][0]).district_ids \
            if manifest["resolutions"] else []
        table = prepared.complaint_table
        manifest["table_categories"] = {
            col: str(table[col].cat.categories.dtype) for col in table.columns
            if isinstance(table[col].dtype, pd.CategoricalDtype)}
        table.to_parquet(staging / "complaint_table.parquet", index=False)
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
        if target.exists():
            old = folder / f".{PREPARED_DIR}-old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
            os.rename(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    prepared.manifest = manifest
    prepared.folder = target
    return target


def read_manifest(folder: Path) -> dict | None:
    path = prepared_dir(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _read_stamps(folder: Path) -> dict:
    try:
        stamps = json.loads((prepared_dir(folder) / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _write_stamps(folder: Path, stamps: dict) -> None:
    with contextlib.suppress(OSError):  # a read-only folder: hashed again next time
        (prepared_dir(folder) / STAMPS).write_text(json.dumps(stamps, indent=1) + "\n",
                                                   encoding="utf-8")


def is_current(folder: str | Path) -> bool:
    """Whether the folder's prepared form exists, has this format and matches its files."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != FORMAT_VERSION:
        return False
    if manifest.get("cell_key") != secret_tag(cell_key_secret(os.environ)):
        return False  # key sums made with another secret
    known = _read_stamps(folder)
    stamps = file_stamps(folder, known)
    if fingerprint(stamps) != manifest.get("fingerprint"):
        return False
    if stamps != known:  # same content, other mtimes (a copy, a checkout): remember them
        _write_stamps(folder, stamps)
    return True


def read_prepared(folder: str | Path) -> Prepared:
    """The prepared form of ``folder`` as stored (call :func:`is_current` first)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"no prepared form in {str(folder)!r}")
    table = pd.read_parquet(prepared_dir(folder) / "complaint_table.parquet")
    for col, dtype in manifest.get("table_categories", {}).items():  # as the raw path types them
        values = table[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats = pd.Index(values.cat.categories.astype(object), dtype=dtype)
            table[col] = pd.Categorical.from_codes(values.cat.codes, categories=cats)
    return Prepared(manifest=manifest, complaint_table=table, folder=prepared_dir(folder))


def _read_level(file: Callable[[str], Path], r: int, manifest: dict) -> _Level:
    """One resolution's files; ``file`` gives the path of a file by name (Prepared.file)."""
    cells = pd.read_parquet(file(f"cells_r{r}.parquet"))
    nb = pd.read_parquet(file(f"neighbours_r{r}.parquet"))
    matrix = manifest["lattice"].get(str(r))
    index = index_from_parts(r, cells["h3"].to_numpy(dtype=object),
                             cells["district"].to_numpy(dtype=object), cells["lat"].to_numpy(),
                             cells["lon"].to_numpy(), nb["row"].to_numpy(), nb["col"].to_numpy(),
                             None if matrix is None else np.asarray(matrix).reshape(3, 3))
    complaints = Deferred(lambda: pd.read_parquet(file(f"complaint_cube_r{r}.parquet")),
                          background=False)  # read when first used (view_deferred: in the background)
    presence = pd.read_parquet(file(f"presence_cube_r{r}.parquet"))
    if not isinstance(presence["kind"].dtype, pd.CategoricalDtype) or \
            list(presence["kind"].cat.categories) != list(PATROL_KINDS):
        presence["kind"] = pd.Categorical(presence["kind"].astype(str), categories=list(PATROL_KINDS))
    return _Level(index=index, complaints=complaints, presence=presence,
                  district_ids=list(manifest["districts"]))


def prepare_folder(folder: str | Path, progress: Progress | None = _stderr,
                   chunk_rows: int = PING_CHUNK_ROWS) -> Prepared:
    """Validate ``folder``, build its prepared form and write it beside the data.

    Raises :class:`~data.folder.DataFolderError` for an invalid folder (nothing written).
    """
    folder = Path(folder)
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    stamps = file_stamps(folder, _read_stamps(folder))
    say(f"preparing {folder} ...")
    bundle = load_folder(folder, lazy=LARGE)
    small = {n: bundle.frames[n] for n in ("districts", "categories", "patrols")}
    pings = stream_records(folder, "patrol_points", small, chunk_rows)
    complaints = stream_records(folder, "complaints", small, min(chunk_rows, COMPLAINT_CHUNK_ROWS))
    prepared = build_prepared(bundle, pings, progress=say, complaints=complaints)
    write_prepared(prepared, folder, stamps)
    say(f"prepared {folder} in {time.perf_counter() - t0:.1f} s")
    return prepared


def ensure_prepared(folder: str | Path, progress: Progress | None = _stderr) -> Prepared:
    """The current prepared form of ``folder``, rebuilt first when missing or stale."""
    folder = Path(folder)
    if not is_current(folder):
        say = progress or (lambda _m: None)
        say("prepared form missing or older than the data: rebuilding")
        try:
            prepare_folder(folder, progress)
        except OSError:  # a read-only folder: keep the prepared form in memory only
            bundle = load_folder(folder)
            return build_prepared(bundle, progress=progress)
    return read_prepared(folder)


def attach(bundle: DataBundle, prepared: Prepared) -> DataBundle:
    """Give ``bundle`` the prepared summaries and cubes (in place; returned for chaining)."""
    bundle._cache.update(prepared.summaries())
    bundle.prepared = prepared
    return bundle


def open_bundle(folder: str | Path, progress: Progress | None = _stderr) -> DataBundle:
    """The app's view of a data folder: small tables, prepared summaries, large sets unread.

    Rebuilds a missing or stale prepared form first. An invalid folder raises
    :class:`~data.folder.DataFolderError` (from the rebuild).
    """
    folder = Path(folder)
    prepared = ensure_prepared(folder, progress)
    if prepared.folder is None:  # built in memory (read-only folder): keep what was read
        return attach(load_folder(folder), prepared)
    return attach(load_folder(folder, lazy=OPENED_LAZY), prepared)


def prepare_hook(folder: Path) -> None:
    """For writers of data folders (the store, write_folder): prepare a folder just written.

    An invalid folder is left unprepared (the app reports its errors when it opens it).
    """
    try:
        prepare_folder(folder, progress=None)
    except (DataFolderError, ValueError) as exc:  # e.g. a store without districts yet
        _stderr(f"not prepared: {exc}")
