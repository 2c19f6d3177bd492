"""Patrol planning (geo.planning), Wirkung (geo.wirkung), plans archive, exports and the CLI.

The small cases are built by hand on the two-district fixture: complaints at chosen cells
and times in 2025-Q1 (the history), a plan from 2025-04-01 (2025-Q2: 13 weeks, 13 of each
weekday), so the expected demand per day-window is known exactly.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.contracts import TZ
from data.folder import load_folder
from data.generator import EMERGING
from data.plans import DEMO_PLANS, PlanArchive, plan_id_of, visible_part
from geo import dosage
from geo import model as geo_model
from geo.cells import cell_codes
from geo.model import SpatialModel
from geo.planning import (
    PlanSettings,
    Resources,
    _split,
    day_windows,
    find_places,
    make_plan,
    plan_document,
    plan_from_document,
    weekday_counts,
)
from geo.wirkung import did_test, effect

REPO = Path(__file__).resolve().parent.parent
START = date(2025, 4, 1)
Q1_DAYS = pd.date_range("2025-01-01", "2025-03-31", freq="D")


def _weekday_dates(weekday: int) -> list[pd.Timestamp]:
    return [d for d in Q1_DAYS if d.weekday() == weekday]


def _model(
    index, complaints: list[tuple[int, pd.Timestamp]], pings: pd.DataFrame | None = None
) -> SpatialModel:
    frame = pd.DataFrame(
        {
            "received_at": pd.Series(
                [ts.tz_localize(TZ) for _, ts in complaints], dtype=f"datetime64[ns, {TZ}]"
            ),
            "category": ["laerm"] * len(complaints),
            "lat": [index.lat[c] for c, _ in complaints],
            "lon": [index.lon[c] for c, _ in complaints],
        }
    )
    if pings is None:
        pings = pd.DataFrame(
            {
                "patrol_id": pd.Series([], dtype=str),
                "time": pd.Series([], dtype=f"datetime64[ns, {TZ}]"),
                "lat": pd.Series([], dtype=float),
                "lon": pd.Series([], dtype=float),
            }
        )
    patrols = pd.DataFrame({"patrol_id": ["S1"], "kind": ["kod"]})
    districts = pd.DataFrame(
        {"district_id": ["west", "east"], "name": ["West", "East"], "population": [1, 1]}
    )
    return SpatialModel(
        index=index,
        complaint_cube=dosage.build_complaint_cube(frame, index),
        presence_cube=dosage.build_presence_cube(pings, patrols, index),
        districts=districts,
        category_field={"laerm": "nachbarschaft"},
    )


def _places(index, cells: dict[str, int]) -> pd.DataFrame:
    rows = []
    for pid, c in cells.items():
        rows.append(
            {
                "place_id": pid,
                "district_id": str(index.district[c]),
                "district": str(index.district[c]),
                "name": f"Ort {pid}",
                "cells": [str(index.cells[c])],
                "codes": [c],
                "lat": float(index.lat[c]),
                "lon": float(index.lon[c]),
                "area_km2": 0.1,
                "hot": "hot99",
                "emerging": "none",
                "categories": ["laerm"],
                "complaints_last_quarter": 0,
                "expected_week": 0.0,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cells(two_district_index):
    """Three cells in the west district and one in the east, far apart."""
    index = two_district_index
    west = np.flatnonzero(index.district == "west")
    east = np.flatnonzero(index.district == "east")
    return {
        "P1": int(west[0]),
        "P2": int(west[len(west) // 2]),
        "P3": int(west[-1]),
        "E1": int(east[len(east) // 2]),
    }


@pytest.fixture(scope="module")
def small(two_district_index, cells):
    """P1: 1 complaint every Monday 09:30; P2: 2 every Tuesday 15:30; P3: 1 every other Wednesday
    11:30; E1 (east): 3 every Thursday 19:30. Expected per day: 1.0, 2.0, ~0.5, 3.0."""
    ev = []
    ev += [(cells["P1"], d + timedelta(hours=9, minutes=30)) for d in _weekday_dates(0)]
    ev += [(cells["P2"], d + timedelta(hours=15, minutes=30)) for d in _weekday_dates(1) for _ in range(2)]
    ev += [(cells["P3"], d + timedelta(hours=11, minutes=30)) for d in _weekday_dates(2)[::2]]
    ev += [(cells["E1"], d + timedelta(hours=19, minutes=30)) for d in _weekday_dates(3) for _ in range(3)]
    index = two_district_index
    return _model(index, ev), _places(index, cells)


def _plan(small, kod=None, joint=None, flex=0.0, incidents=None, **settings):
    model, places = small
    s = PlanSettings(start=START, weeks=13, **settings)
    res = Resources(kod or {"west": 0.0, "east": 0.0}, joint or {"west": 0.0, "east": 0.0}, flex)
    return make_plan(model, s, res, available=[8100], places=places, incidents=incidents)


VISIT = 40.0 / 60.0  # hours of one visit: (15 + 5) minutes x 2 staff


def _slots(plan) -> set[tuple[str, int, str]]:
    return {(r.place_id, r.weekday, r.window_start) for r in plan.visits.itertuples()}


def test_budget_for_two_visits_takes_the_two_best_windows(small) -> None:
    plan = _plan(small, kod={"west": 2 * VISIT, "east": 0.0})
    assert _slots(plan) == {("P2", 1, "15:00"), ("P1", 0, "09:00")}
    assert plan.objective == pytest.approx(3.0)
    assert plan.bound == pytest.approx(3.0) and plan.gap == pytest.approx(0.0)
    assert plan.used["west"]["kod"] == 80.0 <= plan.budgets["west"]["kod"]
    assert set(plan.visits["kind"]) == {"kod"}


def test_zero_budget_gives_an_empty_plan(small) -> None:
    plan = _plan(small)
    assert plan.empty and plan.objective == 0.0 and plan.coverage_plan == 0.0
    assert list(plan.visits.columns)[:8] == [
        "place_id",
        "district_id",
        "weekday",
        "window_start",
        "window_end",
        "minutes",
        "kind",
        "expected_complaints",
    ]


def test_a_team_never_receives_another_districts_place(small) -> None:
    plan = _plan(small, kod={"west": 0.0, "east": 10.0})  # hours only in the east
    assert set(plan.visits["place_id"]) == {"E1"}
    assert set(plan.visits["district_id"]) == {"east"}
    plan = _plan(small, kod={"west": 10.0, "east": 10.0})
    district = dict(zip(plan.places["place_id"], plan.places["district_id"], strict=True))
    assert all(
        district[p] == d for p, d in zip(plan.visits["place_id"], plan.visits["district_id"], strict=True)
    )


def test_flex_pool_goes_where_the_demand_is(small) -> None:
    plan = _plan(small, flex=VISIT)
    assert _slots(plan) == {("E1", 3, "19:00")}
    assert plan.visits["kind"].tolist() == ["flex"] and plan.used["east"]["flex"] == 40.0


def test_joint_visits_never_exceed_the_joint_hours(small) -> None:
    plan = _plan(small, joint={"west": 2 * VISIT + 0.5 * VISIT, "east": 0.0})
    joint = plan.visits[plan.visits["kind"] == "joint"]
    assert len(joint) == 2
    assert plan.used["west"]["joint"] <= plan.budgets["west"]["joint"]


def _incident_at(index, cell: int, when: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident_id": ["V1"],
            "occurred_at": [when.tz_localize(TZ)],
            "kind": ["physical"],
            "lat": [index.lat[cell]],
            "lon": [index.lon[cell]],
        }
    )


def test_staff_safety_windows_get_joint_patrols_only(small, two_district_index, cells) -> None:
    inc = _incident_at(two_district_index, cells["P2"], pd.Timestamp("2025-02-11 16:10"))
    kod_only = _plan(small, kod={"west": 10.0, "east": 0.0}, incidents=inc)
    assert ("P2", 1, "15:00") not in _slots(kod_only)  # no joint hours: left unplanned
    both = _plan(small, kod={"west": 10.0, "east": 0.0}, joint={"west": VISIT, "east": 0.0}, incidents=inc)
    row = both.visits[(both.visits["place_id"] == "P2") & (both.visits["window_start"] == "15:00")].iloc[0]
    assert row["kind"] == "joint" and bool(row["safety"])
    omit = _plan(
        small,
        kod={"west": 10.0, "east": 0.0},
        joint={"west": 10.0, "east": 0.0},
        incidents=inc,
        safety="omit",
    )
    assert ("P2", 1, "15:00") not in _slots(omit)
    assert omit.excluded.to_dict("records") == [
        {"place_id": "P2", "window": "15:00-17:00", "incidents": 1, "reason": "staff_safety"}
    ]


def test_same_inputs_same_plan_and_the_seed_orders_visits(two_district_index, cells) -> None:
    index = two_district_index
    west = [int(c) for c in np.flatnonzero(index.district == "west")[:6]]
    ev = [(c, d + timedelta(hours=9, minutes=30)) for c in west for d in _weekday_dates(0)]
    model = _model(index, ev)
    places = _places(index, {f"P{i}": c for i, c in enumerate(west)})

    def run(seed):
        s = PlanSettings(start=START, weeks=1, seed=seed)
        return make_plan(
            model, s, Resources({"west": 10.0, "east": 0.0}, {}, 0.0), available=[8100], places=places
        ).visits

    a, b = run(1), run(1)
    pd.testing.assert_frame_equal(a, b)
    assert sorted(a["order"]) == list(range(1, 7))  # one shift (Monday 09-11), six visits
    orders = {tuple(run(s)["place_id"]) for s in range(6)}
    assert len(orders) > 1


def test_windows_cover_the_day() -> None:
    w = day_windows(7, 22, 2)
    assert [x for x in w if x[2]][-1] == (21, 22, True)
    assert sum(b - a for a, b, _ in w) == 24
    assert weekday_counts(date(2025, 4, 1), date(2025, 7, 1)).tolist() == [13] * 7


def test_split_keeps_places_small(two_district_index) -> None:
    index = two_district_index
    members = np.arange(len(index.cells))
    groups = _split(members, index.neighbours.tocsr(), np.arange(len(members), dtype=float), 5)
    assert all(len(g) <= 5 for g in groups)
    assert sorted(c for g in groups for c in g) == members.tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weeks": 0}, "weeks must be"),
        ({"visit_minutes": 25}, "visit_minutes must be"),
        ({"safety": "none"}, "safety must be one of"),
        ({"service_start": 22, "service_end": 7}, "must end after"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        PlanSettings(start=START, **kwargs)


# --- Wirkung -----------------------------------------------------------------------------------


def test_wirkung_of_a_constructed_delivery(two_district_index, cells, small) -> None:
    """Ten minutes at P1 every Monday 09:00 (planned: 15) -> compliance 2/3; P2 never visited."""
    index = two_district_index
    times = []
    for d in pd.date_range("2025-04-01", "2025-06-30", freq="D"):
        if d.weekday() == 0:
            times += [d + timedelta(hours=9, minutes=k) for k in range(11)]  # 10 intervals of 60 s
    pings = pd.DataFrame(
        {
            "patrol_id": "S1",
            "time": pd.Series(times).dt.tz_localize(TZ),
            "lat": index.lat[cells["P1"]],
            "lon": index.lon[cells["P1"]],
        }
    )
    model, _places = small
    delivered = SpatialModel(
        index=index,
        complaint_cube=model.complaint_cube,
        presence_cube=dosage.build_presence_cube(
            pings, pd.DataFrame({"patrol_id": ["S1"], "kind": ["kod"]}), index
        ),
        districts=model.districts,
        category_field=model.category_field,
    )
    plan = _plan(small, kod={"west": 2 * VISIT, "east": 0.0})
    e = effect(delivered, plan, [8100, 8101])
    assert e.status == "ok" and e.exact and e.quarters == [8101]
    by_place = e.places.set_index("place_id")
    assert by_place.loc["P1", "planned_min"] == 15 * 13
    assert by_place.loc["P1", "delivered_in_windows_min"] == pytest.approx(10 * 13)
    assert by_place.loc["P1", "compliance"] == pytest.approx(2 / 3)
    assert by_place.loc["P2", "delivered_in_windows_min"] == 0
    team = e.teams.set_index("district_id").loc["west"]
    assert team["compliance"] == pytest.approx(130 / 390)
    assert e.did["verdict"] == "too_little_data"  # two treated places, two controls


def test_wirkung_before_the_data_is_not_measurable(small) -> None:
    plan = _plan(small, kod={"west": 2 * VISIT, "east": 0.0})
    assert effect(small[0], plan, [8100]).status == "not_in_data"


def test_did_by_hand() -> None:
    # planned places halve (100 -> 50), controls stay (100 -> 100): ratio 0.5
    out = did_test(
        np.array([40, 30, 30]), np.array([20, 15, 15]), np.array([40, 30, 30]), np.array([40, 30, 30])
    )
    assert out["ratio"] == pytest.approx(0.5)
    assert out["z"] == pytest.approx(np.log(0.5) / np.sqrt(1 / 100 + 1 / 50 + 1 / 100 + 1 / 100), abs=1e-3)
    assert out["p_poisson"] < 0.05
    assert out["p_permutation"] == pytest.approx(0.1, abs=0.02)  # 3 vs 3 places: at best 1/10
    assert out["verdict"] == "no_difference"  # the permutation test cannot tell with 6 places
    assert (
        did_test(np.array([5, 4]), np.array([1, 1]), np.array([5, 5]), np.array([5, 5]))["verdict"]
        == "too_little_data"
    )


# --- demo city ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    bundle = load_folder(REPO / "data" / "demo")
    return bundle, geo_model.build(bundle, 9)


@pytest.fixture(scope="module")
def demo_plan(demo):
    bundle, model = demo
    s = PlanSettings(start=date(2026, 10, 1), weeks=13)
    return make_plan(
        model,
        s,
        available=bundle.quarters(),
        complaints=bundle["complaints"],
        focus_areas=bundle["focus_areas"],
        incidents=bundle["staff_incidents"],
    )


def test_demo_plan_visits_the_emerging_park_in_its_peak_windows(demo, demo_plan) -> None:
    _bundle, model = demo
    park_cell = str(model.index.cells[cell_codes(model.index, [EMERGING[1]], [EMERGING[0]])[0]])
    park = demo_plan.places[[park_cell in c for c in demo_plan.places["cells"]]].iloc[0]
    assert park["district_id"] == "bockum-hoevel" and park["emerging"] in {
        "new",
        "consecutive",
        "intensifying",
    }
    from geo.planning import by_window, hourly_demand, with_codes

    places = with_codes(demo_plan.places, model)
    windows = demo_plan.windows
    demand = by_window(hourly_demand(model, places, demo_plan.history), windows)
    p = int(np.flatnonzero(places["place_id"] == park["place_id"])[0])
    service = [(d, w) for d in range(6) for w in range(len(windows)) if windows[w][2]]
    peak = sorted(service, key=lambda dw: -demand[p, dw[0], dw[1]])[:5]
    planned = _slots(demo_plan)
    for d, w in peak:
        assert (park["place_id"], d, f"{windows[w][0]:02d}:00") in planned
    assert demo_plan.coverage_plan > demo_plan.coverage_last_quarter + 0.1
    assert demo_plan.gap <= 1e-6 and demo_plan.status == "optimal"


def test_demo_places_are_small_named_and_in_one_district(demo, demo_plan) -> None:
    _, model = demo
    places = demo_plan.places
    assert (places["area_km2"] <= 0.55).all()
    assert places["name"].is_unique
    names = dict(zip(model.districts["district_id"], model.districts["name"], strict=True))
    for r in places.itertuples():
        assert r.name.startswith(names[r.district_id] + " – ")
        assert {str(model.index.district[model.index.position[c]]) for c in r.cells} == {r.district_id}
    assert "Mitte – Bahnhofsquartier" in set(places["name"])  # focus area name


def test_places_only_in_the_selected_districts(demo) -> None:
    bundle, model = demo
    places = find_places(model, bundle.quarters()[:-1], districts=["heessen"])
    assert set(places["district_id"]) == {"heessen"}


def test_plan_document_round_trip(demo_plan) -> None:
    doc = json.loads(json.dumps(plan_document(demo_plan, "Test")))
    back = plan_from_document(doc)
    assert back.visits["place_id"].tolist() == demo_plan.visits["place_id"].tolist()
    assert back.objective == pytest.approx(demo_plan.objective)
    assert back.settings == demo_plan.settings


def test_shipped_demo_plan_is_partly_delivered(demo) -> None:
    bundle, model = demo
    record = PlanArchive(DEMO_PLANS, read_only=True).load("demo-streifenplan-2026-q2")
    plan = plan_from_document(record["plan"])
    e = effect(model, plan, bundle.quarters())
    assert e.status == "ok" and e.exact
    total = e.teams["compliance"].to_numpy()
    assert (total < 1).all() and total.max() > 0.3 and total.min() == 0.0  # the park: nothing delivered
    assert e.did["verdict"] in {"too_little_data", "fell", "rose", "no_difference"}


def test_shipped_demo_plan_regenerates_identically(tmp_path) -> None:
    from cli.plan import configure_plan, run_plan
    from data.cli import EXTRA_COMMANDS, main

    EXTRA_COMMANDS["plan"] = (configure_plan, run_plan)
    assert (
        main(
            [
                "plan",
                str(REPO / "data" / "demo"),
                "--start",
                "2026-04-01",
                "--weeks",
                "13",
                "--name",
                "Demo: Streifenplan 2026-Q2",
                "--ship",
                str(tmp_path),
            ]
        )
        == 0
    )
    shipped = DEMO_PLANS / "demo-streifenplan-2026-q2" / "v000001.json"
    assert (tmp_path / "demo-streifenplan-2026-q2" / "v000001.json").read_bytes() == shipped.read_bytes()


# --- plans archive and roles ------------------------------------------------------------------------


def test_archive_versions_and_visible_part(tmp_path, demo_plan) -> None:
    archive = PlanArchive(tmp_path / "plans")
    doc = plan_document(demo_plan, "Herbst 2026 / Nord")
    assert plan_id_of(doc["name"]) == "herbst-2026-nord"
    assert archive.save(doc, saved_by="a").version == 1
    assert archive.save(doc, saved_by="b").version == 2
    assert archive.versions("herbst-2026-nord") == [1, 2]
    assert archive.load("herbst-2026-nord", 1)["saved_by"] == "a"
    [summary] = archive.list()
    assert summary.versions == 2 and "mitte" in summary.districts
    part = visible_part(doc, ("heessen",))
    assert {p["district_id"] for p in part["places"]} == {"heessen"}
    assert {v["district_id"] for v in part["visits"]} == {"heessen"}
    assert set(part["budgets"]) == {"heessen", "*"} and part["partial"]
    assert visible_part(doc, ("pelkum",)) is None
    with pytest.raises(PermissionError):
        PlanArchive(tmp_path / "plans", read_only=True).save(doc)
    with pytest.raises(ValueError, match="invalid plan id"):
        archive.load("../etc")


# --- exports ------------------------------------------------------------------------------------------


def test_gpx_is_gpx_1_1_with_one_waypoint_per_place(demo_plan) -> None:
    from viz.planning import GPX_NS, gpx_bytes

    root = ET.fromstring(gpx_bytes(demo_plan, "Plan <Q4> & Co"))
    assert root.tag == f"{{{GPX_NS}}}gpx" and root.get("version") == "1.1"
    wpts = root.findall(f"{{{GPX_NS}}}wpt")
    assert len(wpts) == len(demo_plan.places)
    assert [w.find(f"{{{GPX_NS}}}name").text.split(" ", 1)[1] for w in wpts] == demo_plan.places[
        "name"
    ].tolist()
    for w in wpts:
        assert -90 <= float(w.get("lat")) <= 90 and -180 <= float(w.get("lon")) <= 180
    assert root.find(f"{{{GPX_NS}}}metadata/{{{GPX_NS}}}name").text == "Plan <Q4> & Co"


def test_week_table_and_csv(demo, demo_plan) -> None:
    from viz.planning import week_csv, week_table

    bundle, _ = demo
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    table = week_table(demo_plan, "de", bundle.category_labels("de"), names, "mitte")
    assert len(table) == int((demo_plan.visits["district_id"] == "mitte").sum())
    assert set(table["Team"]) == {"Mitte"}
    assert (table["#sicherimDienst"] != "").any()  # the station: assaults on staff, joint only
    assert set(table.loc[table["#sicherimDienst"] != "", "Streifenart"]) == {"gemeinsam mit Polizei"}
    assert week_csv(table, "de").startswith("\ufeffTeam;Tag;Zeitfenster".encode())


@pytest.mark.slow
def test_team_pdf_opens(demo, demo_plan) -> None:
    import pypdf

    from viz.planning import team_pdf

    bundle, _ = demo
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    pdf = team_pdf(
        demo_plan, "Test", "bockum-hoevel", "de", bundle.category_labels("de"), names, bundle.bbox()
    )
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Streifenplan – Bockum-Hövel" in text and "Wochenplan" in text
    assert float(reader.pages[0].mediabox.width) == pytest.approx(595, abs=2)  # A4


# --- command line --------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, list[str]]:
    import contextlib

    from cli.plan import configure_plan, run_plan
    from data.cli import EXTRA_COMMANDS, main

    EXTRA_COMMANDS["plan"] = (configure_plan, run_plan)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(["plan", *args])
        except SystemExit as exc:
            code = int(exc.code)
    return code, out.getvalue().splitlines()


def test_cli_json_fields_and_exit_codes() -> None:
    demo = str(REPO / "data" / "demo")
    code, lines = _cli(
        demo,
        "--start",
        "2026-10-01",
        "--weeks",
        "2",
        "--districts",
        "bockum-hoevel,heessen",
        "--kod-hours-per-week",
        "10",
        "--joint-hours-per-week",
        "0",
        "--seed",
        "3",
        "--json",
    )
    assert code == 0
    out = json.loads(lines[-1])
    assert set(out) == {
        "places",
        "visits",
        "budgets",
        "used",
        "objective",
        "bound",
        "gap",
        "solve_s",
        "coverage_plan",
        "coverage_last_quarter",
    }
    assert set(out["places"][0]) == {"place_id", "district_id", "name", "cells", "lat", "lon"}
    assert set(out["visits"][0]) == {
        "place_id",
        "district_id",
        "weekday",
        "window_start",
        "window_end",
        "minutes",
        "kind",
        "expected_complaints",
    }
    assert {v["district_id"] for v in out["visits"]} <= {"bockum-hoevel", "heessen"}
    assert out["budgets"]["heessen"]["kod"] == 600.0
    assert out["used"]["heessen"]["kod"] <= 600.0 and out["used"]["heessen"]["joint"] == 0.0
    assert out["coverage_plan"] > out["coverage_last_quarter"]
    assert _cli(demo, "--start", "2020-01-01", "--weeks", "2", "--json")[0] == 1  # no history
    assert _cli(demo, "--start", "2026-10-01", "--weeks", "0")[0] == 2
    assert _cli(demo, "--start", "01.10.2026", "--weeks", "2")[0] == 2
    assert _cli(demo, "--start", "2026-10-01", "--weeks", "2", "--districts", "atlantis")[0] == 2
    code, lines = _cli(
        demo,
        "--start",
        "2026-10-01",
        "--weeks",
        "1",
        "--kod-hours-per-week",
        "0",
        "--joint-hours-per-week",
        "0",
        "--json",
    )
    assert code == 0 and json.loads(lines[-1])["visits"] == []


def test_history_ends_before_the_start() -> None:
    from geo.planning import history_quarters

    assert history_quarters([8100, 8101, 8102], date(2025, 7, 1)) == [8100, 8101]
    assert history_quarters([8100, 8101, 8102], date(2025, 6, 30)) == [8100]


def test_damaged_plan_files_are_skipped_or_refused(tmp_path, demo_plan) -> None:
    archive = PlanArchive(tmp_path)
    archive.save(plan_document(demo_plan, "Gut"))
    (tmp_path / "kaputt").mkdir()
    (tmp_path / "kaputt" / "v000001.json").write_text("{not json", encoding="utf-8")
    assert [s.plan_id for s in archive.list()] == ["gut"]
    with pytest.raises(ValueError):
        archive.load("kaputt")
    with pytest.raises(ValueError, match="not a Lagebild plan document"):
        plan_from_document({"kind": "something else"})
