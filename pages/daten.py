"""Daten: what is loaded (from when and where) and its quality; import, restore, switch source.

Admins only. The page composes widgets; reading, mapping, validation and the store are
:mod:`data.importers` and :mod:`data.store` (the same code path as ``python -m data import``).
"""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import streamlit as st

from base.i18n import fmt_datetime, fmt_number, fmt_percent, md_escape, register, t
from data.contracts import DATASETS, SPECS
from data.importers import ImportError_, read_file, suggest_mapping, target_fields, validate_import
from data.importers.gps import (
    DEFAULT_GAP_MINUTES,
    DEFAULT_MAX_SPEED_KMH,
    GPS_FIELDS,
    GPS_KIND,
    parse_device_mapping,
    suggest_gps_mapping,
    validate_gps,
)
from data.importers.mapping import ROW_NUMBER, add_derived_columns
from data.importers.readers import RawTable
from data.quality import loaded_overview, quality_checks
from ui import admission, cache, chrome, db

register({
    "daten.store_failed": ("Der Speicher konnte nicht geschrieben werden; er ist unverändert: {error}",
                           "The store could not be written; it is unchanged: {error}"),
    "daten.loaded": ("Geladene Daten", "Loaded data"),
    "daten.source.demo": ("Die App zeigt die **Demo-Daten** (synthetisch): {path}",
                          "The app shows the **demo data** (synthetic): {path}"),
    "daten.source.store": ("Die App zeigt die **importierten Daten** (Version {version}): {path}",
                           "The app shows the **imported data** (version {version}): {path}"),
    "daten.source.db": ("Die App zeigt die **importierten Daten** der Datenbank (Version {version}): {path}",
                        "The app shows the **imported data** of the database (version {version}): {path}"),
    "daten.source.env": ("Die App zeigt den Datenordner aus `LAGEBILD_DATA`: {path}",
                         "The app shows the data folder from `LAGEBILD_DATA`: {path}"),
    "daten.broken": ("Die aktuellen Daten lassen sich nicht anzeigen: {error}",
                     "The current data cannot be shown: {error}"),
    "daten.col.dataset": ("Datensatz", "Data set"),
    "daten.col.records": ("Datensätze", "Records"),
    "daten.col.version": ("Version", "Version"),
    "daten.col.time": ("Stand", "As of"),
    "daten.col.source": ("Quelle", "Source"),
    "daten.col.rejected": ("Abgelehnt", "Rejected"),
    "daten.col.action": ("Aktion", "Action"),
    "daten.col.current": ("Aktuell", "Current"),
    "daten.col.check": ("Prüfung", "Check"),
    "daten.col.count": ("Anzahl", "Count"),
    "daten.col.share": ("Anteil", "Share"),
    "daten.col.field": ("Feld", "Field"),
    "daten.col.row": ("Zeile", "Row"),
    "daten.col.column": ("Spalte", "Column"),
    "daten.col.value": ("Wert", "Value"),
    "daten.col.reason": ("Grund", "Reason"),
    "daten.quality": ("Datenqualität", "Data quality"),
    "daten.quality.ok": ("Keine Auffälligkeiten.", "Nothing to report."),
    "daten.check.outside": ("Punkte in keinem Bezirk", "Points in no district"),
    "daten.check.no_population": ("Bezirke ohne Einwohnerzahl (keine Raten)",
                                  "Districts without population (no rates)"),
    "daten.check.no_hours": ("Dienststellen ohne Öffnungszeiten", "Offices without opening hours"),
    "daten.check.no_status": ("Beschwerden ohne Status", "Complaints without status"),
    "daten.check.no_label_en": ("Kategorien ohne englische Bezeichnung", "Categories without English label"),
    "daten.check.no_pings": ("Streifen ohne GPS-Punkte (keine Präsenz)",
                             "Patrols without GPS points (no presence)"),
    "daten.ds.districts": ("Bezirke", "Districts"),
    "daten.ds.offices": ("Dienststellen", "Offices"),
    "daten.ds.patrols": ("Streifen", "Patrols"),
    "daten.ds.patrol_points": ("GPS-Punkte der Streifen", "Patrol GPS points"),
    "daten.ds.complaints": ("Beschwerden", "Complaints"),
    "daten.ds.staff_incidents": ("Übergriffe auf Beschäftigte", "Incidents against staff"),
    "daten.ds.focus_areas": ("Schwerpunkträume", "Focus areas"),
    "daten.ds.categories": ("Kategorien", "Categories"),
    "daten.import": ("Daten importieren", "Import data"),
    "daten.import_help": (
        "GeoJSON, Shapefile (ZIP), CSV, Excel (XLSX), Open311-JSON, GeoPackage, KML/KMZ, GPX, "
        "FlatGeobuf oder GML. Ein Import ersetzt den Datensatz vollständig; die bisherige Version "
        "bleibt erhalten.",
        "GeoJSON, Shapefile (zip), CSV, Excel (XLSX), Open311 JSON, GeoPackage, KML/KMZ, GPX, "
        "FlatGeobuf or GML. An import replaces the data set entirely; the previous version is kept."),
    "daten.ds.gps": ("GPS-Positionen → Streifen und GPS-Punkte", "GPS positions → patrols and GPS points"),
    "daten.layer": ("Ebene der Datei", "Layer of the file"),
    "daten.layer.all": ("alle Ordner", "all folders"),
    "daten.gps.help": (
        "Eine Streife ist die Folge der Punkte eines Geräts ohne Lücke über der eingestellten Dauer. "
        "Die Art der Streife wird nie geraten: für alle Geräte hier wählen oder eine Zuordnungsdatei "
        "(Gerät; Art; Personal; Einheit) hochladen.",
        "A patrol is one device's run of fixes without a break longer than the set duration. The "
        "patrol kind is never guessed: choose it here for all devices or upload a mapping file "
        "(device, kind, staff, unit)."),
    "daten.gps.kind": ("Art der Streifen (alle Geräte)", "Patrol kind (all devices)"),
    "daten.gps.kind_none": ("— aus der Zuordnungsdatei —", "— from the mapping file —"),
    "daten.gps.staff": ("Personalstärke (optional)", "Staff (optional)"),
    "daten.gps.devices": ("Zuordnung der Geräte (CSV, XLSX oder TOML)", "Device mapping (CSV, XLSX or TOML)"),
    "daten.gps.gap": ("Neue Streife nach einer Lücke von mehr als (Minuten)",
                      "New patrol after a break longer than (minutes)"),
    "daten.gps.speed": ("Höchstgeschwindigkeit (km/h; schnellere Punkte werden abgelehnt)",
                        "Maximum speed (km/h; faster fixes are rejected)"),
    "daten.gps.patrols": ("Streifen gebildet", "Patrols formed"),
    "daten.kind": ("Datensatz", "Data set"),
    "daten.upload": ("Datei", "File"),
    "daten.crs": ("Bezugssystem (optional, z. B. EPSG:25832)",
                  "Reference system (optional, e.g. EPSG:25832)"),
    "daten.geocode": ("Adressen ohne Koordinaten geocodieren (Nominatim, höchstens 1 Anfrage/s)",
                      "Geocode addresses without coordinates (Nominatim, at most 1 request/s)"),
    "daten.preview": ("Vorschau der Datei ({rows} Datensätze, {cols} Spalten)",
                      "Preview of the file ({rows} records, {cols} columns)"),
    "daten.mapping": ("Zuordnung der Spalten", "Column mapping"),
    "daten.mapping_help": (
        "Vorgeschlagen anhand der Spaltennamen (oder aus einem früheren Import gleicher Spalten). "
        "Pflichtfelder sind mit * markiert. „@row“ nummeriert die Datensätze.",
        "Proposed from the column names (or from an earlier import with the same columns). "
        "Required fields are marked *. \"@row\" numbers the records."),
    "daten.mapping.none": ("— nicht zugeordnet —", "— not mapped —"),
    "daten.mapping.geometry": ("Geometrie aus der Datei", "Geometry from the file"),
    "daten.check_button": ("Prüfen", "Check"),
    "daten.report": ("Prüfbericht", "Validation report"),
    "daten.total": ("Datensätze", "Records"),
    "daten.accepted": ("Übernommen", "Accepted"),
    "daten.rejected": ("Abgelehnt", "Rejected"),
    "daten.errors": ("Abgelehnte Datensätze ({count} Gründe)", "Rejected records ({count} reasons)"),
    "daten.warnings": ("Hinweise zu übernommenen Datensätzen ({count})",
                       "Notes on accepted records ({count})"),
    "daten.rejected_download": ("Abgelehnte Datensätze als CSV herunterladen",
                                "Download rejected records as CSV"),
    "daten.show_after": ("Nach dem Import in der App anzeigen", "Show in the app after the import"),
    "daten.import_button": ("Importieren", "Import"),
    "daten.nothing": ("Kein Datensatz ist gültig: nichts zu importieren.",
                      "No record is valid: nothing to import."),
    "daten.imported": ("{kind}: Version {version} gespeichert ({records} Datensätze aus {file}).",
                       "{kind}: version {version} stored ({records} records from {file})."),
    "daten.geocoding": ("Geocoding {done}/{total}", "Geocoding {done}/{total}"),
    "daten.versions": ("Versionen", "Versions"),
    "daten.versions.none": ("Noch nichts importiert.", "Nothing imported yet."),
    "daten.restore_version": ("Version", "Version"),
    "daten.restore_dataset": ("Datensatz", "Data set"),
    "daten.restore_all": ("alle Datensätze", "all data sets"),
    "daten.restore_button": ("Wiederherstellen", "Restore"),
    "daten.restored": ("Version {version} wiederhergestellt (neue Version {new}).",
                       "Version {version} restored (new version {new})."),
    "daten.action.import": ("Import", "import"),
    "daten.action.restore": ("Wiederherstellung", "restore"),
    "daten.action.auto": ("automatisch", "automatic"),
    "daten.switch": ("Datenquelle der App", "Data source of the app"),
    "daten.switch.demo": ("Demo-Daten", "Demo data"),
    "daten.switch.store": ("Importierte Daten", "Imported data"),
    "daten.switch.env": ("`LAGEBILD_DATA` ist gesetzt und hat Vorrang vor dieser Auswahl.",
                         "`LAGEBILD_DATA` is set and takes precedence over this choice."),
})

K_FLASH = "dt_flash"
K_REPORT = "dt_report"
K_MAP_FOR = "dt_map_for"
NONE = ""


@st.cache_resource(show_spinner=False, max_entries=4)
def _read_upload(name: str, digest: str, crs: str, layer: str, _data: bytes) -> RawTable:
    """The uploaded file read once per content (``digest``), CRS and layer choice."""
    del digest
    return read_file(_data, name, crs=crs or None, layer=layer or None)


def _flash(kind: str, text: str) -> None:
    st.session_state[K_FLASH] = (kind, text)


def _show_flash() -> None:
    kind, text = st.session_state.pop(K_FLASH, (None, None))
    if kind == "success":
        st.success(text)
    elif kind == "error":
        st.error(text)


def _button(label: str, key: str, **kwargs: object) -> bool:
    """A button whose click survives a rerun of the run it started (a session flag set by its
    callback, not the one-run trigger value)."""
    flag = f"_{key}_clicked"
    st.button(label, key=key, on_click=st.session_state.__setitem__, args=(flag, True), **kwargs)
    return bool(st.session_state.pop(flag, False))


def _ds(name: str, lang: str) -> str:
    return t(f"daten.ds.{name}", lang)


def _layer_choice(raw: RawTable, lang: str) -> str:
    """A layer select for files with several layers (GeoPackage, KML folders, GPX); "" = default."""
    key = "dt_layer"
    if len(raw.layers) <= 1 and not st.session_state.get(key):
        return ""
    options = [NONE, *raw.layers]
    if st.session_state.get(key) not in options:
        st.session_state[key] = NONE
    return st.selectbox(t("daten.layer", lang), options, key=key,
                        format_func=lambda v: (t("daten.layer.all", lang) if raw.format in ("kml", "kmz")
                                               else f"{raw.layer} (Standard)" if lang == "de"
                                               else f"{raw.layer} (default)") if v == NONE else v)


def _when(iso: object, lang: str) -> str:
    if not isinstance(iso, str) or not iso:
        return "–"
    return fmt_datetime(pd.Timestamp(iso).to_pydatetime(), lang)


# --- page ------------------------------------------------------------------------------------------
chrome.require_role("admin")
source, _sig, current, error = cache.current_bundle()
usable = error is None and current is not None and bool(current.quarters())
if usable:
    ctx = chrome.page()
    lang, bundle = ctx.lang, ctx.bundle
else:  # the chrome would stop here; this page must still let the admin fix the data
    lang, bundle = chrome.current_lang(), None
store = db.page_store(preparer=cache.preparer)  # the database store when LAGEBILD_DB is set
status = store.status()

st.title(t("page.daten", lang))
_show_flash()

# --- what is loaded ---------------------------------------------------------------------------------
st.subheader(t("daten.loaded", lang))
if source.kind == "store":
    st.markdown(t("daten.source.store", lang, version=status["generation"], path=f"`{source.folder}`"))
elif source.kind == "db":
    label = source.label.replace("`", "")
    st.markdown(t("daten.source.db", lang, version=source.generation, path=f"`{label}`"))
elif source.kind == "env":
    st.markdown(t("daten.source.env", lang, path=f"`{source.folder}`"))
else:
    st.markdown(t("daten.source.demo", lang, path=f"`{source.folder}`"))
if not usable:
    st.warning(t("daten.broken", lang, error=str(error) if error else t("chrome.no_data", lang)))
if bundle is not None:
    overview = loaded_overview(bundle, status if source.kind in ("store", "db") else None)
    table = pd.DataFrame({
        t("daten.col.dataset", lang): [_ds(d, lang) for d in overview["dataset"]],
        t("daten.col.records", lang): [fmt_number(v, lang) for v in overview["records"]],
        t("daten.col.version", lang): [("–" if pd.isna(v) else str(int(v))) for v in overview["version"]],
        t("daten.col.time", lang): [_when(v, lang) for v in overview["time"]],
        t("daten.col.source", lang): [v or "–" for v in overview["source"]],
    })
    st.dataframe(table, hide_index=True, width="stretch", key="dt_loaded")

    st.subheader(t("daten.quality", lang))
    checks = quality_checks(bundle)
    shown = checks[checks["count"] > 0]
    if shown.empty:
        st.success(t("daten.quality.ok", lang))
    else:
        st.dataframe(pd.DataFrame({
            t("daten.col.check", lang): [t(f"daten.check.{c}", lang) for c in shown["check"]],
            t("daten.col.dataset", lang): [_ds(d, lang) for d in shown["dataset"]],
            t("daten.col.count", lang): [fmt_number(v, lang) for v in shown["count"]],
            t("daten.col.share", lang): [fmt_percent(v, lang, 1) for v in shown["share"]],
        }), hide_index=True, width="stretch", key="dt_quality")

# --- import -------------------------------------------------------------------------------------------
st.subheader(t("daten.import", lang))
st.caption(t("daten.import_help", lang))
left, right = st.columns([1, 2])
kind = left.selectbox(t("daten.kind", lang), [*DATASETS, GPS_KIND], key="dt_kind",
                      format_func=lambda k: _ds(k, lang))
gps_mode = kind == GPS_KIND
crs_text = left.text_input(t("daten.crs", lang), key="dt_crs").strip()
upload = right.file_uploader(t("daten.upload", lang), key="dt_upload",
                             type=["geojson", "json", "zip", "csv", "txt", "xlsx", "gpkg", "kml", "kmz",
                                   "gpx", "fgb", "gml", "xml", "sqlite"])
raw: RawTable | None = None
if upload is not None:
    data = upload.getvalue()
    digest = hashlib.sha1(data).hexdigest()
    if st.session_state.get("dt_layer_for") != digest:  # a new file: its default layer first
        st.session_state["dt_layer_for"] = digest
        st.session_state["dt_layer"] = NONE
    try:
        raw = _read_upload(upload.name, digest, crs_text, st.session_state.get("dt_layer") or "", data)
        if gps_mode and raw.format == "gpx" and not st.session_state.get("dt_layer") \
                and "track_points" in raw.layers:
            raw = _read_upload(upload.name, digest, crs_text, "track_points", data)
        _layer_choice(raw, lang)  # a change reruns the page, which reads the chosen layer above
    except ImportError_ as exc:
        st.error(exc.message(lang))

if raw is not None:
    with st.expander(t("daten.preview", lang, rows=fmt_number(len(raw), lang), cols=len(raw.columns))):
        st.dataframe(raw.frame.head(20).astype(str), hide_index=True, width="stretch")
    if gps_mode:
        proposal = None
        proposed = suggest_gps_mapping(raw)
        fields = list(GPS_FIELDS)
    else:
        proposal = suggest_mapping(kind, raw, store)
        proposed = proposal.mapping
        fields = target_fields(kind)
    all_columns = [str(c) for c in add_derived_columns(raw.frame).columns]
    extra = [c for c in proposed.values() if c not in all_columns]
    options = [NONE, *all_columns, *extra, ROW_NUMBER]
    marker = (digest, kind, raw.layer)
    if st.session_state.get(K_MAP_FOR) != marker:  # a new file or data set: apply the proposal
        st.session_state[K_MAP_FOR] = marker
        st.session_state.pop(K_REPORT, None)
        for f in fields:
            st.session_state[f"dt_map_{f}"] = proposed.get(f, NONE)
    st.markdown(f"**{t('daten.mapping', lang)}**")
    st.caption(t("daten.mapping_help", lang))
    required = {"time"} if gps_mode else set(SPECS[kind].required)
    has_geometry = raw.geometry is not None
    grid = st.columns(3)
    mapping: dict[str, str] = {}
    shown_fields = [f for f in fields if not (has_geometry and f in ("geometry", "x", "y", "latlon"))]
    for i, f in enumerate(shown_fields):
        label = f"{f} *" if f in required else f
        value = grid[i % 3].selectbox(label, options, key=f"dt_map_{f}",
                                      format_func=lambda c: t("daten.mapping.none", lang) if c == NONE else c)
        if value:
            mapping[f] = value
    if has_geometry:
        st.caption(f"geometry: {t('daten.mapping.geometry', lang)} ({raw.source_crs})")
    gps_options: dict = {}
    if gps_mode:
        st.caption(t("daten.gps.help", lang))
        g1, g2, g3 = st.columns(3)
        gps_kind = g1.selectbox(t("daten.gps.kind", lang), [NONE, "kod", "joint", "police"],
                                key="dt_gps_kind",
                                format_func=lambda k: t("daten.gps.kind_none", lang) if k == NONE
                                else t(f"kind.{k}", lang))
        staff = g2.number_input(t("daten.gps.staff", lang), min_value=0, max_value=50, value=None, step=1,
                                key="dt_gps_staff")
        mapping_file = g3.file_uploader(t("daten.gps.devices", lang), key="dt_gps_devices",
                                        type=["csv", "txt", "xlsx", "toml"])
        g4, g5 = st.columns(2)
        gap_min = g4.number_input(t("daten.gps.gap", lang), min_value=1.0, max_value=24 * 60.0,
                                  value=DEFAULT_GAP_MINUTES, step=5.0, key="dt_gps_gap")
        speed = g5.number_input(t("daten.gps.speed", lang), min_value=1.0, max_value=500.0,
                                value=DEFAULT_MAX_SPEED_KMH, step=5.0, key="dt_gps_speed")
        constants = {"kind": gps_kind} if gps_kind else {}
        if staff is not None:
            constants["staff"] = str(int(staff))
        gps_options = {"constants": constants, "gap_minutes": gap_min, "max_speed_kmh": speed,
                       "devices_file": (mapping_file.name, mapping_file.getvalue()) if mapping_file else None}
        geocode = False
    else:
        geocode = st.checkbox(t("daten.geocode", lang), key="dt_geocode")
    inputs = (digest, kind, raw.layer, tuple(sorted(mapping.items())), geocode, crs_text,
              status["generation"], repr(gps_options))
    if _button(t("daten.check_button", lang), key="dt_check"):
        bar = st.progress(0.0) if geocode else None

        def progress(done: int, total: int, _text: str) -> None:
            if bar is not None and total:
                bar.progress(done / total, text=t("daten.geocoding", lang, done=done, total=total))

        try:
            with admission.slots().released():  # checking a large file takes long: others' runs go on
                if gps_mode:
                    devices_file = gps_options["devices_file"]
                    devices = parse_device_mapping(devices_file[1], devices_file[0]) if devices_file else None
                    report = validate_gps(raw, mapping, constants=gps_options["constants"], devices=devices,
                                          store=store, crs=crs_text or None, lang=lang,
                                          gap_minutes=gps_options["gap_minutes"],
                                          max_speed_kmh=gps_options["max_speed_kmh"])
                else:
                    report = validate_import(kind, raw, mapping, store=store, crs=crs_text or None,
                                             geocode=geocode, progress=progress, lang=lang,
                                             mapping_origin=proposal.origin)
            st.session_state[K_REPORT] = (inputs, report)
        except ImportError_ as exc:
            st.session_state.pop(K_REPORT, None)
            st.error(exc.message(lang))
    stored = st.session_state.get(K_REPORT)
    if stored is not None and stored[0] == inputs:
        report = stored[1]
        st.markdown(f"**{t('daten.report', lang)}**")
        cols = st.columns(4 if gps_mode else 3)
        cols[0].metric(t("daten.total", lang), fmt_number(report.records_total, lang))
        cols[1].metric(t("daten.accepted", lang), fmt_number(report.records_accepted, lang))
        cols[2].metric(t("daten.rejected", lang), fmt_number(report.records_rejected, lang))
        if gps_mode:
            cols[3].metric(t("daten.gps.patrols", lang), fmt_number(report.patrols_formed, lang))
        for note in report.notes:
            st.info(note)
        headers = {"row": t("daten.col.row", lang), "column": t("daten.col.column", lang),
                   "value": t("daten.col.value", lang), "reason": t("daten.col.reason", lang)}
        if not report.errors.empty:
            st.markdown(t("daten.errors", lang, count=fmt_number(len(report.errors), lang)))
            view = report.errors[list(headers)].head(1000).copy()
            view["value"] = view["value"].map(lambda v: "" if v is None else str(v))
            st.dataframe(view.rename(columns=headers), hide_index=True, width="stretch", key="dt_errors")
            st.download_button(t("daten.rejected_download", lang), data=report.rejected_csv(),
                               file_name=f"abgelehnt_{os.path.splitext(report.source_name)[0]}.csv",
                               mime="text/csv", key="dt_rejected_csv")
        if not report.warnings.empty:
            with st.expander(t("daten.warnings", lang, count=fmt_number(len(report.warnings), lang))):
                view = report.warnings[list(headers)].head(1000).copy()
                view["value"] = view["value"].map(lambda v: "" if v is None else str(v))
                st.dataframe(view.rename(columns=headers), hide_index=True, width="stretch")
        if report.ok:
            show_after = st.checkbox(t("daten.show_after", lang), value=True, key="dt_show_after")
            if _button(t("daten.import_button", lang), key="dt_import", type="primary"):
                try:
                    with admission.slots().released():  # the write takes long: others' runs go on
                        version = store.commit(report)
                except (ImportError_, OSError) as exc:  # the store is unchanged (all or nothing)
                    st.error(exc.message(lang) if isinstance(exc, ImportError_)
                             else t("daten.store_failed", lang, error=md_escape(exc)))
                    st.stop()
                text = t("daten.imported", lang, kind=_ds(kind, lang), version=version.generation,
                         records=fmt_number(report.records_accepted, lang), file=report.source_name)
                if show_after:
                    problem = store.can_activate()
                    if problem is None:
                        store.activate()
                    else:
                        text += " " + problem.message(lang)
                cache.store_written()
                _flash("success", text)
                st.session_state.pop(K_REPORT, None)
                st.rerun()
        else:
            st.error(t("daten.nothing", lang))

# --- versions and restore -----------------------------------------------------------------------------
st.subheader(t("daten.versions", lang))
versions = store.versions()
if not versions:
    st.caption(t("daten.versions.none", lang))
else:
    st.dataframe(pd.DataFrame({
        t("daten.col.version", lang): [v.generation for v in versions],
        t("daten.col.dataset", lang): [_ds(v.dataset, lang) for v in versions],
        t("daten.col.time", lang): [_when(v.time, lang) for v in versions],
        t("daten.col.action", lang): [t(f"daten.action.{v.action}", lang) for v in versions],
        t("daten.col.source", lang): [v.source or "–" for v in versions],
        t("daten.col.records", lang): [fmt_number(v.records, lang) for v in versions],
        t("daten.col.rejected", lang): [fmt_number(v.rejected, lang) for v in versions],
        t("daten.col.current", lang): [v.current for v in versions],
    }), hide_index=True, width="stretch", key="dt_versions")
    generations = sorted({v.generation for v in versions}, reverse=True)
    r1, r2, r3 = st.columns([1, 1, 1])
    gen = r1.selectbox(t("daten.restore_version", lang), generations, key="dt_restore_version")
    changed = [v.dataset for v in versions if v.generation == gen]
    target = r2.selectbox(t("daten.restore_dataset", lang), [NONE, *DATASETS], key="dt_restore_dataset",
                          index=1 + list(DATASETS).index(changed[0]) if changed else 0,
                          format_func=lambda d: t("daten.restore_all", lang) if d == NONE else _ds(d, lang))
    r3.write("")
    with r3:
        restore_clicked = _button(t("daten.restore_button", lang), key="dt_restore")
    if restore_clicked:
        try:
            restored = store.restore(int(gen), target or None)
        except (ImportError_, OSError) as exc:  # the store is unchanged
            st.error(exc.message(lang) if isinstance(exc, ImportError_)
                     else t("daten.store_failed", lang, error=md_escape(exc)))
        else:
            cache.store_written()
            _flash("success", t("daten.restored", lang, version=gen, new=restored.generation))
            st.rerun()

# --- source switch ------------------------------------------------------------------------------------
st.subheader(t("daten.switch", lang))


def _switch() -> None:
    choice = st.session_state["dt_source"]
    if choice == "store":
        problem = store.can_activate()
        if problem is not None:
            st.session_state["dt_source"] = "demo"
            _flash("error", problem.message(lang))
            return
        store.activate()
    else:
        store.deactivate()
    cache.store_written()


st.session_state["dt_source"] = "store" if store.is_active() else "demo"
st.radio(t("daten.switch", lang), ["demo", "store"], key="dt_source", on_change=_switch, horizontal=True,
         label_visibility="collapsed", format_func=lambda k: t(f"daten.switch.{k}", lang))
if os.environ.get("LAGEBILD_DATA", "").strip():
    st.info(t("daten.switch.env", lang))
