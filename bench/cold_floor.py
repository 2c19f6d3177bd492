"""The floor of a cold start: what Streamlit, the libraries and one Leaflet map cost by themselves.

    .venv/bin/python bench/cold_floor.py [--repeat 5]

Measures, as ``bench/cold_start.py`` does (a fresh ``streamlit run`` per start, a new Chromium
page, from process start), four apps in turn, ``--repeat`` rounds:

  bare      a title and one KPI tile (``st.metric``): Streamlit's own server start, frontend
            load and first script run;
  imports   the same after importing the libraries every Lagebild page needs before it can
            draw (pandas, pyarrow, numpy, shapely, h3, scipy.sparse, plotly, folium and its
            plugins, streamlit-folium) in the script run, as the first visitor of a server
            without pre-warming waits for them;
  map       the same plus one Lagebild map (``geo.maps.base_map`` without tiles, one H3 cell,
            Leaflet served by the app, ``ui.foliumview``), timed until its SVG path is drawn;
  map_warm  ``map`` behind a launcher that imports those libraries in a thread while the
            server starts, as ``app.py`` pre-warms (the best case for this stack);
  uebersicht  the real app (``app.py`` on the demo city, pre-warming on): ``cold_start_s`` of
            ``bench/cold_start.py``.

The first three compute nothing, so their times are what any page of this stack on this
machine costs at least; the issue's targets (demo ≤ 3 s, 1M ≤ 5 s) are read against them.
Prints a table and one JSON line (medians and all runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

TIMEOUT = 120_000

BARE = """
import streamlit as st
st.title("Übersicht")
st.metric("Beschwerden", "7.073", delta="+3 %", border=True)
"""

IMPORTS = """
import numpy, pandas, pyarrow, shapely, h3, scipy.sparse  # noqa
import plotly.graph_objects  # noqa
import folium, folium.plugins, streamlit_folium  # noqa
""" + BARE

MAP = IMPORTS + """
import sys
sys.path.insert(0, ROOT)
import pandas as pd
from geo import maps
from ui import foliumview
m = maps.base_map((7.78, 51.66, 7.86, 51.70), tiles="none")
cell = h3.latlng_to_cell(51.68, 7.82, 9)
maps.add_cells(m, pd.DataFrame({"h3": [cell], "value": [1.0]}), "Zelle")
foliumview.show_view(foliumview.build_view(m, "floor_map"), key="floor_map", height=400)
"""

WARM = """
import threading
import streamlit as st

def warm():
    import numpy, pandas, pyarrow, shapely, h3, scipy.sparse  # noqa
    import plotly.graph_objects  # noqa
    import folium, folium.plugins  # noqa

threading.Thread(target=warm, daemon=True).start()
app = st.App("map.py")
"""

APPS = {"bare": BARE, "imports": IMPORTS, "map": MAP, "map_warm": WARM}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(script: Path, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=cwd, env={**os.environ, "LAGEBILD_TILES": "none", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{script.name} exited early")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{script.name} did not become healthy")


def one(browser, name: str, workdir: Path) -> float:
    """Seconds from process start to the app's content drawn in Chromium."""
    from harness import map_frame

    t0 = time.perf_counter()
    if name == "uebersicht":
        proc, url = _start(ROOT / "app.py", ROOT, {"LAGEBILD_DATA": str(ROOT / "data" / "demo")})
    else:
        proc, url = _start(workdir / f"{name}.py", workdir, {})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, timeout=TIMEOUT)
        page.wait_for_selector("h1", timeout=TIMEOUT)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
        if name in ("map", "map_warm", "uebersicht"):
            map_frame(page, timeout=TIMEOUT).wait_for_selector("path.leaflet-interactive",
                                                              timeout=TIMEOUT)
        elapsed = time.perf_counter() - t0
        page.close()
        return elapsed
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from harness import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    names = [*APPS, "uebersicht"]
    runs: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="lagebild-floor-") as tmp:
        workdir = Path(tmp)
        (workdir / ".streamlit").mkdir()
        shutil.copy(ROOT / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
        (workdir / "static").symlink_to(ROOT / "static")  # Leaflet, served by the app
        for name, source in APPS.items():
            (workdir / f"{name}.py").write_text(source.replace("ROOT", repr(str(ROOT))))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for i in range(args.repeat):  # rounds, so that drift hits every app alike
                    for name in names:
                        runs[name].append(one(browser, name, workdir))
                    print(f"round {i + 1}: " + "  ".join(f"{n} {runs[n][-1]:.2f} s" for n in names),
                          file=sys.stderr, flush=True)
            finally:
                browser.close()
    medians = {n: round(statistics.median(v), 2) for n, v in runs.items()}
    print(f"\n{'app':12} {'median':>8} {'min':>6} {'max':>6}")
    for n in names:
        print(f"{n:12} {medians[n]:8.2f} {min(runs[n]):6.2f} {max(runs[n]):6.2f}")
    print(json.dumps({"bench": "cold_floor", "repeat": args.repeat, "median_s": medians,
                      "runs_s": {n: [round(x, 2) for x in v] for n, v in runs.items()},
                      "load_avg": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
