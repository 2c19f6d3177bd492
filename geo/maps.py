"""Folium map builders for the Lagebild map: base map, choropleth, cells, markers, legends.

Every builder adds one named :class:`folium.FeatureGroup` (the name is translated and
shows up in the layer control) holding **one** GeoJSON layer, whatever the number of
features: a district, a cell or an office is a feature of that layer, never a folium
element of its own. That keeps the HTML small (see :func:`map_html`).

Offline: :func:`base_map` returns a :class:`LagebildMap`, which points every JS/CSS asset
at the app's own static files (:func:`geo.assets.localize`) each time it is rendered, adds
the layer control last, and uses no folium element that needs jQuery, Bootstrap or
awesome-markers. With ``tiles="none"`` the rendered HTML holds no URL of any other host.

Untrusted text: every data-derived text (names, addresses, phone numbers, opening hours,
categories, legend titles) is HTML-escaped here, in Python, before it is put into a
tooltip, popup or legend, and all of it travels to the browser inside JSON whose ``<`` and
``>`` are escaped, so no text can close the ``<script>`` element or leave its JS string.
Leaflet then sets the pre-escaped HTML with ``innerHTML``.
"""

from __future__ import annotations

import contextvars
import html
import json
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from typing import Any

import folium
import h3
import numpy as np
import pandas as pd
import shapely
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.elements import ElementAddToElement
from folium.template import Template
from folium.utilities import get_obj_in_upper_tree

from base.i18n import check_lang, fmt_number, register, t
from data.contracts import FOCUS_KINDS, OFFICE_KINDS, PATROL_KINDS, TZ
from data.opening import is_open, next_change
from geo.assets import localize
from geo.tiles import BLANK_TILE, VIEW_SIZE, BaseLayer, embed_tiles

register({
    "map.layer.districts": ("Bezirke", "Districts"),
    "map.layer.offices": ("Dienststellen", "Offices"),
    "map.layer.presence.kod": ("Präsenz KOD", "Presence KOD"),
    "map.layer.presence.joint": ("Präsenz Gemeinsame Streife", "Presence joint patrol"),
    "map.layer.presence.police": ("Präsenz Polizei", "Presence police"),
    "map.layer.complaints": ("Beschwerdedichte", "Complaint density"),
    "map.layer.hotspots": ("Hotspots (Gi*)", "Hotspots (Gi*)"),
    "map.layer.gap": ("Präsenzlücken", "Presence gaps"),
    "map.layer.focus": ("Schwerpunkte & Angsträume", "Focus areas & places perceived as unsafe"),
    "map.layer.incidents": ("Übergriffe auf Beschäftigte", "Assaults on staff"),
    "map.tiles.osm": ("OpenStreetMap", "OpenStreetMap"),
    "map.tiles.basemap": ("basemap.de", "basemap.de"),
    "map.tiles.basemap-grau": ("basemap.de grau", "basemap.de grey"),
    "map.attr.osm": ("© OpenStreetMap-Mitwirkende", "© OpenStreetMap contributors"),
    "map.attr.bkg": ("© GeoBasis-DE / BKG", "© GeoBasis-DE / BKG"),
    "map.nodata": ("keine Daten", "no data"),
    "map.trend.down3": ("stark gesunken (z ≤ −3)", "strong decrease (z ≤ −3)"),
    "map.trend.down2": ("gesunken (z ≤ −2)", "decrease (z ≤ −2)"),
    "map.trend.none": ("keine deutliche Änderung", "no clear change"),
    "map.trend.up2": ("gestiegen (z ≥ 2)", "increase (z ≥ 2)"),
    "map.trend.up3": ("stark gestiegen (z ≥ 3)", "strong increase (z ≥ 3)"),
    "map.hot.hot99": ("Hotspot, 99 % Konfidenz", "Hot spot, 99% confidence"),
    "map.hot.hot95": ("Hotspot, 95 % Konfidenz", "Hot spot, 95% confidence"),
    "map.hot.hot90": ("Hotspot, 90 % Konfidenz", "Hot spot, 90% confidence"),
    "map.hot.cold90": ("Coldspot, 90 % Konfidenz", "Cold spot, 90% confidence"),
    "map.hot.cold95": ("Coldspot, 95 % Konfidenz", "Cold spot, 95% confidence"),
    "map.hot.cold99": ("Coldspot, 99 % Konfidenz", "Cold spot, 99% confidence"),
    "map.hot.legend": ("Hotspots (Getis-Ord Gi*)", "Hot spots (Getis-Ord Gi*)"),
    "map.hot.count": ("Beschwerden", "Complaints"),
    "map.office.address": ("Adresse", "Address"),
    "map.office.phone": ("Telefon", "Phone"),
    "map.office.hours": ("Öffnungszeiten", "Opening hours"),
    "map.office.now": ("Jetzt", "Now"),
    "map.office.open": ("geöffnet", "open"),
    "map.office.open_until": ("geöffnet bis {time}", "open until {time}"),
    "map.office.closed": ("geschlossen", "closed"),
    "map.office.opens": ("geschlossen, öffnet {day} {time}", "closed, opens {day} {time}"),
    "map.office.unknown": ("unbekannt", "unknown"),
    "map.office.legend": ("Dienststellen", "Offices"),
    "map.focus.schwerpunkt": ("Schwerpunkt", "Focus area"),
    "map.focus.angstraum": ("Angstraum", "Place perceived as unsafe"),
    "map.gap.title": ("Präsenzlücke", "Presence gap"),
    "map.gap.rank": ("Rang", "Rank"),
    "map.gap.district": ("Bezirk", "District"),
    "map.gap.complaints": ("Beschwerden", "Complaints"),
    "map.gap.presence": ("Präsenz", "Presence"),
    "map.gap.categories": ("Hauptkategorien", "Main categories"),
    "map.gap.legend": ("Hotspot (≥ 95 %) mit wenig Präsenz", "Hot spot (≥ 95%) with little presence"),
    "map.incidents.count": ("Übergriffe", "Assaults"),
    "map.cells.capped": ("gezeigt: die {shown} höchsten von {total} Zellen",
                         "shown: the {shown} highest of {total} cells"),
})

# --- palettes (colour-blind safe) --------------------------------------------------------------

#: Sequential palettes, five steps from low (light) to high (dark). Viridis, cividis and
#: magma are perceptually uniform and colour-blind safe; the single-hue ColorBrewer ramps
#: are safe as well.
PALETTES: dict[str, tuple[str, ...]] = {
    "viridis": ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"),
    "cividis": ("#ffea46", "#bcaf6f", "#7c7b78", "#414d6b", "#00204d"),
    "magma": ("#fcfdbf", "#fe9f6d", "#de4968", "#8c2981", "#3b0f70"),
    "blues": ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
    "oranges": ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"),
    "greens": ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"),
    "purples": ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"),
    "ylorrd": ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
}
#: The diverging variant for the trend signal z (design.md section 4): classes
#: z ≤ −3, z ≤ −2, −2 < z < 2, z ≥ 2, z ≥ 3 (ColorBrewer RdBu, colour-blind safe).
TREND_PALETTE = "trend"
TREND_COLORS = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")
TREND_KEYS = ("map.trend.down3", "map.trend.down2", "map.trend.none", "map.trend.up2", "map.trend.up3")
NODATA_COLOR = "#d9d9d9"
#: Default upper bound of hexagons per cell layer (keeps the map's HTML small whatever the data).
MAX_CELLS = 5000

#: Suggested palettes per layer.
PRESENCE_PALETTES = {"kod": "blues", "joint": "purples", "police": "greens"}
COMPLAINT_PALETTE = "ylorrd"

#: Gi* confidence classes, hot to cold, and their colours (RdBu). "none" is not drawn.
HOTSPOT_CLASSES = ("hot99", "hot95", "hot90", "cold90", "cold95", "cold99")
HOTSPOT_COLORS = {
    "hot99": "#b2182b", "hot95": "#ef8a62", "hot90": "#fddbc7",
    "cold90": "#d1e5f0", "cold95": "#67a9cf", "cold99": "#2166ac",
}

# Okabe–Ito colours for point symbols and outlines.
_BLUE, _ORANGE, _GREEN, _VERMILLION, _PURPLE, _GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#7f7f7f")

# --- tiles -------------------------------------------------------------------------------------

_BASEMAP = ("https://sgx.geodatenzentrum.de/wmts_basemapde/tile/1.0.0/de_basemapde_web_raster_{style}"
            "/default/GLOBAL_WEBMERCATOR/{{z}}/{{y}}/{{x}}.png")


@dataclass(frozen=True)
class TileSource:
    """A raster tile service: URL template, attribution (text key) and an optional link."""

    url: str
    attribution_key: str
    attribution_url: str | None
    max_zoom: int

    def attribution(self, lang: str) -> str:
        """The attribution as HTML (escaped text, linked where the licence asks for a link)."""
        text = html.escape(t(self.attribution_key, lang))
        if self.attribution_url:
            return f'<a href="{html.escape(self.attribution_url)}">{text}</a>'
        return text

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL this source puts into the map's HTML (tile template, attribution link).

        The link is only followed when a user clicks it; the browser loads nothing from it.
        """
        return (self.url,) + ((self.attribution_url,) if self.attribution_url else ())


TILE_SOURCES: dict[str, TileSource | None] = {
    "osm": TileSource("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "map.attr.osm",
                      "https://www.openstreetmap.org/copyright", 19),
    "basemap": TileSource(_BASEMAP.format(style="farbe"), "map.attr.bkg", None, 18),
    "basemap-grau": TileSource(_BASEMAP.format(style="grau"), "map.attr.bkg", None, 18),
    "none": None,
}
TILES = tuple(TILE_SOURCES)


def tile_source(tiles: str) -> TileSource | None:
    """The tile source for a ``LAGEBILD_TILES`` value; ``ValueError`` for unknown values."""
    if tiles not in TILE_SOURCES:
        raise ValueError(f"tiles must be one of {list(TILE_SOURCES)}, got {tiles!r}")
    return TILE_SOURCES[tiles]


# --- escaping and JSON ---------------------------------------------------------------------------


def esc(value: Any) -> str:
    """HTML-escape a data value (None/NaN -> empty string)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return html.escape(str(value), quote=True)


_JS_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JS_UNSAFE_RE = re.compile("[<>\u2028\u2029]")


def to_js(obj: Any) -> str:
    """JSON for a ``<script>`` element: ``<``/``>`` escaped, so no text can end the script."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JS_UNSAFE_RE.sub(lambda m: _JS_UNSAFE[m.group()], text)


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# --- elements ----------------------------------------------------------------------------------

_CSS = """<style>
.lagebild-legend{background:rgba(255,255,255,.93);padding:6px 9px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.4 system-ui,sans-serif;color:#222;max-width:260px}
.lagebild-legend .lt{font-weight:600;margin-bottom:3px}
.lagebild-legend .sw{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-3px;
 border:1px solid rgba(0,0,0,.3);outline:1px solid #595959}
.lagebild-legend .ci{display:inline-block;border-radius:50%;margin-right:6px;vertical-align:middle;
 border:1.5px solid #D55E00;background:rgba(213,94,0,.45)}
.lagebild-legend .ic{display:inline-block;width:20px;vertical-align:middle;margin-right:4px}
.lagebild-icon{background:none;border:none}
.lagebild-popup{font:13px/1.4 system-ui,sans-serif}
.lagebild-popup th{text-align:left;padding:1px 8px 1px 0;vertical-align:top;font-weight:600}
.lagebild-popup td{padding:1px 0;vertical-align:top}
</style>"""


class _Text(Element):
    """Already rendered text, emitted as it is.

    branca's MacroElement wraps what its macros render in a new ``Element`` and compiles
    that as a Jinja template. For a layer script that means lexing hundreds of KB again on
    every render, and worse, text from the data such as ``{{ 7*7 }}`` would be evaluated
    on the server (template injection). Lagebild's own elements emit :class:`_Text`.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


#: Set while :func:`render_without_scripts` runs: elements leave the figure's script empty.
_NO_SCRIPTS: contextvars.ContextVar[bool] = contextvars.ContextVar("lagebild_no_scripts", default=False)


def _parts() -> tuple[str, ...]:
    return ("header", "html") if _NO_SCRIPTS.get() else ("header", "html", "script")


def render_without_scripts(m: folium.Map) -> None:
    """``m.render()`` for the figure's header and html only: every element renders as usual
    (layers add their ``addTo`` children, the layer control collects its layers), but no
    element's script is rendered into the figure. For streamlit-folium, which generates the
    map's script by walking the elements itself: the figure's copy was built and thrown away.
    """
    token = _NO_SCRIPTS.set(True)
    try:
        m.render()
    finally:
        _NO_SCRIPTS.reset(token)


class _SafeMacroMixin:
    """Render what folium's ``Layer`` and ``JSCSSMixin`` add (the ``addTo`` child, the asset
    links), then the macros once (:func:`_macro_render_once`)."""

    def render(self, **kwargs: Any) -> None:
        if isinstance(self, folium.map.Layer) and self.show:  # what Layer.render would add
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=self._parent.get_name()),
                           name=self.get_name() + "_add")
        figure = self.get_root()
        for name, url in getattr(self, "default_js", []):
            figure.header.add_child(JavascriptLink(url), name=name)
        for name, url in getattr(self, "default_css", []):
            figure.header.add_child(CssLink(url), name=name)
        _macro_render_once(self, **kwargs)


def _macro_render_once(self: MacroElement, **kwargs: Any) -> None:
    """``MacroElement.render`` without compiling the rendered output as a template again.

    branca's version wraps each macro's output in ``Element(output)``, which compiles it as
    a Jinja template, and the figure then renders that template: every folium element of a
    map (feature groups, the layer control, fit bounds, the map itself) costs a template
    compilation per render (about a quarter of building a Lagebild map), and ``{{ ... }}``
    in a rendered name would be evaluated on the server. The output is the same otherwise;
    installed once for the process (``MacroElement.render``), like :class:`_SafeMacroMixin`
    for Lagebild's own elements.
    """
    figure = self.get_root()
    if not isinstance(figure, Figure):
        raise ValueError(f"an element can only be rendered in a Figure, got {type(figure).__name__}")
    module = self._template.module.__dict__
    for part in _parts():
        macro = module.get(part)
        if macro is not None:
            getattr(figure, part).add_child(_Text(macro(self, kwargs)), name=self.get_name())
    for element in self._children.values():
        element.render(**kwargs)


_BRANCA_MACRO_RENDER = MacroElement.render  # (the original, for the test of equal output)
MacroElement.render = _macro_render_once  # type: ignore[method-assign]


class _Css(_SafeMacroMixin, folium.MacroElement):
    """The stylesheet of legends, icons and popups (inline, once per map)."""

    _template = Template("{% macro header(this, kwargs) %}" + _CSS + "{% endmacro %}")

    def __init__(self) -> None:
        super().__init__()
        self._name = "LagebildCss"


class LocalTileLayer(_SafeMacroMixin, folium.TileLayer):
    """The base map from the app's own tile route (a local tile set or the viewed-tile cache).

    :meth:`embed` swaps the route URLs for the tiles themselves (``data:`` URIs), so an
    exported HTML file, PNG or PDF shows the base map with no request to any host.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.script_js() }}{% endmacro %}")

    def __init__(self, layer: BaseLayer, lang: str) -> None:
        super().__init__(tiles=layer.url, attr=layer.attribution, name=layer.label(lang),
                         min_zoom=layer.min_zoom, max_zoom=layer.max_zoom, max_native_zoom=layer.max_zoom,
                         overlay=False, control=False)
        self.base = layer
        self.embedded: dict[str, str] | None = None
        self.embedded_zooms: tuple[int, int] | None = None

    def _leaflet_options(self) -> dict:
        z0, z1 = self.embedded_zooms or (self.base.min_zoom, self.base.max_zoom)
        options = {"minZoom": self.base.min_zoom, "maxZoom": max(self.base.max_zoom, z1),
                   "minNativeZoom": z0, "maxNativeZoom": z1,
                   "attribution": self.base.attribution, "noWrap": True}
        if self.base.bounds is not None:
            w, s, e, n = self.base.bounds
            options["bounds"] = [[s, w], [n, e]]
        return options

    def script_js(self) -> str:
        name = self.get_name()
        if self.embedded is None:
            return f"var {name} = L.tileLayer({to_js(self.base.url)}, {to_js(self._leaflet_options())});"
        return (f"var {name}_tiles = {to_js(self.embedded)};\n"
                f"var {name} = new (L.TileLayer.extend({{getTileUrl: function (c) {{"
                f"return {name}_tiles[this._getZoomForUrl() + '/' + c.x + '/' + c.y] || {to_js(BLANK_TILE)};"
                f"}}}}))('', {to_js(self._leaflet_options())});")

    def embed(self, bounds: tuple[float, float, float, float], size: tuple[int, int] = VIEW_SIZE) -> int:
        """Carry the local tiles that a ``size`` view of ``bounds`` shows; returns how many."""
        tiles, z0, z1 = embed_tiles(self.base, bounds, size)
        self.embedded = tiles
        self.embedded_zooms = (z0, z1)
        return len(tiles)


def base_layer(m: folium.Map) -> LocalTileLayer | None:
    """The app-served base layer of a map (None for online tiles or none)."""
    for child in m._children.values():
        if isinstance(child, LocalTileLayer):
            return child
    return None


def embed_base_tiles(m: folium.Map, size: tuple[int, int] = VIEW_SIZE) -> int:
    """Embed the local base tiles of ``m`` (see :meth:`LocalTileLayer.embed`); 0 when it has none."""
    layer = base_layer(m)
    bounds = getattr(m, "fitted_bounds", None)
    if layer is None or not bounds:
        return 0
    (s, w), (n, e) = bounds
    return layer.embed((w, s, e, n), size)


class LagebildMap(folium.Map):
    """A :class:`folium.Map` that keeps itself offline and its layer control last.

    On every render it points all assets at the app's static files (:func:`localize`) and
    moves the :class:`folium.LayerControl` behind every layer, so layers added after
    :func:`base_map` still appear in the control and no CDN address can slip back in.
    """

    fitted_bounds: list[list[float]] | None = None

    def get_bounds(self) -> list[list[float]]:
        """The bounds the map was fitted to (walking every feature is slow for many cells)."""
        if self.fitted_bounds is not None:
            return self.fitted_bounds
        return super().get_bounds()

    def render(self, **kwargs: Any) -> None:
        controls = [k for k, v in self._children.items() if isinstance(v, folium.LayerControl)]
        for key in controls:
            self._children.move_to_end(key)
        localize(self)
        super().render(**kwargs)


class _GeoLayer(_SafeMacroMixin, folium.GeoJson):
    """One GeoJSON layer styled by class and with pre-escaped tooltips and popups.

    Feature properties: ``k`` (index into ``styles``), ``t`` (tooltip HTML, escaped),
    optionally ``p`` (popup HTML, escaped) and ``r`` (radius of a circle marker). A style
    with an ``icon`` entry turns points into DivIcon markers. ``tip_prefix`` and
    ``tip_suffix`` are HTML put around every tooltip (layer title, unit), so they are not
    repeated in every feature.

    ``hexagons=True`` (H3 cells: one ring, properties ``k`` and ``t`` only) sends the
    features in a compact form that the browser expands back into GeoJSON: per cell
    ``[id, k, t, x0, y0, dx1, dy1, ...]`` in integer 1e-5 degrees, the first vertex relative
    to the previous cell's, the others to the previous vertex (about 2.5× smaller).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = (function() {
    var styles = {{ this.styles_js() }};
    var hover = {{ this.hover_js() }};
    var tipPrefix = {{ this.tip_prefix_js() }}, tipSuffix = {{ this.tip_suffix_js() }};
    var layer = L.geoJson(null, {
        style: function(f) { return styles[f.properties.k]; },
        pointToLayer: function(f, latlng) {
            var s = styles[f.properties.k] || {};
            if (s.icon) { return L.marker(latlng, {icon: L.divIcon(s.icon), keyboard: true}); }
            return L.circleMarker(latlng, {radius: f.properties.r || 6});
        },
        onEachFeature: function(f, l) {
            var p = f.properties;
            if (p.t) { l.bindTooltip(tipPrefix + p.t + tipSuffix, {sticky: true}); }
            if (p.p) { l.bindPopup(p.p, {maxWidth: 320}); }
            if (hover) {
                l.on({
                    mouseover: function(e) {
                        if (typeof e.target.setStyle === "function") { e.target.setStyle(hover); }
                    },
                    mouseout: function(e) {
                        if (typeof e.target.setStyle === "function") { layer.resetStyle(e.target); }
                    }
                });
            }
        }
    });
    var data = {{ this.data_js() }};
    if (data.hex) {
        var px = 0, py = 0;
        data = data.hex.map(function(a) {
            var x = px + a[3], y = py + a[4], ring = [[x / 1e5, y / 1e5]];
            px = x; py = y;
            for (var j = 5; j < a.length; j += 2) {
                x += a[j]; y += a[j + 1]; ring.push([x / 1e5, y / 1e5]);
            }
            ring.push(ring[0]);
            return {type: "Feature", id: a[0], properties: {k: a[1], t: a[2]},
                    geometry: {type: "Polygon", coordinates: [ring]}};
        });
    }
    layer.addData(data);
    return layer;
})();
{% endmacro %}
""")

    def __init__(self, features: list[dict], styles: Sequence[Mapping[str, Any]],
                 hover: Mapping[str, Any] | None = None, tip_prefix: str = "", tip_suffix: str = "",
                 hexagons: bool = False) -> None:
        self._cells: tuple[list[str], list[tuple[str, int, int, str]], list[int], list[str]] | None = None
        super().__init__({"type": "FeatureCollection", "features": features}, control=False)
        self._name = "GeoJson"
        self.styles = [dict(s) for s in styles]
        self.hover = dict(hover) if hover else None
        self.tip_prefix = tip_prefix
        self.tip_suffix = tip_suffix
        self.hexagons = hexagons

    @classmethod
    def of_cells(cls, cells: Sequence[str], classes: Sequence[int], tips: Sequence[str],
                 styles: Sequence[Mapping[str, Any]], **options: Any) -> _GeoLayer:
        """A hexagon layer of H3 cells (their cached polygons), with class ``k`` and tooltip
        ``t`` per cell. The browser gets the compact rows straight from these columns; the
        GeoJSON features are made only when ``data`` is read (tests, exports of the tree)."""
        if not len(cells) == len(classes) == len(tips):
            raise ValueError(f"cells, classes and tips must have one entry per cell, got "
                             f"{len(cells)}, {len(classes)} and {len(tips)}")
        layer = cls([], styles, hexagons=True, **options)
        ids = [str(c) for c in cells]
        codes = [_cell_js(c) for c in ids]  # (an invalid cell id is a ValueError here)
        layer._cells = (ids, codes, [int(k) for k in classes], list(tips))
        layer._data = None
        return layer

    @property
    def data(self) -> dict:
        if self._data is None:  # a layer of_cells: its features on first read
            cells, _, classes, tips = self._cells
            self._data = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": c, "properties": {"k": k, "t": tip},
                 "geometry": _hex_geometry(c)}
                for c, k, tip in zip(cells, classes, tips, strict=True)]}
        return self._data

    @data.setter
    def data(self, value: dict) -> None:
        self._data = value

    def styles_js(self) -> str:
        return to_js(self.styles)

    def hover_js(self) -> str:
        return to_js(self.hover)

    def tip_prefix_js(self) -> str:
        return to_js(self.tip_prefix)

    def tip_suffix_js(self) -> str:
        return to_js(self.tip_suffix)

    def data_js(self) -> str:
        """The features as JSON for the browser (compact for hexagon layers).

        Computed once: a map is rendered several times on its way to the browser
        (streamlit-folium renders the root, the map and the map script separately).
        """
        cached = getattr(self, "_data_js", None)
        if cached is None:
            cached = self._data_js = self._encode_data()
        return cached

    def _encode_data(self) -> str:
        if not self.hexagons:
            return to_js(self.data)
        # The JSON text of ``{"hex": rows}`` written directly (what to_js of the row lists
        # gives): a cell's id and vertex deltas are JSON once per cell (cached), a label
        # once per distinct label; json.dumps of ~30 numbers per cell dominated a first visit.
        parts = []
        texts: dict[Any, str] = {}
        px = py = 0
        for cell_js, x0, y0, deltas, k_js, tip in self._hex_rows():
            tip_js = texts.get(tip)
            if tip_js is None:
                tip_js = texts[tip] = to_js(tip)
            parts.append(f"[{cell_js},{k_js},{tip_js},{x0 - px},{y0 - py}{deltas}]")
            px, py = x0, y0
        return '{"hex":[' + ",".join(parts) + "]}"

    def _hex_rows(self) -> Iterator[tuple[str, int, int, str, str, Any]]:
        """Per cell: its id as JSON, first vertex, vertex deltas as JSON text, class as JSON
        and tooltip; from the columns of a layer ``of_cells``, else from its features."""
        if self._cells is not None and self._data is None:
            _, codes, classes, tips = self._cells
            for (cell_js, x0, y0, deltas), k, tip in zip(codes, classes, tips, strict=True):
                yield cell_js, x0, y0, deltas, str(k), tip
            return
        for feature in self.data["features"]:
            props = feature["properties"]
            if not props.keys() <= _HEX_PROPS:
                raise ValueError(f"hexagon features carry only k and t, got {sorted(props)}")
            geometry, cell = feature["geometry"], feature["id"]
            if isinstance(cell, str) and geometry is _hex_geometry(cell):  # the cached cell polygon
                cell_js, x0, y0, deltas = _cell_js(cell)
            else:
                x0, y0, codes = _ring_code(tuple(tuple(p) for p in geometry["coordinates"][0]))
                cell_js, deltas = to_js(cell), "".join(f",{d}" for d in codes)
            k = props["k"]
            yield cell_js, x0, y0, deltas, str(k) if type(k) is int else to_js(k), props.get("t", "")


_HEX_PROPS = frozenset({"k", "t"})


@lru_cache(maxsize=200_000)
def _ring_code(ring: tuple[tuple[float, float], ...]) -> tuple[int, int, tuple[int, ...]]:
    """A closed ring as integer 1e-5 degrees: first vertex and the deltas of the others."""
    xy = np.rint(np.asarray(ring[:-1], dtype="float64") * 1e5).astype(np.int64)
    return int(xy[0, 0]), int(xy[0, 1]), tuple(np.diff(xy, axis=0).ravel().tolist())


class _Legend(_SafeMacroMixin, folium.MacroElement):
    """A legend control shown while its feature group is on the map; ``html`` is escaped HTML."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function() {
    var map = {{ this.map_name() }};
    var group = {{ this._parent.get_name() }};
    var legend = L.control({position: "bottomleft"});  // clear of the layer control
    legend.onAdd = function() {
        var div = L.DomUtil.create("div", "lagebild-legend");
        div.innerHTML = {{ this.html_js() }};
        L.DomEvent.disableClickPropagation(div);
        return div;
    };
    group.on("add", function() { legend.addTo(map); });
    group.on("remove", function() { legend.remove(); });
    if (map.hasLayer(group)) { legend.addTo(map); }
})();
{% endmacro %}
""")

    def __init__(self, legend_html: str) -> None:
        super().__init__()
        self._name = "LagebildLegend"
        self.html = legend_html

    def map_name(self) -> str:
        return get_obj_in_upper_tree(self, folium.Map).get_name()

    def html_js(self) -> str:
        return to_js(self.html)


def _legend_html(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """Legend markup: ``title`` and ``rows`` of (symbol HTML, label) are escaped here (labels)."""
    body = "".join(f"<div>{symbol}{esc(label)}</div>" for symbol, label in rows)
    return f'<div class="lt">{esc(title)}</div>{body}'


def _swatch(color: str, border: str | None = None) -> str:
    style = f"background:{color}" + (f";border-color:{border}" if border else "")
    return f'<span class="sw" style="{style}"></span>'


def _group(m: folium.Map, name: str, show: bool = True) -> folium.FeatureGroup:
    """A named overlay group on ``m`` (the name is escaped: Leaflet shows it as HTML)."""
    m.add_child(_Css(), name="lagebild_css")
    group = folium.FeatureGroup(name=esc(name), overlay=True, control=True, show=show)
    group.add_to(m)
    return group


def layer_names(m: folium.Map) -> list[str]:
    """The (unescaped) names of the map's overlay groups, in order."""
    return [html.unescape(c.layer_name) for c in m._children.values()
            if isinstance(c, folium.FeatureGroup)]


def feature_group(m: folium.Map, name: str) -> folium.FeatureGroup:
    """The overlay group called ``name`` (unescaped, as shown to the user)."""
    for child in m._children.values():
        if isinstance(child, folium.FeatureGroup) and html.unescape(child.layer_name) == name:
            return child
    raise KeyError(f"no layer named {name!r}; layers: {layer_names(m)}")


def layer_features(group: folium.FeatureGroup) -> list[dict]:
    """The GeoJSON features of a group built by this module."""
    out: list[dict] = []
    for child in group._children.values():
        if isinstance(child, folium.GeoJson):
            out.extend(child.data["features"])
    return out


# --- geometry helpers ----------------------------------------------------------------------------


def _round_geometry(geom: shapely.Geometry, digits: int) -> dict:
    if not isinstance(geom, shapely.Geometry):
        raise ValueError(f"expected a shapely geometry, got {type(geom).__name__}")
    rounded = shapely.transform(geom, lambda xy: np.round(xy, digits))
    return json.loads(shapely.to_geojson(rounded))


@lru_cache(maxsize=200_000)
def _hex_ring(cell: str) -> tuple[tuple[float, float], ...]:
    try:
        boundary = h3.cell_to_boundary(cell)
    except Exception as exc:
        raise ValueError(f"not a valid H3 cell id: {cell!r}") from exc
    ring = tuple((round(lng, 5), round(lat, 5)) for lat, lng in boundary)
    return (*ring, ring[0])


def _labels(values: np.ndarray, lang: str, digits: int) -> list[str]:
    """Escaped number labels; each distinct value is formatted once (counts repeat a lot)."""
    cache: dict[float, str] = {}
    out = []
    for v in values.tolist():
        label = cache.get(v)
        if label is None:
            label = cache[v] = esc(fmt_number(v, lang, digits))
        out.append(label)
    return out


@lru_cache(maxsize=200_000)
def _hex_geometry(cell: str) -> dict:
    """The GeoJSON polygon of an H3 cell. Cached, so one dict is shared by every feature of
    that cell on every map: read it, never change it."""
    return {"type": "Polygon", "coordinates": [[list(p) for p in _hex_ring(str(cell))]]}


@lru_cache(maxsize=200_000)
def _cell_code(cell: str) -> tuple[int, int, tuple[int, ...]]:
    """:func:`_ring_code` of an H3 cell's ring (what :func:`_hex_geometry` holds)."""
    return _ring_code(_hex_ring(str(cell)))


@lru_cache(maxsize=200_000)
def _cell_js(cell: str) -> tuple[str, int, int, str]:
    """An H3 cell for the compact hexagon rows: its id as JSON, the first vertex of
    :func:`_cell_code`, and the vertex deltas as JSON text, each after a comma."""
    x0, y0, codes = _cell_code(cell)
    return to_js(cell), x0, y0, "".join(f",{d}" for d in codes)


def _point(lat: Any, lon: Any) -> dict | None:
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        return None
    return {"type": "Point", "coordinates": [round(lon_f, 6), round(lat_f, 6)]}


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs the columns {list(columns)}; missing {missing}")


# --- classes ------------------------------------------------------------------------------------


def _integral(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite)))


def _decimals(values: np.ndarray) -> int:
    """Decimals for labels: 0 for whole numbers and large values, else 1 (2 below 1)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or _integral(values):
        return 0
    top = float(np.max(np.abs(finite)))
    return 0 if top >= 1000 else (1 if top >= 1 else 2)


def palette_colors(palette: str, n: int) -> list[str]:
    """``n`` colours (1..5) spread over a sequential palette, low to high."""
    if palette not in PALETTES:
        raise ValueError(f"palette must be one of {list(PALETTES)}, got {palette!r}")
    colors = PALETTES[palette]
    if n <= 1:
        return [colors[len(colors) // 2]]
    idx = np.round(np.linspace(0, len(colors) - 1, min(n, len(colors)))).astype(int)
    return [colors[i] for i in idx]


def quantile_classes(values: Sequence[float] | np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Quantile class breaks (up to ``k`` classes) and the class of each value (-1 for NaN).

    Returns (breaks, classes): ``breaks`` has n+1 ascending edges for n classes.
    """
    v = np.asarray(values, dtype="float64")
    finite = v[np.isfinite(v)]
    classes = np.full(v.shape, -1, dtype=int)
    if finite.size == 0:
        return np.array([]), classes
    breaks = np.unique(np.quantile(finite, np.linspace(0, 1, k + 1)))
    if breaks.size == 1:
        breaks = np.array([breaks[0], breaks[0]])
    ok = np.isfinite(v)
    classes[ok] = np.clip(np.searchsorted(breaks[1:-1], v[ok], side="right"), 0, breaks.size - 2)
    return breaks, classes


def trend_classes(z: Sequence[float] | np.ndarray) -> np.ndarray:
    """Trend signal class 0..4 (z ≤ −3, z ≤ −2, |z| < 2, z ≥ 2, z ≥ 3), -1 for NaN."""
    v = np.asarray(z, dtype="float64")
    out = np.select([v <= -3, v <= -2, v < 2, v < 3, v >= 3], [0, 1, 2, 3, 4], default=-1)
    return np.where(np.isfinite(v), out, -1)


def _class_labels(breaks: np.ndarray, lang: str, decimals: int, integers: bool = False) -> list[str]:
    """Legend labels of quantile classes; a class holds lo <= v < hi (the last one lo <= v <= hi).

    For whole numbers the labels do not overlap: "1 – 3", "4 – 6", …
    """
    if breaks.size == 2 and breaks[0] == breaks[1]:
        return [fmt_number(breaks[0], lang, decimals)]
    labels = []
    last = breaks.size - 2
    for i, (lo, hi) in enumerate(pairwise(breaks)):
        if integers:
            lo_i = math.ceil(lo)
            hi_i = math.floor(hi) if i == last else math.ceil(hi) - 1
            text = fmt_number(lo_i, lang)
            if hi_i > lo_i:
                text += f" – {fmt_number(hi_i, lang)}"
        else:
            text = f"{fmt_number(lo, lang, decimals)} – {fmt_number(hi, lang, decimals)}"
        labels.append(text)
    return labels


# --- base map -----------------------------------------------------------------------------------


def base_map(bounds: tuple[float, float, float, float], tiles: str | BaseLayer = "osm", lang: str = "de",
             height: int | str = "100%") -> LagebildMap:
    """An empty Lagebild map fitted to ``bounds`` = (min lon, min lat, max lon, max lat).

    ``tiles``: ``osm``, ``basemap`` (basemap.de colour), ``basemap-grau`` or ``none`` (no
    tile layer: the map loads nothing from any host), or a :class:`geo.tiles.BaseLayer`
    (tiles served by the app itself: the map's zoom range and bounds follow the tile set).
    Assets are localized, the map has a scale bar and a layer control (kept last).
    """
    check_lang(lang)
    local = tiles if isinstance(tiles, BaseLayer) else None
    source = None if local is not None else tile_source(tiles)
    try:
        minlon, minlat, maxlon, maxlat = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (min lon, min lat, max lon, max lat), got {bounds!r}") from None
    if not all(math.isfinite(b) for b in (minlon, minlat, maxlon, maxlat)) or not (
            -180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90):
        raise ValueError(f"bounds must be (min lon, min lat, max lon, max lat), got {bounds!r}")
    m = LagebildMap(location=[(minlat + maxlat) / 2, (minlon + maxlon) / 2], zoom_start=12,
                    tiles=None, height=height, control_scale=True)
    if source is not None:
        folium.TileLayer(tiles=source.url, attr=source.attribution(lang), name=t(f"map.tiles.{tiles}", lang),
                         max_zoom=source.max_zoom, max_native_zoom=source.max_zoom, overlay=False,
                         control=False).add_to(m)
    if local is not None:
        LocalTileLayer(local, lang).add_to(m)
        m.options["min_zoom"] = local.min_zoom
        m.options["max_zoom"] = local.max_zoom
        if local.bounds is not None:  # the tile set's area (and the data's, never locked out of it)
            w, s, e, n = local.bounds
            w, s, e, n = min(w, minlon), min(s, minlat), max(e, maxlon), max(n, maxlat)
            m.options["max_bounds"] = [[s - 0.05, w - 0.05], [n + 0.05, e + 0.05]]
    m.add_child(_Css(), name="lagebild_css")
    m.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    m.fitted_bounds = [[minlat, minlon], [maxlat, maxlon]]
    folium.LayerControl(collapsed=False).add_to(m)
    localize(m)
    return m


def map_html(m: folium.Map) -> str:
    """The full rendered HTML of the map (what a browser or an HTML export gets)."""
    return m.get_root().render()


# --- layers -------------------------------------------------------------------------------------


def add_districts(m: folium.Map, districts: pd.DataFrame, metric_title: str, lang: str = "de",
                  palette: str = "viridis", show: bool = True) -> folium.FeatureGroup:
    """District choropleth ("Bezirke") with legend and tooltips (name, metric value).

    ``districts``: district_id, name, geometry (shapely Polygon/MultiPolygon, WGS84), value
    (float, NaN = no data), value_label (the value as the user should read it, e.g.
    ``"1.234"``). ``palette``: a name from :data:`PALETTES` (quantile classes) or
    ``"trend"`` for the trend signal z (fixed classes ≤−3, ≤−2, within ±2, ≥2, ≥3).
    """
    check_lang(lang)
    _require(districts, ["district_id", "name", "geometry", "value", "value_label"], "add_districts")
    values = pd.to_numeric(districts["value"], errors="coerce").to_numpy(dtype="float64")
    if palette == TREND_PALETTE:
        classes = trend_classes(values)
        colors = list(TREND_COLORS)
        labels = [t(key, lang) for key in TREND_KEYS]
        present = list(range(len(colors)))
    else:
        breaks, classes = quantile_classes(values)
        colors = palette_colors(palette, max(breaks.size - 1, 1))
        labels = _class_labels(breaks, lang, _decimals(values), _integral(values)) if breaks.size else []
        present = list(range(len(labels)))
    styles = [{"fillColor": c, "color": "#333333", "weight": 1.5, "fillOpacity": 0.6} for c in colors]
    nodata = len(styles)
    styles.append({"fillColor": NODATA_COLOR, "color": "#333333", "weight": 1.5, "fillOpacity": 0.4})
    features = []
    for rec, cls in zip(districts.itertuples(index=False), classes, strict=True):
        label = esc(rec.value_label) if not _blank(rec.value_label) else esc(t("map.nodata", lang))
        features.append({
            "type": "Feature",
            "id": str(rec.district_id),
            "properties": {"k": int(cls) if cls >= 0 else nodata,
                           "t": f"<b>{esc(rec.name)}</b><br>{esc(metric_title)}: {label}"},
            "geometry": _round_geometry(rec.geometry, 6),
        })
    group = _group(m, t("map.layer.districts", lang), show)
    _GeoLayer(features, styles, hover={"weight": 3.5, "color": "#000000"}).add_to(group)
    rows = [(_swatch(colors[i]), labels[i]) for i in present]
    if (classes < 0).any():
        rows.append((_swatch(NODATA_COLOR), t("map.nodata", lang)))
    group.add_child(_Legend(_legend_html(metric_title, rows)))
    return group


_ICON_SHAPES = {
    # kind: (colour, SVG shape, letter)
    "kod_office": (_BLUE, '<rect x="3" y="3" width="22" height="22" rx="4"/>', "K"),
    "citywache": (_ORANGE, '<path d="M14 2 L25 6 V13 C25 20 20 24.5 14 26.5 C8 24.5 3 20 3 13 V6 Z"/>', "C"),
    "police_station": (_GREEN, '<circle cx="14" cy="14" r="11.5"/>', "P"),
    "other": (_GREY, '<path d="M14 2 L26 14 L14 26 L2 14 Z"/>', "•"),
}


def office_icon_svg(kind: str, size: int = 28) -> str:
    """Inline SVG of an office symbol (shape, colour and letter differ by kind)."""
    if kind not in _ICON_SHAPES:
        raise ValueError(f"office kind must be one of {list(OFFICE_KINDS)}, got {kind!r}")
    color, shape, letter = _ICON_SHAPES[kind]
    return (f'<svg width="{size}" height="{size}" viewBox="0 0 28 28">'
            f'<g fill="{color}" stroke="#ffffff" stroke-width="2">{shape}</g>'
            f'<text x="14" y="19" text-anchor="middle" font-family="sans-serif" font-size="13" '
            f'font-weight="700" fill="#ffffff">{letter}</text></svg>')


def _status_text(hours: Any, now: datetime, lang: str) -> tuple[str, str]:
    """(text, colour) of the open-now status."""
    state = is_open(None if _blank(hours) else str(hours), now)
    if state is None:
        return t("map.office.unknown", lang), _GREY
    change = next_change(str(hours), now)
    local_now = now.astimezone(change.tzinfo) if (change and now.tzinfo) else now
    if state:
        if change is not None and change.date() == local_now.date():
            return t("map.office.open_until", lang, time=change.strftime("%H:%M")), _GREEN
        return t("map.office.open", lang), _GREEN
    if change is not None and (change.date() - local_now.date()).days < 7:
        day = t(f"weekday.{change.weekday()}", lang)
        return t("map.office.opens", lang, day=day, time=change.strftime("%H:%M")), _VERMILLION
    return t("map.office.closed", lang), _VERMILLION


_PHONE = re.compile(r"\+?[0-9][0-9 ()/.\-]*")


def office_popup_html(office: Mapping[str, Any], lang: str, now: datetime) -> str:
    """Popup HTML of one office: name, kind, address, phone, opening hours, open now."""
    kind = office.get("kind")
    kind_label = t(f"office.{kind}", lang) if kind in OFFICE_KINDS else kind
    rows = []
    if not _blank(office.get("address")):
        rows.append((t("map.office.address", lang), esc(office["address"])))
    if not _blank(office.get("phone")):
        phone = str(office["phone"])
        digits = re.sub(r"[^0-9+]", "", phone)
        linkable = _PHONE.fullmatch(phone.strip()) is not None and len(digits) >= 3
        value = f'<a href="tel:{digits}">{esc(phone)}</a>' if linkable else esc(phone)
        rows.append((t("map.office.phone", lang), value))
    hours = office.get("opening_hours")
    if not _blank(hours):
        rows.append((t("map.office.hours", lang), esc(hours)))
    status, color = _status_text(hours, now, lang)
    rows.append((t("map.office.now", lang), f'<b style="color:{color}">{esc(status)}</b>'))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (f'<div class="lagebild-popup"><b>{esc(office.get("name"))}</b><br>'
            f"<i>{esc(kind_label)}</i><table>{table}</table></div>")


def add_offices(m: folium.Map, offices: pd.DataFrame, lang: str = "de", now: datetime | None = None,
                show: bool = True) -> folium.FeatureGroup:
    """Office markers ("Dienststellen"): a DivIcon by kind, a tooltip (name) and a popup.

    ``offices``: office_id, name, kind (kod_office, citywache, police_station, other), lat,
    lon; optional address, phone, opening_hours (OSM syntax). ``now`` (default: the current
    time in Europe/Berlin) decides "open now" in the popup.
    """
    check_lang(lang)
    _require(offices, ["office_id", "name", "kind", "lat", "lon"], "add_offices")
    if now is None:
        now = pd.Timestamp.now(tz=TZ).to_pydatetime()
    kinds = list(OFFICE_KINDS)
    styles = [{"icon": {"html": office_icon_svg(k), "className": "lagebild-icon",
                        "iconSize": [28, 28], "iconAnchor": [14, 14], "popupAnchor": [0, -12],
                        "tooltipAnchor": [12, 0]}} for k in kinds]
    features = []
    for rec in offices.to_dict("records"):
        geometry = _point(rec["lat"], rec["lon"])
        if geometry is None:
            continue
        kind = rec["kind"] if rec["kind"] in kinds else "other"
        features.append({
            "type": "Feature",
            "id": str(rec["office_id"]),
            "properties": {"k": kinds.index(kind), "t": f"<b>{esc(rec['name'])}</b>",
                           "p": office_popup_html(rec, lang, now)},
            "geometry": geometry,
        })
    group = _group(m, t("map.layer.offices", lang), show)
    _GeoLayer(features, styles).add_to(group)
    present = [k for k in kinds if (offices["kind"] == k).any()]
    rows = [(f'<span class="ic">{office_icon_svg(k, 18)}</span>', t(f"office.{k}", lang)) for k in present]
    group.add_child(_Legend(_legend_html(t("map.office.legend", lang), rows)))
    return group


def add_cells(m: folium.Map, cells: pd.DataFrame, name: str, lang: str = "de", palette: str = "viridis",
              legend_title: str | None = None, unit: str = "", decimals: int | None = None,
              show: bool = True, max_cells: int | None = MAX_CELLS) -> folium.FeatureGroup:
    """A layer of H3 hexagons coloured by ``value`` (quantile classes), one GeoJSON feature each.

    ``cells``: h3 (cell id), value (float; NaN rows are skipped). ``name`` is the layer
    name, ``legend_title`` (default: ``name``) the legend and tooltip title, ``unit`` is
    appended to values (e.g. "Min."). At most ``max_cells`` cells are drawn (those with the
    highest values; the legend says so), which bounds the HTML at about 95 bytes per cell.
    """
    check_lang(lang)
    _require(cells, ["h3", "value"], "add_cells")
    palette_colors(palette, 1)  # validates the palette name before any work
    values = pd.to_numeric(cells["value"], errors="coerce").to_numpy(dtype="float64")
    keep = np.isfinite(values)
    ids = cells["h3"].to_numpy()[keep]
    values = values[keep]
    breaks, classes = quantile_classes(values)
    colors = palette_colors(palette, max(breaks.size - 1, 1))
    digits = _decimals(values) if decimals is None else decimals
    total = len(values)
    if max_cells is not None and total > max_cells:
        top = np.sort(np.argsort(-values, kind="stable")[:max_cells])
        ids, values, classes = ids[top], values[top], classes[top]
    styles = [{"fillColor": c, "color": c, "weight": 0.6, "opacity": 0.9, "fillOpacity": 0.65}
              for c in colors]
    labels = _labels(values, lang, digits)
    title = legend_title if legend_title is not None else name
    group = _group(m, name, show)
    _GeoLayer.of_cells(ids.tolist(), classes.tolist(), labels, styles,
                       hover={"weight": 2.5, "color": "#000000"},
                       tip_prefix=f"<b>{esc(title)}</b><br>",
                       tip_suffix=f" {esc(unit)}" if unit else "").add_to(group)
    if breaks.size:
        labels = _class_labels(breaks, lang, digits, _integral(values))
        legend_name = f"{title} ({unit})" if unit else title
        rows = [(_swatch(c), label) for c, label in zip(colors, labels, strict=True)]
        if len(values) < total:
            rows.append(("", t("map.cells.capped", lang, shown=fmt_number(len(values), lang),
                               total=fmt_number(total, lang))))
        group.add_child(_Legend(_legend_html(legend_name, rows)))
    return group


def add_presence(m: folium.Map, cells: pd.DataFrame, kind: str, lang: str = "de",
                 show: bool = True) -> folium.FeatureGroup:
    """Patrol presence per cell for one patrol kind ("Präsenz KOD", …), in minutes.

    ``cells``: h3, value (presence minutes in the period).
    """
    if kind not in PATROL_KINDS:
        raise ValueError(f"patrol kind must be one of {list(PATROL_KINDS)}, got {kind!r}")
    name = t(f"map.layer.presence.{kind}", lang)
    return add_cells(m, cells, name, lang, PRESENCE_PALETTES[kind], legend_title=name,
                     unit=t("unit.minutes", lang), decimals=0, show=show)


def add_complaint_density(m: folium.Map, cells: pd.DataFrame, lang: str = "de",
                          show: bool = True) -> folium.FeatureGroup:
    """Complaints per cell ("Beschwerdedichte"). ``cells``: h3, value (count)."""
    name = t("map.layer.complaints", lang)
    return add_cells(m, cells, name, lang, COMPLAINT_PALETTE, legend_title=name,
                     unit=t("unit.complaints", lang), decimals=0, show=show)


def _class_layer(m: folium.Map, cells: pd.DataFrame, classes: Sequence[str], colors: Mapping[str, str],
                 label_prefix: str, layer_key: str, legend_key: str, lang: str, show: bool,
                 max_cells: int | None, rank: Callable[[str], float]) -> folium.FeatureGroup:
    """H3 cells coloured by a class (``cls``; "none" not drawn), with a legend of the classes.

    At most ``max_cells`` cells are drawn, those with the highest ``rank(cls)`` first.
    """
    check_lang(lang)
    _require(cells, ["h3", "cls"], layer_key)
    cls = cells["cls"].astype(object).where(cells["cls"].notna(), "none").astype(str).to_numpy()
    unknown = sorted(set(cls) - set(classes) - {"none"})
    if unknown:
        raise ValueError(f"class must be one of {[*classes, 'none']}, got {unknown[0]!r}")
    drawn = np.flatnonzero(cls != "none")
    if max_cells is not None and drawn.size > max_cells:
        strength = np.array([rank(c) for c in cls[drawn]])
        drawn = np.sort(drawn[np.argsort(-strength, kind="stable")[:max_cells]])
    styles = [{"fillColor": colors[c], "color": "#333333", "weight": 0.6, "opacity": 0.8,
               "fillOpacity": 0.7} for c in classes]
    def column(name: str) -> list:
        return cells[name].to_numpy()[drawn].tolist() if name in cells.columns else [None] * drawn.size

    class_tip = {c: esc(t(f"{label_prefix}{c}", lang)) for c in classes}
    class_k = {c: k for k, c in enumerate(classes)}
    count_label = t("map.hot.count", lang)
    tips: list[str] = []
    for c, n, z in zip(cls[drawn].tolist(), column("count"), column("z"), strict=True):
        tip = class_tip[c]
        if not _blank(n):
            tip += f"<br>{esc(count_label)}: {esc(fmt_number(float(n), lang))}"
        if not _blank(z):
            tip += f"<br>z = {esc(fmt_number(float(z), lang, 2))}"
        tips.append(tip)
    group = _group(m, t(layer_key, lang), show)
    _GeoLayer.of_cells(column("h3"), [class_k[c] for c in cls[drawn].tolist()], tips, styles,
                       hover={"weight": 2.5, "color": "#000000"}).add_to(group)
    rows = [(_swatch(colors[c]), t(f"{label_prefix}{c}", lang)) for c in classes]
    group.add_child(_Legend(_legend_html(t(legend_key, lang), rows)))
    return group


def add_hotspots(m: folium.Map, cells: pd.DataFrame, lang: str = "de", show: bool = True,
                 max_cells: int | None = MAX_CELLS) -> folium.FeatureGroup:
    """Gi* hot and cold spots ("Hotspots (Gi*)") with a legend of the confidence classes.

    ``cells``: h3, cls (hot99, hot95, hot90, cold90, cold95, cold99 or none; "none" is not
    drawn); optional count (complaints) and z (Gi* z-score) for the tooltip. At most
    ``max_cells`` cells are drawn, the most confident first.
    """
    return _class_layer(m, cells, HOTSPOT_CLASSES, HOTSPOT_COLORS, "map.hot.", "map.layer.hotspots",
                        "map.hot.legend", lang, show, max_cells,
                        rank=lambda c: abs(HOTSPOT_CLASSES.index(c) - 2.5))


# Emerging hot spot classes (ArcGIS), colour-blind-aware: warm = growing/new, blue = fading; every
# pair stays ≥ 11 ΔE apart under simulated protan/deutan/tritan vision (scripts/palette_check.py).
EMERGING_CLASSES = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
                    "oscillating", "historical")
EMERGING_COLORS = {
    "new": "#D55E00", "consecutive": "#E69F00", "intensifying": "#882255", "persistent": "#CC79A7",
    "diminishing": "#56B4E9", "sporadic": "#F0E442", "oscillating": "#009E73", "historical": "#cccccc",
}
register({
    "map.layer.emerging": ("Entstehende Hotspots", "Emerging hot spots"),
    "map.emerging.legend": ("Hotspot-Muster (Quartale)", "Hot spot pattern (quarters)"),
    "map.emerging.new": ("neu", "new"),
    "map.emerging.consecutive": ("fortlaufend", "consecutive"),
    "map.emerging.intensifying": ("verstärkend", "intensifying"),
    "map.emerging.persistent": ("beständig", "persistent"),
    "map.emerging.diminishing": ("abnehmend", "diminishing"),
    "map.emerging.sporadic": ("sporadisch", "sporadic"),
    "map.emerging.oscillating": ("wechselnd", "oscillating"),
    "map.emerging.historical": ("historisch", "historical"),
})


def add_emerging(m: folium.Map, cells: pd.DataFrame, lang: str = "de", show: bool = True,
                 max_cells: int | None = MAX_CELLS) -> folium.FeatureGroup:
    """Emerging hot spot classes per cell ("Entstehende Hotspots").

    ``cells``: h3, cls (one of :data:`EMERGING_CLASSES` or none); optional count and z.
    """
    order = {"intensifying": 8, "new": 7, "consecutive": 6, "persistent": 5, "diminishing": 4,
             "historical": 3, "oscillating": 2, "sporadic": 1}
    return _class_layer(m, cells, EMERGING_CLASSES, EMERGING_COLORS, "map.emerging.",
                        "map.layer.emerging", "map.emerging.legend", lang, show, max_cells,
                        rank=lambda c: order[c])


def _join_categories(value: Any) -> str:
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return ", ".join(str(v) for v in value if not _blank(v))
    return "" if _blank(value) else str(value)


def add_gap(m: folium.Map, gap: pd.DataFrame, lang: str = "de",
            district_names: Mapping[str, str] | None = None, show: bool = True) -> folium.FeatureGroup:
    """Presence gaps ("Präsenzlücken"): hotspot cells with little patrol presence.

    ``gap`` (ranked, best first): h3, district_id, complaints, presence_minutes,
    main_categories (a string or a list of category labels); optional rank.
    ``district_names`` maps district_id to the name shown in the tooltip.
    """
    check_lang(lang)
    _require(gap, ["h3", "district_id", "complaints", "presence_minutes", "main_categories"], "add_gap")
    names = dict(district_names or {})
    style = {"fillColor": _VERMILLION, "color": _VERMILLION, "weight": 2.5, "opacity": 1.0,
             "fillOpacity": 0.35, "dashArray": "5 3"}
    features = []
    for i, rec in enumerate(gap.to_dict("records")):
        rank = rec.get("rank") if "rank" in gap.columns and not _blank(rec.get("rank")) else i + 1
        district = names.get(rec["district_id"], rec["district_id"])
        minutes = pd.to_numeric(rec["presence_minutes"], errors="coerce")
        rows = [
            (t("map.gap.district", lang), esc(district)),
            (t("map.gap.complaints", lang), esc(fmt_number(pd.to_numeric(rec["complaints"], errors="coerce"),
                                                           lang))),
            (t("map.gap.presence", lang), f"{esc(fmt_number(minutes, lang))} {esc(t('unit.minutes', lang))}"),
            (t("map.gap.categories", lang), esc(_join_categories(rec["main_categories"]))),
        ]
        tip = (f"<b>{esc(t('map.gap.title', lang))} – {esc(t('map.gap.rank', lang))} {esc(rank)}</b>"
               + "".join(f"<br>{esc(k)}: {v}" for k, v in rows))
        features.append({"type": "Feature", "id": str(rec["h3"]), "properties": {"k": 0, "t": tip},
                         "geometry": _hex_geometry(str(rec["h3"]))})
    group = _group(m, t("map.layer.gap", lang), show)
    _GeoLayer(features, [style], hover={"weight": 4, "fillOpacity": 0.55}, hexagons=True).add_to(group)
    rows = [(_swatch("rgba(213,94,0,.35)", _VERMILLION), t("map.gap.legend", lang))]
    group.add_child(_Legend(_legend_html(t("map.layer.gap", lang), rows)))
    return group


_FOCUS_STYLES = {
    "schwerpunkt": {"fillColor": _ORANGE, "color": _ORANGE, "weight": 3, "opacity": 1.0,
                    "fillOpacity": 0.15, "dashArray": "8 4"},
    "angstraum": {"fillColor": _PURPLE, "color": _PURPLE, "weight": 3, "opacity": 1.0,
                  "fillOpacity": 0.3, "dashArray": "2 4"},
}


def add_focus_areas(m: folium.Map, areas: pd.DataFrame, lang: str = "de",
                    show: bool = True) -> folium.FeatureGroup:
    """Focus areas ("Schwerpunkte & Angsträume"), styled by kind, with a name tooltip.

    ``areas``: area_id, name, kind (schwerpunkt, angstraum), geometry (shapely, WGS84).
    """
    check_lang(lang)
    _require(areas, ["area_id", "name", "kind", "geometry"], "add_focus_areas")
    kinds = list(FOCUS_KINDS)
    bad = sorted(set(areas["kind"]) - set(kinds))
    if bad:
        raise ValueError(f"focus area kind must be one of {kinds}, got {bad[0]!r}")
    features = [
        {"type": "Feature", "id": str(rec.area_id),
         "properties": {"k": kinds.index(rec.kind),
                        "t": f"<b>{esc(rec.name)}</b><br>{esc(t(f'map.focus.{rec.kind}', lang))}"},
         "geometry": _round_geometry(rec.geometry, 6)}
        for rec in areas.itertuples(index=False)
    ]
    group = _group(m, t("map.layer.focus", lang), show)
    _GeoLayer(features, [_FOCUS_STYLES[k] for k in kinds], hover={"weight": 5}).add_to(group)
    rows = [(_swatch(_FOCUS_STYLES[k]["fillColor"] + "55", _FOCUS_STYLES[k]["color"]),
             t(f"map.focus.{k}", lang)) for k in kinds]
    group.add_child(_Legend(_legend_html(t("map.layer.focus", lang), rows)))
    return group


def add_incidents_by_district(m: folium.Map, frame: pd.DataFrame, lang: str = "de",
                              show: bool = True, max_radius: float = 24.0) -> folium.FeatureGroup:
    """Staff incidents per district ("Übergriffe auf Beschäftigte") as circles sized by count.

    ``frame``: district_id, name, lat, lon (where to draw, e.g. a point inside the
    district), count. Rows with a count of 0 or NaN are not drawn. Never single incidents.
    """
    check_lang(lang)
    _require(frame, ["district_id", "name", "lat", "lon", "count"], "add_incidents_by_district")
    counts = pd.to_numeric(frame["count"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    top = float(counts.max()) if counts.size else 0.0
    scale = top if top > 0 else 1.0

    def radius(c: float) -> float:
        return round(5 + (max_radius - 5) * math.sqrt(c / scale), 1)

    style = {"color": _VERMILLION, "weight": 1.5, "fillColor": _VERMILLION, "fillOpacity": 0.45}
    features = []
    label = t("map.incidents.count", lang)
    for rec, c in zip(frame.to_dict("records"), counts, strict=True):
        geometry = _point(rec["lat"], rec["lon"])
        if geometry is None or c <= 0:
            continue
        features.append({"type": "Feature", "id": str(rec["district_id"]),
                         "properties": {"k": 0, "r": radius(c),
                                        "t": f"<b>{esc(rec['name'])}</b><br>{esc(label)}: "
                                             f"{esc(fmt_number(c, lang))}"},
                         "geometry": geometry})
    group = _group(m, t("map.layer.incidents", lang), show)
    _GeoLayer(features, [style], hover={"weight": 3}).add_to(group)
    samples = sorted({int(top), int(max(1, round(top / 4)))}, reverse=True) if top > 0 else []
    rows = []
    for s in samples:
        d = 2 * radius(s)
        rows.append((f'<span class="ci" style="width:{d:.0f}px;height:{d:.0f}px"></span>',
                     f"{fmt_number(s, lang)} {label}"))
    group.add_child(_Legend(_legend_html(t("map.layer.incidents", lang), rows)))
    return group


def set_visible_layers(m: folium.Map, names: Collection[str]) -> list[str]:
    """Show the overlay groups whose (unescaped) names are in ``names`` and hide the others.

    Returns the names of the groups now shown. The layer control still switches them in
    the browser; this sets what the map opens with (e.g. from the URL).
    """
    wanted = set(names)
    shown = []
    for child in m._children.values():
        if isinstance(child, folium.FeatureGroup):
            name = html.unescape(child.layer_name)
            child.show = name in wanted
            if child.show:
                shown.append(name)
    return shown


# --- raw complaint points (coordinators and admins only; the caller decides) ---------------------

register({
    "map.layer.points": ("Einzelne Beschwerden", "Single complaints"),
    "map.points.legend": ("Einzelne Beschwerden (gebündelt)", "Single complaints (clustered)"),
    "map.points.capped": ("gezeigt: die {shown} neuesten von {total}",
                          "shown: the {shown} newest of {total}"),
    "map.points.received": ("Eingang", "Received"),
    "map.points.category": ("Kategorie", "Category"),
    "map.points.status": ("Status", "Status"),
    "map.points.address": ("Adresse", "Address"),
    "map.points.description": ("Beschreibung", "Description"),
    "status.open": ("offen", "open"),
    "status.in_progress": ("in Bearbeitung", "in progress"),
    "status.closed": ("erledigt", "closed"),
})
#: Upper bound of single points on a map (keeps the HTML small; the legend says when capped).
MAX_POINTS = 1000
_DESCRIPTION_CHARS = 280


def _point_popup(rec: Mapping[str, Any], lang: str) -> str:
    rows = [(t("map.points.received", lang), esc(rec.get("received")))]
    rows.append((t("map.points.category", lang), esc(rec.get("category_label"))))
    status = rec.get("status")
    if not _blank(status):
        key = f"status.{status}"
        rows.append((t("map.points.status", lang), esc(t(key, lang) if key in _STATUS_KEYS else status)))
    for key, label in (("address", "map.points.address"), ("description", "map.points.description")):
        value = rec.get(key)
        if not _blank(value):
            text = str(value)
            if len(text) > _DESCRIPTION_CHARS:
                text = text[:_DESCRIPTION_CHARS - 1] + "…"
            rows.append((t(label, lang), esc(text)))
    # compact markup: every "<" costs six bytes in the map's JSON (escaped as \u003c)
    return "<br>".join(f"<b>{esc(k)}</b>: {v}" for k, v in rows)


_STATUS_KEYS = {"status.open", "status.in_progress", "status.closed"}


def add_complaint_points(m: folium.Map, points: pd.DataFrame, lang: str = "de", show: bool = False,
                         max_points: int = MAX_POINTS, total: int | None = None) -> folium.FeatureGroup:
    """Single complaints ("Einzelne Beschwerden") as clustered circle markers with a popup.

    Only for principals who may see raw points (coordinators for their districts, admins):
    the caller decides. ``points`` (newest first): complaint_id, lat, lon, received (text),
    category_label; optional status, address, description (escaped, descriptions cut to
    280 characters). At most ``max_points`` are drawn; ``total`` (default: the rows given)
    is how many there were, for the legend. Clusters come from Leaflet.markercluster, served
    by the app (no CDN).
    """
    from folium.plugins import MarkerCluster

    check_lang(lang)
    _require(points, ["complaint_id", "lat", "lon", "received", "category_label"], "add_complaint_points")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    total = len(points) if total is None else int(total)
    drawn = points.head(max_points)
    features = []
    for rec in drawn.to_dict("records"):
        geometry = _point(rec["lat"], rec["lon"])
        if geometry is None:
            continue
        features.append({"type": "Feature", "id": str(rec["complaint_id"]),
                         "properties": {"k": 0, "r": 6,
                                        "t": f"{esc(rec['category_label'])}<br>{esc(rec['received'])}",
                                        "p": _point_popup(rec, lang)},
                         "geometry": geometry})
    m.options.setdefault("max_zoom", 19)  # markercluster needs the map's maxZoom (no tiles: unset)
    group = _group(m, t("map.layer.points", lang), show)
    cluster = MarkerCluster(control=False, options={"showCoverageOnHover": False, "maxClusterRadius": 45,
                                                    "disableClusteringAtZoom": 17})
    cluster.add_to(group)
    style = {"color": "#000000", "weight": 1.2, "fillColor": _PURPLE, "fillOpacity": 0.85}
    _GeoLayer(features, [style], hover={"weight": 3}).add_to(cluster)
    rows = [(f'<span class="ci" style="width:12px;height:12px;border-color:#000;background:{_PURPLE}">'
             "</span>", t("map.layer.points", lang))]
    if len(drawn) < total:
        rows.append(("", t("map.points.capped", lang, shown=fmt_number(len(drawn), lang),
                           total=fmt_number(total, lang))))
    group.add_child(_Legend(_legend_html(t("map.points.legend", lang), rows)))
    localize(m)
    return group
