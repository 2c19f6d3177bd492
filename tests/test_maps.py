"""Map builders: layers by name, feature counts, bounds, legends, escaping, offline HTML, size."""

from __future__ import annotations

import json
import re
from datetime import datetime

import folium
import h3
import numpy as np
import pandas as pd
import pytest

from base.i18n import fmt_number, t
from data import generator
from geo import maps

XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
# Tries to end the <script> element, a JS string and a template literal.
BREAKOUT = "\"'`${alert(2)}</script><script>alert(3)</script>"
URL = re.compile(r"https?://[^\s\"'<>\\)]+")
CDN_HOSTS = ("cdn.jsdelivr", "code.jquery", "cdnjs", "netdna", "unpkg", "bootstrapcdn", "d3js.org",
             "fontawesome", "googleapis")
SATURDAY_NOON = datetime(2025, 6, 7, 12, 0)


@pytest.fixture(scope="module")
def districts() -> pd.DataFrame:
    d = generator.build_districts()
    d["value"] = np.arange(len(d), dtype=float) * 1000.5
    d["value_label"] = [f"{v:.1f}" for v in d["value"]]
    return d


@pytest.fixture(scope="module")
def offices() -> pd.DataFrame:
    return generator.build_offices()


@pytest.fixture(scope="module")
def focus() -> pd.DataFrame:
    return generator.build_focus_areas()


@pytest.fixture(scope="module")
def bounds(districts) -> tuple[float, float, float, float]:
    import shapely

    return tuple(float(v) for v in shapely.total_bounds(districts["geometry"].to_numpy()))


def make_cells(n: int, res: int = 9) -> pd.DataFrame:
    """``n`` contiguous H3 cells around Hamm's main station with values 1..n."""
    centre = h3.latlng_to_cell(51.6783, 7.8076, res)
    k = 1
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = sorted(h3.grid_disk(centre, k))[:n]
    return pd.DataFrame({"h3": cells, "value": np.arange(1, n + 1, dtype=float)})


def make_hotspots(n: int) -> pd.DataFrame:
    cells = make_cells(n)
    classes = [*maps.HOTSPOT_CLASSES, "none"]
    return cells.assign(cls=[classes[i % len(classes)] for i in range(n)], count=cells["value"])


def make_gap(n: int, category: str = "Lärmbelästigung") -> pd.DataFrame:
    cells = make_cells(n)
    return pd.DataFrame({"h3": cells["h3"], "district_id": "mitte", "complaints": 12,
                         "presence_minutes": 3.0, "main_categories": [[category, "Wilder Müll"]] * n})


def make_incidents(districts: pd.DataFrame, counts=(0, 1, 2, 3, 4, 5, 6)) -> pd.DataFrame:
    pts = districts["geometry"].map(lambda g: g.representative_point())
    return pd.DataFrame({"district_id": districts["district_id"], "name": districts["name"],
                         "lat": pts.map(lambda p: p.y), "lon": pts.map(lambda p: p.x), "count": list(counts)})


def full_map(bounds, districts, offices, focus, tiles="none", lang="de", n_cells=2000) -> folium.Map:
    m = maps.base_map(bounds, tiles=tiles, lang=lang)
    maps.add_districts(m, districts, "Beschwerden", lang)
    maps.add_offices(m, offices, lang, now=SATURDAY_NOON)
    maps.add_focus_areas(m, focus, lang)
    cells = make_cells(n_cells)
    maps.add_complaint_density(m, cells, lang)
    for kind in ("kod", "joint", "police"):
        maps.add_presence(m, cells, kind, lang, show=False)
    maps.add_hotspots(m, make_hotspots(n_cells), lang)
    maps.add_gap(m, make_gap(20), lang, district_names={"mitte": "Mitte"})
    maps.add_incidents_by_district(m, make_incidents(districts), lang)
    return m


def geo_layers(group: folium.FeatureGroup) -> list[folium.GeoJson]:
    return [c for c in group._children.values() if isinstance(c, folium.GeoJson)]


def legends(group: folium.FeatureGroup) -> list[str]:
    return [c.html for c in group._children.values() if type(c).__name__ == "_Legend"]


# --- base map -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiles", "url_part", "attribution"),
    [
        ("osm", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "OpenStreetMap"),
        ("basemap", "de_basemapde_web_raster_farbe/default/GLOBAL_WEBMERCATOR/{z}/{y}/{x}.png",
         "© GeoBasis-DE / BKG"),
        ("basemap-grau", "de_basemapde_web_raster_grau/default/GLOBAL_WEBMERCATOR/{z}/{y}/{x}.png",
         "© GeoBasis-DE / BKG"),
        ("none", None, None),
    ],
)
def test_base_map_tiles(bounds, tiles, url_part, attribution):
    m = maps.base_map(bounds, tiles=tiles)
    layers = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    if url_part is None:
        assert layers == []
        return
    assert len(layers) == 1
    assert url_part in layers[0].tiles
    assert attribution in layers[0].options["attribution"]
    assert url_part in maps.map_html(m)


@pytest.mark.parametrize("tiles", ["satellite", "OSM", "", "basemap-gray"])
def test_invalid_tiles(bounds, tiles):
    with pytest.raises(ValueError, match=re.escape(f"got {tiles!r}")):
        maps.base_map(bounds, tiles=tiles)


@pytest.mark.parametrize(
    "bad",
    [(7.9, 51.6, 7.7, 51.7), (7.7, 51.7, 7.9, 51.6), (7.7, float("nan"), 7.9, 51.7), (1, 2, 3), None,
     (200, 51.6, 201, 51.7)],
)
def test_invalid_bounds(bad):
    with pytest.raises(ValueError, match="bounds"):
        maps.base_map(bad)


def test_invalid_lang(bounds):
    with pytest.raises(ValueError, match="got 'fr'"):
        maps.base_map(bounds, lang="fr")


def test_base_map_fits_bounds(bounds):
    m = maps.base_map(bounds, tiles="none")
    minlon, minlat, maxlon, maxlat = bounds
    fits = [c for c in m._children.values() if isinstance(c, folium.FitBounds)]
    assert len(fits) == 1
    assert fits[0].bounds == [[minlat, minlon], [maxlat, maxlon]]
    assert m.location == pytest.approx([(minlat + maxlat) / 2, (minlon + maxlon) / 2])


def test_layer_control_is_rendered_after_every_layer(bounds, districts, offices):
    m = maps.base_map(bounds, tiles="none")
    maps.add_districts(m, districts, "x")
    maps.add_offices(m, offices, now=SATURDAY_NOON)  # added after the control
    text = maps.map_html(m)
    control = text.index("L.control.layers(")
    for group in (maps.feature_group(m, "Bezirke"), maps.feature_group(m, "Dienststellen")):
        assert text.index(f"var {group.get_name()} =") < control
        assert f'"{group.layer_name}" : {group.get_name()}' in text


# --- layers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "lang", "name", "n_features"),
    [
        ("districts", "de", "Bezirke", 7),
        ("districts", "en", "Districts", 7),
        ("offices", "de", "Dienststellen", 6),
        ("offices", "en", "Offices", 6),
        ("focus", "de", "Schwerpunkte & Angsträume", 2),
        ("complaints", "de", "Beschwerdedichte", 50),
        ("complaints", "en", "Complaint density", 50),
        ("kod", "de", "Präsenz KOD", 50),
        ("joint", "de", "Präsenz Gemeinsame Streife", 50),
        ("police", "de", "Präsenz Polizei", 50),
        ("hotspots", "de", "Hotspots (Gi*)", 43),  # 50 cells, every 7th is "none"
        ("gap", "de", "Präsenzlücken", 5),
        ("gap", "en", "Presence gaps", 5),
        ("incidents", "de", "Übergriffe auf Beschäftigte", 6),  # the district with 0 is not drawn
        ("incidents", "en", "Assaults on staff", 6),
    ],
)
def test_layer_names_and_feature_counts(bounds, districts, offices, focus, builder, lang, name, n_features):
    m = maps.base_map(bounds, tiles="none", lang=lang)
    build = {
        "districts": lambda: maps.add_districts(m, districts, "Beschwerden", lang),
        "offices": lambda: maps.add_offices(m, offices, lang, now=SATURDAY_NOON),
        "focus": lambda: maps.add_focus_areas(m, focus, lang),
        "complaints": lambda: maps.add_complaint_density(m, make_cells(50), lang),
        "kod": lambda: maps.add_presence(m, make_cells(50), "kod", lang),
        "joint": lambda: maps.add_presence(m, make_cells(50), "joint", lang),
        "police": lambda: maps.add_presence(m, make_cells(50), "police", lang),
        "hotspots": lambda: maps.add_hotspots(m, make_hotspots(50), lang),
        "gap": lambda: maps.add_gap(m, make_gap(5), lang),
        "incidents": lambda: maps.add_incidents_by_district(m, make_incidents(districts), lang),
    }[builder]
    group = build()
    assert maps.layer_names(m) == [name]
    assert maps.feature_group(m, name) is group
    layers = geo_layers(group)
    assert len(layers) == 1, "one GeoJson per layer"
    assert len(maps.layer_features(group)) == n_features
    # every feature has a tooltip and a valid style class
    for feature in maps.layer_features(group):
        assert feature["properties"]["t"]
        assert 0 <= feature["properties"]["k"] < len(layers[0].styles)
    assert len(legends(group)) == 1
    assert json.dumps(name)[1:-1] in maps.map_html(m) or group.layer_name in maps.map_html(m)


@pytest.mark.parametrize(
    "builder", ["districts", "offices", "focus", "cells", "hotspots", "gap", "incidents", "incidents_zero"])
def test_empty_frames_give_empty_layers(bounds, districts, offices, focus, builder):
    m = maps.base_map(bounds, tiles="none")
    group = {
        "districts": lambda: maps.add_districts(m, districts.head(0), "x"),
        "offices": lambda: maps.add_offices(m, offices.head(0), now=SATURDAY_NOON),
        "focus": lambda: maps.add_focus_areas(m, focus.head(0)),
        "cells": lambda: maps.add_cells(m, make_cells(3).head(0), "Zellen"),
        "hotspots": lambda: maps.add_hotspots(m, make_hotspots(3).head(0)),
        "gap": lambda: maps.add_gap(m, make_gap(3).head(0)),
        "incidents": lambda: maps.add_incidents_by_district(m, make_incidents(districts).head(0)),
        "incidents_zero": lambda: maps.add_incidents_by_district(m, make_incidents(districts, [0] * 7)),
    }[builder]()
    assert maps.layer_features(group) == []
    assert "L.geoJson(null" in maps.map_html(m)


def test_full_map_has_every_layer(bounds, districts, offices, focus):
    m = full_map(bounds, districts, offices, focus)
    assert maps.layer_names(m) == [
        "Bezirke", "Dienststellen", "Schwerpunkte & Angsträume", "Beschwerdedichte", "Präsenz KOD",
        "Präsenz Gemeinsame Streife", "Präsenz Polizei", "Hotspots (Gi*)", "Präsenzlücken",
        "Übergriffe auf Beschäftigte",
    ]
    assert not maps.feature_group(m, "Präsenz KOD").show
    assert maps.feature_group(m, "Bezirke").show


def test_district_geometry_and_tooltip(bounds, districts):
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_districts(m, districts, "Beschwerden je 1.000 Einw.")
    features = maps.layer_features(group)
    assert [f["id"] for f in features] == list(districts["district_id"])
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}
    first = features[0]
    assert first["properties"]["t"] == "<b>Mitte</b><br>Beschwerden je 1.000 Einw.: 0.0"
    # coordinates are rounded to 6 decimals
    ring = first["geometry"]["coordinates"][0]
    assert all(round(x, 6) == x and round(y, 6) == y for x, y in ring)


def test_cells_are_hexagons_with_formatted_values(bounds):
    cells = pd.DataFrame({"h3": make_cells(2)["h3"], "value": [1234.0, 5.0]})
    for lang, value, unit in (("de", "1.234", " Min."), ("en", "1,234", " min")):
        m = maps.base_map(bounds, tiles="none", lang=lang)
        group = maps.add_presence(m, cells, "kod", lang)
        feature = maps.layer_features(group)[0]
        assert feature["id"] == cells["h3"][0]
        assert feature["properties"]["t"] == value
        assert geo_layers(group)[0].tip_suffix == unit
        ring = feature["geometry"]["coordinates"][0]
        assert len(ring) == 7 and ring[0] == ring[-1]
        lat, lng = h3.cell_to_latlng(cells["h3"][0])
        assert np.mean([p[0] for p in ring[:-1]]) == pytest.approx(lng, abs=1e-4)
        assert np.mean([p[1] for p in ring[:-1]]) == pytest.approx(lat, abs=1e-4)


def _decode_hexagons(rows: list[list]) -> list[list[list[float]]]:
    """What the layer's script does in the browser: the rings of the delta-coded cells."""
    rings = []
    px = py = 0
    for row in rows:
        x, y = px + row[3], py + row[4]
        px, py = x, y
        ring = [[x / 1e5, y / 1e5]]
        for j in range(5, len(row), 2):
            x, y = x + row[j], y + row[j + 1]
            ring.append([x / 1e5, y / 1e5])
        ring.append(ring[0])
        rings.append(ring)
    return rings


def test_compact_hexagons_decode_to_the_features(bounds):
    """The browser decodes the delta-coded hexagons; the same decoding here gives the features."""
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_cells(m, make_cells(30), "Zellen")
    layer = geo_layers(group)[0]
    rows = json.loads(layer.data_js())["hex"]
    assert len(rows) == 30
    for row, ring, feature in zip(rows, _decode_hexagons(rows), layer.data["features"], strict=True):
        assert row[0] == feature["id"]
        assert {"k": row[1], "t": row[2]} == feature["properties"]
        assert np.allclose(ring, feature["geometry"]["coordinates"][0], atol=1e-9)


def test_folium_elements_render_as_branca_does_but_once(bounds, monkeypatch) -> None:
    """MacroElement.render without the second template pass: the same page as branca's own
    render, and a name with template syntax stays text (branca would evaluate it)."""
    import itertools

    import branca.element

    def page(group_name: str) -> str:
        ids = itertools.count()  # the same element ids in both maps
        monkeypatch.setattr(branca.element.Element, "_generate_id",
                            classmethod(lambda cls: f"{next(ids):032x}"))
        m = maps.base_map(bounds, tiles="none")
        maps.add_cells(m, make_cells(5), "Zellen")
        maps.add_hotspots(m, make_hotspots(14))
        folium.FeatureGroup(name=group_name).add_to(m)
        folium.LayerControl().add_to(m)
        return m.get_root().render()

    ours = page("Gruppe {{ 7*7 }} {% if true %}wahr{% endif %}")
    assert "Gruppe {{ 7*7 }} {% if true %}wahr{% endif %}" in ours and "Gruppe 49" not in ours
    ours = page("Gruppe")
    monkeypatch.setattr(branca.element.MacroElement, "render", maps._BRANCA_MACRO_RENDER)
    assert "Gruppe 49 wahr" in page("Gruppe {{ 7*7 }} {% if true %}wahr{% endif %}")  # branca's
    assert page("Gruppe") == ours


def _reference_hex_rows(features: list[dict]) -> str:
    """The compact hexagon rows as plain ``to_js`` of lists (the encoding before it wrote the
    JSON text itself)."""
    rows, px, py = [], 0, 0
    for feature in features:
        ring = tuple(tuple(p) for p in feature["geometry"]["coordinates"][0])
        xy = np.rint(np.asarray(ring[:-1], dtype="float64") * 1e5).astype(np.int64)
        x0, y0 = int(xy[0, 0]), int(xy[0, 1])
        deltas = np.diff(xy, axis=0).ravel().tolist()
        props = feature["properties"]
        rows.append([feature["id"], props["k"], props.get("t", ""), x0 - px, y0 - py, *deltas])
        px, py = x0, y0
    return maps.to_js({"hex": rows})


@pytest.mark.parametrize("labels", [
    ["1", "2", "1"],  # repeated labels
    ["<b>x</b>", "a\u2028b", "Bürger & \"Ämter\""],  # script-unsafe, line separators, quotes
    ["", "12.345,6", "\\"],
])
def test_compact_hexagons_are_the_json_of_their_rows(labels):
    """The hexagon rows written as text are exactly the JSON of the rows: cached cell
    polygons, own rings, integer and other ids and classes, unsafe and repeated labels."""
    cells = list(make_cells(len(labels) + 2)["h3"])
    features = [{"type": "Feature", "id": c, "properties": {"k": i % 3, "t": label},
                 "geometry": maps._hex_geometry(c)}
                for i, (c, label) in enumerate(zip(cells[:len(labels)], labels, strict=True))]
    own = [[x + 0.003, y - 0.001] for x, y in maps._hex_geometry(cells[-1])["coordinates"][0]]
    features.append({"type": "Feature", "id": 7, "properties": {"k": 1.5},
                     "geometry": {"type": "Polygon", "coordinates": [own]}})
    features.append({"type": "Feature", "id": cells[-2], "properties": {"k": 0, "t": labels[0]},
                     "geometry": maps._hex_geometry(cells[-2])})
    layer = maps._GeoLayer(features, [{"color": "#000000"}], hexagons=True)
    assert layer.data_js() == _reference_hex_rows(features)
    assert "<" not in layer.data_js() and "\u2028" not in layer.data_js()


def test_compact_hexagons_of_a_real_layer_are_the_json_of_their_rows(bounds):
    m = maps.base_map(bounds, tiles="none")
    layer = geo_layers(maps.add_cells(m, make_cells(200), "Zellen"))[0]
    assert layer.data_js() == _reference_hex_rows(layer.data["features"])


def test_compact_hexagons_reject_other_properties():
    cell = make_cells(1)["h3"][0]
    layer = maps._GeoLayer([{"type": "Feature", "id": cell, "properties": {"k": 0, "p": "x"},
                             "geometry": maps._hex_geometry(cell)}], [{}], hexagons=True)
    with pytest.raises(ValueError, match=r"only k and t, got \['k', 'p'\]"):
        layer.data_js()


def test_compact_hexagons_encode_the_geometry_a_feature_carries():
    """A feature's own ring is sent, also when its id names a cell whose polygon is cached
    (the cached code is used only for the very polygon object it was made from)."""
    cells = list(make_cells(3)["h3"])
    own = [[[x + 0.01, y - 0.02] for x, y in maps._hex_geometry(c)["coordinates"][0]] for c in cells]
    features = [{"type": "Feature", "id": c, "properties": {"k": 0, "t": "x"},
                 "geometry": {"type": "Polygon", "coordinates": [ring]}}
                for c, ring in zip(cells, own, strict=True)]
    features.insert(1, {"type": "Feature", "id": cells[0], "properties": {"k": 0, "t": "cached"},
                        "geometry": maps._hex_geometry(cells[0])})
    layer = maps._GeoLayer(features, [{"color": "#000000"}], hexagons=True)
    rings = _decode_hexagons(json.loads(layer.data_js())["hex"])
    assert len(rings) == 4
    for ring, feature in zip(rings, features, strict=True):
        assert np.allclose(ring, feature["geometry"]["coordinates"][0], atol=1e-9)
    assert not np.allclose(rings[0], rings[1], atol=1e-3)  # same id, different rings


def test_hotspot_none_is_not_drawn_and_classes_are_styled(bounds):
    cells = make_hotspots(14)
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_hotspots(m, cells)
    drawn = {f["id"] for f in maps.layer_features(group)}
    assert drawn == set(cells.loc[cells["cls"] != "none", "h3"])
    layer = geo_layers(group)[0]
    for feature in maps.layer_features(group):
        cls = cells.set_index("h3").loc[feature["id"], "cls"]
        assert layer.styles[feature["properties"]["k"]]["fillColor"] == maps.HOTSPOT_COLORS[cls]


def test_hotspot_tooltips_name_class_count_and_z_when_known(bounds):
    cells = make_hotspots(7).assign(z=[2.5, np.nan, -1.96, 3.0, None, 1.0, 0.0])
    cells.loc[1, "count"] = np.nan
    cells.loc[2, "cls"] = "hot99"
    m = maps.base_map(bounds, tiles="none")
    tips = {f["id"]: f["properties"]["t"] for f in maps.layer_features(maps.add_hotspots(m, cells, "de"))}
    for rec in cells[cells["cls"] != "none"].to_dict("records"):
        expected = maps.esc(t(f"map.hot.{rec['cls']}", "de"))
        if not pd.isna(rec["count"]):
            expected += f"<br>{t('map.hot.count', 'de')}: {maps.esc(fmt_number(rec['count'], 'de'))}"
        if not pd.isna(rec["z"]):
            expected += f"<br>z = {fmt_number(rec['z'], 'de', 2)}"
        assert tips.pop(rec["h3"]) == expected
    assert not tips


def test_offices_popup_and_icons(bounds, offices):
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_offices(m, offices, "de", now=datetime(2025, 6, 7, 20, 0))  # Saturday 20:00
    features = {f["id"]: f for f in maps.layer_features(group)}
    citywache = features["O-01"]["properties"]["p"]
    for part in ("Citywache Hamm", "Bahnhofsvorplatz 3, 59065 Hamm", "02381 555-0200", 'href="tel:02381555',
                 "Mo-Sa 09:00-20:30", "geöffnet bis 20:30"):
        assert part in citywache
    assert "geschlossen" in features["O-02"]["properties"]["p"]  # Mo-Fr office on Saturday
    assert "geöffnet" in features["O-05"]["properties"]["p"]  # 24/7
    styles = geo_layers(group)[0].styles
    kinds = {f["id"]: styles[f["properties"]["k"]]["icon"]["html"] for f in features.values()}
    assert kinds["O-01"] == maps.office_icon_svg("citywache")
    assert kinds["O-02"] == maps.office_icon_svg("kod_office")
    assert kinds["O-05"] == maps.office_icon_svg("police_station")
    html_text = maps.map_html(m)
    assert "L.divIcon" in html_text and "AwesomeMarkers" not in html_text


@pytest.mark.parametrize(
    ("hours", "now", "lang", "expected"),
    [
        ("Mo-Sa 09:00-20:30", datetime(2025, 6, 7, 20, 0), "de", "geöffnet bis 20:30"),
        ("Mo-Sa 09:00-20:30", datetime(2025, 6, 7, 20, 0), "en", "open until 20:30"),
        ("Mo-Sa 09:00-20:30", datetime(2025, 6, 7, 20, 31), "de", "geschlossen, öffnet Mo 09:00"),
        ("Mo-Sa 09:00-20:30", datetime(2025, 6, 8, 12, 0), "en", "closed, opens Mon 09:00"),
        ("24/7", datetime(2025, 6, 8, 12, 0), "de", ">geöffnet<"),
        ("kaputt", datetime(2025, 6, 8, 12, 0), "de", ">unbekannt<"),
        (None, datetime(2025, 6, 8, 12, 0), "en", ">unknown<"),
    ],
)
def test_office_open_now(hours, now, lang, expected):
    office = {"office_id": "O", "name": "Büro", "kind": "kod_office", "opening_hours": hours}
    assert expected in maps.office_popup_html(office, lang, now)


def test_incident_circles_grow_with_count(bounds, districts):
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_incidents_by_district(m, make_incidents(districts))
    features = maps.layer_features(group)
    radii = [f["properties"]["r"] for f in features]
    assert radii == sorted(radii) and radii[0] < radii[-1]
    assert {f["geometry"]["type"] for f in features} == {"Point"}


def test_max_cells_keeps_the_highest_values(bounds):
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_cells(m, make_cells(100), "Zellen", max_cells=10)
    ids = {f["id"] for f in maps.layer_features(group)}
    assert ids == set(make_cells(100).nlargest(10, "value")["h3"])
    assert "gezeigt: die 10 höchsten von 100 Zellen" in legends(group)[0]


# --- legends ------------------------------------------------------------------------------------


def test_district_legend_sequential(bounds, districts):
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_districts(m, districts, "Beschwerden", palette="cividis")
    legend = legends(group)[0]
    assert '<div class="lt">Beschwerden</div>' in legend
    assert legend.count('class="sw"') == 5
    for color in maps.PALETTES["cividis"]:
        assert color in legend
    assert "4.802 – 6.003" in legend  # German numbers


def test_district_legend_trend_and_nodata(bounds, districts):
    d = districts.copy()
    d["value"] = [-4.0, -2.5, 0.0, 2.0, 3.5, np.nan, 1.0]
    d["value_label"] = [None if np.isnan(v) else f"{v:.1f}" for v in d["value"]]
    m = maps.base_map(bounds, tiles="none")
    group = maps.add_districts(m, d, "Trendsignal", palette="trend")
    legend = legends(group)[0]
    for text in ("stark gesunken (z ≤ −3)", "gesunken (z ≤ −2)", "keine deutliche Änderung",
                 "gestiegen (z ≥ 2)", "stark gestiegen (z ≥ 3)", "keine Daten"):
        assert text in legend
    layer = geo_layers(group)[0]
    colors = [layer.styles[f["properties"]["k"]]["fillColor"] for f in maps.layer_features(group)]
    assert colors == [*maps.TREND_COLORS[0:2], maps.TREND_COLORS[2], maps.TREND_COLORS[3],
                      maps.TREND_COLORS[4], maps.NODATA_COLOR, maps.TREND_COLORS[2]]
    assert "keine Daten" in maps.layer_features(group)[5]["properties"]["t"]


@pytest.mark.parametrize(
    ("values", "lang", "labels"),
    [
        (list(range(1, 11)), "de", ["1 – 2", "3 – 4", "5 – 6", "7 – 8", "9 – 10"]),
        ([1, 1, 1, 2, 2, 3, 5, 8, 13, 1807], "de", ["1", "2 – 3", "4 – 8", "9 – 1.807"]),
        ([135.4, 136.2, 150.0, 197.3, 212.9, 306.1], "de",
         ["135,4 – 136,2", "136,2 – 150,0", "150,0 – 197,3", "197,3 – 212,9", "212,9 – 306,1"]),
        ([0.25, 0.5, 0.75], "en", ["0.25 – 0.35", "0.35 – 0.45", "0.45 – 0.55", "0.55 – 0.65",
                                   "0.65 – 0.75"]),
        ([7, 7, 7], "de", ["7"]),
    ],
)
def test_cell_legend_labels(bounds, values, lang, labels):
    m = maps.base_map(bounds, tiles="none", lang=lang)
    cells = make_cells(len(values)).assign(value=[float(v) for v in values])
    legend = legends(maps.add_cells(m, cells, "Zellen", lang))[0]
    assert re.findall(r"</span>([^<]+)</div>", legend) == labels


def test_hotspot_legend_lists_every_confidence_class(bounds):
    m = maps.base_map(bounds, tiles="none", lang="en")
    legend = legends(maps.add_hotspots(m, make_hotspots(7), "en"))[0]
    for cls in maps.HOTSPOT_CLASSES:
        assert maps.HOTSPOT_COLORS[cls] in legend
    assert "Hot spot, 99% confidence" in legend and "Cold spot, 90% confidence" in legend


def test_legend_is_rendered_as_control(bounds, districts):
    m = maps.base_map(bounds, tiles="none")
    maps.add_districts(m, districts, "Beschwerden")
    text = maps.map_html(m)
    assert 'L.DomUtil.create("div", "lagebild-legend")' in text
    assert ".lagebild-legend{" in text


# --- classes and validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("z", "cls"),
    [(-3.5, 0), (-3.0, 0), (-2.99, 1), (-2.0, 1), (-1.99, 2), (0.0, 2), (1.99, 2), (2.0, 3), (2.99, 3),
     (3.0, 4), (10.0, 4), (float("nan"), -1)],
)
def test_trend_classes(z, cls):
    assert maps.trend_classes([z]).tolist() == [cls]


@pytest.mark.parametrize(
    ("values", "n_classes"),
    [([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5), ([5, 5, 5], 1), ([0, 0, 0, 0, 10], 2), ([], 0)],
)
def test_quantile_classes(values, n_classes):
    breaks, classes = maps.quantile_classes(values)
    assert max(breaks.size - 1, 0) == n_classes
    assert list(classes) == sorted(classes)
    assert all(0 <= c < max(n_classes, 1) for c in classes)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, d: maps.add_districts(m, d, "x", palette="rainbow"), "got 'rainbow'"),
        (lambda m, d: maps.add_cells(m, make_cells(3), "x", palette="jet"), "got 'jet'"),
        (lambda m, d: maps.add_presence(m, make_cells(3), "army"), "got 'army'"),
        (lambda m, d: maps.add_hotspots(m, make_cells(3).assign(cls="warm")), "got 'warm'"),
        (lambda m, d: maps.add_cells(m, pd.DataFrame({"h3": ["nope"], "value": [1.0]}), "x"), "'nope'"),
        (lambda m, d: maps.add_districts(m, d.drop(columns="value_label"), "x"), "value_label"),
        (lambda m, d: maps.add_focus_areas(m, generator.build_focus_areas().assign(kind="park")), "'park'"),
        (lambda m, d: maps.add_districts(m, d, "x", lang="fr"), "got 'fr'"),
    ],
)
def test_invalid_input_raises_value_error(bounds, districts, call, match):
    m = maps.base_map(bounds, tiles="none")
    with pytest.raises(ValueError, match=re.escape(match)):
        call(m, districts)


# --- untrusted text -----------------------------------------------------------------------------


def _with(frame: pd.DataFrame, column: str, text: str, row: int = 0) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[out.index[row], column] = text
    return out


def _offices(m: folium.Map, ctx: dict, column: str, payload: str) -> folium.FeatureGroup:
    return maps.add_offices(m, _with(ctx["o"], column, payload), now=SATURDAY_NOON)


PAYLOAD_CASES = [
    ("district name", lambda m, ctx, p: maps.add_districts(m, _with(ctx["d"], "name", p), "x")),
    ("district value label", lambda m, ctx, p: maps.add_districts(m, _with(ctx["d"], "value_label", p), "x")),
    ("metric title", lambda m, ctx, p: maps.add_districts(m, ctx["d"], p)),
    ("office name", lambda m, ctx, p: _offices(m, ctx, "name", p)),
    ("office address", lambda m, ctx, p: _offices(m, ctx, "address", p)),
    ("office phone", lambda m, ctx, p: _offices(m, ctx, "phone", p)),
    ("office hours", lambda m, ctx, p: _offices(m, ctx, "opening_hours", p)),
    ("focus area name", lambda m, ctx, p: maps.add_focus_areas(m, _with(ctx["f"], "name", p))),
    ("gap category", lambda m, ctx, p: maps.add_gap(m, make_gap(3, category=p))),
    ("gap category str", lambda m, ctx, p: maps.add_gap(m, make_gap(3).assign(main_categories=p))),
    ("gap district name", lambda m, ctx, p: maps.add_gap(m, make_gap(3), district_names={"mitte": p})),
    ("incident district", lambda m, ctx, p: maps.add_incidents_by_district(
        m, _with(make_incidents(ctx["d"]), "name", p, row=3))),
    ("cell layer name", lambda m, ctx, p: maps.add_cells(m, make_cells(3), p)),
    ("cell legend title and unit", lambda m, ctx, p: maps.add_cells(m, make_cells(3), "Zellen",
                                                                    legend_title=p, unit=p)),
]


@pytest.mark.parametrize(("where", "build"), PAYLOAD_CASES, ids=[c[0] for c in PAYLOAD_CASES])
def test_untrusted_text_is_escaped(bounds, districts, offices, focus, where, build):
    ctx = {"d": districts, "o": offices, "f": focus}
    m = maps.base_map(bounds, tiles="none")
    build(m, ctx, XSS + BREAKOUT)
    text = maps.map_html(m)
    assert XSS not in text
    assert XSS_ESCAPED in text
    assert "</script><script>alert" not in text
    assert "<script>alert" not in text
    # the payload reaches the browser only inside JSON without any "<" or ">"
    for element in _walk(m):
        for method in ("data_js", "html_js", "styles_js", "tip_prefix_js"):
            if hasattr(element, method):
                js = getattr(element, method)()
                assert "<" not in js and ">" not in js
                json.loads(js)
    # script elements: only the map's own (the payload adds none)
    assert text.count("<script") == _script_count(bounds)


def _walk(element):
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _script_count(bounds) -> int:
    return maps.map_html(maps.base_map(bounds, tiles="none")).count("<script")


def test_layer_names_are_escaped_for_the_layer_control(bounds):
    m = maps.base_map(bounds, tiles="none")
    maps.add_cells(m, make_cells(3), XSS)
    assert maps.layer_names(m) == [XSS]
    text = maps.map_html(m)
    assert XSS not in text and XSS_ESCAPED in text


# --- offline and size ---------------------------------------------------------------------------


def test_no_url_at_all_without_tiles(bounds, districts, offices, focus):
    text = maps.map_html(full_map(bounds, districts, offices, focus, tiles="none", n_cells=100))
    assert URL.findall(text) == []
    for host in CDN_HOSTS:
        assert host not in text
    srcs = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', text)
    assert srcs and all(s.startswith("/app/static/vendor/") for s in srcs)
    assert "$(" not in text and "jQuery" not in text  # jQuery is not served


@pytest.mark.parametrize("tiles", ["osm", "basemap", "basemap-grau"])
def test_only_tile_urls_with_tiles(bounds, districts, offices, focus, tiles):
    text = maps.map_html(full_map(bounds, districts, offices, focus, tiles=tiles, n_cells=100))
    allowed = maps.tile_source(tiles).urls
    found = set(URL.findall(text))
    assert found and found <= set(allowed)
    for host in CDN_HOSTS:
        assert host not in text


def test_html_size_districts_and_2000_cells(bounds, districts):
    m = maps.base_map(bounds, tiles="osm")
    maps.add_districts(m, districts, "Beschwerden")
    maps.add_complaint_density(m, make_cells(2000))
    size = len(maps.map_html(m).encode("utf-8"))
    assert size < 300_000, size


def test_html_size_every_layer(bounds, districts, offices, focus):
    """Every layer, each cell layer with 2,000 cells: still well under 1.5 MB."""
    size = len(maps.map_html(full_map(bounds, districts, offices, focus, n_cells=2000)).encode("utf-8"))
    assert size < 1_000_000, size


def test_st_folium_script_walk(bounds, districts, offices):
    """streamlit-folium renders each element's script macro in tree order: it must work too."""
    sf = pytest.importorskip("streamlit_folium")
    m = maps.base_map(bounds, tiles="none")
    maps.add_districts(m, districts, "x")
    maps.add_offices(m, offices, now=SATURDAY_NOON)
    m.get_root().render()
    script = sf._get_map_string(m)
    assert script.count("L.geoJson(null") == 2
    assert script.index("L.control.layers(") > script.rindex("L.geoJson(null")
    assert "lagebild-legend" in script


# --- template injection ---------------------------------------------------------------------
# branca compiles rendered macro output as a Jinja template; data must never be evaluated.

JINJA = "{{ 7*7 }}{% if true %}X{% endif %}"


@pytest.mark.parametrize("where", ["district", "office", "address", "legend", "focus"])
def test_jinja_syntax_in_data_is_not_evaluated(where: str) -> None:
    from shapely.geometry import Polygon

    square = Polygon([(7.8, 51.6), (7.9, 51.6), (7.9, 51.7), (7.8, 51.7)])
    m = maps.base_map((7.7, 51.5, 8.0, 51.8), tiles="none")
    name = JINJA if where == "district" else "Mitte"
    districts = pd.DataFrame({"district_id": ["d1"], "name": [name], "geometry": [square],
                              "value": [1.0], "value_label": ["1"]})
    maps.add_districts(m, districts, JINJA if where == "legend" else "Beschwerden", "de")
    offices = pd.DataFrame({"office_id": ["o1"], "name": [JINJA if where == "office" else "Wache"],
                            "kind": ["citywache"], "lat": [51.65], "lon": [7.85],
                            "address": [JINJA if where == "address" else "Markt 1"],
                            "phone": [None], "opening_hours": ["24/7"]})
    maps.add_offices(m, offices, "de")
    areas = pd.DataFrame({"area_id": ["a1"], "name": [JINJA if where == "focus" else "Park"],
                          "kind": ["angstraum"], "geometry": [square]})
    maps.add_focus_areas(m, areas, "de")
    html = maps.map_html(m)
    assert "{{ 7*7 }}" in html
    assert "{% if true %}" in html


def test_every_layer_is_added_to_its_group() -> None:
    """Each GeoJSON layer script is followed by its addTo (folium's Layer.render adds it)."""
    import folium
    from shapely.geometry import Polygon

    square = Polygon([(7.8, 51.6), (7.9, 51.6), (7.9, 51.7), (7.8, 51.7)])
    m = maps.base_map((7.7, 51.5, 8.0, 51.8), tiles="none")
    maps.add_districts(m, pd.DataFrame({"district_id": ["d1"], "name": ["Mitte"],
                                        "geometry": [square], "value": [1.0],
                                        "value_label": ["1"]}), "Beschwerden", "de")
    html = maps.map_html(m)
    group = next(v for v in m._children.values() if isinstance(v, folium.FeatureGroup))
    layer = next(v for v in group._children.values() if isinstance(v, folium.GeoJson))
    assert f"{layer.get_name()}.addTo({group.get_name()})" in html
