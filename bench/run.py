"""Benchmark: Lagebild against the naive approach on the same data, side by side.

    .venv/bin/python bench/run.py --complaints 1000000 --pings 10000000

Measures, on a generated data set (cached under bench/out/):
  (a) rerun_s        a filter change on the Lagebild page, warm cache, server-side rerun time
                     (median of --repeat runs, AppTest in this process): the period,
                     city-wide, each period visited for the first time (data and model
                     warm); rerun_revisit_s: periods seen before (their layers cached);
                     rerun_district_s: the district selection;
  (b) naive_rerun_s  the same filter changes on a page that draws a folium HeatMap of every
                     filtered complaint through st_folium (bench/naive_page.py);
  (c) map_html_bytes the Lagebild map's HTML for the default filters;
  (d) peak_rss_mb    peak resident memory of this process (data, model, both pages);
  (e) cold_start_s   `streamlit run dashboard.py` started fresh to a complete Übersicht in
                     headless Chromium (KPIs and map drawn), or an AppTest run if Chromium
                     is missing.
Prints a table and, as the very last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))


def ensure_data(complaints: int, pings: int, seed: int) -> Path:
    from data import generator
    from data.folder import write_folder

    folder = ROOT / "bench" / "out" / f"data-{complaints}-{pings}-{seed}"
    if not (folder / "dataset.json").exists():
        t0 = time.perf_counter()
        frames, meta = generator.generate(seed=seed, complaints=complaints, pings=pings)
        write_folder(folder, frames, meta)
        print(f"generated {folder.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return folder


# The same filter changes on both pages. Headline: the period, city-wide (the mayor's and
# the coordinators' most common change); second: the district selection in 2026-Q3.
PERIODS = ["2026-Q2", "2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2"]  # none is the start state
DISTRICTS = [["mitte"], ["heessen"], [], ["uentrop", "mitte"]]


def time_reruns(at, set_filter, values, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        set_filter(at, values[i % len(values)])
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    return times


def steady_server_state() -> None:
    """Measure reruns as a running server does them.

    Because a ``pages/`` folder exists, Streamlit handles the very first run of a fresh
    server in its old pages-folder mode, which the chrome leaves with one rerun
    (``ui.chrome._leave_pages_folder_mode``); every later run is plain. AppTest resets that
    mode before *every* run, so each measured run would pay the extra rerun. This pins the
    server's steady state (the mode already left).
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        PagesManager.uses_pages_directory = False
        original(self, *args, **kwargs)

    PagesManager.__init__ = init


def bench_app(repeat: int) -> tuple[list[float], list[float], list[float], int]:
    from streamlit.testing.v1 import AppTest

    from data.filters import Filters
    from data.periods import parse_quarter
    from data.sources import signature
    from geo import maps
    from geo.model import build
    from ui.cache import load_bundle
    from viz.pagedata import lagebild_map

    steady_server_state()
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    at.run()
    at.switch_page("pages/lagebild.py")
    at.run()  # warm: data, model and first map
    at.run()

    def set_period(app, q):
        app.sidebar.select_slider[0].set_value((q, q))

    def set_district(app, value):
        app.sidebar.multiselect(key="flt_d").set_value(value)

    first = time_reruns(at, set_period, PERIODS, repeat)  # first visits (with --repeat <= 5)
    periods = time_reruns(at, set_period, PERIODS, repeat)  # revisits: every state seen before
    set_period(at, "2026-Q3")
    at.run()
    districts = time_reruns(at, set_district, DISTRICTS, repeat)
    folder = os.environ["LAGEBILD_DATA"]
    bundle = load_bundle(folder, signature(Path(folder)))
    q = parse_quarter("2026-Q3")
    html = maps.map_html(lagebild_map(bundle, build(bundle), Filters(q, q), "de", "none"))
    return periods, first, districts, len(html.encode("utf-8"))


def bench_naive(repeat: int) -> tuple[list[float], list[float]]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "bench" / "naive_page.py"), default_timeout=900)
    at.run()

    def set_period(app, q):
        app.selectbox(key="q").set_value(q)

    def set_district(app, value):
        app.multiselect(key="d").set_value(value)

    time_reruns(at, set_period, PERIODS, repeat)  # same passes as the app: first ...
    periods = time_reruns(at, set_period, PERIODS, repeat)  # ... and second
    set_period(at, "2026-Q3")
    at.run()
    districts = time_reruns(at, set_district, DISTRICTS, repeat)
    return periods, districts


def cold_start(folder: Path) -> float:
    from harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, map_frame, wait_for_app

    if not Path(CHROMIUM).exists():
        from streamlit.testing.v1 import AppTest

        t0 = time.perf_counter()
        AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600).run()
        return time.perf_counter() - t0
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        t0 = time.perf_counter()
        server = StreamlitServer({"LAGEBILD_DATA": str(folder)})
        try:
            page = browser.new_page()
            page.goto(server.url, timeout=600_000)
            wait_for_app(page, timeout=600_000)
            page.wait_for_selector('[data-testid="stMetricValue"]', timeout=600_000)
            frame = map_frame(page, timeout=600_000)
            frame.wait_for_selector("path.leaflet-interactive", timeout=600_000)
            elapsed = time.perf_counter() - t0
        finally:
            server.stop()
            browser.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--pings", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20241001)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--demo", action="store_true", help="use the committed demo folder")
    args = parser.parse_args(argv)
    if args.repeat < 5:
        parser.error(f"--repeat must be at least 5, got {args.repeat}")
    folder = ROOT / "data" / "demo" if args.demo else ensure_data(args.complaints, args.pings,
                                                                   args.seed)
    os.environ["LAGEBILD_DATA"] = str(folder)
    os.environ["LAGEBILD_TILES"] = "none"
    cold = cold_start(folder)
    app_times, app_first_times, app_district_times, html_bytes = bench_app(args.repeat)
    naive_times, naive_district_times = bench_naive(args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from data.sources import signature
    from ui.cache import load_bundle

    counts = load_bundle(str(folder), signature(folder)).counts()
    med = statistics.median
    result = {
        "complaints": counts["complaints"],
        "pings": counts["patrol_points"],
        # Headline: each period visited for the first time (data and model warm, nothing
        # of that filter state cached); revisits reuse the state's layers.
        "rerun_s": round(med(app_first_times), 3),
        "naive_rerun_s": round(med(naive_times), 3),
        "speedup": round(med(naive_times) / med(app_first_times), 1),
        "rerun_revisit_s": round(med(app_times), 3),
        "speedup_revisit": round(med(naive_times) / med(app_times), 1),
        "rerun_district_s": round(med(app_district_times), 3),
        "naive_rerun_district_s": round(med(naive_district_times), 3),
        "speedup_district": round(med(naive_district_times) / med(app_district_times), 1),
        "map_html_bytes": html_bytes,
        "peak_rss_mb": round(peak, 1),
        "cold_start_s": round(cold, 2),
        "rerun_runs_s": [round(t, 3) for t in app_times],
        "naive_runs_s": [round(t, 3) for t in naive_times],
    }
    rows = [
        ("data", f"{result['complaints']:,} complaints, {result['pings']:,} pings"),
        ("(a) period change, Lagebild (median)", f"{result['rerun_s']:.3f} s"),
        ("    ... revisiting a period", f"{result['rerun_revisit_s']:.3f} s"),
        ("(b) period change, naive HeatMap (median)", f"{result['naive_rerun_s']:.3f} s"),
        ("    speed-up (first visit / revisit)",
         f"{result['speedup']:.1f}x / {result['speedup_revisit']:.1f}x"),
        ("(a') district change, Lagebild (median)", f"{result['rerun_district_s']:.3f} s"),
        ("(b') district change, naive HeatMap (median)",
         f"{result['naive_rerun_district_s']:.3f} s"),
        ("    speed-up", f"{result['speedup_district']:.1f}x"),
        ("(c) Lagebild map HTML", f"{html_bytes / 1e6:.2f} MB"),
        ("(d) peak memory (RSS)", f"{result['peak_rss_mb']:.0f} MB"),
        ("(e) cold start to complete Übersicht", f"{result['cold_start_s']:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
