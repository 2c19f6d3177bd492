"""Small Streamlit building blocks shared by pages (KPI tiles, maps, cached models)."""

from __future__ import annotations

from collections.abc import Callable

import folium
import pandas as pd
import streamlit as st

from base.i18n import t
from data.filters import Filters
from data.kpis import Kpi
from geo import maps
from geo import model as geo_model
from geo import tiles as geo_tiles
from geo.a11y import make_accessible
from geo.tiles import BaseLayer
from ui import a11y, basemap, cache, chrome, foliumview
from ui.chrome import Context
from viz import map_alt, pagedata
from viz.kpi_text import kpi_text
from viz.pagedata import RESOLUTIONS


def tiles(lang: str | None = None) -> str | BaseLayer:
    """The base map of this session: the sidebar's choice, else ``LAGEBILD_TILES`` (osm, basemap,
    basemap-grau, url, local, local:NAME, none), through the viewed-tile cache when it is on
    (see :mod:`ui.basemap`)."""
    return basemap.current(lang or chrome.current_lang())


def export_tiles(lang: str | None = None) -> str | BaseLayer:
    """The base map for image exports: the session's tiles when the app has them locally, else none."""
    return geo_tiles.for_export(tiles(lang))


def conference_tiles(lang: str, bounds: tuple[float, float, float, float]) -> tuple[str | BaseLayer, str]:
    """Conference mode: local tiles when they cover the view, else the configured ones; and a note."""
    configured = tiles(lang)
    names = {k: basemap.label(k, lang) for k in basemap.online_sources(lang)}
    return geo_tiles.conference_choice(configured, basemap.local_candidates(lang), bounds, lang, names)


@st.cache_resource(show_spinner=False, max_entries=64)
def _lagebild_data(folder: str, sig: str, resolution: int, f: Filters, lang: str, metric: str,
                     _bundle, _model) -> pagedata.LagebildData:
    """The Lagebild layers of one filter state; revisiting a state (flipping between
    quarters, districts) reuses them. ``sig`` also identifies the role's view of the data."""
    del folder, sig, resolution
    return pagedata.lagebild_data(_bundle, _model, f, lang, metric)


def lagebild_map(ctx: Context, model: geo_model.SpatialModel, metric: str) -> folium.Map:
    layers = _lagebild_data(str(ctx.source.folder), ctx.signature, model.index.resolution,
                              ctx.filters, ctx.lang, metric, ctx.bundle, model)
    return pagedata.draw_lagebild(layers, ctx.bundle, ctx.lang, tiles())


def spatial_model(ctx: Context, resolution: int = cache.DEFAULT_RESOLUTION) -> geo_model.SpatialModel:
    return cache.spatial_model(str(ctx.source.folder), ctx.signature, resolution, ctx.bundle)


def resolution_select(lang: str) -> int:
    """The H3 cell size, shared by the pages that draw cells and kept in the URL (``r``)."""
    return chrome.url_select(t("cells.resolution", lang), RESOLUTIONS, key="res", url_key="r",
                             format_func=lambda r: t(f"cells.res{r}", lang))


def kpi_tiles(kpis: list[Kpi], lang: str, per_row: int = 3) -> None:
    for start in range(0, len(kpis), per_row):
        cols = st.columns(per_row)
        for col, kpi in zip(cols, kpis[start:start + per_row], strict=False):
            text = kpi_text(kpi, lang)
            with col:
                a11y.kpi_sentence(kpi, lang)  # read as one sentence (the tile is hidden from readers)
            col.metric(text.label, text.value, delta=text.delta, delta_color=text.delta_color,
                       delta_arrow=text.arrow, help=text.help, border=True)


def _view(m: folium.Map, key: str, label: str | None, lang: str) -> foliumview.MapView:
    make_accessible(m, lang, label)
    return foliumview.build_view(m, key)


def _show_view(view: foliumview.MapView, key: str, height: int, tiles_note: bool, lang: str) -> None:
    foliumview.show_view(view, key=key, height=height)
    if tiles_note and view.base is not None and view.base.served_by_app:  # say which tiles are local
        st.caption(basemap.caption(view.base, lang))


def show_map(m: folium.Map, key: str, height: int = 620, label: str | None = None,
             tiles_note: bool = True) -> None:
    """Render a folium map; map interactions do not rerun the page.

    The map gets its accessible name (``label``, default: the layers it opens with),
    keyboard help and focus handling (:func:`geo.a11y.make_accessible`). Under a map on
    tiles the app serves, a line says which tiles are local (``tiles_note=False``: the page
    says it). The tree is rendered once (:mod:`ui.foliumview`).
    """
    lang = chrome.current_lang()
    _show_view(_view(m, key, label, lang), key, height, tiles_note, lang)


def _minute() -> str:
    """The current minute in the city's time zone: offices' "open now" popups depend on it."""
    return pd.Timestamp.now(tz="Europe/Berlin").strftime("%Y-%m-%d %H:%M")


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_view(state: tuple, key: str, label: str | None, lang: str, _build: Callable[[], folium.Map]
                 ) -> foliumview.MapView:
    """The rendered map of one map state. ``state`` holds every input of ``_build`` (data
    and role signature, filters, page options, tiles, the minute for "open now")."""
    del state
    return _view(_build(), key, label, lang)


def show_cached_map(state: tuple, build: Callable[[], folium.Map], key: str, height: int = 620,
                    label: str | None = None, tiles_note: bool = True) -> None:
    """:func:`show_map` for a map that ``build()`` draws from the inputs listed in ``state``
    (hashable values): rendered once per state for every session, later runs send the
    cached strings. ``tiles()`` and the current minute are added to the state here."""
    lang = chrome.current_lang()
    full = (*state, repr(tiles(lang)), _minute())
    _show_view(_cached_view(full, key, label, lang, build), key, height, tiles_note, lang)


def show_lagebild_map(ctx: Context, model: geo_model.SpatialModel, metric: str, layers: list[str],
                      with_points: bool, key: str, height: int) -> None:
    """The Lagebild map of this run's filters: layers shown as chosen, the single-complaint
    layer when ``with_points`` (rendered once per state, :func:`show_cached_map`)."""

    def build() -> folium.Map:
        m = lagebild_map(ctx, model, metric)
        if with_points:
            points, n_points = pagedata.complaint_points(ctx.bundle, ctx.filters, ctx.lang,
                                                         ctx.principal)
            maps.add_complaint_points(m, points, ctx.lang, total=n_points)
        pagedata.show_lagebild_layers(m, layers, ctx.lang)
        return m

    state = ("lagebild", str(ctx.source.folder), ctx.signature, model.index.resolution, ctx.filters,
             ctx.lang, metric, tuple(layers), with_points)
    show_cached_map(state, build, key=key, height=height)


@st.cache_resource(show_spinner=False, max_entries=64)
def _map_alt(folder: str, sig: str, resolution: int, f: Filters, lang: str, kind: str, extra: tuple,
             _bundle, _model) -> map_alt.MapAlt:
    """A map's text alternative for one filter state (computed once, like the map's layers)."""
    del folder, sig, resolution
    if kind == "lagebild":
        return map_alt.lagebild(_bundle, _model, f, lang, *extra)
    if kind == "emerging":
        return map_alt.emerging_patterns(_bundle, _model, f, lang, list(extra))
    builders = {"overview": map_alt.overview, "presence": map_alt.presence, "hotspot": map_alt.hotspot}
    return builders[kind](_bundle, _model, f, lang)


def map_alternative(ctx: Context, model: geo_model.SpatialModel, kind: str, key: str, *extra) -> None:
    """The description and data tables of a page's map (``kind``: overview, lagebild (extra:
    metric), presence, hotspot, emerging (extra: the quarters))."""
    alt = _map_alt(str(ctx.source.folder), ctx.signature, model.index.resolution, ctx.filters, ctx.lang,
                   kind, tuple(extra), ctx.bundle, model)
    a11y.map_alternative(alt, ctx.lang, key)
