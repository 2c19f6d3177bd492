"""Conference mode ("Präsentation"): the anonymised views and what they show.

Everything here is an aggregate with small counts suppressed (:mod:`data.privacy`): no
single complaint or incident, no description, address or office, staff incidents only per
district. :func:`anonymise` computes the numbers once for the filters and ``k``; the
builders turn them into maps, charts and tables. Exports of the Präsentation page use the
same :class:`Anonymised` value, so they show exactly what the projector shows.

Against differencing (two views whose records differ by a few): conference mode applies only
whole quarters, whole days and all categories (:func:`data.privacy.conference_filters`), and
every count it shows is published through the cell key method
(:func:`data.privacy.published_counts`): a cell's number depends only on its set of records,
so the same cell gives the same number in every view, and two different sets carry
independent noise.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely

from base.i18n import fmt_number, register, t
from data.filters import Filters, complaint_mask, incident_mask
from data.folder import DataBundle
from data.kpis import population
from data.privacy import (
    assert_k_anonymous,
    below_k,
    cell_key_secret,
    check_k,
    conference_filters,
    mask_values,
    published_counts,
    record_keys,
    suppress_margin,
)
from geo import maps
from geo.cells import cell_codes
from geo.model import SpatialModel, gap, hotspots
from viz import charts, pagedata

register({
    "pres.view.hotspots": ("Hotspots (Getis-Ord Gi*)", "Hot spots (Getis-Ord Gi*)"),
    "pres.view.gap": ("Präsenzlücken", "Presence gaps"),
    "pres.view.trend": ("Beschwerden je Quartal", "Complaints per quarter"),
    "pres.view.districts": ("Bezirke im Vergleich", "Districts compared"),
    "pres.badge": ("anonymisiert (k ≥ {k})", "anonymised (k ≥ {k})"),
    "pres.badge_help": (
        "Nur zusammengefasste Zahlen: keine Einzelfälle, Adressen oder Beschreibungen. Zellen, "
        "Bezirke und Quartale mit weniger als {k} Fällen werden nicht gezeigt; alle Zahlen sind nach "
        "dem Cell-Key-Verfahren um bis zu ±2 verrauscht (gleiche Fälle, gleiche Zahl).",
        "Aggregates only: no single cases, addresses or descriptions. Cells, districts and "
        "quarters with fewer than {k} cases are not shown; every number carries noise of up to ±2 "
        "(cell key method: the same cases give the same number)."),
    "pres.suppressed": ("unterdrückt (< {k})", "suppressed (< {k})"),
    "pres.suppressed_note": ("{n} Zellen/Bezirke/Quartale mit weniger als {k} Fällen ausgeblendet.",
                             "{n} cells/districts/quarters with fewer than {k} cases hidden."),
    "pres.per_1000": ("Beschwerden je 1.000 Einwohner", "Complaints per 1,000 inhabitants"),
    "pres.incidents": ("Übergriffe auf Beschäftigte je Bezirk", "Assaults on staff per district"),
    "pres.no_gap": ("Keine Präsenzlücken mit mindestens {k} Beschwerden.",
                    "No presence gaps with at least {k} complaints."),
    "pres.alt.hotspots": (
        "Karte {scope}: {n} statistisch signifikante Hotspot-Zellen (Getis-Ord Gi*), je mindestens "
        "{k} Beschwerden.",
        "Map {scope}: {n} statistically significant hot spot cells (Getis-Ord Gi*), each with at "
        "least {k} complaints."),
    "pres.alt.gap": (
        "Karte {scope}: {n} Präsenzlücken (Hotspots mit wenig Streifenpräsenz).",
        "Map {scope}: {n} presence gaps (hot spots with little patrol presence)."),
    "pres.alt.trend": ("Liniendiagramm: Beschwerden je Quartal, {first} bis {last}.",
                       "Line chart: complaints per quarter, {first} to {last}."),
    "pres.alt.districts": ("Balkendiagramm: {metric} je Bezirk.", "Bar chart: {metric} per district."),
})

VIEWS = ("hotspots", "gap", "trend", "districts")
SHOWN_CLASSES = ("hot99", "hot95", "hot90", "cold90", "cold95", "cold99")


@dataclass(frozen=True)
class Anonymised:
    """The numbers of the conference views; every count is ≥ k or suppressed (NaN / absent)."""

    k: int
    cells: pd.DataFrame  # h3, district_id, cls, count (Gi* classes shown on the map)
    gap: pd.DataFrame  # rank, district_id, name, h3, cls, complaints, presence_minutes, main_categories
    trend: pd.DataFrame  # quarter_label, value (NaN = suppressed)
    districts: pd.DataFrame  # district_id, name, population, complaints, per_1000, patrol_hours, incidents
    suppressed: int  # how many cells, districts and quarters were hidden
    #: Totals of the filtered view (complaints, per_1000, open_complaints, staff_incidents),
    #: published like every other count (NaN: below k).
    totals: dict[str, float] = field(default_factory=dict)
    #: The filters the numbers are for (conference filters: whole quarters, days, categories).
    filters: Filters | None = None


def _district_mask(model: SpatialModel, f: Filters) -> np.ndarray:
    return model.index.district_cells(list(f.districts) if f.districts else None)


@dataclass(frozen=True, eq=False)
class _RecordKeys:
    """Record keys and cell codes of a bundle's complaints and incidents (for one model)."""

    complaints: pd.DataFrame
    secret: str
    complaint_keys: np.ndarray
    complaint_cells: np.ndarray
    incident_keys: np.ndarray


_KEYS: weakref.WeakKeyDictionary[SpatialModel, _RecordKeys] = weakref.WeakKeyDictionary()


def record_key_table(bundle: DataBundle, model: SpatialModel, secret: str) -> _RecordKeys:
    """The record keys (keyed hash of the ids) and cells of the complaints; computed once per model."""
    c = bundle["complaints"]
    found = _KEYS.get(model)
    if found is not None and found.complaints is c and found.secret == secret:
        return found
    made = _RecordKeys(
        complaints=c, secret=secret, complaint_keys=record_keys(c["complaint_id"], secret),
        complaint_cells=cell_codes(model.index, c["lat"].to_numpy(), c["lon"].to_numpy()).astype(np.int64),
        incident_keys=record_keys(bundle["staff_incidents"]["incident_id"], secret))
    _KEYS[model] = made
    return made


def _grouped(labels: np.ndarray, keys: np.ndarray, mask: np.ndarray, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(counts, key sums) per label code 0..size-1 of the records in ``mask``."""
    sel = mask & (labels >= 0)
    return (np.bincount(labels[sel], minlength=size).astype(np.float64),
            np.bincount(labels[sel], weights=keys[sel], minlength=size))


def _by_district(frame: pd.DataFrame, keys: np.ndarray, mask: np.ndarray, ids: pd.Series
                 ) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.Index(ids.astype(str)).get_indexer(frame["district_id"].astype(str))
    return _grouped(np.asarray(codes, dtype=np.int64), keys, mask, len(ids))


def anonymise(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, k: int,
              secret: str | None = None) -> Anonymised:
    """The conference views' numbers: conference filters, counts below ``k`` suppressed, every
    shown count published through the cell key method (``secret``: else LAGEBILD_CELL_KEY_SECRET)."""
    k = check_k(k)
    f = conference_filters(f)
    rk = record_key_table(bundle, model, cell_key_secret(os.environ) if secret is None else secret)
    c = bundle["complaints"]
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    hidden = 0

    spots = hotspots(model, f)
    in_view = _district_mask(model, f)
    cls = spots["cls"].astype(str).to_numpy()
    # the records behind each cell's count (the cube's: in the period, with a category)
    in_period = complaint_mask(c, replace(f, districts=())) & c["category"].notna().to_numpy()
    n_cell, key_cell = _grouped(rk.complaint_cells, rk.complaint_keys, in_period, len(model.index.cells))
    shown_cell = published_counts(n_cell, key_cell, k)
    candidate = in_view & np.isin(cls, SHOWN_CLASSES)
    small = below_k(n_cell, k) | np.isnan(shown_cell)  # (a raised k also hides what noise put below it)
    hidden += int((candidate & small & (n_cell > 0)).sum())
    keep = candidate & ~small
    cells = pd.DataFrame({"h3": spots["h3"].to_numpy()[keep],
                          "district_id": model.index.district[keep].astype(str),
                          "cls": cls[keep], "count": shown_cell[keep].astype(int)})
    cell_pos = pd.Series(np.arange(len(model.index.cells)), index=pd.Index(model.index.cells).astype(str))

    g = gap(model, f, spots)
    pos = cell_pos.reindex(g["h3"].astype(str)).to_numpy()
    small_gap = (below_k(n_cell[pos], k) | np.isnan(shown_cell[pos])) if len(g) else np.zeros(0, dtype=bool)
    hidden += int(small_gap.sum())
    g = g.loc[~small_gap].reset_index(drop=True)
    g_shown = shown_cell[pos[~small_gap]] if len(g) else np.zeros(0)
    labels = bundle.category_labels(lang)
    gap_frame = pd.DataFrame({
        "rank": np.arange(1, len(g) + 1),
        "district_id": g["district_id"].astype(str),
        "name": g["district_id"].map(lambda d: names.get(d, d)),
        "h3": g["h3"].astype(str),
        "cls": g["cls"].astype(str),
        "complaints": g_shown.astype(int),
        "presence_minutes": g["presence_minutes"].round(0),
        "main_categories": g["main_categories"].map(
            lambda s: ", ".join(labels.get(c, c) for c in str(s).split(",") if c)),
    })

    series = pagedata.quarter_series(bundle, f)
    quarters = bundle.quarters()
    in_period = np.array([f.q_from <= q <= f.q_to for q in quarters], dtype=bool)
    q_codes = pd.Categorical(c["quarter"], categories=quarters).codes.astype(np.int64)
    in_filter = complaint_mask(c, f, quarters=quarters)
    values, q_keys = _grouped(q_codes, rk.complaint_keys, in_filter, len(quarters))
    trend_hidden = below_k(values, k)
    if in_period.any():  # the period's quarters add up to the district totals: one margin
        trend_hidden[in_period] = suppress_margin(values[in_period], k)
    hidden += int((trend_hidden & (values > 0)).sum())
    trend = pd.DataFrame({"quarter_label": series["quarter_label"],
                          "value": mask_values(pd.Series(published_counts(values, q_keys, k)),
                                               trend_hidden).to_numpy()})

    table = pagedata.district_table(bundle, model, f)
    if f.districts:
        table = table[table["district_id"].isin(f.districts)].reset_index(drop=True)
    all_f = replace(f, districts=())
    n_d, key_d = _by_district(c, rk.complaint_keys, complaint_mask(c, all_f), table["district_id"])
    inc = bundle["staff_incidents"]
    n_i, key_i = _by_district(inc, rk.incident_keys, incident_mask(inc, all_f), table["district_id"])
    c_hidden = suppress_margin(n_d, k)
    i_hidden = suppress_margin(n_i, k)
    hidden += int((c_hidden & (n_d > 0)).sum())
    shown_d = mask_values(pd.Series(published_counts(n_d, key_d, k)), c_hidden)
    pop = table["population"].astype("float64").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_1000 = np.where(pop > 0, shown_d.to_numpy() / pop * 1000, np.nan)
    districts = pd.DataFrame({
        "district_id": table["district_id"].astype(str),
        "name": table["name"].astype(str),
        "population": table["population"],
        "complaints": shown_d.to_numpy(),
        "per_1000": per_1000,
        "patrol_hours": table["patrol_hours"].round(1),
        "incidents": mask_values(pd.Series(published_counts(n_i, key_i, k)), i_hidden).to_numpy(),
    })
    out = Anonymised(k=k, cells=cells, gap=gap_frame, trend=trend, districts=districts, suppressed=hidden,
                     totals=_totals(bundle, rk, f, k), filters=f)
    check(out)
    return out


def _totals(bundle: DataBundle, rk: _RecordKeys, f: Filters, k: int) -> dict[str, float]:
    """The view's totals (the report's KPI tiles), published through the cell key method."""
    c, inc = bundle["complaints"], bundle["staff_incidents"]
    cur = complaint_mask(c, f)
    open_ = cur & (c["closed_quarter"].to_numpy() > f.q_to)
    inc_mask = incident_mask(inc, f)
    sums = {"complaints": (cur.sum(), rk.complaint_keys[cur].sum()),
            "open_complaints": (open_.sum(), rk.complaint_keys[open_].sum()),
            "staff_incidents": (inc_mask.sum(), rk.incident_keys[inc_mask].sum())}
    out = {name: float(published_counts(np.array([n]), np.array([s]), k)[0]) for name, (n, s) in sums.items()}
    pop = population(bundle["districts"], f)
    out["per_1000"] = out["complaints"] / pop * 1000 if pop else float("nan")
    return out


def check(anon: Anonymised) -> None:
    """``ValueError`` if any count of ``anon`` is below its k (a guard before showing/exporting)."""
    assert_k_anonymous(anon.cells, ["count"], anon.k, "hotspot cells")
    assert_k_anonymous(anon.gap, ["complaints"], anon.k, "presence gaps")
    assert_k_anonymous(anon.trend, ["value"], anon.k, "trend")
    assert_k_anonymous(anon.districts, ["complaints", "incidents"], anon.k, "districts")


def bounds(bundle: DataBundle, f: Filters) -> tuple[float, float, float, float]:
    d = bundle["districts"]
    if f.districts:
        d = d[d["district_id"].isin(f.districts)]
    xmin, ymin, xmax, ymax = shapely.total_bounds(d["geometry"].to_numpy())
    return (float(xmin), float(ymin), float(xmax), float(ymax))


def _district_frame(bundle: DataBundle, anon: Anonymised, lang: str) -> pd.DataFrame:
    frame = bundle["districts"][["district_id", "geometry"]].merge(
        anon.districts[["district_id", "name", "complaints"]], on="district_id", how="inner")
    frame = frame.rename(columns={"complaints": "value"})
    suppressed = t("pres.suppressed", lang, k=anon.k)
    frame["value_label"] = frame["value"].map(
        lambda v: suppressed if pd.isna(v) else fmt_number(v, lang))
    return frame


def hotspot_map(bundle: DataBundle, anon: Anonymised, f: Filters, lang: str, tiles: str):
    """Districts (complaints, suppressed below k) and the Gi* hot/cold spot cells (≥ k)."""
    m = maps.base_map(bounds(bundle, f), tiles=tiles, lang=lang)
    maps.add_districts(m, _district_frame(bundle, anon, lang), t("metric.complaints", lang), lang,
                       palette="cividis")
    maps.add_hotspots(m, anon.cells, lang)
    return m


def gap_map(bundle: DataBundle, anon: Anonymised, f: Filters, lang: str, tiles: str):
    """Districts (outline, complaints) and the presence gap cells (≥ k complaints)."""
    m = maps.base_map(bounds(bundle, f), tiles=tiles, lang=lang)
    maps.add_districts(m, _district_frame(bundle, anon, lang), t("metric.complaints", lang), lang,
                       palette="cividis", show=True)
    names = dict(zip(anon.districts["district_id"], anon.districts["name"], strict=True))
    maps.add_gap(m, anon.gap, lang, district_names=names)
    return m


def trend_figure(anon: Anonymised, lang: str) -> go.Figure:
    fig = charts.quarter_trend(anon.trend, lang, t("pres.view.trend", lang),
                               y_title=t("chart.complaints", lang))
    return fig


def district_figure(anon: Anonymised, lang: str, metric: str = "per_1000") -> go.Figure:
    if metric not in ("per_1000", "complaints", "incidents", "patrol_hours"):
        raise ValueError(f"metric must be per_1000, complaints, incidents or patrol_hours, got {metric!r}")
    title = t("pres.per_1000", lang) if metric == "per_1000" else (
        t("pres.incidents", lang) if metric == "incidents" else t(f"chart.metric.{metric}", lang))
    data = anon.districts[["name", metric]]
    fig = charts.district_comparison(data, metric, lang, title)
    hidden = data[data[metric].isna()]
    if metric != "patrol_hours" and len(hidden):  # say so instead of drawing nothing
        fig.add_trace(go.Scatter(
            x=[0] * len(hidden), y=hidden["name"].map(charts.esc), mode="text",
            text=[t("pres.suppressed", lang, k=anon.k)] * len(hidden), textposition="middle right",
            textfont={"color": "#333333"}, hoverinfo="skip", showlegend=False))
        values = pd.to_numeric(data[metric], errors="coerce")
        top = float(values.max()) if values.notna().any() else 1.0
        fig.update_xaxes(range=[0, max(top, 1.0) * 1.1], showticklabels=bool(values.notna().any()))
    return fig


def gap_table(anon: Anonymised, lang: str) -> pd.DataFrame:
    """The anonymised gap list with translated headers (no coordinates, no cell ids)."""
    return pd.DataFrame({
        t("col.rank", lang): anon.gap["rank"],
        t("col.district", lang): anon.gap["name"],
        t("col.confidence", lang): anon.gap["cls"].map({"hot99": "99 %", "hot95": "95 %"}),
        t("col.complaints", lang): anon.gap["complaints"],
        t("col.presence_minutes", lang): anon.gap["presence_minutes"].astype(int),
        t("col.main_categories", lang): anon.gap["main_categories"],
    })


def district_display(anon: Anonymised, lang: str) -> pd.DataFrame:
    """The district comparison with translated headers; suppressed values read "< k"."""
    suppressed = t("pres.suppressed", lang, k=anon.k)

    def show(values: pd.Series, decimals: int = 0) -> list[str]:
        return [suppressed if pd.isna(v) else fmt_number(float(v), lang, decimals) for v in values]

    d = anon.districts
    return pd.DataFrame({
        t("col.district", lang): d["name"],
        t("col.complaints", lang): show(d["complaints"]),
        t("col.per_1000", lang): show(d["per_1000"], 1),
        t("col.patrol_hours", lang): [fmt_number(float(v), lang) for v in d["patrol_hours"]],
        t("col.incidents", lang): show(d["incidents"]),
    })


def alt_text(view: str, anon: Anonymised, scope: str, lang: str) -> str:
    """A short description of a view's image (alt text of exported images)."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if view == "hotspots":
        n = int(anon.cells["cls"].str.startswith("hot").sum())
        return t("pres.alt.hotspots", lang, scope=scope, n=n, k=anon.k)
    if view == "gap":
        return t("pres.alt.gap", lang, scope=scope, n=len(anon.gap))
    if view == "trend":
        labels = anon.trend["quarter_label"].tolist() or ["–"]
        return t("pres.alt.trend", lang, first=labels[0], last=labels[-1])
    return t("pres.alt.districts", lang, metric=t("pres.per_1000", lang))


def projector_style(fig: go.Figure, height: int = 620) -> go.Figure:
    """Large type and strong contrast for a projector (black text, thicker lines)."""
    fig.update_layout(font={"size": 22, "color": "#000000"}, title_font={"size": 28}, height=height,
                      margin={"l": 20, "r": 20, "t": 70, "b": 20}, paper_bgcolor="#ffffff",
                      plot_bgcolor="#ffffff", hoverlabel={"font": {"size": 20}})
    axis = {"linecolor": "#000000", "tickfont": {"size": 20, "color": "#000000"}, "gridcolor": "#d0d0d0",
            "title_font": {"size": 20, "color": "#000000"}}
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    fig.update_traces(selector={"type": "scatter", "mode": "lines+markers"}, line={"width": 4},
                      marker={"size": 12})
    fig.update_traces(selector={"type": "scatter", "mode": "text"}, textfont={"size": 20})
    return fig


def cells_for_export(anon: Anonymised) -> pd.DataFrame:
    """The cells of the conference views for a GeoJSON export: Gi* classes and gap ranks (≥ k)."""
    ranks = dict(zip(anon.gap["h3"], anon.gap["rank"], strict=True))
    out = anon.cells.copy()
    out["gap_rank"] = out["h3"].map(ranks)
    extra = anon.gap[~anon.gap["h3"].isin(out["h3"])]
    if len(extra):
        out = pd.concat([out, pd.DataFrame({"h3": extra["h3"], "district_id": extra["district_id"],
                                            "cls": extra["cls"], "count": extra["complaints"],
                                            "gap_rank": extra["rank"]})], ignore_index=True)
    assert_k_anonymous(out, ["count"], anon.k, "exported cells")
    return out


MAP_VIEWS = ("hotspots", "gap")
CHART_VIEWS = ("trend", "districts")


def export_views(view: str) -> tuple[str, str]:
    """(map view, chart view) whose map and chart a view exports: its own, else the first."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return (view if view in MAP_VIEWS else MAP_VIEWS[0], view if view in CHART_VIEWS else CHART_VIEWS[0])


def view_map(bundle: DataBundle, anon: Anonymised, f: Filters, lang: str, tiles: str, view: str):
    """The map of a map view (``hotspots`` or ``gap``)."""
    if view not in MAP_VIEWS:
        raise ValueError(f"map view must be one of {MAP_VIEWS}, got {view!r}")
    return (hotspot_map if view == "hotspots" else gap_map)(bundle, anon, f, lang, tiles)


def view_chart(anon: Anonymised, lang: str, view: str) -> go.Figure:
    """The (main) chart of a chart view (``trend`` or ``districts``)."""
    if view not in CHART_VIEWS:
        raise ValueError(f"chart view must be one of {CHART_VIEWS}, got {view!r}")
    return trend_figure(anon, lang) if view == "trend" else district_figure(anon, lang, "per_1000")
