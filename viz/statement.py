"""The Erklärung zur Barrierefreiheit (accessibility statement): configuration and text.

Required of public bodies by BGG §12b / BITV 2.0 and the Länder's equivalents (in NRW
§ 10b BGG NRW and the BITV NRW): the conformance status, the parts that are not yet
accessible and why, an accessible way to report barriers, and the enforcement
(arbitration) body. The city configures its contact and, outside NRW, its Land's body:

    LAGEBILD_A11Y_EMAIL, LAGEBILD_A11Y_PHONE, LAGEBILD_A11Y_CONTACT (name of the office),
    LAGEBILD_A11Y_BODY, LAGEBILD_A11Y_BODY_EMAIL, LAGEBILD_A11Y_BODY_URL, LAGEBILD_A11Y_DATE

or the same keys (lower case, without the prefix) in ``.streamlit/secrets.toml`` under
``[lagebild.accessibility]``; the environment wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from base.i18n import check_lang, md_escape

#: The NRW enforcement body (Ombudsstelle, §§ 10d, 10e BGG NRW, §§ 9 ff. BITV NRW).
NRW_BODY = "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen"
NRW_BODY_EMAIL = "ombudsstelle-barrierefreie-it@mags.nrw.de"
NRW_BODY_URL = "https://www.lbbp.nrw.de/ombudsstelle"
KEYS = ("email", "phone", "contact", "body", "body_email", "body_url", "date")
_EMAIL = re.compile(r"[^@\s<>()\[\]]+@[^@\s<>()\[\]]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()/.\-]{2,}")
_URL = re.compile(r"https://[^\s<>()\[\]\"']+")


@dataclass(frozen=True)
class StatementConfig:
    email: str | None = None
    phone: str | None = None
    contact: str | None = None
    body: str = NRW_BODY
    body_email: str | None = NRW_BODY_EMAIL
    body_url: str | None = NRW_BODY_URL
    date: str | None = None


def config_from(env: Mapping[str, str], secrets: Mapping[str, object] | None = None) -> StatementConfig:
    """The statement's configuration from ``LAGEBILD_A11Y_*`` variables or ``secrets``.

    Raises ``ValueError`` naming the setting for an e-mail address, phone number or URL
    that is not one (a statement must not point people at a broken contact).
    """
    values: dict[str, str] = {}
    for key in KEYS:
        raw = env.get(f"LAGEBILD_A11Y_{key.upper()}")
        if raw is None and secrets is not None:
            raw = secrets.get(key)
        if raw is not None and str(raw).strip():
            values[key] = str(raw).strip()
    for key, pattern in (("email", _EMAIL), ("body_email", _EMAIL), ("phone", _PHONE), ("body_url", _URL)):
        if key in values and not pattern.fullmatch(values[key]):
            raise ValueError(f"LAGEBILD_A11Y_{key.upper()} is not a valid {key.replace('body_', '')}, "
                             f"got {values[key]!r}")
    if "body" in values and "body_email" not in values:  # another Land's body: no NRW address
        values.setdefault("body_email", "")
        values.setdefault("body_url", "")
    return StatementConfig(**{k: (v or None) for k, v in values.items()})


_TEXT = {
    "de": {
        "title": "Erklärung zur Barrierefreiheit",
        "intro": "Die Stadtverwaltung ist bemüht, Lagebild im Einklang mit dem "
                 "Behindertengleichstellungsgesetz "
                 "(BGG NRW) und der Barrierefreie-Informationstechnik-Verordnung NRW (BITV NRW) barrierefrei "
                 "zugänglich zu machen. Diese Erklärung gilt für die Anwendung Lagebild (Intranet) "
                 "mit allen Seiten.",
        "status_h": "Stand der Vereinbarkeit mit den Anforderungen",
        "status": "Maßstab ist die EN 301 549, d. h. die WCAG 2.1 in den Stufen A und AA. Lagebild "
                  "ist mit diesen "
                  "Anforderungen **teilweise vereinbar**. Grundlage ist eine Selbstbewertung: "
                  "automatische Prüfung "
                  "jeder Seite in Deutsch und Englisch mit axe-core in jedem Frame (ohne "
                  "schwerwiegende Verstöße), "
                  "eine Tastaturprüfung aller Bedienelemente, berechnete Farbkontraste und eine "
                  "Simulation der "
                  "Farbsehschwächen für alle Kartenpaletten. Automatische Prüfungen finden etwa die "
                  "Hälfte der "
                  "Barrieren; eine Prüfung mit Screenreadern durch Fachleute steht noch aus.",
        "gaps_h": "Nicht barrierefreie Inhalte",
        "gaps": [
            "**Karten:** Flächen wie Bezirke und Zellen sind nicht einzeln per Tastatur erreichbar und ihre "
            "Tooltips erscheinen nur beim Überfahren mit der Maus. Ersatz: Neben jeder Karte stehen eine "
            "Beschreibung und die Daten als Tabelle (Bezirke mit der gewählten Kennzahl, Hotspots, "
            "Präsenzlücken, Dienststellen). Dienststellen, Ebenenauswahl und Zoom sind per Tastatur "
            "bedienbar.",
            "**Diagramme:** Die Diagramme selbst sind für Screenreader nicht lesbar (Plotly). Ersatz: Unter "
            "jedem Diagramm stehen eine Zusammenfassung (letzte Werte, Trend, Höchst- und "
            "Tiefstwert) und die "
            "Daten als Tabelle.",
            "**Tabellen:** Die Tabellen (Streamlit-Datenraster) werden als Zeichenfläche gezeichnet; "
            "Screenreader lesen sie über eine Ersatzstruktur, die nicht alle Funktionen (z. B. Sortieren) "
            "anbietet. Die Tabellen lassen sich als CSV herunterladen.",
            "**Exporte:** PDF-Berichte sind getaggt und Bilder tragen Alternativtexte; eine vollständige "
            "PDF/UA-Prüfung ist noch nicht erfolgt.",
            "**Anmeldung:** Die Anmeldeseite stammt vom Identitätsanbieter der Stadt und liegt "
            "außerhalb dieser "
            "Anwendung.",
        ],
        "contact_h": "Barrieren melden: Kontakt",
        "contact": "Wenn Ihnen Barrieren auffallen oder Sie Inhalte in einer zugänglichen Form benötigen, "
                   "schreiben Sie uns oder rufen Sie an.",
        "contact_missing": "Die Kontaktdaten hat die Stadt noch nicht eingetragen (LAGEBILD_A11Y_EMAIL, "
                           "LAGEBILD_A11Y_PHONE). Bitte wenden Sie sich bis dahin an die "
                           "IT-Abteilung der Stadt.",
        "email": "E-Mail", "phone": "Telefon", "web": "Internet",
        "body_h": "Durchsetzungsverfahren (Ombudsstelle)",
        "body": "Wenn Sie auf Ihre Meldung keine zufriedenstellende Antwort erhalten, können Sie sich an die "
                "zuständige Ombudsstelle wenden. Das Verfahren ist kostenlos; Sie brauchen keinen "
                "Rechtsbeistand.",
        "date_h": "Erstellung dieser Erklärung",
        "date": "Diese Erklärung wurde am {date} erstellt und wird mit jeder Version der Anwendung "
                "überprüft.",
        "nodate": "Diese Erklärung wird mit jeder Version der Anwendung überprüft.",
    },
    "en": {
        "title": "Accessibility statement",
        "intro": "The city administration strives to make Lagebild accessible in accordance with "
                 "the Disability "
                 "Equality Act of North Rhine-Westphalia (BGG NRW) and the accessible IT regulation "
                 "(BITV NRW). "
                 "This statement applies to the Lagebild application (intranet) with all its pages.",
        "status_h": "Compliance status",
        "status": "The standard is EN 301 549, i.e. WCAG 2.1 levels A and AA. Lagebild is "
                  "**partially compliant** "
                  "with these requirements. It rests on a self-assessment: an automatic check of "
                  "every page in "
                  "German and English with axe-core in every frame (no serious violations), a "
                  "keyboard check of "
                  "all controls, computed colour contrasts and a colour-vision-deficiency "
                  "simulation of all map "
                  "palettes. Automatic checks find about half of all barriers; an expert test with screen "
                  "readers is still to come.",
        "gaps_h": "Non-accessible content",
        "gaps": [
            "**Maps:** areas such as districts and cells cannot be reached one by one with the "
            "keyboard and their "
            "tooltips only appear on mouse hover. Alternative: next to every map there is a "
            "description and the "
            "data as tables (districts with the chosen metric, hot spots, presence gaps, offices). Offices, "
            "layer switches and zoom work with the keyboard.",
            "**Charts:** the charts themselves cannot be read by screen readers (Plotly). "
            "Alternative: below every "
            "chart there is a summary (last values, trend, highest and lowest value) and the data "
            "as a table.",
            "**Tables:** the tables (Streamlit data grids) are drawn on a canvas; screen readers "
            "read them through "
            "a substitute structure that does not offer every function (e.g. sorting). Tables can be "
            "downloaded as CSV.",
            "**Exports:** PDF reports are tagged and images carry alternative texts; a full PDF/UA "
            "check has not "
            "been done yet.",
            "**Login:** the login page belongs to the city's identity provider, outside this application.",
        ],
        "contact_h": "Reporting barriers: contact",
        "contact": "If you notice barriers or need content in an accessible form, write to us or call us.",
        "contact_missing": "The city has not entered its contact details yet (LAGEBILD_A11Y_EMAIL, "
                           "LAGEBILD_A11Y_PHONE). Until then, please contact the city's IT department.",
        "email": "E-mail", "phone": "Phone", "web": "Web",
        "body_h": "Enforcement procedure (arbitration body)",
        "body": "If you do not receive a satisfactory answer to your report, you can turn to the responsible "
                "arbitration body (Ombudsstelle). The procedure is free of charge; you need no "
                "legal counsel.",
        "date_h": "Preparation of this statement",
        "date": "This statement was prepared on {date} and is reviewed with every release of the "
                "application.",
        "nodate": "This statement is reviewed with every release of the application.",
    },
}


def _link(label: str, scheme: str, value: str) -> str:
    target = re.sub(r"[^0-9+]", "", value) if scheme == "tel:" else value
    return f"{label}: [{md_escape(value)}]({scheme}{target})"


def sections(config: StatementConfig, lang: str) -> list[tuple[str, str]]:
    """(heading, Markdown) of each section; configured values are escaped."""
    x = _TEXT[check_lang(lang)]
    contact_lines = []
    if config.contact:
        contact_lines.append(md_escape(config.contact))
    if config.email:
        contact_lines.append(_link(x["email"], "mailto:", config.email))
    if config.phone:
        contact_lines.append(_link(x["phone"], "tel:", config.phone))
    contact = x["contact"] + "\n\n" + ("  \n".join(contact_lines) if (config.email or config.phone)
                                       else x["contact_missing"])
    body_lines = [f"**{md_escape(config.body)}**"]
    if config.body_email:
        body_lines.append(_link(x["email"], "mailto:", config.body_email))
    if config.body_url:
        body_lines.append(f"{x['web']}: [{md_escape(config.body_url)}]({config.body_url})")
    return [
        ("", x["intro"]),
        (x["status_h"], x["status"]),
        (x["gaps_h"], "\n".join(f"- {g}" for g in x["gaps"])),
        (x["contact_h"], contact),
        (x["body_h"], x["body"] + "\n\n" + "  \n".join(body_lines)),
        (x["date_h"], x["date"].format(date=md_escape(config.date)) if config.date else x["nodate"]),
    ]


def title(lang: str) -> str:
    return _TEXT[check_lang(lang)]["title"]
