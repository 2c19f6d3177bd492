"""Exports of a view: CSV, GeoJSON, standalone HTML map, PNG images and a PDF report.

All functions are plain Python and take what the view shows (already restricted to the
role and, in conference mode, anonymised); nothing here decides what may be exported.

Nothing is downloaded and nothing leaves the machine:

- Charts become PNG through kaleido 1.x driving the system's Chromium
  (:data:`CHROMIUM`, ``/usr/bin/chromium``), with plotly.js from the installed plotly
  package and MathJax off (kaleido's defaults would load MathJax from a CDN). All HTTP(S) of
  that browser goes to a dead local proxy.
- The map becomes PNG, and the report PDF, through Playwright driving the same Chromium:
  the standalone HTML is loaded with every request outside ``file:``/``data:``/``about:``
  aborted (and counted), so the images show exactly what works offline. Maps for images
  carry only base tiles the app has locally (embedded as ``data:`` URIs), never online ones.

Images carry their alt text: PNG text chunks ``Title`` and ``Description``; ``alt`` on the
``<img>`` elements of the report (the PDF is tagged, so the alt text reaches the PDF).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import h3
import pandas as pd
import plotly
import plotly.graph_objects as go
from PIL import Image, PngImagePlugin

from base.i18n import check_lang
from data.csvsafe import neutralise_formulas
from geo.assets import VENDOR_DIR, inline_assets, install
from geo.maps import embed_base_tiles, map_html, to_js

CHROMIUM = os.environ.get("LAGEBILD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-default-apps", "--disable-extensions",
]
#: Where kaleido's browser sends HTTP(S): nowhere (nothing it renders needs the network).
DEAD_PROXY = "http://127.0.0.1:9"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_LOCAL_SCHEMES = ("data:", "about:", "blob:")  # no file: an export never reads local files
#: What makes a browser load from another host: src=, <link href=>, CSS url() and @import.
_URL = re.compile(r"""\bsrc\s*=\s*["'](?:https?:)?//[^"']+"""
                  r"""|<link\b[^>]*\bhref\s*=\s*["'](?:https?:)?//[^"']+"""
                  r"""|url\(\s*["']?(?:https?:)?//[^)"']+|@import\s+["']?(?:https?:)?//[^;"']+""", re.I)


# --- tables -------------------------------------------------------------------------------------


def csv_bytes(frame: pd.DataFrame, lang: str = "de") -> bytes:
    """CSV as Excel reads it: UTF-8 with BOM; German ``;`` and decimal comma, English ``,``/``.``."""
    check_lang(lang)
    text = neutralise_formulas(frame).to_csv(index=False, sep=";" if lang == "de" else ",",
                        decimal="," if lang == "de" else ".", lineterminator="\n")
    return ("\ufeff" + text).encode("utf-8")


def _json_value(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def cells_geojson(cells: pd.DataFrame, properties: Sequence[str], name: str = "cells") -> bytes:
    """H3 cells as a GeoJSON FeatureCollection (WGS84 polygons) with the given properties.

    ``cells`` needs an ``h3`` column; NaN becomes ``null``. The feature id is the H3 id.
    """
    missing = [c for c in ["h3", *properties] if c not in cells.columns]
    if missing:
        raise ValueError(f"cells_geojson needs the columns {['h3', *properties]}; missing {missing}")
    features = []
    for rec in cells[["h3", *[p for p in properties if p != "h3"]]].to_dict("records"):
        cell = str(rec.pop("h3"))
        if not h3.is_valid_cell(cell):
            raise ValueError(f"not a valid H3 cell id, got {cell!r}")
        ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        features.append({"type": "Feature", "id": cell,
                         "properties": {"h3": cell, **{k: _json_value(v) for k, v in rec.items()}},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    doc = {"type": "FeatureCollection", "name": name, "features": features}
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- HTML map -------------------------------------------------------------------------------------


def _vendor_dir() -> Path:
    """The vendored Leaflet files (copied from their packages if ``make assets`` has not run)."""
    if not all((VENDOR_DIR / rel).exists() for rel in ("leaflet/leaflet.js", "leaflet/leaflet.css")):
        install(VENDOR_DIR)
    return VENDOR_DIR


def standalone_map_html(m, title: str, alt: str, lang: str = "de") -> str:
    """The map as one HTML file that works offline: every Leaflet asset inlined.

    ``title`` becomes the document title, ``alt`` its description (a ``<meta>`` and the
    map's accessible label). Base tiles served by the app (a local tile set, the cache of
    viewed tiles) are embedded as ``data:`` URIs for the view (:func:`geo.maps.embed_base_tiles`);
    other online tiles still come from their server when the file is opened online.
    """
    check_lang(lang)
    embed_base_tiles(m)
    text = inline_assets(map_html(m), source=_vendor_dir())
    head = (f'<title>{html.escape(title)}</title>\n<meta name="description" content="{html.escape(alt)}">\n'
            f'<meta name="generator" content="Lagebild">')
    text = text.replace("<head>", f"<head>\n{head}", 1)
    if not text.lstrip().lower().startswith("<!doctype html>"):
        text = "<!DOCTYPE html>\n" + text
    text = re.sub(r"<html(\s|>)", f'<html lang="{lang}"\\1', text, count=1)
    label = (f'<script>document.querySelectorAll(".folium-map").forEach(function (e) {{'
             f'e.setAttribute("role", "img"); e.setAttribute("aria-label", {to_js(alt)}); }});</script>')
    return text.replace("</body>", f"{label}\n</body>", 1)


def external_urls(text: str) -> list[str]:
    """References that would make a browser load from another host (``src``, stylesheet
    links, CSS ``url()``/``@import``); plain links (``<a href>``) are not loads."""
    return [m.group(0) for m in _URL.finditer(text)]


# --- PNG --------------------------------------------------------------------------------------------


def with_png_text(png: bytes, title: str, description: str) -> bytes:
    """The PNG with ``Title``, ``Description`` (alt text) and ``Software`` text chunks."""
    image = Image.open(io.BytesIO(png))
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", title)
    info.add_text("Description", description)
    info.add_text("Software", "Lagebild")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


def png_text(png: bytes) -> dict[str, str]:
    """The text chunks of a PNG (``Title``, ``Description``, …)."""
    image = Image.open(io.BytesIO(png))
    image.load()
    return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}


def figure_png(fig: go.Figure, title: str, alt: str, width: int = 1200, height: int = 675,
               scale: float = 1.0) -> bytes:
    """A plotly figure as PNG through kaleido and the system's Chromium (no download)."""
    import kaleido

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"Chromium is needed for image exports, got no file at {CHROMIUM!r}")
    png = kaleido.calc_fig_sync(
        fig, opts={"format": "png", "width": int(width), "height": int(height), "scale": scale},
        kopts={"path": CHROMIUM, "mathjax": False, "plotlyjs": str(PLOTLY_JS),
               "proxy_server": DEAD_PROXY})
    return with_png_text(png, title, alt)


@dataclass
class BrowserLog:
    """Requests the export browser refused (anything but ``file:``/``data:``/``about:``) and
    how many map shapes it drew."""

    blocked: list[str] = field(default_factory=list)
    drawn: int = 0


def _in_chromium(job: Callable, log: BrowserLog | None = None):
    """Run ``job(browser_context)`` in headless Chromium (Playwright) in a worker thread.

    Playwright's sync API must not run inside an asyncio loop; a fresh thread has none.
    """
    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"Chromium is needed for image exports, got no file at {CHROMIUM!r}")
    log = log if log is not None else BrowserLog()

    def route(r) -> None:
        url = r.request.url
        if url.startswith(_LOCAL_SCHEMES):
            r.continue_()
        else:
            log.blocked.append(url)
            r.abort()

    def run():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="de-DE",
                                              device_scale_factor=1)
                context.route("**/*", route)
                return job(context)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=180)


def _map_png(context, page_html: str, width: int, height: int, log: BrowserLog) -> bytes:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.set_content(page_html, wait_until="load")
    page.wait_for_selector(".leaflet-container", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.leaflet-interactive').length > 0 || "
                           "document.querySelector('.leaflet-control-layers')", timeout=30_000)
    page.wait_for_function("() => Array.from(document.querySelectorAll('img.leaflet-tile'))"
                           ".every(i => i.complete)", timeout=30_000)
    page.wait_for_timeout(300)  # fitBounds and legends settle
    log.drawn = page.locator(".leaflet-interactive").count()
    return page.screenshot(type="png")


def map_png(page_html: str, title: str, alt: str, width: int = 1400, height: int = 900,
            log: BrowserLog | None = None) -> bytes:
    """A standalone map HTML (:func:`standalone_map_html`) as PNG, rendered offline."""
    log = log if log is not None else BrowserLog()
    png = _in_chromium(lambda ctx: _map_png(ctx, page_html, width, height, log), log)
    return with_png_text(png, title, alt)


# --- PDF report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportImage:
    png: bytes
    alt: str
    caption: str


@dataclass(frozen=True)
class Report:
    """What a quarter report holds; every text is plain (escaped when rendered)."""

    title: str
    subtitle: str
    kpis: list[tuple[str, str]]  # (label, value)
    images: list[ReportImage]
    tables: list[tuple[str, pd.DataFrame]]
    notes: list[str]
    lang: str = "de"


_REPORT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
body { font: 10.5pt/1.4 "DejaVu Sans", system-ui, sans-serif; color: #111; }
h1 { font-size: 18pt; margin: 0 0 2mm 0; color: #00305f; }
h2 { font-size: 13pt; margin: 7mm 0 2mm 0; color: #00305f; break-after: avoid; }
p.sub { margin: 0 0 4mm 0; color: #333; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
th, td { border: 1px solid #999; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #e8eef5; }
td.num { text-align: right; }
table.kpi td.v { font-size: 13pt; font-weight: 700; text-align: right; }
figure { margin: 3mm 0; break-inside: avoid; }
figure img { width: 100%; border: 1px solid #bbb; }
figcaption { font-size: 9pt; color: #333; margin-top: 1mm; }
.notes { font-size: 8.5pt; color: #333; margin-top: 6mm; }
tr { break-inside: avoid; }
"""


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for v in rec:
            text = "" if v is None or (isinstance(v, float) and v != v) else str(v)
            num = isinstance(v, int | float) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def report_html(report: Report) -> str:
    """The report as a self-contained HTML page (images as data URIs, text escaped)."""
    check_lang(report.lang)
    e = html.escape
    kpis = "".join(f'<tr><th scope="row">{e(k)}</th><td class="v">{e(v)}</td></tr>'
                   for k, v in report.kpis)
    parts = [f"<h1>{e(report.title)}</h1>", f'<p class="sub">{e(report.subtitle)}</p>']
    if kpis:
        parts.append(f'<table class="kpi">{kpis}</table>')
    for image in report.images:
        data = base64.b64encode(image.png).decode("ascii")
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(image.alt)}">'
                     f"<figcaption>{e(image.caption)}</figcaption></figure>")
    for title, frame in report.tables:
        parts.append(f"<h2>{e(title)}</h2>{_table_html(frame)}")
    if report.notes:
        parts.append('<div class="notes">' + "".join(f"<p>{e(n)}</p>" for n in report.notes) + "</div>")
    return (f'<!DOCTYPE html>\n<html lang="{report.lang}"><head><meta charset="utf-8">'
            f"<title>{e(report.title)}</title><style>{_REPORT_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


_FOOTER = ('<div style="font-size:8pt;width:100%;text-align:center"><span class="pageNumber"></span>'
           ' / <span class="totalPages"></span></div>')


def _pdf(context, page_html: str) -> bytes:
    page = context.new_page()
    page.set_content(page_html, wait_until="load")
    return page.pdf(format="A4", print_background=True, tagged=True, outline=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template=_FOOTER,
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})


def report_pdf(report: Report, log: BrowserLog | None = None) -> bytes:
    """The report as PDF (Chromium's print to PDF, tagged, A4)."""
    return _in_chromium(lambda ctx: _pdf(ctx, report_html(report)), log)


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF (a quick structural check; pypdf is used by the tests)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
