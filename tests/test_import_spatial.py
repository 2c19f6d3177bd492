"""District membership by point in polygon: correct and fast enough for 1,000,000 points."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from data.spatial import assign_polygons


def _star(cx: float, cy: float, r: float, n: int = 400) -> shapely.Polygon:
    """A detailed, concave polygon (n vertices), like a real district boundary."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = r * (0.75 + 0.25 * np.sin(angles * 7))
    return shapely.Polygon(np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)])


def test_assign_matches_shapely() -> None:
    polys = [_star(7.8, 51.68, 0.03), box(7.83, 51.65, 7.9, 51.7), box(7.9, 51.65, 7.95, 51.7)]
    rng = np.random.default_rng(3)
    lon = rng.uniform(7.7, 8.0, 20_000)
    lat = rng.uniform(51.6, 51.75, 20_000)
    got = assign_polygons(lat, lon, polys, ["a", "b", "c"])
    pts = shapely.points(lon, lat)
    for k, (poly, pid) in enumerate(zip(polys, "abc", strict=True)):
        inside = shapely.intersects(poly, pts)
        earlier = np.zeros_like(inside)
        for p in polys[:k]:
            earlier |= shapely.intersects(p, pts)
        assert (got[inside & ~earlier] == pid).all()
    none = ~np.any([shapely.intersects(p, pts) for p in polys], axis=0)
    assert all(v is None for v in got[none])


def test_shared_boundary_goes_to_the_first_and_odd_inputs() -> None:
    left, right = box(0, 0, 1, 1), box(1, 0, 2, 1)
    out = assign_polygons(np.array([0.5, 0.5, np.nan, 5.0]), np.array([1.0, 1.5, 0.5, 5.0]),
                          [left, right], [("L", 1), ("R", 2)])
    assert out.tolist() == [("L", 1), ("R", 2), None, None]
    assert assign_polygons(np.array([]), np.array([]), [left], ["L"]).shape == (0,)
    assert assign_polygons(np.array([0.5]), np.array([0.5]), [], []).tolist() == [None]
    with pytest.raises(ValueError, match="same shape"):
        assign_polygons(np.array([1.0]), np.array([1.0, 2.0]), [left], ["L"])
    with pytest.raises(ValueError, match="one id per polygon"):
        assign_polygons(np.array([1.0]), np.array([1.0]), [left, right], ["L"])


def test_one_million_points_in_many_districts() -> None:
    """Correct on a large input; its speed (1M points < 20 s) is measured by bench/analytics.py."""
    # 40 detailed districts (400 vertices each) in a grid, 1,000,000 points
    polys = [_star(7.7 + 0.05 * i, 51.6 + 0.05 * j, 0.03) for i in range(8) for j in range(5)]
    ids = [f"d{k}" for k in range(len(polys))]
    rng = np.random.default_rng(0)
    n = 1_000_000
    lon = rng.uniform(7.65, 8.15, n)
    lat = rng.uniform(51.55, 51.85, n)
    out = assign_polygons(lat, lon, polys, ids)
    assert 0.2 * n < sum(v is not None for v in out[:10_000]) * 100 < 0.9 * n
