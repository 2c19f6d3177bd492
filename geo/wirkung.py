"""Wirkung (effect) of a saved plan whose period lies in the data (design.md section 4).

**Delivery.** For each planned visit slot (place, weekday, window) the *planned* minutes are
the visit length times the number of such weekdays in the plan period. The *delivered*
minutes are the KOD and joint patrol presence (:mod:`geo.dosage`: time between GPS pings,
gaps over 5 minutes dropped) in the place's cells on that weekday in that window, over the
quarters of the plan period; *overall* is the presence at the place at any time. A slot's
delivery counts towards compliance up to its planned minutes (staying longer in one window
does not make up for a missed one): ``compliance = sum min(delivered, planned) / sum planned``
per place and per team. The presence cube is by quarter, so a plan period that does not
cover whole quarters is measured over the quarters it touches (``exact`` False, said on the
page).

**Change in complaints (difference in differences).** Treated: the plan's places with at
least one visit. Controls: the plan's other places (same selection rule: hot spots or
emerging, but no visit because the hours ran out), so they are comparable hot spots that
were not planned. Before: the last quarter of the plan's history; after: the mean per
quarter over the plan period's quarters. The estimate is the ratio of rate ratios
``(T1 / T0) / (C1 / C0)`` (1 = no difference; 0.8 = planned places fell 20 % more than the
controls). Two tests, both reported:

* Poisson z on the log ratio: ``z = log(ratio) / sqrt(1/T0 + 1/T1 + 1/C0 + 1/C1)`` (counts
  summed over places); it assumes Poisson counts and so overstates certainty when places
  vary more than that (overdispersion);
* a permutation test over places (9,999 random relabellings of treated and controls, seeded)
  of the difference in mean log change ``log((after + 0.5) / (before + 0.5))``; it makes no
  distribution assumption.

The verdict is *too little data* when either group has fewer than 3 places or any of the
four counts is below 10, or the period is not in the data; *fell* / *rose* only when both
tests give p <= 0.05; otherwise *no clear difference*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy.special import ndtr

from data.periods import quarter_bounds
from geo import dosage
from geo.model import SpatialModel
from geo.planning import Plan, _presence_hours, weekday_counts, with_codes

MIN_PLACES = 3
MIN_COUNT = 10
PERMUTATIONS = 9_999
ALPHA = 0.05


@dataclass
class Effect:
    status: str  # "ok", "not_in_data" (the plan period has no data yet)
    quarters: list[int]
    exact: bool
    places: pd.DataFrame = field(default_factory=pd.DataFrame)
    teams: pd.DataFrame = field(default_factory=pd.DataFrame)
    did: dict = field(default_factory=dict)


def period_quarters(start: date, end: date) -> list[int]:
    """Quarter ordinals that overlap ``[start, end)``."""
    first = start.year * 4 + (start.month - 1) // 3
    last_day = end.toordinal() - 1
    last = date.fromordinal(last_day)
    return list(range(first, last.year * 4 + (last.month - 1) // 3 + 1))


def _hour_list(start: str, end: str) -> list[int]:
    a = int(str(start)[:2])
    b = int(str(end)[:2])
    b = 24 if b == 0 and a > 0 else b
    if b <= a:
        b += 24
    return [h % 24 for h in range(a, b)]


def delivery(model: SpatialModel, plan: Plan, quarters: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per place and per team: planned, delivered in windows, delivered overall, compliance."""
    places = with_codes(plan.places, model)
    s = plan.settings
    days = weekday_counts(s.start, s.end)
    hourly = _presence_hours(model, places, quarters, ["kod", "joint"])  # (P, 7, 24) minutes
    pos = {pid: i for i, pid in enumerate(places["place_id"])}
    v = plan.visits
    planned = np.zeros(len(places))
    in_windows = np.zeros(len(places))
    capped = np.zeros(len(places))
    for row in v.itertuples(index=False):
        p = pos.get(row.place_id)
        if p is None:
            continue
        plan_min = float(row.minutes) * float(days[int(row.weekday)])
        got = float(hourly[p, int(row.weekday), _hour_list(row.window_start, row.window_end)].sum())
        planned[p] += plan_min
        in_windows[p] += got
        capped[p] += min(got, plan_min)
    overall = hourly.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        compliance = np.where(planned > 0, capped / np.where(planned > 0, planned, 1), np.nan)
    per_place = pd.DataFrame({
        "place_id": places["place_id"], "district_id": places["district_id"], "name": places["name"],
        "visits_per_week": [int((v["place_id"] == pid).sum()) for pid in places["place_id"]],
        "planned_min": planned.round(1), "delivered_in_windows_min": in_windows.round(1),
        "delivered_overall_min": overall.round(1), "compliance": compliance,
    })
    per_place = per_place[per_place["visits_per_week"] > 0].reset_index(drop=True)
    frame = pd.DataFrame({"district_id": places["district_id"], "planned": planned, "capped": capped,
                          "in_windows": in_windows, "overall": overall})
    frame = frame[planned > 0]
    teams = frame.groupby("district_id", sort=True).sum().reset_index()
    teams["compliance"] = teams["capped"] / teams["planned"]
    teams = teams.rename(columns={"planned": "planned_min", "in_windows": "delivered_in_windows_min",
                                  "overall": "delivered_overall_min"}).drop(columns=["capped"])
    return per_place, teams


def did_test(treated_pre: np.ndarray, treated_post: np.ndarray, control_pre: np.ndarray,
             control_post: np.ndarray, seed: int = 0) -> dict:
    """Difference in differences of per-place counts (``*_post``: mean per quarter after)."""
    t0, t1 = float(np.sum(treated_pre)), float(np.sum(treated_post))
    c0, c1 = float(np.sum(control_pre)), float(np.sum(control_post))
    out: dict = {"n_treated": len(treated_pre), "n_control": len(control_pre),
                 "treated_before": t0, "treated_after": round(t1, 3), "control_before": c0,
                 "control_after": round(c1, 3), "ratio": None, "z": None, "p_poisson": None,
                 "p_permutation": None}
    if len(treated_pre) < MIN_PLACES or len(control_pre) < MIN_PLACES or min(t0, t1, c0, c1) < MIN_COUNT:
        out["verdict"] = "too_little_data"
        return out
    log_ratio = np.log(t1 / t0) - np.log(c1 / c0)
    se = np.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    z = log_ratio / se
    out.update(ratio=round(float(np.exp(log_ratio)), 4), z=round(float(z), 3),
               p_poisson=round(float(2 * ndtr(-abs(z))), 4))
    change = np.log((np.concatenate([treated_post, control_post]) + 0.5)
                    / (np.concatenate([treated_pre, control_pre]) + 0.5))
    n_t = len(treated_pre)
    observed = change[:n_t].mean() - change[n_t:].mean()
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(PERMUTATIONS):
        perm = rng.permutation(change)
        if abs(perm[:n_t].mean() - perm[n_t:].mean()) >= abs(observed) - 1e-12:
            hits += 1
    out["p_permutation"] = round((hits + 1) / (PERMUTATIONS + 1), 4)
    if out["p_poisson"] <= ALPHA and out["p_permutation"] <= ALPHA:
        out["verdict"] = "fell" if log_ratio < 0 else "rose"
    else:
        out["verdict"] = "no_difference"
    return out


def effect(model: SpatialModel, plan: Plan, available: list[int]) -> Effect:
    """The Wirkung of ``plan`` on the data of ``model`` (``available``: quarters with data)."""
    s = plan.settings
    quarters = period_quarters(s.start, s.end)
    in_data = [q for q in quarters if q in set(available)]
    exact = (quarter_bounds(quarters[0])[0].date() == s.start
             and quarter_bounds(quarters[-1])[1].date() == s.end)
    if not in_data or len(in_data) < len(quarters) or not plan.history:
        return Effect(status="not_in_data", quarters=quarters, exact=exact,
                      did={"verdict": "too_little_data", "n_treated": 0, "n_control": 0})
    per_place, teams = delivery(model, plan, in_data)
    places = with_codes(plan.places, model)
    counts = dosage.complaint_counts_by_quarter(model.complaint_cube, model.index,
                                                [plan.history[-1], *in_data])
    before = np.array([counts[0, c].sum() for c in places["codes"]], dtype=float)
    after = np.array([counts[1:, c].sum() / len(in_data) for c in places["codes"]], dtype=float)
    visited = places["place_id"].isin(set(plan.visits["place_id"])).to_numpy()
    did = did_test(before[visited], after[visited], before[~visited], after[~visited], seed=s.seed)
    did["before_quarter"] = int(plan.history[-1])
    did["after_quarters"] = [int(q) for q in in_data]
    return Effect(status="ok", quarters=in_data, exact=exact, places=per_place, teams=teams, did=did)
