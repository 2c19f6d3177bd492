"""The Lagebild as a GeoPackage for the partners' GIS (QGIS opens it styled).

One file with four layers for the filters of a view:

- ``districts``: polygons with the district table (complaints, per 1,000, trend z and signal,
  patrol hours, joint share, open complaints, staff incidents) and ``metric``, the value of
  the chosen map metric; graduated style on ``metric``;
- ``cells``: H3 cells of the selected districts with complaints, presence or a class:
  complaints, Gi* z and class, emerging hot spot class, presence minutes per patrol kind
  and in total, ``gap`` (1 = a presence gap of the ranked list); categorized on ``gi_class``;
- ``offices`` (points) and ``focus_areas`` (polygons), categorized on ``kind``.

EPSG:25832 (ETRS89 / UTM 32N, the NRW standard) by default, EPSG:4326 on request. Each layer
gets a QGIS style (QML, and a simple SLD) in the ``layer_styles`` table with ``useAsDefault``
= 1, which QGIS applies when the layer is opened.

Roles apply as for every export: the bundle is already restricted to the principal's
districts (:func:`data.roles.restrict`); for a *viewer* every complaint and incident count
below ``k`` is suppressed (districts: with secondary suppression over the margin, as the
conference mode does; cells: count, Gi*, emerging class and gap flag emptied), checked by
:func:`data.privacy.assert_k_anonymous` before the file is written. No layer holds single
complaints.
"""

from __future__ import annotations

import html
import os
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import shapely

from base.i18n import t
from data.filters import Filters
from data.folder import DataBundle
from data.privacy import assert_k_anonymous, below_k, k_from_env, mask_values, suppress_margin
from data.roles import Principal
from geo import maps
from geo.model import SpatialModel, emerging, emerging_quarters, gap, hotspots, presence_minutes
from viz import pagedata

CRS_CHOICES = (25832, 4326)
LAYERS = ("districts", "cells", "offices", "focus_areas")
METRIC_COLUMNS = {"per_1000": "per_1000", "complaints": "complaints", "patrol_hours": "patrol_hours",
                  "trend": "z"}


@dataclass(frozen=True)
class GpkgLayer:
    name: str
    frame: pd.DataFrame  # attribute columns + "geometry" (WGS84 shapely)
    geometry_type: str
    qml: str
    sld: str


# --- layer data ------------------------------------------------------------------------------------

def _district_layer(bundle: DataBundle, model: SpatialModel, f: Filters, metric: str, k: int | None
                    ) -> pd.DataFrame:
    table = pagedata.district_table(bundle, model, f)
    if f.districts:
        table = table[table["district_id"].isin(f.districts)].reset_index(drop=True)
    if k is not None:
        c_hidden = suppress_margin(table["complaints"], k)
        i_hidden = suppress_margin(table["incidents"], k)
        for col in ("complaints", "per_1000", "z"):
            table[col] = mask_values(table[col], c_hidden)
        table["signal"] = table["signal"].where(~c_hidden, None)
        table["previous"] = mask_values(table["previous"], below_k(table["previous"], k) | c_hidden)
        table["open"] = mask_values(table["open"], below_k(table["open"], k) | c_hidden)
        table["incidents"] = mask_values(table["incidents"], i_hidden)
    table["metric"] = pd.to_numeric(table[METRIC_COLUMNS[metric]], errors="coerce").astype("float64")
    table["metric_name"] = metric
    geoms = bundle["districts"].set_index("district_id")["geometry"]
    table["geometry"] = table["district_id"].map(geoms)
    out = table.drop(columns=["signal"]).assign(signal=table["signal"].astype(object))
    for col in ("per_1000", "z", "hours_per_1000", "joint_share", "patrol_hours"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64").round(3)
    return out


def cell_layer(bundle: DataBundle, model: SpatialModel, f: Filters, k: int | None) -> pd.DataFrame:
    """The cells layer's attributes (h3, district_id, complaints, gi_z, gi_class, emerging_class,
    presence_kod/joint/police/total minutes, gap) without geometry."""
    spots = hotspots(model, f)
    n = len(spots)
    presence = presence_minutes(model, f)
    quarters = emerging_quarters(f, bundle.quarters())
    if quarters:
        em = emerging(model, f, quarters)["cls"].astype(str).to_numpy()
    else:
        em = np.full(n, "none", dtype=object)
    gaps = set(gap(model, f, spots)["h3"].astype(str))
    frame = pd.DataFrame({
        "h3": spots["h3"].astype(str).to_numpy(),
        "district_id": model.index.district.astype(str),
        "complaints": spots["count"].to_numpy().astype("float64"),
        "gi_z": spots["z"].to_numpy().astype("float64").round(3),
        "gi_class": spots["cls"].astype(str).to_numpy().astype(object),
        "emerging_class": np.asarray(em, dtype=object),
    })
    for kind in ("kod", "joint", "police"):
        values = presence.get(kind)
        frame[f"presence_{kind}_min"] = np.round(values, 1) if values is not None else 0.0
    frame["presence_total_min"] = np.round(presence["total"], 1)
    frame["gap"] = frame["h3"].isin(gaps).astype("int64")
    keep = model.index.district_cells(list(f.districts) if f.districts else None)
    keep &= ((frame["complaints"].to_numpy() > 0) | (frame["gi_class"].to_numpy() != "none")
             | (frame["presence_total_min"].to_numpy() > 0) | (frame["emerging_class"].to_numpy() != "none"))
    frame = frame.loc[keep].reset_index(drop=True)
    if k is not None:
        hidden = below_k(frame["complaints"], k)
        frame["complaints"] = mask_values(frame["complaints"], hidden)
        frame["gi_z"] = mask_values(frame["gi_z"], hidden)
        for col in ("gi_class", "emerging_class"):
            frame[col] = frame[col].where(~hidden, None)
        frame["gap"] = frame["gap"].where(~hidden, 0)
        assert_k_anonymous(frame, ["complaints"], k, "exported cells")
    return frame


def _hexagon(cell: str) -> shapely.Polygon:
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    return shapely.Polygon(ring)


def export_layers(bundle: DataBundle, model: SpatialModel, f: Filters, principal: Principal,
                  metric: str = "per_1000", lang: str = "de", k: int | None = None) -> list[GpkgLayer]:
    """The four layers for a view (see the module docstring). ``k`` (viewers only; default
    ``LAGEBILD_K`` or 5) is the suppression threshold."""
    if metric not in METRIC_COLUMNS:
        raise ValueError(f"metric must be one of {tuple(METRIC_COLUMNS)}, got {metric!r}")
    kk = (k if k is not None else k_from_env(os.environ)) if principal.role == "viewer" else None
    districts = _district_layer(bundle, model, f, metric, kk)
    if kk is not None:
        assert_k_anonymous(districts, ["complaints", "incidents", "previous", "open"], kk,
                           "exported districts")
    cells = cell_layer(bundle, model, f, kk)
    cells["geometry"] = [_hexagon(c) for c in cells["h3"]]
    offices = bundle["offices"]
    if f.districts and "district_id" in offices.columns:
        offices = offices[offices["district_id"].astype(object).isin(f.districts)]
    office_cols = [c for c in ("office_id", "name", "kind", "operator", "address", "phone", "opening_hours",
                               "district_id") if c in offices.columns]
    offices = offices[office_cols].reset_index(drop=True).assign(
        geometry=shapely.points(offices["lon"].to_numpy(float), offices["lat"].to_numpy(float)))
    areas = bundle["focus_areas"]
    area_cols = [c for c in ("area_id", "name", "kind", "since", "until") if c in areas.columns]
    areas = areas[[*area_cols, "geometry"]].reset_index(drop=True)
    title = {"districts": t(f"metric.{metric}", lang)}
    return [
        GpkgLayer("districts", districts, "MULTIPOLYGON",
                  _graduated_qml("metric", districts["metric"],
                                 maps.TREND_PALETTE if metric == "trend" else "viridis"),
                  _sld("districts", title["districts"], "#21918c", "polygon")),
        GpkgLayer("cells", cells, "POLYGON",
                  _categorized_qml("gi_class", {**maps.HOTSPOT_COLORS, "none": "#d9d9d9"}, "fill", 0.2),
                  _sld("cells", "cells", "#ef8a62", "polygon")),
        GpkgLayer("offices", offices, "POINT",
                  _categorized_qml("kind", _OFFICE_COLORS, "marker"), _sld("offices", "offices", "#0072B2",
                                                                           "point")),
        GpkgLayer("focus_areas", areas, "MULTIPOLYGON",
                  _categorized_qml("kind", {"schwerpunkt": "#D55E00", "angstraum": "#CC79A7"}, "line"),
                  _sld("focus_areas", "focus areas", "#D55E00", "line")),
    ]


_OFFICE_COLORS = {"citywache": "#0072B2", "buergerbuero": "#009E73", "police_station": "#E69F00",
                  "ordnungsamt": "#56B4E9", "other": "#7f7f7f"}


# --- QGIS styles -----------------------------------------------------------------------------------

def _rgba(hex_color: str, alpha: float = 1.0) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _symbol(name: str, kind: str, color: str, alpha: float = 0.7) -> str:
    if kind == "marker":
        return (f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
                f'<layer class="SimpleMarker" enabled="1" pass="0" locked="0"><Option type="Map">'
                f'<Option type="QString" name="color" value="{_rgba(color)}"/>'
                f'<Option type="QString" name="outline_color" value="255,255,255,255"/>'
                f'<Option type="QString" name="name" value="circle"/>'
                f'<Option type="QString" name="size" value="3.6"/></Option></layer></symbol>')
    if kind == "line":  # an outlined polygon (focus areas: hatched outline only)
        return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
                f'<layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">'
                f'<Option type="QString" name="color" value="{_rgba(color, 0.15)}"/>'
                f'<Option type="QString" name="outline_color" value="{_rgba(color)}"/>'
                f'<Option type="QString" name="outline_style" value="dash"/>'
                f'<Option type="QString" name="outline_width" value="0.8"/>'
                f'<Option type="QString" name="style" value="solid"/></Option></layer></symbol>')
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">'
            f'<Option type="QString" name="color" value="{_rgba(color, alpha)}"/>'
            f'<Option type="QString" name="outline_color" value="51,51,51,255"/>'
            f'<Option type="QString" name="outline_width" value="0.3"/>'
            f'<Option type="QString" name="style" value="solid"/></Option></layer></symbol>')


def _qml(renderer: str) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.34.0" styleCategories="Symbology">'
            f"{renderer}<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode>"
            "<layerOpacity>1</layerOpacity></qgis>\n")


def _categorized_qml(attr: str, colors: dict[str, str], kind: str, alpha_none: float | None = None) -> str:
    cats, syms = [], []
    for i, (value, color) in enumerate(colors.items()):
        alpha = alpha_none if (alpha_none is not None and value == "none") else 0.7
        cats.append(f'<category value="{html.escape(value)}" symbol="{i}" label="{html.escape(value)}" '
                    f'render="true"/>')
        syms.append(_symbol(str(i), kind, color, alpha))
    return _qml(f'<renderer-v2 type="categorizedSymbol" attr="{attr}" symbollevels="0" enableorderby="0" '
                f'forceraster="0"><categories>{"".join(cats)}</categories>'
                f'<symbols>{"".join(syms)}</symbols></renderer-v2>')


def _graduated_qml(attr: str, values: pd.Series, palette: str) -> str:
    if palette == maps.TREND_PALETTE:  # the trend signal's fixed classes
        bounds = [-1e9, -3, -2, 2, 3, 1e9]
        colors = list(maps.TREND_COLORS)
    else:
        v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
        qs = np.unique(np.quantile(v, np.linspace(0, 1, 6))) if v.size else np.array([0.0, 1.0])
        if qs.size < 2:
            qs = np.array([qs[0], qs[0] + 1]) if qs.size else np.array([0.0, 1.0])
        bounds = [float(b) for b in qs]
        colors = maps.palette_colors(palette, len(bounds) - 1)
    ranges, syms = [], []
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        label = f"{lo:g} – {hi:g}" if abs(lo) < 1e8 and abs(hi) < 1e8 else (
            f"≤ {hi:g}" if abs(lo) >= 1e8 else f"≥ {lo:g}")
        ranges.append(f'<range lower="{lo}" upper="{hi}" symbol="{i}" label="{label}" render="true"/>')
        syms.append(_symbol(str(i), "fill", colors[i % len(colors)], 0.7))
    return _qml(f'<renderer-v2 type="graduatedSymbol" attr="{attr}" graduatedMethod="GraduatedColor" '
                f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{"".join(ranges)}</ranges>'
                f'<symbols>{"".join(syms)}</symbols></renderer-v2>')


def _sld(layer: str, title: str, color: str, kind: str) -> str:
    """A single-symbol SLD (for GIS other than QGIS; QGIS uses the QML)."""
    if kind == "point":
        sym = (f'<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>'
               f'<se:Fill><se:SvgParameter name="fill">{color}</se:SvgParameter></se:Fill></se:Mark>'
               f'<se:Size>8</se:Size></se:Graphic></se:PointSymbolizer>')
    else:
        fill = "" if kind == "line" else (
            f'<se:Fill><se:SvgParameter name="fill">{color}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">0.6</se:SvgParameter></se:Fill>')
        sym = (f'<se:PolygonSymbolizer>{fill}<se:Stroke><se:SvgParameter name="stroke">#333333'
               f'</se:SvgParameter></se:Stroke></se:PolygonSymbolizer>')
    return ('<?xml version="1.0" encoding="UTF-8"?><StyledLayerDescriptor version="1.1.0" '
            'xmlns="http://www.opengis.net/sld" xmlns:se="http://www.opengis.net/se">'
            f'<NamedLayer><se:Name>{html.escape(layer)}</se:Name><UserStyle><se:Name>{html.escape(title)}'
            f'</se:Name><se:FeatureTypeStyle><se:Rule>{sym}</se:Rule></se:FeatureTypeStyle></UserStyle>'
            '</NamedLayer></StyledLayerDescriptor>')


# --- the file --------------------------------------------------------------------------------------

_LAYER_STYLES_SQL = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def write_gpkg(layers: list[GpkgLayer], path: str | Path, epsg: int = 25832) -> Path:
    """Write the layers and their styles to ``path`` (replaced if it exists)."""
    import geopandas as gpd
    import pyogrio

    if epsg not in CRS_CHOICES:
        raise ValueError(f"epsg must be one of {CRS_CHOICES}, got {epsg!r}")
    path = Path(path)
    if path.exists():
        path.unlink()
    for layer in layers:
        frame = layer.frame.copy()
        for col in frame.columns:
            if col != "geometry" and isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif col != "geometry" and frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                                            else str(v))
        gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").to_crs(epsg=epsg)
        if layer.geometry_type.startswith("MULTI"):
            gdf["geometry"] = [g if g is None or g.geom_type.startswith("Multi")
                               else shapely.MultiPolygon([g]) for g in gdf.geometry]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyogrio.write_dataframe(gdf, path, layer=layer.name, driver="GPKG",
                                    geometry_type=layer.geometry_type.title().replace("poly", "Poly"),
                                    append=False)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    con = sqlite3.connect(path)
    try:
        con.execute(_LAYER_STYLES_SQL)
        for layer in layers:
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, "
                        "ui, update_time) VALUES ('', '', ?, 'geom', ?, ?, ?, 1, ?, 'Lagebild', '', ?)",
                        (layer.name, f"Lagebild {layer.name}", layer.qml, layer.sld,
                         f"Lagebild style of {layer.name}", now))
        con.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, "
                    "description, last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'QGIS layer styles', ?)",
                    (now,))
        con.commit()
    finally:
        con.close()
    return path


def gpkg_bytes(layers: list[GpkgLayer], epsg: int = 25832) -> bytes:
    """The GeoPackage as bytes (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="lagebild-gpkg-") as tmp:
        return write_gpkg(layers, Path(tmp) / "lagebild.gpkg", epsg).read_bytes()
