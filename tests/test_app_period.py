"""AppTests of the period slider: every change is taken, one after the other.

The slider was unkeyed (identified by its value), so every second change went to a slider
the script no longer drew and was lost. These tests make several changes in a row and check
each against the KPIs and the URL, together with what the slider must keep doing: restore
from the URL, reset, page and language switches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from base.i18n import fmt_number
from data.filters import Filters, complaint_mask
from data.folder import load_folder
from data.periods import parse_quarter

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")

# Consecutive changes: single quarters and ranges, forwards and back, a range's end only.
CHANGES = [
    (("2026-Q2", "2026-Q2"), "2026-Q2"),
    (("2025-Q1", "2025-Q4"), "2025-Q1..2025-Q4"),
    (("2025-Q1", "2026-Q3"), "2025-Q1..2026-Q3"),
    (("2025-Q3", "2025-Q3"), "2025-Q3"),
    (("2026-Q3", "2026-Q3"), "2026-Q3"),
]


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


def app(**query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def count(demo, period: tuple[str, str], lang: str = "de") -> str:
    f = Filters(parse_quarter(period[0]), parse_quarter(period[1]))
    return fmt_number(int(complaint_mask(demo["complaints"], f).sum()), lang)


def complaints(at: AppTest) -> str:
    values = {m.label: m.value for m in at.metric}
    return values.get("Beschwerden", values.get("Complaints"))


def change(at: AppTest, period: tuple[str, str]) -> None:
    at.sidebar.select_slider[0].set_value(period).run()
    assert not at.exception, [e.message for e in at.exception]


def assert_period(at: AppTest, demo, period: tuple[str, str], q: str, lang: str = "de") -> None:
    assert at.query_params["q"] == q
    assert at.sidebar.select_slider[0].value == period
    assert complaints(at) == count(demo, period, lang)


def test_every_change_in_a_row_is_taken(demo) -> None:
    at = app()
    at.run()
    assert_period(at, demo, ("2026-Q3", "2026-Q3"), "2026-Q3")
    seen = set()
    for period, q in CHANGES:
        change(at, period)
        assert_period(at, demo, period, q)
        seen.add(complaints(at))
    assert len(seen) >= 4  # the periods really differ in what they count


def test_changes_after_a_url_restore_then_reset_then_more_changes(demo) -> None:
    at = app(q="2024-Q4..2025-Q2")
    at.run()
    assert_period(at, demo, ("2024-Q4", "2025-Q2"), "2024-Q4..2025-Q2")  # restored from the URL
    for period, q in CHANGES[:3]:
        change(at, period)
        assert_period(at, demo, period, q)
    at.sidebar.button(key="flt_reset").click().run()
    assert_period(at, demo, ("2026-Q3", "2026-Q3"), "2026-Q3")  # the default again
    for period, q in CHANGES[:3]:  # the slider drawn after the reset takes changes too
        change(at, period)
        assert_period(at, demo, period, q)
    at.sidebar.button(key="flt_reset").click().run()
    assert_period(at, demo, ("2026-Q3", "2026-Q3"), "2026-Q3")


def test_reset_right_after_one_change(demo) -> None:
    at = app()
    at.run()
    change(at, ("2025-Q2", "2025-Q2"))
    assert_period(at, demo, ("2025-Q2", "2025-Q2"), "2025-Q2")
    at.sidebar.button(key="flt_reset").click().run()
    assert_period(at, demo, ("2026-Q3", "2026-Q3"), "2026-Q3")


def test_period_kept_across_pages_and_changes_there_are_taken(demo) -> None:
    at = app()
    at.run()
    change(at, ("2025-Q1", "2025-Q4"))
    change(at, ("2025-Q2", "2025-Q3"))
    at.switch_page("pages/bezirke.py")
    at.run()
    assert at.query_params["q"] == "2025-Q2..2025-Q3"
    assert at.sidebar.select_slider[0].value == ("2025-Q2", "2025-Q3")
    change(at, ("2026-Q1", "2026-Q1"))
    assert at.query_params["q"] == "2026-Q1"
    change(at, ("2026-Q2", "2026-Q2"))
    assert at.query_params["q"] == "2026-Q2"
    at.switch_page("pages/uebersicht.py")
    at.run()
    assert_period(at, demo, ("2026-Q2", "2026-Q2"), "2026-Q2")
    change(at, ("2025-Q4", "2026-Q1"))
    assert_period(at, demo, ("2025-Q4", "2026-Q1"), "2025-Q4..2026-Q1")


def test_language_switch_keeps_the_period_and_changes_go_on(demo) -> None:
    at = app()
    at.run()
    change(at, ("2025-Q1", "2025-Q4"))
    at.sidebar.radio(key="lang").set_value("en").run()
    assert_period(at, demo, ("2025-Q1", "2025-Q4"), "2025-Q1..2025-Q4", "en")
    change(at, ("2025-Q3", "2025-Q3"))
    assert_period(at, demo, ("2025-Q3", "2025-Q3"), "2025-Q3", "en")
    change(at, ("2026-Q1", "2026-Q3"))
    assert_period(at, demo, ("2026-Q1", "2026-Q3"), "2026-Q1..2026-Q3", "en")


def test_other_filters_between_period_changes_keep_the_period(demo) -> None:
    at = app()
    at.run()
    change(at, ("2025-Q1", "2025-Q4"))
    at.sidebar.multiselect(key="flt_d").set_value(["heessen"]).run()
    assert at.query_params["q"] == "2025-Q1..2025-Q4"
    change(at, ("2026-Q2", "2026-Q2"))
    assert at.query_params["q"] == "2026-Q2" and at.query_params["d"] == "heessen"
    change(at, ("2025-Q4", "2026-Q3"))
    assert at.query_params["q"] == "2025-Q4..2026-Q3"
