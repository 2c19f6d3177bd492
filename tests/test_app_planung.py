"""AppTests of the Planung page: plan, exports offered, saving, saved plans with Wirkung, roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.plans import PlanArchive

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
ROLES_TOML = """
[users."anna@hamm.de"]
role = "coordinator"
districts = ["heessen"]

[users."ob@hamm.de"]
role = "viewer"
"""
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "lagebild", "client_secret": "s",
        "server_metadata_url": "https://login.example.invalid/.well-known/openid-configuration"}


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("LAGEBILD_STORE", str(root))
    return root


@pytest.fixture
def roles_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES_TOML, encoding="utf-8")
    monkeypatch.setenv("LAGEBILD_ROLES", str(path))
    return path


def planung(user: dict | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/planung.py")
    at.run()
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _percent(text: str) -> float:
    return float(text.replace("%", "").replace(",", ".").strip())


def test_admin_gets_a_plan_with_coverage_tables_and_exports() -> None:
    at = planung()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Planung"
    m = _metrics(at)
    last = _percent(m["Abdeckung durch die Präsenz im letzten Quartal"])
    assert _percent(m["Abdeckung durch den Plan"]) > last + 10
    assert at.date_input(key="pl_start").value.isoformat() == "2026-10-01"  # the quarter after the data
    week = at.dataframe[1].value
    assert list(week.columns)[:5] == ["Team", "Tag", "Zeitfenster", "Reihenfolge", "Einsatzort"]
    assert len(set(week["Team"])) == 1
    labels = {b.label for b in at.get("download_button")}
    assert {"Wochenplan als CSV", "Einsatzorte als GPX (Handgeräte)"} <= labels
    assert any(b.label.startswith("PDF für") for b in at.button)
    assert any("Schranke" in c.value and "optimal" in c.value for c in at.caption)


def test_team_choice_shows_that_teams_week() -> None:
    at = planung(lang="en")
    at.selectbox(key="pl_team").set_value("bockum-hoevel").run()
    assert not at.exception
    week = at.dataframe[1].value
    assert set(week["Team"]) == {"Bockum-Hövel"}
    assert set(week["Patrol kind"]) == {"KOD"}
    assert any(b.label == "Create PDF for Bockum-Hövel" for b in at.button)


def test_safety_mode_leave_out_lists_the_windows() -> None:
    at = planung()
    at.radio(key="pl_safety").set_value("omit").run()
    assert not at.exception
    texts = " ".join(md.value for md in at.markdown)
    assert "Ausgelassene Fenster" in texts
    assert "#sicherimDienst" not in " ".join(at.dataframe[1].value.get("#sicherimDienst", []))


def test_saved_demo_plan_shows_its_wirkung() -> None:
    at = planung(lang="en")
    assert not at.exception
    texts = " ".join(md.value for md in at.markdown)
    assert "Compliance per team" in texts
    assert "Complaints at planned places against comparable unplanned hot spots" in texts
    captions = " ".join(c.value for c in at.caption)
    assert "permutation test p" in captions
    teams = at.dataframe[-2].value
    assert "Compliance" in teams.columns and len(teams) >= 3


def test_saving_a_plan_adds_a_version(store: Path) -> None:
    at = planung()
    at.text_input(key="pl_name").set_value("Herbst 2026")
    at.button(key="pl_save").click().run()
    assert not at.exception
    assert any("Gespeichert: Herbst 2026, Version 1" in s.value for s in at.success)
    at.button(key="pl_save").click().run()
    assert PlanArchive(store / "plans").versions("herbst-2026") == [1, 2]


def test_viewer_may_not_plan(roles_file) -> None:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "ob@hamm.de"}
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in the menu
        at.switch_page("pages/planung.py")


def test_coordinator_plans_and_sees_only_their_districts(roles_file) -> None:
    at = planung(user={"is_logged_in": True, "email": "anna@hamm.de"})
    assert not at.exception, [e.message for e in at.exception]
    assert at.dataframe[0].value["Team"].tolist() == ["Heessen"]  # the resources editor
    week = at.dataframe[1].value
    assert set(week["Team"]) == {"Heessen"}
    places = at.dataframe[2].value
    assert places["Einsatzort"].str.startswith("Heessen – ").all()
    saved_week = at.dataframe[-3].value  # the shipped plan, cut to Heessen
    assert set(saved_week["Team"]) == {"Heessen"}
