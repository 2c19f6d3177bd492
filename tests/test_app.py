"""AppTests: every page runs from dashboard.py; filters, URL state and language work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from base.i18n import fmt_number
from data.filters import Filters, complaint_mask
from data.folder import load_folder
from data.periods import parse_quarter

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
PAGES = ["pages/uebersicht.py", "pages/lagebild.py", "pages/bezirke.py", "pages/praesenz.py",
         "pages/beschwerden.py"]


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


def app(**query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_count(demo, **kwargs) -> str:
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"), **kwargs)
    return fmt_number(int(complaint_mask(demo["complaints"], f).sum()), "de")


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page: str) -> None:
    at = app()
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value  # every page has a title
    assert any("Demo-Daten (synthetisch)" in w.value for w in at.sidebar.warning)


def test_default_is_latest_complete_quarter_and_all_districts(demo) -> None:
    at = app()
    at.run()
    assert at.query_params["q"] == "2026-Q3"
    assert metrics(at)["Beschwerden"] == expected_count(demo)
    assert len(at.metric) == 6


def test_district_filter_changes_kpis_and_url(demo) -> None:
    at = app()
    at.run()
    before = metrics(at)
    at.sidebar.multiselect(key="flt_d").set_value(["heessen"]).run()
    after = metrics(at)
    assert after["Beschwerden"] == expected_count(demo, districts=("heessen",))
    assert after["Beschwerden"] != before["Beschwerden"]
    assert after["Streifenstunden"] != before["Streifenstunden"]
    assert at.query_params["d"] == "heessen"


def test_category_and_hour_filters_change_kpis(demo) -> None:
    at = app()
    at.run()
    at.sidebar.multiselect(key="flt_c").set_value(["laerm"]).run()
    assert metrics(at)["Beschwerden"] == expected_count(demo, categories=("laerm",))
    at.sidebar.selectbox(key="flt_h0").set_value("22:00").run()
    at.sidebar.selectbox(key="flt_h1").set_value("06:00").run()
    assert metrics(at)["Beschwerden"] == expected_count(demo, categories=("laerm",), hours=(22, 6))
    assert at.query_params["h"] == "22-6"


def test_url_restores_filters_and_language(demo) -> None:
    at = app(q="2025-Q3", d="mitte,heessen", lang="en")
    at.run()
    assert not at.exception
    f = Filters(parse_quarter("2025-Q3"), parse_quarter("2025-Q3"), districts=("mitte", "heessen"))
    n = int(complaint_mask(demo["complaints"], f).sum())
    assert metrics(at)["Complaints"] == fmt_number(n, "en")
    assert at.sidebar.multiselect(key="flt_d").value == ["mitte", "heessen"]
    assert at.title[0].value == "Overview"


def test_invalid_url_values_are_ignored_with_a_notice(demo) -> None:
    at = app(q="2031-Q9", d="atlantis", lang="xx")
    at.run()
    assert not at.exception
    notice = " ".join(w.value for w in at.warning).replace("\\", "")  # as rendered (unescaped)
    assert "ignoriert" in notice and "atlantis" in notice and "2031-Q9" in notice
    assert metrics(at)["Beschwerden"] == expected_count(demo)


def test_language_switch_translates_labels(demo) -> None:
    at = app()
    at.run()
    assert metrics(at)["Beschwerden"] == expected_count(demo)  # German: 6.920
    at.sidebar.radio(key="lang").set_value("en").run()
    labels = list(metrics(at))
    assert labels[0] == "Complaints"
    assert at.query_params["lang"] == "en"
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    n = int(complaint_mask(demo["complaints"], f).sum())
    assert n >= 1000 and metrics(at)["Complaints"] == fmt_number(n, "en")  # English: 6,920
    assert "," in metrics(at)["Complaints"]


def test_previous_period_signal_shown(demo) -> None:
    at = app(q="2026-Q3")
    at.run()
    delta = at.metric[0].delta
    assert "z = " in delta


def test_bezirke_profile_and_comparison_table() -> None:
    at = app(b="heessen")
    at.run()
    at.switch_page("pages/bezirke.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="bz_district").value == "heessen"
    assert at.subheader[0].value == "Heessen"
    table = at.dataframe[-1].value
    assert len(table) == 7 and "Bezirk" in table.columns
    contacts = at.dataframe[0].value
    assert "Bezirksteam Heessen" in contacts.iloc[:, 1].tolist()


def test_lagebild_metric_is_kept_in_url() -> None:
    at = app()
    at.run()
    at.switch_page("pages/lagebild.py")
    at.run()
    at.selectbox(key="lb_metric").set_value("trend").run()
    assert not at.exception
    assert at.query_params["m"] == "trend"


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(REPO / "data" / "demo", folder)
    offices = pd.read_csv(folder / "offices.csv", dtype=str)
    offices.loc[0, "lat"] = "north"
    offices.to_csv(folder / "offices.csv", index=False)
    return folder


def test_broken_data_folder_shows_an_error_page(broken_folder: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAGEBILD_DATA", str(broken_folder))
    at = app()
    at.run()
    assert not at.exception
    assert at.title[0].value == "Die Daten können nicht geladen werden"
    errors = at.dataframe[0].value
    assert errors.iloc[0]["dataset"] == "offices"
    assert errors.iloc[0]["row"] == 1 and errors.iloc[0]["column"] == "lat"


def test_env_data_folder_is_used(tmp_path: Path, monkeypatch) -> None:
    from data import generator
    from data.folder import write_folder

    frames, meta = generator.generate(seed=5, complaints=3000, pings=20_000)
    meta["synthetic"] = False
    folder = write_folder(tmp_path / "city", frames, meta)
    monkeypatch.setenv("LAGEBILD_DATA", str(folder))
    at = app()
    at.run()
    assert not at.exception
    assert not any("Demo-Daten" in w.value for w in at.sidebar.warning)
    bundle = load_folder(folder)
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    expected = int(np.sum(complaint_mask(bundle["complaints"], f)))
    assert metrics(at)["Beschwerden"] == fmt_number(expected, "de")


def gap_list(at: AppTest) -> pd.DataFrame:
    """The Präsenz page's gap list (the map's text alternative draws tables before it)."""
    return next(d.value for d in at.dataframe if list(d.value.columns)[:1] == ["Rang"]
                and "Zelle (H3)" in d.value.columns)


def test_praesenz_gap_list_starts_with_the_uncovered_emerging_cluster() -> None:
    at = app()
    at.run()
    at.switch_page("pages/praesenz.py")
    at.run()
    assert not at.exception
    gaps = gap_list(at)
    assert list(gaps.columns)[:3] == ["Rang", "Bezirk", "Zelle (H3)"]
    assert gaps.iloc[0]["Bezirk"] == "Bockum-Hövel"
    assert gaps.iloc[0]["Präsenz (Min.)"] == 0
    assert any(b.label == "Präsenzlücken als CSV herunterladen" for b in at.get("download_button"))
    assert any(b.label == "GeoPackage für GIS (QGIS, mit Stil)" for b in at.get("download_button"))
    at.radio(key="pz_gpkg_crs").set_value(4326).run()
    assert not at.exception


def test_praesenz_district_filter_narrows_the_gap_list() -> None:
    at = app(d="heessen")
    at.run()
    at.switch_page("pages/praesenz.py")
    at.run()
    gaps = gap_list(at)
    assert set(gaps["Bezirk"]) == {"Heessen"}


def test_beschwerden_emerging_over_the_period() -> None:
    at = app(q="2024-Q4..2026-Q3", lang="en")
    at.run()
    at.switch_page("pages/beschwerden.py")
    at.run()
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert "Emerging hot spots over 8 quarters (2024-Q4 – 2026-Q3)" in heads
    assert "Statistical hot spots (Getis-Ord Gi*)" in heads


@pytest.mark.parametrize("resolution", ["8", "10"])
def test_cell_resolution_is_selectable_and_kept_in_url(resolution: str) -> None:
    at = app(r=resolution)
    at.run()
    at.switch_page("pages/beschwerden.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="res").value == int(resolution)
    at.switch_page("pages/lagebild.py")
    at.run()
    assert not at.exception
    assert at.query_params["r"] == resolution


def test_reset_button_restores_default_filters(demo) -> None:
    at = app(d="heessen", c="laerm")
    at.run()
    assert metrics(at)["Beschwerden"] == expected_count(demo, districts=("heessen",),
                                                       categories=("laerm",))
    at.sidebar.button(key="flt_reset").click().run()
    assert metrics(at)["Beschwerden"] == expected_count(demo)
    assert "d" not in at.query_params and "c" not in at.query_params


@pytest.mark.parametrize(("period", "expected_q"), [
    (("2026-Q2", "2026-Q2"), "2026-Q2"),
    (("2025-Q1", "2025-Q4"), "2025-Q1..2025-Q4"),
])
def test_period_slider_changes_kpis_and_url(demo, period, expected_q) -> None:
    at = app()
    at.run()
    at.sidebar.select_slider[0].set_value(period).run()
    assert at.query_params["q"] == expected_q
    f = Filters(parse_quarter(period[0]), parse_quarter(period[1]))
    n = int(complaint_mask(demo["complaints"], f).sum())
    assert metrics(at)["Beschwerden"] == fmt_number(n, "de")
    at.switch_page("pages/bezirke.py")
    at.run()
    assert at.query_params["q"] == expected_q  # kept across pages


@pytest.mark.parametrize(("key", "value"), [
    ("b", "![x](http://evil.example/pixel.png)"),
    ("d", "[Bitte neu anmelden](http://evil.example/login)"),
])
def test_url_values_in_notices_are_literal_text(key: str, value: str) -> None:
    at = app(**{key: value})
    at.run()
    notices = " ".join(w.value for w in at.warning)
    at.switch_page("pages/bezirke.py")
    at.run()
    notices += " ".join(w.value for w in at.warning)
    assert "ignoriert" in notices
    assert "](http" not in notices  # escaped: shown as text, never a link or an image
    assert "\\]\\(http" in notices


def test_no_trend_signal_when_only_patrols_cover_the_previous_period(tmp_path, monkeypatch) -> None:
    """Patrol data that starts before the complaints must not make every KPI 'strongly up'."""
    from data import generator
    from data.folder import write_folder

    frames, meta = generator.generate(seed=5, complaints=3000, pings=20_000)
    c = frames["complaints"]
    frames["complaints"] = c[c["received_at"] >= pd.Timestamp("2026-07-01", tz="Europe/Berlin")]
    folder = write_folder(tmp_path / "city", frames, meta)
    monkeypatch.setenv("LAGEBILD_DATA", str(folder))
    at = app(q="2026-Q3")
    at.run()
    assert not at.exception
    assert metrics(at)["Beschwerden"] != "0"
    assert at.metric[0].delta in (None, "")  # no previous complaint data: no comparison
