"""The app in headless Chromium: offline map, escaping, URL state, screenshots."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from harness import REPO, StreamlitServer, map_frame, screenshot, wait_for_app

from data import generator
from data.folder import write_folder

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


def test_lagebild_map_renders_offline(server, page) -> None:
    page.goto(f"{server.url}/lagebild")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    # 7 district polygons (other polygon layers start hidden, except focus areas: 2 more).
    districts = frame.locator("path.leaflet-interactive").count()
    assert districts == 7 + 2
    assert frame.locator(".leaflet-marker-icon").count() == 6  # the demo offices
    assert frame.locator(".leaflet-control-layers").count() == 1
    assert page.recorder.external == []
    screenshot(page, "lagebild")


@pytest.mark.parametrize(("path", "maps", "charts"), [
    ("", 1, 0),
    ("bezirke", 0, 3),
    ("praesenz", 1, 2),
    ("beschwerden", 2, 2),
])
def test_pages_render_without_external_requests(server, page, path: str, maps: int,
                                                charts: int) -> None:
    import time

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pending: dict[int, tuple[float, str]] = {}  # requests not finished yet (named on a timeout)
    page.on("request", lambda r: pending.__setitem__(id(r), (time.monotonic(), r.url)))
    page.on("requestfinished", lambda r: pending.pop(id(r), None))
    page.on("requestfailed", lambda r: pending.pop(id(r), None))
    page.goto(f"{server.url}/{path}")
    wait_for_app(page)
    if maps:
        page.wait_for_function(
            f"() => document.querySelectorAll('iframe[src*=\"streamlit_folium.st_folium\"]')"
            f".length >= {maps}", timeout=60_000)
        frame = map_frame(page)
        frame.wait_for_selector("path.leaflet-interactive")
    if charts:
        page.wait_for_function(
            f"() => document.querySelectorAll('.js-plotly-plot').length >= {charts}", timeout=60_000)
    try:
        page.wait_for_load_state("networkidle")  # every request the page makes has been made
    except PlaywrightTimeout:
        now = time.monotonic()
        raise AssertionError(f"the page did not become idle; requests open: "
                             f"{[(round(now - t0, 1), url) for t0, url in pending.values()]}") from None
    assert page.recorder.external == []
    screenshot(page, path or "uebersicht")


def test_praesenz_gap_layer_is_drawn(server, page) -> None:
    page.goto(f"{server.url}/praesenz")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    assert frame.get_by_text("Präsenzlücken").count() >= 1  # layer control and legend
    assert page.get_by_text("Bockum-Hövel").count() >= 1  # top of the gap list


def test_filter_change_updates_url_and_url_restores_it(server, page, browser) -> None:
    page.goto(f"{server.url}/")
    wait_for_app(page)
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(
        has_text="Bezirke").first
    box.click()
    page.get_by_role("option", name="Heessen").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.href.includes('d=heessen')", timeout=30_000)
    url = page.evaluate("location.href")
    assert parse_qs(urlparse(url).query)["d"] == ["heessen"]
    wait_for_app(page)
    heessen_count = page.locator('[data-testid="stMetricValue"]').first.inner_text()

    other = browser.new_context(viewport={"width": 1500, "height": 1000})
    p2 = other.new_page()
    p2.goto(url)
    wait_for_app(p2)
    chips = p2.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(
        has_text="Bezirke").first
    chips.get_by_text("Heessen").wait_for(timeout=30_000)
    assert p2.locator('[data-testid="stMetricValue"]').first.inner_text() == heessen_count
    other.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory) -> StreamlitServer:
    """A data folder whose names, addresses and labels carry script payloads."""
    frames, meta = generator.generate(seed=11, complaints=4000, pings=30_000)
    frames["districts"].loc[0, "name"] = f"Mitte {PAYLOAD}"
    frames["districts"].loc[1, "team_name"] = SCRIPT
    offices = frames["offices"]
    offices.loc[0, "name"] = f"Citywache {PAYLOAD}"
    offices.loc[0, "address"] = SCRIPT
    offices.loc[1, "opening_hours"] = PAYLOAD
    frames["focus_areas"].loc[0, "name"] = PAYLOAD
    frames["categories"].loc[0, "label_de"] = PAYLOAD
    meta["synthetic"] = False
    folder = write_folder(tmp_path_factory.mktemp("hostile") / "city", frames, meta)
    assert PAYLOAD in pd.read_csv(Path(folder) / "offices.csv")["name"].iloc[0]
    s = StreamlitServer({"LAGEBILD_DATA": str(folder)})
    yield s
    s.stop()


def test_script_payloads_raise_no_dialog(hostile_server, page) -> None:
    page.goto(f"{hostile_server.url}/lagebild")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    shapes = frame.locator("path.leaflet-interactive")
    for i in range(shapes.count()):
        shapes.nth(i).hover(force=True)
        shapes.nth(i).click(force=True)
    markers = frame.locator(".leaflet-marker-icon")
    for i in range(markers.count()):
        markers.nth(i).click(force=True)
        frame.wait_for_selector(".leaflet-popup-content")
    page.wait_for_load_state("networkidle")
    popup = frame.locator(".leaflet-popup-content").last.inner_text()
    assert popup  # a popup opened and shows text
    assert page.recorder.dialogs == []
    assert page.recorder.external == []
    # the payload is shown as text, not run
    html = frame.content()
    assert "onerror=alert(1)>" not in html.replace("&lt;img", "")
    screenshot(page, "lagebild-hostile")


def test_readme_screenshot_is_current() -> None:
    """The README shows the Lagebild page (docs/lagebild.png, refreshed by `make screenshot`)."""
    assert (REPO / "docs" / "lagebild.png").exists()
    assert "docs/lagebild.png" in (REPO / "README.md").read_text(encoding="utf-8")


_FRESH_FRAME_PATHS = """() => {
  const frames = [...document.querySelectorAll('iframe[src*="streamlit_folium.st_folium"]')]
    .filter(f => !f.dataset.old);
  const doc = frames.length ? frames[0].contentDocument : null;
  return !!(doc && doc.querySelectorAll("path.leaflet-interactive").length > 0);
}"""


def test_page_options_rerun_their_fragment_map_and_url(server, page) -> None:
    """The Lagebild's options (metric, layers) live in an st.fragment: a change still draws
    a new map and writes the URL, and leaves the sidebar's filters as they were."""
    page.goto(f"{server.url}/lagebild?d=heessen")
    wait_for_app(page)
    map_frame(page).wait_for_selector("path.leaflet-interactive")
    legends = " ".join(map_frame(page).locator(".lagebild-legend").all_inner_texts())
    assert "je 1.000 Einwohner" in legends  # the default metric colours the districts
    page.evaluate("() => document.querySelectorAll('iframe').forEach(f => { f.dataset.old = '1'; })")
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Bezirke einfärben nach").first
    box.locator('input[role="combobox"]').click()
    page.get_by_role("option", name="Beschwerden", exact=True).click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('m') === 'complaints'",
                           timeout=30_000)
    page.wait_for_function(_FRESH_FRAME_PATHS, timeout=60_000)  # a new map, drawn
    wait_for_app(page)
    legends = " ".join(map_frame(page).locator(".lagebild-legend").all_inner_texts())
    assert "Beschwerden" in legends and "je 1.000 Einwohner" not in legends
    layers = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Ebenen beim Öffnen").first
    layers.locator('input[role="combobox"]').click()
    page.get_by_role("option", name="Präsenzlücken").click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => (new URLSearchParams(location.search).get('l') || '').split(',').includes('gap')",
        timeout=30_000)
    wait_for_app(page)
    query = parse_qs(urlparse(page.evaluate("location.href")).query)
    assert query["d"] == ["heessen"] and query["m"] == ["complaints"]  # filters kept
    sidebar = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(
        has_text="Bezirke").first
    assert sidebar.get_by_text("Heessen").count() == 1
    assert page.recorder.external == []
