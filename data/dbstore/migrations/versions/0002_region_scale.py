"""Region scale: an index for the single-complaint query, a cheap spatial index for pings.

* ``ds_complaints (generation, received_at)``: the coordinators' single-complaint layer
  asks for the newest complaints of a period (``ORDER BY received_at DESC LIMIT n``,
  :func:`data.dbstore.records.query_points`); with this index PostgreSQL reads only the
  rows it returns (or, for a few districts, starts from the GiST index on ``geom``).
* ``ds_patrol_points``: 100 million pings per load make a GiST index the most expensive
  part of a COPY (every row is a random insert into an R-tree). No query of the app
  looks up pings by place (the app reads presence cubes), so the pings keep a BRIN index
  on ``geom`` (a few pages, built from the rows in load order) for the city's GIS, and no
  H3 b-tree (the H3 columns stay).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ds_complaints_time ON ds_complaints (generation, received_at)")
    op.execute("DROP INDEX IF EXISTS ds_patrol_points_geom")
    op.execute("DROP INDEX IF EXISTS ds_patrol_points_h3_9")
    op.execute("CREATE INDEX ds_patrol_points_geom_brin ON ds_patrol_points USING brin (geom)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ds_patrol_points_geom_brin")
    op.execute("CREATE INDEX ds_patrol_points_h3_9 ON ds_patrol_points (generation, h3_9)")
    op.execute("CREATE INDEX ds_patrol_points_geom ON ds_patrol_points USING gist (geom)")
    op.execute("DROP INDEX IF EXISTS ds_complaints_time")
