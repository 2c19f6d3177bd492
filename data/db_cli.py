"""``python -m data db``: the database schema of a shared deployment (Alembic migrations)."""

from __future__ import annotations

import argparse
import sys


def configure_db(parser: argparse.ArgumentParser) -> None:
    """the PostgreSQL/PostGIS schema: upgrade (create/migrate), current, downgrade"""
    parser.description = ("The schema of the database store named by LAGEBILD_DB (or --url), created "
                          "and migrated by versioned Alembic migrations (data/dbstore/migrations). "
                          "upgrade: create or migrate to the newest schema (idempotent); current: the "
                          "schema's revision; downgrade REVISION: step back (base drops everything); "
                          "load FOLDER: store a whole data folder as one new version of every data set "
                          "(the large data sets streamed with COPY in chunks, the prepared cubes built "
                          "beside the copy and stored with the version; one transaction, progress on "
                          "stderr).")
    parser.add_argument("action", choices=("upgrade", "current", "downgrade", "load"))
    parser.add_argument("revision", nargs="?", default=None,
                        help="downgrade: the target revision; load: a data folder (e.g. data/demo)")
    parser.add_argument("--activate", action="store_true", help="load: let the app show it")
    parser.add_argument("--url", help="postgresql+psycopg://user@host/db (default $LAGEBILD_DB)")
    parser.add_argument("--chunk-rows", type=int, default=None,
                        help="load: rows per COPY chunk of complaints and pings (default 200000)")


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
        elif args.action == "load":
            from data.dbstore import DbStore
            from data.store import StoreError

            if not args.revision:
                print("usage: python -m data db load FOLDER [--activate]", file=sys.stderr)
                return 2
            from data.dbstore import COPY_CHUNK
            from data.dbstore.bulk import stderr_progress

            store = DbStore(engine, preparer=getattr(args, "prepare", None),
                            cells=getattr(args, "cells", None))
            try:
                version = store.load_folder(args.revision, chunk_rows=args.chunk_rows or COPY_CHUNK,
                                            progress=stderr_progress)
                print(f"{redact(url)}: {args.revision} stored as version {version.generation}")
                if args.activate:
                    store.activate()
                    print("activated")
            except StoreError as exc:
                print(exc.message("en"), file=sys.stderr)
                return 1
        else:
            if not args.revision:
                print("usage: python -m data db downgrade REVISION (base: drop everything)", file=sys.stderr)
                return 2
            downgrade(engine, args.revision)
            print(f"{redact(url)}: schema {schema_revision(engine) or '(none)'}")
    finally:
        engine.dispose()
    return 0
