"""``python -m data sync``: a real OGC API Features server (pygeoapi on localhost) and a drop folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gis_fixtures import gpx_two_tracks
from import_fixtures import INSIDE_MITTE, INSIDE_SUED, districts_geojson, tree_hash
from test_import_cli import run

from data.store import Store

PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 1000}}
  map: {{url: "http://127.0.0.1:9/{{z}}/{{x}}/{{y}}.png", attribution: "none"}}
logging:
  level: ERROR
metadata:
  identification: {{title: Partner, description: test, keywords: [test], keywords_type: theme,
                    terms_of_service: http://127.0.0.1/, url: http://127.0.0.1/}}
  license: {{name: CC-BY 4.0, url: http://127.0.0.1/}}
  provider: {{name: Polizei, url: http://127.0.0.1/}}
  contact: {{name: x, position: x, address: x, city: x, stateorprovince: x, postalcode: x, country: x,
            phone: x, fax: x, email: x, url: x, hours: x, instructions: x, role: pointOfContact}}
resources:
  wachen:
    type: collection
    title: Wachen
    description: Polizeiwachen
    keywords: [wachen]
    extents:
      spatial: {{bbox: [7, 51, 8, 52], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: GeoJSON
        data: {data}
        id_field: id
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _offices(path: Path, n: int) -> Path:
    """A GeoJSON file of n police stations inside the two districts."""
    points = [INSIDE_MITTE, INSIDE_SUED]
    features = [{"type": "Feature", "id": i + 1,
                 "properties": {"id": i + 1, "wache": f"W{i + 1}", "name": f"Wache {i + 1}"},
                 "geometry": {"type": "Point",
                              "coordinates": [points[i % 2][1] + i * 1e-4, points[i % 2][0]]}}
                for i in range(n)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


@pytest.fixture
def ogcapi(tmp_path: Path):
    """pygeoapi serving a small GeoJSON file on a free localhost port; stopped after the test."""
    data = _offices(tmp_path / "wachen.geojson", 3)
    port = _free_port()
    cfg = tmp_path / "pygeoapi.yml"
    cfg.write_text(PYGEOAPI_CONFIG.format(port=port, data=data), encoding="utf-8")
    openapi = tmp_path / "openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(openapi), "NO_PROXY": "*"}
    bindir = Path(sys.executable).parent
    subprocess.run([str(bindir / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(openapi)],
                   env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pygeoapi.flask_app import APP; "
         f"APP.run(host='127.0.0.1', port={port}, debug=False, use_reloader=False)"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/collections/wachen"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/items?f=json", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pygeoapi did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _config(tmp_path: Path, url: str, drop: Path, store: Path) -> Path:
    cfg = tmp_path / "sync.toml"
    cfg.write_text(f"""
store = "{store}"
report = "{tmp_path / 'sync-report.json'}"

[[source]]
name = "polizei-wachen"
kind = "offices"
url = "{url}"
map = {{ office_id = "wache", name = "name" }}
set = {{ kind = "police_station", operator = "police" }}

[[source]]
name = "kod-gps"
kind = "gps"
folder = "{drop}"
pattern = "*.gpx"
set = {{ kind = "kod" }}
""", encoding="utf-8")
    return cfg


def _sync(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code, _, _, last = run(["sync", str(cfg), "--lang", "en"], capsys)
    assert last is not None
    return code, {s["name"]: s for s in last["sources"]}


def test_sync_imports_skips_and_rejects(ogcapi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, served = ogcapi
    store = tmp_path / "store"
    code, *_ = run(["import", "districts", str(districts_geojson(tmp_path / "d.geojson")), "--store",
                    str(store)], capsys)
    assert code == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    gpx_two_tracks(drop / "2026-05-04.gpx")
    cfg = _config(tmp_path, url, drop, store)

    # 1. both sources are new: imported
    code, sources = _sync(cfg, capsys)
    assert code == 0
    assert sources["polizei-wachen"]["status"] == "imported"
    assert sources["polizei-wachen"]["records_accepted"] == 3
    assert sources["kod-gps"]["status"] == "imported" and sources["kod-gps"]["patrols_formed"] == 3
    frames = Store(store).frames()
    assert len(frames["offices"]) == 3 and len(frames["patrols"]) == 3
    assert json.loads((tmp_path / "sync-report.json").read_text())["imported"] == 2

    # 2. nothing changed: both skipped, the store untouched
    before = tree_hash(store / "generations")
    code, sources = _sync(cfg, capsys)
    assert code == 0 and {s["status"] for s in sources.values()} == {"unchanged"}
    assert tree_hash(store / "generations") == before

    # 3. the server's file changes (a fourth station): imported; the drop folder unchanged
    _offices(served, 4)
    code, sources = _sync(cfg, capsys)
    assert code == 0
    assert sources["polizei-wachen"]["status"] == "imported"
    assert sources["polizei-wachen"]["records_accepted"] == 4
    assert sources["kod-gps"]["status"] == "unchanged"
    assert len(Store(store).frames()["offices"]) == 4

    # 4. a broken file is dropped: rejected, exit 1, the patrols stay as they were
    generation = Store(store).generation
    patrols = Store(store).frames()["patrols"]
    broken = drop / "2026-05-05.gpx"
    broken.write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="51', encoding="utf-8")
    os.utime(broken, (time.time() + 10, time.time() + 10))
    code, sources = _sync(cfg, capsys)
    assert code == 1
    assert sources["kod-gps"]["status"] == "rejected"
    assert "2026-05-05.gpx" in sources["kod-gps"]["errors"][0]
    assert sources["polizei-wachen"]["status"] == "unchanged"
    assert Store(store).generation == generation
    assert list(Store(store).frames()["patrols"]["patrol_id"]) == list(patrols["patrol_id"])


def test_sync_unreachable_server_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    cfg = _config(tmp_path, f"http://127.0.0.1:{_free_port()}/collections/x", drop, tmp_path / "store")
    code, sources = _sync(cfg, capsys)
    assert code == 1 and sources["polizei-wachen"]["status"] == "rejected"
    assert sources["kod-gps"]["status"] == "unchanged"  # an empty drop folder is nothing to do


@pytest.mark.parametrize("text, needle", [
    ("[[source]]\nkind = 'offices'\n", "exactly one of folder, url, wfs"),
    ("[[source]]\nkind = 'autos'\nurl = 'http://x'\n", "kind must be one of"),
    ("[[source]]\nkind = 'gps'\nurl = 'http://x'\n", "never guessed"),
    ("[[source]]\nkind = 'offices'\nurl = 'http://x'\nfarbe = 1\n", "unknown keys ['farbe']"),
    ("quelle = 1\n", "unknown keys ['quelle']"),
    ("[[source]\n", "not valid TOML"),
])
def test_sync_bad_config_exits_2(tmp_path: Path, text: str, needle: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    code, _, err, last = run(["sync", str(cfg)], capsys)
    assert code == 2 and needle in err and last["exit_code"] == 2
