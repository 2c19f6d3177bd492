"""``python -m data export --gpkg FILE [--query "q=2026-Q2&d=...&m=trend&r=9"]``: the Lagebild
as a GeoPackage for the partners' GIS, with the filters of a Lagebild link.

The data is the app's (``LAGEBILD_DATA``, else the active import, else the demo; ``--data``
overrides); the role is the local one (``LAGEBILD_LOCAL_ROLE``/``LAGEBILD_LOCAL_DISTRICTS``,
admin by default) or ``--role``/``--districts``; a viewer's file is k-anonymous (``--k``, at
least ``LAGEBILD_K``). Exit 0 written, 1 the data cannot be loaded, 2 usage errors. The last
line is one JSON object: file, crs, layers with their feature counts, role, k, notices.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from data.filters import Vocabulary, default_filters, from_query
from data.folder import load_folder
from data.periods import latest_complete_quarter
from data.privacy import effective_k, k_from_env
from data.roles import ROLES, Principal, local_principal, restrict
from data.sources import resolve
from geo import model as geo_model
from viz import gpkg, pagedata


def configure(parser: argparse.ArgumentParser) -> None:
    """write the Lagebild (districts, cells, offices, focus areas) as a styled GeoPackage"""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--gpkg", required=True, metavar="FILE", help="the GeoPackage to write")
    parser.add_argument("--query", default="", metavar="URL_OR_QUERY",
                        help="a Lagebild link or its query (q, d, f, c, k, wd, h; m = metric, r = cell size)")
    parser.add_argument("--crs", type=int, choices=gpkg.CRS_CHOICES, default=25832,
                        help="EPSG code of the file (default 25832, ETRS89 / UTM 32N)")
    parser.add_argument("--data", metavar="DIR", help="data folder (default: as the app)")
    parser.add_argument("--role", choices=ROLES, help="export as this role (default: the local role)")
    parser.add_argument("--districts", default="", help="comma-separated district ids (viewer/coordinator)")
    parser.add_argument("--k", type=int, default=None, help="viewer: suppress counts below k (≥ LAGEBILD_K)")
    parser.add_argument("--lang", choices=("de", "en"), default="de")


def run(args: argparse.Namespace) -> int:
    query = args.query.strip()
    if "?" in query or query.startswith("http"):
        query = urlsplit(query).query
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=False).items()}
    try:
        if args.role:
            districts = tuple(d.strip() for d in args.districts.split(",") if d.strip()) or None
            principal = Principal(role=args.role, districts=districts, name="cli")
        else:
            principal = local_principal(os.environ)
        k = effective_k(k_from_env(os.environ), args.k) if principal.role == "viewer" else None
    except ValueError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    folder = Path(args.data) if args.data else resolve().folder
    try:
        bundle = restrict(load_folder(folder), principal)
    except (OSError, ValueError) as exc:
        print(f"export: cannot load {folder}: {exc}", file=sys.stderr)
        return 1
    cats = bundle["categories"]
    vocab = Vocabulary(quarters=tuple(bundle.quarters()), districts=tuple(bundle["districts"]["district_id"]),
                       categories=tuple(cats["category"]),
                       category_field=dict(zip(cats["category"], cats["field"], strict=True)))
    if not vocab.quarters:
        print(f"export: {folder} holds no quarter with data", file=sys.stderr)
        return 1
    from datetime import date

    default = default_filters(vocab, latest_complete_quarter(list(vocab.quarters), date.today()))
    filters, notices = from_query(params, vocab, default)
    metric = params.get("m", "per_1000")
    if metric not in pagedata.METRICS:
        notices.append(f"m: ignored {metric!r}")
        metric = "per_1000"
    try:
        resolution = int(params.get("r", pagedata.RESOLUTIONS[0]))
        if resolution not in pagedata.RESOLUTIONS:
            raise ValueError
    except ValueError:
        notices.append(f"r: ignored {params.get('r')!r}")
        resolution = pagedata.RESOLUTIONS[0]
    for n in notices:
        print(f"notice: {n}", file=sys.stderr)
    model = geo_model.build(bundle, resolution)
    layers = gpkg.export_layers(bundle, model, filters, principal, metric=metric, lang=args.lang, k=k)
    out = gpkg.write_gpkg(layers, args.gpkg, args.crs)
    counts = {layer.name: len(layer.frame) for layer in layers}
    print(f"wrote {out} (EPSG:{args.crs}; " + ", ".join(f"{k_}: {v}" for k_, v in counts.items()) + ")")
    print(json.dumps({"file": str(out), "crs": f"EPSG:{args.crs}", "layers": counts, "role": principal.role,
                      "k": k, "filters": params, "metric": metric, "resolution": resolution,
                      "notices": notices}, ensure_ascii=False))
    return 0


COMMAND = (configure, run)
