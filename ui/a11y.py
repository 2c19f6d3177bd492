"""Accessibility of the Streamlit pages (WCAG 2.1 AA, BITV 2.0): the document language,
contrast and focus styles, KPI tiles read as sentences, and text alternatives beside every
chart and map (a summary and the data as a table).

:func:`setup` runs once per page run (from :func:`ui.chrome.page`): Streamlit writes
``<html lang="en">`` whatever the UI language (streamlit#15726); a small script sets it to
the UI language, and a stylesheet raises the contrast of captions and placeholders
(streamlit#8276) and draws a clearly visible keyboard focus.
"""

from __future__ import annotations

import html
import json
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from base.i18n import md_escape, register, t
from data.kpis import Kpi
from viz import alt_text
from viz.map_alt import MapAlt

if TYPE_CHECKING:  # plotly is imported where a chart is drawn (not at start)
    import plotly.graph_objects as go

register({
    "a11y.data_table": ("Daten als Tabelle", "Data as a table"),
    "a11y.map_data": ("Karteninhalt als Text und Tabelle", "Map content as text and tables"),
    "a11y.map_summary": ("Kartenbeschreibung", "Map description"),
})

#: Colours of the page's own styles (checked for contrast in tests/test_a11y.py).
CAPTION_COLOR = "#55534f"  # captions and small print: ≥ 4.5:1 on white and the sidebar grey
PLACEHOLDER_COLOR = "#5f5d59"  # "alle" in empty filters: ≥ 4.5:1 (Streamlit's is 2.27:1)
FOCUS_COLOR = "#00549f"  # the focus ring (≥ 3:1 against white and the sidebar grey)
SIDEBAR_BG = "#f8f8f7"  # Streamlit's light theme secondary background
PAGE_BG = "#ffffff"

CSS = f"""
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {{
  color: {CAPTION_COLOR}; opacity: 1; }}
input::placeholder, textarea::placeholder {{ color: {PLACEHOLDER_COLOR} !important; opacity: 1 !important; }}
[data-baseweb="select"] [aria-hidden="true"] + div, [data-baseweb="select"] div[class*="placeholder"] {{
  color: {PLACEHOLDER_COLOR}; }}
a:focus-visible, button:focus-visible, [role="button"]:focus-visible, [role="tab"]:focus-visible,
[role="option"]:focus-visible, summary:focus-visible, input:focus-visible, textarea:focus-visible,
[tabindex]:focus-visible {{ outline: 3px solid {FOCUS_COLOR} !important; outline-offset: 2px !important; }}
[role="slider"]:focus-visible {{ box-shadow: 0 0 0 3px #ffffff, 0 0 0 6px {FOCUS_COLOR} !important; }}
.lagebild-sr-only {{ position: absolute !important; width: 1px !important; height: 1px !important;
  padding: 0 !important; margin: -1px !important; overflow: hidden !important; clip: rect(0,0,0,0) !important;
  white-space: nowrap !important; border: 0 !important; }}
@media (max-width: 640px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 0.75rem !important;
    padding-right: 0.75rem !important; }}
  [data-testid="stMain"] {{ overflow-x: hidden; }}
  h1 {{ overflow-wrap: anywhere; }}
}}
"""

# The language of the document, and KPI tiles read as one sentence: each tile's sentence is
# written before it (visually hidden); the tile's visible label, value and change are then
# hidden from screen readers so the sentence is not read twice (its help button stays).
_SCRIPT = """
(function () {
  var doc = window.document;
  doc.documentElement.setAttribute("lang", LANG);
  function tiles() {
    doc.querySelectorAll('[data-testid="stMetric"]').forEach(function (m) {
      var box = m.closest('[data-testid="stElementContainer"]');
      var prev = box && box.previousElementSibling;
      if (!prev || !prev.querySelector(".lagebild-kpi-sentence")) { return; }
      m.querySelectorAll('[data-testid="stMetricValue"], [data-testid="stMetricDelta"], '
        + '[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]').forEach(function (e) {
        if (e.getAttribute("aria-hidden") !== "true") { e.setAttribute("aria-hidden", "true"); }
      });
    });
  }
  tiles();
  if (!window.__lagebildA11y) {
    window.__lagebildA11y = new MutationObserver(function () {
      if (doc.documentElement.getAttribute("lang") !== window.__lagebildLang) {
        doc.documentElement.setAttribute("lang", window.__lagebildLang);
      }
      tiles();
    });
    window.__lagebildA11y.observe(doc.body, {childList: true, subtree: true});
  }
  window.__lagebildLang = LANG;
})();
"""


def setup(lang: str) -> None:
    """The document language and the accessibility styles (call once per run, every page)."""
    script = _SCRIPT.replace("LANG", json.dumps(lang))
    st.html(f"<style>{CSS}</style><script>{script}</script>", unsafe_allow_javascript=True)


def kpi_sentence(kpi: Kpi, lang: str) -> None:
    """The tile's sentence for screen readers (drawn right before the tile)."""
    sentence = html.escape(alt_text.kpi_sentence(kpi, lang))
    st.markdown(f'<p class="lagebild-sr-only lagebild-kpi-sentence">{sentence}</p>', unsafe_allow_html=True)


def chart(fig: go.Figure, lang: str, key: str, **kwargs) -> None:
    """A plotly chart with its text summary and its data as a table (in an expander)."""
    st.plotly_chart(fig, key=key, **kwargs)
    st.caption(alt_text.figure_summary(fig, lang))
    table = alt_text.figure_table(fig, lang)
    if not table.empty:
        with st.expander(t("a11y.data_table", lang)):
            st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_table")


_ARROW: dict[int, object] = {}  # id(table) -> its Arrow form, while the table lives


def _arrow(table):
    """``table`` as an Arrow table, converted once per table object: a map's alternative is
    cached per filter state, so every rerun shows the same frames, which Streamlit would
    convert again each time. A frame Arrow cannot take is passed on as it is."""
    cached = _ARROW.get(id(table))
    if cached is not None:
        return cached
    from streamlit import dataframe_util

    try:
        converted = dataframe_util.convert_pandas_df_to_arrow_table(table, preserve_index=False)
        weakref.finalize(table, _ARROW.pop, id(table), None)
    except Exception:  # e.g. not a frame: st.dataframe converts (or reports) it
        return table
    _ARROW[id(table)] = converted
    return converted


def map_alternative(alt: MapAlt | Callable[[], MapAlt], lang: str, key: str) -> None:
    """A map's description (visible) and its data tables (in an expander) next to the map."""
    if callable(alt):
        alt = alt()
    st.caption(f"{t('a11y.map_summary', lang)}: {md_escape(alt.description)}")
    if alt.tables:
        with st.expander(t("a11y.map_data", lang)):
            for i, (title, table) in enumerate(alt.tables):
                st.markdown(f"**{md_escape(title)}**")
                st.dataframe(_arrow(table), hide_index=True, width="stretch", key=f"{key}_t{i}")
