"""KPI tiles as text: label, value, change and trend signal, in German or English."""

from __future__ import annotations

import math
from dataclasses import dataclass

from base.i18n import fmt_number, fmt_percent, register, t
from data.kpis import Kpi

register({
    "kpi.complaints": ("Beschwerden", "Complaints"),
    "kpi.per_1000": ("Beschwerden je 1.000 Einw.", "Complaints per 1,000 inhabitants"),
    "kpi.patrol_hours": ("Streifenstunden", "Patrol hours"),
    "kpi.joint_share": ("Anteil gemeinsamer Streifen", "Joint patrol share"),
    "kpi.open_complaints": ("Offene Beschwerden", "Open complaints"),
    "kpi.staff_incidents": ("Übergriffe auf Beschäftigte", "Incidents against staff"),
    "kpi.no_previous": ("kein Vorzeitraum in den Daten", "no previous period in the data"),
    "kpi.no_signal": ("Stunden und Anteile sind keine Zählungen: Änderung ohne Signaltest.",
                      "Hours and shares are not counts: change shown without a signal test."),
    "kpi.vs_previous": ("ggü. Vorzeitraum: {prev}", "vs previous period: {prev}"),
    "kpi.help": (
        "Signal: z = 2(√aktuell − √vorher); |z| ≥ 2 Signal, |z| ≥ 3 starkes Signal.",
        "Signal: z = 2(√current − √previous); |z| ≥ 2 signal, |z| ≥ 3 strong signal."),
})

# Whether an increase is good news (drives the colour of the change).
UP_IS_GOOD = {"complaints": False, "per_1000": False, "patrol_hours": True, "joint_share": True,
              "open_complaints": False, "staff_incidents": False}
DECIMALS = {"complaints": 0, "per_1000": 1, "patrol_hours": 0, "open_complaints": 0,
            "staff_incidents": 0}


@dataclass(frozen=True)
class KpiText:
    key: str
    label: str
    value: str
    delta: str | None  # None when there is no previous period
    delta_color: str  # blue = good news, orange = bad news, gray = no signal (colour-blind safe)
    arrow: str  # "up", "down" or "off"
    help: str


def _value(kpi_key: str, value: float | None, lang: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kpi_key == "joint_share":
        return fmt_percent(value, lang)
    return fmt_number(value, lang, DECIMALS.get(kpi_key, 0))


def kpi_text(kpi: Kpi, lang: str) -> KpiText:
    label = t(f"kpi.{kpi.key}", lang)
    value = _value(kpi.key, kpi.current, lang)
    if kpi.previous is None:
        return KpiText(kpi.key, label, value, None, "gray", "off", t("kpi.no_previous", lang))
    compared = t("kpi.vs_previous", lang, prev=_value(kpi.key, kpi.previous, lang))
    if kpi.z is not None and math.isnan(kpi.z):  # a suppressed count (viewer): no change shown
        return KpiText(kpi.key, label, value, None, "gray", "off", compared)
    if kpi.z is None:  # hours and shares: a change, but no signal test
        pct = kpi.pct_change
        change = kpi.current - kpi.previous
        arrow = "up" if change > 0 else "down" if change < 0 else "off"
        delta = fmt_percent(pct, lang, 0, signed=True) if pct is not None else None
        return KpiText(kpi.key, label, value, delta, "gray", arrow if delta else "off",
                       compared + " · " + t("kpi.no_signal", lang))
    parts = [t(f"signal.{kpi.signal}", lang)]
    pct = kpi.pct_change
    if pct is not None:
        parts.insert(0, fmt_percent(pct, lang, 0, signed=True))
    parts.append(f"z = {fmt_number(kpi.z, lang, 1)}")
    good_news = (kpi.z > 0) == UP_IS_GOOD[kpi.key]
    color = "gray" if kpi.signal == "none" else "blue" if good_news else "orange"
    arrow = "up" if kpi.z > 0 else "down" if kpi.z < 0 else "off"
    help_text = compared + " · " + t("kpi.help", lang)
    return KpiText(kpi.key, label, value, " · ".join(parts), color, arrow, help_text)
