"""Region scale: complaints and pings partitioned by generation (one table per load).

A region load writes 10 million complaints and 100 million pings in one transaction. Into
one shared table that costs, per row, a foreign-key check (a queued trigger event, held in
the server's memory until the statement ends) and an insert into every index (a random
R-tree insert for the complaints' GiST index): measured, 3 to 8 times the COPY itself.
With ``ds_complaints`` and ``ds_patrol_points`` partitioned by ``LIST (generation)``
(:func:`data.dbstore.partitions`), a load COPYs into a new, bare table of its own (created in
its transaction, so ``COPY ... FREEZE``), then attaches it: PostgreSQL builds its indexes
in bulk, checks the foreign key with one join, and a rollback or a killed loader drops the
table with the transaction. Queries name a generation, so they read one partition.

Existing rows are moved into one partition per generation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: The indexes of the two tables (0001, 0002): name -> definition after "ON <table>".
INDEXES = {
    "complaints": {"ds_complaints_generation": "UNIQUE INDEX {n} ON {t} (generation, rn)",
                   "ds_complaints_geom": "INDEX {n} ON {t} USING gist (geom)",
                   "ds_complaints_h3_9": "INDEX {n} ON {t} (generation, h3_9)",
                   "ds_complaints_time": "INDEX {n} ON {t} (generation, received_at)"},
    "patrol_points": {"ds_patrol_points_generation": "UNIQUE INDEX {n} ON {t} (generation, rn)",
                      "ds_patrol_points_geom_brin": "INDEX {n} ON {t} USING brin (geom)"},
}


def _columns(table: str) -> str:
    rows = op.get_bind().execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "AND is_generated = 'NEVER' ORDER BY ordinal_position"), {"t": table}).scalars().all()
    return ", ".join(f'"{c}"' for c in rows)


def _partition(name: str, generation: int) -> None:
    table = f"ds_{name}_g{generation}"
    op.execute(f"CREATE TABLE {table} (LIKE ds_{name} INCLUDING DEFAULTS INCLUDING GENERATED)")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_generation CHECK (generation = {generation})")
    op.execute(f"ALTER TABLE ds_{name} ATTACH PARTITION {table} FOR VALUES IN ({generation})")


def upgrade() -> None:
    for name, indexes in INDEXES.items():
        table, old = f"ds_{name}", f"ds_{name}_unpartitioned"
        op.execute(f"ALTER TABLE {table} RENAME TO {old}")
        for index in indexes:
            op.execute(f"ALTER INDEX IF EXISTS {index} RENAME TO {index}_old")
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING GENERATED) "
                   "PARTITION BY LIST (generation)")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_generation_fkey FOREIGN KEY (generation) "
                   "REFERENCES lagebild_generations (generation)")
        for index, sql in indexes.items():
            op.execute("CREATE " + sql.format(n=index, t=table))
        generations = op.get_bind().execute(text(f"SELECT DISTINCT generation FROM {old} ORDER BY 1")
                                            ).scalars().all()
        columns = _columns(old)
        for gen in generations:
            _partition(name, int(gen))
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
        op.execute(f"DROP TABLE {old}")


def downgrade() -> None:
    for name, indexes in INDEXES.items():
        table, old = f"ds_{name}", f"ds_{name}_unpartitioned"
        op.execute(f"CREATE TABLE {old} (LIKE {table} INCLUDING DEFAULTS INCLUDING GENERATED)")
        op.execute(f"ALTER TABLE {old} ADD FOREIGN KEY (generation) "
                   "REFERENCES lagebild_generations (generation)")
        columns = _columns(old)
        op.execute(f"INSERT INTO {old} ({columns}) SELECT {columns} FROM {table}")
        op.execute(f"DROP TABLE {table}")  # and its partitions
        op.execute(f"ALTER TABLE {old} RENAME TO {table}")
        for index, sql in indexes.items():
            op.execute("CREATE " + sql.format(n=index, t=table))
