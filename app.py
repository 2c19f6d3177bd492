"""Lagebild: the server (`streamlit run app.py`, what `make run` starts).

The Streamlit app is `dashboard.py`; this launcher adds the app's own tile route
(`/tiles/…`, `ui/tile_route.py`): local base-map tiles from the store and the cache of
viewed tiles, and pre-warms the first session's work while the server starts
(`ui/prewarm.py`: imports, the data set, the spatial model). `streamlit run dashboard.py`
still works, without local tiles and without pre-warming.
"""

import os

import streamlit as st

from ui import prewarm
from ui.tile_route import MOUNTED_ENV, routes

os.environ[MOUNTED_ENV] = "1"  # the pages of this process may point maps at /tiles/…
prewarm.start()
app = st.App("dashboard.py", routes=routes())
