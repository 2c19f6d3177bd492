"""GIS files for the GDAL readers and GPS imports, written by the tests with GDAL (pyogrio).

Uses the two districts of :mod:`import_fixtures` (Mitte west of 7.82, Süd-Höve east of it).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from import_fixtures import INSIDE_MITTE, INSIDE_SUED, MITTE, OUTSIDE, SUED


def _write(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(gdf, path, **kwargs)


def gpkg_two_layers(path: Path) -> Path:
    """A GeoPackage in EPSG:25832: layer ``bezirke`` (2 polygons) and ``wachen`` (3 points,
    one outside every district)."""
    districts = gpd.GeoDataFrame({"BEZ_NR": ["01", "02"], "BEZ_NAME": ["Mitte", "Süd-Höve"],
                                  "EINWOHNER": [41000, 23500]},
                                 geometry=[MITTE, SUED], crs=4326).to_crs(25832)
    offices = gpd.GeoDataFrame(
        {"wache_id": ["W1", "W2", "W3"], "name": ["Citywache", "Wache Süd", "Außenstelle"],
         "art": ["citywache", "police_station", "police_station"]},
        geometry=[shapely.Point(INSIDE_MITTE[1], INSIDE_MITTE[0]),
                  shapely.Point(INSIDE_SUED[1], INSIDE_SUED[0]), shapely.Point(OUTSIDE[1], OUTSIDE[0])],
        crs=4326).to_crs(25832)
    _write(districts, path, layer="bezirke", driver="GPKG")
    _write(offices, path, layer="wachen", driver="GPKG", append=True)
    return path


def kmz_folders(path: Path) -> Path:
    """A KMZ (doc.kml zipped) with two folders of placemarks, as Google Earth writes it."""
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Schwerpunkte</name>
<Folder><name>Innenstadt</name>
 <Placemark><name>Bahnhofsvorplatz</name><description>Schwerpunkt seit 2024</description>
  <Point><coordinates>{INSIDE_MITTE[1]},{INSIDE_MITTE[0]},0</coordinates></Point></Placemark>
 <Placemark><name>Marktplatz</name>
  <Point><coordinates>7.801,51.681,0</coordinates></Point></Placemark>
</Folder>
<Folder><name>Süden</name>
 <Placemark><name>Park Süd</name>
  <Point><coordinates>{INSIDE_SUED[1]},{INSIDE_SUED[0]},0</coordinates></Point></Placemark>
 <Placemark><name>Weit weg</name>
  <Point><coordinates>{OUTSIDE[1]},{OUTSIDE[0]},0</coordinates></Point></Placemark>
</Folder></Document></kml>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", kml)
    return path


def gpx_two_tracks(path: Path) -> Path:
    """Two tracks (devices KOD-7 and KOD-9) with timestamps. KOD-7: 4 fixes, one of them a jump
    of ~3.5 km in a minute (impossible speed), then a second segment after a 87-minute gap
    (2 fixes). KOD-9: 3 fixes, the middle one outside every district."""
    def pt(lat: float, lon: float, time: str) -> str:
        return f'<trkpt lat="{lat}" lon="{lon}"><ele>60</ele><time>{time}</time></trkpt>'

    gpx = f"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="Garmin eTrex" xmlns="http://www.topografix.com/GPX/1/1">
<trk><name>KOD-7</name><trkseg>
{pt(51.680, 7.800, "2026-05-04T08:00:00Z")}
{pt(51.681, 7.801, "2026-05-04T08:01:00Z")}
{pt(51.690, 7.850, "2026-05-04T08:02:00Z")}
{pt(51.682, 7.802, "2026-05-04T08:03:00Z")}
</trkseg><trkseg>
{pt(51.683, 7.803, "2026-05-04T09:30:00Z")}
{pt(51.684, 7.804, "2026-05-04T09:31:00Z")}
</trkseg></trk>
<trk><name>KOD-9</name><trkseg>
{pt(51.675, 7.845, "2026-05-04T08:00:00Z")}
{pt(OUTSIDE[0], OUTSIDE[1], "2026-05-04T08:01:00Z")}
{pt(51.676, 7.846, "2026-05-04T08:02:00Z")}
</trkseg></trk></gpx>"""
    path.write_text(gpx, encoding="utf-8")
    return path


def fixes_csv(path: Path) -> Path:
    """A German CSV of fixes from two radio units with Rechtswert/Hochwert (EPSG:25832):
    unit "Florian 1" 3 fixes in 2 minutes, then 45 minutes later 2 more (2 patrols);
    unit "Adler 2" 3 fixes, one with a broken time."""
    import pyproj

    tr = pyproj.Transformer.from_crs(4326, 25832, always_xy=True)
    rows = [("Florian 1", "04.05.2026 10:00:00", 51.680, 7.800),
            ("Florian 1", "04.05.2026 10:01:00", 51.6805, 7.8005),
            ("Adler 2", "04.05.2026 10:00:30", 51.675, 7.845),
            ("Florian 1", "04.05.2026 10:02:00", 51.681, 7.801),
            ("Adler 2", "04.05.2026 10:01:30", 51.6755, 7.8455),
            ("Adler 2", "gestern", 51.676, 7.846),
            ("Florian 1", "04.05.2026 10:47:00", 51.682, 7.802),
            ("Florian 1", "04.05.2026 10:48:00", 51.6825, 7.8025)]
    lines = ["Funkrufname;Zeitpunkt;Rechtswert;Hochwert"]
    for unit, time, lat, lon in rows:
        x, y = tr.transform(lon, lat)
        lines.append(f"{unit};{time};" + f"{x:.2f};{y:.2f}".replace(".", ","))
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return path


def device_mapping_csv(path: Path) -> Path:
    path.write_text("Gerät;Art;Personal\nFlorian 1;KOD;2\nAdler 2;Doppelstreife;3\n", encoding="utf-8")
    return path


def flatgeobuf_points(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"id": ["F1", "F2"], "name": ["A", "B"], "kind": ["citywache", "police_station"]},
                           geometry=[shapely.Point(INSIDE_MITTE[1], INSIDE_MITTE[0]),
                                     shapely.Point(INSIDE_SUED[1], INSIDE_SUED[0])], crs=4326)
    _write(gdf, path, driver="FlatGeobuf")
    return path


def gml_districts(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"bez_id": ["01", "02"], "bez_name": ["Mitte", "Süd-Höve"]},
                           geometry=[MITTE, SUED], crs=4326).to_crs(25832)
    _write(gdf, path, driver="GML")
    return path


def frame_of(path: Path, layer: str | None = None) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyogrio.read_dataframe(path, layer=layer)
