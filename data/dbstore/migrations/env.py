"""Alembic environment of Lagebild's database schema (see data/dbstore/schema.py).

Run through ``python -m data db upgrade`` (or :func:`data.dbstore.migrate`), which hands a
connection over in ``config.attributes["connection"]``; plain ``alembic`` with
``-x url=postgresql+psycopg://...`` or ``LAGEBILD_DB`` works as well.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=None,
                      version_table="lagebild_alembic_version", transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("LAGEBILD_DB")
    if not url:
        raise SystemExit("no database: pass -x url=postgresql+psycopg://... or set LAGEBILD_DB")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if hasattr(context, "config"):  # run by Alembic (imported elsewhere, e.g. by a test: nothing to do)
    main()
