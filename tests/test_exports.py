"""Exports: valid files (CSV, GeoJSON, offline HTML, PNG, PDF) and no raw text in any
conference or viewer output.

Images and PDFs are made in Debian's Chromium (/usr/bin/chromium) with every request
outside file:/data:/about: refused; the tests assert that nothing was even attempted.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import pytest
from PIL import Image

from base.i18n import t
from data.filters import Filters
from data.folder import DataBundle, load_folder
from data.periods import parse_quarter
from data.roles import Principal, restrict
from geo import maps
from geo import model as geo_model
from viz import exports, mapexport, pagedata, presentation, report

REPO = Path(__file__).resolve().parent.parent
F = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
SECRET_TEXT = "GEHEIM-Hinweisgeberin"
SECRET_ADDRESS = "Geheimweg 13"


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


@pytest.fixture(scope="module")
def secret(demo) -> DataBundle:
    """The demo with a recognisable description and address on every complaint."""
    frames = dict(demo.frames)
    c = frames["complaints"].copy()
    c["description"] = [f"{SECRET_TEXT} {i}" for i in range(len(c))]
    c["address"] = SECRET_ADDRESS
    frames["complaints"] = c
    return DataBundle(frames=frames, meta=dict(demo.meta), path=demo.path)


@pytest.fixture(scope="module")
def model(demo):
    return geo_model.build(demo, 9)


@pytest.fixture(scope="module")
def anon(demo, model):
    return presentation.anonymise(demo, model, F, "de", 5)


def no_secret(data: bytes | str, what: str) -> None:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    assert SECRET_TEXT not in text and SECRET_ADDRESS not in text, f"raw text in {what}"


def pdf_alt_texts(reader: pypdf.PdfReader) -> list[str]:
    alts: list[str] = []

    def walk(node) -> None:
        node = node.get_object()
        if isinstance(node, pypdf.generic.ArrayObject):
            for child in node:
                walk(child)
        elif isinstance(node, pypdf.generic.DictionaryObject):
            if "/Alt" in node:
                alts.append(str(node["/Alt"]))
            if "/K" in node:
                walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return alts


# --- tables --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "sep", "number"), [("de", ";", "1,5"), ("en", ",", "1.5")])
def test_csv_is_excel_friendly(lang, sep, number) -> None:
    data = exports.csv_bytes(pd.DataFrame({"Bezirk": ["Bockum-Hövel"], "x": [1.5]}), lang)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines() == [f"Bezirk{sep}x", f"Bockum-Hövel{sep}{number}"]


def test_cells_geojson_is_valid(anon) -> None:
    cells = presentation.cells_for_export(anon)
    doc = json.loads(exports.cells_geojson(cells, ["district_id", "cls", "count", "gap_rank"]))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(cells) > 0
    for feat in doc["features"]:
        ring = feat["geometry"]["coordinates"][0]
        assert feat["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 7
        assert all(7.6 < x < 8.0 and 51.6 < y < 51.8 for x, y in ring)  # Hamm, lon/lat order
        assert feat["properties"]["count"] >= 5
        assert feat["properties"]["gap_rank"] is None or feat["properties"]["gap_rank"] >= 1


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"h3": ["nonsense"], "count": [5]}), "not a valid H3 cell id, got 'nonsense'"),
    (pd.DataFrame({"cell": ["x"]}), "missing"),
])
def test_cells_geojson_rejects_bad_input(frame, message) -> None:
    with pytest.raises(ValueError, match=message):
        exports.cells_geojson(frame, ["count"])


# --- HTML -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", presentation.MAP_VIEWS)
def test_standalone_map_html_inlines_every_asset(demo, anon, view) -> None:
    m = presentation.view_map(demo, anon, F, "de", "none", view)
    page = exports.standalone_map_html(m, "Hotspots", "Karte: Alt-Text", "de")
    assert exports.external_urls(page) == []
    assert "/app/static" not in page  # nothing left that the app would have to serve
    assert "<title>Hotspots</title>" in page and 'content="Karte: Alt-Text"' in page
    assert '<html lang="de"' in page
    assert "L.map(" in page or "L.map (" in page


@pytest.mark.parametrize("alt", [
    "Mitte</script><script>alert(document.domain)</script>",
    "Bezirk \u2028 <!-- --> \"quoted\"",
])
def test_alt_text_cannot_break_out_of_the_script(alt: str) -> None:
    m = maps.base_map((7.7, 51.5, 8.0, 51.8), tiles="none")
    page = exports.standalone_map_html(m, "Lagebild", alt, "de")
    assert "<script>alert(document.domain)</script>" not in page
    assert page.count("</script>") == page.count("<script")  # no script closed early


def test_external_urls_finds_loads_not_links() -> None:
    page = ('<script src="https://cdn.example/a.js"></script><a href="https://osm.org">©</a>'
            '<link rel="stylesheet" href="//x.example/a.css"><style>b{background:url(https://t.example/1.png)}'
            "</style>")
    assert len(exports.external_urls(page)) == 3


# --- images and PDF (Chromium) ----------------------------------------------------------------------


def test_map_png_renders_offline_with_alt_text(demo, anon) -> None:
    log = exports.BrowserLog()
    page = exports.standalone_map_html(presentation.hotspot_map(demo, anon, F, "de", "none"), "Hotspots",
                                       "Karte mit Hotspots", "de")
    png = exports.map_png(page, "Hotspots", "Karte mit Hotspots", width=900, height=600, log=log)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (900, 600)
    assert exports.png_text(png)["Description"] == "Karte mit Hotspots"
    assert log.blocked == []
    assert log.drawn == 7 + len(anon.cells)  # the district polygons and every hot spot cell
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20  # a drawn map, not a blank page


def test_chart_png_through_kaleido_with_alt_text(anon) -> None:
    png = exports.figure_png(presentation.trend_figure(anon, "de"), "Trend", "Liniendiagramm äöü", 800, 400)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (800, 400)
    assert exports.png_text(png) == {"Title": "Trend", "Description": "Liniendiagramm äöü",
                                     "Software": "Lagebild"}


@pytest.mark.slow
@pytest.mark.parametrize("k", [None, 5])
def test_quarter_report_pdf(demo, model, k) -> None:
    log = exports.BrowserLog()
    steps: list[str] = []
    pdf = report.quarter_report(demo, model, F, "de", k=k, who="Test", progress=steps.append, log=log)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2 and exports.pdf_page_count(pdf) == len(reader.pages)
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Quartalsbericht" in text and "Beschwerden" in text and "Präsenzlücken" in text
    assert ("Anonymisiert" in text) is (k is not None)
    alts = pdf_alt_texts(reader)
    assert len(alts) == 3 and alts[0].startswith("Karte") and "Liniendiagramm" in alts[1]
    assert len(steps) == 4 and log.blocked == []


def test_report_html_escapes_text() -> None:
    page = exports.report_html(exports.Report(
        title="<script>x</script>", subtitle="a & b", kpis=[("<b>", "1")], images=[],
        tables=[("t", pd.DataFrame({"<i>": ["<img src=x onerror=alert(1)>"]}))], notes=["<u>"]))
    assert "<script>x" not in page and "<img src=x" not in page and "&lt;b&gt;" in page


# --- no raw text in conference or viewer outputs ------------------------------------------------------


def conference_outputs(bundle, model) -> dict[str, bytes | str]:
    a = presentation.anonymise(bundle, model, replace(F, q_from=parse_quarter("2024-Q4")), "de", 5)
    out: dict[str, bytes | str] = {}
    for view in presentation.MAP_VIEWS:
        m = presentation.view_map(bundle, a, F, "de", "osm", view)
        out[f"{view} map (app)"] = maps.map_html(m)
        out[f"{view} map (HTML export)"] = exports.standalone_map_html(m, view, "alt", "de")
    out["districts CSV"] = exports.csv_bytes(presentation.district_display(a, "de"))
    out["gap CSV"] = exports.csv_bytes(presentation.gap_table(a, "de"))
    out["cells GeoJSON"] = exports.cells_geojson(presentation.cells_for_export(a), ["cls", "count"])
    for view in presentation.CHART_VIEWS:
        out[f"{view} chart"] = presentation.view_chart(a, "de", view).to_json()
    return out


def viewer_outputs(bundle, model) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {
        "Lagebild map": maps.map_html(pagedata.lagebild_map(bundle, model, F, "de", "none")),
        "overview map": maps.map_html(pagedata.overview_map(bundle, model, F, "de", "none")),
        "presence map": maps.map_html(pagedata.presence_map(bundle, model, F, "de", "none")),
        "districts CSV": exports.csv_bytes(pagedata.display_district_table(
            pagedata.district_table(bundle, model, F), "de")),
        "gap CSV": exports.csv_bytes(pagedata.gap_table(bundle, model, F, "de")),
        "cells GeoJSON": exports.cells_geojson(pagedata.complaint_cells(bundle, model, F), ["value"]),
    }
    return out


def test_no_raw_text_in_conference_outputs(secret) -> None:
    model = geo_model.build(secret, 9)
    for what, data in conference_outputs(secret, model).items():
        no_secret(data, what)


def test_no_raw_text_in_viewer_outputs(secret) -> None:
    viewer = restrict(secret, Principal("viewer"))
    assert viewer["complaints"]["description"].isna().all()
    model = geo_model.build(viewer, 9)
    for what, data in viewer_outputs(viewer, model).items():
        no_secret(data, what)


@pytest.mark.slow
@pytest.mark.parametrize("k", [None, 5])
def test_no_raw_text_in_images_and_pdf(secret, k) -> None:
    bundle = restrict(secret, Principal("viewer"))
    model = geo_model.build(bundle, 9)
    pdf = report.quarter_report(bundle, model, F, "de", k=k, who="viewer")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    no_secret(" ".join(p.extract_text() for p in reader.pages), "PDF text")
    no_secret(" ".join(pdf_alt_texts(reader)), "PDF alt texts")
    no_secret(json.dumps({k: str(v) for k, v in (reader.metadata or {}).items()}), "PDF metadata")
    a = presentation.anonymise(bundle, model, F, "de", 5)
    png = exports.figure_png(presentation.trend_figure(a, "de"), "Trend",
                             presentation.alt_text("trend", a, "scope", "de"), 600, 300)
    no_secret(json.dumps(exports.png_text(png)), "PNG metadata")


def test_exported_map_alt_text_names_only_the_layers_in_the_file() -> None:
    """A coordinator's page shows single complaints; the exported map never holds them, and its
    alt text must not name them (issue #15)."""
    bundle = restrict(load_folder(REPO / "data" / "demo"), Principal("coordinator", ("heessen",)))
    model = geo_model.build(bundle, 9)
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    layers = ["districts", "hotspots", "points"]
    m, alt = mapexport.lagebild_export(bundle, model, f, "de", "none", metric="complaints", layers=layers,
                                       scope="Heessen")
    points = t("map.layer.points", "de")
    assert points not in maps.layer_names(m)
    assert points not in alt
    shown = [n for n in maps.layer_names(m) if n in alt]
    assert shown and all(n in maps.layer_names(m) for n in shown)
    assert alt.endswith(", ".join(pagedata.show_lagebild_layers(m, layers[:2], "de")) + ".")
    html = exports.standalone_map_html(m, "Lagebild", alt, "de")
    assert points not in html
