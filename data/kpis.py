"""KPIs, trend signals and "what changed" (design.md sections 3 and 4).

Trend signal between a current count c and a previous count p of equal-length periods:
``z = 2 (sqrt(c) - sqrt(p))`` (the variance-stabilised difference of two Poisson counts).
|z| >= 2 is a signal, |z| >= 3 a strong one. The signal is only given for
counts: complaints, complaints per 1,000 inhabitants (on the complaint count: the population
is the same in both periods), open complaints and staff incidents. Patrol hours and the
joint-patrol share are not counts; they are compared by percent change without a signal.
Percent change is only given when the previous value (for the share: the previous joint
hours) is at least :data:`MIN_COUNT_FOR_PERCENT`: for small counts it says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.filters import Filters, complaint_mask, count, incident_mask

STRONG = 3.0
# "Open complaints" of a period: received in it and not closed by its end (``closed_quarter``,
# see data.folder.closed_quarters), so the current and the previous period are judged alike.
SIGNAL = 2.0
MIN_COUNT_FOR_PERCENT = 20


def trend_z(current: float | np.ndarray, previous: float | np.ndarray) -> float | np.ndarray:
    """``2 (sqrt(c) - sqrt(p))``; counts must not be negative."""
    c = np.asarray(current, dtype=float)
    p = np.asarray(previous, dtype=float)
    if (c < 0).any() or (p < 0).any():
        raise ValueError(f"counts must not be negative, got current={current!r}, previous={previous!r}")
    z = 2.0 * (np.sqrt(c) - np.sqrt(p))
    return float(z) if z.ndim == 0 else z


def signal(z: float | None) -> str:
    """``strong_up``, ``up``, ``none``, ``down`` or ``strong_down`` (``none`` for None/NaN)."""
    if z is None or np.isnan(z):
        return "none"
    if z >= STRONG:
        return "strong_up"
    if z >= SIGNAL:
        return "up"
    if z <= -STRONG:
        return "strong_down"
    if z <= -SIGNAL:
        return "down"
    return "none"


@dataclass(frozen=True)
class Kpi:
    key: str
    current: float
    previous: float | None = None
    z: float | None = None
    basis_previous: float | None = None  # the count the signal is taken on (previous)

    @property
    def signal(self) -> str:
        return signal(self.z)

    @property
    def pct_change(self) -> float | None:
        """Relative change, only when the previous basis count is large enough."""
        if self.previous is None or self.basis_previous is None:
            return None
        if not self.basis_previous >= MIN_COUNT_FOR_PERCENT or self.previous == 0:
            return None  # (also NaN: a suppressed count)
        if np.isnan(self.current) or np.isnan(self.previous):
            return None
        return (self.current - self.previous) / self.previous


def _kpi(key: str, cur: float, prev: float | None, basis_cur: float, basis_prev: float | None) -> Kpi:
    if prev is None or basis_prev is None:
        return Kpi(key, cur)
    return Kpi(key, cur, prev, trend_z(basis_cur, basis_prev), basis_prev)


def population(districts: pd.DataFrame, f: Filters) -> float | None:
    """Inhabitants of the selected districts (None when any lacks a population)."""
    sel = districts if not f.districts else districts[districts["district_id"].isin(f.districts)]
    pop = sel["population"]
    if pop.isna().any() or pop.empty:
        return None
    return float(pop.sum())


def overview_kpis(
    complaints: pd.DataFrame,
    incidents: pd.DataFrame,
    districts: pd.DataFrame,
    f: Filters,
    hours_now: Mapping[str, float],
    hours_prev: Mapping[str, float] | None,
    has_previous: bool,
    publisher=None,
) -> list[Kpi]:
    """The six KPI tiles of the Übersicht for the filtered period vs the previous one.

    ``hours_now``/``hours_prev`` are patrol hours by kind (kod, joint, police) under the
    same filters; ``has_previous`` says whether the data covers the previous period.
    ``publisher`` (:class:`data.privacy.Publisher`): complaint and incident counts as published
    to a viewer (NaN: suppressed); rates, changes and z signals are computed from them.
    """
    prev_f = f.previous()
    cur_mask = complaint_mask(complaints, f)
    prev_mask = complaint_mask(complaints, prev_f) if has_previous else None
    n_cur = count(complaints, cur_mask, publisher=publisher)
    n_prev = count(complaints, prev_mask, publisher=publisher) if prev_mask is not None else None
    pop = population(districts, f)

    def per_1000(n: float | None) -> float | None:
        return None if n is None or not pop else n / pop * 1000

    closed_q = complaints["closed_quarter"].to_numpy()
    open_cur = count(complaints, cur_mask & (closed_q > f.q_to), publisher=publisher)
    open_prev = (count(complaints, prev_mask & (closed_q > prev_f.q_to), publisher=publisher)
                 if prev_mask is not None else None)
    inc_cur = incident_count(incidents, incident_mask(incidents, f), publisher)
    inc_prev = (incident_count(incidents, incident_mask(incidents, prev_f), publisher)
                if has_previous else None)
    h_cur = float(sum(hours_now.values()))
    h_prev = float(sum(hours_prev.values())) if hours_prev is not None else None
    j_cur = float(hours_now.get("joint", 0.0))
    j_prev = float(hours_prev.get("joint", 0.0)) if hours_prev is not None else None
    share_cur = j_cur / h_cur if h_cur else 0.0
    share_prev = (j_prev / h_prev if h_prev else 0.0) if hours_prev is not None else None
    kpis = [
        _kpi("complaints", n_cur, n_prev, n_cur, n_prev),
        _kpi("per_1000", per_1000(n_cur) or 0.0, per_1000(n_prev), n_cur, n_prev)
        if pop else Kpi("per_1000", float("nan")),
        # Hours and shares are not Poisson counts: compared, but without a z signal.
        Kpi("patrol_hours", h_cur, h_prev, None, h_prev),
        Kpi("joint_share", share_cur, share_prev, None, j_prev),
        _kpi("open_complaints", open_cur, open_prev, open_cur, open_prev),
        _kpi("staff_incidents", inc_cur, inc_prev, inc_cur, inc_prev),
    ]
    return kpis


def incident_count(incidents: pd.DataFrame, mask: np.ndarray, publisher=None) -> float:
    """How many staff incidents ``mask`` selects (published when there is a publisher)."""
    n = float(mask.sum())
    if publisher is None:
        return n
    return publisher.one(n, float(publisher.keys_of(incidents, "incident_id")[mask].sum()))


def compare_counts(current: pd.Series, previous: pd.Series, absent: float = 0.0) -> pd.DataFrame:
    """Counts per key in two periods with z and signal, sorted by |z| (largest first).

    ``absent``: the count of a key missing in one period (0; NaN for published counts, where
    a missing key must look like a suppressed one)."""
    keys = current.index.union(previous.index)
    out = pd.DataFrame({
        "current": current.reindex(keys, fill_value=absent).astype(float),
        "previous": previous.reindex(keys, fill_value=absent).astype(float),
    })
    out["z"] = trend_z(out["current"].to_numpy(), out["previous"].to_numpy())
    out["signal"] = [signal(z) for z in out["z"]]
    out = out.reindex(out["z"].abs().sort_values(ascending=False, kind="stable").index)
    out.index.name = "key"
    return out.reset_index()


def what_changed(complaints: pd.DataFrame, f: Filters, by: str) -> pd.DataFrame:
    """Districts or categories (``by`` = ``district_id``/``category``) with |z| >= 2."""
    if by not in ("district_id", "category"):
        raise ValueError(f"by must be 'district_id' or 'category', got {by!r}")
    cur = count(complaints, complaint_mask(complaints, f), by)
    prev = count(complaints, complaint_mask(complaints, f.previous()), by)
    table = compare_counts(cur, prev)
    return table[table["z"].abs() >= SIGNAL].reset_index(drop=True)
