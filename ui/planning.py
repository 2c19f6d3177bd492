"""Cached edges of the Planung page: plans, saved plans and their Wirkung.

Each cached function takes every input as a parameter (``sig`` identifies the data and what
the principal may see); the computation is :mod:`geo.planning` / :mod:`geo.wirkung`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.folder import DataBundle
from data.plans import DEMO_PLANS, PlanArchive, SavedPlan, visible_part
from data.roles import Principal
from data.store import Store
from geo import model as geo_model
from geo.planning import (
    Plan,
    PlanSettings,
    Resources,
    default_resources,
    history_quarters,
    make_plan,
    plan_from_document,
)
from geo.wirkung import Effect, effect


@st.cache_resource(show_spinner=False, max_entries=16)
def plan(
    sig: str,
    settings: PlanSettings,
    resources_key: tuple,
    _bundle: DataBundle,
    _model: geo_model.SpatialModel,
) -> Plan:
    """The plan for ``settings`` and the resources in ``resources_key`` (hashable form)."""
    del sig
    kod, joint, flex = resources_key
    res = Resources(dict(kod), dict(joint), flex)
    return make_plan(
        _model,
        settings,
        res,
        available=_bundle.quarters(),
        complaints=_bundle["complaints"],
        focus_areas=_bundle["focus_areas"],
        incidents=_bundle["staff_incidents"],
    )


@st.cache_resource(show_spinner=False, max_entries=16)
def defaults(
    sig: str,
    start,
    districts: tuple[str, ...],
    staff: int,
    _bundle: DataBundle,
    _model: geo_model.SpatialModel,
) -> Resources:
    del sig
    return default_resources(_model, history_quarters(_bundle.quarters(), start), list(districts), staff)


def button(label: str, key: str, **kwargs: object) -> bool:
    """A button whose click survives a rerun of the run it started (a session flag set by its
    callback, as on the Daten page), so a click is never lost."""
    flag = f"_{key}_clicked"
    st.button(label, key=key, on_click=st.session_state.__setitem__, args=(flag, True), **kwargs)
    return bool(st.session_state.pop(flag, False))


def resources_key(r: Resources) -> tuple:
    return (tuple(sorted(r.kod_hours.items())), tuple(sorted(r.joint_hours.items())), float(r.flex_hours))


def archives(demo: bool) -> list[PlanArchive]:
    """Where saved plans are: the store's plans area, and the shipped demo plans on the demo."""
    out = [Store().plans()]
    if demo:
        out.append(PlanArchive(DEMO_PLANS, read_only=True))
    return out


def saved_plans(demo: bool, principal: Principal, dataset: str | None = None
                ) -> list[tuple[PlanArchive, SavedPlan]]:
    """Saved plans of this data set (by its name; plans without one always) that the
    principal may see (some district of the plan is theirs)."""
    out = []
    for archive in archives(demo):
        for s in archive.list():
            if dataset and s.dataset and s.dataset != dataset:
                continue
            if principal.districts is None or set(s.districts) & set(principal.districts):
                out.append((archive, s))
    return out


def open_plan(archive: PlanArchive, plan_id: str, version: int, principal: Principal) -> Plan | None:
    record = archive.load(plan_id, version)
    doc = visible_part(record["plan"], principal.districts)
    return None if doc is None else plan_from_document(doc)


@st.cache_resource(show_spinner=False, max_entries=16)
def wirkung(sig: str, key: str, _plan: Plan, _bundle: DataBundle, _model: geo_model.SpatialModel) -> Effect:
    del sig, key
    return effect(_model, _plan, _bundle.quarters())


def history_frame(archive: PlanArchive, plan_id: str) -> pd.DataFrame:
    rows = []
    for v in archive.versions(plan_id):
        rec = archive.load(plan_id, v)
        rows.append({"version": v, "saved_at": rec.get("saved_at"), "saved_by": rec.get("saved_by")})
    return pd.DataFrame(rows)
