"""Patrol positions from GPS: a GPX file or a CSV of fixes becomes ``patrols`` + ``patrol_points``.

A *fix* is one position of one device at one time (a GPX track point; a CSV row with a
device or unit, a time and lat/lon, easting/northing or "(lat, lon)"). The import:

1. maps the columns (``device``, ``time`` and the coordinate fields; proposed from the names,
   GPX track points take the track name as the device) and validates every fix on the
   normal path (:func:`data.importers.pipeline.validate_import` as ``patrol_points``:
   times, coordinates, CRS, swapped or out-of-range values);
2. rejects, per row like any other rejection, fixes **outside every district**, fixes of a
   device **without a patrol kind**, duplicate fixes and fixes at an **impossible speed**
   (faster than ``max_speed_kmh`` from the device's previous accepted fix; 50 km/h by
   default, on foot patrols far less is possible);
3. forms patrols: one device's run of accepted fixes without a break longer than
   ``gap_minutes`` (30 by default) is one patrol (id ``<device>-<YYYYmmdd-HHMM>`` of its
   first fix, local time), with kind, staff and unit from the device mapping (a CSV or
   TOML file: ``device, kind, staff, unit``) or the constants (``--set kind=kod``). A kind
   is never guessed: without a mapping file and without ``kind`` the import stops
   (usage error); a device missing from the mapping file has its fixes rejected.

The result is a :class:`GpsReport`: an :class:`~data.importers.pipeline.ImportReport` of
``patrol_points`` whose ``related`` frames (``patrols``) are stored in the same version
(:meth:`data.store.Store.commit`), and ``patrols_formed`` for the CLI's JSON.
"""

from __future__ import annotations

import io
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.contracts import PATROL_KINDS
from data.importers import mapping as mp
from data.importers import messages
from data.importers.errors import ImportError_, UsageError_
from data.importers.messages import msg
from data.importers.pipeline import (
    REPORT_COLUMNS,
    ImportReport,
    Store,
    _rejected_records,
    read_file,
    validate_import,
)
from data.importers.readers import RawTable, read_source

GPS_KIND = "gps"
DEFAULT_GAP_MINUTES = 30.0
DEFAULT_MAX_SPEED_KMH = 50.0
GPS_FIELDS = ("device", "time", "lat", "lon", "x", "y", "latlon")
#: Constants a GPS import may set for all devices (``--set kind=kod``).
GPS_CONSTANTS = ("kind", "staff", "unit")
_DEVICE_SYNONYMS = ["device", "deviceid", "devicename", "geraet", "geraetid", "geraetenr", "geraetename",
                    "tracker", "trackerid", "imei", "unit", "unitid", "einheit", "fahrzeug", "fahrzeugid",
                    "kennzeichen", "funkrufname", "rufname", "trackname", "track", "patrolid", "streife",
                    "streifenid", "kennung", "name"]
_MAPPING_COLUMNS = {
    "device": ["device", "deviceid", "geraet", "geraetid", "tracker", "imei", "unit", "einheit",
               "funkrufname", "rufname", "fahrzeug", "kennung", "track", "trackname", "name"],
    "kind": ["kind", "art", "streifenart", "typ", "type", "patrolkind"],
    "staff": ["staff", "personal", "personen", "besetzung", "staerke", "anzahl"],
    "unit": ["unitname", "team", "dienstgruppe", "gruppe", "einheitname", "trupp"],
}

_MESSAGES: dict[str, tuple[str, str]] = {
    "gps_no_kind": (
        "Die Art der Streifen (kod, joint, police) fehlt: bitte mit --set kind=kod (für alle Geräte) "
        "oder einer Zuordnungsdatei der Geräte (device, kind, staff, unit) angeben; sie wird nie geraten.",
        "The patrol kind (kod, joint, police) is missing: give --set kind=kod (for all devices) or a "
        "device mapping file (device, kind, staff, unit); it is never guessed."),
    "gps_kind_bad": (
        "Unbekannte Streifenart {value!r} ({where}); erlaubt: kod, joint, police.",
        "Unknown patrol kind {value!r} ({where}); allowed: kod, joint, police."),
    "gps_staff_bad": ("Personalstärke {value!r} ist keine ganze Zahl ≥ 0 ({where}).",
                      "Staff {value!r} is not a whole number ≥ 0 ({where})."),
    "gps_mapping_bad": ("Die Geräte-Zuordnung {file} ist unbrauchbar: {detail}",
                        "The device mapping {file} cannot be used: {detail}"),
    "gps_option_bad": ("{option} muss eine positive Zahl sein, erhalten: {value!r}",
                       "{option} must be a positive number, got {value!r}"),
    "gps_no_time": ("Die Datei {file} hat keine Zeitspalte für die GPS-Punkte. Spalten: {columns}",
                    "The file {file} has no time column for the GPS fixes. Columns: {columns}"),
    "r_gps_device_unmapped": (
        "Gerät {device!r} steht nicht in der Geräte-Zuordnung (Art der Streife unbekannt)",
        "device {device!r} is not in the device mapping (patrol kind unknown)"),
    "r_gps_speed": (
        "unmögliche Geschwindigkeit: {speed} km/h seit dem vorigen Punkt "
        "(Zeile {previous}; Grenze {limit} km/h)",
        "impossible speed: {speed} km/h since the previous fix (row {previous}; limit {limit} km/h)"),
    "r_gps_duplicate": ("doppelter Punkt: gleiches Gerät und gleiche Zeit wie Zeile {previous}",
                        "duplicate fix: same device and time as row {previous}"),
    "note_gps_device_file": (
        "Keine Gerätespalte zugeordnet: alle Punkte gelten als ein Gerät „{device}“.",
        "No device column mapped: all fixes count as one device \"{device}\"."),
    "note_gps_patrols": (
        "{patrols} Streifen aus {fixes} Punkten von {devices} Geräten gebildet "
        "(neue Streife nach einer Lücke von mehr als {gap} Minuten).",
        "{patrols} patrols formed from {fixes} fixes of {devices} devices "
        "(a new patrol after a break of more than {gap} minutes)."),
}
for _key, _texts in _MESSAGES.items():
    messages.MESSAGES.setdefault(_key, _texts)


@dataclass
class GpsReport(ImportReport):
    """An import report of ``patrol_points`` that also carries the ``patrols`` it formed."""

    related: dict[str, pd.DataFrame] = field(default_factory=dict)
    gps_mapping: dict[str, str] = field(default_factory=dict)

    @property
    def patrols_formed(self) -> int:
        return len(self.related.get("patrols", ()))

    def to_dict(self, max_errors: int = 100) -> dict[str, Any]:
        out = super().to_dict(max_errors)
        out["kind"] = GPS_KIND
        out["mapping"] = dict(self.gps_mapping)
        out["patrols_formed"] = self.patrols_formed
        out["datasets"] = {"patrols": self.patrols_formed, "patrol_points": self.records_accepted}
        return out


# --- device mapping ------------------------------------------------------------------------------

def _positive(value: float, option: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError_("gps_option_bad", option=option, value=value) from None
    if not np.isfinite(number) or number <= 0:
        raise UsageError_("gps_option_bad", option=option, value=value)
    return number


def _kind(value: object, where: str) -> str:
    norm = mp.normalise_enum("patrols", "kind", pd.Series([value], dtype=object)).iloc[0]
    if norm not in PATROL_KINDS:
        raise UsageError_("gps_kind_bad", value=value, where=where)
    return str(norm)


def _staff(value: object, where: str) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise UsageError_("gps_staff_bad", value=value, where=where) from None
    if number < 0 or number != int(number):
        raise UsageError_("gps_staff_bad", value=value, where=where)
    return int(number)


def parse_device_mapping(source: str | Path | bytes, name: str | None = None) -> dict[str, dict[str, Any]]:
    """``{device: {"kind", "staff", "unit"}}`` from a CSV/XLSX (columns device, kind, staff, unit;
    German or English names) or a TOML file (``[devices."KOD-7"] kind = "kod"``).

    Raises :class:`UsageError_` naming the file and the bad entry.
    """
    if isinstance(source, str | Path):
        name = name or Path(source).name
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError_("gps_mapping_bad", file=name, detail=str(exc)) from None
    else:
        data = bytes(source)
    name = name or "mapping"
    out: dict[str, dict[str, Any]] = {}
    if name.lower().endswith(".toml"):
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError_("gps_mapping_bad", file=name, detail=str(exc)) from None
        devices = doc.get("devices", doc)
        if not isinstance(devices, dict):
            raise UsageError_("gps_mapping_bad", file=name, detail="expected [devices.NAME] tables")
        for dev, entry in devices.items():
            if not isinstance(entry, dict):
                raise UsageError_("gps_mapping_bad", file=name, detail=f"devices.{dev} is not a table")
            where = f"{name}, devices.{dev}"
            out[str(dev)] = {"kind": _kind(entry.get("kind"), where),
                             "staff": _staff(entry.get("staff"), where),
                             "unit": str(entry["unit"]) if entry.get("unit") else None}
        return out
    try:
        raw = read_source(io.BytesIO(data), name)
    except ImportError_ as exc:
        raise UsageError_("gps_mapping_bad", file=name, detail=exc.message("en")) from None
    by_norm = {mp.normalise_name(c): c for c in raw.columns}
    cols = {}
    for fld, syns in _MAPPING_COLUMNS.items():
        cols[fld] = next((by_norm[s] for s in syns if s in by_norm and by_norm[s] not in cols.values()), None)
    if cols["device"] is None or cols["kind"] is None:
        raise UsageError_("gps_mapping_bad", file=name,
                          detail=f"needs the columns device and kind, got {', '.join(raw.columns) or '—'}")
    for i, rec in enumerate(raw.frame.to_dict("records"), start=1):
        dev = rec.get(cols["device"])
        if dev is None or str(dev).strip() == "":
            continue
        where = f"{name}, row {i}"
        out[str(dev).strip()] = {
            "kind": _kind(rec.get(cols["kind"]), where),
            "staff": _staff(rec.get(cols["staff"]), where) if cols["staff"] else None,
            "unit": str(rec[cols["unit"]]).strip() if cols["unit"] and rec.get(cols["unit"]) else None,
        }
    if not out:
        raise UsageError_("gps_mapping_bad", file=name, detail="no device listed")
    return out


# --- mapping of the fixes' columns ------------------------------------------------------------------

def suggest_gps_mapping(raw: RawTable) -> dict[str, str]:
    """``{field: column}`` for device, time and the coordinates (from names; GPX: track name)."""
    columns = [str(c) for c in mp.add_derived_columns(raw.frame).columns]
    fill = {str(c): float(raw.frame[c].notna().mean()) if len(raw.frame) else 1.0 for c in raw.frame.columns}
    proposed = mp.propose_mapping(columns, "patrol_points", fill)
    out = {f: c for f, c in proposed.items() if f in GPS_FIELDS and f != "patrol_id"}
    used = set(out.values())
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(mp.normalise_name(c), c)
    for syn in _DEVICE_SYNONYMS:
        col = by_norm.get(syn)
        if col is not None and col not in used and fill.get(col, 1.0) > 0:
            out["device"] = col
            break
    return out


EARTH_RADIUS_KM = 6371.0088


def _problem_rows(rows: list[int], column: str, values: list[object], reasons: list[str],
                  fld: str = "lat") -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(rows, dtype="int64"), "column": column, "field": fld,
                         "value": pd.Series(values, dtype=object),
                         "reason": pd.Series(reasons, dtype=object)})


# --- the import ------------------------------------------------------------------------------------------

def validate_gps(raw: RawTable, mapping: Mapping[str, str] | None = None, *,
                 constants: Mapping[str, str] | None = None,
                 devices: Mapping[str, Mapping[str, Any]] | None = None, store: Store | None = None,
                 districts: pd.DataFrame | None = None, crs: str | None = None,
                 timezone: str = "Europe/Berlin", gap_minutes: float = DEFAULT_GAP_MINUTES,
                 max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH, lang: str = "de") -> GpsReport:
    """Validate GPS fixes and form patrols (see the module docstring); nothing is written."""
    gap = _positive(gap_minutes, "--gap-minutes")
    limit = _positive(max_speed_kmh, "--max-speed-kmh")
    constants = {k: v for k, v in dict(constants or {}).items() if v not in (None, "")}
    unknown = sorted(set(constants) - set(GPS_CONSTANTS))
    if unknown:
        raise UsageError_("map_field", item=f"{unknown[0]}={constants[unknown[0]]}", kind=GPS_KIND,
                          field=unknown[0], fields=", ".join(GPS_CONSTANTS))
    default_kind = _kind(constants["kind"], "--set kind") if "kind" in constants else None
    default_staff = _staff(constants.get("staff"), "--set staff")
    if default_kind is None and not devices:
        raise UsageError_("gps_no_kind")
    mapping = dict(mapping) if mapping is not None else suggest_gps_mapping(raw)
    mapping = {f: c for f, c in mapping.items() if c}
    bad = sorted(set(mapping) - set(GPS_FIELDS))
    if bad:
        raise UsageError_("map_field", item=f"{bad[0]}={mapping[bad[0]]}", kind=GPS_KIND, field=bad[0],
                          fields=", ".join(GPS_FIELDS))
    if "time" not in mapping:
        raise ImportError_("gps_no_time", file=raw.source_name, columns=", ".join(raw.columns) or "—")
    if districts is None and store is not None:
        districts = store.read_dataset("districts")
    point_mapping = {f: c for f, c in mapping.items() if f != "device"}
    point_constants: dict[str, str] = {}
    file_device = Path(raw.source_name).stem or "gps"
    if "device" in mapping:
        point_mapping["patrol_id"] = mapping["device"]
    else:
        point_constants["patrol_id"] = file_device
    base = validate_import("patrol_points", raw, point_mapping, constants=point_constants, store=None,
                           districts=districts, crs=crs, timezone=timezone, lang=lang)
    n = base.records_total
    notes = list(base.notes)
    if "device" not in mapping:
        notes.insert(0, msg("note_gps_device_file", lang, device=file_device))
    rejected0 = set(base.errors["row"].dropna().astype("int64").tolist())
    rows = np.array([r for r in range(1, n + 1) if r not in rejected0], dtype="int64")
    fixes = base.frame.copy()
    fixes["row"] = rows
    fixes["device"] = fixes["patrol_id"].astype(str)
    device_col = mapping.get("device", "=" + file_device)
    extra: list[pd.DataFrame] = []
    drop = np.zeros(len(fixes), dtype=bool)
    # devices without a kind
    if devices:
        known = {str(k) for k in devices}
        unmapped = (~fixes["device"].isin(known).to_numpy() if default_kind is None
                    else np.zeros(len(fixes), bool))
        if unmapped.any():
            idx = np.flatnonzero(unmapped)
            extra.append(_problem_rows(fixes["row"].to_numpy()[idx].tolist(), device_col,
                                       fixes["device"].to_numpy()[idx].tolist(),
                                       [msg("r_gps_device_unmapped", lang, device=d)
                                        for d in fixes["device"].to_numpy()[idx]], fld="patrol_id"))
            drop |= unmapped
    # outside every district
    district_of = np.full(len(fixes), None, dtype=object)
    if districts is not None and len(districts) and len(fixes):
        from data.spatial import assign_polygons

        lat = fixes["lat"].to_numpy(float)
        lon = fixes["lon"].to_numpy(float)
        district_of = assign_polygons(lat, lon, list(districts["geometry"]), list(districts["district_id"]))
        outside = pd.isna(pd.Series(district_of, dtype=object)).to_numpy() & ~drop
        if outside.any():
            idx = np.flatnonzero(outside)
            fmt = lambda v: f"{v:.6f}".rstrip("0").rstrip(".")  # noqa: E731
            extra.append(_problem_rows(
                fixes["row"].to_numpy()[idx].tolist(), "lat/lon",
                [f"{fmt(a)}, {fmt(b)}" for a, b in zip(lat[idx], lon[idx], strict=True)],
                [msg("r_outside", lang, lat=fmt(a), lon=fmt(b))
                 for a, b in zip(lat[idx], lon[idx], strict=True)]))
            drop |= outside
    elif len(fixes):
        notes.append(msg("note_no_districts", lang))
    # speed and duplicates, per device in time order; then patrols by gap
    times = fixes["time"].reset_index(drop=True)
    t_ns = (pd.to_datetime(times, utc=True).dt.as_unit("ns").astype("int64").to_numpy()
            if len(fixes) else np.empty(0, "int64"))
    order = np.lexsort((fixes["row"].to_numpy(), t_ns, fixes["device"].to_numpy()))
    lat = fixes["lat"].to_numpy(float)
    lon = fixes["lon"].to_numpy(float)
    dev = fixes["device"].to_numpy()
    rownum = fixes["row"].to_numpy()
    patrol_of = np.full(len(fixes), -1, dtype="int64")
    speed_rows, speed_vals, speed_reasons = [], [], []
    segments: list[list[int]] = []
    prev: int | None = None
    gap_ns = int(gap * 60e9)
    # plain Python values in the loop (numpy scalars per fix would be ten times slower)
    t_l, dev_l = t_ns.tolist(), dev.tolist()
    rad_lat, rad_lon = np.radians(lat).tolist(), np.radians(lon).tolist()
    cos_lat = np.cos(np.radians(lat)).tolist()
    for i in order.tolist():
        if drop[i]:
            continue
        if prev is None or dev_l[prev] != dev_l[i] or t_l[i] - t_l[prev] > gap_ns:
            segments.append([i])
            patrol_of[i] = len(segments) - 1
            prev = i
            continue
        dt_h = (t_l[i] - t_l[prev]) / 3.6e12
        h = (math.sin((rad_lat[i] - rad_lat[prev]) / 2) ** 2
             + cos_lat[prev] * cos_lat[i] * math.sin((rad_lon[i] - rad_lon[prev]) / 2) ** 2)
        km = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
        if dt_h <= 0:
            speed_rows.append(int(rownum[i]))
            speed_vals.append(str(times.iat[i]))
            speed_reasons.append(msg("r_gps_duplicate", lang, previous=int(rownum[prev])))
            drop[i] = True
            continue
        speed = km / dt_h
        if speed > limit:
            speed_rows.append(int(rownum[i]))
            speed_vals.append(f"{lat[i]:.6f}, {lon[i]:.6f}")
            speed_reasons.append(msg("r_gps_speed", lang, speed=f"{speed:.0f}", previous=int(rownum[prev]),
                                     limit=f"{limit:g}"))
            drop[i] = True
            continue
        segments[-1].append(i)
        patrol_of[i] = len(segments) - 1
        prev = i
    if speed_rows:
        extra.append(_problem_rows(speed_rows, "time/lat/lon", speed_vals, speed_reasons))
    # the patrols
    patrol_rows = []
    ids: list[str] = []
    taken: set[str] = set()
    for seg in segments:
        d = str(dev[seg[0]])
        info = dict((devices or {}).get(d, {}))
        start = pd.Timestamp(t_ns[seg[0]], tz="UTC")
        base_id = f"{d}-{start.tz_convert(timezone):%Y%m%d-%H%M}"
        pid, k = base_id, 2
        while pid in taken:
            pid, k = f"{base_id}-{k}", k + 1
        taken.add(pid)
        ids.append(pid)
        in_seg = pd.Series(district_of[seg], dtype=object).dropna()
        patrol_rows.append({
            "patrol_id": pid, "start": start, "end": pd.Timestamp(t_ns[seg[-1]], tz="UTC"),
            "kind": info.get("kind") or default_kind,
            "unit": info.get("unit") or constants.get("unit") or d,
            "staff": info.get("staff") if info.get("staff") is not None else default_staff,
            "district_id": in_seg.mode().iloc[0] if len(in_seg) else None,
        })
    patrols = pd.DataFrame(patrol_rows, columns=["patrol_id", "start", "end", "kind", "unit", "staff",
                                                 "district_id"])
    patrols["staff"] = patrols["staff"].astype("Int64")
    keep = ~drop
    points = pd.DataFrame({
        "patrol_id": [ids[p] for p in patrol_of[keep]],
        "time": times[keep].reset_index(drop=True),
        "lat": lat[keep], "lon": lon[keep],
    })
    sort = np.lexsort((points["time"].to_numpy(), points["patrol_id"].to_numpy()))
    points = points.iloc[sort].reset_index(drop=True)
    errors = pd.concat([base.errors, *extra], ignore_index=True)[REPORT_COLUMNS] if extra else base.errors
    errors = errors.sort_values("row", kind="stable").reset_index(drop=True)
    rejected_rows = np.unique(errors["row"].dropna().astype("int64").to_numpy())
    table = errors.assign(severity="reject")
    rejected = _rejected_records(raw, mp.add_derived_columns(raw.frame), table, rejected_rows, lang)
    notes.append(msg("note_gps_patrols", lang, patrols=len(patrols), fixes=len(points),
                     devices=len(set(dev[keep])) if keep.any() else 0, gap=f"{gap:g}"))
    return GpsReport(
        kind="patrol_points", source_name=raw.source_name, format=raw.format, lang=lang, records_total=n,
        frame=points, errors=errors, warnings=base.warnings, rejected=rejected, mapping={},
        mapping_origin={}, columns=raw.columns, constants=dict(constants), source_crs=base.source_crs,
        notes=notes, related={"patrols": patrols}, gps_mapping=dict(mapping))


def prepare_gps_import(source: Any, *, name: str | None = None, mapping: Mapping[str, str] | None = None,
                       store: Store | None = None, crs: str | None = None, max_upload_mb: float | None = None,
                       layer: str | None = None, **options: Any) -> GpsReport:
    """Read and validate a GPS file in one go (the CLI path); GPX files are read as track points."""
    raw = read_file(source, name, crs=crs, max_upload_mb=max_upload_mb, layer=layer)
    if raw.format == "gpx" and layer is None and raw.layer != "track_points" and "track_points" in raw.layers:
        raw = read_file(source, name, crs=crs, max_upload_mb=max_upload_mb, layer="track_points")
    proposed = suggest_gps_mapping(raw)
    for f, c in (mapping or {}).items():
        if c:
            proposed[f] = c
        else:
            proposed.pop(f, None)
    return validate_gps(raw, proposed, store=store, crs=crs, **options)
