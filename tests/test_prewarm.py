"""ui.prewarm: the server's start does the first session's fixed work through the pages'
own caches, never imports streamlit-folium outside a script run, and leaves a data set
that needs preparing to the first session."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"

# Runs in a fresh interpreter (as the server does at start): warm(), then what the first
# session would call, with the builders broken — it must be served from the caches.
_CHILD = """
import json, sys
sys.path.insert(0, ROOT)
from ui import prewarm
steps = prewarm.warm()
out = {"steps": sorted(steps), "folium_imported": "streamlit_folium" in sys.modules}
if "bundle" in steps:
    from data.roles import LOCAL_ADMIN
    from data.sources import resolve, signature
    from geo import model as geo_model, prepared
    from ui import cache, chrome, widgets
    from data.filters import Filters

    def broken(*a, **k):
        raise AssertionError("computed again")

    prepared.open_bundle = broken
    geo_model.build = broken
    source = resolve()
    sig = signature(source.folder)
    bundle = cache.load_bundle(str(source.folder), sig)
    view = cache.restricted_bundle(str(source.folder), sig, LOCAL_ADMIN.scope_key, bundle,
                                   LOCAL_ADMIN)
    q = view.quarters()[-1]
    ctx = chrome.Context(lang="de", filters=Filters(q, q), bundle=view, source=source,
                         signature=f"{sig}|{LOCAL_ADMIN.scope_key}", principal=LOCAL_ADMIN)
    out["model_resolution"] = widgets.spatial_model(ctx).index.resolution
print(json.dumps(out))
"""


def _child(folder: Path, **env: str) -> dict:
    import os

    full = {**os.environ, "LAGEBILD_DATA": str(folder), "LAGEBILD_TILES": "none", **env}
    full.pop("LAGEBILD_DB", None)
    proc = subprocess.run([sys.executable, "-c", _CHILD.replace("ROOT", repr(str(ROOT)))],
                          capture_output=True, text=True, env=full, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_warm_fills_the_caches_the_first_session_reads():
    out = _child(DEMO)
    assert out["steps"] == ["bundle", "imports", "model"]
    assert out["model_resolution"] == 9  # the Übersicht's model, served from the cache
    # imported outside a script run, streamlit-folium would not register its component
    assert out["folium_imported"] is False


def test_a_folder_that_needs_preparing_is_left_to_the_first_session(tmp_path):
    folder = tmp_path / "city"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("prepared"))
    out = _child(folder)
    assert out["steps"] == ["imports"]
    assert not (folder / "prepared").exists()  # not prepared behind the user's back


def test_turned_off_by_the_environment(monkeypatch):
    from ui import prewarm

    monkeypatch.setenv(prewarm.ENV, "0")
    assert prewarm.start() is None


def test_overview_after_warm_draws_kpis_and_map(monkeypatch):
    from ui import prewarm

    monkeypatch.setenv("LAGEBILD_DATA", str(DEMO))
    monkeypatch.setenv("LAGEBILD_TILES", "none")
    monkeypatch.delenv("LAGEBILD_DB", raising=False)
    assert "bundle" in prewarm.warm()
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=300)
    at.run()
    assert not at.exception
    assert len(at.metric) >= 3
    assert any(el.type == "component_instance" for el in at.main.get("component_instance"))


def test_the_views_drawn_last_are_remembered_for_the_next_generation(monkeypatch) -> None:
    """``ui.cache.restricted_bundle`` remembers the two principals whose views were drawn
    last (newest last): the database listener makes a new generation ready for them."""
    from data.folder import load_folder
    from data.roles import LOCAL_ADMIN, Principal
    from ui import cache

    monkeypatch.setattr(cache, "_recent_views", {})
    bundle = load_folder(DEMO)
    viewer = Principal(role="viewer", name="v")
    coordinator = Principal(role="coordinator", name="c", districts=("heessen",))
    steps = [(LOCAL_ADMIN, ["admin:*"]),
             (viewer, ["admin:*", "viewer:*"]),
             (LOCAL_ADMIN, ["viewer:*", "admin:*"]),  # drawn again: the newest
             (coordinator, ["admin:*", "coordinator:heessen"]),  # the oldest is forgotten
             (Principal(role="viewer", name="other viewer"), ["coordinator:heessen", "viewer:*"])]
    for principal, expected in steps:
        args = ("demo-test", "sig-test", principal.scope_key, bundle, principal)
        view = cache.restricted_bundle(*args)
        assert list(cache._recent_views) == expected
        assert cache._recent_views[principal.scope_key] is principal
        assert view is cache.restricted_bundle(*args)  # cached per scope
