"""Language and number/date formats: German by default, English switchable.

Strings live in catalogues keyed by a short id. Modules add their own strings with
:func:`register` (so pages, maps and charts keep their texts beside their code), and
:func:`t` looks them up. A missing key raises ``KeyError``: a typo must fail a test, not
show a raw key to the mayor's office.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

LANGS = ("de", "en")
DEFAULT_LANG = "de"

_CATALOGUE: dict[str, dict[str, str]] = {}


def register(strings: dict[str, tuple[str, str]]) -> None:
    """Add strings: ``{key: (german, english)}``. Re-registering the same text is fine."""
    for key, (de, en) in strings.items():
        old = _CATALOGUE.get(key)
        if old is not None and old != {"de": de, "en": en}:
            raise ValueError(f"i18n key {key!r} registered twice with different texts")
        _CATALOGUE[key] = {"de": de, "en": en}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, got {lang!r}")
    return lang


def t(key: str, lang: str = DEFAULT_LANG, **fmt: object) -> str:
    """The text for ``key`` in ``lang``, formatted with ``fmt``."""
    text = _CATALOGUE[key][check_lang(lang)]
    return text.format(**fmt) if fmt else text


def has(key: str) -> bool:
    return key in _CATALOGUE


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """Text from data or a URL made literal for Streamlit's Markdown (captions, headers,
    notices): no links, images, emphasis, HTML or ``:color[...]`` directives."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def fmt_number(value: float | int | None, lang: str = DEFAULT_LANG, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (de) or '1,234.5' (en); None/NaN -> '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:,.{decimals}f}"
    if check_lang(lang) == "de":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def fmt_percent(value: float | None, lang: str = DEFAULT_LANG, decimals: int = 0,
                signed: bool = False) -> str:
    """0.253 -> '25 %' (de) / '25%' (en)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    number = fmt_number(abs(value) * 100 if signed else value * 100, lang, decimals)
    if signed:
        number = ("+" if value >= 0 else "−") + number
    return f"{number} %" if lang == "de" else f"{number}%"


def fmt_date(value: date | datetime, lang: str = DEFAULT_LANG) -> str:
    """31.12.2024 (de) or 2024-12-31 (en, unambiguous ISO)."""
    return value.strftime("%d.%m.%Y") if check_lang(lang) == "de" else value.strftime("%Y-%m-%d")


def fmt_datetime(value: datetime, lang: str = DEFAULT_LANG) -> str:
    return value.strftime("%d.%m.%Y %H:%M") if check_lang(lang) == "de" else value.strftime(
        "%Y-%m-%d %H:%M")


# Shared vocabulary used by several modules.
register({
    "field.nachbarschaft": ("Sichere Nachbarschaft", "Safe neighbourhoods"),
    "field.oeffentliche_raeume": ("Sichere öffentliche Räume", "Safe public spaces"),
    "field.infrastruktur": ("Sichere Infrastruktur", "Safe infrastructure"),
    "kind.kod": ("KOD", "Public-order service"),
    "kind.joint": ("Gemeinsame Streife", "Joint patrol"),
    "kind.police": ("Polizei", "Police"),
    "office.kod_office": ("KOD-Büro", "KOD office"),
    "office.citywache": ("Citywache", "City watch"),
    "office.police_station": ("Polizeiwache", "Police station"),
    "office.other": ("Sonstige", "Other"),
    "weekday.0": ("Mo", "Mon"),
    "weekday.1": ("Di", "Tue"),
    "weekday.2": ("Mi", "Wed"),
    "weekday.3": ("Do", "Thu"),
    "weekday.4": ("Fr", "Fri"),
    "weekday.5": ("Sa", "Sat"),
    "weekday.6": ("So", "Sun"),
    "signal.strong_up": ("▲▲ starker Anstieg", "▲▲ strong increase"),
    "signal.up": ("▲ Anstieg", "▲ increase"),
    "signal.none": ("keine signifikante Änderung", "no significant change"),
    "signal.down": ("▼ Rückgang", "▼ decrease"),
    "signal.strong_down": ("▼▼ starker Rückgang", "▼▼ strong decrease"),
    "unit.complaints": ("Beschwerden", "Complaints"),
    "unit.per1000": ("je 1.000 Einw.", "per 1,000 inhabitants"),
    "unit.hours": ("Std.", "h"),
    "unit.minutes": ("Min.", "min"),
})
