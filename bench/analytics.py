"""Speed of the analytic and import building blocks, as figures (not tests).

    .venv/bin/python bench/analytics.py [--points 1000000]

Prints a table and, as the last line, one JSON object:
  pip_1m_s       point in polygon of --points points in 40 detailed districts (target < 20 s)
  import_csv_s   a German-Excel CSV of 200,000 complaints through the import pipeline
  gi_star_ms     Gi* on the demo city's cells at resolution 9 and 10 (median of 7)
  model_build_s  cells and cubes of the demo city (resolution 9)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.filters import Filters  # noqa: E402
from data.folder import load_folder  # noqa: E402
from data.importers import prepare_import  # noqa: E402
from data.periods import parse_quarter  # noqa: E402
from data.spatial import assign_polygons  # noqa: E402
from geo import model as gm  # noqa: E402
from geo.hotspots import gi_star  # noqa: E402


def _star(lon: float, lat: float, r: float, n: int = 400) -> shapely.Polygon:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rr = r * (0.75 + 0.25 * np.cos(7 * a))
    return shapely.Polygon(np.c_[lon + rr * np.cos(a), lat + rr * np.sin(a) * 0.6])


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    polys = [_star(7.7 + 0.05 * i, 51.6 + 0.05 * j, 0.03) for i in range(8) for j in range(5)]
    lon = rng.uniform(7.65, 8.15, args.points)
    lat = rng.uniform(51.55, 51.85, args.points)
    pip_s, _ = timed(lambda: assign_polygons(lat, lon, polys, [f"d{k}" for k in range(40)]))

    demo = load_folder(ROOT / "data" / "demo")
    n = 200_000
    la = rng.uniform(51.66, 51.70, n)
    lo = rng.uniform(7.78, 7.86, n)
    frame = pd.DataFrame({"Nr": np.arange(n), "Datum": "31.12.2024 10:00", "Art": "Lärm",
                          "Breite": [f"{v:.5f}".replace(".", ",") for v in la],
                          "Länge": [f"{v:.5f}".replace(".", ",") for v in lo]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beschwerden.csv"
        frame.to_csv(path, sep=";", index=False, encoding="cp1252")
        import_s, report = timed(lambda: prepare_import("complaints", path,
                                                        districts=demo["districts"]))
    build_s, model = timed(lambda: gm.build(demo, 9))
    q = parse_quarter("2026-Q3")
    gi_ms = {}
    for res in (9, 10):
        m = model if res == 9 else gm.build(demo, res)
        counts = gm.complaint_cell_counts(m, Filters(q, q))
        gi_star(counts, m.index)
        gi_ms[res] = timed(lambda m=m, counts=counts: gi_star(counts, m.index), repeat=7)[0] * 1000
    result = {"points": args.points, "pip_1m_s": round(pip_s, 3),
              "import_rows": n, "import_accepted": report.records_accepted,
              "import_csv_s": round(import_s, 2), "model_build_s": round(build_s, 2),
              "gi_star_ms": {str(k): round(v, 2) for k, v in gi_ms.items()}}
    print(f"point in polygon, {args.points:,} points, 40 districts   {pip_s:.2f} s")
    print(f"import, German CSV, {n:,} complaints                  {import_s:.1f} s")
    print(f"spatial model of the demo city (res 9)                {build_s:.2f} s")
    for res, ms in gi_ms.items():
        print(f"Gi* on the demo city, resolution {res:<2}                  {ms:.1f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
