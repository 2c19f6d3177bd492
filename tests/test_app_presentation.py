"""AppTests: the Präsentation page (views, steps, k, anonymisation) and the export buttons."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
TITLES = ["Hotspots (Getis-Ord Gi*)", "Präsenzlücken", "Beschwerden je Quartal", "Bezirke im Vergleich"]
VIEWS = ["hotspots", "gap", "trend", "districts"]


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "badge[" in m.value]


def downloads(at: AppTest) -> list[str]:
    return [d.label for d in at.get("download_button")]


def test_presentation_starts_full_screen_with_the_hotspot_view() -> None:
    at = open_page("pages/praesentation.py")
    assert at.title[0].value == TITLES[0]
    assert any("anonymisiert (k ≥ 5)" in b for b in badges(at))
    assert at.query_params["s"] == "hotspots" and at.query_params["kmin"] == "5"
    assert "k" not in at.query_params  # "k" is the patrol kind filter
    css = " ".join(str(h.proto) for h in at.get("html"))
    assert 'section[data-testid=\\"stSidebar\\"]' in css or 'section[data-testid="stSidebar"]' in css
    assert "display: none" in css and "font-size" in css
    assert len(at.get("component_instance")) == 1  # the map


def test_buttons_step_through_the_views_and_the_url_follows() -> None:
    at = open_page("pages/praesentation.py")
    for i in range(1, 6):
        at.button(key="pr_next").click().run()
        assert not at.exception
        assert at.title[0].value == TITLES[i % 4]
        assert at.query_params["s"] == VIEWS[i % 4]
    at.button(key="pr_prev").click().run()
    assert at.title[0].value == TITLES[0]
    at.button(key="pr_prev").click().run()
    assert at.title[0].value == TITLES[3]  # wraps around


# Every chart comes with its data as a table (its text alternative, from the same anonymised data).
@pytest.mark.parametrize(("view", "charts", "tables"), [("trend", 1, 1), ("districts", 2, 2), ("gap", 0, 1)])
def test_url_opens_a_view(view, charts, tables) -> None:
    at = open_page("pages/praesentation.py", s=view)
    assert at.title[0].value == TITLES[VIEWS.index(view)]
    assert len(at.get("plotly_chart")) == charts
    assert len(at.dataframe) == tables


def test_arrow_keys_are_the_step_shortcuts() -> None:
    at = open_page("pages/praesentation.py")
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.key in ("pr_prev", "pr_next")}
    assert {k: v.lower() for k, v in shortcuts.items()} == {"pr_prev": "left", "pr_next": "right"}


def test_gap_view_shows_only_aggregates() -> None:
    at = open_page("pages/praesentation.py", s="gap")
    table = at.dataframe[0].value
    assert list(table.columns) == ["Rang", "Bezirk", "Konfidenz", "Beschwerden", "Präsenz (Min.)",
                                   "Hauptkategorien"]
    assert (table["Beschwerden"] >= 5).all()


@pytest.mark.parametrize(("env", "query", "k", "notice"), [
    ({}, {"kmin": "8"}, 8, None),
    ({}, {"kmin": "2"}, 5, "kmin: '2'"),  # a link cannot lower k
    ({"LAGEBILD_K": "7"}, {}, 7, None),
    ({"LAGEBILD_K": "7"}, {"kmin": "5"}, 7, "kmin: '5'"),  # nor go below the configured k
    ({}, {"kmin": "30"}, 30, None),  # above the old list's end of 20
    ({}, {"kmin": "100"}, 50, "kmin=100 liegt über dem Höchstwert: k = 50"),  # capped, raised
    ({"LAGEBILD_K": "60"}, {"kmin": "100"}, 60, "k = 60"),  # a floor above K_MAX is the cap
    ({}, {"kmin": "99999999999999999999"}, 5, "ignoriert"),  # nonsense: the floor, with a notice
])
def test_k_is_configurable_but_never_lowered_by_a_link(monkeypatch, env, query, k, notice) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = open_page("pages/praesentation.py", **query)
    assert any(f"anonymisiert (k ≥ {k})" in b for b in badges(at))
    assert at.selectbox(key="pr_k").value == k
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # as rendered
    assert (notice in warnings) if notice else "ignoriert" not in warnings


@pytest.mark.parametrize("raw", ["2", "zwei"])
def test_k_below_3_in_the_configuration_is_an_error(monkeypatch, raw) -> None:
    monkeypatch.setenv("LAGEBILD_K", raw)
    at = open_page("pages/praesentation.py")
    assert "LAGEBILD_K ist ungültig" in at.error[0].value and repr(raw) in at.error[0].value
    assert not at.get("component_instance")


def test_presentation_of_a_coordinator_shows_only_their_district(monkeypatch) -> None:
    monkeypatch.setenv("LAGEBILD_LOCAL_ROLE", "coordinator")
    monkeypatch.setenv("LAGEBILD_LOCAL_DISTRICTS", "heessen")
    at = open_page("pages/praesentation.py", s="gap", d="mitte")
    assert set(at.dataframe[0].value["Bezirk"]) <= {"Heessen"}


def test_presentation_exports_are_offered() -> None:
    at = open_page("pages/praesentation.py", s="trend")
    assert downloads(at) == ["Tabelle als CSV · Bezirke im Vergleich", "Tabelle als CSV · Präsenzlücken",
                             "Zellen als GeoJSON", "Karte als HTML (offline)"]
    labels = [b.label for b in at.button]
    assert {"Karte als PNG erstellen", "Diagramm als PNG erstellen",
            "Quartalsbericht als PDF erstellen"} <= set(labels)


@pytest.mark.parametrize(("page", "button", "ready"), [
    ("pages/praesentation.py", "pr_chart_png_make", "Diagramm als PNG herunterladen"),
    ("pages/praesentation.py", "pr_map_png_make", "Karte als PNG herunterladen"),
    ("pages/lagebild.py", "lb_map_png_make", "Karte als PNG herunterladen"),
])
def test_long_exports_show_progress_then_a_download(page, button, ready) -> None:
    at = open_page(page)
    at.button(key=button).click().run()
    assert not at.exception
    assert ready in downloads(at)
    assert button not in [b.key for b in at.button]  # made: the download replaces the button
    if "praes" in page:
        at.button(key="pr_next").click().run()
        assert ready not in downloads(at)  # another view: the file is made again on request


@pytest.mark.slow
@pytest.mark.parametrize(("page", "button"), [("pages/praesentation.py", "pr_pdf_make"),
                                              ("pages/lagebild.py", "lb_pdf_make")])
def test_pdf_report_is_made_on_request(page, button) -> None:
    at = open_page(page)
    at.button(key=button).click().run()
    assert not at.exception
    assert "Quartalsbericht als PDF herunterladen" in downloads(at)


def test_lagebild_layers_and_exports(monkeypatch) -> None:
    at = open_page("pages/lagebild.py", l="districts,hotspots,nonsense", m="trend")
    assert at.multiselect(key="lb_layers").value == ["districts", "hotspots"]
    assert "l: 'nonsense'" in " ".join(w.value for w in at.warning).replace("\\", "")
    at.multiselect(key="lb_layers").set_value(["gap", "offices"]).run()
    assert at.query_params["l"] == "gap,offices"
    assert downloads(at) == ["Tabelle als CSV · Vergleich aller Bezirke", "Zellen als GeoJSON",
                             "GeoPackage für GIS (QGIS, mit Stil)", "Karte als HTML (offline)"]
    assert at.radio(key="lb_gpkg_crs").value == 25832


def test_hour_weekday_and_category_filters_do_not_apply_in_conference_mode() -> None:
    """Issue #15: ?s=gap&q=2026-Q3 and the same with &h=0-23 must show the same numbers."""
    plain = open_page("pages/praesentation.py", s="gap", q="2026-Q3")
    sliced = open_page("pages/praesentation.py", s="gap", q="2026-Q3", h="0-23", wd="0,1", c="laerm")
    notices = " ".join(i.value for i in sliced.info)
    assert "Stunden-, Wochentags- und Kategoriefilter gelten hier nicht" in notices
    assert not [i for i in plain.info if "gelten hier nicht" in i.value]
    assert plain.dataframe[0].value.equals(sliced.dataframe[0].value)
