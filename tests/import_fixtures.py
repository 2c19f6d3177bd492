"""Small import fixtures, written by the tests themselves (no dependency on /work/shared).

Two square districts near Hamm (WGS84), points inside and outside them, and writers for
each file format quirk the importers must handle.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pyproj
import shapefile  # pyshp
import shapely
from shapely.geometry import Polygon, box, mapping

# Two districts: "Mitte" west of 7.82, "Süd-Höve" east of it (lon/lat squares).
MITTE = box(7.78, 51.66, 7.82, 51.70)
SUED = box(7.82, 51.66, 7.86, 51.70)
INSIDE_MITTE = (51.68, 7.80)  # (lat, lon)
INSIDE_SUED = (51.675, 7.845)
OUTSIDE = (51.50, 7.50)

# A .prj named like ETRS89 / UTM 32N but with a false easting of 2,500,000 (not EPSG:25832).
WKT_FALSE_EASTING = (
    'PROJCS["ETRS_1989_UTM_Zone_32N",GEOGCS["GCS_ETRS_1989",DATUM["D_ETRS_1989",'
    'SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",2500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",9.0],PARAMETER["Scale_Factor",0.9996],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
WKT_25832 = pyproj.CRS.from_epsg(25832).to_wkt("WKT1_ESRI")


def project(geom: shapely.Geometry, crs: pyproj.CRS | str) -> shapely.Geometry:
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geom, lambda x, y: tr.transform(x, y), interleaved=False)


def shapefile_zip(path: Path, *, prj: str | None = WKT_FALSE_EASTING, encoding: str = "cp1252",
                  cpg: str | None = None, names: tuple[str, str] = ("Mitte", "Süd-Höve"),
                  members: bool = True) -> Path:
    """A zipped polygon Shapefile of the two districts, projected with ``prj``."""
    crs = pyproj.CRS.from_wkt(prj) if prj else pyproj.CRS.from_epsg(4326)
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding=encoding)
    w.field("BEZ_NR", "C", size=10)
    w.field("BEZ_NAME", "C", size=40)
    w.field("EINWOHNER", "N", size=10, decimal=0)
    for nr, name, poly, pop in (("01", names[0], MITTE, 41000), ("02", names[1], SUED, 23500)):
        proj = project(poly, crs)
        ring = list(proj.exterior.coords)[::-1]  # shapefile outer rings are clockwise
        w.poly([ring])
        w.record(nr, name, pop)
    w.close()
    with zipfile.ZipFile(path, "w") as zf:
        if members:
            zf.writestr("bezirke/bezirke.shp", shp.getvalue())
            zf.writestr("bezirke/bezirke.shx", shx.getvalue())
            zf.writestr("bezirke/bezirke.dbf", dbf.getvalue())
            if prj:
                zf.writestr("bezirke/bezirke.prj", prj)
            if cpg:
                zf.writestr("bezirke/bezirke.cpg", cpg)
        zf.writestr("bezirke/liesmich.txt", "Bezirksgrenzen")
    return path


def districts_geojson(path: Path, *, crs: str | None = "urn:ogc:def:crs:EPSG::25832",
                      dims: int = 4) -> Path:
    """Districts as GeoJSON in ``crs`` (metres) with 3D/4D positions."""
    target = pyproj.CRS.from_user_input(crs) if crs else pyproj.CRS.from_epsg(4326)
    features = []
    for nr, name, poly in (("01", "Mitte", MITTE), ("02", "Süd-Höve", SUED)):
        geom = mapping(project(poly, target))
        extra = [55.5, 1234.0][: dims - 2]
        geom = {"type": geom["type"],
                "coordinates": [[[*pos, *extra] for pos in ring] for ring in geom["coordinates"]]}
        features.append({"type": "Feature", "properties": {"BEZ_NR": nr, "BEZ_NAME": name},
                         "geometry": geom})
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def districts_frame() -> dict:
    """The two districts as a canonical districts frame (for pipeline tests without a store)."""
    import pandas as pd

    return pd.DataFrame({"district_id": ["01", "02"], "name": ["Mitte", "Süd-Höve"],
                         "geometry": [MITTE, SUED]})


def german_excel_csv(path: Path) -> Path:
    """Complaints as German Excel writes them: ; decimal comma, cp1252, dd.mm.yyyy HH:MM."""
    lines = [
        "Vorgangsnummer;Eingang;Kategorie;Breite;Länge;Straße;Hausnummer;Status;Bemerkung",
        "B-1;31.12.2024 23:59;Lärmbelästigung;51,68;7,80;Marktplatz;1;offen;Laute Musik",
        "B-2;01.01.2025;Wilder Müll;51,675;7,845;Südstraße;12;erledigt;Sperrmüll",
        "B-3;02.01.2025 08:15:30;Lärmbelästigung;;;Marktplatz;3;in Bearbeitung;Grölen",
        "B-4;31.02.2025;Lärmbelästigung;51,68;7,80;;;offen;Datum falsch",
        "B-5;03.01.2025 10:00;Lärmbelästigung;51,50;7,50;;;offen;außerhalb",
        "B-6;03.01.2025 11:00;Lärmbelästigung;7,80;51,68;;;unbekannt;vertauscht",
        ";;;;;;;;",
        "B-7;04.01.2025 12:00;Wilder Müll;51,68;7,80;;;offen;Umlaut äöüß",
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def open311_json(path: Path, wrapped: bool = False) -> Path:
    requests = [
        {"service_request_id": "A-1", "status": "open", "service_code": "017",
         "service_name": "Ampel defekt", "description": "Ampel blinkt", "agency_responsible": None,
         "requested_datetime": "2024-02-16T21:26:17+01:00", "updated_datetime": "2024-02-16T21:26:17+01:00",
         "address": "Marktplatz 1, 59065 Hamm", "zipcode": None,
         "lat": INSIDE_MITTE[0], "long": INSIDE_MITTE[1]},
        {"service_request_id": "A-2", "status": "closed", "service_name": "Wilder Müll",
         "description": "Sofa", "requested_datetime": "2024-03-01T10:00:00+01:00",
         "updated_datetime": "2024-03-05T12:00:00+01:00", "address": "Südstraße 2, 59065 Hamm",
         "lat": INSIDE_SUED[0], "long": INSIDE_SUED[1]},
        {"service_request_id": "A-3", "status": "open", "service_name": "Wilder Müll",
         "description": "ohne Koordinaten", "requested_datetime": "2024-03-02T10:00:00+01:00",
         "updated_datetime": "2024-03-02T10:00:00+01:00", "address": "Bahnhofstraße 5, 59065 Hamm",
         "lat": None, "long": None},
        {"service_request_id": "A-4", "status": "closed", "service_name": "Ampel defekt",
         "requested_datetime": "2024-03-03T10:00:00+01:00", "updated_datetime": "2024-03-04T09:00:00+01:00",
         "lat": None, "long": None},
    ]
    doc: object = {"service_requests": requests} if wrapped else requests
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def offices_xlsx(path: Path) -> Path:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Dienststellen"
    ws.append(["Nr", "Bezeichnung", "Art", "Breite", "Länge", "Telefon", "Öffnungszeiten",
               "Personal", "Stand"])
    ws.append([1, "Citywache Hamm", "Citywache", INSIDE_MITTE[0], INSIDE_MITTE[1], "02381 555-0200",
               "Mo-Sa 09:00-20:30", 14, dt.datetime(2024, 5, 1, 8, 0)])
    ws.append([2, "Polizeiwache Süd", "Polizeiwache", INSIDE_SUED[0], INSIDE_SUED[1], None, None, 30.0,
               dt.datetime(2024, 5, 1)])
    ws.append([None, None, None, None, None, None, None, None, None])  # an empty row
    ws.append([3, "KOD-Büro Draußen", "KOD-Büro", OUTSIDE[0], OUTSIDE[1], None, None, "viele", None])
    wb.save(path)
    return path


def tree_hash(root: Path) -> str:
    """A hash of every path and file content under ``root`` ('absent' if it does not exist)."""
    if not root.exists():
        return "absent"
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def polygon_feature_collection(path: Path, polys: list[Polygon], ids: list[str]) -> Path:
    feats = [{"type": "Feature", "properties": {"district_id": i, "name": f"Bezirk {i}"},
              "geometry": mapping(p)} for p, i in zip(polys, ids, strict=True)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path
