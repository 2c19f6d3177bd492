"""Präsentation page, exports and shareable links in headless Chromium (all offline)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pypdf
import pytest
from harness import Recorder, StreamlitServer, map_frame, screenshot, wait_for_app
from PIL import Image

from viz.exports import png_text

pytestmark = pytest.mark.browser


def h1(page) -> str:
    return page.locator("h1").first.inner_text()


def current_query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.evaluate("location.href")).query)


def open_exports(page) -> None:
    page.get_by_text("Exportieren").click()


def fetch(page, label: str, tmp_path: Path, timeout: float = 60_000) -> bytes:
    """Click a download button and return the downloaded file's bytes."""
    button = page.get_by_role("button", name=label)
    button.wait_for(timeout=timeout)
    with page.expect_download(timeout=timeout) as info:
        button.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target.read_bytes()


def make(page, label: str, ready: str, tmp_path: Path) -> bytes:
    """Click "<what> erstellen", wait for the progress to finish, download the file."""
    page.get_by_role("button", name=label).click()
    return fetch(page, ready, tmp_path, timeout=120_000)


def test_presentation_is_full_screen_and_steps_with_arrow_keys(server, page) -> None:
    page.goto(f"{server.url}/praesentation")
    wait_for_app(page)
    assert h1(page) == "Hotspots (Getis-Ord Gi*)"
    page.wait_for_selector('[data-testid="stSidebar"]', state="hidden", timeout=10_000)  # full screen
    assert page.get_by_text("anonymisiert (k ≥ 5)").first.is_visible()
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    assert frame.locator(".leaflet-marker-icon").count() == 0  # no offices, no single points
    size = page.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")
    assert float(size.rstrip("px")) >= 40  # large type
    screenshot(page, "praesentation-hotspots")

    expected = [("Präsenzlücken", "gap"), ("Beschwerden je Quartal", "trend"),
                ("Bezirke im Vergleich", "districts"), ("Hotspots (Getis-Ord Gi*)", "hotspots")]
    for title, view in expected:
        page.locator("h1").first.click()  # focus the page, not the map
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.querySelector('h1').innerText === {json.dumps(title)}",
                               timeout=30_000)
        page.wait_for_function(f"() => location.href.includes('s={view}')", timeout=30_000)
        if view in ("trend", "districts"):
            page.wait_for_selector(".js-plotly-plot", timeout=30_000)
            screenshot(page, f"praesentation-{view}")
    page.locator("h1").first.click()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('h1').innerText === 'Bezirke im Vergleich'",
                           timeout=30_000)
    assert page.recorder.external == []
    assert page.recorder.dialogs == []


def test_presentation_exports_are_valid_and_offline(server, page, browser, tmp_path) -> None:
    page.goto(f"{server.url}/praesentation?s=trend")
    wait_for_app(page)
    open_exports(page)

    csv = fetch(page, "Tabelle als CSV · Bezirke im Vergleich", tmp_path)
    assert csv.startswith(b"\xef\xbb\xbf") and "Bezirk;Beschwerden" in csv.decode("utf-8-sig")
    cells = json.loads(fetch(page, "Zellen als GeoJSON", tmp_path))
    assert cells["type"] == "FeatureCollection" and cells["features"]
    assert all(feat["properties"]["count"] >= 5 for feat in cells["features"])

    html = fetch(page, "Karte als HTML (offline)", tmp_path).decode("utf-8")
    offline = browser.new_context(viewport={"width": 1200, "height": 800})
    rec = Recorder()
    offline.route("**/*", rec.route)
    viewer = offline.new_page()
    viewer.set_content(html, wait_until="load")
    viewer.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert viewer.locator("path.leaflet-interactive").count() == 7 + len(cells["features"]) - sum(
        1 for feat in cells["features"] if feat["properties"]["cls"] in ("none",))
    assert rec.external == [] and rec.requests == []  # nothing at all was requested
    offline.close()

    png = make(page, "Diagramm als PNG erstellen", "Diagramm als PNG herunterladen", tmp_path)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width >= 800
    assert png_text(png)["Description"].startswith("Liniendiagramm")
    map_png = make(page, "Karte als PNG erstellen", "Karte als PNG herunterladen", tmp_path)
    assert png_text(map_png)["Description"].startswith("Karte")
    pdf = make(page, "Quartalsbericht als PDF erstellen", "Quartalsbericht als PDF herunterladen", tmp_path)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert "Anonymisiert" in " ".join(p.extract_text() for p in reader.pages)
    assert page.recorder.external == []
    screenshot(page, "praesentation-exports")


def test_lagebild_exports_in_the_browser(server, page, tmp_path) -> None:
    page.goto(f"{server.url}/lagebild?l=districts,hotspots")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_selector("path.leaflet-interactive")
    open_exports(page)
    csv = fetch(page, "Tabelle als CSV · Vergleich aller Bezirke", tmp_path).decode("utf-8-sig")
    assert len(csv.strip().splitlines()) == 1 + 7
    html = fetch(page, "Karte als HTML (offline)", tmp_path).decode("utf-8")
    assert "<title>Lagebild</title>" in html and "/app/static" not in html
    pdf = make(page, "Quartalsbericht als PDF erstellen", "Quartalsbericht als PDF herunterladen", tmp_path)
    assert pdf.startswith(b"%PDF-") and len(pypdf.PdfReader(io.BytesIO(pdf)).pages) >= 2
    assert page.recorder.external == []


def test_link_copy_shows_the_current_address_and_reproduces_the_view(server, page, browser) -> None:
    page.goto(f"{server.url}/lagebild?d=heessen&m=trend&l=districts,gap")
    wait_for_app(page)
    # the page writes its state into the address in its first runs; the link is taken after
    # that (opened during such a run, the popover could be redrawn closed under the cursor)
    page.wait_for_function("() => location.href.includes('m=trend')", timeout=30_000)
    wait_for_app(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Link kopieren").click()
    frame = page.frame_locator('iframe[title="st.iframe"]').first
    field = frame.locator("input#u")
    field.wait_for(timeout=30_000)
    link = field.input_value()
    assert link == page.evaluate("location.href")
    frame.get_by_role("button", name="Kopieren").click()
    frame.locator("#s").wait_for(timeout=5_000)
    query = current_query(page)
    assert query["d"] == ["heessen"] and query["m"] == ["trend"] and query["l"] == ["districts,gap"]

    other = browser.new_context(viewport={"width": 1500, "height": 1000})
    p2 = other.new_page()
    p2.goto(link)
    wait_for_app(p2)
    assert h1(p2) == "Lagebild"
    sidebar = p2.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]')
    sidebar.filter(has_text="Bezirke").first.get_by_text("Heessen").wait_for(timeout=30_000)
    assert p2.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]').first.inner_text().count(
        "Präsenzlücken") == 1
    other.close()


@pytest.fixture(scope="module")
def coordinator_server():
    """A local start narrowed to a coordinator of Heessen (LAGEBILD_LOCAL_ROLE)."""
    s = StreamlitServer({"LAGEBILD_LOCAL_ROLE": "coordinator", "LAGEBILD_LOCAL_DISTRICTS": "heessen"})
    yield s
    s.stop()


def test_a_link_never_widens_what_the_receiver_sees(coordinator_server, page) -> None:
    # an admin's link to Mitte, opened by the coordinator of Heessen
    page.goto(f"{coordinator_server.url}/bezirke?d=mitte&b=mitte")
    wait_for_app(page)
    assert page.get_by_text("ungültige Angaben im Link wurden ignoriert").first.is_visible()
    page.wait_for_selector('[data-testid="stDataFrame"]')
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Heessen" in body and "Mitte" not in body
    assert "Koordination" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert page.recorder.external == []


def test_coordinator_sees_own_raw_points_clustered_offline(coordinator_server, page) -> None:
    page.goto(f"{coordinator_server.url}/lagebild?l=districts,points")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_selector(".marker-cluster", timeout=30_000)
    assert frame.locator("path.leaflet-interactive").count() >= 1  # the one district
    clustered = sum(int(t) for t in frame.locator(".marker-cluster span").all_inner_texts())
    assert clustered > 0  # the clusters count the single complaints they hold
    assert frame.get_by_text("Einzelne Beschwerden (gebündelt)").count() == 1
    assert page.recorder.external == [] and page.recorder.dialogs == []
    screenshot(page, "lagebild-coordinator-points")
