"""What each page shows, computed from the data, the spatial model and the filters.

Pages call these functions and only lay out the results; everything here is plain Python
and tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from base.i18n import fmt_date, fmt_datetime, fmt_number, register, t
from data import tablesums
from data.filters import Filters, complaint_mask, count, incident_mask
from data.folder import DataBundle
from data.kpis import Kpi, compare_counts, signal, trend_z
from data.kpis import overview_kpis as _overview_kpis
from data.periods import quarter_bounds, quarter_label
from geo import maps
from geo.model import (
    SpatialModel,
    complaint_cell_counts,
    district_hours,
    district_hours_by_quarter,
    emerging,
    gap,
    hotspots,
    memoised,
    presence_cells,
    presence_minutes,
)

register({
    "overview.map": ("Beschwerden je 1.000 Einwohner", "Complaints per 1,000 inhabitants"),
    "overview.changed": ("Was hat sich verändert?", "What changed?"),
    "overview.nothing_changed": ("Keine signifikanten Veränderungen gegenüber dem Vorzeitraum.",
                                 "No significant changes compared with the previous period."),
    "overview.changed_help": (
        "Bezirke und Kategorien mit |z| ≥ 2 gegenüber dem gleich langen Vorzeitraum.",
        "Districts and categories with |z| ≥ 2 against the previous period of equal length."),
    "scope.all_districts": ("alle Bezirke", "all districts"),
    "scope.period": ("Zeitraum {period} · {districts}", "Period {period} · {districts}"),
    "col.what": ("Bezirk / Kategorie", "District / category"),
    "col.type": ("Art", "Type"),
    "col.district": ("Bezirk", "District"),
    "col.category": ("Kategorie", "Category"),
    "col.current": ("aktuell", "current"),
    "col.previous": ("Vorzeitraum", "previous"),
    "col.z": ("z", "z"),
    "col.signal": ("Signal", "Signal"),
    "col.population": ("Einwohner", "Population"),
    "col.complaints": ("Beschwerden", "Complaints"),
    "col.per_1000": ("je 1.000 Einw.", "per 1,000 inh."),
    "col.patrol_hours": ("Streifenstunden", "Patrol hours"),
    "col.hours_per_1000": ("Std. je 1.000 Einw.", "Hours per 1,000 inh."),
    "col.joint_share": ("Anteil gemeinsam", "Joint share"),
    "col.open": ("offen", "open"),
    "col.incidents": ("Übergriffe", "Incidents"),
    "metric.complaints": ("Beschwerden", "Complaints"),
    "metric.per_1000": ("Beschwerden je 1.000 Einwohner", "Complaints per 1,000 inhabitants"),
    "metric.patrol_hours": ("Streifenstunden", "Patrol hours"),
    "metric.trend": ("Trendsignal z (ggü. Vorzeitraum)", "Trend signal z (vs previous period)"),
})

METRICS = ("per_1000", "complaints", "patrol_hours", "trend")
RESOLUTIONS = (9, 8, 10)  # default first

register({
    "cells.resolution": ("Zellgröße (H3-Auflösung)", "Cell size (H3 resolution)"),
    "cells.res8": ("groß (Auflösung 8, ca. 0,7 km²)", "large (resolution 8, about 0.7 km²)"),
    "cells.res9": ("mittel (Auflösung 9, ca. 0,1 km²)", "medium (resolution 9, about 0.1 km²)"),
    "cells.res10": ("klein (Auflösung 10, ca. 0,015 km²)", "small (resolution 10, about 0.015 km²)"),
    "scope.as_of": ("Datenstand {date}", "Data as of {date}"),
})


def scope_caption(bundle: DataBundle, f: Filters, lang: str) -> str:
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    districts = ", ".join(names.get(d, d) for d in f.districts) if f.districts else t(
        "scope.all_districts", lang)
    text = t("scope.period", lang, period=f.period_label(), districts=districts)
    latest = bundle.as_of
    if latest is not None and pd.notna(latest):
        text += " · " + t("scope.as_of", lang, date=fmt_date(latest, lang))
    return text


def has_previous(bundle: DataBundle, f: Filters) -> bool:
    """Whether the complaints cover the previous period (patrols may start earlier: a
    previous period without complaint data must not read as zero complaints)."""
    quarters = bundle.complaint_table["quarter"]
    return len(quarters) > 0 and f.previous().q_from >= int(quarters.min())


def overview_kpis(bundle: DataBundle, model: SpatialModel, f: Filters) -> list[Kpi]:
    prev = has_previous(bundle, f)
    hours_now = district_hours(model, f).drop(columns="district_id").sum().to_dict()
    hours_prev = (district_hours(model, f.previous()).drop(columns="district_id").sum().to_dict()
                  if prev else None)
    return _overview_kpis(bundle.complaint_table, bundle["staff_incidents"], bundle["districts"], f,
                          _by_kind(hours_now), _by_kind(hours_prev) if hours_prev else None, prev,
                          publisher=bundle.publisher)


def _by_kind(hours: dict | None) -> dict[str, float]:
    return {k: float(v) for k, v in (hours or {}).items() if k in ("kod", "joint", "police")}


def what_changed_tables(bundle: DataBundle, f: Filters, lang: str) -> pd.DataFrame:
    """Districts and categories whose complaint count changed significantly (|z| >= 2)."""
    if not has_previous(bundle, f):
        return pd.DataFrame()
    c = bundle.complaint_table
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    labels = bundle.category_labels(lang)
    parts = []
    for by, kind_key, mapping in (("district_id", "col.district", names),
                                  ("category", "col.category", labels)):
        cur = _counts_by(c, f, by, bundle.publisher)
        prev = _counts_by(c, f.previous(), by, bundle.publisher)
        # (published counts: suppressed and absent ones alike have no z)
        table = compare_counts(cur, prev, absent=0 if bundle.publisher is None else np.nan)
        table = table[table["z"].abs() >= 2]
        if table.empty:
            continue
        parts.append(pd.DataFrame({
            t("col.type", lang): t(kind_key, lang),
            t("col.what", lang): table["key"].map(lambda k, m=mapping: m.get(k, k)),
            t("col.current", lang): table["current"].astype(int),
            t("col.previous", lang): table["previous"].astype(int),
            t("col.z", lang): table["z"].map(lambda z: fmt_number(z, lang, 1)),
            t("col.signal", lang): table["signal"].map(lambda s: t(f"signal.{s}", lang)),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def district_table(bundle: DataBundle, model: SpatialModel, f: Filters) -> pd.DataFrame:
    """One row per district (all districts; the district filter does not narrow this table).

    Columns: district_id, name, population, complaints, previous, z, signal, per_1000,
    patrol_hours, hours_per_1000, joint_share, open, incidents. For a viewer (the bundle's
    publisher) the counts are published (float, NaN: suppressed) and z, signal and per_1000
    are computed from them.
    """
    all_f = replace(f, districts=())
    # One table per city-wide filter state and bundle: the map, its text alternative and a
    # later district change take it from the model's memo (a copy: callers may change it).
    prev_ok = has_previous(bundle, f)
    return memoised(model, ("district_table", id(bundle), all_f, prev_ok),
                    lambda: (bundle, _district_table(bundle, model, all_f, prev_ok)))[1].copy()


def _counts_by(c: pd.DataFrame, f: Filters, by: str, pub, open_at_end: bool = False) -> pd.Series:
    """Complaints per ``by`` (data.filters.count), from the pre-summed summary when it
    covers the filters (data.tablesums: the same numbers)."""
    fast = tablesums.count_by(c, f, by, pub, open_at_end=open_at_end)
    if fast is not None:
        return fast
    mask = complaint_mask(c, f)
    if open_at_end:
        mask &= c["closed_quarter"].to_numpy() > f.q_to
    return count(c, mask, by, publisher=pub)


def _district_table(bundle: DataBundle, model: SpatialModel, all_f: Filters, prev_ok: bool
                    ) -> pd.DataFrame:
    # Columns as numpy arrays, the frame made once at the end: inserting a dozen columns one
    # by one cost more than computing them (pandas copies its text column index each time).
    base = bundle["districts"]
    c = bundle.complaint_table
    pub = bundle.publisher
    cur = _counts_by(c, all_f, "district_id", pub)
    prev = _counts_by(c, all_f.previous(), "district_id", pub)
    open_ = _counts_by(c, all_f, "district_id", pub, open_at_end=True)
    incidents = incidents_per_district(bundle, all_f)
    hours = district_hours(model, all_f)

    ids = base["district_id"].tolist()
    n = len(ids)

    def column(values: pd.Series) -> np.ndarray:
        """``values`` (indexed by district_id) in the table's district order (a dict lookup:
        Series.map costs a millisecond per column on a dozen rows)."""
        lookup = dict(zip(values.index.tolist(), values.tolist(), strict=True))
        mapped = np.array([lookup.get(i, np.nan) for i in ids], dtype="float64")
        return mapped if pub is not None else np.nan_to_num(mapped, nan=0.0).astype(int)

    complaints = column(cur)
    previous = column(prev) if prev_ok else np.full(n, np.nan)
    z = trend_z(complaints, previous) if prev_ok else np.full(n, np.nan)
    pop = base["population"].to_numpy(dtype="float64", na_value=np.nan)
    # patrol hours per kind in the table's order (a district without rows: 0)
    at = {d: i for i, d in enumerate(hours["district_id"].tolist())}
    rows = np.array([at.get(d, -1) for d in ids], dtype=np.int64)
    kinds = [k for k in hours.columns if k != "district_id"]
    by_kind = {}
    for k in kinds:
        values = np.nan_to_num(hours[k].to_numpy(dtype="float64"), nan=0.0)
        by_kind[k] = np.where(rows >= 0, values[np.maximum(rows, 0)], 0.0) if len(values) else np.zeros(n)
    patrol_hours = np.sum([by_kind[k] for k in kinds], axis=0) if kinds else np.zeros(n)
    joint = by_kind.get("joint", np.zeros(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_1000 = complaints / pop * 1000
        hours_per_1000 = patrol_hours / pop * 1000
        joint_share = np.where(patrol_hours > 0, joint / patrol_hours, np.nan)
    return pd.DataFrame({
        "district_id": base["district_id"], "name": base["name"], "population": base["population"],
        "complaints": complaints, "previous": previous, "z": z,
        "signal": [signal(v) for v in np.asarray(z, dtype="float64").tolist()],
        "per_1000": per_1000, "patrol_hours": patrol_hours, "hours_per_1000": hours_per_1000,
        "joint_share": joint_share, "open": column(open_), "incidents": column(incidents),
    })


def incidents_per_district(bundle: DataBundle, f: Filters) -> pd.Series:
    """Staff incidents per district_id under ``f`` (published for a viewer: NaN = suppressed)."""
    inc = bundle["staff_incidents"]
    mask = incident_mask(inc, f)
    counts = inc.loc[mask, "district_id"].value_counts()
    if bundle.publisher is None:
        return counts
    keys = pd.Series(bundle.publisher.keys_of(inc, "incident_id")[mask],
                     index=inc.loc[mask, "district_id"].to_numpy())
    return bundle.publisher.series(counts, keys.groupby(level=0).sum())


def display_district_table(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The comparison table with translated headers and formatted numbers (also the CSV)."""
    return pd.DataFrame({
        t("col.district", lang): table["name"],
        t("col.population", lang): table["population"],
        t("col.complaints", lang): table["complaints"],
        t("col.previous", lang): table["previous"],
        t("col.z", lang): table["z"].round(1),
        t("col.signal", lang): table["signal"].map(lambda s: t(f"signal.{s}", lang)),
        t("col.per_1000", lang): table["per_1000"].round(1),
        t("col.patrol_hours", lang): table["patrol_hours"].round(0),
        t("col.hours_per_1000", lang): table["hours_per_1000"].round(1),
        t("col.joint_share", lang): (table["joint_share"] * 100).round(0),
        t("col.open", lang): table["open"],
        t("col.incidents", lang): table["incidents"],
    })


def district_layer(bundle: DataBundle, model: SpatialModel, f: Filters, metric: str, lang: str
                   ) -> tuple[pd.DataFrame, str]:
    """The choropleth frame of :func:`district_table` for ``metric`` (and its title), once per
    city-wide filter state: the map and its text alternative share it, a district change
    reuses it. Shared: callers must not change the frame."""
    key = ("district_layer", id(bundle), replace(f, districts=()), has_previous(bundle, f), metric, lang)
    return memoised(model, key, lambda: (bundle, _district_layer_frame(
        bundle, district_table(bundle, model, f), metric, lang)))[1]


def _district_layer_frame(bundle: DataBundle, table: pd.DataFrame, metric: str, lang: str
                          ) -> tuple[pd.DataFrame, str]:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    column = {"per_1000": "per_1000", "complaints": "complaints", "patrol_hours": "patrol_hours",
              "trend": "z"}[metric]
    decimals = {"per_1000": 1, "complaints": 0, "patrol_hours": 0, "trend": 1}[metric]
    # (a left join on district_id by position lookup: pandas' merge costs milliseconds here)
    frame = bundle["districts"][["district_id", "name", "geometry"]].reset_index(drop=True)
    row = {d: k for k, d in enumerate(table["district_id"].tolist())}
    at = np.array([row.get(d, -1) for d in frame["district_id"].tolist()], dtype=np.int64)
    values = table[column].to_numpy()
    frame["value"] = values[at] if (at >= 0).all() else \
        np.where(at >= 0, values[np.maximum(at, 0)].astype("float64"), np.nan)
    frame["value_label"] = frame["value"].map(lambda v: fmt_number(v, lang, decimals))
    return frame, t(f"metric.{metric}", lang)


def _bounds(bundle: DataBundle, f: Filters) -> tuple[float, float, float, float]:
    return bundle.district_bounds(f.districts)


def overview_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str):
    table = district_table(bundle, model, f)
    m = maps.base_map(_bounds(bundle, f), tiles=tiles, lang=lang)
    frame, title = _district_layer_frame(bundle, table, "per_1000", lang)
    maps.add_districts(m, frame, title, lang)
    maps.add_offices(m, bundle["offices"], lang, now=pd.Timestamp.now(tz="Europe/Berlin"))
    return m


def complaint_cells(bundle: DataBundle, model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Complaint counts per H3 cell for the filters (cells with at least one complaint)."""
    counts = complaint_cell_counts(model, f)
    nz = np.flatnonzero(counts)
    return pd.DataFrame({"h3": model.index.cells[nz], "value": counts[nz].astype(float)})


def incidents_by_district(bundle: DataBundle, f: Filters) -> pd.DataFrame:
    counts = incidents_per_district(bundle, f)
    out = bundle.district_centres()
    lookup = dict(zip(counts.index.tolist(), counts.tolist(), strict=True))
    count = np.array([lookup.get(d, np.nan) for d in out["district_id"].tolist()], dtype="float64")
    out["count"] = np.nan_to_num(count, nan=0.0).astype(int)
    return out[out["count"] > 0].reset_index(drop=True)


@dataclass(frozen=True)
class LagebildData:
    """What the Lagebild map shows for one filter state: aggregated frames, no map objects.

    Computing these is the costly part; pages cache them per filter state
    (``ui.widgets.lagebild_map``) and draw the map from them on every run.
    """

    bounds: tuple[float, float, float, float]
    districts: pd.DataFrame  # district_id, name, geometry, value, value_label
    metric_title: str
    palette: str
    density: pd.DataFrame  # h3, value
    presence: dict[str, pd.DataFrame]  # kind -> h3, value (minutes)
    hotspots: pd.DataFrame  # gi_star rows of the shown cells
    gap: pd.DataFrame
    incidents: pd.DataFrame  # district_id, name, lat, lon, count
    district_names: dict[str, str]


def _positive_cells(model: SpatialModel, values: np.ndarray) -> pd.DataFrame:
    """h3, value of the cells whose value is above 0."""
    nz = np.flatnonzero(values > 0)
    return pd.DataFrame({"h3": model.index.cells[nz], "value": values[nz]})


def lagebild_data(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str,
                  metric: str = "per_1000") -> LagebildData:
    frame, title = district_layer(bundle, model, f, metric, lang)
    minutes = presence_minutes(model, f)
    spots = hotspots(model, f)
    return LagebildData(
        bounds=_bounds(bundle, f),
        districts=frame,
        metric_title=title,
        palette=maps.TREND_PALETTE if metric == "trend" else "viridis",
        density=complaint_cells(bundle, model, f),
        presence={kind: _positive_cells(model, minutes[kind]) for kind in f.patrol_kinds()},
        hotspots=_in_districts(model, f, spots),
        gap=gap(model, f, spots),
        incidents=incidents_by_district(bundle, f),
        district_names=dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"],
                                strict=True)),
    )


def draw_lagebild(layers: LagebildData, bundle: DataBundle, lang: str, tiles: str):
    """The Lagebild map with every layer (each switchable in the layer control)."""
    m = maps.base_map(layers.bounds, tiles=tiles, lang=lang)
    maps.add_districts(m, layers.districts, layers.metric_title, lang, palette=layers.palette)
    maps.add_focus_areas(m, bundle["focus_areas"], lang)
    maps.add_complaint_density(m, layers.density, lang, show=False)
    for kind, cells in layers.presence.items():
        maps.add_presence(m, cells, kind, lang, show=False)
    maps.add_hotspots(m, layers.hotspots, lang, show=False)
    maps.add_gap(m, layers.gap, lang, district_names=layers.district_names, show=False)
    maps.add_incidents_by_district(m, layers.incidents, lang, show=False)
    maps.add_offices(m, bundle["offices"], lang, now=pd.Timestamp.now(tz="Europe/Berlin"))
    return m


def lagebild_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str,
                 metric: str = "per_1000"):
    """The Lagebild map for a filter state (layers computed and drawn)."""
    return draw_lagebild(lagebild_data(bundle, model, f, lang, metric), bundle, lang, tiles)


def quarter_series(bundle: DataBundle, f: Filters, district_id: str | None = None) -> pd.DataFrame:
    """Complaints per quarter over all quarters of the data (other filters applied)."""
    quarters = bundle.quarters()
    g = replace(f, districts=(district_id,) if district_id else f.districts)
    c = bundle.complaint_table
    mask = complaint_mask(c, g, quarters=quarters)
    # published: a quarter without records is shown like one below k (empty), not as 0, so
    # "none" and "fewer than k" cannot be told apart
    absent = 0 if bundle.publisher is None else np.nan
    counts = count(c, mask, "quarter", publisher=bundle.publisher).reindex(quarters, fill_value=absent)
    return pd.DataFrame({"quarter_label": [quarter_label(q) for q in quarters],
                         "value": counts.to_numpy()})


register({
    "bezirke.choose": ("Bezirk", "District"),
    "bezirke.team": ("Bezirksteam und Kontakt", "District team and contact"),
    "bezirke.trend": ("Beschwerden je Quartal", "Complaints per quarter"),
    "bezirke.comparison": ("Vergleich aller Bezirke", "All districts compared"),
    "bezirke.download": ("Tabelle als CSV herunterladen", "Download table as CSV"),
    "contact.team": ("Team", "Team"),
    "contact.lead": ("Leitung", "Lead"),
    "contact.phone": ("Telefon", "Phone"),
    "contact.email": ("E-Mail", "E-mail"),
    "contact.population": ("Einwohner", "Inhabitants"),
    "contact.offices": ("Dienststellen", "Offices"),
    "contact.what": ("Angabe", "Item"),
    "contact.value": ("Wert", "Value"),
    "lagebild.metric": ("Bezirke einfärben nach", "Colour districts by"),
    "lagebild.help": (
        "Ebenen über das Ebenen-Symbol oben rechts ein- und ausschalten. Zellen: H3-Sechsecke "
        "(ca. 0,1 km²); Präsenz = Streifenminuten je Zelle aus GPS-Punkten.",
        "Switch layers with the layer icon (top right). Cells: H3 hexagons (about 0.1 km²); "
        "presence = patrol minutes per cell from GPS pings."),
})


@dataclass(frozen=True)
class DistrictProfile:
    contacts: pd.DataFrame  # two columns: item, value (texts from the data, shown as text)
    kpis: list[Kpi]
    trend: pd.DataFrame  # quarter_label, value
    categories: pd.DataFrame  # field, category_label, count
    presence_vs_complaints: pd.DataFrame  # name (quarter label), complaints, hours


def district_profile(bundle: DataBundle, model: SpatialModel, f: Filters, district_id: str,
                     lang: str) -> DistrictProfile:
    d = bundle["districts"].set_index("district_id")
    if district_id not in d.index:
        raise ValueError(f"unknown district, got {district_id!r}")
    row = d.loc[district_id]
    offices = bundle["offices"]
    office_names = ", ".join(offices.loc[offices["district_id"] == district_id, "name"])
    items = [
        ("contact.team", row.get("team_name")),
        ("contact.lead", row.get("team_lead")),
        ("contact.phone", row.get("phone")),
        ("contact.email", row.get("email")),
        ("contact.population", fmt_number(row.get("population"), lang)
         if pd.notna(row.get("population")) else None),
        ("contact.offices", office_names or None),
    ]
    items = [(k, v) for k, v in items if v is not None and pd.notna(v) and str(v).strip()]
    contacts = pd.DataFrame({
        t("contact.what", lang): [t(k, lang) for k, _ in items],
        t("contact.value", lang): [str(v) for _, v in items],
    })
    g = replace(f, districts=(district_id,))
    kpis = [k for k in overview_kpis(bundle, model, g)
            if k.key in ("complaints", "per_1000", "patrol_hours")]
    trend = quarter_series(bundle, g)
    c = bundle.complaint_table
    labels = bundle.category_labels(lang)
    cats = count(c, complaint_mask(c, g), ["field", "category"], publisher=bundle.publisher
                 ).rename("count").dropna().reset_index()
    cats["category_label"] = cats["category"].map(lambda k: labels.get(k, k))
    quarters = bundle.quarters()
    hours = [float(district_hours(model, replace(g, q_from=q, q_to=q)).drop(
        columns="district_id").to_numpy().sum()) for q in quarters]
    pvc = pd.DataFrame({"name": [quarter_label(q) for q in quarters],
                        "complaints": trend["value"].to_numpy(), "hours": hours})
    return DistrictProfile(contacts, kpis, trend, cats[["field", "category_label", "count"]], pvc)


# --- Präsenz and Beschwerden ----------------------------------------------------------------

register({
    "praesenz.map": ("Präsenz je Zelle und Präsenzlücken", "Presence per cell and presence gaps"),
    "praesenz.hours": ("Streifenstunden je Bezirk und Quartal", "Patrol hours per district and quarter"),
    "praesenz.joint": ("Anteil gemeinsamer Streifen je Quartal", "Joint patrol share per quarter"),
    "praesenz.gap": ("Präsenzlücken: Hotspots (≥ 95 %) mit der geringsten Präsenz im Bezirk",
                     "Presence gaps: hot spots (≥ 95 %) with the least presence in their district"),
    "praesenz.gap_help": (
        "Zellen, die Gi*-Hotspots mit mindestens 95 % Konfidenz sind und deren Streifenpräsenz im "
        "unteren Drittel der Hotspot-Zellen desselben Bezirks liegt; sortiert nach Beschwerden.",
        "Cells that are Gi* hot spots at ≥ 95 % confidence and whose patrol presence lies in the "
        "lowest third of the hot spot cells of the same district; ranked by complaints."),
    "praesenz.no_gap": ("Keine Präsenzlücken für diese Auswahl.", "No presence gaps for this selection."),
    "praesenz.download": ("Präsenzlücken als CSV herunterladen", "Download presence gaps as CSV"),
    "col.rank": ("Rang", "Rank"),
    "col.cell": ("Zelle (H3)", "Cell (H3)"),
    "col.confidence": ("Konfidenz", "Confidence"),
    "col.presence_minutes": ("Präsenz (Min.)", "Presence (min)"),
    "col.main_categories": ("Hauptkategorien", "Main categories"),
    "col.lat": ("Breite", "Latitude"),
    "col.lon": ("Länge", "Longitude"),
    "beschwerden.hotspots": ("Statistische Hotspots (Getis-Ord Gi*)",
                             "Statistical hot spots (Getis-Ord Gi*)"),
    "beschwerden.hotspots_help": (
        "Gi* auf Zellzählungen (H3, Nachbarschaft: Zelle und ihr Ring), Konfidenz nach "
        "Benjamini-Hochberg-Korrektur; berechnet stadtweit, der Bezirksfilter begrenzt die Anzeige.",
        "Gi* on cell counts (H3, neighbourhood: the cell and its ring), confidence after a "
        "Benjamini-Hochberg correction; computed city-wide, the district filter narrows the view."),
    "beschwerden.emerging": ("Entstehende Hotspots über {n} Quartale ({period})",
                             "Emerging hot spots over {n} quarters ({period})"),
    "beschwerden.emerging_none": (
        "Für entstehende Hotspots werden mindestens 4 Quartale Daten bis zum Ende des Zeitraums benötigt.",
        "Emerging hot spots need at least 4 quarters of data up to the end of the period."),
    "beschwerden.emerging_help": (
        "Gi* je Quartal und Mann-Kendall-Trend je Zelle; Klassen wie in ArcGIS "
        "(neu, fortlaufend, verstärkend, beständig, abnehmend, sporadisch, wechselnd, historisch).",
        "Gi* per quarter and a Mann-Kendall trend per cell; classes as in ArcGIS "
        "(new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical)."),
    "beschwerden.fields": ("Kategorien nach Handlungsfeld", "Categories by field"),
    "beschwerden.weekhour": ("Wochentag × Uhrzeit", "Weekday × hour"),
    "beschwerden.classes": ("Zellen je Klasse", "Cells per class"),
})


def _in_districts(model: SpatialModel, f: Filters, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a per-cell frame (in index order) whose cell lies in the selected districts."""
    if not f.districts:
        return frame
    return frame[model.index.district_cells(list(f.districts))].reset_index(drop=True)


def gap_table(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str) -> pd.DataFrame:
    """The presence gap list with translated headers and category labels (also the CSV)."""
    table = gap(model, f)
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    labels = bundle.category_labels(lang)
    return pd.DataFrame({
        t("col.rank", lang): table["rank"],
        t("col.district", lang): table["district_id"].map(lambda d: names.get(d, d)),
        t("col.cell", lang): table["h3"],
        t("col.confidence", lang): table["cls"].map({"hot99": "99 %", "hot95": "95 %"}),
        t("col.complaints", lang): table["complaints"].astype(int),
        t("col.presence_minutes", lang): table["presence_minutes"].round(0).astype(int),
        t("col.main_categories", lang): table["main_categories"].map(
            lambda s: ", ".join(labels.get(c, c) for c in str(s).split(",") if c)),
        t("col.lat", lang): table["lat"].round(5),
        t("col.lon", lang): table["lon"].round(5),
    })


def presence_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str):
    """Presence per cell by patrol kind, with the presence gaps on top."""
    m = maps.base_map(_bounds(bundle, f), tiles=tiles, lang=lang)
    frame, title = _district_layer_frame(bundle, district_table(bundle, model, f), "patrol_hours", lang)
    maps.add_districts(m, frame, title, lang, palette="cividis", show=False)
    presence = presence_cells(model, f)
    for kind in f.patrol_kinds():
        cells = presence[presence["kind"] == kind][["h3", "minutes"]].rename(columns={"minutes": "value"})
        maps.add_presence(m, _cells_in(model, f, cells), kind, lang, show=True)
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    maps.add_gap(m, gap(model, f), lang, district_names=names)
    maps.add_offices(m, bundle["offices"], lang, now=pd.Timestamp.now(tz="Europe/Berlin"))
    return m


def _cells_in(model: SpatialModel, f: Filters, cells: pd.DataFrame) -> pd.DataFrame:
    if not f.districts or cells.empty:
        return cells
    codes = model.index.codes_of(cells["h3"].tolist())
    keep = model.index.district_cells(list(f.districts))[np.maximum(codes, 0)] & (codes >= 0)
    return cells[keep].reset_index(drop=True)


def hours_by_quarter(bundle: DataBundle, model: SpatialModel, f: Filters) -> pd.DataFrame:
    """quarter_label, value (hours), series (district name) over all quarters of the data."""
    table = district_hours_by_quarter(model, f, bundle.quarters())
    if f.districts:
        table = table[table["district_id"].isin(f.districts)]
    return pd.DataFrame({"quarter_label": table["quarter"].map(quarter_label),
                         "value": table["hours"].round(1), "series": table["name"]})


def joint_share_series(bundle: DataBundle, model: SpatialModel, f: Filters) -> pd.DataFrame:
    table = district_hours_by_quarter(model, f, bundle.quarters())
    if f.districts:
        table = table[table["district_id"].isin(f.districts)]
    sums = table.groupby("quarter")[["hours", "hours_joint"]].sum()
    share = (sums["hours_joint"] / sums["hours"].where(sums["hours"] > 0)).fillna(0.0)
    return pd.DataFrame({"quarter_label": [quarter_label(q) for q in sums.index],
                         "share": share.to_numpy()})


def hotspot_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str):
    m = maps.base_map(_bounds(bundle, f), tiles=tiles, lang=lang)
    maps.add_hotspots(m, _in_districts(model, f, hotspots(model, f)), lang)
    maps.add_focus_areas(m, bundle["focus_areas"], lang, show=False)
    return m


def emerging_map(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str,
                 quarters: list[int]):
    m = maps.base_map(_bounds(bundle, f), tiles=tiles, lang=lang)
    table = emerging(model, f, quarters)
    counts = complaint_cell_counts(model, f, quarters=quarters)
    table = table.assign(count=counts)
    maps.add_emerging(m, _in_districts(model, f, table), lang)
    return m


def category_counts(bundle: DataBundle, f: Filters, lang: str) -> pd.DataFrame:
    """field, category_label, count of the filtered complaints."""
    c = bundle.complaint_table
    labels = bundle.category_labels(lang)
    out = count(c, complaint_mask(c, f), ["field", "category"], publisher=bundle.publisher
                ).rename("count").dropna().reset_index()
    out["category_label"] = out["category"].map(lambda k: labels.get(k, k))
    return out[["field", "category_label", "count"]]


# --- Lagebild: layers in the URL, exports ---------------------------------------------------------

#: The Lagebild map's layers (keys of the ``map.layer.*`` texts) and which the map opens with.
LAGEBILD_LAYERS = ("districts", "focus", "complaints", "presence.kod", "presence.joint", "presence.police",
                   "hotspots", "gap", "incidents", "offices")
LAGEBILD_DEFAULT_LAYERS = ("districts", "focus", "offices")

register({
    "lagebild.layers": ("Ebenen beim Öffnen", "Layers shown"),
    "lagebild.export_cells": ("Beschwerden und Hotspots je Zelle", "Complaints and hot spots per cell"),
    "lagebild.map_alt": (
        "Karte {scope}: Bezirke eingefärbt nach {metric}; Ebenen: {layers}.",
        "Map {scope}: districts coloured by {metric}; layers: {layers}."),
})


def lagebild_layers(f: Filters, points: bool = False) -> list[str]:
    """The layer keys the Lagebild map has for these filters (presence only for chosen kinds;
    ``points``: the raw complaint points, for principals who may see them)."""
    kinds = set(f.patrol_kinds())
    keys = [k for k in LAGEBILD_LAYERS if not k.startswith("presence.") or k.split(".")[1] in kinds]
    return [*keys, "points"] if points else keys


def show_lagebild_layers(m, keys, lang: str) -> list[str]:
    """Open the map with the layers ``keys`` (see :data:`LAGEBILD_LAYERS`) shown, others hidden."""
    bad = [k for k in keys if k not in (*LAGEBILD_LAYERS, "points")]
    if bad:
        raise ValueError(f"layers must be among {LAGEBILD_LAYERS}, got {bad!r}")
    return maps.set_visible_layers(m, [t(f"map.layer.{k}", lang) for k in keys])


def cell_export(bundle: DataBundle, model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Per cell of the selected districts with complaints or a Gi* class: h3, district_id,
    complaints, gi_class, gi_z (aggregates only; for the GeoJSON export)."""
    spots = hotspots(model, f)
    keep = model.index.district_cells(list(f.districts) if f.districts else None)
    keep &= (spots["count"].to_numpy() > 0) | (spots["cls"].astype(str).to_numpy() != "none")
    complaints = spots["count"].to_numpy()[keep].astype(int)
    if model.publisher is not None:  # published counts: 0 is "suppressed (< k)", exported as null
        complaints = np.where(complaints > 0, complaints, np.nan)
    return pd.DataFrame({"h3": spots["h3"].to_numpy()[keep],
                         "district_id": model.index.district[keep].astype(str),
                         "complaints": complaints,
                         "gi_class": spots["cls"].astype(str).to_numpy()[keep],
                         "gi_z": spots["z"].to_numpy()[keep].round(3)})


def complaint_points(bundle: DataBundle, f: Filters, lang: str, principal, limit: int = maps.MAX_POINTS
                     ) -> tuple[pd.DataFrame, int]:
    """The filtered single complaints for the raw-points layer, newest first, and their number.

    Only a principal who may see raw points gets any (coordinators: their districts, since
    the bundle is already restricted; admins); anyone else gets an empty frame. Columns:
    complaint_id, lat, lon, received, category_label, status, address, description.
    """
    columns = ["complaint_id", "lat", "lon", "received", "category_label", "status", "address",
               "description"]
    if not principal.sees_raw_points:
        return pd.DataFrame({c: [] for c in columns}), 0
    if bundle.points is not None:  # the database store: filtered and limited in SQL
        sel, total = bundle.points(f, bundle.district_scope, limit)
    else:  # read from disk only the complaints of the period (a prepared bundle holds no raw rows)
        start, end = quarter_bounds(f.q_from)[0], quarter_bounds(f.q_to)[1]
        c = bundle.records_between("complaints", "received_at", start, end)
        sel = c.loc[complaint_mask(c, f)]
        total = len(sel)
        sel = sel.sort_values("received_at", ascending=False, kind="stable").head(limit)
    labels = bundle.category_labels(lang)
    local = sel["received_at"].dt.tz_convert("Europe/Berlin")
    out = pd.DataFrame({
        "complaint_id": sel["complaint_id"].astype(str).to_numpy(),
        "lat": sel["lat"].to_numpy(), "lon": sel["lon"].to_numpy(),
        "received": [fmt_datetime(v.to_pydatetime(), lang) for v in local],
        "category_label": [labels.get(k, k) for k in sel["category"].astype(str)],
        "status": sel["status"].astype(object).to_numpy(),
        "address": sel["address"].astype(object).to_numpy() if "address" in sel else None,
        "description": sel["description"].astype(object).to_numpy() if "description" in sel else None,
    })
    return out, total
