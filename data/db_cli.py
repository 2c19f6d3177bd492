"""``python -m data db``: the database schema of a shared deployment (Alembic migrations)."""

from __future__ import annotations

import argparse
import sys


def configure_db(parser: argparse.ArgumentParser) -> None:
    """the PostgreSQL/PostGIS schema: upgrade (create/migrate), current, downgrade"""
    parser.description = ("The schema of the database store named by LAGEBILD_DB (or --url), created "
                          "and migrated by versioned Alembic migrations (data/dbstore/migrations). "
                          "upgrade: create or migrate to the newest schema (idempotent); current: the "
                          "schema's revision; downgrade REVISION: step back (base drops everything).")
    parser.add_argument("action", choices=("upgrade", "current", "downgrade"))
    parser.add_argument("revision", nargs="?", default=None)
    parser.add_argument("--url", help="postgresql+psycopg://user@host/db (default $LAGEBILD_DB)")


def run_db(args: argparse.Namespace) -> int:
    from data.dbstore import (
        HEAD_REVISION,
        database_url,
        downgrade,
        engine_for,
        migrate,
        redact,
        schema_revision,
    )

    try:
        url = args.url or database_url()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not url:
        print("no database: set LAGEBILD_DB=postgresql+psycopg://user@host/db or pass --url", file=sys.stderr)
        return 2
    engine = engine_for(url)
    try:
        if args.action == "upgrade":
            migrate(engine, args.revision or "head")
            print(f"{redact(url)}: schema {schema_revision(engine)}")
        elif args.action == "current":
            found = schema_revision(engine)
            state = "up to date" if found == HEAD_REVISION else f"needs upgrade to {HEAD_REVISION}"
            print(f"{redact(url)}: schema {found or '(none)'} ({state})")
        else:
            if not args.revision:
                print("usage: python -m data db downgrade REVISION (base: drop everything)", file=sys.stderr)
                return 2
            downgrade(engine, args.revision)
            print(f"{redact(url)}: schema {schema_revision(engine) or '(none)'}")
    finally:
        engine.dispose()
    return 0
