"""The app's own tile route: ``/tiles/set/<name>/<z>/<x>/<y>.<ext>`` and ``/tiles/cache/<key>/…``.

Mounted by ``app.py`` (``st.App(..., routes=routes())``; Streamlit 1.67 serves extra
Starlette routes that way). Streamlit's static serving cannot do this job: it serves only
``./static`` (symlinks leading out of it are refused), and it cannot fetch a tile on a
cache miss.

- ``set``: a tile set of the store (``python -m data tiles import|fetch``): the file, or 404.
- ``cache``: an online source the app registered (its URL template comes from the server's
  configuration, never from the request, so the route is no open proxy): the tile from the
  cache while it is younger than 7 days, else fetched from the source (identifying
  User-Agent, at most two downloads at a time) and kept; when the source
  cannot be reached, whatever the cache holds. The header ``X-Lagebild-Tile`` says where a
  tile came from (local, cache, fetched, stale).

The store is read from ``LAGEBILD_STORE`` at each request (as the rest of the app does).
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from data import tiles as store_tiles

MOUNTED_ENV = "LAGEBILD_TILE_ROUTE"
_Y = re.compile(r"^(\d+)(?:\.(png|jpg|jpeg|webp))?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _not_found() -> Response:
    return Response(status_code=404, content=b"tile not found", media_type="text/plain")


def _tile(data: bytes, fmt: str, how: str, max_age: int) -> Response:
    return Response(content=data, media_type=store_tiles.FORMATS.get(fmt, "application/octet-stream"),
                    headers={"Cache-Control": f"public, max-age={max_age}", "X-Lagebild-Tile": how,
                             "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"})


def _lookup(kind: str, name: str, z: int, x: int, y: int) -> Response:
    store = store_tiles.store_root()
    if kind == "set":
        if not _NAME.match(name) or name.startswith("_"):
            return _not_found()
        tset = store_tiles.get_tileset(name, store)
        data = store_tiles.read_tile(tset, z, x, y) if tset is not None else None
        if data is None:
            return _not_found()
        return _tile(data, store_tiles._sniff(data) or tset.format, "local", 86400)
    if kind != "cache":
        return _not_found()
    got = store_tiles.TileCache(store).get(name, z, x, y)
    if got is None:
        return _not_found()
    data, fmt, how = got
    return _tile(data, fmt, how, 3600)


async def tile_endpoint(request: Request) -> Response:
    params = request.path_params
    m = _Y.match(str(params.get("y", "")))
    if m is None:
        return _not_found()
    return await run_in_threadpool(_lookup, params["kind"], params["name"], int(params["z"]),
                                   int(params["x"]), int(m.group(1)))


def routes() -> list[Route]:
    """The tile routes (``app.py`` mounts them and sets :data:`MOUNTED_ENV`, so pages use them)."""
    return [Route("/tiles/{kind:str}/{name:str}/{z:int}/{x:int}/{y:str}", tile_endpoint, methods=["GET"])]
