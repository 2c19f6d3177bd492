"""Column mapping: which column of a file feeds which contract field.

:func:`propose_mapping` recognises common German and English column names (and the
contract's own names). Point data sets have three extra *coordinate fields* besides
``lat``/``lon``: ``x``/``y`` (eastings/northings in metres, e.g. Rechtswert/Hochwert,
read as EPSG:25832 unless the values say otherwise) and ``latlon`` (one text column
holding "(lat, lon)" like LA's ``Location``).

A mapping value is a column name; ``a|b`` takes the first non-empty value of columns a
and b per record; ``@row`` is the record number (to give id-less records an id).

This module also converts values: numbers with decimal comma or point, dates in German,
ISO and US forms, and enumeration synonyms ("Polizeiwache" -> ``police_station``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from data.contracts import SPECS

COORD_FIELDS = ("x", "y", "latlon")
ROW_NUMBER = "@row"
COMPOSED_ADDRESS = "Adresse (zusammengesetzt)"


def normalise_name(name: object) -> str:
    """Casefold, transliterate umlauts, keep letters and digits only: 'Länge (°)' -> 'laenge'."""
    text = str(name).strip().casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "", text)


def normalise_value(value: object) -> str:
    """Enumeration values: casefold, umlauts transliterated, separators collapsed to one space."""
    text = str(value).strip().casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[\s_\-/.]+", " ", text).strip()


# Synonyms per field (normalised with normalise_name). Order = preference.
_COMMON: dict[str, list[str]] = {
    "lat": ["lat", "latitude", "breite", "breitengrad", "geobreite", "wgs84lat", "latwgs84", "ylat",
            "geolat", "lat84", "latdeg"],
    "lon": ["lon", "lng", "long", "longitude", "laenge", "laengengrad", "geolaenge", "wgs84lon",
            "lonwgs84", "xlon", "geolon", "geolng", "lon84", "londeg"],
    "x": ["rechtswert", "rw", "easting", "ostwert", "x", "xkoordinate", "koordinatex", "xcoord",
          "utmx", "utme", "utmeast", "east", "xutm", "x25832", "etrs89x"],
    "y": ["hochwert", "hw", "northing", "nordwert", "y", "ykoordinate", "koordinatey", "ycoord",
          "utmy", "utmn", "utmnorth", "north", "yutm", "y25832", "etrs89y"],
    "latlon": ["location", "latlon", "latlng", "koordinaten", "koordinate", "coordinates",
               "coordinate", "geopoint", "geopoint2d", "geolocation", "geokoordinaten", "position",
               "gpsposition", "gps", "point"],
    "address": ["address", "adresse", "anschrift", "fulladdress", "streetaddress", "strasseundhausnummer",
                "strassehausnummer", "strassehausnr", "standort", "einsatzort", "tatort",
                "fundort", "ereignisort", "location_address", "locationaddress", "addr"],
    "description": ["description", "beschreibung", "text", "freitext", "bemerkung", "bemerkungen",
                    "details", "sachverhalt", "inhalt", "kommentar", "comment", "notes", "anmerkung",
                    "meldungstext", "beschwerdetext"],
    "phone": ["phone", "telefon", "tel", "telefonnummer", "fon", "contactphone", "telephone"],
    "email": ["email", "mail", "emailadresse", "contactemail"],
    "staff": ["staff", "personal", "mitarbeiter", "mitarbeitende", "anzahlpersonal", "besetzung",
              "kraefte", "personalstaerke", "staerke"],
}

_PER_KIND: dict[str, dict[str, list[str]]] = {
    "districts": {
        "district_id": ["districtid", "bezirkid", "bezirksnummer", "bezirknr", "beznr", "stbnr",
                        "stadtbezirknr", "stadtbezirksnummer", "sbznr", "stbznr", "bezirksschluessel",
                        "gebietsschluessel", "gebietnr", "gebietsnummer", "schluessel", "nummer", "nr",
                        "code", "kennung", "key", "id", "objectid", "fid"],
        "name": ["name", "bezirksname", "bezirkname", "stbname", "stadtbezirk", "stadtbezirksname",
                 "bezname", "bezeichnung", "bezirk", "gebiet", "gebietsname", "label", "title", "titel"],
        "population": ["population", "einwohner", "einwohnerzahl", "bevoelkerung", "ew", "einw",
                       "anzahleinwohner", "pop", "inhabitants", "residents"],
        "parent_id": ["parentid", "parent", "uebergeordnet", "uebergeordneterbezirk", "oberbezirk",
                      "stadtbezirkid", "stadtbezirkschluessel"],
        "team_name": ["teamname", "team", "bezirksteam", "teambezeichnung"],
        "team_lead": ["teamlead", "teamleitung", "leitung", "teamleiter", "teamleiterin",
                      "ansprechpartner", "ansprechperson", "lead"],
        "geometry": ["geometry", "geometrie", "geom", "thegeom", "wkt", "shape", "polygon", "flaeche"],
    },
    "offices": {
        "office_id": ["officeid", "dienststelleid", "dienststellennr", "dienststellennummer",
                      "wachenid", "id", "nr", "nummer", "kennung", "osmid", "featureid"],
        "name": ["name", "bezeichnung", "dienststelle", "wache", "titel", "title", "officename",
                 "shortname", "kurzname"],
        "kind": ["kind", "art", "typ", "type", "dienststellenart", "wachentyp", "kategorie",
                 "category", "amenity"],
        "operator": ["operator", "betreiber", "traeger", "zustaendigkeit", "behoerde", "organisation"],
        "opening_hours": ["openinghours", "oeffnungszeiten", "oeffnungszeit", "sprechzeiten",
                          "servicezeiten", "hours"],
    },
    "patrols": {
        "patrol_id": ["patrolid", "streifeid", "streifenid", "streifennr", "streifennummer", "einsatzid",
                      "einsatznr", "einsatznummer", "id", "nr", "nummer"],
        "start": ["start", "beginn", "begin", "von", "startzeit", "startzeitpunkt", "beginnzeit",
                  "dienstbeginn", "from", "starttime"],
        "end": ["end", "ende", "bis", "endzeit", "endzeitpunkt", "dienstende", "to", "endtime"],
        "kind": ["kind", "art", "typ", "type", "streifenart", "streifentyp"],
        "unit": ["unit", "einheit", "team", "trupp", "streife", "gruppe", "dienstgruppe"],
        "district_id": ["districtid", "bezirkid", "bezirk", "district", "bezirknr", "bezirksnummer"],
    },
    "patrol_points": {
        "patrol_id": ["patrolid", "streifeid", "streifenid", "streifennr", "einsatzid", "einsatznr",
                      "trackid", "track", "id"],
        "time": ["time", "zeit", "zeitpunkt", "zeitstempel", "timestamp", "datetime", "datumzeit",
                 "datumuhrzeit", "gpszeit", "ts"],
    },
    "complaints": {
        "complaint_id": ["complaintid", "servicerequestid", "srnumber", "srnr", "requestid", "caseid",
                         "ticketid", "ticketnr", "ticket", "vorgangsnummer", "vorgangsnr", "vorgang",
                         "vorgangid", "meldungsid", "meldungid", "meldungsnr", "meldungsnummer",
                         "beschwerdeid", "beschwerdenr", "fallnummer", "fallnr", "aktenzeichen", "az",
                         "lfdnr", "laufendenummer", "id", "nr", "nummer"],
        "received_at": ["receivedat", "requesteddatetime", "createddate", "createdat", "created",
                        "eingang", "eingangsdatum", "eingangszeit", "eingegangen", "eingegangenam",
                        "meldedatum", "meldezeit", "gemeldetam", "erstellt", "erstelltam",
                        "erfasstam", "datumuhrzeit", "zeitpunkt", "datum", "date", "reportedat",
                        "opened", "opendate", "timestamp"],
        "category": ["category", "kategorie", "servicename", "requesttype", "anliegen", "anliegenart",
                     "meldungsart", "beschwerdeart", "sachgebiet", "thema", "art", "typ", "type",
                     "problem", "betreff", "subject"],
        "field": ["field", "handlungsfeld", "masterplanfeld", "masterplan", "feld"],
        "status": ["status", "zustand", "bearbeitungsstand", "bearbeitungsstatus", "state", "stand"],
        "closed_at": ["closedat", "closeddate", "closed", "erledigtam", "erledigt", "abgeschlossenam",
                      "abgeschlossen", "abschlussdatum", "geschlossenam", "closedatetime",
                      "updateddatetimeclosed"],
        "source": ["source", "quelle", "kanal", "eingangskanal", "requestsource", "channel", "meldeweg",
                   "eingangsweg"],
    },
    "staff_incidents": {
        "incident_id": ["incidentid", "vorfallid", "vorfallnr", "vorfallnummer", "ereignisid",
                        "ereignisnr", "fallnummer", "id", "nr", "nummer"],
        "occurred_at": ["occurredat", "tatzeit", "tatzeitpunkt", "zeitpunkt", "datumuhrzeit", "datum",
                        "date", "ereigniszeit", "occurred", "time"],
        "kind": ["kind", "art", "typ", "type", "uebergriffsart", "vorfallart", "delikt"],
        "during": ["during", "waehrend", "situation", "einsatzart", "anlass", "taetigkeit"],
        "injured": ["injured", "verletzt", "verletzung", "verletzte"],
        "reported_to_police": ["reportedtopolice", "angezeigt", "anzeige", "strafanzeige",
                               "polizeigemeldet", "anzeigeerstattet"],
    },
    "focus_areas": {
        "area_id": ["areaid", "gebietid", "bereichid", "schwerpunktid", "id", "nr", "nummer", "kennung"],
        "name": ["name", "bezeichnung", "gebiet", "bereich", "titel", "title", "label"],
        "kind": ["kind", "art", "typ", "type", "kategorie"],
        "since": ["since", "seit", "von", "gueltigab", "ab", "beginn", "start", "from", "validfrom"],
        "until": ["until", "bis", "gueltigbis", "ende", "end", "to", "validuntil"],
        "geometry": ["geometry", "geometrie", "geom", "thegeom", "wkt", "shape", "polygon", "flaeche"],
    },
    "categories": {
        "category": ["category", "kategorie", "schluessel", "key", "code", "kennung", "id", "kuerzel"],
        "field": ["field", "handlungsfeld", "masterplanfeld", "masterplan", "feld"],
        "label_de": ["labelde", "bezeichnungde", "bezeichnung", "label", "name", "deutsch", "text",
                     "beschreibung"],
        "label_en": ["labelen", "bezeichnungen", "englisch", "english", "nameen", "labelenglish"],
    },
}


def target_fields(kind: str) -> list[str]:
    """Fields a column can be mapped to: contract fields, plus x/y/latlon for point data."""
    sp = SPECS[kind]
    fields = list(sp.columns)
    if "lat" in fields:
        fields += list(COORD_FIELDS)
    return fields


def _synonyms(kind: str, fld: str) -> list[str]:
    own = normalise_name(fld)
    per = _PER_KIND.get(kind, {}).get(fld, [])
    common = _COMMON.get(fld, []) if fld in target_fields(kind) else []
    out: list[str] = [own]
    for s in [*per, *common]:
        if s not in out:
            out.append(s)
    return out


def propose_mapping(columns: Sequence[object], kind: str,
                    fill: Mapping[str, float] | None = None) -> dict[str, str]:
    """Guess ``{field: column}`` from column names for the data set ``kind``.

    Exact contract names win; then each field takes the first column matching its
    synonyms in order of preference; a column feeds one field only (required fields
    choose first). With ``fill`` (share of non-empty values per column, 0..1) a column
    that is mostly empty (< 20 %) gives way to a later synonym that is filled (OSM's rare
    ``type`` tag against ``amenity``). ``phone``/``contact:phone`` style pairs become ``a|b``, and separate
    street/house number/postcode/city columns a composed address when no address column
    exists (the composed column is added by :func:`add_derived_columns`).
    """
    if kind not in SPECS:
        raise ValueError(f"data set must be one of {list(SPECS)}, got {kind!r}")
    cols = [str(c) for c in columns]
    by_norm: dict[str, str] = {}
    for c in cols:
        by_norm.setdefault(normalise_name(c), c)
    sp = SPECS[kind]
    fields = target_fields(kind)
    order = [f for f in fields if f in sp.required] + [f for f in fields if f not in sp.required]
    if "lat" in fields:  # coordinate columns before ids/addresses ("Location" is a coordinate)
        order = ["lat", "lon", "latlon", "x", "y"] + [f for f in order if f not in
                                                      ("lat", "lon", "latlon", "x", "y")]
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for fld in fields:  # exact names first
        if fld in cols and fld not in used:
            mapping[fld] = fld
            used.add(fld)
    for fld in order:
        if fld in mapping:
            continue
        candidates = [by_norm[syn] for syn in _synonyms(kind, fld)
                      if syn in by_norm and by_norm[syn] not in used]
        if not candidates:
            continue
        col = candidates[0]
        if fill is not None:
            col = next((c for c in candidates if fill.get(c, 1.0) >= 0.2), col)
        mapping[fld] = col
        used.add(col)
    # a lone x or y (e.g. an "x" id column) is no coordinate pair
    if ("x" in mapping) != ("y" in mapping):
        for f in ("x", "y"):
            if f in mapping:
                used.discard(mapping.pop(f))
    if ("lat" in mapping) != ("lon" in mapping):
        for f in ("lat", "lon"):
            if f in mapping:
                used.discard(mapping.pop(f))
    # OSM style contact:* duplicates: take both
    for fld in ("phone", "email"):
        if fld in target_fields(kind):
            contact = f"contact:{fld}"
            if fld in mapping and contact in cols and mapping[fld] != contact:
                mapping[fld] = f"{mapping[fld]}|{contact}"
            elif fld not in mapping and contact in cols:
                mapping[fld] = contact
    if "address" in target_fields(kind) and "address" not in mapping and (
            COMPOSED_ADDRESS in cols or address_parts(cols)):
        mapping["address"] = COMPOSED_ADDRESS
    return mapping


# --- derived columns ---------------------------------------------------------------------------

_ADDRESS_PARTS = {
    "street": ["addrstreet", "strasse", "str", "street", "streetname", "strassenname"],
    "number": ["addrhousenumber", "hausnummer", "hausnr", "hnr", "housenumber", "nummerhaus"],
    "postcode": ["addrpostcode", "plz", "postleitzahl", "postcode", "zip", "zipcode"],
    "city": ["addrcity", "ort", "stadt", "city", "gemeinde", "ortsname"],
}


def address_parts(columns: Iterable[object]) -> dict[str, str]:
    """Columns holding street / house number / postcode / city (a street is required)."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(normalise_name(c), str(c))
    parts = {}
    for part, names in _ADDRESS_PARTS.items():
        for n in names:
            if n in by_norm:
                parts[part] = by_norm[n]
                break
    return parts if "street" in parts else {}


def add_derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the composed address column when the file has address parts but no address."""
    parts = address_parts(frame.columns)
    if not parts or COMPOSED_ADDRESS in frame.columns:
        return frame

    def text(col: str | None) -> pd.Series:
        if col is None:
            return pd.Series("", index=frame.index, dtype=object)
        return frame[col].map(lambda v: "" if v is None else to_text_value(v))

    street = (text(parts.get("street")) + " " + text(parts.get("number"))).str.strip()
    place = (text(parts.get("postcode")) + " " + text(parts.get("city"))).str.strip()
    composed = street.where(place == "", street + ", " + place)
    composed = composed.where(street != "", None)
    out = frame.copy()
    out[COMPOSED_ADDRESS] = composed.astype(object).where(composed.notna(), None)
    return out


def column_values(frame: pd.DataFrame, spec: str) -> pd.Series:
    """Values of a mapping target: a column, ``a|b`` (first non-empty) or ``@row``."""
    if spec == ROW_NUMBER:
        return pd.Series(np.arange(1, len(frame) + 1).astype(str), index=frame.index, dtype=object)
    if spec in frame.columns:
        return frame[spec]
    parts = spec.split("|")
    out = frame[parts[0]].copy()
    for p in parts[1:]:
        out = out.where(out.notna(), frame[p])
    return out


def mapping_columns(spec: str) -> list[str]:
    """The file columns a mapping target reads (``a|b`` -> [a, b]; ``@row`` -> [])."""
    if spec == ROW_NUMBER:
        return []
    return spec.split("|")


def spec_exists(frame_columns: Sequence[str], spec: str) -> bool:
    if spec == ROW_NUMBER or spec in frame_columns:
        return True
    parts = spec.split("|")
    return len(parts) > 1 and all(p in frame_columns for p in parts)


def shape_key(kind: str, columns: Iterable[object]) -> str:
    """Key of a file shape: the data set and the set of column names."""
    names = sorted({str(c) for c in columns})
    digest = hashlib.sha1("\x1f".join([kind, *names]).encode("utf-8")).hexdigest()[:16]
    return f"{kind}:{digest}"


# --- value conversion --------------------------------------------------------------------------

def to_text_value(value: object) -> str:
    """A cell as text: whole floats without '.0', everything else str()."""
    if isinstance(value, float) and np.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value).strip()


def to_text(series: pd.Series) -> pd.Series:
    """Text values (None for missing); fast for columns that are already text."""
    if len(series) == 0:
        return series.astype(object)
    types = set(series.map(type).unique())
    if types <= {str, type(None)}:
        out = series.astype(object).str.strip()
    else:
        out = series.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                         else to_text_value(v))
    return out.astype(object).where(out.notna() & (out != ""), None)


_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*,\d+$|^[+-]?\d+,\d+$|^[+-]?\d{1,3}(\.\d{3})+$")
_DOT_THOUSANDS_EN = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def _all_text(series: pd.Series) -> bool:
    """Whether every value present is a string (a text dtype, or objects that are all str;
    the test runs in C). Then parsers skip their per-value type checks."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return False
    if series.dtype == object:
        return pd.api.types.infer_dtype(series, skipna=True) == "string"
    return pd.api.types.is_string_dtype(series.dtype)


def parse_numbers(series: pd.Series, decimal_hint: str = ".") -> tuple[np.ndarray, np.ndarray]:
    """(float values, bad mask): numbers as in German ("1.234,5") or English ("1,234.5") files.

    The decimal separator is decided per column: a comma with no plain decimal point
    anywhere means German; a mix is settled by ``decimal_hint`` (``,`` for ;-separated CSV).
    Missing values are NaN and not bad.
    """
    n = len(series)
    out = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return out, bad
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan), bad
    if _all_text(series):
        # A text column as read from CSV: every value present is a string (no per-value
        # type test in Python).
        is_str = series.notna().to_numpy()
        strings = series[is_str].astype("string").reset_index(drop=True)
    else:
        values = series.to_numpy(dtype=object)
        is_num = np.array([isinstance(v, int | float | np.integer | np.floating)
                           and not isinstance(v, bool) for v in values], dtype=bool)
        if is_num.any():
            out[is_num] = values[is_num].astype("float64")
        is_str = np.array([isinstance(v, str) for v in values], dtype=bool)
        other = ~is_num & ~is_str & pd.notna(series).to_numpy()
        bad |= other
        strings = pd.Series(values[is_str], dtype="string")
    if not is_str.any():
        return out, bad
    text = strings.str.strip().str.replace("\u00a0", "", regex=False)
    text = text.str.replace(" ", "", regex=False)
    blank = (text == "").to_numpy()
    plain = text.str.match(_PLAIN).fillna(False).to_numpy()
    comma = text.str.match(_COMMA_DECIMAL).fillna(False).to_numpy()
    en_thousands = text.str.match(_DOT_THOUSANDS_EN).fillna(False).to_numpy()
    has_comma = text.str.contains(",", regex=False).fillna(False).to_numpy()
    has_dot = text.str.contains(".", regex=False).fillna(False).to_numpy()
    german_votes = int((has_comma & ~has_dot).sum())
    english_votes = int((has_dot & ~has_comma & plain).sum())
    german = german_votes > 0 and (english_votes == 0 or decimal_hint == ",")
    vals = np.full(len(text), np.nan)
    if german:
        ok = comma | (plain & ~has_dot)
        conv = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        ok = plain | en_thousands
        conv = text.str.replace(",", "", regex=False)
    parsed = pd.to_numeric(conv.where(pd.Series(ok)), errors="coerce").to_numpy(dtype="float64",
                                                                            na_value=np.nan)
    vals[ok] = parsed[ok]
    str_idx = np.flatnonzero(is_str)
    out[str_idx] = vals
    bad[str_idx] = ~blank & np.isnan(vals)
    return out, bad


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_GERMAN_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d.%m.%y %H:%M:%S",
                   "%d.%m.%y %H:%M", "%d.%m.%y", "%d.%m.%Y, %H:%M", "%d.%m.%Y %H.%M")
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
               "%m/%d/%Y")
_DAYFIRST_SLASH = tuple(f.replace("%m/%d", "%d/%m") for f in _US_FORMATS)


_SAMPLE = 256  # values a column's likeliest German format is guessed from


def _by_sample_hits(sample: pd.Series, formats: tuple[str, ...]) -> tuple[str, ...]:
    """``formats`` ordered by how many of ``sample`` each reads, most first (ties keep order).

    Only for formats no value can match twice (the German ones differ in their separators
    and digit counts: ``%Y`` takes four digits, ``%y`` two): the order then changes how fast
    a column is read, never how a value is read. A whole column in one format is then read
    in one pass instead of failing through the formats before it.
    """
    hits = [int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f in formats]
    return tuple(f for _, f in sorted(zip(hits, formats, strict=True), key=lambda hf: -hf[0]))


def _utc_ns(ts: pd.Series | pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Epoch nanoseconds (UTC) of parsed times; naive ones are local ``tz``; NaT -> iNaT."""
    index = pd.DatetimeIndex(ts)
    if index.tz is None:
        index = index.tz_localize(tz, ambiguous=np.ones(len(index), dtype=bool),
                                  nonexistent="shift_forward")
    return index.as_unit("ns").asi8


def parse_datetimes(series: pd.Series, tz: str = "Europe/Berlin",
                    dayfirst_hint: bool = False) -> tuple[pd.Series, np.ndarray]:
    """(tz-aware times in Europe/Berlin, bad mask) from mixed text and Excel/Python datetimes.

    Understood: ISO 8601 (with or without offset), German ``31.12.2024 [23:59[:59]]``, US
    ``12/31/2017 11:59:58 PM`` and day-first slashes (chosen per column by the values; a
    tie goes to ``dayfirst_hint``). Times without an offset are local time in ``tz``; the
    repeated autumn hour is read as summer time, the skipped spring hour shifts forward.
    """
    import datetime as _dt

    target = "Europe/Berlin"
    n = len(series)
    nat = np.iinfo(np.int64).min
    ns = np.full(n, nat, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)

    def result() -> pd.Series:
        index = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(target)
        return pd.Series(index, index=series.index)

    if n == 0:
        return result(), bad
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        ns[:] = _utc_ns(series, tz)
        return result(), bad
    if _all_text(series):
        # A text column as read from CSV: every value present is a string.
        is_str = series.notna().to_numpy()
        is_dt = np.zeros(n, dtype=bool)
        strings = series[is_str].astype("string")
    else:
        values = series.to_numpy(dtype=object)
        kinds = pd.Series(values, dtype=object).map(type)
        is_str = kinds.isin([str]).to_numpy()
        is_dt = kinds.isin([k for k in kinds.unique() if issubclass(k, _dt.date)]).to_numpy()
        strings = pd.Series(values[is_str], dtype="string")
    if is_dt.any():
        stamps = [pd.Timestamp(v) for v in values[is_dt]]
        aware = np.array([s.tzinfo is not None for s in stamps], dtype=bool)
        part = np.full(len(stamps), nat, dtype=np.int64)
        if aware.any():
            part[aware] = _utc_ns(pd.to_datetime([s for s, a in zip(stamps, aware, strict=True) if a],
                                                 utc=True), tz)
        if (~aware).any():
            part[~aware] = _utc_ns(pd.DatetimeIndex([s for s, a in zip(stamps, aware, strict=True)
                                                     if not a]), tz)
        ns[is_dt] = part
    other = ~is_dt & ~is_str & pd.notna(series).to_numpy()
    bad |= other
    if not is_str.any():
        return result(), bad
    idx = np.flatnonzero(is_str)
    text = strings.str.strip().reset_index(drop=True)
    parsed = np.full(len(text), nat, dtype=np.int64)
    todo = (text != "").fillna(False).to_numpy()
    iso = todo & text.str.match(_ISO).fillna(False).to_numpy()
    if iso.any():
        has_off = iso & text.str.contains(_OFFSET, na=False).to_numpy()
        if has_off.any():
            parsed[has_off] = _utc_ns(pd.to_datetime(text[has_off], format="ISO8601", utc=True,
                                                     errors="coerce"), tz)
        naive = iso & ~has_off
        if naive.any():
            parsed[naive] = _utc_ns(pd.to_datetime(text[naive], format="ISO8601", errors="coerce"), tz)
        todo &= ~iso
    if todo.any():
        rest = text[todo]
        slash = rest.str.contains("/", regex=False).fillna(False)
        dayfirst = dayfirst_hint
        if slash.any():
            first = pd.to_numeric(rest.str.extract(r"^(\d{1,2})/", expand=False), errors="coerce")
            second = pd.to_numeric(rest.str.extract(r"^\d{1,2}/(\d{1,2})/", expand=False), errors="coerce")
            if (first > 12).any() and not (second > 12).any():
                dayfirst = True
            elif (second > 12).any():
                dayfirst = False
            else:
                ampm = rest.str.contains(r"[AaPp][Mm]\s*$", regex=True).fillna(False).any()
                dayfirst = dayfirst_hint and not ampm
        remaining = np.flatnonzero(todo)
        formats = _by_sample_hits(text.iloc[remaining[:_SAMPLE]], _GERMAN_FORMATS) + (
            _DAYFIRST_SLASH + _US_FORMATS if dayfirst else _US_FORMATS + _DAYFIRST_SLASH)
        for fmt in formats:
            if remaining.size == 0:
                break
            p = pd.to_datetime(text.iloc[remaining], format=fmt, errors="coerce")
            hit = p.notna().to_numpy()
            if hit.any():
                parsed[remaining[hit]] = _utc_ns(p[hit], tz)
                remaining = remaining[~hit]
    ns[idx] = parsed
    bad[idx] = (text != "").fillna(False).to_numpy() & (parsed == nat)
    return result(), bad


# Enumeration synonyms: (data set, field) -> {normalised value: canonical}
_ENUM_SYNONYMS: dict[tuple[str, str], dict[str, str]] = {
    ("offices", "kind"): {
        "kod buero": "kod_office", "kod": "kod_office", "kod office": "kod_office",
        "ordnungsamt": "kod_office", "ordnungsdienst": "kod_office", "buero": "kod_office",
        "citywache": "citywache", "city wache": "citywache", "stadtwache": "citywache",
        "city watch": "citywache", "polizeiwache": "police_station", "polizei": "police_station",
        "police": "police_station", "police station": "police_station", "wache": "police_station",
        "polizeirevier": "police_station", "revier": "police_station", "polizeiinspektion":
        "police_station", "polizeidienststelle": "police_station", "sonstige": "other",
        "sonstiges": "other", "andere": "other",
    },
    ("offices", "operator"): {
        "stadt": "city", "kommune": "city", "gemeinde": "city", "ordnungsamt": "city",
        "bezirksamt": "city", "polizei": "police", "landespolizei": "police", "bundespolizei": "police",
        "gemeinsam": "joint", "gemeinsame": "joint", "stadt und polizei": "joint",
        "city and police": "joint",
    },
    ("patrols", "kind"): {
        "kod": "kod", "ordnungsdienst": "kod", "kommunaler ordnungsdienst": "kod",
        "gemeinsam": "joint", "gemeinsame streife": "joint", "doppelstreife": "joint",
        "ordnungspartnerschaft": "joint", "polizei": "police",
    },
    ("complaints", "status"): {
        "offen": "open", "neu": "open", "new": "open", "eingegangen": "open", "received": "open",
        "in bearbeitung": "in_progress", "in progress": "in_progress", "bearbeitung": "in_progress",
        "pending": "in_progress", "assigned": "in_progress", "in arbeit": "in_progress",
        "in process": "in_progress", "erledigt": "closed", "geschlossen": "closed",
        "abgeschlossen": "closed", "done": "closed", "completed": "closed", "cancelled": "closed",
        "canceled": "closed", "storniert": "closed", "resolved": "closed", "beendet": "closed",
    },
    ("complaints", "source"): {
        "telefon": "phone", "telefonisch": "phone", "anruf": "phone", "call": "phone",
        "voicemail": "phone", "hotline": "phone", "web": "online", "internet": "online",
        "app": "online", "mobile app": "online", "email": "online", "e mail": "online",
        "self service": "online", "web form": "online", "onlineformular": "online",
        "online formular": "online", "polizei": "police", "streife": "patrol", "kod": "patrol",
        "aussendienst": "patrol", "driver self report": "patrol",
    },
    ("staff_incidents", "kind"): {
        "verbal": "verbal", "beleidigung": "verbal", "beschimpfung": "verbal", "drohung": "threat",
        "bedrohung": "threat", "koerperlich": "physical", "angriff": "physical", "gewalt": "physical",
        "taetlich": "physical", "koerperverletzung": "physical",
    },
    ("staff_incidents", "during"): {
        "kod streife": "kod_patrol", "streife": "kod_patrol", "gemeinsame streife": "joint_patrol",
        "joint patrol": "joint_patrol", "buero": "office", "dienststelle": "office", "office": "office",
    },
    ("focus_areas", "kind"): {
        "schwerpunkt": "schwerpunkt", "hotspot": "schwerpunkt", "kriminalitaetsschwerpunkt":
        "schwerpunkt", "angstraum": "angstraum", "angst raum": "angstraum", "fear space": "angstraum",
    },
}
_FIELD_SYNONYMS = {
    "nachbarschaft": "nachbarschaft", "sichere nachbarschaft": "nachbarschaft",
    "oeffentliche raeume": "oeffentliche_raeume", "sichere oeffentliche raeume": "oeffentliche_raeume",
    "oeffentlicher raum": "oeffentliche_raeume", "infrastruktur": "infrastruktur",
    "sichere infrastruktur": "infrastruktur", "safe neighbourhoods": "nachbarschaft",
    "safe public spaces": "oeffentliche_raeume", "safe infrastructure": "infrastruktur",
}


def normalise_enum(kind: str, fld: str, series: pd.Series) -> pd.Series:
    """Map synonyms of enumeration values onto the contract's vocabulary; others stay as they are."""
    choices = SPECS[kind].field(fld).choices
    table = dict(_ENUM_SYNONYMS.get((kind, fld), {}))
    if fld == "field":
        table.update(_FIELD_SYNONYMS)
    for c in choices:
        table.setdefault(normalise_value(c), c)
    text = to_text(series)
    uniques = pd.unique(text.dropna())
    lookup = {u: table.get(normalise_value(u), u) for u in uniques}
    if fld == "operator":  # free text like "Polizei Berlin", "Stadt Dortmund – Ordnungsamt"
        for u, v in lookup.items():
            if v not in choices:
                words = normalise_value(u).split()
                if any(w.startswith("polizei") or w in ("police", "bundeskriminalamt", "lka", "bka")
                       for w in words):
                    lookup[u] = "police"
                elif any(w in ("stadt", "city", "ordnungsamt", "kommune", "gemeinde", "bezirksamt")
                         for w in words):
                    lookup[u] = "city"
    return text.map(lambda v: None if v is None else lookup[v]).astype(object)


def slug(text: str) -> str:
    """A category key from a label: 'Wilder Müll' -> 'wilder_muell'."""
    value = normalise_value(text)
    value = re.sub(r"[^a-z0-9]+", "_", value).strip("_")
    return value or "kategorie"
