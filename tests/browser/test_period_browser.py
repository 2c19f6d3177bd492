"""The period slider in headless Chromium, by keyboard: every key press is taken.

The slider used to be unkeyed (identified by its value): after a change Streamlit swapped in a
new slider element, and the next key press, made on the old one, was lost. Here the same
focused thumb gets several presses in a row and the URL's ``q`` (and the KPIs) follow each;
restore from the URL on a fresh server's first visit (Streamlit's pages-folder mode), reset
and a page switch keep working.
"""

from __future__ import annotations

import pytest
from harness import StreamlitServer, wait_for_app

pytestmark = pytest.mark.browser

THUMBS = '[data-testid="stSidebar"] [data-testid="stSlider"] input[type="range"]'
Q = "() => new URLSearchParams(location.search).get('q')"


def q_becomes(page, expected: str) -> None:
    page.wait_for_function(f"(v) => ({Q})() === v", arg=expected, timeout=60_000)


def first_kpi(page) -> str:
    return page.locator('[data-testid="stMetricValue"]').first.inner_text()


def press(page, key: str, expected_q: str) -> None:
    """One key press on the focused thumb; the URL (written by the run) must follow."""
    page.keyboard.press(key)
    q_becomes(page, expected_q)
    wait_for_app(page)


@pytest.fixture
def fresh_server():
    """A server of its own: its first run is Streamlit's pages-folder mode."""
    s = StreamlitServer({})
    yield s
    s.stop()


def test_first_visit_restores_the_period_and_takes_each_key_press(fresh_server, page) -> None:
    page.goto(f"{fresh_server.url}/uebersicht?q=2025-Q3..2026-Q1")
    wait_for_app(page)
    q_becomes(page, "2025-Q3..2026-Q1")  # restored from the URL
    start = page.locator(THUMBS).first
    start.focus()
    kpis = [first_kpi(page)]
    for expected in ("2025-Q2..2026-Q1", "2025-Q1..2026-Q1", "2024-Q4..2026-Q1"):
        press(page, "ArrowLeft", expected)
        kpis.append(first_kpi(page))
    # the same element kept the focus: a stable slider, not a new one after each change
    assert page.evaluate("() => document.activeElement?.type") == "range"
    press(page, "ArrowRight", "2025-Q1..2026-Q1")
    assert len(set(kpis)) == len(kpis)  # every step counted a different period
    assert first_kpi(page) == kpis[2]  # back to 2025-Q1..2026-Q1


def test_two_quick_presses_then_reset_then_a_page_switch(server, page) -> None:
    page.goto(f"{server.url}/?q=2026-Q1..2026-Q3")
    wait_for_app(page)
    q_becomes(page, "2026-Q1..2026-Q3")
    page.locator(THUMBS).first.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # while the first press's run may still go on
    q_becomes(page, "2025-Q3..2026-Q3")
    wait_for_app(page)
    end = page.locator(THUMBS).nth(1)
    end.focus()
    press(page, "ArrowLeft", "2025-Q3..2026-Q2")
    press(page, "ArrowLeft", "2025-Q3..2026-Q1")

    page.locator('[data-testid="stSidebar"] button').filter(has_text="zurücksetzen").click()
    q_becomes(page, "2026-Q3")  # the default period (latest complete quarter)
    wait_for_app(page)
    default_kpi = first_kpi(page)
    page.locator(THUMBS).first.focus()  # the slider drawn by the reset takes key presses
    press(page, "ArrowLeft", "2026-Q2..2026-Q3")
    press(page, "ArrowLeft", "2026-Q1..2026-Q3")
    assert first_kpi(page) != default_kpi

    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Bezirke").click()
    page.wait_for_url("**/bezirke**", timeout=60_000)
    wait_for_app(page)
    q_becomes(page, "2026-Q1..2026-Q3")  # kept across the page switch
    page.locator(THUMBS).first.focus()
    press(page, "ArrowRight", "2026-Q2..2026-Q3")
    press(page, "ArrowRight", "2026-Q3")
