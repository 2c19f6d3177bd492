"""Split one first-visit filter change on the Lagebild page into data and render time.

    .venv/bin/python bench/profile_split.py [--folder DIR] [--quarter 2026-Q1 | --district ID]

The same protocol as bench/profile_rerun.py (AppTest, page warm, one change to a state not
seen before, profiled in the script thread), reported by the cumulative time of the entry
points: the data of the change (layer data, the text alternative's tables, the district
table, hot spots, gap list, presence, complaint counts: geo/, viz/pagedata, viz/map_alt,
data/) and its rendering (drawing the folium map, rendering it to HTML, streamlit-folium,
Streamlit). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (label, file suffix, function name): cumulative time of each (nested ones overlap).
DATA = (("layer data (pagedata.lagebild_data)", "viz/pagedata.py", "lagebild_data"),
        ("text alternative (map_alt.lagebild)", "viz/map_alt.py", "lagebild"),
        ("  district table", "viz/pagedata.py", "_district_table"),
        ("  hot spots (Gi*)", "geo/hotspots.py", "gi_star"),
        ("  gap list", "geo/model.py", "city_wide"),
        ("  complaint counts per cell", "geo/model.py", "complaint_cell_counts"),
        ("  presence per cell", "geo/model.py", "presence_minutes"),
        ("  patrol hours per district", "geo/model.py", "district_hours"),
        ("scope caption", "viz/pagedata.py", "scope_caption"))
RENDER = (("draw the folium map (pagedata.draw_lagebild)", "viz/pagedata.py", "draw_lagebild"),
          ("render it once (foliumview.build_view)", "ui/foliumview.py", "build_view"),
          ("send it (foliumview.show_view)", "ui/foliumview.py", "show_view"))


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    return sum(ct for (filename, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
               if fn == name and filename.endswith(suffix))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "data" / "demo"))
    parser.add_argument("--quarter", default="2026-Q1")
    parser.add_argument("--district", default=None, help="change the district instead")
    args = parser.parse_args()
    os.environ["LAGEBILD_DATA"] = args.folder
    os.environ["LAGEBILD_TILES"] = "none"
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    from bench.run import steady_server_state

    steady_server_state()  # the server's steady state: pages-folder mode left, scripts compiled once
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=900)
    at.run()
    at.switch_page("pages/lagebild.py")
    at.run()
    at.run()
    if args.district:
        at.sidebar.multiselect[0].set_value([args.district])
    else:
        at.sidebar.select_slider[0].set_value((args.quarter, args.quarter))
    prof = cProfile.Profile()
    thread_run = LocalScriptRunner._run_script_thread

    def profiled(self):
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
    stats = pstats.Stats(prof)
    script = _cumulative(stats, "dashboard.py", "<module>")
    what = f"district {args.district}" if args.district else f"period {args.quarter}"
    print(f"one first-visit change ({what}): {total:.3f} s wall, script {script:.3f} s (profiled)")
    out = {"folder": args.folder, "change": what, "wall_s": round(total, 3),
           "script_s": round(script, 3)}
    for title, rows in (("data", DATA), ("render", RENDER)):
        print(title)
        for label, suffix, name in rows:
            secs = _cumulative(stats, suffix, name)
            print(f"  {label:<46} {secs:7.3f} s")
            out[f"{title}:{label.strip()}"] = round(secs, 4)
    data = sum(_cumulative(stats, s, n) for label, s, n in DATA if not label.startswith(" "))
    render = sum(_cumulative(stats, s, n) for _label, s, n in RENDER)
    print(f"data {data:.3f} s, render {render:.3f} s, other (Streamlit, widgets) "
          f"{script - data - render:.3f} s")
    out.update(data_s=round(data, 3), render_s=round(render, 3),
               load_avg_1m=round(os.getloadavg()[0], 2))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
