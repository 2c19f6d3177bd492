"""``python -m data import`` and ``python -m data store``: imports from the command line.

Listed in :data:`data.cli.EXTRA_COMMANDS`. The same pipeline as the *Daten* page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from data.contracts import DATASETS, FIELDS
from data.importers.errors import DEFAULT_MAX_UPLOAD_MB, ImportError_
from data.importers.gps import (
    DEFAULT_GAP_MINUTES,
    DEFAULT_MAX_SPEED_KMH,
    GPS_KIND,
    parse_device_mapping,
    prepare_gps_import,
)
from data.importers.messages import LANGS, msg
from data.importers.pipeline import DEFAULT_FIELD, prepare_import

IMPORT_DESCRIPTION = """\
Import a file as one data set into the local store (all or nothing).

Formats (recognised by content): GeoJSON (FeatureCollection, Feature, Geometry,
GeometryCollection; "crs" member; 3D/4D positions), zipped Shapefile (.shp .shx .dbf .prj
[.cpg]; CRS from the .prj), CSV (German Excel: ; , cp1252, dd.mm.yyyy; or comma, UTF-8,
ISO or US dates), XLSX, Open311 GeoReport v2 JSON (complaints only), and through GDAL:
GeoPackage (--layer chooses the layer; CRS from the file), KML/KMZ (folders as the column
"folder"), GPX, FlatGeobuf, GML.

KIND gps: GPS fixes (a GPX file or a CSV with device/unit, time and coordinates) become
patrols + patrol_points: a patrol is one device's run of fixes without a break longer than
--gap-minutes. The patrol kind comes from --set kind=kod|joint|police (all devices) or
--devices FILE (CSV/TOML: device, kind, staff, unit); it is never guessed. Fixes outside
every district or at an impossible speed (> --max-speed-kmh from the device's previous fix)
are rejected per row. The JSON adds patrols_formed.

Import policy:
  * records with a problem in a required field (id, time, coordinates, geometry, kind...),
    duplicate ids, coordinates out of range or swapped, or points outside every district
    are REJECTED and listed (row = record number, 1 = first record);
  * a problem in an optional field drops that value and is listed as a WARNING;
  * the accepted records replace the data set; the previous version is kept;
  * nothing is imported when no record is accepted, or with --strict when any is rejected.

Exit codes: 0 imported (or valid with --dry-run), 1 rejected (store unchanged),
2 usage error (unknown data set, missing file, bad --map/--set).
With --json the last line of output is one JSON object: kind, records_total,
records_accepted, records_rejected, source_crs, bbox [minlon, minlat, maxlon, maxlat],
errors (at most 100 of {row, column, value, reason}), errors_count, warnings, notes, ...
"""

IMPORT_EPILOG = """\
examples:
  python -m data import districts bezirke.zip
  python -m data import complaints sagsuns.json --activate --json
  python -m data import complaints la311.csv --map complaint_id=SRNumber \\
      --map received_at=CreatedDate --timezone America/Los_Angeles --dry-run
  python -m data import offices wachen.geojson --set kind=police_station

mapping targets: a column name, "a|b" (first non-empty of a and b) or "@row" (the record
number, for files without ids). Coordinate fields of point data: lat, lon, or x, y
(metres, e.g. Rechtswert/Hochwert; EPSG:25832 unless --crs), or latlon ("(lat, lon)" text).
A mapping that worked is remembered for the next file with the same columns.

environment: LAGEBILD_DB (postgresql+psycopg://... : the database store of a shared
deployment; --store DIR still selects a file store), LAGEBILD_STORE (store root),
LAGEBILD_MAX_UPLOAD_MB (default 200),
LAGEBILD_GEOCODER (nominatim|photon), LAGEBILD_GEOCODER_URL, LAGEBILD_GEOCODER_CONTACT.
"""


def _pair(kind: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        if "=" not in text:
            raise argparse.ArgumentTypeError(msg("map_syntax" if kind == "map" else "set_syntax", "en",
                                                 item=text))
        key, _, value = text.partition("=")
        key = key.strip()
        if not key:
            raise argparse.ArgumentTypeError(msg("map_syntax" if kind == "map" else "set_syntax", "en",
                                                 item=text))
        return key, value.strip()

    parse.__name__ = f"{kind} pair"
    return parse


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def configure_import(parser: argparse.ArgumentParser) -> None:
    """import a file (GeoJSON, Shapefile zip, CSV, XLSX, Open311) as a data set"""
    parser.description = IMPORT_DESCRIPTION
    parser.epilog = IMPORT_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("kind", choices=(*DATASETS, GPS_KIND), metavar="KIND",
                        help=f"data set: {', '.join(DATASETS)}, or {GPS_KIND} (patrols from GPS fixes)")
    parser.add_argument("file", metavar="FILE", help="the file to import")
    parser.add_argument("--store", metavar="DIR", help="store root (default: $LAGEBILD_STORE or data/store)")
    parser.add_argument("--map", dest="mappings", action="append", default=[], type=_pair("map"),
                        metavar="FIELD=COLUMN", help="map a column onto a field (repeatable); "
                        "FIELD= unmaps a proposed column")
    parser.add_argument("--set", dest="constants", action="append", default=[], type=_pair("set"),
                        metavar="FIELD=VALUE", help="a fixed value for a field missing in the file")
    parser.add_argument("--crs", help="reference system of the coordinates (e.g. EPSG:25832); "
                        "overrides the file's")
    parser.add_argument("--layer", help="the layer of a GeoPackage (KML folder, GPX layer) to import")
    parser.add_argument("--devices", metavar="FILE",
                        help="gps: device mapping (CSV/XLSX/TOML: device, kind, staff, unit)")
    parser.add_argument("--gap-minutes", type=_positive, default=DEFAULT_GAP_MINUTES,
                        help="gps: a break longer than this starts a new patrol (default %(default)g)")
    parser.add_argument("--max-speed-kmh", type=_positive, default=DEFAULT_MAX_SPEED_KMH,
                        help="gps: fixes faster than this from the previous one are rejected "
                        "(default %(default)g)")
    parser.add_argument("--timezone", default="Europe/Berlin",
                        help="time zone of times without an offset (default Europe/Berlin)")
    parser.add_argument("--default-field", default=DEFAULT_FIELD, choices=FIELDS,
                        help="Masterplan field for new complaint categories (default %(default)s)")
    parser.add_argument("--geocode", action="store_true",
                        help="geocode records that have an address but no coordinates "
                        "(Nominatim, <= 1 request/s, cached under the store)")
    parser.add_argument("--dry-run", action="store_true", help="validate and report, store nothing")
    parser.add_argument("--strict", action="store_true",
                        help="reject the whole file if any record is rejected")
    parser.add_argument("--activate", action="store_true",
                        help="after the import, let the app show the imported data instead of the demo")
    parser.add_argument("--rejected-csv", metavar="PATH", help="write the rejected records with reasons here")
    parser.add_argument("--max-upload-mb", type=_positive, default=None,
                        help=f"size limit (default $LAGEBILD_MAX_UPLOAD_MB or {DEFAULT_MAX_UPLOAD_MB:g})")
    parser.add_argument("--lang", choices=LANGS, default=os.environ.get("LAGEBILD_LANG", "de")
                        if os.environ.get("LAGEBILD_LANG") in LANGS else "de",
                        help="language of messages (default de)")
    parser.add_argument("--max-errors", type=int, default=100, help="errors listed in the JSON (default 100)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line (the report)")


def _failure_json(kind: str, file: str, message: str, code: int) -> dict[str, Any]:
    return {"kind": kind, "source": Path(file).name, "records_total": 0, "records_accepted": 0,
            "records_rejected": 0, "source_crs": None, "bbox": None,
            "errors": [{"row": None, "column": None, "value": Path(file).name, "reason": message}],
            "errors_count": 1, "imported": False, "exit_code": code}


def _print_progress(done: int, total: int, text: str) -> None:
    print(f"\rgeocoding {done}/{total}", end="", file=sys.stderr, flush=True)


def run_import(args: argparse.Namespace) -> int:
    from data.store import Store as FileStore
    from data.store import StoreError
    from data.storeapi import open_store

    lang = args.lang
    if not Path(args.file).is_file():
        text = msg("file_missing", lang, file=args.file)
        print(text, file=sys.stderr)
        if args.json:
            print(json.dumps(_failure_json(args.kind, args.file, text, 2), ensure_ascii=False))
        return 2
    store = open_store(args.store, preparer=getattr(args, "preparer", None))
    mapping = dict(args.mappings)
    constants = dict(args.constants)
    try:
        if args.kind == GPS_KIND:
            devices = parse_device_mapping(args.devices) if args.devices else None
            report = prepare_gps_import(
                args.file, mapping=mapping, constants=constants, devices=devices, store=store,
                crs=args.crs, timezone=args.timezone, lang=lang, max_upload_mb=args.max_upload_mb,
                layer=args.layer, gap_minutes=args.gap_minutes, max_speed_kmh=args.max_speed_kmh)
        else:
            report = prepare_import(
                args.kind, args.file, mapping=mapping, constants=constants, store=store, crs=args.crs,
                timezone=args.timezone, geocode=args.geocode, lang=lang, default_field=args.default_field,
                max_upload_mb=args.max_upload_mb, layer=args.layer,
                progress=_print_progress if args.geocode else None)
        if args.geocode:
            print(file=sys.stderr)  # end the progress line
    except ImportError_ as exc:
        text = exc.message(lang)
        print(text, file=sys.stderr)
        if args.json:
            print(json.dumps(_failure_json(args.kind, args.file, text, exc.exit_code), ensure_ascii=False))
        return exc.exit_code
    print(report.summary())
    for note in report.notes:
        print(f"  {note}")
    for label, frame in (("errors", report.errors), ("warnings", report.warnings)):
        if frame.empty:
            continue
        print(f"{label} ({len(frame)}):")
        for r in frame.head(20).itertuples(index=False):
            where = f"{msg('row', lang)} {int(r.row)}" if r.row == r.row and r.row is not None else \
                msg("file_level", lang)
            print(f"  {where}, {r.column}: {r.reason} ({r.value!r})")
        if len(frame) > 20:
            print("  " + msg("more_errors", lang, count=len(frame) - 20))
    if args.rejected_csv and report.records_rejected:
        Path(args.rejected_csv).write_bytes(report.rejected_csv())
    result = report.to_dict(max_errors=args.max_errors)
    code = 0
    version = None
    if not report.ok:
        print(msg("rejected_all", lang), file=sys.stderr)
        code = 1
    elif args.strict and report.records_rejected:
        print(msg("rejected_strict", lang, rejected=report.records_rejected), file=sys.stderr)
        code = 1
    elif args.dry_run:
        print(msg("dry_run", lang))
    else:
        try:
            # the file store may free the records once written (bounded memory, issue #15)
            extra = {"release": True} if isinstance(store, FileStore) else {}
            version = store.commit(report, default_field=args.default_field, **extra)
            print(msg("imported", lang, version=version.generation, store=store.root))
        except StoreError as exc:
            print(msg("store_failed", lang, detail=exc.message(lang)), file=sys.stderr)
            code = 1
        if version is not None and args.activate:
            problem = store.can_activate()
            if problem is None:
                store.activate()
                print(msg("activated", lang))
            else:  # the import stands; only the switch waits for more data
                print(problem.message(lang), file=sys.stderr)
            result["activated"] = problem is None
    result.update({"dry_run": bool(args.dry_run), "imported": version is not None,
                   "version": version.generation if version else None, "exit_code": code})
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return code


def configure_store(parser: argparse.ArgumentParser) -> None:
    """show the store, list versions, restore one, switch between imported data and demo"""
    parser.description = ("The local store of imported data. Actions: status (default), versions "
                          "[DATASET], restore VERSION [DATASET], activate (the app shows the imported "
                          "data), deactivate (the app shows the demo).")
    parser.add_argument("action", nargs="?", default="status",
                        choices=("status", "versions", "restore", "activate", "deactivate"))
    parser.add_argument("args", nargs="*", metavar="ARG", help="VERSION and/or DATASET")
    parser.add_argument("--store", metavar="DIR", help="store root (default: the database in $LAGEBILD_DB, "
                        "else $LAGEBILD_STORE or data/store)")
    parser.add_argument("--lang", choices=LANGS, default="de")


def run_store(args: argparse.Namespace) -> int:
    from data.store import StoreError
    from data.storeapi import open_store

    try:
        store = open_store(args.store, preparer=getattr(args, "preparer", None))
        if args.action == "status":
            print(json.dumps(store.status(), ensure_ascii=False))
        elif args.action == "versions":
            dataset = args.args[0] if args.args else None
            if dataset is not None and dataset not in DATASETS:
                print(msg("unknown_kind", args.lang, kind=dataset, kinds=", ".join(DATASETS)),
                      file=sys.stderr)
                return 2
            print(json.dumps([v.to_dict() for v in store.versions(dataset)], ensure_ascii=False))
        elif args.action == "restore":
            numbers = [a for a in args.args if a.isdigit()]
            names = [a for a in args.args if not a.isdigit()]
            if len(numbers) != 1 or len(names) > 1 or (names and names[0] not in DATASETS):
                print("usage: python -m data store restore VERSION [DATASET]", file=sys.stderr)
                return 2
            v = store.restore(int(numbers[0]), names[0] if names else None)
            print(json.dumps(v.to_dict(), ensure_ascii=False))
        elif args.action == "activate":
            store.activate()
            print(msg("activated", args.lang))
        else:
            store.deactivate()
    except StoreError as exc:
        print(exc.message(args.lang), file=sys.stderr)
        return 1
    return 0
