"""Base map tiles kept with the store: tile sets, MBTiles/folder import, prefetch, viewed-tile cache.

Three ways to a base map without network (README, "Base map offline"):

1. **A tile set the city provides** (:func:`import_mbtiles`, :func:`import_folder`): raster
   MBTiles (PNG/JPEG, as QGIS's "Generate XYZ tiles (MBTiles)" writes them; rows are TMS,
   so y is flipped) or a folder of ``z/x/y`` tiles. Attribution, zoom range and bounds come
   from the file's metadata.
2. **Prefetch from a server that permits it** (:func:`fetch`): the city's own XYZ/WMTS on
   the intranet. Refused for the OpenStreetMap servers (their policy forbids bulk
   downloads) and for basemap.de unless the operator configured an explicit permission
   (:data:`PERMISSION_ENV`).
3. **The cache of viewed tiles** (:class:`TileCache`): with caching on, the app fetches a tile
   the first time a user views it, keeps it at least seven days (the OSM tile policy's own
   rule) and serves it when the network is gone.

Layout under the store root (``LAGEBILD_STORE``, default ``data/store``)::

    tiles/<name>/tileset.json       metadata: name, format, minzoom, maxzoom, bounds, attribution …
    tiles/<name>/<z>/<x>/<y>.<ext>  the tiles, XYZ (y from the top, as Leaflet asks for them)
    tiles/_cache/<key>/source.json  a cached online source (URL template, attribution)
    tiles/_cache/<key>/<z>/<x>/<y>.<ext>

Everything here is plain Python (no streamlit); the app serves the tiles through its own
route (``ui/tile_route.py``).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import shutil
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_STORE = Path(__file__).resolve().parent / "store"
TILES_DIR = "tiles"
CACHE_DIR = "_cache"
META = "tileset.json"
FETCH_STATE = "fetch.json"
#: Env: hosts whose operator gave explicit written permission to prefetch (comma-separated).
PERMISSION_ENV = "LAGEBILD_TILES_PERMISSION"
#: Env: contact (e-mail or URL) put into the User-Agent of every tile request.
CONTACT_ENV = "LAGEBILD_TILES_CONTACT"
USER_AGENT = "Lagebild/1.0 (KOD situational picture; {contact})"
#: The OSM tile policy asks to keep viewed tiles at least seven days.
CACHE_MIN_AGE_S = 7 * 24 * 3600
MAX_ZOOM = 22
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
FORMATS = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_MAX_TILE_BYTES = 4 * 1024 * 1024

# Servers whose policy forbids bulk downloading ("creating a tile archive or downloading
# for offline usage"): never prefetched.
_FORBIDDEN_HOSTS = ("openstreetmap.org", "openstreetmap.de", "openstreetmap.fr", "osm.org")
# basemap.de (BKG): no offline product; its terms restrict storing data taken from the live
# service. Prefetched or cached only with an explicit permission (PERMISSION_ENV).
_PERMISSION_HOSTS = ("basemap.de", "geodatenzentrum.de")


class TileError(ValueError):
    """A tile set, file or request that cannot be used (message says what and why)."""


class PolicyError(TileError):
    """The tile server's policy forbids what was asked (bulk download, storing)."""


# --- tile arithmetic (Web Mercator, XYZ) ----------------------------------------------------------


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS84 point at zoom ``z`` (clamped to the world)."""
    n = 2 ** z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of an XYZ tile."""
    n = 2 ** z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def tiles_in_bbox(bbox: tuple[float, float, float, float], z: int, margin: int = 0
                  ) -> Iterator[tuple[int, int, int]]:
    """Every XYZ tile (z, x, y) that touches ``bbox`` = (min lon, min lat, max lon, max lat)."""
    minlon, minlat, maxlon, maxlat = bbox
    x0, y0 = lonlat_to_tile(minlon, maxlat, z)
    x1, y1 = lonlat_to_tile(maxlon, minlat, z)
    n = 2 ** z
    for x in range(max(0, x0 - margin), min(n - 1, x1 + margin) + 1):
        for y in range(max(0, y0 - margin), min(n - 1, y1 + margin) + 1):
            yield z, x, y


def count_tiles(bbox: tuple[float, float, float, float], zooms: Iterable[int], margin: int = 0
                ) -> dict[int, int]:
    """Tiles per zoom level for ``bbox``."""
    out = {}
    for z in zooms:
        minlon, minlat, maxlon, maxlat = bbox
        x0, y0 = lonlat_to_tile(minlon, maxlat, z)
        x1, y1 = lonlat_to_tile(maxlon, minlat, z)
        n = 2 ** z
        out[z] = ((min(n - 1, x1 + margin) - max(0, x0 - margin) + 1)
                  * (min(n - 1, y1 + margin) - max(0, y0 - margin) + 1))
    return out


def fit_zoom(bbox: tuple[float, float, float, float], width: int = 1200, height: int = 700,
             padding: int = 0) -> int:
    """The zoom Leaflet's ``fitBounds`` picks for ``bbox`` in a ``width`` × ``height`` map."""
    minlon, minlat, maxlon, maxlat = bbox

    def merc_y(lat: float) -> float:
        r = math.radians(max(min(lat, 85.05112878), -85.05112878))
        return (1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0

    dx = max((maxlon - minlon) / 360.0, 1e-12)
    dy = max(merc_y(minlat) - merc_y(maxlat), 1e-12)
    w, h = max(width - 2 * padding, 1), max(height - 2 * padding, 1)
    z = math.floor(min(math.log2(w / (256 * dx)), math.log2(h / (256 * dy))))
    return int(min(max(z, 0), MAX_ZOOM))


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"minlon,minlat,maxlon,maxlat"`` (WGS84) checked; ``TileError`` when it is not one."""
    try:
        parts = [float(p) for p in str(text).replace(";", ",").split(",")]
    except ValueError:
        raise TileError(f"bbox must be 'min lon,min lat,max lon,max lat', got {text!r}") from None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise TileError(f"bbox must be 'min lon,min lat,max lon,max lat', got {text!r}")
    minlon, minlat, maxlon, maxlat = parts
    if not (-180 <= minlon < maxlon <= 180 and -85.06 <= minlat < maxlat <= 85.06):
        raise TileError(f"bbox must be 'min lon,min lat,max lon,max lat' within the world, got {text!r}")
    return minlon, minlat, maxlon, maxlat


def parse_zooms(text: str) -> tuple[int, int]:
    """``"12-16"`` or ``"14"`` -> (z0, z1), 0 ≤ z0 ≤ z1 ≤ 22."""
    m = re.fullmatch(r"\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?", str(text))
    if not m:
        raise TileError(f"zoom must be Z or Z0-Z1 (e.g. 12-16), got {text!r}")
    z0 = int(m.group(1))
    z1 = int(m.group(2)) if m.group(2) else z0
    if not 0 <= z0 <= z1 <= MAX_ZOOM:
        raise TileError(f"zoom must be Z0-Z1 with 0 <= Z0 <= Z1 <= {MAX_ZOOM}, got {text!r}")
    return z0, z1


# --- attribution (untrusted text from files) ------------------------------------------------------


class _AttributionCleaner(HTMLParser):
    """Keeps text and ``<a href="http(s)://…">`` links; everything else becomes text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open_links = 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if re.match(r"^https?://", href, re.I):
                self.out.append(f'<a href="{html.escape(href, quote=True)}" target="_blank" '
                                f'rel="noopener noreferrer">')
                self.open_links += 1

    def handle_endtag(self, tag):
        if tag == "a" and self.open_links:
            self.out.append("</a>")
            self.open_links -= 1

    def handle_data(self, data):
        self.out.append(html.escape(data, quote=True))


def clean_attribution(text: str | None, limit: int = 500) -> str:
    """The attribution as safe HTML: text escaped, only http(s) links kept, at most ``limit`` chars."""
    if not text:
        return ""
    parser = _AttributionCleaner()
    parser.feed(str(text)[:limit])
    parser.close()
    return "".join(parser.out) + "</a>" * parser.open_links


def attribution_text(text: str | None) -> str:
    """The attribution as plain text (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", clean_attribution(text)))


# --- tile sets in the store -----------------------------------------------------------------------


@dataclass
class TileSet:
    """A tile set kept with the store (``tiles/<name>``)."""

    name: str
    format: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    attribution: str = ""  # safe HTML (clean_attribution)
    description: str = ""
    source: str = ""  # mbtiles, folder, fetch
    origin: str = ""  # file name or URL template it came from
    tiles: int = 0
    bytes: int = 0
    created: str = ""
    root: Path = field(default=Path("."), compare=False)

    @property
    def ext(self) -> str:
        return self.format

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    def path(self, z: int, x: int, y: int) -> Path:
        return self.root / str(z) / str(x) / f"{y}.{self.format}"

    def has(self, z: int, x: int, y: int) -> bool:
        return self.path(z, x, y).is_file()

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("root")
        out["bounds"] = list(self.bounds)
        return out


def store_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("LAGEBILD_STORE") or DEFAULT_STORE)


def tiles_root(store: str | Path | None = None) -> Path:
    return (Path(store) if store is not None else store_root()) / TILES_DIR


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TileError(f"tile set name must be lower-case letters, digits, '-' or '_' "
                        f"(at most 63), got {name!r}")
    return name


def load_tileset(folder: Path) -> TileSet:
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    meta["bounds"] = tuple(float(b) for b in meta["bounds"])
    known = {f for f in TileSet.__dataclass_fields__ if f != "root"}
    return TileSet(**{k: v for k, v in meta.items() if k in known}, root=folder)


def list_tilesets(store: str | Path | None = None) -> list[TileSet]:
    """Every tile set of the store, by name."""
    root = tiles_root(store)
    out = []
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(("_", ".")) or not (folder / META).is_file():
                continue
            try:
                out.append(load_tileset(folder))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return out


def get_tileset(name: str, store: str | Path | None = None) -> TileSet | None:
    folder = tiles_root(store) / check_name(name)
    return load_tileset(folder) if (folder / META).is_file() else None


def default_tileset(store: str | Path | None = None, env: Mapping[str, str] | None = None
                    ) -> TileSet | None:
    """The set ``LAGEBILD_TILES_SET`` names, else the newest set of the store, else None."""
    env = os.environ if env is None else env
    named = (env.get("LAGEBILD_TILES_SET") or "").strip()
    if named:
        return get_tileset(named, store)
    sets = list_tilesets(store)
    return max(sets, key=lambda s: (s.created, s.name)) if sets else None


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _commit_set(staging: Path, meta: TileSet, target: Path) -> TileSet:
    """Write the metadata and switch the staging folder in for ``target`` in one rename."""
    (staging / META).write_text(json.dumps(meta.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    meta.root = target
    return meta


def _bounds_of(tiles: Iterable[tuple[int, int, int]]) -> tuple[float, float, float, float]:
    """The bounds of the tiles at their highest zoom."""
    tiles = list(tiles)
    top = max(z for z, _, _ in tiles)
    boxes = [tile_bounds(z, x, y) for z, x, y in tiles if z == top]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _parse_meta_bounds(text: str | None, where: str) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        return parse_bbox(text)
    except TileError:
        raise TileError(f"{where}: metadata 'bounds' must be 'min lon,min lat,max lon,max lat', "
                        f"got {text!r}") from None


def import_mbtiles(path: str | Path, name: str | None = None, store: str | Path | None = None,
                   attribution: str | None = None) -> TileSet:
    """Import a raster MBTiles file (PNG/JPEG/WebP) as tile set ``name`` (default: file stem).

    MBTiles rows are TMS (row 0 at the bottom): y = 2^z − 1 − tile_row. Metadata (name,
    attribution, bounds, minzoom, maxzoom, format, description) is taken from the file; what
    is missing is derived from the tiles. Vector tiles (pbf) are refused. An existing set
    of that name is replaced in one step; a failed import leaves the store as it was.
    """
    path = Path(path)
    if not path.is_file():
        raise TileError(f"{path}: no such file")
    name = check_name(name or re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_") or "tiles")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise TileError(f"{path}: not an MBTiles (SQLite) file: {exc}") from None
    root = tiles_root(store)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.import-{uuid.uuid4().hex[:8]}"
    try:
        try:
            meta = dict(con.execute("SELECT name, value FROM metadata").fetchall())
            rows = con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        except sqlite3.Error as exc:
            raise TileError(f"{path}: not an MBTiles file (tables 'metadata' and 'tiles' needed): {exc}"
                            ) from None
        fmt = (meta.get("format") or "").strip().lower()
        fmt = {"jpeg": "jpg"}.get(fmt, fmt)
        if fmt in ("pbf", "mvt"):
            raise TileError(f"{path}: vector tiles (format {fmt!r}) are not supported; render raster "
                            f"tiles (PNG or JPEG), e.g. with QGIS 'Generate XYZ tiles (MBTiles)'")
        if fmt and fmt not in FORMATS:
            raise TileError(f"{path}: metadata 'format' must be png, jpg or webp, got {meta.get('format')!r}")
        # MBTiles rows are TMS; a few writers mark XYZ rows with a non-standard "scheme" entry.
        xyz_rows = str(meta.get("scheme") or "tms").strip().lower() == "xyz"
        staging.mkdir()
        seen: list[tuple[int, int, int]] = []
        size = 0
        for z, col, row, data in rows:
            if not isinstance(z, int) or not 0 <= z <= MAX_ZOOM:
                raise TileError(f"{path}: tile with zoom_level {z!r} (must be 0-{MAX_ZOOM})")
            n = 2 ** z
            if not (isinstance(col, int) and isinstance(row, int) and 0 <= col < n and 0 <= row < n):
                raise TileError(f"{path}: tile z={z} column={col!r} row={row!r} outside the grid")
            data = bytes(data or b"")
            kind = _sniff(data)
            if kind is None:
                raise TileError(f"{path}: tile z={z} column={col} row={row} is not a PNG, JPEG or WebP image")
            if not fmt:
                fmt = kind
            y = row if xyz_rows else n - 1 - row  # TMS -> XYZ
            target = staging / str(z) / str(col) / f"{y}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            seen.append((z, col, y))
            size += len(data)
        if not seen:
            raise TileError(f"{path}: the file holds no tiles")
        tset = _described_set(name, fmt, meta, attribution, seen, size, path, "mbtiles")
        return _commit_set(staging, tset, root / name)
    finally:
        con.close()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _meta_int(value, default: int, where: str, key: str) -> int:
    if value in (None, ""):
        return default
    try:
        z = int(str(value).strip())
    except ValueError:
        raise TileError(f"{where}: metadata {key!r} must be a whole number, got {value!r}") from None
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"{where}: metadata {key!r} must be 0-{MAX_ZOOM}, got {value!r}")
    return z


def import_folder(path: str | Path, name: str | None = None, store: str | Path | None = None,
                  attribution: str | None = None, tms: bool = False) -> TileSet:
    """Import a folder of ``z/x/y.png|jpg`` tiles (XYZ; ``tms=True`` flips y).

    Metadata may come from a ``metadata.json`` (keys as in MBTiles: attribution, bounds,
    minzoom, maxzoom, description) in the folder; ``attribution`` overrides it.
    """
    path = Path(path)
    if not path.is_dir():
        raise TileError(f"{path}: no such folder")
    name = check_name(name or re.sub(r"[^a-z0-9_-]+", "-", path.name.lower()).strip("-_") or "tiles")
    meta: dict = {}
    for candidate in ("metadata.json", META):
        if (path / candidate).is_file():
            try:
                meta = json.loads((path / candidate).read_text(encoding="utf-8"))
            except ValueError as exc:
                raise TileError(f"{path / candidate}: not valid JSON: {exc}") from None
            if not isinstance(meta, dict):
                raise TileError(f"{path / candidate}: must hold a JSON object")
            break
    root = tiles_root(store)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.import-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        seen: list[tuple[int, int, int]] = []
        fmt = ""
        size = 0
        pattern = re.compile(r"^(\d{1,2})/(\d+)/(\d+)\.(png|jpg|jpeg|webp)$", re.I)
        for file in sorted(path.rglob("*")):
            if not file.is_file():
                continue
            rel = file.relative_to(path).as_posix()
            m = pattern.match(rel)
            if not m:
                continue
            z, x, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            n = 2 ** z
            if z > MAX_ZOOM or x >= n or y >= n:
                raise TileError(f"{file}: tile z={z} x={x} y={y} outside the grid")
            data = file.read_bytes()
            kind = _sniff(data)
            if kind is None:
                raise TileError(f"{file}: not a PNG, JPEG or WebP image")
            if fmt and kind != fmt:
                raise TileError(f"{file}: a {kind} tile in a set of {fmt} tiles; one format per set")
            fmt = kind
            if tms:
                y = n - 1 - y
            target = staging / str(z) / str(x) / f"{y}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            seen.append((z, x, y))
            size += len(data)
        if not seen:
            raise TileError(f"{path}: no tiles found (expected z/x/y.png or .jpg)")
        tset = _described_set(name, fmt, meta, attribution, seen, size, path, "folder")
        return _commit_set(staging, tset, root / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _described_set(name: str, fmt: str, meta: dict, attribution: str | None,
                   seen: list[tuple[int, int, int]], size: int, path: Path, source: str) -> TileSet:
    """The description of an imported set: zoom range, bounds and attribution from the
    metadata where given (checked), else from the tiles themselves."""
    zooms = [z for z, _, _ in seen]
    where = str(path)
    return TileSet(
        name=name, format=fmt,
        minzoom=_meta_int(meta.get("minzoom"), min(zooms), where, "minzoom"),
        maxzoom=_meta_int(meta.get("maxzoom"), max(zooms), where, "maxzoom"),
        bounds=_parse_meta_bounds(_bounds_text(meta.get("bounds")), where) or _bounds_of(seen),
        attribution=clean_attribution(meta.get("attribution") if attribution is None else attribution),
        description=str(meta.get("description") or meta.get("name") or "")[:300],
        source=source, origin=path.name, tiles=len(seen), bytes=size, created=_now())


def _bounds_text(value) -> str | None:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return value


# --- policy ---------------------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urlparse(url.replace("{", "").replace("}", "")).hostname or "").lower()


def _host_matches(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def permitted_hosts(env: Mapping[str, str] | None = None) -> set[str]:
    env = os.environ if env is None else env
    return {h.strip().lower() for h in (env.get(PERMISSION_ENV) or "").split(",") if h.strip()}


def check_policy(url: str, action: str, env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`PolicyError` when the server's policy forbids ``action`` ("prefetch" or "cache").

    OpenStreetMap: prefetching is never allowed (bulk download forbidden); caching viewed
    tiles is what the policy asks for. basemap.de: neither without an explicit permission
    (the host listed in ``LAGEBILD_TILES_PERMISSION``).
    """
    host = _host(url)
    if not host:
        raise TileError(f"tile URL must be http(s)://host/…{{z}}/{{x}}/{{y}}…, got {url!r}")
    if _host_matches(host, _FORBIDDEN_HOSTS) and action == "prefetch":
        raise PolicyError(
            f"refused: {host} is an OpenStreetMap server; its tile policy forbids bulk downloading "
            f"(\"creating a tile archive or downloading for offline usage\", "
            f"operations.osmfoundation.org/policies/tiles). Use the city's own tiles (tiles import) "
            f"or the cache of viewed tiles (LAGEBILD_TILE_CACHE=on).")
    if _host_matches(host, _PERMISSION_HOSTS) and not (
            _host_matches(host, permitted_hosts(env)) or host in permitted_hosts(env)):
        raise PolicyError(
            f"refused: {host} (basemap.de, BKG) restricts storing data taken from its live service "
            f"and publishes no offline file. Only with an explicit permission of the operator: "
            f"{PERMISSION_ENV}={host}.")


def user_agent(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    contact = (env.get(CONTACT_ENV) or "").strip() or "no contact configured"
    return USER_AGENT.format(contact=contact)


def check_template(url: str) -> str:
    if not re.match(r"^https?://", url or "", re.I):
        raise TileError(f"tile URL must start with http:// or https://, got {url!r}")
    for key in ("{z}", "{x}", "{y}"):
        if key not in url and not (key == "{y}" and "{-y}" in url):
            raise TileError(f"tile URL must contain {{z}}, {{x}} and {{y}}, got {url!r}")
    return url


def tile_url(template: str, z: int, x: int, y: int) -> str:
    """The URL of one tile (``{-y}``: TMS row)."""
    return (template.replace("{z}", str(z)).replace("{x}", str(x))
            .replace("{-y}", str(2 ** z - 1 - y)).replace("{y}", str(y)))


def _download(url: str, env: Mapping[str, str] | None, timeout: float) -> tuple[bytes, str, float | None]:
    """GET one tile: (bytes, format, max-age seconds from the response or None)."""
    req = urllib.request.Request(url, headers={"User-Agent": user_agent(env), "Accept": "image/*"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # http(s) checked
        data = resp.read(_MAX_TILE_BYTES + 1)
        cache_control = resp.headers.get("Cache-Control") or ""
    if len(data) > _MAX_TILE_BYTES:
        raise TileError(f"{url}: tile larger than {_MAX_TILE_BYTES} bytes")
    kind = _sniff(data)
    if kind is None:
        raise TileError(f"{url}: the response is not a PNG, JPEG or WebP image")
    m = re.search(r"max-age=(\d+)", cache_control)
    return data, kind, float(m.group(1)) if m else None


# --- prefetch -------------------------------------------------------------------------------------


@dataclass
class Budget:
    per_zoom: dict[int, int]
    present: int
    rate: float

    @property
    def total(self) -> int:
        return sum(self.per_zoom.values())

    @property
    def missing(self) -> int:
        return self.total - self.present

    @property
    def seconds(self) -> float:
        return self.missing / self.rate if self.rate > 0 else 0.0


@dataclass
class FetchResult:
    fetched: int
    skipped: int
    missing: int  # tiles still to fetch (a stopped run)
    total: int
    requests: int
    tileset: TileSet | None
    error: str = ""


def budget(template: str, bbox: tuple[float, float, float, float], zooms: tuple[int, int], rate: float,
           target: Path | None = None) -> Budget:
    per_zoom = count_tiles(bbox, range(zooms[0], zooms[1] + 1))
    present = 0
    if target is not None and target.is_dir():
        fmt_dirs = target
        for z, x, y in _all_tiles(bbox, zooms):
            if any((fmt_dirs / str(z) / str(x) / f"{y}.{ext}").is_file() for ext in FORMATS):
                present += 1
    return Budget(per_zoom, present, rate)


def _all_tiles(bbox, zooms) -> Iterator[tuple[int, int, int]]:
    for z in range(zooms[0], zooms[1] + 1):
        yield from tiles_in_bbox(bbox, z)


def fetch(template: str, bbox: tuple[float, float, float, float], zooms: tuple[int, int], name: str,
          store: str | Path | None = None, *, rate: float = 4.0, attribution: str = "",
          env: Mapping[str, str] | None = None, timeout: float = 20.0, retries: int = 2,
          progress: Callable[[int, int, int], None] = lambda done, total, fetched: None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          ) -> FetchResult:
    """Fill tile set ``name`` from ``template`` for ``bbox`` and zooms ``z0..z1``.

    At most ``rate`` requests per second, an identifying User-Agent, tiles written one by
    one (atomically) straight into the set, so an interrupted run resumes where it stopped:
    tiles already present are skipped. Refused (:class:`PolicyError`) for servers whose
    policy forbids bulk downloads. A tile that still fails after ``retries`` stops the
    run (the tiles so far are kept; the same command resumes).
    """
    check_template(template)
    check_policy(template, "prefetch", env)
    name = check_name(name)
    if not rate > 0:
        raise TileError(f"rate must be a positive number of requests per second, got {rate!r}")
    target = tiles_root(store) / name
    existing = load_tileset(target) if (target / META).is_file() else None
    state_file = target / FETCH_STATE
    if existing is not None and existing.source != "fetch":
        raise TileError(f"tile set {name!r} was imported from {existing.origin!r}; choose another --name")
    if state_file.is_file():
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if state.get("url") != template:
            raise TileError(f"tile set {name!r} was fetched from {state.get('url')!r}, not {template!r}; "
                            f"choose another --name")
    target.mkdir(parents=True, exist_ok=True)
    _write_atomic(state_file, json.dumps({"url": template, "bbox": list(bbox), "zooms": list(zooms),
                                          "started": _now()}).encode())
    interval = 1.0 / rate
    total = sum(count_tiles(bbox, range(zooms[0], zooms[1] + 1)).values())
    fetched = skipped = requests = 0
    fmt = existing.format if existing else ""
    last = None
    error = ""
    done = 0
    stopped = False
    for z, x, y in _all_tiles(bbox, zooms):
        done += 1
        if any((target / str(z) / str(x) / f"{y}.{ext}").is_file() for ext in FORMATS):
            skipped += 1
            progress(done, total, fetched)
            continue
        url = tile_url(template, z, x, y)
        data = None
        for attempt in range(retries + 1):
            if last is not None:
                wait = interval - (clock() - last)
                if wait > 0:
                    sleep(wait)
            last = clock()
            requests += 1
            try:
                data, kind, _ = _download(url, env, timeout)
                break
            except (OSError, TileError, urllib.error.URLError) as exc:
                error = f"{url}: {exc}"
                if attempt < retries:
                    sleep(min(2 ** attempt * interval, 5.0))
        if data is None:
            stopped = True
            break
        if fmt and kind != fmt:
            error = f"{url}: the server sent {kind}, the set holds {fmt} tiles"
            stopped = True
            break
        fmt = kind
        _write_atomic(target / str(z) / str(x) / f"{y}.{fmt}", data)
        fetched += 1
        error = ""
        progress(done, total, fetched)
    if stopped:
        return FetchResult(fetched, skipped, total - fetched - skipped, total, requests,
                           None, error)
    if not fmt:  # every tile was there already (a run stopped after its last tile)
        fmt = next((p.suffix[1:] for p in target.rglob("*") if p.suffix[1:] in FORMATS), "png")
    files = list(target.rglob(f"*.{fmt}"))
    tset = TileSet(name=name, format=fmt or "png", minzoom=zooms[0], maxzoom=zooms[1], bounds=bbox,
                   attribution=clean_attribution(attribution), description="",
                   source="fetch", origin=template, tiles=len(files),
                   bytes=sum(p.stat().st_size for p in files), created=_now(), root=target)
    (target / META).write_text(json.dumps(tset.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    return FetchResult(fetched, skipped, 0, total, requests, tset, "")


# --- cache of viewed tiles ------------------------------------------------------------------------


@dataclass(frozen=True)
class OnlineSource:
    """An online tile source whose viewed tiles the app caches."""

    url: str
    attribution: str  # safe HTML
    max_zoom: int = 19

    @property
    def key(self) -> str:
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:12]


class TileCache:
    """Viewed tiles of online sources, kept under ``tiles/_cache/<key>`` (≥ 7 days).

    :meth:`register` records a source (URL template from the server's configuration, never
    from a request); :meth:`get` answers a tile: fresh from the cache, else from the server
    (stored), else — the network gone — whatever the cache holds, however old.
    """

    #: At most this many downloads at a time per process (tile policies ask for few connections).
    _downloads = threading.BoundedSemaphore(2)

    def __init__(self, store: str | Path | None = None, env: Mapping[str, str] | None = None,
                 min_age_s: float = CACHE_MIN_AGE_S, timeout: float = 8.0) -> None:
        self.root = tiles_root(store) / CACHE_DIR
        self.env = env
        self.min_age_s = min_age_s
        self.timeout = timeout

    def register(self, source: OnlineSource) -> str:
        check_template(source.url)
        check_policy(source.url, "cache", self.env)
        folder = self.root / source.key
        meta = {"url": source.url, "attribution": source.attribution, "max_zoom": source.max_zoom}
        file = folder / "source.json"
        text = json.dumps(meta, ensure_ascii=False)
        if not file.is_file() or file.read_text(encoding="utf-8") != text:
            _write_atomic(file, text.encode("utf-8"))
        return source.key

    def source(self, key: str) -> OnlineSource | None:
        if not re.fullmatch(r"[0-9a-f]{12}", key or ""):
            return None
        file = self.root / key / "source.json"
        if not file.is_file():
            return None
        meta = json.loads(file.read_text(encoding="utf-8"))
        return OnlineSource(meta["url"], meta.get("attribution", ""), int(meta.get("max_zoom", 19)))

    def _cached(self, key: str, z: int, x: int, y: int) -> Path | None:
        folder = self.root / key / str(z) / str(x)
        for ext in FORMATS:
            p = folder / f"{y}.{ext}"
            if p.is_file():
                return p
        return None

    def get(self, key: str, z: int, x: int, y: int) -> tuple[bytes, str, str] | None:
        """(tile bytes, format, how: "cache", "fetched" or "stale") or None when unavailable."""
        source = self.source(key)
        if source is None or not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            return None
        cached = self._cached(key, z, x, y)
        if cached is not None and time.time() - cached.stat().st_mtime < self._max_age(cached):
            return cached.read_bytes(), cached.suffix[1:], "cache"
        try:
            check_policy(source.url, "cache", self.env)
            with self._downloads:
                data, kind, max_age = _download(tile_url(source.url, z, x, y), self.env, self.timeout)
        except (OSError, TileError, urllib.error.URLError):
            if cached is not None:
                return cached.read_bytes(), cached.suffix[1:], "stale"
            return None
        path = self.root / key / str(z) / str(x) / f"{y}.{kind}"
        _write_atomic(path, data)
        if max_age and max_age > self.min_age_s:
            _write_atomic(path.with_name(path.name + ".maxage"), str(int(max_age)).encode())
        return data, kind, "fetched"

    def _max_age(self, path: Path) -> float:
        extra = path.with_name(path.name + ".maxage")
        if extra.is_file():
            try:
                return max(self.min_age_s, float(extra.read_text()))
            except ValueError:
                pass
        return self.min_age_s

    def stats(self, key: str) -> tuple[int, list[int]]:
        """(tiles kept, zoom levels) of a source."""
        return folder_stats(self.root / key)


def folder_stats(folder: Path) -> tuple[int, list[int]]:
    """(tiles, zoom levels) of a folder of ``z/x/y.ext`` tiles."""
    n = 0
    zooms = []
    if folder.is_dir():
        for zdir in folder.iterdir():
            if zdir.is_dir() and zdir.name.isdigit():
                count = sum(1 for p in zdir.rglob("*") if p.suffix[1:] in FORMATS)
                if count:
                    zooms.append(int(zdir.name))
                    n += count
    return n, sorted(zooms)


def read_tile(tset: TileSet, z: int, x: int, y: int) -> bytes | None:
    """The bytes of a tile of a set (any stored format), None when the set lacks it."""
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return None
    folder = tset.root / str(z) / str(x)
    for ext in (tset.format, *FORMATS):
        p = folder / f"{y}.{ext}"
        if p.is_file():
            return p.read_bytes()
    return None
