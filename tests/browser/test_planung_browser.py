"""The Planung page in headless Chromium: the places map, the week table, the GPX download."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import map_frame, screenshot, wait_for_app

pytestmark = pytest.mark.browser
GPX = "{http://www.topografix.com/GPX/1/1}"


def test_planung_page_map_table_and_gpx(server, page) -> None:
    page.goto(f"{server.url}/planung")
    wait_for_app(page)
    page.get_by_role("heading", name="Wochenplan").wait_for(timeout=60_000)
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Einsatzorte als GPX (Handgeräte)").click()
    root = ET.fromstring(Path(info.value.path()).read_bytes())
    assert root.get("version") == "1.1"
    places = root.findall(f"{GPX}wpt")
    assert len(places) >= 5
    # one polygon per place on the map (places are unions of cells, drawn as one shape each)
    assert frame.locator("path.leaflet-interactive").count() == len(places)
    page.wait_for_load_state("networkidle")
    assert page.recorder.external == []
    screenshot(page, "planung")
