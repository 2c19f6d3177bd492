"""Fixtures shared by several test modules, and a clean environment for every test.

Tests must not see the developer's own set-up: their LAGEBILD_* variables (a data folder,
a local role, k) and their import store under data/store (an active import would replace
the demo city). The session gets an empty store of its own.
"""

from __future__ import annotations

import os
import tempfile

import pandas as pd
import pytest
from shapely.geometry import box

from geo.cells import build_cell_index

for _name in [n for n in os.environ if n.startswith("LAGEBILD_")]:
    del os.environ[_name]
os.environ["LAGEBILD_STORE"] = tempfile.mkdtemp(prefix="lagebild-test-store-")


@pytest.fixture(scope="session")
def two_district_index():
    """The H3 (resolution 9) cells of two small adjacent districts, west and east."""
    districts = pd.DataFrame({
        "district_id": ["west", "east"],
        "name": ["West", "East"],
        "geometry": [box(7.800, 51.670, 7.815, 51.690), box(7.815, 51.670, 7.830, 51.690)],
    })
    return build_cell_index(districts, 9)
