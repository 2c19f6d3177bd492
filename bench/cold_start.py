"""Cold start of the app, phase by phase: process start to a complete Übersicht in Chromium.

    .venv/bin/python bench/cold_start.py [--folder DIR] [--script app.py|dashboard.py] [--repeat 3]

Starts the server fresh each time (as ``bench/run.py`` does) and prints, from the process
start: the server answering its health check, the page's frame drawn (Streamlit's frontend
loaded), the Übersicht's title (the first script run reached the page), its KPI tiles, and
its map drawn (SVG paths in the st_folium frame) — the last is ``cold_start_s``. Ends with
one JSON line (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

TIMEOUT = 300_000
PHASES = ("health", "frontend", "title", "kpis", "map")


def one(browser, folder: str, script: str) -> dict[str, float]:
    from harness import StreamlitServer, map_frame

    t0 = time.perf_counter()
    server = StreamlitServer({"LAGEBILD_DATA": folder}, script=script)
    out = {"health": time.perf_counter() - t0}
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url, timeout=TIMEOUT)
        page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT)
        out["frontend"] = time.perf_counter() - t0
        page.wait_for_selector("h1", timeout=TIMEOUT)
        out["title"] = time.perf_counter() - t0
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT)
        out["kpis"] = time.perf_counter() - t0
        frame = map_frame(page, timeout=TIMEOUT)
        frame.wait_for_selector("path.leaflet-interactive", timeout=TIMEOUT)
        out["map"] = time.perf_counter() - t0
        page.close()
    finally:
        server.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "data" / "demo"))
    parser.add_argument("--script", default="dashboard.py", choices=("dashboard.py", "app.py"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from harness import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(args.repeat):
                runs.append(one(browser, str(Path(args.folder).resolve()), args.script))
                print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()),
                      file=sys.stderr, flush=True)
        finally:
            browser.close()
    medians = {k: round(statistics.median(r[k] for r in runs), 2) for k in PHASES}
    print(json.dumps({"script": args.script, "folder": args.folder, "runs": len(runs),
                      "cold_start_s": medians["map"], "phases_s": medians,
                      "load_avg": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
