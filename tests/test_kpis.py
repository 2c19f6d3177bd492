"""KPIs and trend signals, table-driven."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data.filters import Filters
from data.folder import NEVER_CLOSED
from data.kpis import Kpi, compare_counts, overview_kpis, signal, trend_z, what_changed
from data.periods import parse_quarter
from viz.kpi_text import kpi_text

Q = parse_quarter


@pytest.mark.parametrize(("current", "previous", "z", "sig"), [
    (100, 100, 0.0, "none"),
    (121, 100, 2.0, "up"),
    (144, 100, 4.0, "strong_up"),
    (64, 100, -4.0, "strong_down"),
    (81, 100, -2.0, "down"),
    (4, 1, 2.0, "up"),
    (0, 0, 0.0, "none"),
    (9, 0, 6.0, "strong_up"),
    (110, 100, 2 * (math.sqrt(110) - 10), "none"),
])
def test_trend_signal(current, previous, z, sig) -> None:
    got = trend_z(current, previous)
    assert got == pytest.approx(z)
    assert signal(got) == sig


def test_trend_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="got current=-1"):
        trend_z(-1, 3)


@pytest.mark.parametrize(("kpi", "pct"), [
    (Kpi("complaints", 120, 100, trend_z(120, 100), 100), 0.2),
    (Kpi("complaints", 12, 10, trend_z(12, 10), 10), None),  # small counts: no percent
    (Kpi("complaints", 5, 0, trend_z(5, 0), 0), None),
    (Kpi("complaints", 5), None),
])
def test_percent_change_only_for_large_counts(kpi, pct) -> None:
    assert kpi.pct_change == (pytest.approx(pct) if pct is not None else None)


def _complaints() -> pd.DataFrame:
    rows = []
    # previous quarter: mitte 100, heessen 50; current: mitte 150, heessen 48
    # Heessen's previous-quarter complaints were closed only in the current quarter: they were
    # open at the end of the previous one (today they are all closed).
    for quarter, district, n, status, closed in [("2026-Q2", "mitte", 100, "closed", "2026-Q2"),
                                                 ("2026-Q2", "heessen", 50, "closed", "2026-Q3"),
                                                 ("2026-Q3", "mitte", 140, "closed", "2026-Q3"),
                                                 ("2026-Q3", "mitte", 10, "open", None),
                                                 ("2026-Q3", "heessen", 48, "closed", "2026-Q3")]:
        rows += [{"quarter": Q(quarter), "district_id": district, "field": "nachbarschaft",
                  "category": "laerm" if district == "mitte" else "muell", "weekday": 1,
                  "hour": 12, "status": status,
                  "closed_quarter": NEVER_CLOSED if closed is None else Q(closed)}] * n
    return pd.DataFrame(rows)


DISTRICTS = pd.DataFrame({"district_id": ["mitte", "heessen"], "population": [50_000, 20_000]})
INCIDENTS = pd.DataFrame({"quarter": [Q("2026-Q3")] * 3 + [Q("2026-Q2")],
                          "district_id": ["mitte", "mitte", "heessen", "mitte"],
                          "weekday": [1, 1, 1, 1], "hour": [1, 2, 3, 4]})


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(Q("2026-Q3"), Q("2026-Q3")),
     {"complaints": (198, 150), "per_1000": (198 / 70, 150 / 70), "open_complaints": (10, 50),
      "staff_incidents": (3, 1), "patrol_hours": (120, 100), "joint_share": (0.25, 0.2)}),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("mitte",)),
     {"complaints": (150, 100), "per_1000": (3.0, 2.0), "open_complaints": (10, 0),
      "staff_incidents": (2, 1)}),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("heessen",)),
     {"complaints": (48, 50), "per_1000": (2.4, 2.5), "staff_incidents": (1, 0),
      "open_complaints": (0, 50)}),
])
def test_overview_kpis(filters, expected) -> None:
    kpis = {k.key: k for k in overview_kpis(
        _complaints(), INCIDENTS, DISTRICTS, filters,
        hours_now={"kod": 90, "joint": 30}, hours_prev={"kod": 80, "joint": 20}, has_previous=True)}
    for key, (cur, prev) in expected.items():
        assert kpis[key].current == pytest.approx(cur), key
        assert kpis[key].previous == pytest.approx(prev), key
    assert kpis["complaints"].z == pytest.approx(trend_z(expected["complaints"][0],
                                                         expected["complaints"][1]))


def test_kpis_without_previous_period_have_no_signal() -> None:
    kpis = overview_kpis(_complaints(), INCIDENTS, DISTRICTS, Filters(Q("2026-Q3"), Q("2026-Q3")),
                         hours_now={"kod": 1}, hours_prev=None, has_previous=False)
    assert all(k.z is None and k.signal == "none" for k in kpis)
    text = kpi_text(kpis[0], "de")
    assert text.delta is None and text.help == "kein Vorzeitraum in den Daten"


def test_what_changed_lists_significant_districts_only() -> None:
    out = what_changed(_complaints(), Filters(Q("2026-Q3"), Q("2026-Q3")), by="district_id")
    assert out["key"].tolist() == ["mitte"]
    assert out.loc[0, "signal"] == "strong_up"


def test_compare_counts_sorts_by_absolute_z() -> None:
    out = compare_counts(pd.Series({"a": 10, "b": 400, "c": 0}), pd.Series({"a": 10, "b": 300, "d": 9}))
    assert out["key"].tolist() == ["d", "b", "a", "c"]  # |z|: 6.0, 5.4, 0, 0
    assert out.set_index("key").loc["d", "current"] == 0


@pytest.mark.parametrize(("lang", "kpi", "value", "delta", "color", "arrow"), [
    ("de", Kpi("complaints", 1234, 1000, trend_z(1234, 1000), 1000), "1.234",
     "+23 % · ▲▲ starker Anstieg · z = 7,0", "orange", "up"),
    ("en", Kpi("complaints", 1234, 1000, trend_z(1234, 1000), 1000), "1,234",
     "+23% · ▲▲ strong increase · z = 7.0", "orange", "up"),
    ("de", Kpi("patrol_hours", 81, 100, trend_z(81, 100), 100), "81",
     "−19 % · ▼ Rückgang · z = -2,0", "orange", "down"),
    ("de", Kpi("joint_share", 0.253, 0.25, 0.1, 30), "25 %",
     "+1 % · keine signifikante Änderung · z = 0,1", "gray", "up"),
    ("de", Kpi("staff_incidents", 9, 4, trend_z(9, 4), 4), "9",
     "▲ Anstieg · z = 2,0", "orange", "up"),
])
def test_kpi_text(lang, kpi, value, delta, color, arrow) -> None:
    text = kpi_text(kpi, lang)
    assert (text.value, text.delta, text.delta_color, text.arrow) == (value, delta, color, arrow)


@pytest.fixture(scope="module")
def demo():
    from pathlib import Path

    from data.folder import load_folder

    return load_folder(Path(__file__).resolve().parent.parent / "data" / "demo")


@pytest.mark.parametrize("filters", [
    Filters(Q("2026-Q3"), Q("2026-Q3")),
    Filters(Q("2025-Q1"), Q("2025-Q4"), districts=("mitte", "heessen")),
    Filters(Q("2026-Q2"), Q("2026-Q3"), fields=("infrastruktur",), weekdays=(5, 6), hours=(20, 4)),
])
def test_summary_table_gives_the_same_kpis_as_raw_records(demo, filters) -> None:
    """The per-dimension summary (used for speed) agrees with counting raw complaints."""
    raw = overview_kpis(demo["complaints"], demo["staff_incidents"], demo["districts"], filters,
                        {"kod": 1.0}, {"kod": 1.0}, True)
    summary = overview_kpis(demo.complaint_table, demo["staff_incidents"], demo["districts"],
                            filters, {"kod": 1.0}, {"kod": 1.0}, True)
    assert [(k.current, k.previous) for k in raw] == [(k.current, k.previous) for k in summary]
    for by in ("district_id", "category"):
        a = what_changed(demo["complaints"], filters, by)
        b = what_changed(demo.complaint_table, filters, by)
        assert a["key"].astype(str).tolist() == b["key"].astype(str).tolist()
        assert a["current"].tolist() == b["current"].tolist()


@pytest.mark.parametrize(("key", "current", "previous", "delta", "arrow"), [
    ("patrol_hours", 1100.0, 1000.0, "+10 %", "up"),
    ("patrol_hours", 900.0, 1000.0, "−10 %", "down"),
    ("joint_share", 0.30, 0.25, "+20 %", "up"),
])
def test_hours_and_shares_change_without_a_signal(key, current, previous, delta, arrow) -> None:
    text = kpi_text(Kpi(key, current, previous, None, 500.0), "de")
    assert (text.delta, text.arrow, text.delta_color) == (delta, arrow, "gray")
    assert "ohne Signaltest" in text.help


def test_overview_gives_no_z_for_hours_and_share() -> None:
    kpis = {k.key: k for k in overview_kpis(
        _complaints(), INCIDENTS, DISTRICTS, Filters(Q("2026-Q3"), Q("2026-Q3")),
        hours_now={"kod": 90, "joint": 30}, hours_prev={"kod": 80, "joint": 20}, has_previous=True)}
    assert kpis["patrol_hours"].z is None and kpis["joint_share"].z is None
    assert kpis["complaints"].z is not None


@pytest.mark.parametrize(("absent", "expected_current"), [(0.0, 0.0), (float("nan"), None)])
def test_compare_counts_fills_a_missing_key_with_absent(absent: float, expected_current) -> None:
    """Published counts: a key missing in one period must look like a suppressed one (NaN),
    not like a true 0 that would give it a z."""
    table = compare_counts(pd.Series({"a": 30.0}), pd.Series({"a": 20.0, "b": 25.0}), absent=absent)
    row = table.set_index("key").loc["b"]
    if expected_current is None:
        assert np.isnan(row["current"]) and np.isnan(row["z"])
    else:
        assert row["current"] == expected_current and row["z"] < -2
