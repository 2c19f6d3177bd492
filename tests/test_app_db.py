"""The app on the database store (LAGEBILD_DB): Daten page, role rules, one import seen by all.

AppTest against a throwaway PostgreSQL/PostGIS cluster (fixtures in conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_fixtures import german_excel_csv, open311_json, shapefile_zip
from streamlit.testing.v1 import AppTest

from base.i18n import fmt_number
from data.dbstore import DbStore
from data.filters import Filters, complaint_mask
from data.folder import load_folder
from data.periods import parse_quarter

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = str(REPO / "dashboard.py")
DEMO = REPO / "data" / "demo"


@pytest.fixture
def db_env(pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("LAGEBILD_DB", pg_url)
    monkeypatch.setenv("LAGEBILD_STORE", str(tmp_path / "unused-file-store"))
    monkeypatch.delenv("LAGEBILD_DATA", raising=False)
    return pg_url


@pytest.fixture(scope="module")
def demo():
    return load_folder(DEMO)


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _page(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _upload(at: AppTest, kind: str, name: str, data: bytes) -> None:
    at.selectbox(key="dt_kind").set_value(kind).run()
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.message for e in at.exception]


def test_daten_page_imports_restores_and_switches_in_the_database(db_env: str, tmp_path: Path) -> None:
    at = _page("pages/daten.py")
    assert "Demo-Daten" in _texts(at.markdown)  # nothing active in the database yet
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    assert "Bezirke: Version 1 gespeichert (2 Datensätze aus bezirke.zip)." in _texts(at.success)
    _upload(at, "complaints", "beschwerden.csv", german_excel_csv(tmp_path / "c.csv").read_bytes())
    at.button(key="dt_check").click().run()
    assert _metrics(at) == {"Datensätze": "7", "Übernommen": "3", "Abgelehnt": "4"}
    at.button(key="dt_import").click().run()
    assert not at.exception
    store = DbStore(db_env)
    assert store.state() == (2, True)
    markdown = _texts(at.markdown)
    assert "importierten Daten** der Datenbank (Version 2)" in markdown and "127.0.0.1" in markdown
    assert "Importierte Daten" in _texts(at.sidebar.caption)
    _upload(at, "complaints", "sagsuns.json", open311_json(tmp_path / "o.json").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    assert store.read_dataset("complaints")["complaint_id"].tolist() == ["A-1", "A-2"]
    at.selectbox(key="dt_restore_version").set_value(2).run()
    at.selectbox(key="dt_restore_dataset").set_value("complaints").run()
    at.button(key="dt_restore").click().run()
    assert "Version 2 wiederhergestellt (neue Version 4)." in _texts(at.success)
    assert store.read_dataset("complaints")["complaint_id"].tolist() == ["B-1", "B-2", "B-7"]
    at.radio(key="dt_source").set_value("demo").run()
    assert store.state() == (4, False)
    assert "Demo-Daten" in _texts(at.markdown)
    store.engine.dispose()


def test_the_importing_session_sees_its_import_without_waiting_for_the_notification(
        db_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The replica that imports shows the new version at once, also when its listener has not
    (yet) seen the notification: here the listener never updates after its first read."""
    from data.dbstore.watch import StateWatcher

    at = _page("pages/daten.py")
    assert "Demo-Daten" in _texts(at.markdown)
    monkeypatch.setattr(StateWatcher, "_read", lambda self, conn: None)  # notifications go unseen
    _upload(at, "districts", "bezirke.zip", shapefile_zip(tmp_path / "b.zip").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    _upload(at, "complaints", "beschwerden.csv", german_excel_csv(tmp_path / "c.csv").read_bytes())
    at.button(key="dt_check").click().run()
    at.button(key="dt_import").click().run()
    assert not at.exception
    assert "importierten Daten** der Datenbank (Version 2)" in _texts(at.markdown)
    at.radio(key="dt_source").set_value("demo").run()
    assert "Demo-Daten" in _texts(at.markdown)  # the switch, too


@pytest.fixture
def demo_in_db(db_env: str) -> str:
    store = DbStore(db_env)
    store.load_folder(DEMO)
    store.activate()
    store.engine.dispose()
    return db_env


def _complaints(demo, districts=()) -> str:
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"), districts=tuple(districts))
    return fmt_number(int(complaint_mask(demo["complaints"], f).sum()), "de")


@pytest.mark.parametrize(("env", "districts", "daten_allowed"), [
    ({}, [], True),  # local admin
    ({"LAGEBILD_LOCAL_ROLE": "viewer"}, [], False),
    ({"LAGEBILD_LOCAL_ROLE": "coordinator", "LAGEBILD_LOCAL_DISTRICTS": "heessen"}, ["heessen"], False),
])
def test_role_rules_on_the_database_path(demo_in_db: str, demo, monkeypatch: pytest.MonkeyPatch,
                                         env: dict, districts: list, daten_allowed: bool) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = _page()
    assert "Importierte Daten" in _texts(at.sidebar.caption)  # the database, not the demo folder
    assert next(m.value for m in at.metric if m.label == "Beschwerden") == _complaints(demo, districts)
    if daten_allowed:
        at = _page("pages/daten.py")
        assert "Daten" in [t.value for t in at.title] and at.file_uploader
    else:  # imports and restores are the admin's: the page is not even in the navigation
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            _page("pages/daten.py")
    at = _page("pages/lagebild.py", l="districts,points")
    assert ("Einzelne Beschwerden" in at.multiselect(key="lb_layers").options) is (
        env.get("LAGEBILD_LOCAL_ROLE") != "viewer")


def _new_complaints(path: Path, demo, n: int, prefix: str) -> Path:
    """A complaints file of ``n`` new noise complaints in August 2026 at demo positions."""
    path.write_text("complaint_id,received_at,category,lat,lon\n"
                    + "".join(f"{prefix}-{i},2026-08-0{1 + i % 9}T10:00,laerm,{lat},{lon}\n"
                              for i, (lat, lon) in enumerate(
                                  demo["complaints"][["lat", "lon"]].head(n).itertuples(index=False))),
                    encoding="utf-8")
    return path


def _rerun_until_shown(at: AppTest, before: str, new: str, timeout: float = 10) -> str:
    """Rerun the session until its complaint count is ``new`` (at most ``timeout`` s, the
    issue's bound); every rerun shows the old or the new version, never a mix. Returns the
    count shown last."""
    import time

    end = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception
        shown = next(m.value for m in at.metric if m.label == "Beschwerden")
        assert shown in (before, new)  # one version or the other, never a mix
        if shown == new or time.monotonic() > end:
            return shown
        time.sleep(0.05)


def test_an_import_reaches_a_running_session_at_its_next_rerun(demo_in_db: str, demo, tmp_path: Path) -> None:
    at = _page()
    before = next(m.value for m in at.metric if m.label == "Beschwerden")
    assert before == _complaints(demo)
    store = DbStore(demo_in_db)  # another replica (or the CLI) imports new complaints
    from data.importers import prepare_import

    report = prepare_import("complaints", _new_complaints(tmp_path / "c.csv", demo, 7, "N"), store=store)
    assert report.records_accepted == 7
    store.commit(report)
    # the replica learns of it by LISTEN/NOTIFY (data/dbstore/watch.py), not by asking the
    # database at every rerun: a rerun racing the notification may still show the old data,
    # whole; within 10 s every rerun shows the new one
    assert _rerun_until_shown(at, before, "7") == "7"
    store.engine.dispose()


def test_unreachable_database_shows_an_error_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import pgcluster

    monkeypatch.setenv("LAGEBILD_DB", f"postgresql+psycopg://nobody@127.0.0.1:{pgcluster.free_port()}/x")
    monkeypatch.delenv("LAGEBILD_DATA", raising=False)
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    assert not at.exception
    assert "127.0.0.1:" in _texts(at.error).replace("\\", "") and not at.metric


def test_sessions_of_a_replica_share_its_caches_on_the_database_path(demo_in_db: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A second session opening a view another session computed reads the replica's caches:
    no generation is opened again and the Lagebild layers are not computed again (no cache
    key holds a per-session object)."""
    import geo.dbbundle
    import viz.pagedata

    calls = {"bundle": 0, "layers": 0}
    open_db_bundle, lagebild_data = geo.dbbundle.open_db_bundle, viz.pagedata.lagebild_data

    def counted_bundle(*a, **kw):
        calls["bundle"] += 1
        return open_db_bundle(*a, **kw)

    def counted_layers(*a, **kw):
        calls["layers"] += 1
        return lagebild_data(*a, **kw)

    monkeypatch.setattr(geo.dbbundle, "open_db_bundle", counted_bundle)
    monkeypatch.setattr(viz.pagedata, "lagebild_data", counted_layers)
    view = {"q": "2025-Q2..2026-Q1", "d": "pelkum,heessen", "wd": "1,5"}  # a view no other test opens
    first = _page("pages/lagebild.py", **view)
    assert calls["layers"] == 1
    seen = dict(calls)
    second = _page("pages/lagebild.py", **view)  # another browser, the same replica
    assert calls == seen
    assert [m.value for m in second.metric] == [m.value for m in first.metric]
    assert second.query_params == first.query_params


def test_a_new_generation_is_made_ready_before_the_sessions_switch(demo_in_db: str, demo, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An import elsewhere: the replica's listener loads the new generation and builds the
    spatial model of the view drawn last before the reruns get it, so a session's first run on
    it loads and builds nothing (at region scale seconds for every session that reruns then);
    meanwhile the reruns show the old version, whole."""
    import threading

    import geo.dbbundle
    import geo.model
    from data.importers import prepare_import
    from ui import cache

    monkeypatch.setattr(cache, "_recent_views", {})  # only this test's view (not other tests')
    at = _page()
    assert list(cache._recent_views) == ["admin:*"]  # the local admin's view was drawn
    before = next(m.value for m in at.metric if m.label == "Beschwerden")
    calls: list[tuple[str, str]] = []
    open_db_bundle, build = geo.dbbundle.open_db_bundle, geo.model.build

    def counted_bundle(*a, **kw):
        calls.append(("bundle", threading.current_thread().name))
        return open_db_bundle(*a, **kw)

    def counted_build(*a, **kw):
        calls.append(("model", threading.current_thread().name))
        return build(*a, **kw)

    monkeypatch.setattr(geo.dbbundle, "open_db_bundle", counted_bundle)
    monkeypatch.setattr(geo.model, "build", counted_build)
    store = DbStore(demo_in_db)  # another replica (or the CLI) imports
    path = _new_complaints(tmp_path / "c.csv", demo, 5, "R")
    generation = store.commit(prepare_import("complaints", path, store=store)).generation
    store.engine.dispose()
    assert _rerun_until_shown(at, before, "5") == "5"
    ready = f"lagebild-ready-g{generation}"  # the listener's worker, not a session's script run
    assert calls == [("bundle", ready), ("model", ready)]
