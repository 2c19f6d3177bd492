"""``python -m data sync CONFIG.toml``: the nightly exchange with the partners.

The config lists sources; each is a drop folder (the newest file matching ``pattern``), an
OGC API Features collection (``url``: its items are fetched as GeoJSON, page by page) or a
WFS ``GetFeature`` URL (``wfs``: GeoJSON or GML answer), with the data set (``kind``, or
``gps`` for GPS fixes) and the mapping (``map``, ``set``, ``layer``, ``crs``, ``devices``,
``strict``)::

    store = "/srv/lagebild/store"          # optional (default $LAGEBILD_STORE or data/store)
    report = "/var/log/lagebild/sync.json" # optional: the report is also written here

    [[source]]
    name = "polizei-wachen"
    kind = "offices"
    url = "http://gis.intranet/ogcapi/collections/wachen"
    set = { kind = "police_station" }

    [[source]]
    name = "kod-gps"
    kind = "gps"
    folder = "/srv/austausch/kod-gps"
    pattern = "*.gpx"
    set = { kind = "kod" }

Each source's content is hashed (SHA-256; for OGC API and WFS answers without the volatile
time stamps and links); a source whose hash equals the last *imported* one is skipped. The
others go through the same validated path as ``python -m data import`` and are committed
one by one (each all or nothing: a rejected source leaves its data set as it was).

Exit codes: 0 every source imported or unchanged, 1 any source rejected (or unreachable),
2 a bad config. The last line of output is one JSON object (the report).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data.contracts import DATASETS
from data.importers.errors import ImportError_, max_upload_bytes
from data.importers.gps import GPS_KIND, parse_device_mapping, prepare_gps_import
from data.importers.pipeline import prepare_import

STATE_FILE = "sync-state.json"
SOURCE_KEYS = {"name", "kind", "folder", "pattern", "url", "wfs", "map", "set", "layer", "crs", "devices",
               "strict", "timezone", "limit"}
TOP_KEYS = {"store", "report", "source", "timeout"}
PAGE_LIMIT = 1000
MAX_PAGES = 10_000


class ConfigError(ValueError):
    """The config file is unusable (exit 2)."""


def load_config(path: str | Path) -> dict[str, Any]:
    """The parsed and checked config; :class:`ConfigError` naming the bad entry."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}, expected {sorted(TOP_KEYS)}")
    sources = doc.get("source")
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"{path}: no [[source]] listed")
    names = set()
    for i, src in enumerate(sources, start=1):
        where = f"{path}: source {i}"
        if not isinstance(src, dict):
            raise ConfigError(f"{where}: expected a table, got {src!r}")
        bad = sorted(set(src) - SOURCE_KEYS)
        if bad:
            raise ConfigError(f"{where}: unknown keys {bad}, expected {sorted(SOURCE_KEYS)}")
        name = src.get("name") or f"source-{i}"
        if name in names:
            raise ConfigError(f"{where}: duplicate name {name!r}")
        names.add(name)
        src["name"] = str(name)
        if src.get("kind") not in (*DATASETS, GPS_KIND):
            raise ConfigError(f"{where} ({name}): kind must be one of {[*DATASETS, GPS_KIND]}, "
                              f"got {src.get('kind')!r}")
        given = [k for k in ("folder", "url", "wfs") if src.get(k)]
        if len(given) != 1:
            raise ConfigError(f"{where} ({name}): give exactly one of folder, url, wfs, "
                              f"got {given or 'none'}")
        for key in ("map", "set"):
            value = src.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where} ({name}): {key} must be a table of texts, got {value!r}")
        if src["kind"] == GPS_KIND and "kind" not in src.get("set", {}) and not src.get("devices"):
            raise ConfigError(f"{where} ({name}): a gps source needs set = {{ kind = \"kod\" }} "
                              "or devices = FILE (the patrol kind is never guessed)")
        if src.get("folder") and not Path(src["folder"]).is_dir():
            raise ConfigError(f"{where} ({name}): folder {src['folder']!r} does not exist")
    return doc


# --- fetching ---------------------------------------------------------------------------------------

_VOLATILE = re.compile(rb'\s(?:timeStamp|numberMatched|numberReturned)="[^"]*"')


def _fetch_ogcapi(url: str, timeout: float, limit_bytes: int) -> tuple[bytes, str]:
    """Every item of an OGC API Features collection as one GeoJSON FeatureCollection."""
    import httpx

    base = url.rstrip("/")
    items = base if base.endswith("/items") else base + "/items"
    features: list[Any] = []
    crs = None
    size = 0
    next_url: str | None = items
    params: dict[str, Any] | None = {"f": "json", "limit": PAGE_LIMIT}
    with httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False) as client:
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            resp = client.get(next_url, params=params, headers={"Accept": "application/geo+json"})
            resp.raise_for_status()
            size += len(resp.content)
            if size > limit_bytes:
                raise ValueError(f"the answer exceeds the upload limit ({limit_bytes} bytes)")
            page = resp.json()
            if not isinstance(page, dict) or not isinstance(page.get("features"), list):
                raise ValueError(f"not a GeoJSON FeatureCollection: {str(page)[:200]}")
            features.extend(page["features"])
            crs = crs or page.get("crs")
            nxt = [ln.get("href") for ln in page.get("links", [])
                   if isinstance(ln, dict) and ln.get("rel") == "next"]
            next_url, params = (nxt[0], None) if nxt and page["features"] else (None, None)
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = crs
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()


def _fetch_wfs(url: str, timeout: float, limit_bytes: int) -> tuple[bytes, str]:
    import httpx

    with httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False) as client:
        resp = client.get(url)
        resp.raise_for_status()
    data = resp.content
    if len(data) > limit_bytes:
        raise ValueError(f"the answer exceeds the upload limit ({limit_bytes} bytes)")
    stable = _VOLATILE.sub(b"", data)
    stable = re.sub(rb'"timeStamp"\s*:\s*"[^"]*"', b"", stable)
    return data, hashlib.sha256(stable).hexdigest()


def _newest(folder: str, pattern: str) -> Path | None:
    files = [p for p in Path(folder).glob(pattern) if p.is_file() and not p.name.startswith(".")]
    return max(files, key=lambda p: (p.stat().st_mtime, p.name)) if files else None


# --- the run ------------------------------------------------------------------------------------------

def run_sync(config: dict[str, Any], lang: str = "de", store_root: str | None = None,
             preparer: Any = None) -> dict[str, Any]:
    """Import every source of ``config``; returns the report (``exit_code`` 0 or 1).
    ``preparer`` builds each new generation's prepared form (as for ``python -m data import``)."""
    from data.store import Store, StoreError

    store = Store(store_root or config.get("store"), preparer=preparer)
    state_path = store.root / STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    except (OSError, ValueError):
        state = {}
    timeout = float(config.get("timeout", 60))
    limit = max_upload_bytes()
    results = []
    for src in config["source"]:
        name, kind = src["name"], src["kind"]
        entry: dict[str, Any] = {"name": name, "kind": kind}
        try:
            if src.get("folder"):
                path = _newest(src["folder"], src.get("pattern", "*"))
                if path is None:
                    entry.update(status="unchanged", detail="no file in the folder")
                    results.append(entry)
                    continue
                if path.stat().st_size > limit:
                    raise ImportError_("file_too_large", file=path.name,
                                       size_mb=round(path.stat().st_size / 2**20, 1),
                                       limit_mb=round(limit / 2**20, 1))
                data = path.read_bytes()
                file_name, digest = path.name, hashlib.sha256(data).hexdigest()
                entry["file"] = str(path)
            else:
                url = src.get("url") or src["wfs"]
                fetch = _fetch_ogcapi if src.get("url") else _fetch_wfs
                data, digest = fetch(url, timeout, limit)
                file_name = f"{name}.geojson" if src.get("url") else f"{name}-wfs"
                entry["url"] = url
        except ImportError_ as exc:
            entry.update(status="rejected", errors=[exc.message(lang)])
            results.append(entry)
            continue
        except Exception as exc:  # network, HTTP status, bad JSON: the source is unreachable
            entry.update(status="rejected", errors=[f"{type(exc).__name__}: {exc}"[:500]])
            results.append(entry)
            continue
        entry["checksum"] = digest
        if state.get(name, {}).get("checksum") == digest:
            entry["status"] = "unchanged"
            results.append(entry)
            continue
        options: dict[str, Any] = {"mapping": dict(src.get("map", {})),
                                   "constants": dict(src.get("set", {})), "store": store,
                                   "crs": src.get("crs"), "lang": lang, "layer": src.get("layer"),
                                   "timezone": src.get("timezone", "Europe/Berlin"), "name": file_name}
        try:
            if kind == GPS_KIND:
                devices = parse_device_mapping(src["devices"]) if src.get("devices") else None
                report = prepare_gps_import(data, devices=devices, **options)
            else:
                report = prepare_import(kind, data, **options)
            summary = report.to_dict(max_errors=20)
            entry.update({k: summary[k] for k in ("records_total", "records_accepted", "records_rejected",
                                                  "source_crs", "bbox", "errors", "errors_count")})
            if "patrols_formed" in summary:
                entry["patrols_formed"] = summary["patrols_formed"]
            if not report.ok or (src.get("strict") and report.records_rejected):
                entry["status"] = "rejected"
            else:
                version = store.commit(report)
                entry.update(status="imported", version=version.generation)
                state[name] = {"checksum": digest, "version": version.generation,
                               "time": datetime.now(UTC).isoformat(timespec="seconds")}
        except (ImportError_, StoreError) as exc:
            entry.update(status="rejected", errors=[exc.message(lang)])
        results.append(entry)
    if any(r["status"] == "imported" for r in results):
        store.root.mkdir(parents=True, exist_ok=True)
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(state_path)
    code = 1 if any(r["status"] == "rejected" for r in results) else 0
    counts = {s: sum(r["status"] == s for r in results) for s in ("imported", "unchanged", "rejected")}
    return {"time": datetime.now(UTC).isoformat(timespec="seconds"), "store": str(store.root),
            **counts, "sources": results, "exit_code": code}


def configure(parser: argparse.ArgumentParser) -> None:
    """import the sources of a config file (drop folders, OGC API Features, WFS); skip unchanged"""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("config", metavar="CONFIG.toml")
    parser.add_argument("--store", metavar="DIR", help="store root (overrides the config)")
    parser.add_argument("--lang", choices=("de", "en"), default="de")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"sync: {exc}", file=sys.stderr)
        print(json.dumps({"exit_code": 2, "error": str(exc)}, ensure_ascii=False))
        return 2
    report = run_sync(config, args.lang, args.store, getattr(args, "preparer", None))
    for r in report["sources"]:
        line = f"{r['name']} ({r['kind']}): {r['status']}"
        if "records_accepted" in r:
            line += f", {r['records_accepted']} of {r['records_total']} accepted"
        if r["status"] == "rejected" and r.get("errors"):
            first = r["errors"][0]
            line += f" — {first['reason'] if isinstance(first, dict) else first}"
        print(line)
    text = json.dumps(report, ensure_ascii=False, default=str)
    if config.get("report"):
        try:
            Path(config["report"]).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"sync: cannot write the report to {config['report']}: {exc}", file=sys.stderr)
    print(text)
    return int(report["exit_code"])
