"""Single records from the database store, read only where the app shows them.

A replica holds no raw complaints or pings (it starts from the prepared cubes, see
``geo.dbbundle``). Two readers give it single records on demand:

* :func:`read_records`: the rows of one data set whose time lies in a range (what
  :meth:`data.folder.DataBundle.records_between` asks for), filtered in SQL.
* :func:`query_points`: the coordinators' single-complaint layer. The filters (period,
  districts, fields, categories, weekdays, hour window) become one SQL condition: the
  period uses the index ``(generation, received_at)``, the districts the GiST index on
  ``geom`` against the district polygons of the same generation, and only the newest
  ``limit`` rows are transferred (``ORDER BY received_at DESC LIMIT``), together with
  ``count(*)`` of all matching rows for the map legend ("the 1,000 newest of 23,456").

Both return validated canonical rows with the derived columns
(:func:`data.folder.prepare_one`), as the file store's readers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from data import contracts
from data.contracts import TZ
from data.filters import Filters, complaint_mask
from data.folder import prepare_one
from data.periods import quarter_bounds

if TYPE_CHECKING:
    from data.dbstore import DbStore

TIME_COLUMN = {"complaints": "received_at", "patrol_points": "time", "staff_incidents": "occurred_at"}


def _data_generation(conn: Connection, generation: int, name: str) -> int | None:
    return conn.execute(text("SELECT data_generation FROM lagebild_generation_data WHERE "
                             "generation = :g AND dataset = :d"), {"g": generation, "d": name}).scalar()


def read_records(store: DbStore, generation: int, name: str, small: dict[str, pd.DataFrame],
                 start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The validated, derived rows of ``name`` in generation ``generation`` whose time
    column lies in [start, end) (None: open); ``small`` gives districts and categories."""
    from data.dbstore import _read_rows

    contracts.spec(name)
    col = TIME_COLUMN.get(name)
    where, params = [], {}
    if col is not None:
        if start is not None:
            where.append(f'"{col}" >= %(start)s')
            params["start"] = pd.Timestamp(start).to_pydatetime()
        if end is not None:
            where.append(f'"{col}" < %(end)s')
            params["end"] = pd.Timestamp(end).to_pydatetime()
    with store._connect() as conn:
        dg = _data_generation(conn, generation, name)
        if dg is None:
            frame = contracts.empty_frame(name)
        else:
            frame = _read_rows(conn, name, dg, " AND ".join(where), params)
    return prepare_one(name, frame, small)


def point_districts(f: Filters, scope: frozenset[str] | None) -> tuple[str, ...] | None:
    """The districts whose complaints the layer may show: the filter's, within the role's
    ``scope`` (None: no restriction; an empty tuple: none at all)."""
    if scope is None:
        return tuple(f.districts) or None
    if not f.districts:
        return tuple(sorted(scope))
    return tuple(d for d in f.districts if d in scope)


def points_sql(f: Filters, districts: tuple[str, ...] | None, categories: pd.DataFrame
               ) -> tuple[str, dict[str, Any]]:
    """The SQL condition (on ``ds_complaints``) and its parameters for the filters ``f``.

    ``districts``: see :func:`point_districts`. Fields become the categories of those
    fields (a complaint's field is its category's, :func:`data.contracts.derive_fields`).
    """
    start, end = quarter_bounds(f.q_from)[0], quarter_bounds(f.q_to)[1]
    where = ["received_at >= %(start)s", "received_at < %(end)s"]
    params: dict[str, Any] = {"start": start.to_pydatetime(), "end": end.to_pydatetime()}
    cats: set[str] | None = None
    if f.categories:
        cats = set(f.categories)
    if f.fields:
        of_fields = set(categories.loc[categories["field"].isin(f.fields), "category"].astype(str))
        cats = of_fields if cats is None else cats & of_fields
    if cats is not None:
        where.append("category = ANY(%(categories)s)")
        params["categories"] = sorted(cats)
    local = f"(received_at AT TIME ZONE '{TZ}')"
    if f.weekdays:
        where.append(f"(extract(isodow FROM {local})::int - 1) = ANY(%(weekdays)s)")
        params["weekdays"] = sorted(int(d) for d in f.weekdays)
    if f.hours != (0, 24):
        where.append(f"extract(hour FROM {local})::int = ANY(%(hours)s)")
        params["hours"] = [int(h) for h in np.flatnonzero(f.hour_mask())]
    if districts is not None:
        # the districts' bounding box first: it lets PostgreSQL start from the GiST index on
        # geom (at region scale 3 times faster than testing every complaint of the period)
        where.append("geom && (SELECT ST_Extent(d.geometry)::geometry FROM ds_districts d WHERE "
                     "d.generation = %(dgen)s AND d.district_id = ANY(%(districts)s))")
        where.append("EXISTS (SELECT 1 FROM ds_districts d WHERE d.generation = %(dgen)s AND "
                     "d.district_id = ANY(%(districts)s) AND ST_Intersects(d.geometry, geom))")
        params["districts"] = list(districts)
    return " AND ".join(where), params


def query_points(store: DbStore, generation: int, small: dict[str, pd.DataFrame], f: Filters,
                 scope: frozenset[str] | None, limit: int) -> tuple[pd.DataFrame, int]:
    """The newest ``limit`` complaints the filters select (within the role's district
    ``scope``), as validated derived rows newest first, and how many match in all."""
    from data.dbstore import _read_rows

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    districts = point_districts(f, scope)
    empty = prepare_one("complaints", contracts.empty_frame("complaints"), small)
    if districts == ():
        return empty, 0
    where, params = points_sql(f, districts, small["categories"])
    with store._connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        dg = _data_generation(conn, generation, "complaints")
        if dg is None:
            return empty, 0
        params["dgen"] = _data_generation(conn, generation, "districts") or 0
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM ds_complaints WHERE generation = %(g)s AND {where}",
                        {"g": dg, **params})
            total = int(cur.fetchone()[0])
        rows = _read_rows(conn, "complaints", dg, where, params,
                          order="received_at DESC, rn", limit=limit) if total else None
    if rows is None:
        return empty, 0
    frame = prepare_one("complaints", rows, small)
    keep = complaint_mask(frame, f)  # the same rule as the file store, on the rows read
    if districts is not None:
        keep &= frame["district_id"].isin(districts).to_numpy()
    return frame.loc[keep].reset_index(drop=True), total
