"""Patrol planning: places (Einsatzorte), expected demand, resources and the weekly plan.

Definitions (design.md section 4, "Places and plans"; README "Streifenplanung"):

* **History.** A plan starting on ``start`` is built from the complete quarters of the data
  that ended on or before ``start`` (the *history*); the *last quarter* is the newest of them.
* **Candidate cells.** Cells that are Gi* hot spots at >= 95 % (``p_fdr <= 0.05``, city-wide,
  :mod:`geo.hotspots`) in the last quarter, or whose emerging hot spot class over the history
  (at least 4 quarters, space-time cube, :mod:`geo.emerging`) is new, consecutive,
  intensifying, persistent or sporadic; only cells of the selected districts.
* **Places.** Connected groups (ring-1 neighbours) of candidate cells of one district. A group
  larger than about ``max_area_km2`` (0.5 km²; 5 cells at resolution 9, 1 at 8, 33 at 10)
  is split by growing places from its busiest cell, always adding the busiest neighbouring
  cell, until the size limit. A place is named after its district and the focus area it lies
  in (its busiest cell's centre), otherwise the most frequent street of its complaints'
  addresses (house numbers removed), otherwise its busiest cell.
* **Expected demand** per place, weekday and window (complaints per day in that window): for
  each of the last ``demand_quarters`` (4) history quarters the complaints in the place's
  cells on that weekday in that window, divided by the number of such weekdays in the
  quarter; their weighted mean with weights halving per quarter back (1, 1/2, 1/4, 1/8,
  normalised): recent quarters count most, so an emerging place is not underrated, and one
  odd quarter cannot dominate.
* **Windows.** Service hours (default Mo-Sa 07:00-22:00) cut into windows of
  ``window_hours`` (2; the last may be shorter); the rest of the day is cut the same way
  (only used to measure coverage).
* **Last-quarter presence** of a place-window: patrol minutes (all kinds) in the place's cells
  in that window on that weekday in the last quarter, per such weekday. A place-window was
  *covered* last quarter when that is at least the visit length.
* **Resources** (all in *person*-hours of KOD staff per week; a visit costs
  ``(visit_minutes + travel_minutes) * staff`` person-minutes): each district team's KOD
  hours and joint-patrol hours (defaults: the team's delivered KOD / joint patrol hours in the
  last quarter per week, times the staff per patrol) and a city-wide flexible pool (default 0)
  that may go to any district.
* **The plan** (a weekly template repeated for ``weeks`` weeks): binary variables
  ``x[s, k]`` for each place-window ``s`` with positive demand in the service hours and each
  patrol kind ``k`` (kod, joint, flex); maximise ``sum d_s x[s, k]`` subject to at most one
  visit per place-window and, per district, KOD and joint person-minutes within the team's
  budgets, flex person-minutes within the pool. Solved exactly by HiGHS
  (:func:`scipy.optimize.milp`, relative gap 0, 10 s limit); the objective, the solver's
  dual bound and the gap are reported. A place always belongs to one district, so a team
  never receives another district's places.
* **Staff safety (#sicherimDienst).** Staff incidents (any kind) of the last two history
  quarters inside a place's cells mark the place-window(s) of the time of day they happened
  (on every weekday): those windows get joint patrols only (``safety="joint"``) or are left
  out (``safety="omit"``), and the reason is kept.
* **Order.** Visits of a team in one weekday and window (a shift) are put in a random order
  (Sacramento trial), drawn from ``seed``: same inputs and seed, same plan.
* **Coverage** = share of the expected complaints at all places (whole week, all 24 hours)
  that fall in a planned place-window (``coverage_plan``) or in a place-window covered by
  last quarter's presence (``coverage_last_quarter``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from data.periods import quarter_bounds
from geo import dosage
from geo.cells import cell_codes
from geo.emerging import MIN_QUARTERS, emerging_hotspots
from geo.hotspots import gi_star
from geo.model import SpatialModel

KINDS = ("kod", "joint", "flex")
PLAN_CLASSES = ("new", "consecutive", "intensifying", "persistent", "sporadic")
SAFETY_MODES = ("joint", "omit")
DEFAULT_SERVICE_DAYS = (0, 1, 2, 3, 4, 5)  # Mo-Sa
SOLVER_TIME_LIMIT_S = 10.0
DEMAND_DECAY = 0.5
PLACE_COLUMNS = ["place_id", "district_id", "district", "name", "cells", "lat", "lon", "area_km2",
                 "hot", "emerging", "categories", "complaints_last_quarter", "expected_week"]
VISIT_COLUMNS = ["place_id", "district_id", "weekday", "window_start", "window_end", "minutes", "kind",
                 "expected_complaints", "order", "safety", "presence_last_quarter"]
FORMAT = 1


class PlanError(ValueError):
    """No plan is possible (e.g. no candidate places); the message says why."""


# --- settings and resources ------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanSettings:
    start: date
    weeks: int = 1
    districts: tuple[str, ...] | None = None  # None: every district of the model
    visit_minutes: int = 15
    travel_minutes: int = 5
    staff: int = 2
    service_days: tuple[int, ...] = DEFAULT_SERVICE_DAYS
    service_start: int = 7
    service_end: int = 22
    window_hours: int = 2
    seed: int = 0
    safety: str = "joint"
    confidence: float = 0.95
    max_area_km2: float = 0.5
    demand_quarters: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.start, date):
            raise ValueError(f"start must be a date, got {self.start!r}")
        _int_in("weeks", self.weeks, 1, 53)
        _int_in("visit_minutes", self.visit_minutes, 10, 20)
        _int_in("travel_minutes", self.travel_minutes, 0, 120)
        _int_in("staff", self.staff, 1, 10)
        _int_in("service_start", self.service_start, 0, 23)
        _int_in("service_end", self.service_end, 1, 24)
        _int_in("window_hours", self.window_hours, 1, 12)
        _int_in("seed", self.seed, 0, 2**32 - 1)
        _int_in("demand_quarters", self.demand_quarters, 1, 12)
        if self.service_end <= self.service_start:
            raise ValueError(f"service hours must end after they start, got "
                             f"{self.service_start}-{self.service_end}")
        days = tuple(self.service_days)
        if not days or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days):
            raise ValueError(f"service_days must be weekdays 0 (Mo)..6 (Su), got {self.service_days!r}")
        object.__setattr__(self, "service_days", tuple(sorted(set(days))))
        if self.safety not in SAFETY_MODES:
            raise ValueError(f"safety must be one of {list(SAFETY_MODES)}, got {self.safety!r}")
        if not 0.5 < float(self.confidence) < 1.0:
            raise ValueError(f"confidence must lie in (0.5, 1), got {self.confidence!r}")
        if not 0.0 < float(self.max_area_km2) <= 10.0:
            raise ValueError(f"max_area_km2 must lie in (0, 10], got {self.max_area_km2!r}")
        if self.districts is not None:
            if isinstance(self.districts, str) or not all(isinstance(d, str) and d for d in self.districts):
                raise ValueError(f"districts must be a tuple of district ids, got {self.districts!r}")
            object.__setattr__(self, "districts", tuple(dict.fromkeys(self.districts)))

    @property
    def end(self) -> date:
        """First day after the plan period."""
        return self.start + timedelta(days=7 * self.weeks)

    @property
    def visit_cost(self) -> int:
        """Person-minutes of one visit (visit and travel, times staff)."""
        return (self.visit_minutes + self.travel_minutes) * self.staff

    def to_dict(self) -> dict:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["districts"] = list(self.districts) if self.districts is not None else None
        out["service_days"] = list(self.service_days)
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> PlanSettings:
        data = dict(raw)
        data["start"] = date.fromisoformat(str(data["start"]))
        if data.get("districts") is not None:
            data["districts"] = tuple(data["districts"])
        data["service_days"] = tuple(data.get("service_days", DEFAULT_SERVICE_DAYS))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _int_in(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number in {lo}..{hi}, got {value!r}")


@dataclass(frozen=True)
class Resources:
    """Person-hours per week: per district KOD and joint hours, and the city-wide flex pool."""

    kod_hours: dict[str, float]
    joint_hours: dict[str, float]
    flex_hours: float = 0.0

    def __post_init__(self) -> None:
        for label, table in (("kod_hours", self.kod_hours), ("joint_hours", self.joint_hours)):
            for key, value in table.items():
                _hours(f"{label}[{key!r}]", value)
        _hours("flex_hours", self.flex_hours)

    def to_dict(self) -> dict:
        return {"kod_hours": dict(self.kod_hours), "joint_hours": dict(self.joint_hours),
                "flex_hours": float(self.flex_hours)}

    @classmethod
    def from_dict(cls, raw: dict) -> Resources:
        return cls(kod_hours={str(k): float(v) for k, v in raw.get("kod_hours", {}).items()},
                   joint_hours={str(k): float(v) for k, v in raw.get("joint_hours", {}).items()},
                   flex_hours=float(raw.get("flex_hours", 0.0)))


def _hours(label: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(value)) and 0.0 <= float(value) <= 10_000.0):
        raise ValueError(f"{label} must be hours in 0..10000, got {value!r}")


# --- time helpers ------------------------------------------------------------------------------------

def history_quarters(available: Sequence[int], start: date) -> list[int]:
    """Quarters of the data that ended on or before ``start`` (oldest first)."""
    out = []
    for q in sorted(set(int(x) for x in available)):
        _, end = quarter_bounds(q)
        if end.date() <= start:
            out.append(q)
    return out


def weekday_counts(first: date, end: date) -> np.ndarray:
    """How many of each weekday (0 = Monday) lie in ``[first, end)``."""
    days = max((end - first).days, 0)
    counts = np.full(7, days // 7, dtype=np.int64)
    for k in range(days % 7):
        counts[(first.weekday() + k) % 7] += 1
    return counts


def quarter_weekday_counts(q: int) -> np.ndarray:
    a, b = quarter_bounds(q)
    return weekday_counts(a.date(), b.date())


def day_windows(service_start: int, service_end: int, length: int) -> list[tuple[int, int, bool]]:
    """(start hour, end hour, in service) windows covering the 24 hours of a day.

    Service hours are cut into ``length``-hour windows from ``service_start`` (the last may be
    shorter); the hours before and after are cut the same way (end may exceed 24 when a
    window wraps midnight: 22-26 is 22:00-02:00).
    """
    out = []
    h = service_start
    while h < service_end:
        out.append((h, min(h + length, service_end), True))
        h += length
    h = service_end
    stop = service_start + 24
    while h < stop:
        out.append((h, min(h + length, stop), False))
        h += length
    return out


def _hours_of(window: tuple[int, int, bool]) -> list[int]:
    return [h % 24 for h in range(window[0], window[1])]


def hhmm(hour: int) -> str:
    return f"{hour % 24:02d}:00" if hour % 24 or hour == 0 else "24:00"


def window_label(start: int, end: int) -> str:
    return f"{hhmm(start)}-{'24:00' if end == 24 else hhmm(end)}"


# --- places --------------------------------------------------------------------------------------------

_HOUSE = re.compile(r"\s*\d.*$")


def street_of(address: object) -> str | None:
    """The street of an address: the text before the first comma and the house number."""
    if not isinstance(address, str):
        return None
    text = _HOUSE.sub("", address.split(",")[0]).strip()
    return text or None


def _max_cells(resolution: int, max_area_km2: float) -> int:
    area = h3.average_hexagon_area(resolution, "km^2")
    return max(1, round(max_area_km2 / area))


def _split(members: np.ndarray, adjacency: sp.csr_matrix, weight: np.ndarray, cap: int) -> list[list[int]]:
    """Split a connected group into places of at most ``cap`` cells, grown from the busiest cell."""
    if len(members) <= cap:
        return [sorted(members.tolist())]
    left = set(members.tolist())
    groups = []
    while left:
        seed = max(left, key=lambda c: (weight[c], -c))
        group = [seed]
        left.discard(seed)
        frontier = set(adjacency.indices[adjacency.indptr[seed]:adjacency.indptr[seed + 1]]) & left
        while frontier and len(group) < cap:
            nxt = max(frontier, key=lambda c: (weight[c], -c))
            group.append(nxt)
            left.discard(nxt)
            frontier |= set(adjacency.indices[adjacency.indptr[nxt]:adjacency.indptr[nxt + 1]])
            frontier &= left
        groups.append(sorted(group))
    return groups


def candidate_cells(model: SpatialModel, history: Sequence[int], confidence: float = 0.95
                    ) -> pd.DataFrame:
    """Per cell: ``hot`` (Gi* class of the last quarter), ``emerging`` (class), ``candidate``."""
    if not history:
        raise PlanError("no complete quarter of data before the plan starts")
    last = history[-1]
    counts_last = dosage.complaint_counts(model.complaint_cube, model.index, quarters=[last])
    spots = gi_star(counts_last, model.index)
    alpha = 1.0 - float(confidence)
    hot = (spots["z"].to_numpy() > 0) & (spots["p_fdr"].to_numpy() <= alpha)
    n = len(model.index.cells)
    emerging = np.full(n, "none", dtype=object)
    if len(history) >= MIN_QUARTERS:
        cube = dosage.complaint_counts_by_quarter(model.complaint_cube, model.index, list(history))
        emerging = emerging_hotspots(cube, model.index)["cls"].to_numpy().astype(object)
    is_emerging = np.isin(emerging, PLAN_CLASSES)
    return pd.DataFrame({"hot": np.where(hot, spots["cls"].to_numpy(), "none"), "emerging": emerging,
                         "candidate": hot | is_emerging, "count_last": counts_last})


def find_places(model: SpatialModel, history: Sequence[int], *, complaints: pd.DataFrame | None = None,
                focus_areas: pd.DataFrame | None = None, districts: Sequence[str] | None = None,
                confidence: float = 0.95, max_area_km2: float = 0.5,
                category_labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Candidate places for a plan built on ``history`` (see the module docstring).

    ``complaints`` (with ``address``, ``lat``, ``lon``, ``quarter``) and ``focus_areas`` only
    give the names; without them places are named after their busiest cell.
    Columns: :data:`PLACE_COLUMNS` plus ``codes`` (cell codes); one row per place, by district
    and then by last quarter's complaints (descending). Empty when there is no candidate.
    """
    index = model.index
    cand = candidate_cells(model, history, confidence)
    mask = cand["candidate"].to_numpy().copy()
    if districts is not None:
        mask &= np.isin(index.district.astype(str), list(districts))
    codes = np.flatnonzero(mask)
    if codes.size == 0:
        return pd.DataFrame({c: [] for c in [*PLACE_COLUMNS, "codes"]})
    weight = cand["count_last"].to_numpy().astype(float)
    hist_counts = dosage.complaint_counts(model.complaint_cube, index, quarters=list(history))
    weight = weight + 1e-3 * hist_counts  # ties: the longer record first
    sub = index.neighbours[codes][:, codes].tocsr()
    same = index.district[codes][:, None] == index.district[codes][None, :]
    sub = sub.multiply(sp.csr_matrix(same)).tocsr()
    n_comp, labels = connected_components(sub, directed=False)
    local_adj = sub
    cap = _max_cells(index.resolution, max_area_km2)
    groups: list[list[int]] = []
    for comp in range(n_comp):
        members = np.flatnonzero(labels == comp)
        for g in _split(members, local_adj, weight[codes], cap):
            groups.append([int(codes[i]) for i in g])
    names = dict(zip(model.districts["district_id"].astype(str), model.districts["name"].astype(str),
                     strict=False))
    streets = _streets(model, complaints, history)
    areas = _focus_areas(focus_areas)
    cat_cube = dosage.complaint_category_counts(model.complaint_cube, index, quarters=list(history[-4:]))
    area_km2 = h3.average_hexagon_area(index.resolution, "km^2")
    rows = []
    for g in groups:
        top = max(g, key=lambda c: (weight[c], -c))
        did = str(index.district[top])
        sel = cat_cube[cat_cube["cell"].isin(g)]
        by_cat = sel.groupby("category", observed=True)["count"].sum()
        by_cat = by_cat.sort_values(ascending=False, kind="stable")
        cats = [str(c) for c in by_cat.index[:3]]
        em = [str(cand["emerging"].iat[c]) for c in g if cand["emerging"].iat[c] in PLAN_CLASSES]
        hot = [str(cand["hot"].iat[c]) for c in g if cand["hot"].iat[c] != "none"]
        rows.append({
            "district_id": did, "district": names.get(did, did), "cells": [str(index.cells[c]) for c in g],
            "codes": g, "lat": float(np.mean(index.lat[g])), "lon": float(np.mean(index.lon[g])),
            "area_km2": round(len(g) * area_km2, 3),
            "hot": max(hot) if hot else "none",  # hot99 > hot95 as strings
            "emerging": _strongest(em), "categories": cats,
            "complaints_last_quarter": int(cand["count_last"].to_numpy()[g].sum()),
            "_label": _label(top, g, index, areas, streets),
            "_top": top,
        })
    places = pd.DataFrame(rows)
    places = places.sort_values(["district_id", "complaints_last_quarter", "_top"],
                                ascending=[True, False, True], kind="stable").reset_index(drop=True)
    places["name"] = _unique_names([f"{d} – {lab}" for d, lab in zip(places["district"], places["_label"],
                                                                    strict=True)])
    places["place_id"] = [f"P{i + 1:03d}" for i in range(len(places))]
    places["expected_week"] = 0.0
    return places[[*PLACE_COLUMNS, "codes"]]


def _strongest(classes: list[str]) -> str:
    for c in ("intensifying", "new", "consecutive", "persistent", "sporadic"):
        if c in classes:
            return c
    return "none"


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _streets(model: SpatialModel, complaints: pd.DataFrame | None, history: Sequence[int]
             ) -> dict[int, str]:
    """Most frequent street per cell (complaints of the history with an address)."""
    if complaints is None or "address" not in complaints.columns or complaints.empty:
        return {}
    c = complaints
    if "quarter" in c.columns:
        c = c[c["quarter"].isin(list(history))]
    streets = c["address"].map(street_of)
    ok = streets.notna().to_numpy()
    if not ok.any():
        return {}
    codes = cell_codes(model.index, c["lat"].to_numpy()[ok], c["lon"].to_numpy()[ok])
    frame = pd.DataFrame({"cell": codes, "street": streets.to_numpy()[ok]})
    frame = frame[frame["cell"] >= 0]
    counts = frame.groupby(["cell", "street"]).size().reset_index(name="n")
    counts = counts.sort_values(["cell", "n", "street"], ascending=[True, False, True], kind="stable")
    return {int(r.cell): str(r.street) for r in counts.drop_duplicates("cell").itertuples()}


def _focus_areas(areas: pd.DataFrame | None) -> list[tuple[str, object]]:
    if areas is None or areas.empty or "geometry" not in areas.columns:
        return []
    return [(str(n), g) for n, g in zip(areas["name"], areas["geometry"], strict=True) if g is not None]


def _label(top: int, group: list[int], index, areas, streets: dict[int, str]) -> str:
    point = shapely.Point(float(index.lon[top]), float(index.lat[top]))
    for name, geom in areas:
        if geom.covers(point):
            return name
    votes: dict[str, int] = {}
    for c in group:
        s = streets.get(c)
        if s:
            votes[s] = votes.get(s, 0) + (3 if c == top else 1)
    if votes:
        return sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return f"Zelle {str(index.cells[top])[:10]}"


# --- demand and presence -------------------------------------------------------------------------------

def _place_of_cell(n_cells: int, places: pd.DataFrame) -> np.ndarray:
    out = np.full(n_cells + 1, -1, dtype=np.int64)  # last slot: cell code -1
    for p, codes in enumerate(places["codes"]):
        out[np.asarray(codes, dtype=np.int64)] = p
    return out


def hourly_demand(model: SpatialModel, places: pd.DataFrame, history: Sequence[int],
                  demand_quarters: int = 4) -> np.ndarray:
    """Expected complaints per day as a (places, 7, 24) array (weighted mean of recent quarters)."""
    quarters = list(history)[-demand_quarters:]
    n_p = len(places)
    out = np.zeros((n_p, 7, 24))
    if n_p == 0 or not quarters:
        return out
    cube = model.complaint_cube
    owner = _place_of_cell(len(model.index.cells), places)
    p = owner[cube["cell"].to_numpy().astype(np.int64)]
    q = cube["quarter"].to_numpy()
    weights = np.array([DEMAND_DECAY ** (len(quarters) - 1 - k) for k in range(len(quarters))])
    weights /= weights.sum()
    for k, quarter in enumerate(quarters):
        sel = (p >= 0) & (q == quarter)
        key = p[sel] * 168 + cube["weekday"].to_numpy()[sel].astype(np.int64) * 24 + \
            cube["hour"].to_numpy()[sel].astype(np.int64)
        counts = np.bincount(key, weights=cube["count"].to_numpy()[sel], minlength=n_p * 168)
        per_day = counts.reshape(n_p, 7, 24) / np.maximum(quarter_weekday_counts(quarter), 1)[None, :, None]
        out += weights[k] * per_day
    return out


def hourly_presence(model: SpatialModel, places: pd.DataFrame, quarter: int,
                    kinds: Sequence[str] | None = None) -> np.ndarray:
    """Patrol minutes per day as a (places, 7, 24) array in ``quarter`` (all kinds by default)."""
    n_p = len(places)
    if n_p == 0:
        return np.zeros((0, 7, 24))
    return _presence_hours(model, places, [quarter], kinds) / \
        np.maximum(quarter_weekday_counts(quarter), 1)[None, :, None]


def _presence_hours(model: SpatialModel, places: pd.DataFrame, quarters: Sequence[int],
                    kinds: Sequence[str] | None) -> np.ndarray:
    """Total patrol minutes (places, 7, 24) over ``quarters``."""
    n_p = len(places)
    cube = model.presence_cube
    owner = _place_of_cell(len(model.index.cells), places)
    p = owner[cube["cell"].to_numpy().astype(np.int64)]
    sel = (p >= 0) & np.isin(cube["quarter"].to_numpy(), list(quarters))
    if kinds is not None:
        sel &= cube["kind"].astype(str).isin(list(kinds)).to_numpy()
    key = p[sel] * 168 + cube["weekday"].to_numpy()[sel].astype(np.int64) * 24 + \
        cube["hour"].to_numpy()[sel].astype(np.int64)
    secs = np.bincount(key, weights=cube["seconds"].to_numpy()[sel], minlength=n_p * 168)
    return secs.reshape(n_p, 7, 24) / 60.0


def by_window(hourly: np.ndarray, windows: list[tuple[int, int, bool]]) -> np.ndarray:
    """Sum an hourly (places, 7, 24) array into (places, 7, windows)."""
    return np.stack([hourly[:, :, _hours_of(w)].sum(axis=2) for w in windows], axis=2) if windows else \
        np.zeros((*hourly.shape[:2], 0))


def unsafe_windows(model: SpatialModel, places: pd.DataFrame, incidents: pd.DataFrame | None,
                   quarters: Sequence[int], windows: list[tuple[int, int, bool]]) -> np.ndarray:
    """(places, windows) counts of staff incidents in ``quarters`` in the place, by time of day."""
    out = np.zeros((len(places), len(windows)), dtype=np.int64)
    if incidents is None or incidents.empty or len(places) == 0:
        return out
    inc = incidents
    q, _, hour = dosage.time_parts(inc["occurred_at"])
    keep = np.isin(q, list(quarters))
    if not keep.any():
        return out
    codes = cell_codes(model.index, inc["lat"].to_numpy()[keep], inc["lon"].to_numpy()[keep])
    owner = _place_of_cell(len(model.index.cells), places)[codes.astype(np.int64)]
    hours = hour[keep]
    win_of_hour = np.zeros(24, dtype=np.int64)
    for k, w in enumerate(windows):
        win_of_hour[_hours_of(w)] = k
    for p, h in zip(owner, hours, strict=True):
        if p >= 0:
            out[p, win_of_hour[h]] += 1
    return out


# --- resources -----------------------------------------------------------------------------------------

def default_resources(model: SpatialModel, history: Sequence[int], districts: Sequence[str],
                      staff: int = 2, flex_hours: float = 0.0) -> Resources:
    """Each team's delivered KOD and joint patrol hours of the last quarter, per week, times staff."""
    if not history:
        return Resources({d: 0.0 for d in districts}, {d: 0.0 for d in districts}, flex_hours)
    last = history[-1]
    weeks = quarter_weekday_counts(last).sum() / 7.0
    table = dosage.district_presence(model.presence_cube, model.index, model.districts, quarters=[last],
                                     kinds=["kod", "joint"])
    table = table.set_index(table["district_id"].astype(str))
    kod, joint = {}, {}
    for d in districts:
        k = float(table["hours_kod"].get(d, 0.0)) if d in table.index else 0.0
        j = float(table["hours_joint"].get(d, 0.0)) if d in table.index else 0.0
        kod[d] = round(k / weeks * staff * 2) / 2  # half hours
        joint[d] = round(j / weeks * staff * 2) / 2
    return Resources(kod, joint, flex_hours)


# --- the plan --------------------------------------------------------------------------------------------

@dataclass
class Plan:
    settings: PlanSettings
    resources: Resources
    places: pd.DataFrame
    visits: pd.DataFrame
    windows: list[tuple[int, int, bool]]
    budgets: dict[str, dict[str, float]]
    used: dict[str, dict[str, float]]
    objective: float
    bound: float
    gap: float
    solve_s: float
    status: str
    coverage_plan: float
    coverage_last_quarter: float
    history: list[int]
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)  # left out for safety, with reason
    notes: list[str] = field(default_factory=list)
    resolution: int = 9

    @property
    def empty(self) -> bool:
        return self.visits.empty


def _solve(demand: np.ndarray, district_of: np.ndarray, allowed: np.ndarray, cost: float,
           kod_budget: np.ndarray, joint_budget: np.ndarray, flex_budget: float
           ) -> tuple[np.ndarray, float, float, float, str]:
    """Choose slots and kinds. ``demand`` (S,), ``district_of`` (S,) team index, ``allowed``
    (S, 3) kinds per slot. Returns (kind per slot, -1 = none), objective, bound, gap, status."""
    s_idx, k_idx = np.nonzero(allowed & (demand[:, None] > 0))
    kinds = np.full(len(demand), -1, dtype=np.int64)
    if s_idx.size == 0:
        return kinds, 0.0, 0.0, 0.0, "empty"
    n_var = s_idx.size
    c = -demand[s_idx]
    rows, cols, ub = [], [], []
    # at most one visit per place-window
    slot_rows = pd.factorize(s_idx)[0]
    n_slot = slot_rows.max() + 1
    rows.append(slot_rows)
    cols.append(np.arange(n_var))
    ub.append(np.ones(n_slot))
    base = n_slot
    n_d = len(kod_budget)
    for kind, budget in ((0, kod_budget), (1, joint_budget)):
        sel = np.flatnonzero(k_idx == kind)
        rows.append(base + district_of[s_idx[sel]])
        cols.append(sel)
        ub.append(np.asarray(budget, dtype=float) / cost)
        base += n_d
    sel = np.flatnonzero(k_idx == 2)
    rows.append(np.full(sel.size, base))
    cols.append(sel)
    ub.append(np.array([flex_budget / cost]))
    base += 1
    a = sp.csr_matrix((np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(base, n_var))
    upper = np.concatenate(ub)
    upper = np.floor(upper + 1e-9)  # counts of visits: integral right-hand sides
    res = milp(c, constraints=LinearConstraint(a, -np.inf, upper), integrality=np.ones(n_var),
               bounds=Bounds(0, 1),
               options={"time_limit": SOLVER_TIME_LIMIT_S, "mip_rel_gap": 0.0, "disp": False,
                        "presolve": True})
    if res.x is None:
        raise PlanError(f"the solver found no plan: {res.message}")
    x = np.rint(res.x).astype(bool)
    kinds[s_idx[x]] = k_idx[x]
    objective = float(demand[s_idx[x]].sum())
    bound = -float(res.mip_dual_bound) if res.mip_dual_bound is not None and np.isfinite(
        res.mip_dual_bound) else objective
    if bound - objective <= 1e-9 * max(1.0, abs(objective)):  # equal up to rounding
        bound = objective
    bound = max(bound, objective)
    gap = (bound - objective) / max(abs(objective), 1e-12) if bound > objective else 0.0
    status = "optimal" if res.status == 0 else ("time_limit" if res.status == 1 else str(res.message))
    return kinds, objective, bound, gap, status


def make_plan(model: SpatialModel, settings: PlanSettings, resources: Resources | None = None, *,
              available: Sequence[int], complaints: pd.DataFrame | None = None,
              focus_areas: pd.DataFrame | None = None, incidents: pd.DataFrame | None = None,
              places: pd.DataFrame | None = None) -> Plan:
    """The weekly patrol plan (see the module docstring). Raises :class:`PlanError` when no
    plan is possible (no quarter of data before the start, no candidate places)."""
    history = history_quarters(available, settings.start)
    if not history:
        raise PlanError(f"no complete quarter of data ends before the plan start {settings.start}")
    all_districts = [str(d) for d in model.districts["district_id"]]
    districts = list(settings.districts) if settings.districts is not None else all_districts
    unknown = [d for d in districts if d not in all_districts]
    if unknown:
        raise ValueError(f"unknown district(s) {unknown!r}; known: {all_districts!r}")
    if places is None:
        places = find_places(model, history, complaints=complaints, focus_areas=focus_areas,
                             districts=districts, confidence=settings.confidence,
                             max_area_km2=settings.max_area_km2)
    if places.empty:
        raise PlanError("no candidate places: no cell of the selected districts is a hot spot "
                        f"(>= {settings.confidence:.0%}) in the last quarter or emerging")
    if resources is None:
        resources = default_resources(model, history, districts, settings.staff)
    windows = day_windows(settings.service_start, settings.service_end, settings.window_hours)
    demand = by_window(hourly_demand(model, places, history, settings.demand_quarters), windows)
    presence = by_window(hourly_presence(model, places, history[-1]), windows)
    n_p, _, n_w = demand.shape
    places = places.copy()
    places["expected_week"] = demand.sum(axis=(1, 2)).round(3)
    unsafe = unsafe_windows(model, places, incidents, history[-2:], windows)

    day_ok = np.zeros(7, dtype=bool)
    day_ok[list(settings.service_days)] = True
    win_ok = np.array([w[2] for w in windows])
    slot_ok = day_ok[None, :, None] & win_ok[None, None, :] & np.ones((n_p, 1, 1), dtype=bool)
    team = {d: i for i, d in enumerate(districts)}
    district_of_place = np.array([team[d] for d in places["district_id"]], dtype=np.int64)
    allowed = np.ones((n_p, 7, n_w, 3), dtype=bool)
    risky = (unsafe > 0)[:, None, :] & slot_ok
    allowed[risky] = [False, settings.safety == "joint", False]
    allowed &= slot_ok[..., None]
    kod_b = np.array([60.0 * resources.kod_hours.get(d, 0.0) for d in districts])
    joint_b = np.array([60.0 * resources.joint_hours.get(d, 0.0) for d in districts])
    flex_b = 60.0 * resources.flex_hours
    flat_demand = demand.reshape(-1)
    flat_district = np.repeat(district_of_place, 7 * n_w)
    t0 = time.perf_counter()
    kinds, objective, bound, gap, status = _solve(flat_demand, flat_district, allowed.reshape(-1, 3),
                                                  float(settings.visit_cost), kod_b, joint_b, flex_b)
    solve_s = time.perf_counter() - t0
    chosen = np.flatnonzero(kinds >= 0)
    p_i, d_i, w_i = np.unravel_index(chosen, (n_p, 7, n_w))
    visits = pd.DataFrame({
        "place_id": places["place_id"].to_numpy()[p_i],
        "district_id": places["district_id"].to_numpy()[p_i],
        "weekday": d_i.astype(int),
        "window_start": [hhmm(windows[w][0]) for w in w_i],
        "window_end": [hhmm(windows[w][1]) if windows[w][1] != 24 else "24:00" for w in w_i],
        "minutes": settings.visit_minutes,
        "kind": [KINDS[k] for k in kinds[chosen]],
        "expected_complaints": np.round(flat_demand[chosen], 4),
        "safety": unsafe[p_i, w_i] > 0,
        "presence_last_quarter": np.round(presence[p_i, d_i, w_i], 1),
        "_w": w_i, "_team": district_of_place[p_i],
    })
    visits = _order_visits(visits, settings.seed)
    cost = settings.visit_cost
    budgets = {d: {"kod": float(kod_b[i]), "joint": float(joint_b[i]), "flex": 0.0} for i, d in
               enumerate(districts)}
    budgets["*"] = {"kod": 0.0, "joint": 0.0, "flex": float(flex_b)}
    used = {d: {k: float(cost * ((visits["district_id"] == d) & (visits["kind"] == k)).sum()) for k in KINDS}
            for d in districts}
    total = float(demand.sum())
    covered_last = presence >= settings.visit_minutes
    coverage_plan = objective / total if total > 0 else 0.0
    coverage_last = float(demand[covered_last].sum()) / total if total > 0 else 0.0
    excluded_rows = []
    if settings.safety == "omit":
        for p, w in zip(*np.nonzero(unsafe > 0), strict=True):
            if windows[w][2]:
                excluded_rows.append({"place_id": places["place_id"].iat[p], "window":
                                      window_label(windows[w][0], windows[w][1]),
                                      "incidents": int(unsafe[p, w]), "reason": "staff_safety"})
    notes = []
    if len(history) < MIN_QUARTERS:
        notes.append(f"only {len(history)} quarter(s) of history: emerging classes need {MIN_QUARTERS}; "
                     "places are last quarter's hot spots only")
    return Plan(settings=settings, resources=resources, places=places, visits=visits, windows=windows,
                budgets=budgets, used=used, objective=objective, bound=bound, gap=gap, solve_s=solve_s,
                status=status, coverage_plan=coverage_plan, coverage_last_quarter=coverage_last,
                history=list(history), excluded=pd.DataFrame(excluded_rows), notes=notes,
                resolution=model.index.resolution)


def _order_visits(visits: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Random order within each shift (team, weekday, window), drawn from ``seed``."""
    visits = visits.sort_values(["_team", "weekday", "_w", "place_id"], kind="stable").reset_index(drop=True)
    order = np.zeros(len(visits), dtype=np.int64)
    for (team, day, w), rows in visits.groupby(["_team", "weekday", "_w"], sort=True).indices.items():
        rng = np.random.default_rng([seed, int(team), int(day), int(w)])
        order[rows] = rng.permutation(len(rows)) + 1
    visits["order"] = order
    visits = visits.sort_values(["_team", "weekday", "_w", "order"], kind="stable").reset_index(drop=True)
    return visits.drop(columns=["_w", "_team"])[VISIT_COLUMNS]


# --- documents (JSON) ------------------------------------------------------------------------------------

def plan_document(plan: Plan, name: str, dataset: str | None = None) -> dict:
    """A JSON-ready document of the plan (what is saved and shipped); no timings."""
    places = plan.places.drop(columns=["codes"], errors="ignore")
    return {
        "format": FORMAT,
        "kind": "lagebild-plan",
        "name": str(name),
        "dataset": dataset,
        "resolution": plan.resolution,
        "settings": plan.settings.to_dict(),
        "resources": plan.resources.to_dict(),
        "history": [int(q) for q in plan.history],
        "windows": [[int(a), int(b), bool(s)] for a, b, s in plan.windows],
        "places": _records(places),
        "visits": _records(plan.visits),
        "excluded": _records(plan.excluded),
        "budgets": plan.budgets,
        "used": plan.used,
        "solver": {"objective": round(plan.objective, 6), "bound": round(plan.bound, 6),
                   "gap": round(plan.gap, 9), "status": plan.status},
        "coverage_plan": round(plan.coverage_plan, 6),
        "coverage_last_quarter": round(plan.coverage_last_quarter, 6),
        "notes": list(plan.notes),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(v: object) -> object:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return round(float(v), 6)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    return v


def plan_from_document(doc: dict) -> Plan:
    """A :class:`Plan` from :func:`plan_document` output (timings are not kept: ``solve_s`` 0)."""
    if not isinstance(doc, dict) or doc.get("kind") != "lagebild-plan":
        raise ValueError(f"not a Lagebild plan document, got {str(doc)[:80]!r}")
    places = pd.DataFrame(doc.get("places") or [], columns=PLACE_COLUMNS)
    visits = pd.DataFrame(doc.get("visits") or [], columns=VISIT_COLUMNS)
    solver = doc.get("solver", {})
    return Plan(settings=PlanSettings.from_dict(doc["settings"]),
                resources=Resources.from_dict(doc["resources"]),
                places=places, visits=visits, windows=[(a, b, bool(s)) for a, b, s in doc.get("windows", [])],
                budgets=doc.get("budgets", {}), used=doc.get("used", {}),
                objective=float(solver.get("objective", 0.0)), bound=float(solver.get("bound", 0.0)),
                gap=float(solver.get("gap", 0.0)), solve_s=0.0, status=str(solver.get("status", "")),
                coverage_plan=float(doc.get("coverage_plan", 0.0)),
                coverage_last_quarter=float(doc.get("coverage_last_quarter", 0.0)),
                history=[int(q) for q in doc.get("history", [])],
                excluded=pd.DataFrame(doc.get("excluded") or []), notes=list(doc.get("notes", [])),
                resolution=int(doc.get("resolution", 9)))


def with_codes(places: pd.DataFrame, model: SpatialModel) -> pd.DataFrame:
    """Places with ``codes`` (cell codes in ``model``; cells outside its area dropped)."""
    out = places.copy()
    pos = model.index.position
    out["codes"] = [[int(pos[c]) for c in cells if c in pos] for cells in out["cells"]]
    return out


__all__ = ["KINDS", "Plan", "PlanError", "PlanSettings", "Resources", "default_resources", "find_places",
           "make_plan", "plan_document", "plan_from_document", "replace"]
