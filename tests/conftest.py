"""Fixtures shared by several test modules."""

from __future__ import annotations

import pandas as pd
import pytest
from shapely.geometry import box

from geo.cells import build_cell_index


@pytest.fixture(scope="session")
def two_district_index():
    """The H3 (resolution 9) cells of two small adjacent districts, west and east."""
    districts = pd.DataFrame({
        "district_id": ["west", "east"],
        "name": ["West", "East"],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)],
    })
    return build_cell_index(districts, 9)
