"""Solver figures of the patrol plan (geo.planning), as figures (not tests).

    .venv/bin/python bench/planning.py [FOLDER ...]     (default: data/demo)

For each data folder: the plan for the 13 weeks after the data with the default resources
(each team's delivered hours of the last quarter), then the same with tight hours (a quarter
of them, so that the budgets bind and the solver has to choose). Prints a table and, as the
last line, one JSON object with per folder: places, variables (place-windows x kinds),
visits, objective, bound, gap, solve_s (HiGHS), plan_s (places, demand, solve), model_s,
coverage_plan, coverage_last_quarter. Target: solve_s <= 10 at demo size and at 1M.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.folder import load_folder  # noqa: E402
from data.periods import quarter_bounds  # noqa: E402
from geo import model as gm  # noqa: E402
from geo.planning import PlanSettings, Resources, default_resources, history_quarters, make_plan  # noqa: E402


def run(folder: Path) -> dict:
    bundle = load_folder(folder)
    t0 = time.perf_counter()
    model = gm.build(bundle, 9)
    model_s = time.perf_counter() - t0
    start = quarter_bounds(max(bundle.quarters()) + 1)[0].date()
    settings = PlanSettings(start=start, weeks=13)
    teams = [str(d) for d in bundle["districts"]["district_id"]]
    full = default_resources(model, history_quarters(bundle.quarters(), start), teams)
    out = {"records": len(bundle["complaints"]), "model_s": round(model_s, 2)}
    for label, res in (("default", full),
                       ("tight", Resources({d: h / 4 for d, h in full.kod_hours.items()},
                                           {d: h / 4 for d, h in full.joint_hours.items()}, 4.0))):
        t1 = time.perf_counter()
        plan = make_plan(model, settings, res, available=bundle.quarters(), complaints=bundle["complaints"],
                         focus_areas=bundle["focus_areas"], incidents=bundle["staff_incidents"])
        plan_s = time.perf_counter() - t1
        n_slots = len(plan.places) * 7 * len(plan.windows)
        out[label] = {"places": len(plan.places), "slots": n_slots, "visits": len(plan.visits),
                      "objective": round(plan.objective, 3), "bound": round(plan.bound, 3),
                      "gap": plan.gap, "status": plan.status, "solve_s": round(plan.solve_s, 3),
                      "plan_s": round(plan_s, 2), "coverage_plan": round(plan.coverage_plan, 4),
                      "coverage_last_quarter": round(plan.coverage_last_quarter, 4)}
        print(f"{folder} [{label}]: {len(plan.places)} places, {len(plan.visits)} visits/week, objective "
              f"{plan.objective:.2f}, bound {plan.bound:.2f}, gap {plan.gap:.2e} ({plan.status}), "
              f"HiGHS {plan.solve_s:.3f} s, plan {plan_s:.2f} s, coverage {plan.coverage_plan:.1%} vs "
              f"{plan.coverage_last_quarter:.1%}")
    return out


def main(argv: list[str]) -> None:
    folders = [Path(a) for a in argv] or [ROOT / "data" / "demo"]
    results = {str(f): run(f) for f in folders}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
