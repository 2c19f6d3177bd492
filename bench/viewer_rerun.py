"""What the cell key method costs a viewer's rerun (issue #15): page data of one filter state as an
admin (exact numbers) and as a viewer (published numbers), back to back, on a prepared data set.

Per view (five filter states: one quarter, two quarters, an hour window, a category, weekend),
the page-data functions of Übersicht, Lagebild, Bezirke and Beschwerden (KPIs, what changed,
the Lagebild layers, a district profile, category counts, weekday x hour) run for the admin and
the viewer bundle in turn, five rounds; reported: the CPU seconds per view (process time, less
sensitive to other processes than wall time; the best round), and the load average.

    .venv/bin/python bench/viewer_rerun.py [DATA_DIR]    (default: data/demo)

The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data.filters import Filters  # noqa: E402
from data.roles import Principal, restrict  # noqa: E402
from geo import model as geo_model  # noqa: E402
from geo.prepared import open_bundle  # noqa: E402
from viz import pagedata  # noqa: E402


def rerun(bundle, model, f: Filters) -> None:
    pagedata.overview_kpis(bundle, model, f)
    pagedata.what_changed_tables(bundle, f, "de")
    pagedata.lagebild_data(bundle, model, f, "de")
    pagedata.district_profile(bundle, model, f, str(bundle["districts"]["district_id"].iloc[0]), "de")
    pagedata.category_counts(bundle, f, "de")
    geo_model.weekday_hour(model, f)


def main() -> int:
    folder = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "data" / "demo")
    bundle = open_bundle(folder, None)
    q = bundle.quarters()[-1]
    views = [Filters(q, q), Filters(q - 1, q), Filters(q, q, hours=(18, 6)),
             Filters(q, q, categories=("laerm",)), Filters(q, q, weekdays=(5, 6))]
    who = {"admin": restrict(bundle, Principal("admin")), "viewer": restrict(bundle, Principal("viewer"))}
    models = {k: geo_model.build(b, 9) for k, b in who.items()}
    for k in who:  # warm up (first use of every summary)
        rerun(who[k], models[k], views[0])
    cpu: dict[str, list[float]] = {"admin": [], "viewer": []}
    for _ in range(5):
        for k in ("admin", "viewer"):
            start = time.process_time()
            for f in views:
                rerun(who[k], models[k], f)
            cpu[k].append((time.process_time() - start) / len(views))
    admin, viewer = min(cpu["admin"]), min(cpu["viewer"])
    print(f"{folder}: {bundle.counts()['complaints']:,} complaints; CPU per view: admin {admin:.3f} s, "
          f"viewer {viewer:.3f} s ({(viewer / admin - 1) * 100:+.0f} %); load {os.getloadavg()[0]:.1f}")
    print(json.dumps({"bench": "viewer_rerun", "folder": folder, "complaints": bundle.counts()["complaints"],
                      "admin_cpu_s_per_view": round(admin, 3), "viewer_cpu_s_per_view": round(viewer, 3),
                      "viewer_over_admin": round(viewer / admin, 3), "load1": round(os.getloadavg()[0], 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
