"""The base map choice: ``LAGEBILD_TILES`` or the sidebar, local tile sets, the viewed-tile cache.

Values of ``LAGEBILD_TILES`` (and of the sidebar's "Hintergrundkarte"): ``osm``,
``basemap``, ``basemap-grau``, ``url`` (the server in ``LAGEBILD_TILES_URL``, e.g. the
city's own XYZ/WMTS, attribution ``LAGEBILD_TILES_ATTRIBUTION``), ``local`` (the store's
tile set named by ``LAGEBILD_TILES_SET``, else its newest), ``local:NAME`` and ``none``.
``LAGEBILD_TILE_CACHE=on`` sends online tiles through the app's cache of viewed tiles.
Local tiles and the cache need the app's tile route (``streamlit run app.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from base.i18n import register, t
from data import tiles as store_tiles
from geo import tiles as geo_tiles
from geo.maps import TILE_SOURCES
from geo.tiles import BaseLayer

TILES_ENV = "LAGEBILD_TILES"
CACHE_ENV = "LAGEBILD_TILE_CACHE"
URL_ENV = "LAGEBILD_TILES_URL"
ATTRIBUTION_ENV = "LAGEBILD_TILES_ATTRIBUTION"
K_CHOICE = "base_tiles"
K_CACHE = "base_tiles_cache"

register({
    "basemap.label": ("Hintergrundkarte", "Base map"),
    "basemap.cache": ("Angesehene Kacheln speichern (Offline-Cache)", "Keep viewed tiles (offline cache)"),
    "basemap.cache_help": (
        "Kacheln, die Sie online ansehen, behält die App mindestens 7 Tage und zeigt sie auch ohne Netz "
        "(wie es die OpenStreetMap-Kachelrichtlinie verlangt). Kein Massen-Download.",
        "Tiles you view online are kept by the app for at least 7 days and shown without network (as the "
        "OpenStreetMap tile policy asks). No bulk download."),
    "basemap.osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap.basemap": ("basemap.de", "basemap.de"),
    "basemap.basemap-grau": ("basemap.de grau", "basemap.de grey"),
    "basemap.url": ("Eigener Kachelserver", "Own tile server"),
    "basemap.none": ("keine", "none"),
    "basemap.local": ("Lokal: {name}", "Local: {name}"),
    "basemap.unknown": ("LAGEBILD_TILES={value} ist unbekannt; gültig: {valid}. Es gilt »osm«.",
                        "LAGEBILD_TILES={value} is unknown; valid: {valid}. Using 'osm'."),
    "basemap.no_set": ("Kein lokaler Kachelsatz »{name}« im Speicher (python -m data tiles import …); "
                       "Karte ohne Hintergrund.",
                       "No local tile set '{name}' in the store (python -m data tiles import …); map without "
                       "base map."),
    "basemap.no_route": ("Lokale Kacheln brauchen die Kachel-Route der App: starten Sie mit "
                         "`streamlit run app.py` (make run). Karte ohne Hintergrund.",
                         "Local tiles need the app's tile route: start with `streamlit run app.py` "
                         "(make run). Map without base map."),
    "basemap.policy": ("Kacheln dieser Quelle dürfen nicht gespeichert werden: {error}",
                       "Tiles of this source may not be stored: {error}"),
})


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def route_mounted(env: Mapping[str, str] | None = None) -> bool:
    return _env(env).get("LAGEBILD_TILE_ROUTE") == "1"


def cache_default(env: Mapping[str, str] | None = None) -> bool:
    return (_env(env).get(CACHE_ENV) or "").strip().lower() in ("1", "on", "true", "yes")


def online_sources(lang: str, env: Mapping[str, str] | None = None) -> dict[str, store_tiles.OnlineSource]:
    """The online tile sources (name -> URL template and attribution)."""
    env = _env(env)
    out = {name: store_tiles.OnlineSource(src.url, src.attribution(lang), src.max_zoom)
           for name, src in TILE_SOURCES.items() if src is not None}
    url = (env.get(URL_ENV) or "").strip()
    if url:
        out["url"] = store_tiles.OnlineSource(store_tiles.check_template(url),
                                              store_tiles.clean_attribution(env.get(ATTRIBUTION_ENV) or url),
                                              int(env.get("LAGEBILD_TILES_MAXZOOM") or 19))
    return out


def options(lang: str, env: Mapping[str, str] | None = None) -> list[str]:
    names = list(online_sources(lang, env))
    if route_mounted(env):
        names += [f"local:{s.name}" for s in store_tiles.list_tilesets()]
    return [*names, "none"]


def label(choice: str, lang: str) -> str:
    if choice.startswith("local:"):
        return t("basemap.local", lang, name=choice.split(":", 1)[1])
    return t(f"basemap.{choice}", lang)


def configured(lang: str, env: Mapping[str, str] | None = None) -> str:
    """The choice from ``LAGEBILD_TILES`` (``local`` becomes ``local:NAME``)."""
    env = _env(env)
    value = (env.get(TILES_ENV) or "osm").strip() or "osm"
    if value == "local":
        named = (env.get("LAGEBILD_TILES_SET") or "").strip()
        if named:
            return f"local:{named}"
        default = store_tiles.default_tileset()
        return f"local:{default.name}" if default else "local:"
    return value


def resolve(choice: str, lang: str, cache: bool, env: Mapping[str, str] | None = None
            ) -> tuple[str | BaseLayer, str | None]:
    """(tiles for :func:`geo.maps.base_map`, a warning or None) for a choice."""
    mounted = route_mounted(env)
    if choice.startswith("local:"):
        name = choice.split(":", 1)[1]
        if not mounted:
            return "none", t("basemap.no_route", lang)
        try:
            tset = store_tiles.get_tileset(name) if name else None
        except store_tiles.TileError:
            tset = None
        if tset is None:
            return "none", t("basemap.no_set", lang, name=name or "local")
        return geo_tiles.local_layer(tset), None
    sources = online_sources(lang, env)
    if choice == "none":
        return "none", None
    if choice not in sources:
        valid = ", ".join([*sources, "local", "local:NAME", "none"])
        return "osm", t("basemap.unknown", lang, value=choice, valid=valid)
    source = sources[choice]
    if cache and mounted:
        try:
            return geo_tiles.cache_layer(choice, source, store_tiles.TileCache()), None
        except store_tiles.PolicyError as exc:
            warning = t("basemap.policy", lang, error=str(exc))
            return (choice if choice in TILE_SOURCES else geo_tiles.online_layer(choice, source)), warning
    if choice in TILE_SOURCES:
        return choice, None
    return geo_tiles.online_layer(choice, source), None


def _keep(key: str) -> None:
    st.session_state[f"_keep_{key}"] = st.session_state[key]


def _seeded(key: str, default) -> dict:
    """Bind a widget to a kept value: Streamlit scopes widget state to the page that drew it,
    so without this a page switch would reset the choice (as the chrome does for filters)."""
    ss = st.session_state
    kept = f"_keep_{key}"
    if kept not in ss:
        ss[kept] = default
    ss[key] = ss[kept]
    return {"key": key, "on_change": _keep, "args": (key,)}


def sidebar(lang: str) -> None:
    """The base map selector (and the cache switch) in the sidebar."""
    opts = options(lang)
    conf = configured(lang)
    if conf not in opts:
        opts = [conf, *opts]
    if st.session_state.get(f"_keep_{K_CHOICE}") not in opts:
        st.session_state[f"_keep_{K_CHOICE}"] = conf
    st.sidebar.selectbox(t("basemap.label", lang), opts, **_seeded(K_CHOICE, conf),
                         format_func=lambda c: label(c if c != "local:" else "local:local", lang))
    if route_mounted():
        st.sidebar.toggle(t("basemap.cache", lang), help=t("basemap.cache_help", lang),
                          **_seeded(K_CACHE, cache_default()))


def current(lang: str) -> str | BaseLayer:
    """The tiles of this session (sidebar choice, else ``LAGEBILD_TILES``); warns once per run."""
    choice = st.session_state.get(f"_keep_{K_CHOICE}") or configured(lang)
    cache = bool(st.session_state.get(f"_keep_{K_CACHE}", cache_default())) and route_mounted()
    tiles, warning = resolve(choice, lang, cache)
    if warning:
        st.warning(warning, icon=":material/map:")
    return tiles


def local_candidates(lang: str) -> list[BaseLayer]:
    """Tiles served by the app that conference mode may pick: tile sets, then cached sources."""
    if not route_mounted():
        return []
    out = []
    default = store_tiles.default_tileset()
    sets = store_tiles.list_tilesets()
    if default is not None:
        sets = [default] + [s for s in sets if s.name != default.name]
    out += [geo_tiles.local_layer(s) for s in sets]
    cache = store_tiles.TileCache()
    for name, source in online_sources(lang).items():
        if cache.source(source.key) is not None:
            try:
                out.append(geo_tiles.cache_layer(name, source, cache))
            except store_tiles.PolicyError:
                continue
    return out


@st.cache_data(ttl=30, show_spinner=False)
def _cache_stats(root: str) -> tuple[int, str]:
    n, zooms = store_tiles.folder_stats(Path(root))
    text = "–" if not zooms else (f"{zooms[0]}" if len(zooms) == 1 else f"{zooms[0]}–{zooms[-1]}")
    return n, text


def caption(layer: BaseLayer, lang: str) -> str:
    """A sentence saying which tiles are local."""
    if layer.kind == "local":
        tset = layer.tileset()
        meta = store_tiles.get_tileset(layer.name)
        n = meta.tiles if meta is not None else 0
        return t("tiles.caption.local", lang, label=layer.label(lang), z0=tset.minzoom, z1=tset.maxzoom,
                 n=n, attr=store_tiles.attribution_text(layer.attribution) or "–")
    if layer.kind == "cache":
        n, zooms = _cache_stats(layer.root)
        return t("tiles.caption.cache", lang, label=layer.label(lang), n=n, zooms=zooms)
    return ""
