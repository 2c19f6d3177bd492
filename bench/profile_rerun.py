"""Profile one first-visit period change on the Lagebild page (AppTest, server steady state).

    .venv/bin/python bench/profile_rerun.py [--folder DIR]

Warms the page (data, model, first map), then profiles one rerun after a period change to a
quarter not seen before, and prints where its time goes by area: the folium tree (building and
rendering the map's HTML: folium, branca, jinja2), streamlit-folium, the layer data (geo/,
viz/pagedata), and Streamlit itself; then the top functions by cumulative time. Runs on any
checkout whose bench/run.py has ``steady_server_state`` (also an older one, for a
before/after comparison).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AREAS = (("folium tree (folium, branca, jinja2)", ("/folium/", "/branca/", "/jinja2/")),
         ("streamlit-folium", ("/streamlit_folium/",)),
         ("layer data (geo/, viz/pagedata, data/)", (f"{ROOT}/geo/", f"{ROOT}/viz/", f"{ROOT}/data/")),
         ("pandas / numpy / shapely / h3", ("/pandas/", "/numpy/", "/shapely/", "/h3/")),
         ("streamlit", ("/streamlit/",)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "data" / "demo"))
    parser.add_argument("--quarter", default="2026-Q1")
    parser.add_argument("--dump", help="also write the cProfile stats to this file (pstats)")
    args = parser.parse_args()
    os.environ["LAGEBILD_DATA"] = args.folder
    os.environ["LAGEBILD_TILES"] = "none"
    from streamlit.testing.v1 import AppTest

    from bench.run import steady_server_state

    steady_server_state()  # the server's steady state: pages-folder mode left, scripts compiled once
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=900)
    at.run()
    at.switch_page("pages/lagebild.py")
    at.run()
    at.run()
    at.sidebar.select_slider[0].set_value((args.quarter, args.quarter))
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    prof = cProfile.Profile()
    thread_run = LocalScriptRunner._run_script_thread

    def profiled(self):  # the script runs in its own thread: profile there
        prof.enable()
        try:
            thread_run(self)
        finally:
            prof.disable()

    LocalScriptRunner._run_script_thread = profiled
    t0 = time.perf_counter()
    at.run()
    total = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    if at.query_params.get("q") not in (args.quarter, f"{args.quarter}..{args.quarter}"):
        raise RuntimeError(f"the period change was not taken: q={at.query_params.get('q')!r}")
    if args.dump:
        prof.dump_stats(args.dump)
    stats = pstats.Stats(prof)
    # Self time per file, summed by area (each function's own time counted once).
    by_area = {name: 0.0 for name, _ in AREAS}
    other = 0.0
    for (filename, _line, _fn), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        for name, needles in AREAS:
            if any(n in filename for n in needles):
                by_area[name] += tt
                break
        else:
            other += tt
    print(f"one rerun ({args.quarter}, first visit): {total:.3f} s wall (profiled)")
    for name, secs in by_area.items():
        print(f"  {name:<42} {secs:7.3f} s self time")
    print(f"  {'other (stdlib, json, ...)':<42} {other:7.3f} s self time")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
