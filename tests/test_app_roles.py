"""Roles in the running app (AppTest): login, role mapping, data restriction, crafted URLs.

The identity comes from ``st.user`` (seeded with ``AppTest.user``) and the role mapping
from a TOML file named by ``LAGEBILD_ROLES``; ``[auth]`` in the secrets switches login on.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from base.i18n import fmt_number
from data.filters import Filters, complaint_mask, count
from data.folder import load_folder
from data.periods import parse_quarter
from data.roles import Principal, restrict
from geo.model import build, weekday_hour
from viz.pagedata import category_counts, district_table

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
ROLES_TOML = """
[users."anna@hamm.de"]
role = "coordinator"
districts = ["heessen"]

[users."ob@hamm.de"]
role = "viewer"

[users."it@hamm.de"]
role = "admin"

[groups.kod-mitte]
role = "coordinator"
districts = ["mitte"]
"""
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "lagebild", "client_secret": "s",
        "server_metadata_url": "https://login.example.invalid/.well-known/openid-configuration"}


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


@pytest.fixture
def roles_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES_TOML, encoding="utf-8")
    monkeypatch.setenv("LAGEBILD_ROLES", str(path))
    return path


def app(user: dict | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=90)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    return at


def on_page(at: AppTest, page: str) -> AppTest:
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def complaints(demo, districts=()) -> str:
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"), districts=tuple(districts))
    return fmt_number(int(complaint_mask(demo["complaints"], f).sum()), "de")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def captions(at: AppTest) -> str:
    """Sidebar captions as rendered (data in them is Markdown-escaped)."""
    return " ".join(c.value for c in at.sidebar.caption).replace("\\", "")


def test_without_auth_the_app_runs_as_local_admin(demo) -> None:
    at = app()
    at.run()
    assert not at.exception
    assert "Lokaler Einzelbenutzer-Modus ohne Anmeldung: Administration" in captions(at)
    assert metric(at, "Beschwerden") == complaints(demo)


def test_with_auth_a_visitor_must_log_in(roles_file) -> None:
    at = app(user={"is_logged_in": False})
    at.run()
    assert not at.exception
    assert at.title[0].value == "Anmeldung"
    assert [b.label for b in at.button] == ["Anmelden"]
    assert not at.metric and not at.dataframe  # nothing of the data


def test_logged_in_user_without_a_role_has_no_access(roles_file) -> None:
    at = app(user={"is_logged_in": True, "email": "stranger@example.org"})
    at.run()
    assert at.title[0].value == "Kein Zugriff"
    assert "stranger@example.org" in at.warning[0].value.replace("\\", "")  # as rendered
    assert not at.metric


def test_unverified_email_grants_nothing(roles_file) -> None:
    at = app(user={"is_logged_in": True, "email": "ob@hamm.de", "email_verified": False})
    at.run()
    assert at.title[0].value == "Kein Zugriff"
    assert not at.metric


def published_complaints(demo, districts=()) -> str:
    """The complaint total a viewer sees: published through the cell key method (issue #15)."""
    viewer = restrict(demo, Principal("viewer"))
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"), districts=tuple(districts))
    table = viewer.complaint_table
    return fmt_number(count(table, complaint_mask(table, f), publisher=viewer.publisher), "de")


def test_viewer_sees_all_districts(roles_file, demo) -> None:
    at = app(user={"is_logged_in": True, "email": "ob@hamm.de"})
    at.run()
    assert not at.exception
    assert "Angemeldet: ob@hamm.de · Betrachter" in captions(at)
    assert metric(at, "Beschwerden") == published_complaints(demo)  # all districts, published


def test_viewer_pages_show_published_numbers_admin_pages_exact(roles_file, demo) -> None:
    """A viewer's Bezirke table shows the cell key method's numbers (some differ from the exact
    ones by up to ±2, none below k); an admin's the exact numbers."""
    viewer = restrict(demo, Principal("viewer"))
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    model = build(viewer, 9)
    published = district_table(viewer, model, f)
    exact = district_table(demo, build(demo, 9), f)
    assert (published["complaints"] != exact["complaints"]).any()  # the demo has perturbed districts
    shown = {}
    for user, expected in ((VIEWER, published), (ADMIN, exact)):
        at = on_page(app(user=user), "pages/bezirke.py")
        table = at.dataframe[-1].value
        shown[user["email"]] = table["Beschwerden"].tolist()
        assert table["Beschwerden"].tolist() == expected["complaints"].tolist(), user
        assert table["Vorzeitraum"].tolist() == expected["previous"].tolist(), user
    assert shown[VIEWER["email"]] != shown[ADMIN["email"]]
    at = on_page(app(user=VIEWER), "pages/beschwerden.py")  # the charts' data: published counts
    bars, heat = (json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart"))
    shown_bars = sorted(v for trace in bars for v in _plotly_values(trace["x"]))
    assert shown_bars == sorted(category_counts(viewer, f, "de")["count"].tolist())
    assert min(shown_bars) >= 5
    grid = np.array(_plotly_values(heat[0]["z"]) if isinstance(heat[0]["z"], dict) else heat[0]["z"])
    assert np.array_equal(grid.reshape(7, 24), weekday_hour(model, f))
    assert not np.array_equal(weekday_hour(model, f), weekday_hour(build(demo, 9), f))


def _plotly_values(values) -> list[float]:
    """A plotly trace's values as JSON gives them (a list, or a typed array in base64)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


VIEWER = {"is_logged_in": True, "email": "ob@hamm.de"}
ADMIN = {"is_logged_in": True, "email": "it@hamm.de"}


@pytest.mark.parametrize(("user", "own"), [
    ({"is_logged_in": True, "email": "anna@hamm.de"}, "heessen"),
    ({"is_logged_in": True, "email": "kim@hamm.de", "groups": ["kod-mitte"]}, "mitte"),
])
def test_coordinator_sees_only_own_district(roles_file, demo, user, own) -> None:
    at = app(user=user)
    at.run()
    assert not at.exception
    assert metric(at, "Beschwerden") == complaints(demo, [own])
    assert at.sidebar.multiselect(key="flt_d").options == [
        {"heessen": "Heessen", "mitte": "Mitte"}[own]]


def test_crafted_url_with_another_district_shows_nothing_of_it(roles_file, demo) -> None:
    at = app(user={"is_logged_in": True, "email": "anna@hamm.de"}, d="mitte", b="mitte")
    at.run()
    notice = " ".join(w.value for w in at.warning).replace("\\", "")  # as rendered
    assert "ignoriert" in notice and "mitte" in notice
    assert metric(at, "Beschwerden") == complaints(demo, ["heessen"])
    at.switch_page("pages/bezirke.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="bz_district").value == "heessen"
    table = at.dataframe[-1].value
    assert list(table["Bezirk"]) == ["Heessen"]
    shown = " ".join(str(x) for df in at.dataframe for x in df.value.to_numpy().ravel())
    assert "Mitte" not in shown


@pytest.mark.parametrize(("env", "caption"), [
    ({"LAGEBILD_LOCAL_ROLE": "viewer"}, "Betrachter"),
    ({"LAGEBILD_LOCAL_ROLE": "coordinator", "LAGEBILD_LOCAL_DISTRICTS": "heessen"}, "Koordination"),
])
def test_local_mode_can_be_narrowed(monkeypatch, demo, env, caption) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = app()
    at.run()
    assert f"Lokaler Einzelbenutzer-Modus ohne Anmeldung: {caption}" in captions(at)
    expected = complaints(demo, ["heessen"] if "LAGEBILD_LOCAL_DISTRICTS" in env else [])
    assert metric(at, "Beschwerden") == expected


GUARDED_PAGE = """
import streamlit as st
from ui import chrome
chrome.require_role("admin")
st.title("Importe")
"""


@pytest.mark.parametrize(("user", "allowed"), [
    ({"is_logged_in": True, "email": "it@hamm.de"}, True),
    ({"is_logged_in": True, "email": "ob@hamm.de"}, False),
    ({"is_logged_in": True, "email": "anna@hamm.de"}, False),
    ({"is_logged_in": False}, False),
])
def test_require_role_admin(roles_file, tmp_path, user, allowed) -> None:
    script = tmp_path / "guarded.py"
    script.write_text(GUARDED_PAGE, encoding="utf-8")
    at = AppTest.from_file(str(script), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = user
    at.run()
    assert not at.exception
    titles = [x.value for x in at.title]
    assert ("Importe" in titles) is allowed
    if not allowed and user.get("is_logged_in"):
        assert "nur für die Rolle" in at.error[0].value


def test_invalid_role_configuration_is_reported(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "roles.toml"
    bad.write_text('[users."a@b.de"]\nrole = "boss"\n', encoding="utf-8")
    monkeypatch.setenv("LAGEBILD_ROLES", str(bad))
    at = app(user={"is_logged_in": True, "email": "a@b.de"})
    at.run()
    assert not at.exception
    assert "Rollenkonfiguration ist fehlerhaft" in at.error[0].value
    assert "'boss'" in at.error[0].value
    assert not at.metric


@pytest.mark.parametrize(("env", "has_points"), [
    ({"LAGEBILD_LOCAL_ROLE": "viewer"}, False),
    ({"LAGEBILD_LOCAL_ROLE": "coordinator", "LAGEBILD_LOCAL_DISTRICTS": "heessen"}, True),
    ({}, True),  # local admin
])
def test_raw_points_layer_only_for_coordinators_and_admins(monkeypatch, env, has_points) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = app(l="districts,points")
    on_page(at, "pages/lagebild.py")
    layers = at.multiselect(key="lb_layers")
    assert ("Einzelne Beschwerden" in layers.options) is has_points
    assert ("points" in layers.value) is has_points
    notice = " ".join(w.value for w in at.warning).replace("\\", "")  # as rendered
    assert ("l: 'points'" in notice) is not has_points  # a viewer's link asking for points: ignored


def test_named_providers_get_one_login_button_each(roles_file) -> None:
    at = AppTest.from_file(DASHBOARD, default_timeout=90)
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
                          "microsoft": {k: AUTH[k] for k in ("client_id", "client_secret",
                                                             "server_metadata_url")},
                          "keycloak": {k: AUTH[k] for k in ("client_id", "client_secret",
                                                            "server_metadata_url")}}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Anmelden mit Microsoft", "Anmelden mit Keycloak"]
