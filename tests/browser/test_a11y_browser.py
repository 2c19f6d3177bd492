"""Accessibility in headless Chromium: axe-core on every page in both languages and in every
frame, the document language, a keyboard-only walk, reflow at 320 CSS pixels, the statement.

One Streamlit server for the module (the session's ``server`` fixture, demo data, tiles off).
"""

from __future__ import annotations

import json

import pytest
from a11y import PAGE_CONTENT, failing, run_axe, settled, wait_for_content
from harness import screenshot, wait_for_app

from ui.chrome import PAGES

pytestmark = pytest.mark.browser

URLS = [url for _path, _key, url, _icon in PAGES]
# The Präsentation page's other views (the default view is "hotspots").
VIEWS = [("praesentation?s=gap", 1, 0), ("praesentation?s=trend", 0, 1), ("praesentation?s=districts", 0, 2)]


def open_page(page, server, path: str, lang: str, maps: int = 0, charts: int = 0) -> None:
    sep = "&" if "?" in path else "?"
    page.goto(f"{server.url}/{path}{sep}lang={lang}")
    wait_for_app(page)
    wait_for_content(page, maps, charts)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_axe_finds_no_serious_violation_on_any_page_or_frame(server, page, lang: str) -> None:
    """Every page and Präsentation view, every frame: no serious/critical violation and none of
    the WCAG 2.0/2.1 A/AA rules (axe-core from npm)."""
    report: dict[str, list[str]] = {}
    frames_checked = 0
    for url in URLS:
        open_page(page, server, url, lang, *PAGE_CONTENT.get(url, (0, 0)))
        found = run_axe(page)
        frames_checked += len(page.frames)
        report[url] = [str(v) for v in failing(found)]
    for path, maps, charts in VIEWS:
        open_page(page, server, path, lang, maps, charts)
        report[path] = [str(v) for v in failing(run_axe(page))]
    assert frames_checked > len(URLS)  # the map frames were entered too
    assert {k: v for k, v in report.items() if v} == {}, json.dumps(report, indent=1, ensure_ascii=False)
    assert page.recorder.external == []


def test_document_language_follows_the_ui_language(server, page) -> None:
    open_page(page, server, "lagebild", "en", 1)
    assert page.evaluate("document.documentElement.lang") == "en"
    frame = page.frame_locator('iframe[title^="Map"]').first
    assert frame.locator("html").get_attribute("lang") == "en"
    # switch to German in the sidebar: the document follows without a reload
    page.locator('[data-testid="stSidebar"] [role="radiogroup"] label').filter(has_text="DE").click()
    page.wait_for_function("() => document.documentElement.lang === 'de'", timeout=30_000)
    page.wait_for_selector('iframe[title^="Karte"]', timeout=60_000)
    assert page.frame_locator('iframe[title^="Karte"]').first.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").first.inner_text() == "Lagebild"


def _focused(page) -> dict:
    """The focused element, followed into same-origin frames, and whether its focus is visible."""
    return page.evaluate("""() => {
        let d = document, e = d.activeElement, frame = null;
        while (e && e.tagName === 'IFRAME') {
            try { frame = e.getAttribute('title'); d = e.contentDocument; e = d.activeElement; }
            catch (x) { break; }
        }
        if (!e) { return {}; }
        const cs = d.defaultView.getComputedStyle(e);
        const visible = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1)
            || (cs.boxShadow && cs.boxShadow !== 'none');
        return {frame: frame, tag: e.tagName, role: e.getAttribute('role') || '',
                label: e.getAttribute('aria-label') || e.getAttribute('title') || '',
                text: (e.innerText || e.value || '').trim().slice(0, 80), cls: String(e.className || ''),
                href: e.getAttribute('href') || '', visible: visible};
    }""")


def tab_to(page, match, limit: int = 120, back: bool = False) -> dict:
    """Press Tab (Shift+Tab with ``back``) until the focused element matches; return it."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        f = _focused(page)
        if match(f):
            return f
    raise AssertionError(f"not reached by keyboard within {limit} steps; last focus: {_focused(page)}")


def test_keyboard_walk_of_the_lagebild_page(server, page) -> None:
    """Keyboard only: filters, page links, layer switches, the map (pan, zoom, office popup
    with focus and Esc), exports; every stop shows its focus."""
    open_page(page, server, "lagebild", "de", 1)
    page.locator("h1").first.click()  # start from the page (a click that focuses nothing)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    # sidebar: page links and filters (Shift+Tab goes backwards from the main area into the sidebar)
    link = tab_to(page, lambda f: f.get("tag") == "A" and "Bezirke" in f.get("text", ""), back=True)
    assert link["visible"]
    district = tab_to(page, lambda f: f.get("role") == "combobox" and "Bezirke" in f.get("label", ""))
    assert district["visible"]
    page.keyboard.press("ArrowDown")
    page.wait_for_selector('[role="option"]', timeout=10_000)
    page.keyboard.press("Enter")  # choose the first district
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.href.includes('d=')", timeout=30_000)
    settled(page)
    statement = tab_to(page, lambda f: "barrierefreiheit" in f.get("href", ""))
    assert statement["visible"]
    # main area: the layer choice, then into the map
    layers = tab_to(page, lambda f: f.get("role") == "combobox" and "Ebenen" in f.get("label", ""))
    assert layers["visible"]
    container = tab_to(page, lambda f: f.get("frame") and "leaflet-container" in f.get("cls", ""))
    assert container["label"].startswith("Karte: ") and container["visible"]
    frame = page.frame_locator('iframe[title^="Karte"]').first.locator("html").element_handle().owner_frame()
    center = frame.evaluate("() => { const c = map_div.getCenter(); return [c.lat, c.lng]; }")
    zoom = frame.evaluate("() => map_div.getZoom()")
    page.keyboard.press("ArrowRight")
    frame.wait_for_function(f"() => map_div.getCenter().lng > {center[1]}", timeout=10_000)
    page.keyboard.press("+")
    frame.wait_for_function(f"() => map_div.getZoom() > {zoom}", timeout=10_000)
    # an office marker: Enter opens its popup, the popup takes focus, Esc closes it and returns focus
    marker = tab_to(page, lambda f: "leaflet-marker-icon" in f.get("cls", ""))
    assert marker["label"] and marker["visible"]
    page.keyboard.press("Enter")
    frame.wait_for_selector(".leaflet-popup", timeout=10_000)
    inside = _focused(page)
    assert "leaflet-popup-content" in inside["cls"]
    page.keyboard.press("Escape")
    frame.wait_for_selector(".leaflet-popup", state="detached", timeout=10_000)
    assert _focused(page)["label"] == marker["label"]  # back on the marker
    # the layer switches inside the map
    switch = tab_to(page, lambda f: f.get("tag") == "INPUT" and "leaflet-control-layers" in f.get("cls", ""))
    assert switch["visible"]
    before = frame.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length")
    checked = frame.evaluate("() => document.activeElement.checked")
    page.keyboard.press("Space")
    frame.wait_for_function(f"() => document.activeElement.checked !== {json.dumps(checked)}", timeout=10_000)
    assert frame.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length") != before
    zoom_in = tab_to(page, lambda f: "Vergrößern" in f.get("label", ""), back=True)
    assert zoom_in["visible"]
    # out of the map to the exports: open the expander, reach a download button, download
    tab_to(page, lambda f: f.get("frame") is None and "Exportieren" in f.get("text", ""))
    page.keyboard.press("Enter")
    csv = tab_to(page, lambda f: f.get("tag") == "BUTTON" and "Tabelle als CSV" in f.get("text", ""))
    assert csv["visible"]
    with page.expect_download(timeout=30_000) as info:
        page.keyboard.press("Enter")
    assert info.value.suggested_filename.endswith(".csv")
    # the text alternative of the map is reachable too
    tab_to(page, lambda f: "Karteninhalt als Text und Tabelle" in f.get("text", ""), back=True)
    assert page.recorder.external == []


def test_keyboard_steps_through_the_presentation(server, page) -> None:
    open_page(page, server, "praesentation", "de", 1)
    nxt = tab_to(page, lambda f: f.get("tag") == "BUTTON" and "Weiter" in f.get("text", ""))
    assert nxt["visible"]
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('h1')?.innerText === 'Präsenzlücken'",
                           timeout=30_000)
    settled(page)
    back = tab_to(page, lambda f: f.get("tag") == "BUTTON" and "Zurück" in f.get("text", ""), back=True)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('h1')?.innerText.startsWith('Hotspots')",
                           timeout=30_000)
    assert back["visible"]
    link = tab_to(page, lambda f: "barrierefreiheit" in f.get("href", ""))
    assert link["visible"]
    page.keyboard.press("Enter")
    title = "Erklärung zur Barrierefreiheit"
    page.wait_for_function(f"() => document.querySelector('h1')?.innerText === '{title}'", timeout=30_000)


@pytest.mark.parametrize("url", [*URLS, "praesentation?s=districts"])
def test_content_reflows_at_320_css_pixels(server, browser, url: str) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 800}, locale="de-DE")
    page = context.new_page()
    maps, charts = PAGE_CONTENT.get(url.split("?")[0], (0, 0))
    if "s=districts" in url:
        maps, charts = 0, 2
    page.goto(f"{server.url}/{url}")
    wait_for_app(page)
    wait_for_content(page, maps, charts)
    width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    screenshot(page, f"reflow-320-{url.replace('?', '-').replace('=', '-')}")
    assert width <= 320, f"{url}: the page scrolls sideways ({width} px wide)"
    context.close()


def test_map_and_chart_text_alternatives_in_the_browser(server, page) -> None:
    open_page(page, server, "beschwerden", "de", 2, 2)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("Kartenbeschreibung: Hotspots (Gi*):").count() == 1
    assert main.get_by_text("Diagramm", exact=False).filter(has_text="höchster Wert").count() >= 1
    main.get_by_text("Karteninhalt als Text und Tabelle").first.click()
    page.wait_for_selector('[data-testid="stExpanderDetails"] [data-testid="stDataFrame"]', timeout=30_000)
    # KPI tiles: one sentence each for screen readers, the tile's own texts hidden from them
    open_page(page, server, "uebersicht", "de", 1)
    sentences = page.locator(".lagebild-kpi-sentence").all_inner_texts()
    assert len(sentences) == 6 and sentences[0].startswith("Beschwerden: ")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]"
                           "[aria-hidden=\"true\"]').length === 6", timeout=10_000)
