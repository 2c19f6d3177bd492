"""Test helpers for base map tiles: generated PNG/JPEG tiles, MBTiles files written the way
QGIS writes them (TMS rows), and a real tile server on localhost that counts its requests."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image, ImageDraw

from data import tiles

#: The colour of generated tiles (a pale green no map layer uses; Leaflet's background is #ddd).
TILE_RGB = (214, 232, 200)
#: The demo city (Hamm) with a margin.
HAMM_BBOX = (7.65, 51.58, 8.02, 51.78)


def tile_png(z: int, x: int, y: int, rgb: tuple[int, int, int] = TILE_RGB, fmt: str = "PNG") -> bytes:
    """A 256 px tile in one colour with its z/x/y written on it (so tiles differ)."""
    img = Image.new("RGB", (256, 256), rgb)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, 255, 255], outline=(150, 170, 140))
    draw.text((10, 10), f"{z}/{x}/{y}", fill=(90, 110, 80))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def write_mbtiles(path: Path, tile_list: Iterable[tuple[int, int, int]], meta: dict[str, str],
                  fmt: str = "PNG", rgb: tuple[int, int, int] = TILE_RGB
                  ) -> dict[tuple[int, int, int], bytes]:
    """An MBTiles file as QGIS writes it: metadata table, tiles with TMS rows (y flipped).

    Returns the bytes of each tile by its XYZ address.
    """
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                "tile_data BLOB)")
    con.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
    written = {}
    for z, x, y in tile_list:
        data = tile_png(z, x, y, rgb, fmt)
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2 ** z - 1 - y, data))
        written[(z, x, y)] = data
    con.commit()
    con.close()
    return written


def city_tiles(zooms: Iterable[int], bbox=HAMM_BBOX) -> list[tuple[int, int, int]]:
    return [t for z in zooms for t in tiles.tiles_in_bbox(bbox, z, margin=1)]


class TileServer:
    """An XYZ tile server on localhost (``/{z}/{x}/{y}.png``) serving generated PNG tiles.

    Counts requests per path, records User-Agents and request times; ``fail_from`` makes
    every request from that number on (1 = the first) answer 503.
    """

    def __init__(self, rgb: tuple[int, int, int] = TILE_RGB, max_age: int | None = None) -> None:
        #: what stamps a request (``times``): the monotonic clock, or a test's virtual clock
        self.clock = time.monotonic
        self.requests: list[str] = []
        self.times: list[float] = []
        self.agents: list[str] = []
        self.fail_from: int | None = None
        self.rgb = rgb
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    outer.requests.append(self.path)
                    outer.times.append(outer.clock())
                    outer.agents.append(self.headers.get("User-Agent", ""))
                    n = len(outer.requests)
                if outer.fail_from is not None and n >= outer.fail_from:
                    self.send_error(503, "overloaded")
                    return
                parts = self.path.split("?")[0].strip("/").split("/")
                try:
                    z, x, y = int(parts[-3]), int(parts[-2]), int(parts[-1].split(".")[0])
                except (ValueError, IndexError):
                    self.send_error(404)
                    return
                body = tile_png(z, x, y, outer.rgb)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                if max_age is not None:
                    self.send_header("Cache-Control", f"max-age={max_age}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def tile_requests(self) -> list[str]:
        return [p for p in self.requests if p.endswith(".png")]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def import_city_set(store: Path, zooms=range(10, 15), name: str = "stadtplan",
                    attribution: str = '<a href="https://gis.stadt.example">© Stadt Hamm, Geoinformation</a>'
                    ) -> tiles.TileSet:
    """A generated tile set covering the demo city, imported into ``store`` through MBTiles."""
    path = store.parent / f"{name}.mbtiles"
    store.mkdir(parents=True, exist_ok=True)
    z = list(zooms)
    write_mbtiles(path, city_tiles(z), {"name": "Stadtplan Hamm", "format": "png", "attribution": attribution,
                                        "minzoom": str(min(z)), "maxzoom": str(max(z)),
                                        "bounds": ",".join(str(b) for b in HAMM_BBOX)})
    return tiles.import_mbtiles(path, name, store)
