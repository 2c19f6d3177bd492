"""Folium maps on a page, rendered once and sent as plain strings.

``streamlit_folium.st_folium`` renders the whole folium tree twice on every call (the root
figure, then the map again) before it generates the Leaflet script it actually sends. Here
:func:`build_view` renders the map once and extracts exactly what ``st_folium`` would hand to
its component (script, header, html, asset links, the component key); :func:`show_view` sends
that to the same component. A :class:`MapView` is plain strings, so pages cache it per map
state (every input of the map in the cache key, see :mod:`ui.widgets`): a rerun that shows a
map state seen before, by any session, sends the cached strings without building a tree.

Only ``returned_objects=[]`` maps are supported (no map interaction reruns the page), which
is how the app shows every map.
"""

from __future__ import annotations

from dataclasses import dataclass

import branca
import folium
import folium.elements
import streamlit as st

from geo.maps import base_layer, render_without_scripts
from geo.tiles import BaseLayer


def _sf():
    """streamlit-folium, imported at first use: it registers its component with the running
    server only when it is imported during a script run, and :mod:`ui.prewarm` imports this
    module before any session exists."""
    import streamlit_folium

    return streamlit_folium


@dataclass(frozen=True)
class MapView:
    """What the st_folium component needs to draw one map (and the base layer's note)."""

    script: str
    header: str
    html: str
    map_id: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]
    component_key: str  # streamlit-folium's key: a hash of the script and the widget key
    base: BaseLayer | None  # the app-served base layer, for the "which tiles" note

    @property
    def size(self) -> int:
        """Bytes sent to the browser for this map (script, header and html)."""
        return sum(len(s.encode("utf-8")) for s in (self.script, self.header, self.html))


def _asset_links(m: folium.Map) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The CSS and JS links of the map's elements, as ``st_folium`` collects them."""
    css: list[str] = []
    js: list[str] = []

    def walk(element):
        if isinstance(element, branca.colormap.ColorMap | folium.elements.JSCSSMixin):
            yield element
        for child in getattr(element, "_children", {}).values():
            yield from walk(child)

    for element in walk(m):
        if isinstance(element, branca.colormap.ColorMap):
            raise ValueError(f"a branca colormap would load d3 from a CDN, got {element!r}")
        css.extend(href for _, href in getattr(element, "default_css", []))
        js.extend(src for _, src in getattr(element, "default_js", []))
    return tuple(dict.fromkeys(css)), tuple(dict.fromkeys(js))


def build_view(m: folium.Map, key: str) -> MapView:
    """Render ``m`` once and return what the component gets for widget ``key``.

    The map object is used up (streamlit-folium renames its elements while generating the
    script); build a new one for another view.
    """
    if not isinstance(m, folium.Map):
        raise ValueError(f"build_view needs a folium.Map, got {type(m).__name__}")
    base = base_layer(m)
    sf = _sf()
    render_without_scripts(m)  # the figure's header/html (assets localized); the script below
    html = sf._get_html(m)
    header = sf._get_header(m)
    script = sf._get_map_string(m)  # each element's script macro, with stable names
    map_id = sf.get_full_id(m)  # after the renaming, as st_folium takes it ("map_div")
    css, js = _asset_links(m)
    return MapView(script=script, header=header, html=html, map_id=map_id, css_links=css,
                   js_links=js, component_key=sf.generate_js_hash(script, key, False),
                   base=None if base is None else base.base)


def show_view(view: MapView, key: str, height: int) -> None:
    """Send ``view`` to the st_folium component (as ``st_folium(..., returned_objects=[])``,
    full container width)."""

    def on_change() -> None:  # what st_folium does: the widget key mirrors the component's value
        st.session_state[key] = st.session_state.get(view.component_key, {})

    _sf()._component_func(
        script=view.script, header=view.header, html=view.html, id=view.map_id,
        key=view.component_key, height=height, width=None, returned_objects=[], default={},
        zoom=None, center=None, feature_group=None, return_on_hover=False, layer_control=None,
        pixelated=False, css_links=list(view.css_links), js_links=list(view.js_links),
        on_change=on_change, wrap_longitude=False)
