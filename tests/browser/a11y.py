"""Accessibility checks in the browser: axe-core in every frame, focus and reflow helpers.

axe-core comes from npm (``package.json``/``package-lock.json``; ``make test`` runs ``npm
ci`` when ``node_modules/axe-core`` is missing), never from a copy in the repository. It is
injected into the page and into every frame (maps and components are iframes: axe must run
in each one) and run there with all its rules. A violation *fails* when its impact is
serious or critical or when it belongs to a WCAG 2.0/2.1 A or AA rule; the others (best
practices of minor or moderate impact) are reported only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from harness import REPO

AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
FAILING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `make axe` (npm ci installs axe-core from npm)")
    return AXE_JS.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    frame: str  # "page" or the frame's title/url
    rule: str
    impact: str
    tags: tuple[str, ...]
    targets: tuple[str, ...]
    help: str

    @property
    def fails(self) -> bool:
        return self.impact in FAILING_IMPACTS or any(tag in WCAG_TAGS for tag in self.tags)

    def __str__(self) -> str:
        return f"[{self.frame}] {self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:4])}"


def _frame_label(frame) -> str:
    if frame.parent_frame is None:
        return "page"
    try:
        title = frame.frame_element().get_attribute("title") or ""
    except Exception:  # a frame that went away while we looked
        title = ""
    return title or frame.url[:60]


def run_axe(page) -> list[Violation]:
    """Run axe-core in the page and in each of its frames; every violation found."""
    out: list[Violation] = []
    for frame in page.frames:
        if frame.is_detached() or (frame.url in ("", "about:blank") and frame.parent_frame is not None):
            continue
        label = _frame_label(frame)
        if not frame.evaluate("() => typeof window.axe === 'object'"):
            frame.evaluate(axe_source())
        raw = frame.evaluate(
            "async () => JSON.stringify((await axe.run(document, {iframes: false, "
            "resultTypes: ['violations']})).violations)")
        for v in json.loads(raw):
            targets = tuple(json.dumps(n["target"]) for n in v["nodes"])
            out.append(Violation(label, v["id"], v["impact"] or "", tuple(v["tags"]), targets, v["help"]))
    return out


def failing(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.fails]


def settled(page, timeout: float = 60_000, quiet_ms: int = 750) -> None:
    """Wait until no script run is going on and no element is drawn as stale (faded), and
    that has held for ``quiet_ms`` (a page may rerun once more right after its first run,
    e.g. when it writes its state into the URL)."""
    page.wait_for_function(
        """(quiet) => {
            const busy = document.querySelector('[data-testid="stStatusWidget"]')
                || document.querySelector('[data-stale="true"]');
            const now = performance.now();
            if (busy || window.__lagebildQuietSince === undefined) { window.__lagebildQuietSince = now; }
            return !busy && now - window.__lagebildQuietSince >= quiet;
        }""", arg=quiet_ms, timeout=timeout, polling=100)


def wait_for_content(page, maps: int = 0, charts: int = 0, timeout: float = 60_000) -> None:
    """Wait until the page has drawn ``maps`` maps (Leaflet inside each map frame) and
    ``charts`` plotly charts, its requests are done and nothing is stale."""
    settled(page, timeout)
    if maps:
        page.wait_for_function(
            f"() => document.querySelectorAll('iframe[title^=\"Karte\"], iframe[title^=\"Map\"]')"
            f".length >= {maps}", timeout=timeout)
    if charts:
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {charts}",
                               timeout=timeout)
    for handle in page.query_selector_all('iframe[title^="Karte"], iframe[title^="Map"], '
                                          'iframe[title="streamlit_folium.st_folium"]'):
        frame = handle.content_frame()
        if frame is not None:
            frame.wait_for_selector(".leaflet-container[aria-label]", state="attached", timeout=timeout)
    settled(page, timeout)


#: What each page draws with the demo data (default views): maps and plotly charts.
PAGE_CONTENT = {
    "uebersicht": (1, 0), "lagebild": (1, 0), "bezirke": (0, 3), "praesenz": (1, 2),
    "beschwerden": (2, 2), "daten": (0, 0), "praesentation": (1, 0), "barrierefreiheit": (0, 0),
    "planung": (0, 0),
}
