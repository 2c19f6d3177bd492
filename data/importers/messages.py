"""User-facing texts of the importers, in German (default) and English.

Every text is keyed; :func:`msg` formats it in the requested language. Reasons produced by
:func:`data.contracts.validate` are English; :func:`contract_reason` translates them.
The page may also register these texts into ``base.i18n`` (``data`` never imports ``viz``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGS = ("de", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # --- whole-file problems -------------------------------------------------------------
    "file_missing": ("Datei nicht gefunden: {file}", "File not found: {file}"),
    "file_empty": ("Die Datei {file} ist leer.", "The file {file} is empty."),
    "file_too_large": (
        "Die Datei {file} ist zu groß: {size_mb} MB (Grenze {limit_mb} MB, "
        "einstellbar mit LAGEBILD_MAX_UPLOAD_MB).",
        "The file {file} is too large: {size_mb} MB (limit {limit_mb} MB, "
        "configurable with LAGEBILD_MAX_UPLOAD_MB).",
    ),
    "format_too_large": (
        "Die Datei {file} ({format}) ist {size_mb} MB groß: {format}-Dateien werden ganz in den "
        "Speicher gelesen und nur bis {limit_mb} MB angenommen (einstellbar mit {env}). {instead}",
        "The file {file} ({format}) is {size_mb} MB: {format} files are read into memory whole "
        "and accepted up to {limit_mb} MB (configurable with {env}). {instead}",
    ),
    "instead_cli": (
        "Größere CSV-Dateien bitte mit der Kommandozeile importieren (python -m data import): "
        "sie liest CSV stückweise bis zur Upload-Grenze (alle Datensätze außer Bezirken, "
        "Schwerpunkträumen und GPS-Punkten; diese bitte teilen).",
        "Import larger CSV files on the command line (python -m data import): it reads CSV in "
        "chunks up to the upload limit (every data set but districts, focus areas and GPS "
        "fixes; split those).",
    ),
    "instead_csv": (
        "Bitte als CSV speichern (CSV wird stückweise gelesen, bis zur Upload-Grenze).",
        "Please save it as CSV (CSV is read in chunks, up to the upload limit).",
    ),
    "instead_csv_gpkg": (
        "Bitte als CSV (Punkte mit Breite/Länge, stückweise gelesen) oder GeoPackage exportieren "
        "oder die Datei teilen.",
        "Please export it as CSV (points with latitude/longitude, read in chunks) or GeoPackage, "
        "or split the file.",
    ),
    "instead_csv_gps": (
        "Bitte die GPS-Punkte als CSV exportieren (Gerät, Zeit, Breite, Länge) oder die Datei teilen.",
        "Please export the GPS fixes as CSV (device, time, latitude, longitude) or split the file.",
    ),
    "instead_gpkg": (
        "Bitte als GeoPackage exportieren (kompakter) oder die Datei teilen.",
        "Please export it as GeoPackage (more compact) or split the file.",
    ),
    "instead_split": (
        "Bitte die Daten teilen (z. B. nach Jahr) oder Punkte als CSV exportieren.",
        "Please split the data (e.g. by year) or export points as CSV.",
    ),
    "zip_too_large": (
        "Das ZIP-Archiv {file} entpackt sich auf {size_mb} MB (Grenze {limit_mb} MB).",
        "The zip archive {file} unpacks to {size_mb} MB (limit {limit_mb} MB).",
    ),
    "binary_garbage": (
        "Die Datei {file} ist keine Text-, JSON-, Excel- oder ZIP-Datei (Binärdaten). "
        "Erwartet: GeoJSON, ZIP mit Shapefile, CSV, XLSX oder Open311-JSON.",
        "The file {file} is not a text, JSON, Excel or zip file (binary data). "
        "Expected: GeoJSON, zipped Shapefile, CSV, XLSX or Open311 JSON.",
    ),
    "gzip_unsupported": (
        "Die Datei {file} ist gzip-komprimiert: bitte zuerst entpacken.",
        "The file {file} is gzip-compressed: please unpack it first.",
    ),
    "xls_unsupported": (
        "Die Datei {file} ist im alten Excel-Format (.xls): bitte als .xlsx oder CSV speichern.",
        "The file {file} is in the old Excel format (.xls): please save it as .xlsx or CSV.",
    ),
    "bare_shp": (
        "{file} ist eine einzelne .shp-Datei: bitte das Shapefile als ZIP hochladen "
        "(.shp, .shx, .dbf, .prj, ggf. .cpg).",
        "{file} is a lone .shp file: please upload the Shapefile as a zip "
        "(.shp, .shx, .dbf, .prj, optionally .cpg).",
    ),
    "zip_bad": ("{file} ist kein lesbares ZIP-Archiv: {detail}",
                "{file} is not a readable zip archive: {detail}"),
    "zip_no_shp": (
        "Das ZIP-Archiv {file} enthält kein Shapefile (.shp). Enthalten: {members}",
        "The zip archive {file} holds no Shapefile (.shp). It contains: {members}",
    ),
    "zip_many_shp": (
        "Das ZIP-Archiv {file} enthält mehrere Shapefiles ({members}): bitte eines je Import.",
        "The zip archive {file} holds several Shapefiles ({members}): please one per import.",
    ),
    "zip_no_dbf": (
        "Im ZIP-Archiv {file} fehlt die Attributtabelle {member}.",
        "The zip archive {file} lacks the attribute table {member}.",
    ),
    "shp_bad": ("Das Shapefile {member} in {file} ist nicht lesbar: {detail}",
                "The Shapefile {member} in {file} cannot be read: {detail}"),
    "prj_bad": (
        "Die Projektionsdatei {member} in {file} ist nicht lesbar: {detail}",
        "The projection file {member} in {file} cannot be read: {detail}",
    ),
    "json_bad": (
        "{file} ist kein gültiges JSON (abgeschnitten?): {detail} in Zeile {line}, Spalte {col}.",
        "{file} is not valid JSON (truncated?): {detail} at line {line}, column {col}.",
    ),
    "json_unknown": (
        "{file} ist JSON, aber weder GeoJSON noch Open311 noch eine Liste von Datensätzen.",
        "{file} is JSON but neither GeoJSON nor Open311 nor a list of records.",
    ),
    "geojson_bad": ("{file}: ungültiges GeoJSON: {detail}", "{file}: invalid GeoJSON: {detail}"),
    "crs_unknown": (
        "{file}: unbekanntes Koordinatenreferenzsystem {crs!r}.",
        "{file}: unknown coordinate reference system {crs!r}.",
    ),
    "crs_guess_failed": (
        "{file}: Koordinaten sind keine Längen/Breiten und das Bezugssystem ist unbekannt "
        "(z. B. x={x}, y={y}). Bitte das System angeben (--crs EPSG:25832).",
        "{file}: coordinates are not longitudes/latitudes and their reference system is "
        "unknown (e.g. x={x}, y={y}). Please name it (--crs EPSG:25832).",
    ),
    "too_many_columns": (
        "{file} hat {count} Spalten (Grenze {limit}, einstellbar mit LAGEBILD_IMPORT_MAX_COLUMNS). "
        "Beginn: {excerpt}",
        "{file} has {count} columns (limit {limit}, configurable with LAGEBILD_IMPORT_MAX_COLUMNS). "
        "Start: {excerpt}",
    ),
    "line_too_long": (
        "{file}: Zeile {line} ist länger als {limit_kb} KB (mindestens {size_kb} KB; Grenze einstellbar "
        "mit LAGEBILD_IMPORT_MAX_LINE_KB). Beginn: {excerpt}",
        "{file}: line {line} is longer than {limit_kb} KB (at least {size_kb} KB; limit configurable "
        "with LAGEBILD_IMPORT_MAX_LINE_KB). Start: {excerpt}",
    ),
    "xlsx_too_large": (
        "{file}: Tabellenblatt {sheet} umfasst {rows} Zeilen × {cols} Spalten = {cells} Zellen "
        "(Grenze {limit} Zellen und {limit_cols} Spalten, einstellbar mit LAGEBILD_IMPORT_MAX_CELLS und "
        "LAGEBILD_IMPORT_MAX_COLUMNS).",
        "{file}: sheet {sheet} spans {rows} rows × {cols} columns = {cells} cells (limit {limit} cells "
        "and {limit_cols} columns, configurable with LAGEBILD_IMPORT_MAX_CELLS and "
        "LAGEBILD_IMPORT_MAX_COLUMNS).",
    ),
    "json_too_deep": (
        "{file} ist tiefer als {limit} Ebenen verschachtelt (ab Byte {offset}; GeoJSON braucht etwa 8; "
        "Grenze einstellbar mit LAGEBILD_IMPORT_MAX_DEPTH).",
        "{file} is nested deeper than {limit} levels (from byte {offset}; GeoJSON needs about 8; "
        "limit configurable with LAGEBILD_IMPORT_MAX_DEPTH).",
    ),
    "zip_member_too_large": (
        "Im ZIP-Archiv {file} entpackt sich {member} auf mehr als {size_mb} MB, sein Dateikopf "
        "nennt {declared_mb} MB: kein gültiges Shapefile (ZIP-Bombe?).",
        "In the zip archive {file}, {member} unpacks to more than {size_mb} MB while its header "
        "declares {declared_mb} MB: not a valid Shapefile (zip bomb?).",
    ),
    "file_unreadable": ("{file} ist nicht lesbar: {detail}", "{file} cannot be read: {detail}"),
    "xlsx_bad": ("{file} ist keine lesbare Excel-Datei: {detail}",
                 "{file} is not a readable Excel file: {detail}"),
    "no_header": ("{file} enthält keine Kopfzeile und keine Daten.",
                  "{file} holds no header row and no data."),
    "no_records": ("{file} enthält keine Datensätze.", "{file} holds no records."),
    "no_usable_column": (
        "{file}: keine verwendbare Spalte für {kind}. Spalten der Datei: {columns}. "
        "Erwartet z. B.: {fields}. Zuordnung mit --map feld=spalte.",
        "{file}: no usable column for {kind}. Columns in the file: {columns}. "
        "Expected e.g.: {fields}. Map columns with --map field=column.",
    ),
    "required_unmapped": (
        "{file}: Pflichtfeld(er) {fields} für {kind} ohne Spalte. Spalten der Datei: {columns}. "
        "Zuordnung mit --map feld=spalte (oder --set feld=wert).",
        "{file}: required field(s) {fields} of {kind} have no column. Columns in the file: "
        "{columns}. Map them with --map field=column (or --set field=value).",
    ),
    "needs_polygons": (
        "{file}: {kind} braucht Flächen (Polygone); die Datei hat {found}.",
        "{file}: {kind} needs areas (polygons); the file has {found}.",
    ),
    "open311_kind": (
        "{file} ist eine Open311-Datei; sie lässt sich nur als complaints importieren.",
        "{file} is an Open311 file; it can only be imported as complaints.",
    ),
    "unknown_kind": (
        "Unbekannter Datensatz {kind!r}: erlaubt sind {kinds}.",
        "Unknown data set {kind!r}: allowed are {kinds}.",
    ),
    "map_syntax": (
        "Ungültige Zuordnung {item!r}: erwartet feld=spalte.",
        "Invalid mapping {item!r}: expected field=column.",
    ),
    "map_field": (
        "Zuordnung {item!r}: {kind} hat kein Feld {field!r}; Felder: {fields}.",
        "Mapping {item!r}: {kind} has no field {field!r}; fields: {fields}.",
    ),
    "map_column": (
        "Zuordnung {field}={column!r}: {file} hat keine Spalte {column!r}; Spalten: {columns}.",
        "Mapping {field}={column!r}: {file} has no column {column!r}; columns: {columns}.",
    ),
    "set_syntax": ("Ungültige Vorgabe {item!r}: erwartet feld=wert.",
                   "Invalid constant {item!r}: expected field=value."),
    "crs_option_bad": ("Unbekanntes Bezugssystem {crs!r} (--crs).",
                       "Unknown reference system {crs!r} (--crs)."),
    "default_field_bad": ("Unbekanntes Handlungsfeld {value!r}: erlaubt sind {fields}.",
                          "Unknown Masterplan field {value!r}: allowed are {fields}."),
    "tz_bad": ("Unbekannte Zeitzone {tz!r}.", "Unknown time zone {tz!r}."),
    # --- notes (file level, informative) ---------------------------------------------------
    "note_crs_assumed": (
        "Kein Bezugssystem angegeben; die Koordinaten sehen nach {crs} aus und wurden so gelesen.",
        "No reference system given; the coordinates look like {crs} and were read as such.",
    ),
    "note_xy_degrees": (
        "Die x/y-Spalten enthalten Längen/Breiten in Grad; gelesen als WGS84.",
        "The x/y columns hold longitudes/latitudes in degrees; read as WGS84.",
    ),
    "note_surrogates": (
        "{count} ungültige Zeichen (einzelne UTF-16-Surrogate) durch \ufffd ersetzt.",
        "{count} invalid characters (lone UTF-16 surrogates) replaced by \ufffd.",
    ),
    "note_encoding": ("Zeichenkodierung: {encoding} ({how}).", "Character encoding: {encoding} ({how})."),
    "how_bom": ("Byte-Order-Mark", "byte order mark"),
    "how_bom_replaced": ("Byte-Order-Mark, ungültige Bytes ersetzt",
                         "byte order mark, invalid bytes replaced"),
    "how_utf8": ("gültiges UTF-8", "valid UTF-8"),
    "how_cp1252": ("kein UTF-8, Windows-1252 angenommen", "not UTF-8; Windows-1252 assumed"),
    "how_latin1": ("weder UTF-8 noch Windows-1252, Latin-1 angenommen",
                   "neither UTF-8 nor Windows-1252; Latin-1 assumed"),
    "how_ascii": ("nur ASCII-Zeichen", "ASCII only"),
    "how_cpg": (".cpg-Datei {value!r}", ".cpg file {value!r}"),
    "how_cpg_invalid": ("laut .cpg {value}, aber ungültig", "{value} per .cpg, but invalid"),
    "how_ldid": ("dBase-Sprachkennung 0x{value:02X}", "dBase language driver 0x{value:02X}"),
    "how_dbf_cp1252": ("kein UTF-8, keine .cpg: Windows-1252 angenommen",
                       "not UTF-8, no .cpg: Windows-1252 assumed"),
    "note_delimiter": ("Trennzeichen: {delimiter!r}.", "Delimiter: {delimiter!r}."),
    "note_sheet": ("Tabellenblatt {sheet!r} gelesen (von {count}).",
                   "Read sheet {sheet!r} (of {count})."),
    "note_blank_rows": ("{count} leere Zeilen übersprungen (nicht mitgezählt).",
                        "{count} empty lines skipped (not counted)."),
    "note_non_point": (
        "{count} Objekte sind keine Punkte; ihr Mittelpunkt wurde verwendet.",
        "{count} features are not points; their centre point was used.",
    ),
    "note_no_districts": (
        "Im Speicher sind noch keine Bezirke: die Bezirkszugehörigkeit wurde nicht geprüft.",
        "The store holds no districts yet: district membership was not checked.",
    ),
    "note_swapped_majority": (
        "Bei {count} von {total} Datensätzen liegen Breite und Länge vertauscht: "
        "bitte die Zuordnung prüfen (--map lat=… --map lon=…).",
        "In {count} of {total} records latitude and longitude look swapped: "
        "please check the mapping (--map lat=… --map lon=…).",
    ),
    "note_new_categories": (
        "{count} neue Kategorien werden angelegt (Handlungsfeld {field}): {names}.",
        "{count} new categories will be added (field {field}): {names}.",
    ),
    "note_geocoded": (
        "Geocoding: {found} Adressen gefunden ({cached} aus dem Cache), {missing} nicht gefunden.",
        "Geocoding: {found} addresses found ({cached} from the cache), {missing} not found.",
    ),
    "note_geocode_off": (
        "{count} Datensätze haben eine Adresse, aber keine Koordinaten; Geocoding ist aus "
        "(--geocode).",
        "{count} records have an address but no coordinates; geocoding is off (--geocode).",
    ),
    "note_geocode_failed": (
        "Geocoding nicht möglich: keine Verbindung zu {server} ({detail}). {count} Datensätze "
        "bleiben ungeocodiert; der Rest wird importiert.",
        "Geocoding not possible: no connection to {server} ({detail}). {count} records stay "
        "not geocoded; the rest is imported.",
    ),
    "note_timezone": ("Zeiten ohne Zeitzone wurden als {tz} gelesen.",
                      "Times without a time zone were read as {tz}."),
    "note_repaired": (
        "{count} ungültige Flächen wurden repariert (make_valid).",
        "{count} invalid areas were repaired (make_valid).",
    ),
    "note_patrols_cleared": (
        "{count} Streifen verweisen auf Bezirke, die es nicht mehr gibt; ihre district_id wurde "
        "geleert.",
        "{count} patrols refer to districts that no longer exist; their district_id was cleared.",
    ),
    "note_points_orphaned": (
        "{count} GPS-Punkte gehören zu Streifen, die es nicht mehr gibt; sie wurden entfernt "
        "(in der Vorversion erhalten).",
        "{count} GPS points belong to patrols that no longer exist; they were removed "
        "(kept in the previous version).",
    ),
    "note_categories_added": (
        "{count} in Beschwerden verwendete Kategorien fehlten und wurden angelegt: {names}.",
        "{count} categories used by complaints were missing and were added: {names}.",
    ),
    "note_mapping_remembered": (
        "Zuordnung aus einem früheren Import gleicher Spalten übernommen.",
        "Mapping taken from an earlier import with the same columns.",
    ),
    # --- reasons (row level) -------------------------------------------------------------
    "r_field_count": (
        "Zeile hat {found} Felder, die Kopfzeile {expected}",
        "record has {found} fields, the header {expected}",
    ),
    "r_no_geometry": ("keine Geometrie", "no geometry"),
    "r_bad_geometry": ("Geometrie nicht lesbar: {detail}", "geometry cannot be read: {detail}"),
    "r_not_number": ("keine Zahl", "not a number"),
    "r_not_datetime": (
        "kein Datum/Uhrzeit (erkannt: TT.MM.JJJJ [HH:MM], JJJJ-MM-TT, MM/TT/JJJJ hh:mm AM)",
        "not a date/time (understood: DD.MM.YYYY [HH:MM], YYYY-MM-DD, MM/DD/YYYY hh:mm AM)",
    ),
    "r_not_geometry_text": ("keine Geometrie (WKT oder GeoJSON erwartet)",
                            "not a geometry (WKT or GeoJSON expected)"),
    "r_latlon_text": ("keine Koordinate im Format \"(Breite, Länge)\"",
                      "not a coordinate like \"(lat, lon)\""),
    "r_no_coords": ("Koordinaten fehlen", "coordinates are missing"),
    "r_no_coords_address": (
        "Koordinaten fehlen; Adresse vorhanden, aber Geocoding ist aus",
        "coordinates are missing; an address is present but geocoding is off",
    ),
    "r_zero": ("0/0 ist kein Ort (Platzhalter für fehlende Koordinaten)",
               "0/0 is not a place (a placeholder for missing coordinates)"),
    "r_lat_range": ("Breite {value} liegt außerhalb von -90..90", "latitude {value} is outside -90..90"),
    "r_lon_range": ("Länge {value} liegt außerhalb von -180..180",
                    "longitude {value} is outside -180..180"),
    "r_swapped_range": (
        "Breite und Länge vertauscht? (Breite {lat} ist unmöglich, Länge {lon} wäre eine Breite)",
        "latitude and longitude swapped? (latitude {lat} is impossible, longitude {lon} "
        "would be a latitude)",
    ),
    "r_swapped_district": (
        "Breite und Länge vertauscht? Vertauscht läge der Punkt im Bezirk {district}",
        "latitude and longitude swapped? Swapped, the point would lie in district {district}",
    ),
    "r_outside": ("Punkt liegt in keinem Bezirk ({lat}, {lon})",
                  "point lies outside every district ({lat}, {lon})"),
    "r_geom_range": (
        "Koordinaten außerhalb des WGS84-Bereichs (falsches Bezugssystem?)",
        "coordinates outside the WGS84 range (wrong reference system?)",
    ),
    "r_not_geocoded": ("nicht geocodiert: {detail}", "not geocoded: {detail}"),
    "r_geocode_not_found": ("Adresse nicht gefunden", "address not found"),
    "r_geocode_offline": ("keine Verbindung zu {server}", "no connection to {server}"),
    "r_unknown_parent": ("übergeordneter Bezirk {value!r} ist nicht in der Datei",
                         "parent district {value!r} is not in the file"),
    "r_unknown_district": ("Bezirk {value!r} ist nicht im Speicher",
                           "district {value!r} is not in the store"),
    "r_unknown_patrol": ("Streife {value!r} unbekannt (zuerst die Streifen importieren)",
                         "unknown patrol {value!r} (import the patrols first)"),
    "r_cleared": ("Wert verworfen: {reason}", "value dropped: {reason}"),
    "r_repaired": ("ungültige Fläche repariert ({detail})", "invalid area repaired ({detail})"),
    # --- reasons from data.contracts (translated) ------------------------------------------
    "c_required": ("Pflichtwert fehlt", "required value is missing"),
    "c_required_column": ("Pflichtspalte fehlt", "required column is missing"),
    "c_not_number": ("keine Zahl", "not a number"),
    "c_lat": ("Breite außerhalb von -90..90", "latitude outside -90..90"),
    "c_lon": ("Länge außerhalb von -180..180", "longitude outside -180..180"),
    "c_minimum": ("muss mindestens {minimum} sein", "must be at least {minimum}"),
    "c_whole": ("keine ganze Zahl", "not a whole number"),
    "c_datetime": ("kein Datum/Uhrzeit", "not a date/time"),
    "c_enum": ("muss einer der Werte {choices} sein", "must be one of {choices}"),
    "c_bool": ("muss ja oder nein sein (true/false)", "must be true or false (ja/nein)"),
    "c_geometry": ("keine Geometrie", "not a geometry"),
    "c_polygon": ("muss eine Fläche sein (Polygon oder MultiPolygon)",
                  "must be a Polygon or MultiPolygon"),
    "c_empty": ("Geometrie ist leer", "geometry is empty"),
    "c_invalid": ("Fläche ist ungültig (Selbstüberschneidung?)",
                  "geometry is not valid (self-intersection?)"),
    "c_duplicate": ("doppelte ID (kommt weiter oben schon vor)", "duplicate id (already used above)"),
    "c_end": ("Ende liegt vor dem Beginn", "end is before start"),
    "c_closed": ("vor dem Eingang abgeschlossen", "closed before it was received"),
    "c_until": ("'bis' liegt vor 'seit'", "until is before since"),
    # --- report / CLI --------------------------------------------------------------------
    "summary": (
        "{kind} aus {file}: {total} Datensätze, {accepted} übernommen, {rejected} abgelehnt.",
        "{kind} from {file}: {total} records, {accepted} accepted, {rejected} rejected.",
    ),
    "imported": ("Importiert als Version {version} im Speicher {store}.",
                 "Imported as version {version} into the store {store}."),
    "dry_run": ("Probelauf: nichts gespeichert.", "Dry run: nothing stored."),
    "rejected_all": ("Nichts importiert: kein Datensatz ist gültig. Speicher unverändert.",
                     "Nothing imported: no record is valid. Store unchanged."),
    "rejected_strict": (
        "Nichts importiert: {rejected} Datensätze abgelehnt und --strict gesetzt. Speicher unverändert.",
        "Nothing imported: {rejected} records rejected and --strict is set. Store unchanged.",
    ),
    "store_failed": ("Speichern fehlgeschlagen, Speicher unverändert: {detail}",
                     "Storing failed, store unchanged: {detail}"),
    "activated": ("Die App zeigt jetzt die importierten Daten.", "The app now shows the imported data."),
    "more_errors": ("… und {count} weitere", "… and {count} more"),
    "row": ("Zeile", "row"),
    "file_level": ("Datei", "file"),
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, got {lang!r}")
    return lang


@dataclass(frozen=True)
class Msg:
    """A message used as a parameter of another one; rendered in the outer message's language."""

    key: str
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, key: str, **params: object) -> Msg:
        return cls(key, tuple(params.items()))


def msg(key: str, lang: str = "de", **params: object) -> str:
    """The text ``key`` in ``lang`` formatted with ``params`` (KeyError for unknown keys)."""
    de, en = MESSAGES[key]
    text = de if check_lang(lang) == "de" else en
    if not params:
        return text
    rendered = {k: msg(v.key, lang, **dict(v.params)) if isinstance(v, Msg) else v
                for k, v in params.items()}
    return text.format(**rendered)


_CONTRACT_EXACT = {
    "required value is missing": "c_required",
    "required column is missing": "c_required_column",
    "not a number": "c_not_number",
    "latitude outside -90..90": "c_lat",
    "longitude outside -180..180": "c_lon",
    "not a whole number": "c_whole",
    "must be true or false (ja/nein)": "c_bool",
    "not a geometry": "c_geometry",
    "must be a Polygon or MultiPolygon": "c_polygon",
    "geometry is empty": "c_empty",
    "geometry is not valid (self-intersection?)": "c_invalid",
    "duplicate id (already used above)": "c_duplicate",
    "end is before start": "c_end",
    "closed before it was received": "c_closed",
    "until is before since": "c_until",
}
_MUST_BE_ONE_OF = re.compile(r"^must be one of (.+)$")
_AT_LEAST = re.compile(r"^must be at least (.+)$")


def contract_reason(reason: str, lang: str = "de") -> str:
    """Translate a reason from :func:`data.contracts.validate`; unknown reasons pass through."""
    key = _CONTRACT_EXACT.get(reason)
    if key:
        return msg(key, lang)
    if reason.startswith("not a date/time"):
        return msg("c_datetime", lang)
    m = _MUST_BE_ONE_OF.match(reason)
    if m:
        return msg("c_enum", lang, choices=m.group(1))
    m = _AT_LEAST.match(reason)
    if m:
        return msg("c_minimum", lang, minimum=m.group(1))
    return reason
