"""Base map tiles: MBTiles/folder import, prefetch (budget, rate limit, resume, refusal), the
viewed-tile cache behind the app's tile route, local tiles on maps and in exports.

Every tile server here is a real HTTP server on localhost (tests/tile_fixtures.py)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import time

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tile_fixtures import (
    HAMM_BBOX,
    TILE_RGB,
    TileServer,
    city_tiles,
    import_city_set,
    tile_png,
    write_mbtiles,
)

from data import tiles
from data.cli import main as cli
from geo import maps
from geo import tiles as geo_tiles
from ui import tile_route


@pytest.fixture
def store(tmp_path, monkeypatch):
    root = tmp_path / "store"
    monkeypatch.setenv("LAGEBILD_STORE", str(root))
    monkeypatch.delenv("LAGEBILD_TILES_SET", raising=False)
    monkeypatch.delenv(tiles.PERMISSION_ENV, raising=False)
    monkeypatch.setenv(tiles.CONTACT_ENV, "gis@stadt.example")
    return root


@pytest.fixture
def tile_server():
    server = TileServer()
    yield server
    server.stop()


# --- import ------------------------------------------------------------------------------------------


def test_mbtiles_import_flips_rows_and_keeps_metadata(store, tmp_path) -> None:
    path = tmp_path / "stadt.mbtiles"
    written = write_mbtiles(path, [(12, 2136, 1367), (12, 2137, 1367), (13, 4273, 2734)], {
        "name": "Stadtplan", "format": "png", "minzoom": "12", "maxzoom": "13",
        "bounds": "7.7,51.6,7.9,51.7",
        "attribution": '<a href="https://gis.stadt.example/">© Stadt</a> <script>alert(1)</script>'})
    tset = tiles.import_mbtiles(path, store=store)
    assert tset.name == "stadt" and tset.format == "png" and tset.tiles == 3
    assert (tset.minzoom, tset.maxzoom) == (12, 13)
    assert tset.bounds == (7.7, 51.6, 7.9, 51.7)
    # TMS row 2^12-1-1367 = 2728 in the file; the store holds it at XYZ y = 1367
    assert tset.path(12, 2136, 1367).read_bytes() == written[(12, 2136, 1367)]
    assert not tset.path(12, 2136, 2728).exists()
    # attribution: the link kept, other markup dropped (its text kept as text)
    assert '<a href="https://gis.stadt.example/"' in tset.attribution
    assert "<script" not in tset.attribution and "alert(1)" in tset.attribution
    assert tiles.attribution_text(tset.attribution).startswith("© Stadt")
    assert tiles.get_tileset("stadt", store).to_json() == tset.to_json()


def test_mbtiles_without_bounds_and_zooms_derives_them_and_reads_jpeg(store, tmp_path) -> None:
    path = tmp_path / "luftbild.mbtiles"
    write_mbtiles(path, [(14, 8546, 5470), (15, 17093, 10941)], {"format": "jpg"}, fmt="JPEG")
    tset = tiles.import_mbtiles(path, store=store, attribution="© Luftbild Stadt")
    assert tset.format == "jpg" and (tset.minzoom, tset.maxzoom) == (14, 15)
    assert tset.bounds == pytest.approx(tiles.tile_bounds(15, 17093, 10941))
    assert tset.path(15, 17093, 10941).read_bytes()[:3] == b"\xff\xd8\xff"
    assert tset.attribution == "© Luftbild Stadt"


@pytest.mark.parametrize("meta, message", [
    ({"format": "pbf"}, "vector tiles"),
    ({"format": "png", "minzoom": "x"}, "'minzoom' must be a whole number"),
    ({"format": "png", "bounds": "1,2,3"}, "'bounds' must be"),
])
def test_bad_mbtiles_are_refused_and_leave_the_store_as_it_was(store, tmp_path, meta, message) -> None:
    good = tmp_path / "stadt.mbtiles"
    write_mbtiles(good, [(12, 2136, 1367)], {"format": "png", "attribution": "© Stadt"})
    before = tiles.import_mbtiles(good, store=store)
    bad = tmp_path / "bad.mbtiles"
    write_mbtiles(bad, [(12, 2136, 1367)], meta)
    with pytest.raises(tiles.TileError, match=message):
        tiles.import_mbtiles(bad, name="stadt", store=store)
    assert tiles.get_tileset("stadt", store).to_json() == before.to_json()
    assert [p.name for p in tiles.tiles_root(store).iterdir()] == ["stadt"]


def test_not_an_mbtiles_file_is_refused(store, tmp_path) -> None:
    path = tmp_path / "x.mbtiles"
    sqlite3.connect(path).execute("CREATE TABLE other (a)").connection.close()
    with pytest.raises(tiles.TileError, match="tables 'metadata' and 'tiles'"):
        tiles.import_mbtiles(path, store=store)


def test_folder_import_xyz_and_tms(store, tmp_path) -> None:
    folder = tmp_path / "kacheln"
    for z, x, y in [(12, 2136, 1367), (12, 2137, 1368)]:
        (folder / str(z) / str(x)).mkdir(parents=True, exist_ok=True)
        (folder / str(z) / str(x) / f"{y}.png").write_bytes(tile_png(z, x, y))
    (folder / "metadata.json").write_text(json.dumps({"attribution": "© Stadt"}))
    xyz = tiles.import_folder(folder, store=store)
    assert xyz.has(12, 2136, 1367) and xyz.attribution == "© Stadt" and xyz.tiles == 2
    tms = tiles.import_folder(folder, name="tms", store=store, tms=True)
    assert tms.has(12, 2136, 4095 - 1367) and not tms.has(12, 2136, 1367)


def test_cli_import_prints_the_set_and_json(store, tmp_path, capsys) -> None:
    path = tmp_path / "stadt.mbtiles"
    write_mbtiles(path, [(12, 2136, 1367)], {"format": "png", "attribution": "© Stadt"})
    assert cli(["tiles", "import", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["imported"] is True and "© Stadt" in out[0]
    assert cli(["tiles", "import", str(tmp_path / "missing.mbtiles")]) == 1
    assert cli(["tiles", "list"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out.strip().splitlines()[-1])] == ["stadt"]


# --- prefetch -----------------------------------------------------------------------------------------

BBOX = "7.80,51.66,7.84,51.69"


def test_fetch_prints_the_budget_before_fetching_and_fills_the_set(store, tile_server, capsys) -> None:
    expected = tiles.count_tiles(tiles.parse_bbox(BBOX), range(13, 15))
    total = sum(expected.values())
    rc = cli(["tiles", "fetch", "--url", tile_server.url, "--area", BBOX, "--zoom", "13-14",
              "--name", "intranet", "--rate", "50", "--attribution", "© Stadt, intern"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0].startswith(f"budget: {total} tiles (z13: {expected[13]}, z14: {expected[14]})")
    assert "0 present" in out[0] and "Lagebild/1.0" in out[0] and "gis@stadt.example" in out[0]
    assert any(line.startswith("progress:") for line in out)
    summary = json.loads(out[-1])
    assert summary["fetched"] == total == len(tile_server.tile_requests())
    tset = tiles.get_tileset("intranet", store)
    assert tset.tiles == total and tset.source == "fetch" and tset.attribution == "© Stadt, intern"
    assert all(a.startswith("Lagebild/1.0") and "gis@stadt.example" in a for a in tile_server.agents)


class VirtualClock:
    """A clock that only moves when the fetcher sleeps: the gaps it sees are exactly its waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_fetch_is_rate_limited(store, tile_server) -> None:
    rate = 8.0
    virtual = VirtualClock()
    tile_server.clock = virtual.clock  # each request stamped with the fetcher's clock
    result = tiles.fetch(tile_server.url, tiles.parse_bbox(BBOX), (13, 14), "rl", store, rate=rate,
                         sleep=virtual.sleep, clock=virtual.clock)
    assert result.fetched == len(tile_server.times) >= 10
    gaps = [b - a for a, b in zip(tile_server.times, tile_server.times[1:], strict=False)]
    assert min(gaps) == pytest.approx(1 / rate)  # every request waits for its slot
    assert sum(virtual.sleeps) == pytest.approx((result.fetched - 1) / rate)


def test_fetch_resumes_after_an_interruption(store, tile_server, capsys) -> None:
    bbox = tiles.parse_bbox(BBOX)
    total = sum(tiles.count_tiles(bbox, range(13, 15)).values())
    tile_server.fail_from = 6  # the server goes away after 5 tiles
    args = ["tiles", "fetch", "--url", tile_server.url, "--area", BBOX, "--zoom", "13-14", "--name", "re",
            "--rate", "100"]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err
    kept = [p for p in (tiles.tiles_root(store) / "re").rglob("*.png")]
    assert len(kept) == 5 and tiles.get_tileset("re", store) is None  # not complete yet
    tile_server.fail_from = None
    before = len(tile_server.requests)
    assert cli(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"{5} present" in out[0]
    summary = json.loads(out[-1])
    assert summary["skipped"] == 5 and summary["fetched"] == total - 5
    assert len(tile_server.requests) - before == total - 5  # nothing fetched twice
    assert tiles.get_tileset("re", store).tiles == total


@pytest.mark.parametrize("url", [
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "https://a.tile.openstreetmap.org/{z}/{x}/{y}.png",
    "https://tile.openstreetmap.de/{z}/{x}/{y}.png",
    "https://sgx.geodatenzentrum.de/wmts_basemapde/tile/1.0.0/de_basemapde_web_raster_farbe/default/"
    "GLOBAL_WEBMERCATOR/{z}/{y}/{x}.png",
])
def test_fetch_refuses_servers_whose_policy_forbids_it(store, url, capsys) -> None:
    assert cli(["tiles", "fetch", "--url", url, "--area", BBOX, "--zoom", "13"]) == 2
    captured = capsys.readouterr()
    assert "refused" in captured.err and json.loads(captured.out.splitlines()[-1])["refused"] is True
    assert not tiles.tiles_root(store).exists()


def test_basemap_needs_an_explicit_permission_osm_never(monkeypatch) -> None:
    url = "https://sgx.geodatenzentrum.de/x/{z}/{y}/{x}.png"
    with pytest.raises(tiles.PolicyError, match="LAGEBILD_TILES_PERMISSION"):
        tiles.check_policy(url, "prefetch", env={})
    tiles.check_policy(url, "prefetch", env={tiles.PERMISSION_ENV: "sgx.geodatenzentrum.de"})
    with pytest.raises(tiles.PolicyError, match="OpenStreetMap"):
        tiles.check_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "prefetch",
                           env={tiles.PERMISSION_ENV: "tile.openstreetmap.org"})
    # caching tiles that users view is what the OSM policy asks for
    tiles.check_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "cache", env={})


def test_fetch_refuses_a_budget_above_max_tiles(store, tile_server, capsys) -> None:
    assert cli(["tiles", "fetch", "--url", tile_server.url, "--area", BBOX, "--zoom", "13-16",
                "--max-tiles", "10"]) == 2
    out = capsys.readouterr()
    assert out.out.startswith("budget: ") and "exceed --max-tiles 10" in out.err
    assert tile_server.requests == []


def test_fetch_city_area_is_the_districts_bbox(store, tile_server, monkeypatch, capsys) -> None:
    rc = cli(["tiles", "fetch", "--url", tile_server.url, "--area", "city", "--zoom", "10", "--rate", "100",
              "--name", "city"])
    assert rc == 0
    tset = tiles.get_tileset("city", store)
    w, s, e, n = tset.bounds
    assert 7.6 < w < 7.8 and 7.9 < e < 8.1 and 51.5 < s < 51.7 and 51.7 < n < 51.9  # Hamm


# --- the app's tile route and the viewed-tile cache ------------------------------------------------------


@pytest.fixture
def client(store):
    app = Starlette(routes=tile_route.routes())
    with TestClient(app) as c:
        yield c


def test_route_serves_local_sets_and_nothing_else(store, client) -> None:
    tset = import_city_set(store, zooms=[12])
    z, x, y = city_tiles([12])[0]
    r = client.get(f"/tiles/set/stadtplan/{z}/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == tset.path(z, x, y).read_bytes() and r.headers["x-lagebild-tile"] == "local"
    assert client.get("/tiles/set/stadtplan/12/0/0.png").status_code == 404
    assert client.get("/tiles/set/nope/12/0/0.png").status_code == 404
    assert client.get("/tiles/set/..%2F..%2Fetc/12/0/0.png").status_code == 404
    assert client.get("/tiles/other/stadtplan/12/0/0.png").status_code == 404
    assert client.get("/tiles/cache/0123456789ab/12/0/0.png").status_code == 404  # not registered


def test_viewed_tiles_are_cached_and_served_when_the_server_is_gone(store, client) -> None:
    server = TileServer()
    cache = tiles.TileCache(store)
    key = cache.register(tiles.OnlineSource(server.url, "© Test", 19))
    try:
        first = client.get(f"/tiles/cache/{key}/13/4273/2734.png")
        assert first.status_code == 200 and first.headers["x-lagebild-tile"] == "fetched"
        again = client.get(f"/tiles/cache/{key}/13/4273/2734.png")
        assert again.headers["x-lagebild-tile"] == "cache" and again.content == first.content
        assert len(server.requests) == 1  # kept, not fetched again
        assert server.agents[0].startswith("Lagebild/1.0")
    finally:
        server.stop()
    offline = client.get(f"/tiles/cache/{key}/13/4273/2734.png")
    assert offline.status_code == 200 and offline.content == first.content
    assert client.get(f"/tiles/cache/{key}/13/4274/2734.png").status_code == 404  # never viewed
    # older than 7 days and the server gone: still served (stale), never lost
    path = cache.root / key / "13" / "4273" / "2734.png"
    old = time.time() - 8 * 86400
    os.utime(path, (old, old))
    stale = client.get(f"/tiles/cache/{key}/13/4273/2734.png")
    assert stale.status_code == 200 and stale.headers["x-lagebild-tile"] == "stale"


def test_cached_tiles_are_kept_seven_days_then_refreshed(store, tile_server) -> None:
    cache = tiles.TileCache(store)
    key = cache.register(tiles.OnlineSource(tile_server.url, "© Test", 19))
    assert cache.get(key, 12, 2136, 1367)[2] == "fetched"
    path = cache.root / key / "12" / "2136" / "1367.png"
    six_days = time.time() - 6 * 86400
    os.utime(path, (six_days, six_days))
    assert cache.get(key, 12, 2136, 1367)[2] == "cache" and len(tile_server.requests) == 1
    eight_days = time.time() - 8 * 86400
    os.utime(path, (eight_days, eight_days))
    assert cache.get(key, 12, 2136, 1367)[2] == "fetched" and len(tile_server.requests) == 2


def test_cache_refuses_basemap_without_permission(store) -> None:
    cache = tiles.TileCache(store, env={})
    with pytest.raises(tiles.PolicyError):
        cache.register(tiles.OnlineSource(maps.TILE_SOURCES["basemap"].url, "© BKG", 18))


# --- maps on local tiles ------------------------------------------------------------------------------------


def test_map_on_a_local_set_follows_its_zoom_range_bounds_and_attribution(store) -> None:
    tset = import_city_set(store, zooms=range(11, 14))
    m = maps.base_map(HAMM_BBOX, tiles=geo_tiles.local_layer(tset))
    text = maps.map_html(m)
    assert '"/tiles/set/stadtplan/{z}/{x}/{y}.png"' in text
    assert '"minZoom": 11' in text and '"maxZoom": 13' in text and '"maxBounds"' in text
    assert "gis.stadt.example" in text and "Geoinformation" in text
    assert "openstreetmap" not in text.lower()
    from viz.exports import external_urls

    assert external_urls(text) == []


def test_conference_choice_picks_local_tiles_only_when_they_cover_the_view(store) -> None:
    full = geo_tiles.local_layer(import_city_set(store, zooms=range(10, 15)))
    small = geo_tiles.local_layer(tiles.import_mbtiles(
        _mbtiles(store.parent / "klein.mbtiles", [(12, 2136, 1367)]), "klein", store))
    chosen, note = geo_tiles.conference_choice("none", [small, full], HAMM_BBOX, "de")
    assert chosen == full and "deckt diese Ansicht ab" in note
    chosen, note = geo_tiles.conference_choice("none", [small], HAMM_BBOX, "de")
    assert chosen == "none" and "decken diese Ansicht nicht ab" in note and "keiner" in note
    zoomed_in = geo_tiles.local_layer(import_city_set(store, zooms=[13, 14], name="nah"))
    chosen, note = geo_tiles.conference_choice("none", [zoomed_in], HAMM_BBOX, "de")
    assert chosen == "none" and "bei Zoom 11" in note  # the whole city needs zoom 11
    chosen, note = geo_tiles.conference_choice("osm", [], HAMM_BBOX, "en", {"osm": "OpenStreetMap"})
    assert chosen == "osm" and note == "No local tiles; base map: OpenStreetMap from the internet."


def _mbtiles(path, tile_list):
    write_mbtiles(path, tile_list, {"format": "png", "attribution": "© Stadt"})
    return path


def test_exported_html_embeds_the_local_tiles_it_shows(store) -> None:
    from viz.exports import external_urls, standalone_map_html

    tset = import_city_set(store, zooms=range(10, 15))
    m = maps.base_map(HAMM_BBOX, tiles=geo_tiles.local_layer(tset))
    page = standalone_map_html(m, "Karte", "Karte mit Stadtplan")
    assert page.count("data:image/png;base64,") > 20
    assert "/tiles/set/" not in page and external_urls(page) == []
    assert "Geoinformation" in page  # attribution travels with the map


def _tile_share(img: Image.Image) -> float:
    """The share of pixels in the generated tiles' colour."""
    import numpy as np

    rgb = np.asarray(img.convert("RGB")).reshape(-1, 3)
    return float((rgb == np.array(TILE_RGB)).all(axis=1).mean())


def test_png_export_shows_the_local_tiles_not_grey(store) -> None:
    from viz.exports import BrowserLog, map_png, standalone_map_html

    tset = import_city_set(store, zooms=range(10, 15))
    m = maps.base_map(HAMM_BBOX, tiles=geo_tiles.local_layer(tset))
    log = BrowserLog()
    png = map_png(standalone_map_html(m, "Karte", "Karte mit Stadtplan"), "Karte", "alt", 1000, 700, log=log)
    assert log.blocked == []
    share = _tile_share(Image.open(io.BytesIO(png)))
    assert share > 0.4, f"only {share:.0%} of the PNG shows tile colour"
    # without local tiles the same map is Leaflet's grey where the tiles would be
    page = standalone_map_html(maps.base_map(HAMM_BBOX, tiles="none"), "K", "a")
    plain = map_png(page, "K", "a", 1000, 700)
    assert _tile_share(Image.open(io.BytesIO(plain))) == 0


def test_report_pdf_map_carries_the_local_tiles(store) -> None:
    import pypdf

    from data.filters import Filters
    from data.folder import load_folder
    from data.periods import parse_quarter
    from geo import model as geo_model
    from viz import report
    from viz.exports import BrowserLog

    bundle = load_folder(tiles.DEFAULT_STORE.parent / "demo")
    model = geo_model.build(bundle, 9)
    f = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))
    layer = geo_tiles.local_layer(import_city_set(store, zooms=range(10, 15)))
    log = BrowserLog()
    pdf = report.quarter_report(bundle, model, f, "de", k=5, who="Test", log=log, tiles=layer)
    assert log.blocked == []
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    shares = [_tile_share(img.image) for page in reader.pages for img in page.images]
    assert max(shares) > 0.2, shares


def test_cached_tiles_cover_embed_and_online_sources_do_not(store, tile_server) -> None:
    cache = tiles.TileCache(store)
    source = tiles.OnlineSource(tile_server.url, "© Test", 19)
    layer = geo_tiles.cache_layer("url", source, cache)
    z_fit = tiles.fit_zoom(HAMM_BBOX, 1000, 700)
    assert not geo_tiles.covers(layer, HAMM_BBOX, (1000, 700))
    for z, x, y in tiles.tiles_in_bbox(HAMM_BBOX, z_fit):
        assert cache.get(source.key, z, x, y)[2] == "fetched"
    have, need, z = geo_tiles.coverage(layer, HAMM_BBOX, (1000, 700))
    assert have == need > 0 and z == z_fit and geo_tiles.covers(layer, HAMM_BBOX, (1000, 700))
    embedded, _, _ = geo_tiles.embed_tiles(layer, HAMM_BBOX, (800, 500))
    assert embedded and all(v.startswith("data:image/png;base64,") for v in embedded.values())
    online = geo_tiles.online_layer("url", source)
    assert geo_tiles.embed_tiles(online, HAMM_BBOX) == ({}, 0, 19)
    assert geo_tiles.for_export(online) == "none" and geo_tiles.for_export(layer) is layer
    assert cache.stats(source.key) == (need, [z_fit])
    shutil.rmtree(cache.root)


# --- the choice of base map (ui/basemap.py) -------------------------------------------------------------


@pytest.fixture
def mounted(store, monkeypatch):
    monkeypatch.setenv("LAGEBILD_TILE_ROUTE", "1")
    return store


def test_local_tiles_need_the_tile_route(store, monkeypatch) -> None:
    from ui import basemap

    import_city_set(store, zooms=[12])
    monkeypatch.delenv("LAGEBILD_TILE_ROUTE", raising=False)
    tiles_, warning = basemap.resolve("local:stadtplan", "de", cache=False)
    assert tiles_ == "none" and "streamlit run app.py" in warning


@pytest.mark.parametrize("choice, cache, kind, url_part, warned", [
    ("local:stadtplan", False, "local", "/tiles/set/stadtplan/", False),
    ("local:fehlt", False, None, None, True),
    ("osm", False, None, None, False),
    ("osm", True, "cache", "/tiles/cache/", False),
    ("basemap", True, None, None, True),  # basemap.de may not be stored without permission
    ("url", False, "online", "127.0.0.1", False),
    ("url", True, "cache", "/tiles/cache/", False),
    ("none", True, None, None, False),
    ("bogus", False, None, None, True),
])
def test_resolve_base_map_choices(mounted, monkeypatch, tile_server, choice, cache, kind, url_part,
                                  warned) -> None:
    from ui import basemap

    import_city_set(mounted, zooms=[12])
    monkeypatch.setenv("LAGEBILD_TILES_URL", tile_server.url)
    monkeypatch.setenv("LAGEBILD_TILES_ATTRIBUTION", "© Stadt <b>intern</b>")
    tiles_, warning = basemap.resolve(choice, "de", cache=cache)
    assert bool(warning) == warned
    if kind is None:
        assert isinstance(tiles_, str)
    else:
        assert tiles_.kind == kind and url_part in tiles_.url
        assert "<b>" not in tiles_.attribution


def test_configured_local_means_the_named_or_newest_set(mounted, monkeypatch) -> None:
    from ui import basemap

    import_city_set(mounted, zooms=[12], name="alt")
    import_city_set(mounted, zooms=[12], name="neu")
    monkeypatch.setenv("LAGEBILD_TILES", "local")
    assert basemap.configured("de") == "local:neu"
    monkeypatch.setenv("LAGEBILD_TILES_SET", "alt")
    assert basemap.configured("de") == "local:alt"
    assert basemap.options("de")[-3:] == ["local:alt", "local:neu", "none"]


def test_pages_on_local_tiles_say_so(mounted, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    import_city_set(mounted, zooms=range(9, 15))
    monkeypatch.setenv("LAGEBILD_TILES", "local")
    at = AppTest.from_file(str(tiles.DEFAULT_STORE.parents[1] / "dashboard.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/lagebild.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.sidebar.selectbox(key="base_tiles").value == "local:stadtplan"
    assert any("alle vom App-Server" in c.value for c in at.caption)
    at.sidebar.selectbox(key="base_tiles").set_value("none").run()  # chosen in the UI
    assert not any("alle vom App-Server" in c.value for c in at.caption)
    at.switch_page("pages/uebersicht.py").run()
    assert at.sidebar.selectbox(key="base_tiles").value == "none"  # the choice survives a page switch
    at.sidebar.selectbox(key="base_tiles").set_value("local:stadtplan").run()
    at.switch_page("pages/praesentation.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("deckt diese Ansicht ab" in c.value for c in at.caption)


def test_mbtiles_marked_xyz_are_not_flipped(store, tmp_path) -> None:
    path = tmp_path / "xyz.mbtiles"
    write_mbtiles(path, [(12, 2136, 1367)], {"format": "png", "scheme": "xyz"})
    tset = tiles.import_mbtiles(path, store=store)
    assert tset.has(12, 2136, 4095 - 1367)  # the row as written, taken as XYZ


def test_map_bounds_never_lock_out_the_data(store) -> None:
    small = tiles.import_mbtiles(_mbtiles(store.parent / "k.mbtiles", [(12, 2136, 1367)]), "k", store)
    m = maps.base_map(HAMM_BBOX, tiles=geo_tiles.local_layer(small))
    (s, w), (n, e) = m.options["max_bounds"]
    assert w <= HAMM_BBOX[0] and s <= HAMM_BBOX[1] and e >= HAMM_BBOX[2] and n >= HAMM_BBOX[3]
