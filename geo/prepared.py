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
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data import contracts
from data.contracts import DATASETS, PATROL_KINDS, TZ
from data.folder import META_FILE, DataBundle, DataFolderError, load_folder
from data.periods import quarter_ordinals
from data.privacy import cell_key_secret, secret_tag
from geo import dosage
from geo.cells import (
    RESOLUTIONS,
    CellIndex,
    build_cell_index,
    cell_codes,
    index_from_parts,
    index_parts,
    subset_index,
)

FORMAT_VERSION = 2  # 2: key sums (cell key method) in the complaint cubes and summary
PREPARED_DIR = "prepared"
MANIFEST = "manifest.json"
STAMPS = ".stamps.json"  # size and mtime of the source files when last hashed (local, not shipped)
LARGE = ("complaints", "patrol_points")  # never read whole by the app
PING_CHUNK_ROWS = 2_000_000  # rows of pings per chunk when streaming
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
    _levels: dict = field(default_factory=dict, repr=False)  # resolution -> _Level

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
            self._levels[resolution] = _read_level(self.folder, resolution, self.manifest)
        return self._levels[resolution]

    def view(self, resolution: int, districts: Iterable[str] | None = None
             ) -> tuple[CellIndex, pd.DataFrame, pd.DataFrame]:
        """(cell index, complaint cube, presence cube) at ``resolution``.

        ``districts`` None: the whole data set; else the study area of those districts and
        the complaints that lie in them (data.roles.restrict), exactly what geo.dosage
        builds from the restricted raw records.
        """
        return self.level(resolution).view(None if districts is None else frozenset(districts))


@dataclass(eq=False)
class _Level:
    index: CellIndex
    complaints: pd.DataFrame  # cell, quarter, category, weekday, hour, district, count
    presence: pd.DataFrame  # the presence cube of the whole data set
    district_ids: list[str]  # district codes of ``complaints``

    def view(self, wanted: frozenset[str] | None) -> tuple[CellIndex, pd.DataFrame, pd.DataFrame]:
        c = self.complaints
        categories = list(c["category"].cat.categories)
        cells = c["cell"].to_numpy().astype(np.int64)
        if wanted is None:
            index, keep, presence = self.index, np.ones(len(c), dtype=bool), self.presence
            remap = None
        else:
            in_view = np.isin(self.index.district.astype(str), sorted(wanted))
            index = subset_index(self.index, in_view)
            remap = np.full(len(self.index.cells) + 1, -1, dtype=np.int64)
            remap[np.flatnonzero(in_view) + 1] = np.arange(int(in_view.sum()))
            codes = np.array([i in wanted for i in self.district_ids] + [False])
            keep = codes[c["district"].to_numpy().astype(np.int64)]  # code -1: no district
            p = self.presence
            presence = dosage.presence_cube_from_rows(
                remap[p["cell"].to_numpy().astype(np.int64) + 1], p["quarter"].to_numpy(),
                p["kind"].cat.codes.to_numpy(), p["weekday"].to_numpy(), p["hour"].to_numpy(),
                p["seconds"].to_numpy(), len(index.cells))
        if remap is not None:
            cells = remap[cells + 1]
        complaints = dosage.complaint_cube_from_rows(
            cells[keep], c["quarter"].to_numpy()[keep], c["category"].cat.codes.to_numpy()[keep],
            categories, c["weekday"].to_numpy()[keep], c["hour"].to_numpy()[keep],
            c["count"].to_numpy()[keep], len(index.cells), c["key_sum"].to_numpy()[keep])
        return index, complaints, presence


def _timestamp(value: str | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).tz_convert(TZ)


# --- building ----------------------------------------------------------------------------------

def build_prepared(bundle: DataBundle, pings: pd.DataFrame | Iterable[pd.DataFrame] | None = None,
                   resolutions: Iterable[int] = RESOLUTIONS, progress: Progress | None = None
                   ) -> Prepared:
    """The prepared form of a validated bundle (in memory; see :func:`write_prepared`).

    ``pings``: the ``patrol_points`` frame, an iterable of chunks of it (rows of one patrol
    contiguous and in time order across chunks, as written by the generator and the store),
    or None for ``bundle["patrol_points"]``. The bundle's complaints are read whole.
    """
    say = progress or (lambda _m: None)
    complaints = bundle["complaints"]
    patrols = bundle["patrols"]
    districts = bundle["districts"]
    district_ids = [str(d) for d in districts["district_id"]]
    indexes = {}
    for r in resolutions:
        say(f"cells at resolution {r}")
        indexes[r] = build_cell_index(districts, r)
    say(f"complaint cubes ({len(complaints):,} complaints)")
    secret = cell_key_secret(os.environ)
    keys = dosage.complaint_record_keys(complaints, secret)
    levels_c = {r: _complaint_cube_by_district(complaints, indexes[r], district_ids, keys)
                for r in indexes}
    chunks: Iterable[pd.DataFrame]
    if pings is None:
        chunks = [bundle["patrol_points"]]
    elif isinstance(pings, pd.DataFrame):
        chunks = [pings]
    else:
        chunks = pings
    parts: dict[int, list[pd.DataFrame]] = {r: [] for r in indexes}
    n_pings = 0
    with_pings: set[str] = set()
    for chunk in _whole_patrols(chunks):
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
    counts = bundle.counts()
    counts["patrol_points"] = n_pings
    received = complaints["received_at"]
    latest = (complaints.groupby(complaints["district_id"].astype(object).fillna(""), sort=True)
              ["received_at"].max() if len(complaints) else pd.Series(dtype=object))
    patrol_q = sorted(set(np.unique(quarter_ordinals(patrols["start"])).tolist())) if len(patrols) \
        else []
    manifest = {
        "format": FORMAT_VERSION,
        "cell_key": secret_tag(secret),
        "fingerprint": None, "files": {},
        "counts": {k: int(v) for k, v in counts.items()},
        "as_of": received.max().isoformat() if len(received) else None,
        "as_of_by_district": {str(k): v.isoformat() for k, v in latest.items() if pd.notna(v)},
        "quarters": bundle.quarters(),
        "patrol_quarters": [q for q in patrol_q if q >= 0],
        "patrols_without_pings": int((~patrols["patrol_id"].astype(str).isin(with_pings)).sum()),
        "resolutions": sorted(indexes),
        "lattice": {},
    }
    return Prepared(manifest=manifest, complaint_table=bundle.complaint_table, folder=None,
                    _levels=levels)


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
    parquet, csv = folder / "patrol_points.parquet", folder / "patrol_points.csv"
    known = set(str(p) for p in patrol_ids)
    offset = 0

    def checked(raw: pd.DataFrame) -> pd.DataFrame:
        nonlocal offset
        frame, errors = contracts.validate("patrol_points", raw)
        unknown = ~frame["patrol_id"].astype(str).isin(known).to_numpy()
        if unknown.any():
            rows = np.flatnonzero(unknown)[:10]
            errors = pd.concat([errors, contracts.errors_frame(
                [("patrol_points", int(r), "patrol_id", str(frame["patrol_id"].iloc[r]),
                  "unknown patrol_id (not in patrols)") for r in rows])], ignore_index=True)
        if not errors.empty:
            errors = errors.copy()
            errors["row"] = errors["row"] + offset
            raise DataFolderError(folder, errors)
        offset += len(frame)
        return frame

    if parquet.exists():
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(parquet)
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield checked(batch.to_pandas())
    elif csv.exists():
        yield checked(pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""],
                                  encoding="utf-8-sig"))


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


def _read_level(path: Path, r: int, manifest: dict) -> _Level:
    cells = pd.read_parquet(path / f"cells_r{r}.parquet")
    nb = pd.read_parquet(path / f"neighbours_r{r}.parquet")
    matrix = manifest["lattice"].get(str(r))
    index = index_from_parts(r, cells["h3"].to_numpy(dtype=object),
                             cells["district"].to_numpy(dtype=object), cells["lat"].to_numpy(),
                             cells["lon"].to_numpy(), nb["row"].to_numpy(), nb["col"].to_numpy(),
                             None if matrix is None else np.asarray(matrix).reshape(3, 3))
    complaints = pd.read_parquet(path / f"complaint_cube_r{r}.parquet")
    presence = pd.read_parquet(path / f"presence_cube_r{r}.parquet")
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
    bundle = load_folder(folder, lazy=("patrol_points",))
    pings = stream_pings(folder, bundle["patrols"]["patrol_id"], chunk_rows)
    prepared = build_prepared(bundle, pings, progress=say)
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
    return attach(load_folder(folder, lazy=LARGE), prepared)


def prepare_hook(folder: Path) -> None:
    """For writers of data folders (the store, write_folder): prepare a folder just written.

    An invalid folder is left unprepared (the app reports its errors when it opens it).
    """
    try:
        prepare_folder(folder, progress=None)
    except (DataFolderError, ValueError) as exc:  # e.g. a store without districts yet
        _stderr(f"not prepared: {exc}")
