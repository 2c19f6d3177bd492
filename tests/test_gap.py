"""The presence gap list (geo.gap) on constructed cases with known answers."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest

from geo.gap import GAP_COLUMNS, main_categories, presence_gap
from geo.hotspots import gi_star


@pytest.fixture(scope="module")
def index(two_district_index):
    return two_district_index


@pytest.fixture(scope="module")
def case(index):
    """Hand-made classes, counts and presence; returns (hotspots, presence, named cells)."""
    west = np.flatnonzero(index.district == "west")
    east = np.flatnonzero(index.district == "east")
    cells = {"w1": west[0], "w2": west[1], "w3": west[2], "w4": west[3], "w5": west[4],
             "e1": east[0], "e2": east[1], "e3": east[2], "e4": east[3]}
    n = len(index.cells)
    cls = np.full(n, "none", dtype=object)
    count = np.zeros(n, dtype=np.int64)
    presence = np.full(n, 500.0)
    spec = {
        # name: (class, complaints, presence minutes)
        "w1": ("hot99", 100, 0.0),
        "w2": ("hot95", 90, 5.0),
        "w3": ("hot99", 60, 60.0),
        "w4": ("hot95", 55, 80.0),
        "w5": ("hot90", 200, 0.0),  # 90 % only: never in the gap
        "e1": ("hot99", 90, 0.0),
        "e2": ("hot95", 90, 0.0),
        "e3": ("hot99", 40, 100.0),
        "e4": ("cold99", 0, 0.0),
    }
    for name, (c, k, p) in spec.items():
        cls[cells[name]] = c
        count[cells[name]] = k
        presence[cells[name]] = p
    hotspots = pd.DataFrame({"h3": index.cells, "count": count, "z": 0.0, "p": 1.0, "p_fdr": 1.0,
                             "cls": cls})
    return hotspots, presence, cells


def test_known_gap_and_ranking(index, case) -> None:
    hotspots, presence, cells = case
    gap = presence_gap(hotspots, presence, index)
    assert list(gap.columns) == GAP_COLUMNS
    # west hot spots (>= 95 %) have presence 0, 5, 60, 80: 1/3 quantile = 5 -> w1, w2
    # east: 0, 0, 100: 1/3 quantile = 0 -> e1, e2 (ties count in)
    e_first, e_second = sorted(["e1", "e2"], key=lambda k: index.cells[cells[k]])
    expected = ["w1", e_first, e_second, "w2"]  # 100; then 90 by presence 0, 0, 5; then h3
    assert gap["h3"].tolist() == [index.cells[cells[k]] for k in expected]
    assert gap["rank"].tolist() == [1, 2, 3, 4]
    assert gap["complaints"].tolist() == [100, 90, 90, 90]
    assert gap["presence_minutes"].tolist() == [0.0, 0.0, 0.0, 5.0]
    assert gap["district_id"].tolist() == ["west", "east", "east", "west"]
    assert gap["cell"].tolist() == [cells[k] for k in expected]
    assert gap["main_categories"].tolist() == [""] * 4
    assert np.allclose(gap["lat"], index.lat[gap["cell"]])


def test_single_hotspot_in_district_is_its_own_lowest_third(index, case) -> None:
    hotspots, presence, cells = case
    hs = hotspots.copy()
    for name in ("e2", "e3"):
        hs.loc[cells[name], "cls"] = "none"
    pres = presence.copy()
    pres[cells["e1"]] = 999.0
    gap = presence_gap(hs, pres, index)
    assert index.cells[cells["e1"]] in gap["h3"].tolist()


def test_main_categories(index, case) -> None:
    hotspots, presence, cells = case
    w1, e1 = cells["w1"], cells["e1"]
    cats = pd.DataFrame({
        "cell": [w1, w1, w1, w1, e1, e1, -1, 10**6],
        "category": ["laerm", "drogen", "muell", "hunde", "parken", "parken", "x", "y"],
        "count": [5, 7, 7, 1, 2, 3, 9, 9],
    })
    gap = presence_gap(hotspots, presence, index, cats)
    by_cell = dict(zip(gap["cell"], gap["main_categories"], strict=True))
    assert by_cell[w1] == "drogen,muell,laerm"  # by count, ties by code, top 3
    assert by_cell[e1] == "parken"  # duplicate rows are summed
    assert by_cell[cells["w2"]] == ""


@pytest.mark.parametrize("top", [0, -1, 1.5, True])
def test_main_categories_top_must_be_positive(top) -> None:
    with pytest.raises(ValueError, match="top must be a positive integer"):
        main_categories(None, 3, top=top)


def test_no_hotspots_gives_empty_list(index) -> None:
    n = len(index.cells)
    hs = gi_star(np.full(n, 3), index)
    gap = presence_gap(hs, np.zeros(n), index)
    assert gap.empty and list(gap.columns) == GAP_COLUMNS


def test_end_to_end_with_gi_star(index) -> None:
    """A hot neighbourhood without patrols next to one with patrols: the unpatrolled is the gap."""
    n = len(index.cells)
    west = np.flatnonzero(index.district == "west")
    a = int(west[len(west) // 2])
    ring = [index.position[c] for c in h3.grid_disk(index.cells[a], 1) if c in index.position]
    x = np.random.default_rng(4).poisson(2.0, n)
    x[ring] += 30
    hs = gi_star(x, index)
    presence = np.zeros(n)
    hot = np.flatnonzero(np.isin(hs["cls"], ["hot95", "hot99"]))
    assert a in hot
    presence[hot] = 100.0
    presence[a] = 0.0
    gap = presence_gap(hs, presence, index)
    assert index.cells[a] in gap["h3"].tolist()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda hs, p: (hs.iloc[1:], p), "one row per cell"),
        (lambda hs, p: (hs.iloc[::-1].reset_index(drop=True), p), "in index order"),
        (lambda hs, p: (hs.drop(columns=["cls"]), p), "needs a column 'cls'"),
        (lambda hs, p: (hs, p[1:]), "presence_minutes must have one value per cell"),
        (lambda hs, p: (hs, np.where(np.arange(len(p)) == 0, -1.0, p)), "not negative"),
        (lambda hs, p: (hs, np.where(np.arange(len(p)) == 0, np.nan, p)), "finite"),
    ],
)
def test_bad_input(index, case, mutate, message) -> None:
    hotspots, presence, _ = case
    hs, pres = mutate(hotspots, presence)
    with pytest.raises(ValueError, match=message):
        presence_gap(hs, pres, index)
