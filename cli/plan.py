"""``python -m data plan DIR --start YYYY-MM-DD --weeks N [...]``: the weekly patrol plan.

Exit codes: 0 with a plan (also an empty one, e.g. with zero hours), 1 when no plan is
possible (invalid data, no quarter before the start, no candidate places: the reason is
printed), 2 on usage errors. With ``--json`` the last line is one JSON object with
``places``, ``visits``, ``budgets``, ``used`` (person-minutes per district and kind; ``*``
is the city-wide flex pool), ``objective``, ``bound``, ``gap``, ``solve_s``,
``coverage_plan`` and ``coverage_last_quarter``.

Why here: the planning needs cells and hot spots (``geo``), while ``python -m data`` is the
data package's entry point. Only :mod:`data.__main__` imports this module (registering the
``plan`` subcommand), and that single upward import is declared in the import-linter
contract (``ignore_imports`` in pyproject.toml); nothing else in ``data`` knows ``geo``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from data.contracts import TZ
from data.folder import DataFolderError, load_folder
from data.plans import PlanArchive, plan_id_of
from geo import model as geo_model
from geo.planning import (
    PlanError,
    PlanSettings,
    default_resources,
    history_quarters,
    make_plan,
    plan_document,
)

WEEKDAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, got {text!r}") from None


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of hours, got {text!r}") from None
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must lie in 0..10000, got {text!r}")
    return value


def _int(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must lie in {lo}..{hi}, got {text!r}")
        return value
    return parse


def configure_plan(p: argparse.ArgumentParser) -> None:
    """compute a weekly patrol plan for a data folder"""
    p.add_argument("folder", help="data folder (e.g. data/demo)")
    p.add_argument("--start", type=_date, required=True, help="first day of the plan, YYYY-MM-DD")
    p.add_argument("--weeks", type=_int(1, 53), required=True, help="number of weeks")
    p.add_argument("--districts", default=None, help="comma-separated district ids (default: all)")
    p.add_argument("--kod-hours-per-week", type=_hours, default=None,
                   help="KOD person-hours per team and week (default: the team's delivered KOD hours "
                        "last quarter times staff)")
    p.add_argument("--joint-hours-per-week", type=_hours, default=None,
                   help="joint-patrol person-hours per team and week (default: delivered last quarter)")
    p.add_argument("--flex-hours-per-week", type=_hours, default=0.0,
                   help="city-wide flexible pool, person-hours per week (default 0)")
    p.add_argument("--visit-minutes", type=_int(10, 20), default=15)
    p.add_argument("--travel-minutes", type=_int(0, 120), default=5)
    p.add_argument("--staff", type=_int(1, 10), default=2, help="staff per patrol")
    p.add_argument("--safety", choices=["joint", "omit"], default="joint",
                   help="windows with staff incidents: joint patrols only, or left out")
    p.add_argument("--seed", type=_int(0, 2**32 - 1), default=0)
    p.add_argument("--resolution", type=_int(8, 10), default=9)
    p.add_argument("--name", default=None, help="name of the plan (with --out)")
    p.add_argument("--out", default=None, help="also write the plan document (JSON) to this file")
    p.add_argument("--ship", default=None, metavar="DIR",
                   help="write the plan as version 1 into the plans folder DIR, saved a week before "
                        "its start (reproducible; `make demo` ships data/demo_plans this way)")
    p.add_argument("--json", action="store_true", help="end with one JSON line")


def cli_json(plan) -> dict:
    """The JSON object of ``--json`` (exactly the fields of the command's contract)."""
    places = [{"place_id": r.place_id, "district_id": r.district_id, "name": r.name, "cells": list(r.cells),
               "lat": round(float(r.lat), 6), "lon": round(float(r.lon), 6)}
              for r in plan.places.itertuples(index=False)]
    visits = [{"place_id": r.place_id, "district_id": r.district_id, "weekday": int(r.weekday),
               "window_start": r.window_start, "window_end": r.window_end, "minutes": int(r.minutes),
               "kind": r.kind, "expected_complaints": round(float(r.expected_complaints), 4)}
              for r in plan.visits.itertuples(index=False)]
    return {"places": places, "visits": visits, "budgets": plan.budgets, "used": plan.used,
            "objective": round(plan.objective, 4), "bound": round(plan.bound, 4), "gap": plan.gap,
            "solve_s": round(plan.solve_s, 3), "coverage_plan": round(plan.coverage_plan, 4),
            "coverage_last_quarter": round(plan.coverage_last_quarter, 4)}


def _fail(message: str, as_json: bool) -> int:
    print(f"no plan: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))
    return 1


def run_plan(args: argparse.Namespace) -> int:
    try:
        bundle = load_folder(Path(args.folder))
    except (DataFolderError, FileNotFoundError, OSError, ValueError) as exc:
        return _fail(f"cannot read the data folder {args.folder!r}: {exc}", args.json)
    known = [str(d) for d in bundle["districts"]["district_id"]]
    districts = None
    if args.districts:
        districts = tuple(d.strip() for d in args.districts.split(",") if d.strip())
        unknown = [d for d in districts if d not in known]
        if unknown or not districts:
            print(f"python -m data plan: error: unknown district(s) {unknown!r}; known: {', '.join(known)}",
                  file=sys.stderr)
            return 2
    settings = PlanSettings(start=args.start, weeks=args.weeks, districts=districts,
                            visit_minutes=args.visit_minutes, travel_minutes=args.travel_minutes,
                            staff=args.staff, seed=args.seed, safety=args.safety)
    model = geo_model.build(bundle, args.resolution)
    teams = list(districts) if districts else known
    history = history_quarters(bundle.quarters(), args.start)
    resources = default_resources(model, history, teams, args.staff, args.flex_hours_per_week)
    if args.kod_hours_per_week is not None:
        resources = type(resources)({d: args.kod_hours_per_week for d in teams}, resources.joint_hours,
                                    resources.flex_hours)
    if args.joint_hours_per_week is not None:
        resources = type(resources)(resources.kod_hours, {d: args.joint_hours_per_week for d in teams},
                                    resources.flex_hours)
    try:
        plan = make_plan(model, settings, resources, available=bundle.quarters(),
                         complaints=bundle["complaints"], focus_areas=bundle["focus_areas"],
                         incidents=bundle["staff_incidents"])
    except PlanError as exc:
        return _fail(str(exc), args.json)
    _print_plan(plan)
    if args.out:
        doc = plan_document(plan, args.name or f"Plan ab {args.start.isoformat()}",
                            dataset=str(bundle.meta.get("name") or Path(args.folder).name))
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    if args.ship:
        doc = plan_document(plan, args.name or f"Plan ab {args.start.isoformat()}",
                            dataset=str(bundle.meta.get("name") or Path(args.folder).name))
        archive = PlanArchive(args.ship)
        folder = Path(args.ship) / plan_id_of(doc["name"])
        if folder.is_dir():
            shutil.rmtree(folder)
        saved_at = pd.Timestamp(args.start - timedelta(days=7)).replace(hour=8).tz_localize(TZ)
        saved = archive.save(doc, saved_by="Demo", saved_at=saved_at.isoformat())
        print(f"shipped {folder} (version {saved.version})")
    if args.json:
        print(json.dumps(cli_json(plan), ensure_ascii=False))
    return 0


def _print_plan(plan) -> None:
    names = dict(zip(plan.places["place_id"], plan.places["name"], strict=True))
    print(f"{len(plan.places)} places, {len(plan.visits)} visits per week; objective "
          f"{plan.objective:.2f} expected complaints per week, bound {plan.bound:.2f}, gap {plan.gap:.2%}, "
          f"solved in {plan.solve_s:.2f} s ({plan.status})")
    print(f"coverage: plan {plan.coverage_plan:.1%}, "
          f"last quarter's presence {plan.coverage_last_quarter:.1%}")
    for district, rows in plan.visits.groupby("district_id", sort=True):
        budget = plan.budgets.get(district, {})
        used = plan.used.get(district, {})
        spent = ", ".join(f"{k} {used.get(k, 0):.0f}/{budget.get(k, 0):.0f} min"
                          for k in ("kod", "joint"))
        print(f"\n== {district}: {spent}, flex {used.get('flex', 0):.0f} min")
        for r in rows.itertuples(index=False):
            mark = " #sicherimDienst" if r.safety else ""
            print(f"  {WEEKDAYS[r.weekday]} {r.window_start}-{r.window_end} {r.order}. {names[r.place_id]}: "
                  f"{r.minutes} min {r.kind}, {r.expected_complaints:.2f} expected{mark}")

COMMAND = (configure_plan, run_plan)
