"""Roles: the role mapping, principals, and the restriction of the data itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from data.folder import load_folder
from data.roles import (
    LOCAL_ADMIN,
    Principal,
    local_principal,
    parse_role_config,
    principal_for,
    restrict,
)

REPO = Path(__file__).resolve().parent.parent

CONFIG = {
    "users": {
        "Anna.Schmidt@hamm.de": {"role": "coordinator", "districts": ["heessen", "uentrop"]},
        "ob@hamm.de": "viewer",
        "it@hamm.de": {"role": "admin"},
    },
    "groups": {
        "kod-heessen": {"role": "coordinator", "districts": ["heessen"]},
        "kod-mitte": {"role": "coordinator", "districts": ["mitte"]},
        "rathaus": {"role": "viewer"},
        "gis": {"role": "admin"},
    },
}


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


@pytest.mark.parametrize(("email", "groups", "role", "districts"), [
    ("anna.schmidt@hamm.de", [], "coordinator", ("heessen", "uentrop")),  # case-insensitive
    ("ANNA.SCHMIDT@HAMM.DE", ["gis"], "coordinator", ("heessen", "uentrop")),  # the user entry wins
    ("ob@hamm.de", [], "viewer", None),
    ("it@hamm.de", [], "admin", None),
    ("x@hamm.de", ["kod-heessen", "kod-mitte"], "coordinator", ("heessen", "mitte")),
    ("x@hamm.de", ["rathaus", "kod-mitte"], "coordinator", ("mitte",)),  # the highest role
    ("x@hamm.de", ["rathaus", "gis"], "admin", None),
    ("x@hamm.de", ["unknown"], None, None),
    (None, [], None, None),
])
def test_principal_for(email, groups, role, districts) -> None:
    p = principal_for(parse_role_config(CONFIG), email, groups)
    if role is None:
        assert p is None
    else:
        assert (p.role, p.districts, p.authenticated) == (role, districts, True)


def test_default_entry_applies_to_other_users() -> None:
    config = parse_role_config({**CONFIG, "default": {"role": "viewer"}})
    assert principal_for(config, "someone@else.de").role == "viewer"


@pytest.mark.parametrize(("raw", "message"), [
    ({"users": {"anna@hamm.de": {"role": "boss"}}}, "role must be one of"),
    ({"users": {"anna@hamm.de": {"role": "coordinator"}}}, "a coordinator needs districts"),
    ({"users": {"anna@hamm.de": {"role": "admin", "districts": ["mitte"]}}}, "an admin sees all"),
    ({"users": {"anna@hamm.de": {"role": "viewer", "districts": "mitte"}}}, "districts must be a list"),
    ({"users": {"anna@hamm.de": {"role": "viewer", "bezirke": ["mitte"]}}}, "unknown keys"),
    ({"users": {"anna": {"role": "viewer"}}}, "must be e-mail addresses"),
    ({"users": {"anna@hamm.de": 3}}, "expected a table"),
    ({"people": {}}, "unknown keys"),
    ({"groups_claim": ""}, "groups_claim"),
])
def test_invalid_role_config_is_rejected_precisely(raw, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_role_config(raw)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, LOCAL_ADMIN),
    ({"LAGEBILD_LOCAL_ROLE": "viewer"}, Principal("viewer", name="local")),
    ({"LAGEBILD_LOCAL_ROLE": "coordinator", "LAGEBILD_LOCAL_DISTRICTS": "heessen, mitte"},
     Principal("coordinator", ("heessen", "mitte"), name="local")),
])
def test_local_principal(env, expected) -> None:
    assert local_principal(env) == expected
    assert not local_principal(env).authenticated


@pytest.mark.parametrize(("env", "message"), [
    ({"LAGEBILD_LOCAL_ROLE": "root"}, "role must be one of"),
    ({"LAGEBILD_LOCAL_ROLE": "coordinator"}, "needs at least one district"),
    ({"LAGEBILD_LOCAL_DISTRICTS": "mitte"}, "needs LAGEBILD_LOCAL_ROLE"),
])
def test_local_principal_rejects_bad_environment(env, message) -> None:
    with pytest.raises(ValueError, match=message):
        local_principal(env)


def test_admin_sees_everything(demo) -> None:
    assert restrict(demo, LOCAL_ADMIN) is demo


def test_viewer_sees_all_districts_but_no_raw_text(demo) -> None:
    out = restrict(demo, Principal("viewer"))
    assert len(out["complaints"]) == len(demo["complaints"])
    assert demo["complaints"]["description"].notna().any()
    for col in ("description", "address"):
        assert out["complaints"][col].isna().all()
    assert len(out["districts"]) == 7
    assert demo["complaints"]["description"].notna().any()  # the input is untouched
    assert out.quarters() == demo.quarters()


@pytest.mark.parametrize("districts", [("heessen",), ("mitte", "uentrop")])
def test_coordinator_sees_only_their_districts(demo, districts) -> None:
    out = restrict(demo, Principal("coordinator", districts))
    assert set(out["districts"]["district_id"]) == set(districts)
    for name in ("complaints", "staff_incidents", "offices"):
        assert set(out[name]["district_id"].astype(str)) <= set(districts)
        assert len(out[name]) == int(demo[name]["district_id"].astype(str).isin(districts).sum())
    assert set(out["complaints"]["district_id"].cat.categories) <= set(districts)
    assert out["complaints"]["description"].notna().any()  # details of their own districts
    union = shapely.union_all(out["districts"]["geometry"].to_numpy())
    assert all(shapely.intersects(g, union) for g in out["focus_areas"]["geometry"])
    assert out.quarters() == demo.quarters()


def test_coordinator_keeps_known_districts_and_needs_one(demo) -> None:
    out = restrict(demo, Principal("coordinator", ("heessen", "atlantis")))
    assert list(out["districts"]["district_id"]) == ["heessen"]
    with pytest.raises(ValueError, match="none of the districts"):
        restrict(demo, Principal("coordinator", ("atlantis",)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "boss"}, "role must be one of"),
    ({"role": "admin", "districts": ("mitte",)}, "an admin sees all"),
    ({"role": "coordinator"}, "needs at least one district"),
    ({"role": "viewer", "districts": "mitte"}, "tuple of district ids"),
])
def test_principal_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Principal(**kwargs)


def test_scope_key_identifies_what_is_visible() -> None:
    assert Principal("coordinator", ("mitte", "heessen")).scope_key == "coordinator:heessen,mitte"
    assert Principal("viewer").scope_key == "viewer:*"
    assert isinstance(pd.Series([LOCAL_ADMIN.scope_key]).iloc[0], str)


# --- raw complaint points: only for coordinators (own districts) and admins -----------------------

def test_example_role_file_is_valid() -> None:
    import tomllib

    with (REPO / ".streamlit" / "roles.example.toml").open("rb") as fh:
        config = parse_role_config(tomllib.load(fh))
    assert principal_for(config, "gis@stadt.example").role == "admin"


@pytest.mark.parametrize(("principal", "districts"), [
    (Principal("viewer"), None),
    (Principal("coordinator", ("heessen",)), {"heessen"}),
    (LOCAL_ADMIN, set()),
])
def test_raw_points_only_for_coordinators_and_admins(demo, principal, districts) -> None:
    from data.filters import Filters
    from data.periods import parse_quarter
    from viz.pagedata import complaint_points

    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    bundle = restrict(demo, principal)
    points, total = complaint_points(bundle, f, "de", principal, limit=300)
    if districts is None:
        assert points.empty and total == 0
        return
    assert 0 < len(points) <= 300 and total >= len(points)
    ids = set(points["complaint_id"])
    c = demo["complaints"]
    owners = set(c.loc[c["complaint_id"].isin(ids), "district_id"].astype(str))
    assert owners <= districts if districts else len(owners) > 1
    assert points["description"].notna().all()  # details for those allowed
    assert list(points["received"]) == sorted(points["received"], key=lambda s: (s[6:10], s[3:5], s[:2],
                                                                               s[11:]), reverse=True)


def test_raw_points_layer_is_escaped_capped_and_clustered(demo) -> None:
    from data.filters import Filters
    from data.periods import parse_quarter
    from geo import maps
    from viz.pagedata import complaint_points

    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    points, total = complaint_points(demo, f, "de", LOCAL_ADMIN)
    points.loc[0, "description"] = "<img src=x onerror=alert(1)>"
    m = maps.base_map(demo.bbox(), tiles="none")
    maps.add_complaint_points(m, points, "de", total=total)
    html = maps.map_html(m)
    assert len(points) == maps.MAX_POINTS < total
    assert "<img src=x" not in html and "\\u003cimg src=x" not in html
    assert "markerClusterGroup" in html and "maxZoom" in html
    assert "gezeigt: die 1.000 neuesten von" in html
    assert len(html) < 1_500_000
