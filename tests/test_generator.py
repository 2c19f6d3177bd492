"""The demo city generator: determinism, tiling, containment and the required structure."""

from __future__ import annotations

import hashlib
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import shapely

from data import generator
from data.folder import load_folder, write_folder
from data.periods import quarter_label
from geo import prepared

REPO = Path(__file__).resolve().parent.parent
SMALL = {"complaints": 8_000, "pings": 60_000}


@pytest.fixture(scope="module")
def demo():
    """The committed demo folder, loaded and validated."""
    return load_folder(REPO / "data" / "demo")


def _digest(folder: Path) -> dict[str, str]:
    """The data files (the prepared/ folder beside them is checked on its own)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = write_folder(tmp_path / "a", *generator.generate(seed=7, **SMALL))
    b = write_folder(tmp_path / "b", *generator.generate(seed=7, **SMALL))
    c = write_folder(tmp_path / "c", *generator.generate(seed=8, **SMALL))
    assert _digest(a) == _digest(b)
    assert _digest(a)["complaints.parquet"] != _digest(c)["complaints.parquet"]


def test_committed_demo_matches_the_generator(tmp_path: Path) -> None:
    fresh = write_folder(tmp_path / "demo", *generator.generate())
    assert _digest(fresh) == _digest(REPO / "data" / "demo")
    assert prepared.is_current(REPO / "data" / "demo")  # committed with its prepared form


def test_committed_demo_is_small_enough() -> None:
    size = sum(p.stat().st_size for p in (REPO / "data" / "demo").rglob("*") if p.is_file())
    assert size <= 20 * 1024 * 1024


def test_districts_tile_the_city_without_gaps_or_overlaps(demo) -> None:
    geoms = demo["districts"]["geometry"].tolist()
    outline = generator.city_outline()
    assert len(geoms) == 7
    union = shapely.union_all(geoms)
    assert abs(union.area - outline.area) / outline.area < 1e-6
    assert shapely.symmetric_difference(union, outline).area / outline.area < 1e-6
    for a, b in combinations(geoms, 2):
        assert a.intersection(b).area / outline.area < 1e-9


def test_districts_are_hamms_seven_with_plausible_population(demo) -> None:
    d = demo["districts"]
    assert set(d["name"]) == {"Mitte", "Uentrop", "Rhynern", "Pelkum", "Herringen",
                              "Bockum-Hövel", "Heessen"}
    assert 170_000 <= d["population"].sum() <= 195_000
    # Each district's own centre lies in its own polygon (approximately real positions).
    for (did, _name, centre, _pop), geom in zip(generator.DISTRICTS, d["geometry"], strict=True):
        assert geom.contains(shapely.Point(centre)), did
    assert d["team_lead"].str.startswith("Teamleitung").all()  # roles, not persons
    assert d["phone"].str.contains("555-").all()  # fictional numbers


@pytest.mark.parametrize("dataset", ["complaints", "patrol_points", "staff_incidents", "offices"])
def test_every_point_lies_inside_the_city(demo, dataset: str) -> None:
    frame = demo[dataset]
    inside = shapely.contains_xy(generator.city_outline(), frame["lon"].to_numpy(),
                                 frame["lat"].to_numpy())
    assert inside.all(), f"{(~inside).sum()} {dataset} outside the city"


def test_offices_include_citywache_and_police(demo) -> None:
    offices = demo["offices"]
    assert len(offices) >= 4
    citywache = offices[offices["kind"] == "citywache"]
    assert citywache["opening_hours"].tolist() == ["Mo-Sa 09:00-20:30"]
    assert (offices["kind"] == "police_station").any()


def test_complaints_cover_eight_quarters_and_three_fields(demo) -> None:
    c = demo["complaints"]
    assert 38_000 <= len(c) <= 42_000
    assert [quarter_label(q) for q in demo.quarters()] == [
        "2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert set(c["field"]) == {"nachbarschaft", "oeffentliche_raeume", "infrastruktur"}
    assert c["district_id"].notna().all()


def _near(frame, centre, radius_m: float) -> np.ndarray:
    dx = (frame["lon"].to_numpy() - centre[0]) * 111_320 * np.cos(np.radians(centre[1]))
    dy = (frame["lat"].to_numpy() - centre[1]) * 110_540
    return np.hypot(dx, dy) <= radius_m


def _per_quarter(demo, mask: np.ndarray) -> np.ndarray:
    q = demo["complaints"]["quarter"].to_numpy()[mask]
    return np.bincount(q - min(demo.quarters()), minlength=8)


def test_station_cluster_is_strong(demo) -> None:
    c = demo["complaints"]
    near = _near(c, generator.STATION, 300)
    # 300 m around the station: a tiny share of the city's area, over a tenth of complaints.
    assert near.mean() > 0.10


def test_emerging_cluster_grows_in_the_later_quarters(demo) -> None:
    counts = _per_quarter(demo, _near(demo["complaints"], generator.EMERGING, 250))
    assert counts[:4].sum() < 0.2 * counts[4:].sum()
    assert counts[7] > counts[5] > counts[4]


def test_fading_cluster_fades(demo) -> None:
    counts = _per_quarter(demo, _near(demo["complaints"], generator.FADING, 250))
    first, last = counts[:4].sum(), counts[4:].sum()
    assert last < 0.8 * first
    assert counts[7] < 0.75 * counts[0]


def test_seasonal_and_time_of_day_patterns(demo) -> None:
    c = demo["complaints"]
    local = c["received_at"].dt.tz_convert("Europe/Berlin")
    noise = c["category"] == "laerm"
    summer = local.dt.month.isin([6, 7, 8])
    winter = local.dt.month.isin([12, 1, 2])
    assert (noise & summer).sum() > 1.3 * (noise & winter).sum()
    hours = local.dt.hour[noise]
    assert hours.isin([21, 22, 23, 0, 1]).mean() > 0.4
    parking = local.dt.hour[c["category"] == "parken"]
    assert parking.between(7, 18).mean() > 0.7


def test_pings_every_30_to_60_seconds(demo) -> None:
    p = demo["patrol_points"]
    same = p["patrol_id"].to_numpy()[1:] == p["patrol_id"].to_numpy()[:-1]
    gaps = np.diff(p["time"].dt.as_unit("s").astype("int64").to_numpy())[same]
    regular = gaps[gaps <= 60]
    assert regular.min() >= 30
    assert (gaps <= 60).mean() > 0.99  # the rest are breaks (dropped by dosage)
    assert set(demo["patrols"]["kind"]) == {"kod", "joint", "police"}


def test_some_clusters_are_covered_and_the_emerging_one_is_not(demo) -> None:
    pings = demo["patrol_points"]
    assert _near(pings, generator.STATION, 300).sum() > 20_000
    assert _near(pings, generator.FADING, 300).sum() > 5_000
    assert _near(pings, generator.EMERGING, 400).sum() == 0


def test_staff_incidents_focus_areas_and_categories(demo) -> None:
    assert len(demo["staff_incidents"]) >= 40
    areas = demo["focus_areas"]
    assert ("Bahnhofsquartier", "schwerpunkt") in set(zip(areas["name"], areas["kind"], strict=True))
    assert (areas["kind"] == "angstraum").sum() == 1
    cats = demo["categories"]
    assert cats["label_de"].notna().all() and cats["label_en"].notna().all()


def test_negative_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="got complaints=-1"):
        generator.generate(complaints=-1)
