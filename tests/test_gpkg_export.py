"""The GeoPackage export: read back with pyogrio (layers, CRS, counts, QGIS styles); roles and k."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from data.filters import Filters
from data.folder import load_folder
from data.periods import parse_quarter
from data.roles import LOCAL_ADMIN, Principal, restrict
from geo import model as geo_model
from viz import gpkg, pagedata

REPO = Path(__file__).resolve().parent.parent
F = Filters(parse_quarter("2026-Q3"), parse_quarter("2026-Q3"))


def read(path: Path, layer: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyogrio.read_dataframe(path, layer=layer)


@pytest.fixture(scope="module")
def demo():
    return load_folder(REPO / "data" / "demo")


@pytest.fixture(scope="module")
def admin_file(demo, tmp_path_factory) -> tuple[Path, list[gpkg.GpkgLayer]]:
    model = geo_model.build(demo, 9)
    layers = gpkg.export_layers(demo, model, F, LOCAL_ADMIN, metric="per_1000")
    return gpkg.write_gpkg(layers, tmp_path_factory.mktemp("gpkg") / "lagebild.gpkg"), layers


def test_layers_crs_and_counts(admin_file, demo) -> None:
    path, layers = admin_file
    listed = {str(name): str(kind) for name, kind in pyogrio.list_layers(path)}
    assert {k: listed[k] for k in gpkg.LAYERS} == {"districts": "MultiPolygon", "cells": "Polygon",
                                                  "offices": "Point", "focus_areas": "MultiPolygon"}
    for layer in layers:
        frame = read(path, layer.name)
        assert frame.crs.to_epsg() == 25832
        assert len(frame) == len(layer.frame)
    districts = read(path, "districts")
    assert len(districts) == len(demo["districts"]) == 7
    assert len(read(path, "offices")) == len(demo["offices"])
    assert len(read(path, "focus_areas")) == len(demo["focus_areas"])
    # the district numbers are the app's district table
    table = pagedata.district_table(demo, geo_model.build(demo, 9), F).set_index("district_id")
    got = districts.set_index("district_id")
    assert got["complaints"].astype(int).to_dict() == table["complaints"].to_dict()
    assert np.allclose(got["metric"], table["per_1000"].round(3), atol=1e-3)
    # UTM coordinates (metres), Hamm around E 410,000 N 5,727,000
    minx, miny, maxx, maxy = districts.total_bounds
    assert 390_000 < minx < maxx < 440_000 and 5_700_000 < miny < maxy < 5_750_000


def test_cells_columns(admin_file) -> None:
    cells = read(admin_file[0], "cells")
    assert {"h3", "district_id", "complaints", "gi_z", "gi_class", "emerging_class", "presence_kod_min",
            "presence_joint_min", "presence_police_min", "presence_total_min", "gap"} <= set(cells.columns)
    assert cells["complaints"].sum() > 0 and cells["presence_total_min"].sum() > 0
    assert set(cells["gi_class"]) >= {"hot99", "none"}
    assert cells["gap"].isin([0, 1]).all() and cells["gap"].sum() > 0
    assert (cells["emerging_class"] != "none").any()


def test_styles_in_layer_styles(admin_file) -> None:
    con = sqlite3.connect(admin_file[0])
    rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML, styleSLD "
                       "FROM layer_styles ORDER BY id").fetchall()
    contents = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    con.close()
    assert [r[0] for r in rows] == list(gpkg.LAYERS)
    assert contents == ("attributes",)
    for _name, geom_col, default, qml, sld in rows:
        assert geom_col == "geom" and default == 1
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        renderer = root.find("renderer-v2")
        assert renderer is not None and renderer.get("attr") in ("metric", "gi_class", "kind")
        assert ET.fromstring(sld.encode("utf-8")).tag.endswith("StyledLayerDescriptor")
    cells_qml = dict((r[0], r[3]) for r in rows)["cells"]
    assert 'value="hot99"' in cells_qml and "178,24,43" in cells_qml  # #b2182b as in the app


def test_wgs84_on_request(demo, tmp_path: Path) -> None:
    model = geo_model.build(demo, 8)
    path = gpkg.write_gpkg(gpkg.export_layers(demo, model, F, LOCAL_ADMIN, metric="trend"),
                           tmp_path / "x.gpkg", epsg=4326)
    districts = read(path, "districts")
    assert districts.crs.to_epsg() == 4326
    assert 7.6 < districts.total_bounds[0] < 8.0
    assert set(districts["metric_name"]) == {"trend"}
    with pytest.raises(ValueError, match="epsg must be one of"):
        gpkg.write_gpkg([], tmp_path / "y.gpkg", epsg=3857)


@pytest.mark.parametrize("k", [5, 10])
def test_viewer_file_has_nothing_below_k(demo, tmp_path: Path, k: int) -> None:
    viewer = Principal(role="viewer")
    bundle = restrict(demo, viewer)
    model = geo_model.build(bundle, 9)
    path = gpkg.write_gpkg(gpkg.export_layers(bundle, model, F, viewer, k=k), tmp_path / "v.gpkg")
    cells = read(path, "cells")
    counts = cells["complaints"].dropna()
    assert len(counts) and (counts >= k).all()
    assert cells.loc[cells["complaints"].isna(), ["gi_class", "emerging_class"]].isna().all().all()
    districts = read(path, "districts")
    for col in ("complaints", "incidents", "previous", "open"):
        values = districts[col].dropna()
        assert (values >= k).all(), col
    # no single complaint anywhere: no point layer but the offices, no complaint ids or texts
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    con.close()
    assert tables == {*gpkg.LAYERS, "layer_styles"}
    assert not {"complaint_id", "description", "address"} & set(cells.columns)
    # the admin's file of the same view does hold cells with 1..k-1 complaints
    admin = gpkg.cell_layer(demo, geo_model.build(demo, 9), F, None)
    assert ((admin["complaints"] > 0) & (admin["complaints"] < k)).any()


def test_coordinator_sees_only_their_districts(demo, tmp_path: Path) -> None:
    coord = Principal(role="coordinator", districts=(str(demo["districts"]["district_id"].iloc[0]),))
    bundle = restrict(demo, coord)
    layers = gpkg.export_layers(bundle, geo_model.build(bundle, 9), F, coord)
    path = gpkg.write_gpkg(layers, tmp_path / "c.gpkg")
    assert set(read(path, "districts")["district_id"]) == set(coord.districts)
    assert set(read(path, "cells")["district_id"]) == set(coord.districts)


def test_cli_export(tmp_path: Path) -> None:
    out = tmp_path / "partner.gpkg"
    proc = subprocess.run(
        [sys.executable, "-m", "data", "export", "--gpkg", str(out), "--data", str(REPO / "data" / "demo"),
         "--query", "http://localhost:8501/lagebild?q=2026-Q3&m=trend&k=kod,joint&x=1", "--role", "viewer",
         "--crs", "4326"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["crs"] == "EPSG:4326" and last["role"] == "viewer" and last["k"] == 5
    assert last["metric"] == "trend" and last["layers"]["districts"] == 7
    assert read(out, "cells")["complaints"].dropna().min() >= 5
    assert {str(n) for n, _ in pyogrio.list_layers(out)} >= set(gpkg.LAYERS)
    bad = subprocess.run([sys.executable, "-m", "data", "export", "--gpkg", str(out), "--crs", "3857"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
