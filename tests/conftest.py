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


# --- a throwaway PostgreSQL/PostGIS cluster for the database store (tests/pgcluster.py) ----------
@pytest.fixture(scope="session")
def pg_cluster():
    """One cluster for the session, removed afterwards. Skipped only when PostgreSQL/PostGIS
    are not installed and ``CI`` is unset (``make test`` installs them); under CI it must run."""
    import pgcluster

    if not pgcluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL 15 with PostGIS 3 is required under CI (make test installs it)")
        pytest.skip("PostgreSQL 15 / PostGIS 3 not installed (make test installs them)")
    cluster = pgcluster.Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster) -> str:
    """A database with the migrated schema that tests copy (CREATE DATABASE ... TEMPLATE)."""
    from data.dbstore import engine_for, migrate

    pg_cluster.create_database("lagebild_tpl")
    engine = engine_for(pg_cluster.url("lagebild_tpl"))
    migrate(engine)
    engine.dispose()
    return "lagebild_tpl"


@pytest.fixture
def pg_url(pg_cluster, pg_template) -> str:
    """A fresh migrated database of this test (its URL)."""
    return pg_cluster.create_database(template=pg_template)
