"""Page data of the Planung page: week tables, the places map, coverage, exports, Wirkung.

Everything here is plain functions of a :class:`geo.planning.Plan` (and the spatial model);
the page only composes widgets around them. Exports: CSV (week table), GPX 1.1 (one waypoint
per place) and an A4 PDF per team (week table and map, through the Chromium print path of
:mod:`viz.exports`, like the quarter report).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import folium
import h3
import pandas as pd
import shapely

from base.i18n import fmt_number, fmt_percent, register, t
from data.periods import quarter_label
from geo import maps
from geo.planning import Plan
from geo.wirkung import Effect
from viz import exports

GPX_NS = "http://www.topografix.com/GPX/1/1"
WEEKDAY_KEYS = ("mo", "di", "mi", "do", "fr", "sa", "so")

register({
    "plan.day.mo": ("Mo", "Mon"), "plan.day.di": ("Di", "Tue"), "plan.day.mi": ("Mi", "Wed"),
    "plan.day.do": ("Do", "Thu"), "plan.day.fr": ("Fr", "Fri"), "plan.day.sa": ("Sa", "Sat"),
    "plan.day.so": ("So", "Sun"),
    "plan.kind.kod": ("KOD", "KOD"), "plan.kind.joint": ("gemeinsam mit Polizei", "joint with police"),
    "plan.kind.flex": ("Pool (flexibel)", "flexible pool"),
    "plan.col.team": ("Team", "Team"), "plan.col.day": ("Tag", "Day"),
    "plan.col.window": ("Zeitfenster", "Window"),
    "plan.col.order": ("Reihenfolge", "Order"), "plan.col.place": ("Einsatzort", "Place"),
    "plan.col.minutes": ("Minuten", "Minutes"), "plan.col.kind": ("Streifenart", "Patrol kind"),
    "plan.col.why": ("Warum", "Why"), "plan.col.expected": ("Erwartete Beschwerden", "Expected complaints"),
    "plan.col.safety": ("#sicherimDienst", "#sicherimDienst"),
    "plan.col.presence": ("Präsenz letztes Quartal (Min./Tag)", "Presence last quarter (min/day)"),
    "plan.col.cells": ("Zellen", "Cells"), "plan.col.area": ("Fläche (km²)", "Area (km²)"),
    "plan.col.categories": ("Hauptkategorien", "Main categories"),
    "plan.col.hot": ("Hotspot", "Hot spot"), "plan.col.emerging": ("Muster", "Pattern"),
    "plan.col.expected_week": ("Erwartet je Woche", "Expected per week"),
    "plan.col.visits": ("Besuche je Woche", "Visits per week"),
    "plan.col.planned": ("Geplant (Min.)", "Planned (min)"),
    "plan.col.delivered": ("Geleistet im Fenster (Min.)", "Delivered in window (min)"),
    "plan.col.overall": ("Geleistet insgesamt (Min.)", "Delivered overall (min)"),
    "plan.col.compliance": ("Erfüllung", "Compliance"),
    "plan.safety_mark": ("nur gemeinsam (Übergriff)", "joint only (assault)"),
    "plan.hot.hot99": ("Hotspot 99 %", "hot spot 99 %"), "plan.hot.hot95": ("Hotspot 95 %", "hot spot 95 %"),
    "plan.hot.none": ("", ""),
    "plan.map.layer": ("Einsatzorte", "Places"), "plan.map.planned": ("geplant", "planned"),
    "plan.map.unplanned": ("nicht geplant", "not planned"),
    "plan.map.tip": ("{visits} Besuche je Woche · {expected} erwartete Beschwerden je Woche",
                     "{visits} visits per week · {expected} expected complaints per week"),
    "plan.pdf.title": ("Streifenplan – {team}", "Patrol plan – {team}"),
    "plan.pdf.subtitle": ("{start} bis {end} ({weeks} Wochen) · {name}",
                          "{start} to {end} ({weeks} weeks) · {name}"),
    "plan.pdf.map": ("Einsatzorte des Teams", "The team's places"),
    "plan.pdf.map_alt": ("Karte der {n} Einsatzorte von {team}.", "Map of the {n} places of {team}."),
    "plan.pdf.table": ("Wochenplan (jede Woche gleich)", "Week plan (the same every week)"),
    "plan.pdf.places": ("Einsatzorte: warum", "Places: why"),
    "plan.pdf.visits": ("Besuche je Woche", "Visits per week"),
    "plan.pdf.minutes": ("Personenminuten (genutzt / Budget)", "Person-minutes (used / budget)"),
    "plan.pdf.expected": ("Erwartete Beschwerden in den Fenstern je Woche",
                          "Expected complaints in the windows per week"),
    "plan.pdf.note": ("Reihenfolge innerhalb eines Zeitfensters zufällig (Seed {seed}). Besuche "
                      "{minutes} Minuten (Koper-Kurve, Sacramento-Studie).",
                      "Order within a window random (seed {seed}). Visits of {minutes} minutes "
                      "(Koper curve, Sacramento trial)."),
})


def day_label(weekday: int, lang: str) -> str:
    return t(f"plan.day.{WEEKDAY_KEYS[int(weekday)]}", lang)


def _why(place: pd.Series, labels: dict[str, str], lang: str) -> str:
    parts = []
    hot = str(place.get("hot", "none"))
    if hot != "none":
        parts.append(t(f"plan.hot.{hot}", lang))
    em = str(place.get("emerging", "none"))
    if em != "none":
        parts.append(t(f"map.emerging.{em}", lang))
    cats = place.get("categories")
    if isinstance(cats, (list, tuple)) and cats:
        parts.append(", ".join(labels.get(c, c) for c in cats))
    return "; ".join(p for p in parts if p)


def week_table(plan: Plan, lang: str, labels: dict[str, str], district_names: dict[str, str],
               district: str | None = None) -> pd.DataFrame:
    """The week table (day, window, order, place, minutes, kind, why, expected, safety)."""
    places = plan.places.set_index("place_id")
    v = plan.visits if district is None else plan.visits[plan.visits["district_id"] == district]
    rows = []
    for r in v.itertuples(index=False):
        p = places.loc[r.place_id]
        rows.append({
            t("plan.col.team", lang): district_names.get(r.district_id, r.district_id),
            t("plan.col.day", lang): day_label(r.weekday, lang),
            t("plan.col.window", lang): f"{r.window_start}–{r.window_end}",
            t("plan.col.order", lang): int(r.order),
            t("plan.col.place", lang): str(p["name"]),
            t("plan.col.minutes", lang): int(r.minutes),
            t("plan.col.kind", lang): t(f"plan.kind.{r.kind}", lang),
            t("plan.col.why", lang): _why(p, labels, lang),
            t("plan.col.expected", lang): round(float(r.expected_complaints), 2),
            t("plan.col.safety", lang): t("plan.safety_mark", lang) if bool(r.safety) else "",
            t("plan.col.presence", lang): round(float(r.presence_last_quarter), 1),
        })
    cols = [t(f"plan.col.{c}", lang) for c in ("team", "day", "window", "order", "place", "minutes", "kind",
                                                "why", "expected", "safety", "presence")]
    return pd.DataFrame(rows, columns=cols)


def place_table(plan: Plan, lang: str, labels: dict[str, str]) -> pd.DataFrame:
    visits = plan.visits.groupby("place_id").size()
    out = pd.DataFrame({
        "ID": plan.places["place_id"],
        t("plan.col.place", lang): plan.places["name"],
        t("plan.col.visits", lang): [int(visits.get(p, 0)) for p in plan.places["place_id"]],
        t("plan.col.expected_week", lang): plan.places["expected_week"].astype(float).round(2),
        t("plan.col.why", lang): [_why(r, labels, lang) for _, r in plan.places.iterrows()],
        t("plan.col.area", lang): plan.places["area_km2"],
        t("plan.col.cells", lang): [len(c) for c in plan.places["cells"]],
    })
    return out


def budget_table(plan: Plan, lang: str, district_names: dict[str, str]) -> pd.DataFrame:
    rows = []
    for d, b in plan.budgets.items():
        u = plan.used.get(d, {})
        name = district_names.get(d, d) if d != "*" else t("plan.kind.flex", lang)
        rows.append({t("plan.col.team", lang): name,
                     **{f"{t(f'plan.kind.{k}', lang)}": f"{fmt_number(u.get(k, 0), lang)} / "
                        f"{fmt_number(b.get(k, 0), lang)}" for k in ("kod", "joint", "flex")}})
    return pd.DataFrame(rows)


def coverage_text(plan: Plan, lang: str) -> tuple[str, str]:
    return fmt_percent(plan.coverage_plan, lang, 1), fmt_percent(plan.coverage_last_quarter, lang, 1)


def _place_polygon(cells: list[str]) -> dict:
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    return maps._round_geometry(shapely.union_all(polys), 5)


def add_places(m: folium.Map, plan: Plan, lang: str, district: str | None = None) -> folium.FeatureGroup:
    """The plan's places (planned in blue, unplanned in grey) with escaped name tooltips."""
    visits = plan.visits.groupby("place_id").size()
    features = []
    for r in plan.places.itertuples(index=False):
        if district is not None and r.district_id != district:
            continue
        n = int(visits.get(r.place_id, 0))
        tip = (f"<b>{maps.esc(r.name)}</b><br>"
               + maps.esc(t("plan.map.tip", lang, visits=n, expected=fmt_number(r.expected_week, lang, 1))))
        features.append({"type": "Feature", "id": str(r.place_id),
                         "properties": {"k": 0 if n else 1, "t": tip},
                         "geometry": _place_polygon(list(r.cells))})
    styles = [{"fillColor": "#00549f", "color": "#00549f", "weight": 3, "opacity": 1.0, "fillOpacity": 0.35},
              {"fillColor": "#767676", "color": "#595959", "weight": 2, "opacity": 1.0, "fillOpacity": 0.2,
               "dashArray": "4 4"}]
    group = maps._group(m, t("plan.map.layer", lang), True)
    maps._GeoLayer(features, styles, hover={"weight": 5}).add_to(group)
    rows = [(maps._swatch("#00549f88", "#00549f"), t("plan.map.planned", lang)),
            (maps._swatch("#76767655", "#595959"), t("plan.map.unplanned", lang))]
    group.add_child(maps._Legend(maps._legend_html(t("plan.map.layer", lang), rows)))
    return group


def _bounds(plan: Plan, district: str | None, fallback: tuple[float, float, float, float]
            ) -> tuple[float, float, float, float]:
    p = plan.places if district is None else plan.places[plan.places["district_id"] == district]
    if p.empty:
        return fallback
    pad = 0.01
    return (float(p["lon"].min()) - pad, float(p["lat"].min()) - pad, float(p["lon"].max()) + pad,
            float(p["lat"].max()) + pad)


def plan_map(plan: Plan, lang: str, tiles: str, fallback: tuple[float, float, float, float],
             district: str | None = None) -> folium.Map:
    m = maps.base_map(_bounds(plan, district, fallback), tiles=tiles, lang=lang)
    add_places(m, plan, lang, district)
    return m


# --- exports -------------------------------------------------------------------------------------

def week_csv(table: pd.DataFrame, lang: str) -> bytes:
    return exports.csv_bytes(table, lang)


def gpx_bytes(plan: Plan, name: str) -> bytes:
    """GPX 1.1 with one waypoint (name, description) per place of the plan."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "Lagebild"})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = name
    for r in plan.places.itertuples(index=False):
        wpt = ET.SubElement(root, f"{{{GPX_NS}}}wpt",
                            {"lat": f"{float(r.lat):.6f}", "lon": f"{float(r.lon):.6f}"})
        ET.SubElement(wpt, f"{{{GPX_NS}}}name").text = f"{r.place_id} {r.name}"
        ET.SubElement(wpt, f"{{{GPX_NS}}}desc").text = f"{r.district} · {', '.join(r.categories)}"
        ET.SubElement(wpt, f"{{{GPX_NS}}}sym").text = "Flag, Blue"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def team_pdf(plan: Plan, name: str, district: str, lang: str, labels: dict[str, str],
             district_names: dict[str, str], fallback: tuple[float, float, float, float],
             log: exports.BrowserLog | None = None) -> bytes:
    """A printable A4 PDF of one team's plan: key figures, a map of its places, the week table."""
    team = district_names.get(district, district)
    # Compact rows for A4: the reasons ("why") go once per place into a second table.
    table = week_table(plan, lang, labels, district_names, district).drop(
        columns=[t("plan.col.team", lang), t("plan.col.presence", lang), t("plan.col.why", lang)])
    expected_col = t("plan.col.expected", lang)
    table[expected_col] = [fmt_number(v, lang, 2) for v in table[expected_col]]
    own = plan.places["district_id"] == district
    places = place_table(plan, lang, labels)[own.to_numpy()]
    places = places[places[t("plan.col.visits", lang)] > 0].drop(
        columns=[t("plan.col.area", lang), t("plan.col.cells", lang)])
    week_col = t("plan.col.expected_week", lang)
    places[week_col] = [fmt_number(v, lang, 1) for v in places[week_col]]
    s = plan.settings
    end = date.fromordinal(s.end.toordinal() - 1)
    used, budget = plan.used.get(district, {}), plan.budgets.get(district, {})
    n_visits = int((plan.visits["district_id"] == district).sum())
    expected = float(plan.visits.loc[plan.visits["district_id"] == district, "expected_complaints"].sum())
    kpis = [(t("plan.pdf.visits", lang), fmt_number(n_visits, lang)),
            (t("plan.pdf.minutes", lang), " · ".join(
                f"{t(f'plan.kind.{k}', lang)} {fmt_number(used.get(k, 0), lang)} / "
                f"{fmt_number(budget.get(k, 0), lang)}" for k in ("kod", "joint"))),
            (t("plan.pdf.expected", lang), fmt_number(expected, lang, 1))]
    m = plan_map(plan, lang, "none", fallback, district)
    n_places = int((plan.places["district_id"] == district).sum())
    alt = t("plan.pdf.map_alt", lang, n=n_places, team=team)
    page = exports.standalone_map_html(m, t("plan.pdf.map", lang), alt, lang)
    image = exports.map_png(page, t("plan.pdf.map", lang), alt, width=1400, height=900, log=log)
    report = exports.Report(
        title=t("plan.pdf.title", lang, team=team),
        subtitle=t("plan.pdf.subtitle", lang, start=s.start.isoformat(), end=end.isoformat(), weeks=s.weeks,
                   name=name),
        kpis=kpis, images=[exports.ReportImage(image, alt, t("plan.pdf.map", lang))],
        tables=[(t("plan.pdf.table", lang), table), (t("plan.pdf.places", lang), places)],
        notes=[t("plan.pdf.note", lang, seed=s.seed, minutes=s.visit_minutes)], lang=lang)
    return exports.report_pdf(report, log)


# --- Wirkung -------------------------------------------------------------------------------------

def effect_tables(e: Effect, lang: str, district_names: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    places = pd.DataFrame({
        t("plan.col.place", lang): e.places["name"],
        t("plan.col.visits", lang): e.places["visits_per_week"],
        t("plan.col.planned", lang): e.places["planned_min"].round(0),
        t("plan.col.delivered", lang): e.places["delivered_in_windows_min"].round(0),
        t("plan.col.overall", lang): e.places["delivered_overall_min"].round(0),
        t("plan.col.compliance", lang): [fmt_percent(c, lang, 0) for c in e.places["compliance"]],
    }) if not e.places.empty else pd.DataFrame()
    teams = pd.DataFrame({
        t("plan.col.team", lang): [district_names.get(d, d) for d in e.teams["district_id"]],
        t("plan.col.planned", lang): e.teams["planned_min"].round(0),
        t("plan.col.delivered", lang): e.teams["delivered_in_windows_min"].round(0),
        t("plan.col.overall", lang): e.teams["delivered_overall_min"].round(0),
        t("plan.col.compliance", lang): [fmt_percent(c, lang, 0) for c in e.teams["compliance"]],
    }) if not e.teams.empty else pd.DataFrame()
    return places, teams


def quarters_text(quarters: list[int]) -> str:
    return ", ".join(quarter_label(q) for q in quarters)
