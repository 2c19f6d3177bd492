"""The floor of a rerun: what Streamlit itself costs for a page like the Lagebild.

    .venv/bin/python bench/floor.py [--repeat 15]

Times, as ``bench/run.py`` does (AppTest in this process, a period change on the sidebar's
slider, median of --repeat reruns), three pages that compute nothing:

  bare      one period slider in the sidebar (AppTest's and the script runner's own cost);
  lagebild  the Lagebild page's elements with constant content: the chrome's sidebar (language
            radio, link, badge, period slider, five multiselects, two selectboxes, reset
            button, base map select, the share-link popover with its iframe), the page's title,
            captions, resolution/metric/layer selects, the map component with a cached 0.30 MB
            view (the Lagebild map's size at 1M), the text alternative (three small tables in
            an expander) and the export expander (download buttons of lazy data, the CRS radio);
  + fragment  the same, with the page options, map, alternative and exports in an
            ``st.fragment`` (a period change still reruns the whole page: the floor is the
            same; shown to confirm).

Prints a table and one JSON line. Compare with ``rerun_revisit_s`` of ``bench/run.py`` (the
real page with every result cached) and ``rerun_district_s`` (a first visit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import streamlit as st
q = st.sidebar.select_slider("Zeitraum", options=[f"Q{i}" for i in range(12)],
                             value=("Q11", "Q11"), key="q")
st.title("Lagebild")
"""

LAGEBILD = """
import sys
sys.path.insert(0, ROOT)
import pandas as pd
import streamlit as st
from ui import foliumview

FRAGMENT = FRAG

@st.cache_resource
def view():
    script = "var x = " + "[1,2,3,4,5,6,7,8,9]," * 16_500 + "0;"
    return foliumview.MapView(script=script, header="<style></style>", html="<div id='map'></div>",
                              map_id="map", css_links=("/app/static/vendor/leaflet.css",),
                              js_links=("/app/static/vendor/leaflet.js",),
                              component_key="lagebild_map_key", base=None)

@st.cache_data
def tables():
    t = pd.DataFrame({"Bezirk": [f"Bezirk {i}" for i in range(7)], "Beschwerden": range(7),
                      "Anteil": [0.1] * 7, "Präsenz": range(7)})
    return [("Bezirke", t), ("Schwerpunkte", t.head(5)), ("Lücken", t.head(3))]

st.sidebar.radio("Sprache", ["de", "en"], key="lang", horizontal=True, format_func=str.upper)
st.html("<style>.x{}</style><script>document.documentElement.lang='de'</script>",
        unsafe_allow_javascript=True)
st.sidebar.markdown("[Erklärung zur Barrierefreiheit](#)")
st.sidebar.warning("Demo-Daten (synthetisch)", icon=":material/science:")
st.sidebar.caption("Lokaler Einzelbenutzer-Modus ohne Anmeldung: Administration")
st.sidebar.subheader("Filter")
q = st.sidebar.select_slider("Zeitraum (Quartale)", options=[f"Q{i}" for i in range(12)],
                             value=("Q11", "Q11"), key="q")
for label, n in (("Bezirke", 7), ("Handlungsfeld", 4), ("Kategorien", 12), ("Streifenart", 3),
                 ("Wochentage", 7)):
    st.sidebar.multiselect(label, list(range(n)), key=label, placeholder="alle")
c1, c2 = st.sidebar.columns(2)
c1.selectbox("Uhrzeit von", [f"{h:02d}:00" for h in range(24)], key="h0")
c2.selectbox("bis", [f"{h:02d}:00" for h in range(1, 25)], index=23, key="h1")
st.sidebar.button("Filter zurücksetzen", key="reset")
st.sidebar.selectbox("Hintergrundkarte", ["none", "osm", "basemap"], key="tiles")
with st.sidebar.popover("Link kopieren", icon=":material/link:", width="stretch"):
    st.iframe("<html><body><input id=u><button>Kopieren</button></body></html>", height=104)
    st.caption("Der Link gibt Seite, Filter, Sprache und Kartenebenen wieder.")
st.query_params["q"] = "..".join(q)
st.markdown(":orange-badge[:material/science: Demo-Daten (synthetisch)]")
st.title("Lagebild")
st.caption("Stadt · " + " – ".join(q))
st.selectbox("Zellgröße", [8, 9, 10], index=1, key="res")


def body():
    left, right = st.columns([1, 2])
    metric = left.selectbox("Kennzahl", ["a", "b", "c"], key="metric")
    layers = right.multiselect("Ebenen beim Öffnen", ["x", "y", "z", "w"], default=["x", "y"],
                               key="layers")
    st.query_params["m"] = metric
    st.query_params["l"] = ",".join(layers)
    foliumview.show_view(view(), key="lagebild_map", height=680)
    st.caption("Hilfe zur Karte")
    st.caption("Kartenbeschreibung: " + "Text " * 40)
    with st.expander("Daten der Karte"):
        for i, (title, table) in enumerate(tables()):
            st.markdown(f"**{title}**")
            st.dataframe(table, hide_index=True, width="stretch", key=f"t{i}")
    with st.expander("Exportieren", icon=":material/ios_share:"):
        st.caption("Hinweis")
        a, b, c = st.columns(3)
        with a:
            st.download_button("CSV", data=lambda: b"x", file_name="a.csv", key="csv",
                               on_click="ignore", icon=":material/download:")
            st.download_button("GeoJSON", data=lambda: b"x", file_name="a.geojson", key="gj",
                               on_click="ignore", icon=":material/download:")
            st.radio("Koordinaten", [25832, 4326], key="crs", horizontal=True)
            st.download_button("GPKG", data=lambda: b"x", file_name="a.gpkg", key="gpkg",
                               on_click="ignore", icon=":material/download:")
        with b:
            st.download_button("HTML", data=lambda: b"x", file_name="a.html", key="html",
                               on_click="ignore", icon=":material/download:")
            st.button("Karte als PNG", key="png")
        with c:
            st.button("Quartalsbericht (PDF)", key="pdf")


(st.fragment(body) if FRAGMENT else body)()
"""


def share_script_cache() -> None:
    """One ScriptCache for every AppTest run, as a server has (see bench/run.py)."""
    import streamlit.testing.v1.app_test as app_test
    import streamlit.testing.v1.local_script_runner as local_runner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    app_test.ScriptCache = local_runner.ScriptCache = lambda: shared


def time_page(source: str, repeat: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        at = AppTest.from_file(str(path), default_timeout=120)
        at.run()
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        times = []
        for i in range(repeat):
            v = f"Q{i % 11}"
            at.sidebar.select_slider[0].set_value((v, v))
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(at.exception[0].message)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("LAGEBILD_TILES", "none")
    share_script_cache()
    load0 = os.getloadavg()[0]
    pages = {"bare": BARE,
             "lagebild": LAGEBILD.replace("ROOT", repr(str(ROOT))).replace("FRAG", "False"),
             "lagebild_fragment": LAGEBILD.replace("ROOT", repr(str(ROOT))).replace("FRAG", "True")}
    out = {}
    for name, source in pages.items():
        times = time_page(source, args.repeat)
        out[f"floor_{name}_s"] = round(statistics.median(times), 4)
        out[f"floor_{name}_p90_s"] = round(statistics.quantiles(times, n=10, method="inclusive")[-1], 4)
        print(f"  {name:<20} median {out[f'floor_{name}_s'] * 1000:6.1f} ms   "
              f"p90 {out[f'floor_{name}_p90_s'] * 1000:6.1f} ms", file=sys.stderr)
    out["load_avg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
