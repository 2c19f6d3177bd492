"""The naive baseline for bench/run.py: a folium HeatMap of every filtered complaint.

Loads the same data folder (cached like the app) and applies the same filters, then renders
one heat-map point per complaint through st_folium: what a quick dashboard would do. The period
is a quarter (``q``) or a range of quarters (``q0`` .. ``q``), the districts a multiselect.
"""

import os
from pathlib import Path

import branca.element
import folium
import streamlit as st
from folium.plugins import HeatMap
from streamlit_folium import st_folium

from data.filters import Filters, complaint_mask
from data.periods import parse_quarter
from data.sources import signature
from geo.assets import localize
from geo.maps import _BRANCA_MACRO_RENDER
from ui.cache import load_bundle

folder = os.environ["LAGEBILD_DATA"]
bundle = load_bundle(folder, signature(Path(folder)))  # the app's cached copy
districts = st.multiselect("district", list(bundle["districts"]["district_id"]), key="d")
QUARTERS = ["2026-Q3", "2026-Q2", "2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1", "2024-Q4"]
quarter = parse_quarter(st.selectbox("quarter", QUARTERS, key="q"))
# The period's start (the browser bench widens the period like the Lagebild's slider does);
# "=" is the chosen quarter alone.
start = st.selectbox("from", ["=", *QUARTERS], key="q0")
q_from = quarter if start == "=" else min(parse_quarter(start), quarter)
f = Filters(q_from, quarter, districts=tuple(districts))
c = bundle["complaints"]  # every raw complaint in memory (the app's prepared form holds none)
sel = c.loc[complaint_mask(c, f), ["lat", "lon"]].to_numpy()
m = folium.Map(location=[51.68, 7.82], zoom_start=12, tiles=None)
HeatMap(sel.tolist(), radius=8).add_to(m)
localize(m)
# A quick dashboard renders with branca's own MacroElement.render; Lagebild replaces it for the
# whole process once geo.maps is imported (geo.maps._macro_render_once), which this page's
# imports do: the baseline gets the stock one back while it draws its map.
lagebild_render = branca.element.MacroElement.render
branca.element.MacroElement.render = _BRANCA_MACRO_RENDER
try:
    st_folium(m, key="naive", height=600, returned_objects=[])
finally:
    branca.element.MacroElement.render = lagebild_render
