"""Exceptions and limits of the importers."""

from __future__ import annotations

import os

from data.importers.messages import msg

DEFAULT_MAX_UPLOAD_MB = 200.0
ZIP_EXPANSION_FACTOR = 10  # a zip may unpack to at most this many times the upload limit


class ImportError_(Exception):  # the underscore keeps it apart from builtins.ImportError
    """A whole file that cannot be imported; the store stays unchanged.

    Carries a message key and its parameters so the text can be shown in German or
    English (:meth:`message`); ``str(exc)`` is the English text (for logs).
    """

    exit_code = 1

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "de") -> str:
        return msg(self.key, lang, **self.params)


class UsageError_(ImportError_):
    """The request itself is wrong (unknown data set, bad mapping): exit code 2."""

    exit_code = 2


def max_upload_bytes(limit_mb: float | None = None) -> int:
    """The upload limit in bytes: ``limit_mb``, else env ``LAGEBILD_MAX_UPLOAD_MB``, else 200."""
    if limit_mb is None:
        text = os.environ.get("LAGEBILD_MAX_UPLOAD_MB", "").strip()
        if text:
            try:
                limit_mb = float(text)
            except ValueError:
                raise ValueError(
                    f"LAGEBILD_MAX_UPLOAD_MB must be a number of megabytes, got {text!r}") from None
        else:
            limit_mb = DEFAULT_MAX_UPLOAD_MB
    if limit_mb <= 0:
        raise ValueError(f"upload limit must be positive, got {limit_mb!r} MB")
    return int(limit_mb * 1024 * 1024)


# --- limits of the readers (each configurable by environment; documented in README) ---------------

DEFAULT_MAX_COLUMNS = 2000  # columns of a table (CSV header, XLSX row, JSON records)
DEFAULT_MAX_LINE_KB = 1024  # the longest physical line of a CSV file
DEFAULT_MAX_CELLS = 5_000_000  # cells of an XLSX sheet (declared box and real cells)
DEFAULT_MAX_DEPTH = 64  # nesting of JSON arrays and objects (GeoJSON needs about 8)
EXCERPT_CHARS = 80  # messages quote at most this much of an offending value


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {text!r}")
    return value


def max_columns() -> int:
    """Columns a table may have: ``LAGEBILD_IMPORT_MAX_COLUMNS`` or 2000."""
    return _env_int("LAGEBILD_IMPORT_MAX_COLUMNS", DEFAULT_MAX_COLUMNS)


def max_line_bytes() -> int:
    """The longest CSV line in bytes: ``LAGEBILD_IMPORT_MAX_LINE_KB`` (KiB) or 1024 KiB."""
    return _env_int("LAGEBILD_IMPORT_MAX_LINE_KB", DEFAULT_MAX_LINE_KB) * 1024


def max_cells() -> int:
    """Cells of an XLSX sheet: ``LAGEBILD_IMPORT_MAX_CELLS`` or 5,000,000."""
    return _env_int("LAGEBILD_IMPORT_MAX_CELLS", DEFAULT_MAX_CELLS)


def max_depth() -> int:
    """Nesting depth of JSON: ``LAGEBILD_IMPORT_MAX_DEPTH`` or 64."""
    return _env_int("LAGEBILD_IMPORT_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` as text, cut to ``limit`` characters with "…" and the full length when longer."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


# --- per-format size limits (issue #15): formats read whole into memory ---------------------------

#: Megabytes up to which a format is read, for the formats that must be read whole (parsed
#: into Python objects or through GDAL): each keeps the whole command-line import of a file
#: at its limit within 60 s and 1.5 GB RSS on the reference machine (bench/hostile.py).
#: CSV files on disk are read in chunks up to the upload limit; "csv" is the limit of a CSV
#: read whole (an upload on the Daten page, UTF-16 files).
FORMAT_LIMITS_MB: dict[str, float] = {
    "csv": 64.0, "json": 64.0, "xlsx": 10.0, "shapefile": 40.0, "gpkg": 50.0, "flatgeobuf": 64.0,
    "gml": 50.0, "kml": 16.0, "kmz": 16.0, "gpx": 10.0,
}
#: What to use instead of a file over its format's limit (message keys in messages.py).
FORMAT_INSTEAD = {"csv": "instead_cli", "xlsx": "instead_csv", "json": "instead_csv_gpkg",
                  "shapefile": "instead_gpkg", "kml": "instead_csv_gpkg", "kmz": "instead_csv_gpkg",
                  "gpx": "instead_csv_gps", "gpkg": "instead_split", "flatgeobuf": "instead_split",
                  "gml": "instead_gpkg"}


def format_limit_env(fmt: str) -> str:
    return f"LAGEBILD_IMPORT_MAX_MB_{fmt.upper()}"


def format_limit_bytes(fmt: str) -> int | None:
    """The size limit of ``fmt`` in bytes (env ``LAGEBILD_IMPORT_MAX_MB_<FORMAT>`` overrides),
    ``None`` for formats without one."""
    if fmt not in FORMAT_LIMITS_MB:
        return None
    name = format_limit_env(fmt)
    text = os.environ.get(name, "").strip()
    if not text:
        return int(FORMAT_LIMITS_MB[fmt] * 2**20)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of megabytes, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {text!r}")
    return int(value * 2**20)
