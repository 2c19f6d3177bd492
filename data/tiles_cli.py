"""``python -m data tiles``: base map tiles for use without network (see :mod:`data.tiles`).

    python -m data tiles import FILE.mbtiles|FOLDER [--name NAME] [--attribution TEXT] [--tms]
    python -m data tiles fetch --url TEMPLATE --area city|BBOX --zoom Z0-Z1 [--name NAME]
                               [--rate N] [--max-tiles N] [--attribution TEXT]
    python -m data tiles list

Exit codes: 0 done, 1 failed or interrupted (``fetch``: run the same command again to
resume), 2 usage errors and refusals (a server whose policy forbids bulk downloads, a
budget above ``--max-tiles``). The last line of output is one JSON object.

Listed in :data:`data.cli.EXTRA_COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data import tiles

FETCH_EPILOG = """\
Only for tile servers that permit it: the city's own XYZ/WMTS on the intranet. Refused:
the OpenStreetMap servers (their tile policy forbids bulk downloads; use the app's cache
of viewed tiles instead, LAGEBILD_TILE_CACHE=on) and basemap.de unless the operator has
given explicit permission (LAGEBILD_TILES_PERMISSION=sgx.geodatenzentrum.de).

The tile budget is printed before anything is fetched. Requests are rate limited (--rate
per second) and carry an identifying User-Agent (contact: LAGEBILD_TILES_CONTACT). Tiles
are written one by one; an interrupted run resumes where it stopped (tiles present are
skipped).

URL template: {z}, {x}, {y} (or {-y} for a TMS row). WMTS in Web Mercator, e.g.
  https://gis.stadt.example/wmts/stadtplan/GLOBAL_WEBMERCATOR/{z}/{y}/{x}.png
"""


def configure_tiles(parser: argparse.ArgumentParser) -> None:
    """base map tiles: import a city's MBTiles or tile folder, prefetch where allowed, list"""
    parser.description = ("Base map tiles kept with the store (LAGEBILD_STORE) and served by the app "
                          "(LAGEBILD_TILES=local).")
    sub = parser.add_subparsers(dest="tiles_command", required=True, parser_class=type(parser))
    imp = sub.add_parser("import", help="import a raster MBTiles file or a folder of z/x/y tiles")
    imp.add_argument("source", help="FILE.mbtiles (PNG/JPEG raster, e.g. from QGIS) or a folder z/x/y.png")
    imp.add_argument("--name", help="tile set name (default: from the file name)")
    imp.add_argument("--attribution", help="attribution shown on the map (default: from the file's metadata)")
    imp.add_argument("--tms", action="store_true", help="folder only: y counted from the bottom (TMS)")
    imp.add_argument("--store", metavar="DIR", help="store root (default: $LAGEBILD_STORE or data/store)")
    fetch = sub.add_parser("fetch", help="prefetch tiles from a server that permits it",
                           epilog=FETCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("--url", required=True, help="tile URL template with {z} {x} {y}")
    fetch.add_argument("--area", required=True,
                       help="'city' (bounding box of the app's districts) or 'minlon,minlat,maxlon,maxlat'")
    fetch.add_argument("--zoom", required=True, help="zoom levels Z0-Z1, e.g. 12-16")
    fetch.add_argument("--name", default="stadtplan", help="tile set name (default: stadtplan)")
    fetch.add_argument("--rate", type=float, default=2.0, help="requests per second at most (default 2)")
    fetch.add_argument("--max-tiles", type=int, default=20000,
                       help="refuse a budget above this many tiles (default 20000)")
    fetch.add_argument("--attribution", default="", help="attribution shown on the map")
    fetch.add_argument("--store", metavar="DIR", help="store root (default: $LAGEBILD_STORE or data/store)")
    lst = sub.add_parser("list", help="the tile sets of the store")
    lst.add_argument("--store", metavar="DIR", help="store root (default: $LAGEBILD_STORE or data/store)")


def _city_bbox() -> tuple[float, float, float, float]:
    """The bounding box of the districts the app shows (LAGEBILD_DATA, the store or the demo)."""
    from data import sources

    folder = sources.resolve().folder
    doc = json.loads((folder / "districts.geojson").read_text(encoding="utf-8"))
    xs: list[float] = []
    ys: list[float] = []

    def walk(c) -> None:
        if isinstance(c, list | tuple) and c and isinstance(c[0], int | float):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        elif isinstance(c, list | tuple):
            for part in c:
                walk(part)

    for feature in doc.get("features", []):
        walk((feature.get("geometry") or {}).get("coordinates", []))
    if not xs:
        raise tiles.TileError(f"{folder / 'districts.geojson'}: no district geometry to take the area from")
    return min(xs), min(ys), max(xs), max(ys)


def _print_set(tset: tiles.TileSet) -> None:
    print(f"tile set {tset.name!r}: {tset.tiles} tiles ({tset.bytes / 1e6:.1f} MB), {tset.format}, "
          f"zoom {tset.minzoom}-{tset.maxzoom}, bounds {', '.join(f'{b:.5f}' for b in tset.bounds)}, "
          f"attribution: {tiles.attribution_text(tset.attribution) or '(none: add --attribution)'}")


def _run_import(args: argparse.Namespace) -> int:
    source = Path(args.source)
    try:
        if source.is_dir():
            tset = tiles.import_folder(source, args.name, args.store, args.attribution, tms=args.tms)
        else:
            if args.tms:
                print("--tms applies to folders only (MBTiles rows are always TMS)", file=sys.stderr)
                return 2
            tset = tiles.import_mbtiles(source, args.name, args.store, args.attribution)
    except tiles.TileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"imported": False, "error": str(exc)}, ensure_ascii=False))
        return 1
    _print_set(tset)
    pick = "" if len(tiles.list_tilesets(args.store)) == 1 else f" LAGEBILD_TILES_SET={tset.name}"
    print(f"use it: LAGEBILD_TILES=local{pick} make run (or choose it in the sidebar)")
    print(json.dumps({"imported": True, **tset.to_json()}, ensure_ascii=False))
    return 0


def _run_fetch(args: argparse.Namespace) -> int:
    try:
        tiles.check_template(args.url)
        tiles.check_policy(args.url, "prefetch")
        name = tiles.check_name(args.name)
        zooms = tiles.parse_zooms(args.zoom)
        bbox = _city_bbox() if args.area.strip().lower() == "city" else tiles.parse_bbox(args.area)
        if not args.rate > 0:
            raise tiles.TileError(f"--rate must be a positive number, got {args.rate!r}")
    except tiles.PolicyError as exc:
        print(str(exc), file=sys.stderr)
        print(json.dumps({"fetched": 0, "refused": True, "error": str(exc)}, ensure_ascii=False))
        return 2
    except (tiles.TileError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"fetched": 0, "error": str(exc)}, ensure_ascii=False))
        return 2
    target = tiles.tiles_root(args.store) / name
    plan = tiles.budget(args.url, bbox, zooms, args.rate, target)
    per_zoom = ", ".join(f"z{z}: {n}" for z, n in plan.per_zoom.items())
    minutes = plan.seconds / 60
    print(f"budget: {plan.total} tiles ({per_zoom}) for bbox {', '.join(f'{b:.5f}' for b in bbox)}; "
          f"{plan.present} present, {plan.missing} to fetch, about {minutes:.1f} min at {args.rate:g} "
          f"requests/s; User-Agent: {tiles.user_agent()}", flush=True)
    if plan.total > args.max_tiles:
        msg = (f"refused: {plan.total} tiles exceed --max-tiles {args.max_tiles}; narrow --area or --zoom, "
               f"or raise --max-tiles")
        print(msg, file=sys.stderr)
        print(json.dumps({"fetched": 0, "refused": True, "total": plan.total, "error": msg}))
        return 2
    step = max(1, plan.total // 20)

    def progress(done: int, total: int, fetched: int) -> None:
        if done % step == 0 or done == total:
            print(f"progress: {done}/{total} ({100 * done / max(total, 1):.0f} %), {fetched} fetched",
                  flush=True)

    try:
        result = tiles.fetch(args.url, bbox, zooms, name, args.store, rate=args.rate,
                             attribution=args.attribution, progress=progress)
    except tiles.PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except tiles.TileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"fetched": 0, "error": str(exc)}, ensure_ascii=False))
        return 2
    except KeyboardInterrupt:
        print("interrupted: the tiles so far are kept; run the same command again to resume", file=sys.stderr)
        return 1
    summary = {"fetched": result.fetched, "skipped": result.skipped, "missing": result.missing,
               "total": result.total, "requests": result.requests, "name": name, "error": result.error}
    if result.tileset is None:
        print(f"stopped after {result.fetched} new tiles ({result.skipped} present): {result.error}; "
              f"run the same command again to resume", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        return 1
    _print_set(result.tileset)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def run_tiles(args: argparse.Namespace) -> int:
    if args.tiles_command == "import":
        return _run_import(args)
    if args.tiles_command == "fetch":
        return _run_fetch(args)
    sets = tiles.list_tilesets(args.store)
    for tset in sets:
        _print_set(tset)
    print(json.dumps([s.to_json() for s in sets], ensure_ascii=False))
    return 0
