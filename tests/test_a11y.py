"""Accessibility without a browser: contrast (computed), palettes under CVD simulation, text
alternatives of charts, maps and KPI tiles, the accessible map element, the statement page."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data.kpis import Kpi
from geo import a11y as geo_a11y
from geo import maps
from ui import a11y as ui_a11y
from viz import alt_text, charts, statement
from viz.colors import CVD_TYPES, blend, contrast_ratio, delta_e, lightness_ordered

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
WHITE, SIDEBAR = "#ffffff", ui_a11y.SIDEBAR_BG

# --- contrast (WCAG 1.4.3 text 4.5:1, 1.4.11 graphics and focus 3:1) -------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("#000000", "#ffffff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#777777", "#ffffff", 4.48),
    ("#00549f", "#ffffff", 7.59),
])
def test_contrast_ratio_is_the_wcag_formula(a: str, b: str, expected: float) -> None:
    assert contrast_ratio(a, b) == pytest.approx(expected, abs=0.01)


def theme() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]


@pytest.mark.parametrize(("what", "fg", "bg", "minimum"), [
    ("primary colour (links, buttons) on white", theme()["primaryColor"], WHITE, 4.5),
    ("white text on primary buttons", WHITE, theme()["primaryColor"], 4.5),
    ("Streamlit body text on white", "#2f2d2b", WHITE, 4.5),
    ("Streamlit body text on the sidebar", "#2f2d2b", SIDEBAR, 4.5),
    ("captions on white", ui_a11y.CAPTION_COLOR, WHITE, 4.5),
    ("captions in the sidebar", ui_a11y.CAPTION_COLOR, SIDEBAR, 4.5),
    ("placeholders on white", ui_a11y.PLACEHOLDER_COLOR, WHITE, 4.5),
    ("placeholders in the sidebar", ui_a11y.PLACEHOLDER_COLOR, SIDEBAR, 4.5),
    ("focus ring on white", ui_a11y.FOCUS_COLOR, WHITE, 3.0),
    ("focus ring on the sidebar", ui_a11y.FOCUS_COLOR, SIDEBAR, 3.0),
])
def test_theme_and_page_styles_have_enough_contrast(what: str, fg: str, bg: str, minimum: float) -> None:
    assert contrast_ratio(fg, bg) >= minimum, what


def test_caption_style_is_opaque_and_uses_the_checked_colour() -> None:
    assert f"color: {ui_a11y.CAPTION_COLOR}; opacity: 1;" in ui_a11y.CSS


def test_presentation_theme_contrast() -> None:
    """The projector theme (Präsentation): every text colour ≥ 4.5:1 on its white, the focus
    outline ≥ 3:1 (an amber halo around it only adds)."""
    css = (ROOT / "pages" / "praesentation.py").read_text()
    css = css[css.index("PROJECTOR_CSS"):css.index("</style>")]
    background = re.search(r'\[data-testid="stMain"\] \{ background: (#[0-9a-f]{6})', css).group(1)
    texts = re.findall(r"[^-]color: (#[0-9a-fA-F]{6})", css)
    assert texts and background == "#ffffff"
    for color in texts:
        assert contrast_ratio(color, background) >= 4.5, color
    outline = re.search(r"button:focus-visible \{ outline: \d+px solid (#[0-9a-fA-F]{6})", css).group(1)
    assert contrast_ratio(outline, background) >= 3.0


# The legend box is white at 93 % opacity over the map: worst case black below it.
LEGEND_BG = (blend("#ffffff", 0.93, "#000000"), "#ffffff")


def test_legend_text_and_swatch_edges_have_enough_contrast() -> None:
    css = maps._CSS
    text = re.search(r"\.lagebild-legend\{[^}]*?color:(#[0-9a-f]{3,6})", css).group(1)
    text = "#" + "".join(c * 2 for c in text[1:]) if len(text) == 4 else text
    edge = re.search(r"\.lagebild-legend \.sw\{[^}]*outline:1px solid (#[0-9a-fA-F]{6})", css).group(1)
    for bg in LEGEND_BG:
        assert contrast_ratio(text, bg) >= 4.5
        assert contrast_ratio(edge, bg) >= 3.0  # every swatch has a dark edge, whatever its fill


def test_chart_marks_have_an_edge_of_enough_contrast() -> None:
    light = [c for c in charts.OKABE_ITO if contrast_ratio(c, WHITE) < 3]
    assert light  # the reason for the edge: orange, sky blue and yellow are too light alone
    assert contrast_ratio(charts.EDGE, WHITE) >= 3
    fig = charts.categories_by_field(pd.DataFrame({"field": ["infrastruktur"], "category_label": ["Müll"],
                                                   "count": [3]}))
    assert fig.data[0].marker.line.color == charts.EDGE and fig.data[0].marker.line.width >= 1


# --- palettes under colour-vision deficiency (colorspacious) -------------------------------------

SCALES = {**{name: colors for name, colors in maps.PALETTES.items()}}
DIVERGING = {"trend": maps.TREND_COLORS,
             "hotspots": tuple(maps.HOTSPOT_COLORS[c] for c in maps.HOTSPOT_CLASSES)}
CLASSES = {"emerging": tuple(maps.EMERGING_COLORS[c] for c in maps.EMERGING_CLASSES),
           "okabe-ito": charts.OKABE_ITO, "kinds": tuple(charts.KIND_COLORS.values()),
           "fields": tuple(charts.FIELD_COLORS.values())}


@pytest.mark.parametrize("cvd", [None, *CVD_TYPES])
@pytest.mark.parametrize("name", sorted(SCALES))
def test_sequential_scales_stay_ordered_and_distinct_under_cvd(name: str, cvd: str | None) -> None:
    colors = SCALES[name]
    assert lightness_ordered(colors, cvd)  # low to high readable by lightness alone
    assert delta_e(colors, cvd) >= 9  # neighbouring classes stay apart


@pytest.mark.parametrize("cvd", [None, *CVD_TYPES])
@pytest.mark.parametrize("name", sorted(DIVERGING))
def test_diverging_scales_stay_distinct_under_cvd(name: str, cvd: str | None) -> None:
    assert delta_e(DIVERGING[name], cvd) >= 12


@pytest.mark.parametrize("cvd", [None, *CVD_TYPES])
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_class_colours_stay_distinct_under_cvd(name: str, cvd: str | None) -> None:
    assert delta_e(CLASSES[name], cvd, adjacent=False) >= 10


def test_cvd_simulation_detects_a_red_green_pair() -> None:
    """The check can fail: red and green that differ only in hue collapse for deutans."""
    pair = ["#d62728", "#2ca02c"]
    assert delta_e(pair) > 30
    assert delta_e(pair, "deuteranomaly") < delta_e(pair) / 2


# --- text alternatives -----------------------------------------------------------------------------

TREND = pd.DataFrame({"quarter_label": ["2026-Q1", "2026-Q2", "2026-Q3"], "value": [10, 12, 9]})


@pytest.mark.parametrize(("lang", "fig", "summary", "columns", "rows"), [
    ("de", charts.quarter_trend(TREND, "de", "Beschwerden je Quartal"),
     "Diagramm: Beschwerden je Quartal. Anzahl: zuletzt 9 (2026-Q3), davor 12 (2026-Q2): gesunken; "
     "Höchstwert 12 (2026-Q2), Tiefstwert 9 (2026-Q3) über 3 Werte.", ["Quartal", "Anzahl"], 3),
    ("en", charts.district_comparison(pd.DataFrame({"name": ["A & B", "C"], "per_1000": [3.25, 1.1]}),
                                      "per_1000", "en"),
     "Chart. Complaints per 1,000 inhabitants: highest 3.2 (A & B), lowest 1.1 (C), 2 bars.",
     ["Item", "Complaints per 1,000 inhabitants"], 2),
    ("de", charts.categories_by_field(pd.DataFrame({"field": ["nachbarschaft", "infrastruktur"],
                                                    "category_label": ["Lärm", "Müll"], "count": [5, 8]}),
                                      "de"),
     "Diagramm. Anzahl: höchster Wert 8 (Müll, Sichere Infrastruktur), niedrigster 5 (Lärm, Sichere "
     "Nachbarschaft), 2 Balken.", ["Eintrag", "Gruppe", "Anzahl"], 2),
    ("de", charts.weekday_hour_heatmap(np.arange(168).reshape(7, 24), "de"),
     "Diagramm. Höchster Wert 167 bei So, Uhrzeit (Stunde) 23; niedrigster 0 bei Mo, Uhrzeit (Stunde) 0.",
     None, 7),
    ("de", charts.quarter_trend(TREND.iloc[:0], "de"), "Diagramm. Diagramm ohne Daten für diese Auswahl.",
     [], 0),
])
def test_chart_summary_and_table(lang, fig, summary, columns, rows) -> None:
    assert alt_text.figure_summary(fig, lang) == summary
    table = alt_text.figure_table(fig, lang)
    assert len(table) == rows
    if columns is not None:
        assert list(table.columns) == columns


def test_chart_table_holds_the_values_and_decodes_escaped_names() -> None:
    fig = charts.district_comparison(pd.DataFrame({"name": ["<b>X</b>", "Y"], "complaints": [4, 7]}),
                                     "complaints", "de")
    table = alt_text.figure_table(fig, "de")
    assert dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True)) == {"<b>X</b>": 4, "Y": 7}


@pytest.mark.parametrize(("kpi", "lang", "sentence"), [
    (Kpi("complaints", 1234, 1000, 7.0, 1000), "de",
     "Beschwerden: 1.234, Vorzeitraum 1.000: +23 %, starker Anstieg, z = 7,0."),
    (Kpi("complaints", 1234), "en", "Complaints: 1,234, no previous period in the data."),
    (Kpi("patrol_hours", 90, 100, None, 100), "en", "Patrol hours: 90, previous period 100: −10%."),
])
def test_kpi_tile_reads_as_one_sentence(kpi: Kpi, lang: str, sentence: str) -> None:
    assert alt_text.kpi_sentence(kpi, lang) == sentence


# --- the accessible map element ---------------------------------------------------------------------


def small_map(lang: str = "de"):
    m = maps.base_map((7.7, 51.6, 7.9, 51.7), tiles="none", lang=lang)
    offices = pd.DataFrame({"office_id": ["o1"], "name": ["Wache </script><b>"], "kind": ["citywache"],
                            "lat": [51.65], "lon": [7.8]})
    maps.add_offices(m, offices, lang)
    return m


def test_map_gets_its_name_keys_and_language() -> None:
    m = geo_a11y.make_accessible(small_map("en"), "en")
    html = maps.map_html(m)
    assert "/app/static/vendor/lagebild/map_a11y.js" in html  # served by the app, no CDN
    assert "LagebildA11y.init(" in html
    assert '"label":"Map: Offices"' in html and '"lang":"en"' in html and '"zoomIn":"Zoom in"' in html
    assert "Wache </script>" not in html  # data text cannot close the script
    assert geo_a11y.make_accessible(small_map(), "de", label="Karte der Wachen") is not None


def test_map_label_lists_the_layers_it_opens_with() -> None:
    m = small_map()
    frame = pd.DataFrame({"area_id": ["a"], "name": ["Park"], "kind": ["angstraum"],
                          "geometry": [maps.shapely.box(7.75, 51.62, 7.76, 51.63)]})
    maps.add_focus_areas(m, frame, "de", show=False)
    assert geo_a11y.map_label(m, "de") == "Karte: Dienststellen"


def test_map_script_is_installed_with_the_assets() -> None:
    from geo.assets import ASSET_MAP, sources

    assert ASSET_MAP["lagebild_map_a11y"] == "lagebild/map_a11y.js"
    script = sources()["lagebild/map_a11y.js"].read_text()
    for needed in ('setAttribute("role", "region")', "popupopen", "Escape", "aria-describedby", "focus("):
        assert needed in script


def test_exported_map_inlines_the_map_script() -> None:
    from viz.exports import standalone_map_html

    page = standalone_map_html(geo_a11y.make_accessible(small_map(), "de"), "Karte", "Alt", "de")
    assert "window.LagebildA11y" in page and "/app/static" not in page


# --- the statement ----------------------------------------------------------------------------------


def test_statement_defaults_to_the_nrw_body_and_says_the_contact_is_missing() -> None:
    config = statement.config_from({})
    text = "\n".join(body for _h, body in statement.sections(config, "de"))
    assert "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein" in text
    assert "mailto:ombudsstelle-barrierefreie-it@mags.nrw.de" in text
    assert "LAGEBILD_A11Y_EMAIL" in text
    headings = [h for h, _b in statement.sections(config, "en")]
    assert headings[1:] == ["Compliance status", "Non-accessible content", "Reporting barriers: contact",
                            "Enforcement procedure (arbitration body)", "Preparation of this statement"]


def test_statement_contact_from_env_wins_over_secrets() -> None:
    config = statement.config_from({"LAGEBILD_A11Y_EMAIL": "barrierefrei@stadt.example"},
                                   {"email": "alt@stadt.example", "phone": "+49 2381 17-0",
                                    "body": "Schlichtungsstelle BGG", "date": "03.12.2026"})
    text = "\n".join(body for _h, body in statement.sections(config, "de"))
    assert "mailto:barrierefrei@stadt.example" in text and "alt@" not in text
    assert "tel:+492381170" in text
    assert "Schlichtungsstelle BGG" in text and "mags.nrw" not in text  # another body: no NRW address
    assert "03\\.12\\.2026" in text


@pytest.mark.parametrize(("env", "message"), [
    ({"LAGEBILD_A11Y_EMAIL": "nobody"}, "LAGEBILD_A11Y_EMAIL is not a valid email, got 'nobody'"),
    ({"LAGEBILD_A11Y_PHONE": "call us"}, "LAGEBILD_A11Y_PHONE is not a valid phone"),
    ({"LAGEBILD_A11Y_BODY_URL": "javascript:alert(1)"}, "LAGEBILD_A11Y_BODY_URL is not a valid url"),
])
def test_statement_rejects_broken_contacts(env: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        statement.config_from(env)


def test_statement_page_renders_in_both_languages_and_every_page_links_to_it(monkeypatch) -> None:
    monkeypatch.setenv("LAGEBILD_A11Y_EMAIL", "barrierefrei@stadt.example")
    at = AppTest.from_file(DASHBOARD, default_timeout=90)
    at.run()
    links = [e for e in at.get("page_link") if "barrierefreiheit" in e.proto.page]
    assert links and links[0].proto.label == "Erklärung zur Barrierefreiheit"
    at.switch_page("pages/barrierefreiheit.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Erklärung zur Barrierefreiheit"
    assert "mailto:barrierefrei@stadt.example" in " ".join(m.value for m in at.markdown)
    at.query_params["lang"] = "en"
    at.session_state["lang"] = "en"
    at.run()
    assert at.title[0].value == "Accessibility statement"
