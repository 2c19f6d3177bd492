"""Valid complaint files of every import format at a given size (issue #15, bench/hostile.py).

Each writer makes a file of about ``size`` bytes of valid complaint points inside the two test
districts near Hamm (tests/import_fixtures.py): CSV (plain and German Excel style), GeoJSON,
Open311 JSON, XLSX, a zipped Shapefile, GeoPackage, FlatGeobuf, GML, KML and GPX (waypoints).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CATEGORIES = ("laerm", "Wilder Müll", "Graffiti", "Ruhestörung")


def _records(n: int, start: int = 0) -> tuple[np.ndarray, list[str], list[str], np.ndarray, np.ndarray]:
    i = np.arange(start, start + n)
    lat = 51.661 + (i % 389) * 1e-4
    lon = 7.781 + (i % 787) * 1e-4
    ids = [f"A-{k:08d}" for k in i]
    times = [f"2026-07-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:00" for k in i]
    return i, ids, times, lat, lon


def csv_plain(path: Path, size: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("complaint_id,received_at,category,lat,lon\n")
        written, start = 0, 0
        while written < size:
            i, ids, times, lat, lon = _records(20_000, start)
            text = "".join(f"{a},{t},{CATEGORIES[k % 4]},{y:.6f},{x:.6f}\n"
                           for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True))
            f.write(text)
            written += len(text.encode())
            start += 20_000


def csv_excel(path: Path, size: int) -> None:
    """German Excel: ; decimal comma, cp1252, dd.mm.yyyy HH:MM, CRLF."""
    with path.open("w", encoding="cp1252", newline="") as f:
        f.write("Vorgangsnummer;Eingang;Kategorie;Breite;Länge\r\n")
        written, start = 0, 0
        while written < size:
            i, ids, _, lat, lon = _records(20_000, start)
            ys = np.char.replace(np.char.mod("%.6f", lat), ".", ",")
            xs = np.char.replace(np.char.mod("%.6f", lon), ".", ",")
            text = "".join(f"{a};{1 + k % 28:02d}.07.2026 {k % 24:02d}:{k % 60:02d};{CATEGORIES[k % 4]};"
                           f"{y};{x}\r\n" for a, k, y, x in zip(ids, i, ys, xs, strict=True))
            f.write(text)
            written += len(text)
            start += 20_000


def _count(size: int, per_record: int) -> int:
    return max(1, size // per_record)


def geojson(path: Path, size: int) -> None:
    n = _count(size, 190)
    i, ids, times, lat, lon = _records(n)
    feats = (f'{{"type":"Feature","properties":{{"complaint_id":"{a}","received_at":"{t}",'
             f'"category":"{CATEGORIES[k % 4]}"}},'
             f'"geometry":{{"type":"Point","coordinates":[{x:.6f},{y:.6f}]}}}}'
             for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True))
    path.write_text('{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}", encoding="utf-8")


def open311(path: Path, size: int) -> None:
    n = _count(size, 200)
    i, ids, times, lat, lon = _records(n)
    recs = (f'{{"service_request_id":"{a}","service_name":"{CATEGORIES[k % 4]}","requested_datetime":'
            f'"{t}+02:00","lat":{y:.6f},"long":{x:.6f},"status":"open","address":"Marktplatz {k % 50}"}}'
            for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True))
    path.write_text("[" + ",".join(recs) + "]", encoding="utf-8")


def xlsx(path: Path, size: int) -> None:
    import openpyxl

    n = _count(size, 45)  # compressed bytes per row of five cells
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Beschwerden")
    ws.append(["Vorgangsnummer", "Eingang", "Kategorie", "Breite", "Länge"])
    i, ids, times, lat, lon = _records(n)
    for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True):
        ws.append([a, t.replace("T", " "), CATEGORIES[k % 4], round(float(y), 6), round(float(x), 6)])
    wb.save(path)


def shapefile_zip(path: Path, size: int) -> None:
    import shapefile  # pyshp

    n = _count(size, 95)  # .shp 28 + .shx 8 + .dbf 59 bytes per point (zip compresses a little)
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POINT, encoding="utf-8")
    w.field("ID", "C", size=12)
    w.field("EINGANG", "C", size=20)
    w.field("KATEGORIE", "C", size=20)
    i, ids, times, lat, lon = _records(n)
    for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True):
        w.point(float(x), float(y))
        w.record(a, t, CATEGORIES[k % 4])
    w.close()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("beschwerden.shp", shp.getvalue())
        zf.writestr("beschwerden.shx", shx.getvalue())
        zf.writestr("beschwerden.dbf", dbf.getvalue())
        zf.writestr("beschwerden.prj", 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
                    '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')
        zf.writestr("beschwerden.cpg", "UTF-8")


def _gdal(driver: str, per_record: int, suffix: str) -> Callable[[Path, int], None]:
    def write(path: Path, size: int) -> None:
        import geopandas as gpd
        import pandas as pd
        import shapely

        n = _count(size, per_record)
        i, ids, times, lat, lon = _records(n)
        frame = gpd.GeoDataFrame({"complaint_id": ids, "received_at": pd.to_datetime(times),
                                  "category": [CATEGORIES[k % 4] for k in i]},
                                 geometry=shapely.points(lon, lat), crs="EPSG:4326")
        tmp = path.with_suffix(suffix)
        frame.to_file(tmp, driver=driver)
        if tmp != path:
            tmp.rename(path)

    return write


def gpx(path: Path, size: int) -> None:
    n = _count(size, 150)
    i, ids, times, lat, lon = _records(n)
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="bench" '
                'xmlns="http://www.topografix.com/GPX/1/1">\n')
        for a, t, k, y, x in zip(ids, times, i, lat, lon, strict=True):
            f.write(f'<wpt lat="{y:.6f}" lon="{x:.6f}"><time>{t}Z</time><name>{a}</name>'
                    f"<type>{CATEGORIES[k % 4]}</type></wpt>\n")
        f.write("</gpx>\n")


#: format id -> (file name, writer(path, bytes))
FORMATS: dict[str, tuple[str, Callable[[Path, int], None]]] = {
    "csv": ("beschwerden.csv", csv_plain),
    "csv-excel": ("beschwerden_excel.csv", csv_excel),
    "geojson": ("beschwerden.geojson", geojson),
    "open311": ("sagsuns.json", open311),
    "xlsx": ("beschwerden.xlsx", xlsx),
    "shapefile": ("beschwerden.zip", shapefile_zip),
    "gpkg": ("beschwerden.gpkg", _gdal("GPKG", 110, ".gpkg")),
    "flatgeobuf": ("beschwerden.fgb", _gdal("FlatGeobuf", 130, ".fgb")),
    "gml": ("beschwerden.gml", _gdal("GML", 420, ".gml")),
    "kml": ("beschwerden.kml", _gdal("KML", 330, ".kml")),
    "gpx": ("beschwerden.gpx", gpx),
}


def write(fmt: str, folder: Path, size: int) -> Path:
    name, writer = FORMATS[fmt]
    path = folder / name
    writer(path, size)
    return path


if __name__ == "__main__":  # python bench/large_files.py FORMAT FOLDER MB
    import sys

    out = write(sys.argv[1], Path(sys.argv[2]), int(float(sys.argv[3]) * 2**20))
    print(json.dumps({"file": str(out), "mb": round(out.stat().st_size / 2**20, 2)}))
