"""The quarter report (PDF): KPIs, map, charts and the presence gap list of a view.

Two flavours, one per kind of view:

- ``k=None``: the role's normal view (Lagebild page): the data as the principal may see it
  (already restricted by :func:`data.roles.restrict`), aggregates only.
- ``k=5`` (or more): conference mode: the anonymised numbers of :mod:`viz.presentation`,
  KPIs below ``k`` suppressed.

No single complaint, address or description appears in either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from base.i18n import fmt_datetime, register, t
from data.contracts import TZ
from data.filters import Filters
from data.folder import DataBundle
from data.periods import quarter_label
from data.privacy import check_k, conference_filters
from geo import maps
from geo.model import SpatialModel, gap, hotspots
from geo.tiles import for_export
from viz import charts, exports, pagedata, presentation
from viz.kpi_text import kpi_text

register({
    "report.title": ("Lagebild – Quartalsbericht", "Lagebild – quarter report"),
    "report.kpis": ("Kennzahlen", "Key figures"),
    "report.map": ("Karte: Beschwerden je 1.000 Einwohner, Hotspots und Präsenzlücken",
                   "Map: complaints per 1,000 inhabitants, hot spots and presence gaps"),
    "report.map_alt": (
        "Karte {scope}: Bezirke eingefärbt nach Beschwerden je 1.000 Einwohner, {hot} Hotspot-Zellen "
        "(Gi*) und {gaps} Präsenzlücken.",
        "Map {scope}: districts coloured by complaints per 1,000 inhabitants, {hot} hot spot cells "
        "(Gi*) and {gaps} presence gaps."),
    "report.gap": ("Präsenzlücken (die {n} wichtigsten)", "Presence gaps (top {n})"),
    "report.districts": ("Bezirke im Vergleich", "Districts compared"),
    "report.generated": ("Erstellt am {when} · {who}", "Created {when} · {who}"),
    "report.anonymised": (
        "Anonymisiert: nur zusammengefasste Zahlen; Zellen, Bezirke, Quartale und Kennzahlen mit "
        "weniger als {k} Fällen sind unterdrückt.",
        "Anonymised: aggregates only; cells, districts, quarters and key figures with fewer than {k} "
        "cases are suppressed."),
    "report.aggregates": ("Nur zusammengefasste Zahlen (keine Einzelfälle, Adressen oder Beschreibungen).",
                          "Aggregates only (no single cases, addresses or descriptions)."),
    "report.synthetic": ("Demo-Daten (synthetisch).", "Demo data (synthetic)."),
    "report.step.kpis": ("Kennzahlen berechnen …", "Computing key figures …"),
    "report.step.map": ("Karte zeichnen (Chromium) …", "Drawing the map (Chromium) …"),
    "report.step.charts": ("Diagramme zeichnen (kaleido) …", "Drawing the charts (kaleido) …"),
    "report.step.pdf": ("PDF erzeugen …", "Creating the PDF …"),
})

GAP_ROWS = 20
#: KPIs that count records (suppressed below k in conference mode).
COUNT_KPIS = {"complaints": "complaints", "per_1000": "complaints", "open_complaints": "open_complaints",
              "staff_incidents": "staff_incidents"}


def _kpis(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, k: int | None,
          anon: presentation.Anonymised | None = None) -> list[tuple[str, str]]:
    kpis = pagedata.overview_kpis(bundle, model, f)
    out = []
    for kp in kpis:
        text = kpi_text(kp, lang)
        value = text.value
        if k is not None and kp.key in COUNT_KPIS:  # published like the views: cell key method
            shown = anon.totals.get(kp.key, float("nan")) if anon is not None else float("nan")
            basis = anon.totals.get(COUNT_KPIS[kp.key], float("nan")) if anon is not None else float("nan")
            if not basis >= k or shown != shown:
                value = t("pres.suppressed", lang, k=k)
            else:
                value = kpi_text(replace(kp, current=shown, previous=None, z=None), lang).value
        elif k is None and text.delta:
            value = f"{value} ({text.delta})"
        out.append((text.label, value))
    return out


def _full_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles="none"):
    table = pagedata.district_table(bundle, model, f)
    m = maps.base_map(presentation.bounds(bundle, f), tiles=for_export(tiles), lang=lang)
    frame, title = pagedata._district_layer_frame(bundle, table, "per_1000", lang)
    if f.districts:
        frame = frame[frame["district_id"].isin(f.districts)]
    maps.add_districts(m, frame, title, lang, palette="cividis")
    spots = hotspots(model, f)
    shown = pagedata._in_districts(model, f, spots)
    shown = shown[shown["cls"].astype(str).str.startswith("hot")]
    maps.add_hotspots(m, shown, lang)
    gaps = gap(model, f, spots)
    maps.add_gap(m, gaps, lang, district_names=dict(zip(table["district_id"], table["name"], strict=True)))
    return m, len(shown), len(gaps)


def quarter_report(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, *, k: int | None,
                   who: str, progress: Callable[[str], None] = lambda _: None,
                   log: exports.BrowserLog | None = None, tiles="none") -> bytes:
    """The PDF quarter report for the filters (``k``: anonymised conference flavour).

    ``tiles``: the view's base map; tiles the app has locally are embedded in the map image.
    """
    anon = None
    if k is not None:
        k = check_k(k)
        f = conference_filters(f)
        anon = presentation.anonymise(bundle, model, f, lang, k)
    scope = pagedata.scope_caption(bundle, f, lang)
    progress(t("report.step.kpis", lang))
    kpis = _kpis(bundle, model, f, lang, k, anon)
    tables: list[tuple[str, pd.DataFrame]] = []
    if k is None:
        m, n_hot, n_gap = _full_map(bundle, model, f, lang, tiles)
        trend = charts.quarter_trend(pagedata.quarter_series(bundle, f), lang, t("pres.view.trend", lang),
                                     y_title=t("chart.complaints", lang))
        table = pagedata.district_table(bundle, model, f)
        if f.districts:
            table = table[table["district_id"].isin(f.districts)]
        compare = charts.district_comparison(table[["name", "per_1000"]], "per_1000", lang,
                                             t("pres.per_1000", lang))
        gaps = pagedata.gap_table(bundle, model, f, lang).head(GAP_ROWS)
        gaps = gaps.drop(columns=[t("col.lat", lang), t("col.lon", lang)])
        tables.append((t("report.gap", lang, n=GAP_ROWS), gaps))
        tables.append((t("report.districts", lang), pagedata.display_district_table(table, lang)))
        notes = [t("report.aggregates", lang)]
        quarters = [quarter_label(q) for q in bundle.quarters()] or ["–"]
        trend_alt = t("pres.alt.trend", lang, first=quarters[0], last=quarters[-1])
    else:
        assert anon is not None
        m = presentation.gap_map(bundle, anon, f, lang, for_export(tiles))
        maps.add_hotspots(m, anon.cells[anon.cells["cls"].str.startswith("hot")], lang)
        n_hot = int(anon.cells["cls"].str.startswith("hot").sum())
        n_gap = len(anon.gap)
        trend = presentation.trend_figure(anon, lang)
        compare = presentation.district_figure(anon, lang)
        tables.append((t("report.gap", lang, n=GAP_ROWS), presentation.gap_table(anon, lang).head(GAP_ROWS)))
        tables.append((t("report.districts", lang), presentation.district_display(anon, lang)))
        notes = [t("report.anonymised", lang, k=k)]
        trend_alt = presentation.alt_text("trend", anon, scope, lang)
    if bundle.synthetic:
        notes.append(t("report.synthetic", lang))
    notes.append(t("report.generated", lang, when=fmt_datetime(datetime.now(ZoneInfo(TZ)), lang), who=who))

    progress(t("report.step.map", lang))
    map_alt = t("report.map_alt", lang, scope=scope, hot=n_hot, gaps=n_gap)
    page = exports.standalone_map_html(m, t("report.map", lang), map_alt, lang)
    map_image = exports.map_png(page, t("report.map", lang), map_alt, width=1400, height=1000, log=log)

    progress(t("report.step.charts", lang))
    compare_alt = t("pres.alt.districts", lang, metric=t("pres.per_1000", lang))
    images = [
        exports.ReportImage(map_image, map_alt, t("report.map", lang)),
        exports.ReportImage(exports.figure_png(trend, t("pres.view.trend", lang), trend_alt, 1200, 520),
                            trend_alt, t("pres.view.trend", lang)),
        exports.ReportImage(exports.figure_png(compare, t("pres.per_1000", lang), compare_alt, 1200, 520),
                            compare_alt, t("pres.per_1000", lang)),
    ]
    report = exports.Report(title=t("report.title", lang), subtitle=scope, kpis=kpis, images=images,
                            tables=tables, notes=notes, lang=lang)
    progress(t("report.step.pdf", lang))
    return exports.report_pdf(report, log)
