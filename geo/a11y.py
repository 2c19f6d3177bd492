"""Accessibility of the folium maps: role, name, keyboard help, popups that take focus.

:func:`make_accessible` adds one element to a map that loads Lagebild's map script
(``geo/js/map_a11y.js``, served by the app with the Leaflet assets, inlined in HTML exports)
and calls it with translated texts: the container gets ``role="region"``, an accessible
name that says what the map shows and a description of the keys (Leaflet's keyboard
handler: arrow keys pan, + and - zoom); markers and clusters are named after their tooltip;
the zoom buttons and the popup's close button speak the UI language; a popup takes focus
when it opens and closes with Esc (Leaflet#8115, #6551), focus returning to its marker; the
document inside the map's iframe gets the UI language, and the iframe the map's name.
"""

from __future__ import annotations

from typing import Any

import folium
from folium.elements import JSCSSMixin
from folium.template import Template

from base.i18n import check_lang, register, t
from geo.maps import _SafeMacroMixin, layer_names, to_js

register({
    "a11y.map": ("Karte", "map"),
    "a11y.map_label": ("Karte: {what}", "Map: {what}"),
    "a11y.map_keys": (
        "Interaktive Karte. Pfeiltasten verschieben die Karte, Plus und Minus zoomen. Mit der "
        "Tabulatortaste erreichen Sie Ebenenauswahl, Zoomknöpfe und Dienststellen; Eingabe öffnet "
        "deren Details, Escape schließt sie. Die Daten der Karte stehen auch als Tabelle neben der Karte.",
        "Interactive map. Arrow keys pan the map, plus and minus zoom. The Tab key reaches the layer "
        "switches, the zoom buttons and the offices; Enter opens their details, Escape closes them. "
        "The map's data is also available as a table next to the map."),
    "a11y.zoom_in": ("Vergrößern", "Zoom in"),
    "a11y.zoom_out": ("Verkleinern", "Zoom out"),
    "a11y.popup": ("Details", "Details"),
    "a11y.popup_close": ("Details schließen", "Close details"),
    "a11y.cluster": ("{n} Beschwerden, gebündelt", "{n} complaints, clustered"),
})

_CSS = """<style>
.lagebild-sr-only{position:absolute!important;width:1px!important;height:1px!important;padding:0!important;
 margin:-1px!important;overflow:hidden!important;clip:rect(0,0,0,0)!important;white-space:nowrap!important;border:0!important}
.leaflet-container:focus-visible,.leaflet-popup-content:focus-visible,.leaflet-marker-icon:focus-visible,
.leaflet-control a:focus-visible,.leaflet-control-layers input:focus-visible{
 outline:3px solid #00549f!important;
 outline-offset:2px}
.leaflet-container:focus-visible{outline-offset:-3px}
</style>"""


class _MapA11y(_SafeMacroMixin, JSCSSMixin, folium.MacroElement):
    """Loads map_a11y.js and initialises it for the parent map (texts as escaped JSON).

    A :class:`JSCSSMixin`, so that streamlit-folium loads its script into the map's frame.
    """

    _template = Template("""
{% macro header(this, kwargs) %}""" + _CSS + """{% endmacro %}
{% macro script(this, kwargs) %}
LagebildA11y.init({{ this._parent.get_name() }}, {{ this.options_js() }});
{% endmacro %}
""")
    default_js = (("lagebild_map_a11y", "/app/static/vendor/lagebild/map_a11y.js"),)

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "LagebildA11y"
        self.a11y_options = options

    def options_js(self) -> str:
        return to_js(self.a11y_options)


def shown_layers(m: folium.Map) -> list[str]:
    """The (unescaped) names of the overlay groups the map opens with."""
    names = layer_names(m)
    groups = [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    return [name for name, group in zip(names, groups, strict=True) if group.show]


def map_label(m: folium.Map, lang: str) -> str:
    """ "Karte: Bezirke, Dienststellen, …": what the map shows (its visible layers)."""
    return t("a11y.map_label", lang, what=", ".join(shown_layers(m)) or "–")


def make_accessible(m: folium.Map, lang: str, label: str | None = None) -> folium.Map:
    """Give the map its accessible name (default: :func:`map_label`) and keyboard support.

    Idempotent: a second call replaces the texts (e.g. after the layers changed).
    """
    check_lang(lang)
    options = {
        "lang": lang,
        "label": label or map_label(m, lang),
        "roledescription": t("a11y.map", lang),
        "keys": t("a11y.map_keys", lang),
        "zoomIn": t("a11y.zoom_in", lang),
        "zoomOut": t("a11y.zoom_out", lang),
        "popup": t("a11y.popup", lang),
        "close": t("a11y.popup_close", lang),
        "cluster": t("a11y.cluster", lang, n="{n}"),
    }
    m.add_child(_MapA11y(options), name="lagebild_a11y")
    return m
