"""The base map with no network, in headless Chromium against `streamlit run app.py`.

- a tile set of the store (imported from an MBTiles file the test writes) is shown from the
  app's own tile route, with its attribution, and no request leaves localhost;
- the Präsentation page picks it by itself (it covers the view) and says so;
- the cache of viewed tiles: a page viewed while a (local, real) tile server runs, the
  server stopped, the page viewed again: every tile comes from the app.
"""

from __future__ import annotations

import time

import pytest
from harness import Recorder, StreamlitServer, map_frame, screenshot, wait_for_app
from tile_fixtures import TileServer, import_city_set

pytestmark = pytest.mark.browser

ALL_TILES_LOADED = """() => {
  const tiles = document.querySelectorAll('img.leaflet-tile');
  return tiles.length > 0 && Array.from(tiles).every(t => t.classList.contains('leaflet-tile-loaded')
                                                        && t.naturalWidth === 256);
}"""


def tile_sources(frame) -> list[str]:
    return frame.evaluate(
        "() => Array.from(document.querySelectorAll('img.leaflet-tile-loaded'), t => t.src)")


def settled_tiles(frame, timeout: float = 60.0) -> list[str]:
    """The tiles of the map once it has settled: every tile loaded and the map's size and tile
    set unchanged for a second. A page can show all tiles of an intermediate view (the map
    drawn before its frame has its final size, or a rerun redrawing it); that view is not the
    one a user sees, and a test comparing two page views must compare the settled ones."""
    state = """() => {
      const c = document.querySelector('.leaflet-container');
      const tiles = Array.from(document.querySelectorAll('img.leaflet-tile'));
      return {size: [c.clientWidth, c.clientHeight],
              loaded: tiles.filter(t => t.classList.contains('leaflet-tile-loaded')
                                        && t.naturalWidth === 256).map(t => t.src).sort(),
              other: tiles.filter(t => !t.classList.contains('leaflet-tile-loaded')
                                       || t.naturalWidth !== 256).map(t => t.src).sort()};
    }"""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = frame.evaluate(state)
        if now != last:
            last, since = now, time.monotonic()
        elif now["loaded"] and not now["other"] and time.monotonic() - since >= 1.0:
            return now["loaded"]
        time.sleep(0.1)
    raise AssertionError(f"the map did not settle with all tiles loaded within {timeout} s; "
                         f"last state: {last!r}")


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    store = tmp_path_factory.mktemp("tiles") / "store"
    import_city_set(store, zooms=range(9, 15))
    s = StreamlitServer({"LAGEBILD_TILES": "local", "LAGEBILD_STORE": str(store)}, script="app.py")
    yield s
    s.stop()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="de-DE")
    rec = Recorder()
    context.route("**/*", rec.route)
    p = context.new_page()
    p.recorder = rec
    return context, p


def test_map_shows_local_tiles_from_the_app_with_attribution(local_server, page) -> None:
    page.goto(f"{local_server.url}/lagebild")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_function(ALL_TILES_LOADED, timeout=60_000)
    sources = tile_sources(frame)
    assert sources and all(s.startswith(f"{local_server.url}/tiles/set/stadtplan/") for s in sources)
    attribution = frame.locator(".leaflet-control-attribution")
    assert attribution.is_visible() and "© Stadt Hamm, Geoinformation" in attribution.inner_text()
    assert page.get_by_text("alle vom App-Server").first.is_visible()  # the UI says the tiles are local
    assert page.recorder.external == []
    screenshot(page, "lagebild-local-tiles")


def test_presentation_picks_local_tiles_that_cover_the_view(local_server, page) -> None:
    page.goto(f"{local_server.url}/praesentation")
    wait_for_app(page)
    frame = map_frame(page)
    frame.wait_for_function(ALL_TILES_LOADED, timeout=60_000)
    assert all("/tiles/set/stadtplan/" in s for s in tile_sources(frame))
    assert page.get_by_text("deckt diese Ansicht ab, ohne Internet").first.is_visible()
    assert "© Stadt Hamm, Geoinformation" in frame.locator(".leaflet-control-attribution").inner_text()
    assert page.recorder.external == []
    page.set_viewport_size({"width": 1500, "height": 1250})  # the note under the map in the picture
    frame.wait_for_function(ALL_TILES_LOADED, timeout=60_000)
    page.get_by_text("deckt diese Ansicht ab, ohne Internet").first.scroll_into_view_if_needed()
    path = screenshot(page, "praesentation-local-tiles")
    assert path.stat().st_size > 50_000


def test_viewed_tiles_are_served_by_the_app_when_the_tile_server_is_gone(browser, tmp_path) -> None:
    tile_server = TileServer()
    env = {"LAGEBILD_TILES": "url", "LAGEBILD_TILES_URL": tile_server.url,
           "LAGEBILD_TILES_ATTRIBUTION": "© Testkarte", "LAGEBILD_TILE_CACHE": "on",
           "LAGEBILD_STORE": str(tmp_path / "store")}
    app = StreamlitServer(env, script="app.py")
    try:
        context, page = new_page(browser)
        page.goto(f"{app.url}/lagebild")
        wait_for_app(page)
        frame = map_frame(page)
        online = settled_tiles(frame)
        assert online and all("/tiles/cache/" in s and s.startswith(app.url) for s in online)
        assert len(tile_server.tile_requests()) >= len(online)  # the app fetched them for the browser
        assert not any(f":{tile_server.port}/" in r for r in page.recorder.requests)  # never the browser
        context.close()

        tile_server.stop()  # the network is gone
        context, page = new_page(browser)
        page.goto(f"{app.url}/lagebild")
        wait_for_app(page)
        frame = map_frame(page)
        offline = settled_tiles(frame)  # every tile loaded, none failed
        assert offline == online
        assert page.get_by_text("angesehene Kacheln").first.is_visible()
        assert "© Testkarte" in frame.locator(".leaflet-control-attribution").inner_text()
        assert page.recorder.external == []
        screenshot(page, "lagebild-cached-tiles-offline")
        context.close()
    finally:
        app.stop()
        tile_server.stop()
