"""Text alternatives of the maps: a short description and data tables (no streamlit).

Each page shows, next to a map, what it shows in words (:attr:`MapAlt.description`) and
its data as tables (:attr:`MapAlt.tables`): the districts with the chosen metric, the hot
spot cells by class (the class as a word, never only a colour), the presence gaps and the
offices. Builders take the same inputs as the map builders in :mod:`viz.pagedata` and
:mod:`viz.presentation`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from base.i18n import fmt_number, register, t
from data.contracts import OFFICE_KINDS
from data.filters import Filters
from data.folder import DataBundle
from geo import maps
from geo.cells import cells_frame
from geo.model import SpatialModel, emerging, hotspots, memoised
from viz import pagedata
from viz.alt_text import join_names

register({
    "malt.districts": ("Bezirke nach {metric}: am höchsten {top}, am niedrigsten {low}.",
                       "Districts by {metric}: highest {top}, lowest {low}."),
    "malt.offices": ("{n} Dienststellen als Symbole: {names}.", "{n} offices as symbols: {names}."),
    "malt.hot": ("Hotspots (Gi*): {hot} Zellen mit signifikant vielen Beschwerden (99 %: {h99}, 95 %: {h95}, "
                 "90 %: {h90}), die meisten in {where}; {cold} Coldspot-Zellen.",
                 "Hot spots (Gi*): {hot} cells with significantly many complaints (99%: {h99}, 95%: {h95}, "
                 "90%: {h90}), most of them in {where}; {cold} cold spot cells."),
    "malt.no_hot": ("Keine signifikanten Hotspots in dieser Auswahl.",
                    "No significant hot spots in this selection."),
    "malt.gap": ("{n} Präsenzlücken (Hotspots mit wenig Streifenpräsenz); Rang 1 in {district} mit "
                 "{complaints} Beschwerden und {minutes} Minuten Präsenz.",
                 "{n} presence gaps (hot spots with little patrol presence); rank 1 in {district} with "
                 "{complaints} complaints and {minutes} minutes of presence."),
    "malt.no_gap": ("Keine Präsenzlücken in dieser Auswahl.", "No presence gaps in this selection."),
    "malt.emerging": ("Hotspot-Muster über {n} Quartale je Zelle: {counts}.",
                      "Hot spot patterns over {n} quarters per cell: {counts}."),
    "malt.presence": ("Streifenpräsenz je Zelle nach Streifenart ({kinds}); Streifenstunden je Bezirk: "
                      "am meisten {top}, am wenigsten {low}.",
                      "Patrol presence per cell by patrol kind ({kinds}); patrol hours per district: "
                      "most {top}, least {low}."),
    "malt.t.districts": ("Bezirke: {metric}", "Districts: {metric}"),
    "malt.t.hot_by_district": ("Hotspot-Zellen je Bezirk und Klasse", "Hot spot cells by district and class"),
    "malt.t.hot_top": ("Die {n} deutlichsten Hotspot-Zellen", "The {n} clearest hot spot cells"),
    "malt.t.gap": ("Präsenzlücken", "Presence gaps"),
    "malt.t.offices": ("Dienststellen", "Offices"),
    "malt.t.emerging": ("Hotspot-Muster je Bezirk", "Hot spot patterns by district"),
    "malt.t.presence": ("Streifenstunden je Bezirk", "Patrol hours by district"),
    "malt.class": ("Klasse", "Class"),
    "malt.z": ("Gi* z", "Gi* z"),
    "malt.kind": ("Art", "Kind"),
    "malt.address": ("Adresse", "Address"),
    "malt.hours": ("Öffnungszeiten", "Opening hours"),
})

TOP_CELLS = 25


@dataclass(frozen=True)
class MapAlt:
    """What a map shows, in words and tables."""

    description: str
    tables: tuple[tuple[str, pd.DataFrame], ...]


def _extremes(names: pd.Series, values: pd.Series, lang: str, decimals: int) -> tuple[str, str]:
    v = pd.to_numeric(values, errors="coerce")
    if not v.notna().any():
        return "–", "–"
    hi, lo = v.idxmax(), v.idxmin()
    return (f"{names[hi]} ({fmt_number(float(v[hi]), lang, decimals)})",
            f"{names[lo]} ({fmt_number(float(v[lo]), lang, decimals)})")


def districts_part(frame: pd.DataFrame, metric_title: str, lang: str, decimals: int = 1
                   ) -> tuple[str, tuple[str, pd.DataFrame]]:
    """``frame``: name, value, value_label (as drawn on the choropleth)."""
    data = frame.reset_index(drop=True)
    top, low = _extremes(data["name"], data["value"], lang, decimals)
    table = pd.DataFrame({t("col.district", lang): data["name"], metric_title: data["value_label"]})
    order = pd.to_numeric(data["value"], errors="coerce").fillna(-np.inf).sort_values(ascending=False).index
    return (t("malt.districts", lang, metric=metric_title, top=top, low=low),
            (t("malt.t.districts", lang, metric=metric_title), table.loc[order].reset_index(drop=True)))


def offices_part(offices: pd.DataFrame, lang: str) -> tuple[str, tuple[str, pd.DataFrame]]:
    table = pd.DataFrame({
        "Name": offices["name"],
        t("malt.kind", lang): offices["kind"].map(
            lambda k: t(f"office.{k}", lang) if k in OFFICE_KINDS else k),
    })
    for col, key in (("address", "malt.address"), ("opening_hours", "malt.hours")):
        if col in offices.columns:
            table[t(key, lang)] = offices[col].fillna("")
    return (t("malt.offices", lang, n=len(offices), names=join_names(offices["name"].tolist(), lang)),
            (t("malt.t.offices", lang), table.reset_index(drop=True)))


def crosstab(rows: pd.Series, cols: pd.Series) -> pd.DataFrame:
    """``pd.crosstab(rows, cols)`` (counts, both axes sorted and named after the series) in a
    fraction of its time: it runs on every first view of a filter state."""
    if len(rows) != len(cols):
        raise ValueError(f"rows and cols must have the same length, got {len(rows)} and {len(cols)}")
    r_name, c_name = rows.name if rows.name is not None else "row_0", \
        cols.name if cols.name is not None else "col_0"
    pairs = pd.DataFrame({0: rows.to_numpy(), 1: cols.to_numpy()})
    table = pairs.groupby([0, 1]).size().unstack(fill_value=0)
    table.index.name, table.columns.name = r_name, c_name
    return table


#: The hot classes, strongest first (the order of the strongest cells' table).
HOT_CLASSES = ("hot99", "hot95", "hot90")


def hotspot_part(cells: pd.DataFrame, district_names: dict[str, str], lang: str
                 ) -> tuple[str, tuple[tuple[str, pd.DataFrame], ...]]:
    """``cells``: h3, district_id, cls, count; optional z, lat, lon.

    Counted and ranked on numpy arrays (small pandas operations on text columns cost tens of
    microseconds each, and this runs at every first view of a filter state)."""
    cls_all = cells["cls"].to_numpy(dtype=object).astype(str)
    shown = np.flatnonzero(cls_all != "none")  # (only classified cells are named)
    cls = cls_all[shown]
    hot = np.isin(cls, HOT_CLASSES)
    if not hot.any():
        return t("malt.no_hot", lang), ()
    names = np.array([district_names.get(d, d) for d in cells["district_id"].to_numpy(dtype=object)[shown]],
                     dtype=object)
    # hot and cold cells per district (rows: names sorted; columns: the classes present)
    row_names, row = np.unique(names.astype(str), return_inverse=True)
    order = [c for c in maps.HOTSPOT_CLASSES if (cls == c).any()]
    col = np.array([order.index(c) for c in cls.tolist()], dtype=np.int64)
    counts = np.zeros((len(row_names), len(order)), dtype=np.int64)
    np.add.at(counts, (row.reshape(-1), col), 1)
    by = pd.DataFrame(counts, index=pd.Index(row_names.astype(object), name="district_id"),
                      columns=pd.Index(order, name="cls"))
    by = by.rename(columns={c: t(f"map.hot.{c}", lang) for c in order})
    by = by.sort_values(by.columns[0], ascending=False).reset_index()
    by = by.rename(columns={by.columns[0]: t("col.district", lang)})
    kinds, numbers = np.unique(cls, return_counts=True)
    per_class = dict.fromkeys(maps.HOTSPOT_CLASSES, 0) | dict(zip(kinds.tolist(), numbers.tolist(),
                                                                  strict=True))
    where = pd.Series(names[hot], dtype=object).value_counts()
    cold = sum(per_class.get(c, 0) for c in ("cold90", "cold95", "cold99"))
    text = t("malt.hot", lang, hot=int(hot.sum()), h99=per_class["hot99"], h95=per_class["hot95"],
             h90=per_class["hot90"], where=f"{where.index[0]} ({where.iloc[0]})", cold=cold)
    # the strongest hot cells: by class, then z (or count) descending, missing last; stable
    rows = shown[hot]
    rank = np.array([HOT_CLASSES.index(c) for c in cls[hot].tolist()], dtype=np.int64)
    second = "z" if "z" in cells.columns else "count"
    strength = cells[second].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    top_rows = rows[np.lexsort((-strength, rank))[:TOP_CELLS]]
    labels = {c: t(f"map.hot.{c}", lang) for c in HOT_CLASSES}
    top = pd.DataFrame({
        t("malt.class", lang): [labels[c] for c in cls_all[top_rows].tolist()],
        t("col.district", lang): [district_names.get(d, d)
                                  for d in cells["district_id"].to_numpy(dtype=object)[top_rows].tolist()],
        t("col.complaints", lang): cells["count"].to_numpy()[top_rows],
    })
    if "z" in cells.columns:
        top[t("malt.z", lang)] = cells["z"].to_numpy()[top_rows].round(2)
    for c, key in (("lat", "col.lat"), ("lon", "col.lon")):
        if c in cells.columns:
            top[t(key, lang)] = cells[c].to_numpy()[top_rows].round(5)
    top[t("col.cell", lang)] = cells["h3"].to_numpy()[top_rows]
    return text, ((t("malt.t.hot_by_district", lang), by),
                  (t("malt.t.hot_top", lang, n=len(top)), top))


def gap_part(gaps: pd.DataFrame, lang: str) -> tuple[str, tuple[str, pd.DataFrame]] | tuple[str, None]:
    """``gaps``: the displayed gap table (:func:`viz.pagedata.gap_table` or the anonymised one)."""
    if gaps.empty:
        return t("malt.no_gap", lang), None
    first = gaps.iloc[0]
    minutes = first.get(t("col.presence_minutes", lang), "–")
    text = t("malt.gap", lang, n=len(gaps), district=first.get(t("col.district", lang), "–"),
             complaints=first.get(t("col.complaints", lang), "–"),
             minutes=minutes if isinstance(minutes, str) else fmt_number(float(minutes), lang))
    return text, (t("malt.t.gap", lang), gaps)


def _cells_with_district(model: SpatialModel, frame: pd.DataFrame) -> pd.DataFrame:
    where = cells_frame(model.index)[["district_id", "lat", "lon"]]
    return pd.concat([frame.reset_index(drop=True), where.reset_index(drop=True)], axis=1)


def _in(model: SpatialModel, f: Filters, frame: pd.DataFrame) -> pd.DataFrame:
    if not f.districts:
        return frame
    return frame[frame["district_id"].isin(f.districts)].reset_index(drop=True)


def _build(parts: list[tuple[str, object]]) -> MapAlt:
    text = " ".join(p[0] for p in parts)
    tables: list[tuple[str, pd.DataFrame]] = []
    for _text, tabs in parts:
        if tabs is None:
            continue
        if isinstance(tabs, tuple) and len(tabs) == 2 and isinstance(tabs[1], pd.DataFrame):
            tables.append(tabs)
        else:
            tables.extend(tabs)
    return MapAlt(text, tuple(tables))


def _district_frame(bundle: DataBundle, model: SpatialModel, f: Filters, metric: str, lang: str):
    return pagedata.district_layer(bundle, model, f, metric, lang)


def overview(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str) -> MapAlt:
    frame, title = _district_frame(bundle, model, f, "per_1000", lang)
    return _build([districts_part(frame, title, lang), offices_part(bundle["offices"], lang)])


def _names(bundle: DataBundle) -> dict[str, str]:
    d = bundle["districts"]
    return dict(zip(d["district_id"], d["name"], strict=True))


def hotspot_cells(model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Gi* of the cells with their district and centre, of the districts ``f`` selects. The
    city-wide table is made once per city-wide filter state (shared: a copy is returned)."""
    city = replace(f, districts=())
    table = memoised(model, ("map_alt.hotspot_cells", city),
                     lambda: _cells_with_district(model, hotspots(model, city)))
    return _in(model, f, table.copy())


def lagebild(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, metric: str) -> MapAlt:
    frame, title = _district_frame(bundle, model, f, metric, lang)
    decimals = 0 if metric in ("complaints", "patrol_hours") else 1
    return _build([districts_part(frame, title, lang, decimals),
                   hotspot_part(hotspot_cells(model, f), _names(bundle), lang),
                   gap_part(pagedata.gap_table(bundle, model, f, lang), lang),
                   offices_part(bundle["offices"], lang)])


def presence(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str) -> MapAlt:
    table = pagedata.district_table(bundle, model, f)
    top, low = _extremes(table["name"], table["patrol_hours"], lang, 0)
    kinds = ", ".join(t(f"kind.{k}", lang) for k in f.patrol_kinds())
    hours = pd.DataFrame({t("col.district", lang): table["name"],
                          t("col.patrol_hours", lang): table["patrol_hours"].round(0),
                          t("col.joint_share", lang): (table["joint_share"] * 100).round(0)})
    return _build([(t("malt.presence", lang, kinds=kinds, top=top, low=low),
                    (t("malt.t.presence", lang), hours)),
                   gap_part(pagedata.gap_table(bundle, model, f, lang), lang),
                   offices_part(bundle["offices"], lang)])


def hotspot(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str) -> MapAlt:
    return _build([hotspot_part(hotspot_cells(model, f), _names(bundle), lang)])


def emerging_patterns(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str,
                      quarters: list[int]) -> MapAlt:
    table = _in(model, f, _cells_with_district(model, emerging(model, f, quarters)))
    cls = table["cls"].astype(str)
    names = table["district_id"].map(lambda d: _names(bundle).get(d, d))
    shown = cls != "none"
    order = [c for c in maps.EMERGING_CLASSES if (cls == c).any()]
    counts = ", ".join(f"{t(f'map.emerging.{c}', lang)} {int((cls == c).sum())}" for c in order) or "–"
    by = crosstab(names[shown], cls[shown]) if shown.any() else pd.DataFrame()
    if not by.empty:
        by = by[order].rename(columns={c: t(f"map.emerging.{c}", lang) for c in order}).reset_index()
        by = by.rename(columns={by.columns[0]: t("col.district", lang)})
    return MapAlt(t("malt.emerging", lang, n=len(quarters), counts=counts),
                  ((t("malt.t.emerging", lang), by),) if not by.empty else ())


def presentation(bundle: DataBundle, anon, lang: str, view: str, gap_display: pd.DataFrame) -> MapAlt:
    """The Präsentation maps: only the anonymised aggregates (``anon``)."""
    if view == "gap":
        return _build([gap_part(gap_display, lang)])
    return _build([hotspot_part(anon.cells, _names(bundle), lang)])
