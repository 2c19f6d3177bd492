"""The demo region (data/region.py): demo cities side by side, written one tile at a time."""

from __future__ import annotations

import hashlib
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from data import cli, generator, region
from data.folder import load_folder
from geo import model, prepared

SIZES = {"complaints": 3_001, "pings": 20_002}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("region") / "r"
    region.write_region(folder, 3, seed=5, **SIZES)
    return folder


def test_region_is_a_valid_folder_with_the_requested_totals(three: Path) -> None:
    bundle = load_folder(three)  # validates every data set (raises when invalid)
    assert len(bundle["complaints"]) == SIZES["complaints"]
    assert len(bundle["patrol_points"]) == SIZES["pings"]
    assert len(bundle["districts"]) == 3 * len(generator.DISTRICTS)
    assert bundle["districts"]["district_id"].is_unique
    assert {d.split("-", 1)[0] for d in bundle["districts"]["district_id"]} == {"s01", "s02", "s03"}
    # every complaint lies in a district of the region (none falls between the tiles)
    assert bundle["complaints"]["district_id"].notna().all()
    meta = json.loads((three / "dataset.json").read_text(encoding="utf-8"))
    assert meta["tiles"] == 3 and meta["synthetic"] is True


def test_tiles_do_not_overlap_and_each_is_the_demo_city_moved(three: Path) -> None:
    districts = load_folder(three, lazy=("complaints", "patrol_points"))["districts"]
    tiles = {t: shapely.union_all(g.to_numpy()) for t, g in
             districts.groupby(districts["district_id"].str[:3])["geometry"]}
    for a, b in combinations(sorted(tiles), 2):
        assert shapely.intersection(tiles[a], tiles[b]).area == 0
    city = shapely.union_all(generator.build_districts()["geometry"].to_numpy())
    for k, offset in enumerate(np.array(region.tile_offsets(3))):
        moved = shapely.transform(city, lambda xy, d=offset: xy + d)
        # equal up to the coordinates' rounding in the GeoJSON file
        assert tiles[f"s{k + 1:02d}"].symmetric_difference(moved).area < city.area * 1e-5


def test_streamed_in_row_groups_per_tile_and_deterministic(three: Path, tmp_path: Path) -> None:
    groups = pq.ParquetFile(three / "patrol_points.parquet").metadata.num_row_groups
    assert groups == 3  # one per tile (each far below the row group size)
    again = region.write_region(tmp_path / "again", 3, seed=5, **SIZES)[0]
    other = region.write_region(tmp_path / "other", 3, seed=6, **SIZES)[0]
    assert _digest(again) == _digest(three)
    assert _digest(other)["patrol_points.parquet"] != _digest(three)["patrol_points.parquet"]
    # tile 2 holds what the demo generator makes with seed + 1, moved east
    frames, _ = generator.generate(seed=6, complaints=1_000, pings=6_667)
    c = load_folder(three)["complaints"]
    mine = c[c["complaint_id"].str.startswith("s02-")].reset_index(drop=True)
    dx = region.tile_offsets(3)[1][0]
    assert (mine["complaint_id"] == "s02-" + frames["complaints"]["complaint_id"]).all()
    pd.testing.assert_series_equal(mine["lon"], (frames["complaints"]["lon"] + dx).round(6),
                                   check_names=False)


def test_cli_demo_tiles_writes_and_prepares_the_region(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    code = cli.main(["demo", "--tiles", "2", "--complaints", "2000", "--pings", "12000",
                     "--out", str(out)], preparer=prepared.prepare_folder)
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["tiles"] == 2 and result["records"]["patrol_points"] == 12_000
    assert prepared.is_current(out)
    pb, rb = prepared.open_bundle(out, progress=None), load_folder(out)
    mp, mr = model.build(pb, 9), model.build(rb, 9)
    pd.testing.assert_frame_equal(mp.complaint_cube, mr.complaint_cube)
    pd.testing.assert_frame_equal(mp.presence_cube, mr.presence_cube, check_exact=False)
    with pytest.raises(SystemExit) as usage:
        cli.main(["demo", "--tiles", "0", "--out", str(out)])
    assert usage.value.code == 2
