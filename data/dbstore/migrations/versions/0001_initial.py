"""Initial schema: state, versions, canonical data sets (PostGIS), reports, plans, cubes.

Every canonical data set is one table ``ds_<name>`` whose rows belong to the generation
that wrote them (``generation``; ``rn`` = the row's position in the data set);
``lagebild_generation_data`` says which rows each generation's data set uses, so unchanged
data sets are shared, never copied. Geometry is
EPSG:4326 with a GiST index; point tables carry a generated point geometry from lon/lat and
their H3 cells at resolutions 8, 9 and 10 as bigint (computed in Python at import, h3-pg is
not packaged for Debian 12).

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_POINT = ("geom geometry(Point, 4326) GENERATED ALWAYS AS "
          "(ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED")
_H3 = "h3_8 bigint, h3_9 bigint, h3_10 bigint"

DATASETS = {
    "districts": """district_id text NOT NULL, name text NOT NULL,
        geometry geometry(Geometry, 4326) NOT NULL, population bigint, parent_id text,
        team_name text, team_lead text, phone text, email text""",
    "offices": f"""office_id text NOT NULL, name text NOT NULL, kind text NOT NULL,
        lat double precision NOT NULL, lon double precision NOT NULL, operator text,
        address text, phone text, opening_hours text, staff bigint, {_POINT}, {_H3}""",
    "patrols": """patrol_id text NOT NULL, start timestamptz NOT NULL, "end" timestamptz NOT NULL,
        kind text NOT NULL, unit text, staff bigint, district_id text""",
    "patrol_points": f"""patrol_id text NOT NULL, time timestamptz NOT NULL,
        lat double precision NOT NULL, lon double precision NOT NULL, {_POINT}, {_H3}""",
    "complaints": f"""complaint_id text NOT NULL, received_at timestamptz NOT NULL,
        category text NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL,
        field text, description text, address text, status text, closed_at timestamptz,
        source text, {_POINT}, {_H3}""",
    "staff_incidents": f"""incident_id text NOT NULL, occurred_at timestamptz NOT NULL,
        kind text NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL,
        during text, injured boolean, reported_to_police boolean, {_POINT}, {_H3}""",
    "focus_areas": """area_id text NOT NULL, name text NOT NULL, kind text NOT NULL,
        geometry geometry(Geometry, 4326) NOT NULL, since timestamptz, until timestamptz""",
    "categories": """category text NOT NULL, field text NOT NULL, label_de text NOT NULL,
        label_en text""",
}
POLYGONS = ("districts", "focus_areas")
POINTS = ("offices", "patrol_points", "complaints", "staff_incidents")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("""CREATE TABLE lagebild_state (
        id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        generation integer NOT NULL DEFAULT 0,
        active boolean NOT NULL DEFAULT false,
        changed_at timestamptz NOT NULL DEFAULT now())""")
    op.execute("INSERT INTO lagebild_state (id) VALUES (1)")
    op.execute("""CREATE TABLE lagebild_generations (
        generation integer PRIMARY KEY CHECK (generation > 0),
        time text NOT NULL,
        created timestamptz NOT NULL DEFAULT now(),
        action text NOT NULL CHECK (action IN ('import', 'restore')),
        source text,
        restored_from integer REFERENCES lagebild_generations (generation),
        datasets jsonb NOT NULL,
        notes jsonb NOT NULL DEFAULT '[]',
        meta jsonb NOT NULL DEFAULT '{}')""")
    op.execute("""CREATE TABLE lagebild_generation_data (
        generation integer NOT NULL REFERENCES lagebild_generations (generation),
        dataset text NOT NULL,
        data_generation integer NOT NULL REFERENCES lagebild_generations (generation),
        records bigint NOT NULL,
        PRIMARY KEY (generation, dataset))""")
    op.execute("""CREATE TABLE lagebild_import_reports (
        generation integer NOT NULL REFERENCES lagebild_generations (generation),
        dataset text NOT NULL,
        report jsonb NOT NULL,
        PRIMARY KEY (generation, dataset))""")
    op.execute("""CREATE TABLE lagebild_mappings (
        shape_key text PRIMARY KEY,
        entry jsonb NOT NULL)""")
    op.execute("""CREATE TABLE lagebild_plans (
        plan_id text PRIMARY KEY,
        name text NOT NULL,
        created timestamptz NOT NULL DEFAULT now(),
        created_by text,
        generation integer REFERENCES lagebild_generations (generation),
        plan jsonb NOT NULL)""")
    op.execute("""CREATE TABLE lagebild_prepared (
        generation integer NOT NULL REFERENCES lagebild_generations (generation),
        name text NOT NULL,
        format text NOT NULL DEFAULT 'parquet',
        body bytea NOT NULL,
        PRIMARY KEY (generation, name))""")
    for name, columns in DATASETS.items():
        op.execute(f"""CREATE TABLE ds_{name} (
            generation integer NOT NULL REFERENCES lagebild_generations (generation),
            rn bigint NOT NULL,
            {columns})""")
        op.execute(f"CREATE UNIQUE INDEX ds_{name}_generation ON ds_{name} (generation, rn)")
    for name in POLYGONS:
        op.execute(f"CREATE INDEX ds_{name}_geometry ON ds_{name} USING gist (geometry)")
    for name in POINTS:
        op.execute(f"CREATE INDEX ds_{name}_geom ON ds_{name} USING gist (geom)")
        op.execute(f"CREATE INDEX ds_{name}_h3_9 ON ds_{name} (generation, h3_9)")


def downgrade() -> None:
    for name in DATASETS:
        op.execute(f"DROP TABLE IF EXISTS ds_{name}")
    for table in ("lagebild_prepared", "lagebild_plans", "lagebild_mappings",
                  "lagebild_import_reports", "lagebild_generation_data", "lagebild_generations",
                  "lagebild_state"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
