"""Which base map a map gets, and the local tiles it can carry (no streamlit, no folium).

A :class:`BaseLayer` describes a base map served by the app itself: a tile set of the store
(``local``) or an online source whose viewed tiles the app caches (``cache``). Their tile
URLs point at the app's own tile route (:data:`ROUTE`, mounted by ``app.py``), so the
browser never asks another host. The online sources (``osm``, ``basemap``…) without cache
stay plain URL strings handled by :mod:`geo.maps`.

Also here: whether local tiles cover a view (conference mode picks them when they do), and
the tiles an export embeds as ``data:`` URIs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from base.i18n import register, t
from data import tiles as store_tiles
from data.tiles import OnlineSource, TileCache, TileSet

ROUTE = "/tiles"
#: Export budget: at most this many tiles / bytes embedded in one HTML map.
EMBED_MAX_TILES = 600
EMBED_MAX_BYTES = 30 * 1024 * 1024
#: The map size exports assume (the PNG export's viewport).
VIEW_SIZE = (1400, 900)
#: The map sizes of the Präsentation page (full width, and the gap view's 3/5 column; 700 px high).
CONFERENCE_SIZES = ((1400, 700), (850, 700))
BLANK_TILE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
              "NkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

register({
    "tiles.local": ("lokale Kacheln »{name}«", "local tiles “{name}”"),
    "tiles.online": ("{name}", "{name}"),
    "tiles.cache": ("{name} über den Kachel-Cache der App", "{name} through the app's tile cache"),
    "tiles.caption.local": (
        "Hintergrundkarte: {label} (Zoom {z0}–{z1}, {n} Kacheln), alle vom App-Server – ohne Internet. "
        "Quelle: {attr}",
        "Base map: {label} (zoom {z0}–{z1}, {n} tiles), all from the app's server – no internet needed. "
        "Source: {attr}"),
    "tiles.caption.cache": (
        "Hintergrundkarte: {label}. Lokal gespeichert: {n} angesehene Kacheln (Zoom {zooms}), "
        "mindestens 7 Tage; ohne Netz zeigt die Karte nur diese.",
        "Base map: {label}. Kept locally: {n} viewed tiles (zoom {zooms}), at least 7 days; without "
        "network the map shows only these."),
    "tiles.conference.local": (
        "Hintergrundkarte: {label} – deckt diese Ansicht ab, ohne Internet.",
        "Base map: {label} – covers this view, no internet needed."),
    "tiles.conference.partial": (
        "Lokale Kacheln decken diese Ansicht nicht ab ({label}: {have} von {need} Kacheln bei Zoom {z}); "
        "Hintergrund: {fallback}.",
        "Local tiles do not cover this view ({label}: {have} of {need} tiles at zoom {z}); "
        "base map: {fallback}."),
    "tiles.conference.none": (
        "Keine lokalen Kacheln vorhanden; Hintergrund: {fallback}.",
        "No local tiles; base map: {fallback}."),
    "tiles.fallback.none": ("keiner (nur die Kartenebenen)", "none (map layers only)"),
    "tiles.fallback.online": ("{name} aus dem Internet", "{name} from the internet"),
})


@dataclass(frozen=True)
class BaseLayer:
    """A base map served by the app (local tile set or cached online source)."""

    kind: str  # "local", "cache" (both served by the app) or "online" (the source's own URL)
    name: str  # tile set name, or the online source's name (osm, url …)
    url: str  # Leaflet URL template on the app's route
    attribution: str  # safe HTML
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None
    root: str  # folder of the tiles on disk (z/x/y.ext)
    ext: str

    def label(self, lang: str) -> str:
        key = {"local": "tiles.local", "cache": "tiles.cache"}.get(self.kind, "tiles.online")
        return t(key, lang, name=self.name)

    @property
    def served_by_app(self) -> bool:
        return self.kind in ("local", "cache")

    def tileset(self) -> TileSet:
        return TileSet(name=self.name, format=self.ext, minzoom=self.min_zoom, maxzoom=self.max_zoom,
                       bounds=self.bounds or (-180.0, -85.0, 180.0, 85.0), attribution=self.attribution,
                       root=Path(self.root))


def local_layer(tset: TileSet) -> BaseLayer:
    """The base layer of a tile set of the store, served on ``/tiles/set/<name>/…``."""
    return BaseLayer("local", tset.name, f"{ROUTE}/set/{tset.name}/{{z}}/{{x}}/{{y}}.{tset.format}",
                     tset.attribution or store_tiles.clean_attribution(tset.name), tset.minzoom, tset.maxzoom,
                     tuple(tset.bounds), str(tset.root), tset.format)


def cache_layer(name: str, source: OnlineSource, cache: TileCache) -> BaseLayer:
    """An online source through the app's cache, served on ``/tiles/cache/<key>/…``.

    Registers the source (its URL template comes from the server's configuration) and
    raises :class:`data.tiles.PolicyError` when its policy forbids storing tiles.
    """
    key = cache.register(source)
    return BaseLayer("cache", name, f"{ROUTE}/cache/{key}/{{z}}/{{x}}/{{y}}.png", source.attribution, 0,
                     source.max_zoom, None, str(cache.root / key), "png")


def online_layer(name: str, source: OnlineSource) -> BaseLayer:
    """An online source loaded by the browser from its own server (nothing kept locally)."""
    return BaseLayer("online", name, source.url, source.attribution, 0, source.max_zoom, None, "", "png")


def for_export(tiles):
    """The tiles an image export can show: app-served tiles (embedded), else none."""
    return tiles if isinstance(tiles, BaseLayer) and tiles.served_by_app else "none"


def coverage(layer: BaseLayer, bbox: tuple[float, float, float, float],
             size: tuple[int, int] = VIEW_SIZE) -> tuple[int, int, int]:
    """(tiles present, tiles needed, zoom) for ``bbox`` at the zoom a map of ``size`` fits it to.

    Above the layer's highest zoom its top tiles are scaled up (they count); below its lowest
    zoom it has nothing (the map could not show the whole view).
    """
    z = min(store_tiles.fit_zoom(bbox, *size), layer.max_zoom)
    if not layer.served_by_app or z < layer.min_zoom:
        return 0, len(list(store_tiles.tiles_in_bbox(bbox, z))), z
    tset = layer.tileset()
    needed = list(store_tiles.tiles_in_bbox(bbox, z))
    have = sum(1 for zz, x, y in needed if store_tiles.read_tile(tset, zz, x, y) is not None)
    return have, len(needed), z


def covers(layer: BaseLayer, bbox: tuple[float, float, float, float],
           size: tuple[int, int] = VIEW_SIZE) -> bool:
    have, need, _ = coverage(layer, bbox, size)
    return need > 0 and have == need


def conference_choice(configured, candidates: list[BaseLayer], bbox: tuple[float, float, float, float],
                      lang: str, online_names: Mapping[str, str] | None = None,
                      sizes: tuple[tuple[int, int], ...] = CONFERENCE_SIZES):
    """Conference mode: the first local candidate that covers the view, else ``configured``.

    Covers = it holds every tile of the view's area (``bbox``) at each zoom the page's maps
    (``sizes``) fit the view to.

    Returns (tiles for the map, a sentence saying which base map and why).
    """
    best = None
    for layer in candidates:
        have = need = 0
        zooms: set[int] = set()
        for size in sizes:  # every zoom the page's maps fit the view to
            h, n, z = coverage(layer, bbox, size)
            if z not in zooms:
                zooms.add(z)
                have, need = have + h, need + n
        z = "/".join(str(v) for v in sorted(zooms))
        if need and have == need:
            return layer, t("tiles.conference.local", lang, label=layer.label(lang))
        if best is None or have / max(need, 1) > best[1] / max(best[2], 1):
            best = (layer, have, need, z)
    if isinstance(configured, BaseLayer):
        fallback = configured.label(lang)
    elif configured in (None, "none"):
        fallback = t("tiles.fallback.none", lang)
    else:
        fallback = t("tiles.fallback.online", lang, name=(online_names or {}).get(configured, configured))
    if best is None:
        return configured, t("tiles.conference.none", lang, fallback=fallback)
    layer, have, need, z = best
    return configured, t("tiles.conference.partial", lang, label=layer.label(lang), have=have, need=need,
                         z=z, fallback=fallback)


def embed_tiles(layer: BaseLayer, bbox: tuple[float, float, float, float], size: tuple[int, int] = VIEW_SIZE,
                max_tiles: int = EMBED_MAX_TILES, max_bytes: int = EMBED_MAX_BYTES
                ) -> tuple[dict[str, str], int, int]:
    """The local tiles an export of ``bbox`` shows, as ``{"z/x/y": data URI}``, and their zoom range.

    Zooms: the one a map of ``size`` fits the view to, one below and one above (so the
    exported map can be zoomed a step), each with a margin of one tile; levels are dropped
    from the top when the budget is exceeded. Tiles the store lacks are left out.
    """
    if not layer.served_by_app:
        return {}, layer.min_zoom, layer.max_zoom
    tset = layer.tileset()
    z_fit = min(max(store_tiles.fit_zoom(bbox, *size), layer.min_zoom), layer.max_zoom)
    zooms = [z for z in (z_fit, z_fit - 1, z_fit + 1) if layer.min_zoom <= z <= layer.max_zoom]
    media = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
    out: dict[str, str] = {}
    used = 0
    kept: list[int] = []
    for z in zooms:
        level: dict[str, str] = {}
        size_z = 0
        for zz, x, y in store_tiles.tiles_in_bbox(bbox, z, margin=1):
            data = store_tiles.read_tile(tset, zz, x, y)
            if data is None:
                continue
            kind = store_tiles._sniff(data) or layer.ext
            encoded = base64.b64encode(data).decode("ascii")
            level[f"{zz}/{x}/{y}"] = f"data:{media.get(kind, 'image/png')};base64,{encoded}"
            size_z += len(data)
        if not level:
            continue
        if len(out) + len(level) > max_tiles or used + size_z > max_bytes:
            if not out:  # the fitted level alone is too big: embed what fits of it
                for k, v in list(level.items())[:max_tiles]:
                    out[k] = v
                kept.append(z)
            break
        out.update(level)
        used += size_z
        kept.append(z)
    if not kept:
        return {}, z_fit, z_fit
    return out, min(kept), max(kept)
