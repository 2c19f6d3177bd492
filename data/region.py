"""A synthetic region: several demo cities tiled side by side, written in chunks.

A region like the Sicherheitskooperation Ruhr (about 20 member cities) is not one city with
ten times the records: it has ten times the districts, patrol routes and hot spots, and ten
times the study area (H3 cells), so its cubes grow with it. This module builds such a region
from the demo city (data/generator.py): tile ``k`` is the demo city generated with seed
``seed + k``, shifted east/north on a grid so that no two tiles overlap, with every id and
district name made unique per tile ("s03-mitte", "Mitte (Stadt 03)").

Streaming: one tile is generated at a time and its complaints and pings are appended to
``complaints.parquet`` and ``patrol_points.parquet`` as Parquet row groups
(pyarrow.parquet.ParquetWriter), so that the peak memory is that of one tile, never of all
records. The small tables (districts, patrols, offices, ...) are collected and written at the
end. Deterministic: the same seed, tile count and sizes give the same files.

``python -m data demo --tiles N --complaints C --pings P --out DIR`` writes a region of N
tiles with C complaints and P pings in total (spread evenly over the tiles).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from data import generator
from data.contracts import SPECS
from data.folder import META_FILE, write_dataset

#: Size of one tile (degrees lon, lat): the demo city's outline plus a small margin.
TILE_STEP = (0.36, 0.17)
ROW_GROUP_ROWS = 1_000_000
STREAMED = ("complaints", "patrol_points")

Progress = Callable[[str], None]


def tile_offsets(tiles: int) -> list[tuple[float, float]]:
    """(d lon, d lat) of each tile: a grid about twice as wide as high, row by row."""
    if tiles < 1:
        raise ValueError(f"tiles must be at least 1, got {tiles!r}")
    cols = max(1, math.ceil(math.sqrt(tiles * 2)))
    return [((k % cols) * TILE_STEP[0], (k // cols) * TILE_STEP[1]) for k in range(tiles)]


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` whole numbers that differ by at most one (larger ones first)."""
    base, extra = divmod(total, parts)
    return [base + (1 if k < extra else 0) for k in range(parts)]


def _shift_points(frame: pd.DataFrame, d: tuple[float, float]) -> pd.DataFrame:
    frame = frame.copy()
    frame["lon"] = np.round(frame["lon"].to_numpy() + d[0], 6)
    frame["lat"] = np.round(frame["lat"].to_numpy() + d[1], 6)
    return frame


def _shift_polygons(frame: pd.DataFrame, d: tuple[float, float]) -> pd.DataFrame:
    frame = frame.copy()
    geoms = frame["geometry"].to_numpy()
    frame["geometry"] = list(shapely.transform(geoms, lambda xy: xy + np.array(d)))
    return frame


def tile_frames(frames: dict[str, pd.DataFrame], k: int, d: tuple[float, float]
                ) -> dict[str, pd.DataFrame]:
    """The demo city's frames as tile ``k`` of a region: moved by ``d``, ids made unique."""
    tag = f"s{k + 1:02d}"
    city = f"Stadt {k + 1:02d}"
    out: dict[str, pd.DataFrame] = {}
    districts = _shift_polygons(frames["districts"], d)
    districts["district_id"] = tag + "-" + districts["district_id"].astype(str)
    districts["name"] = districts["name"].astype(str) + f" ({city})"
    districts["team_name"] = districts["team_name"].astype(str) + f" ({city})"
    districts["email"] = districts["email"].astype(str).str.replace("@", f".{tag}@", regex=False)
    out["districts"] = districts
    offices = _shift_points(frames["offices"], d)
    offices["office_id"] = tag + "-" + offices["office_id"].astype(str)
    offices["name"] = offices["name"].astype(str) + f" ({city})"
    out["offices"] = offices
    out["categories"] = frames["categories"]
    focus = _shift_polygons(frames["focus_areas"], d)
    focus["area_id"] = tag + "-" + focus["area_id"].astype(str)
    focus["name"] = focus["name"].astype(str) + f" ({city})"
    out["focus_areas"] = focus
    complaints = _shift_points(frames["complaints"], d)
    complaints["complaint_id"] = tag + "-" + complaints["complaint_id"].astype(str)
    out["complaints"] = complaints
    patrols = frames["patrols"].copy()
    patrols["patrol_id"] = tag + "-" + patrols["patrol_id"].astype(str)
    patrols["unit"] = tag + "-" + patrols["unit"].astype(str)
    patrols["district_id"] = tag + "-" + patrols["district_id"].astype(str)
    out["patrols"] = patrols
    pings = _shift_points(frames["patrol_points"], d)
    ids = pings["patrol_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        pings["patrol_id"] = ids.cat.rename_categories(
            [f"{tag}-{c}" for c in ids.cat.categories])
    else:
        pings["patrol_id"] = tag + "-" + ids.astype(str)
    out["patrol_points"] = pings
    incidents = _shift_points(frames["staff_incidents"], d)
    incidents["incident_id"] = tag + "-" + incidents["incident_id"].astype(str)
    out["staff_incidents"] = incidents
    return out


class _Appender:
    """Appends frames of one data set to a Parquet file as row groups (same schema)."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name
        self.writer = None
        self.schema = None
        self.rows = 0

    def append(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = [c for c in SPECS[self.name].columns if c in frame.columns]
        frame = frame[cols]
        if "patrol_id" in frame.columns and isinstance(frame["patrol_id"].dtype,
                                                       pd.CategoricalDtype):
            # each tile has its own patrols: plain strings (Parquet dictionary-encodes them)
            frame = frame.assign(patrol_id=frame["patrol_id"].astype(str))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        else:
            table = table.cast(self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += len(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_region(folder: str | Path, tiles: int, seed: int = generator.DEFAULT_SEED,
                 complaints: int = generator.DEFAULT_COMPLAINTS,
                 pings: int = generator.DEFAULT_PINGS,
                 progress: Progress | None = None) -> tuple[Path, dict[str, int]]:
    """Write a region of ``tiles`` demo cities as a data folder; returns (folder, counts).

    ``complaints`` and ``pings`` are totals over the region. Only one tile is in memory at
    a time (complaints and pings are appended per tile).
    """
    if complaints < 0 or pings < 0:
        raise ValueError(f"sizes must not be negative, got complaints={complaints!r}, "
                         f"pings={pings!r}")
    say = progress or (lambda _m: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in STREAMED:
        for stale in folder.glob(f"{name}.*"):
            stale.unlink()
    offsets = tile_offsets(tiles)
    n_complaints = split_evenly(complaints, tiles)
    n_pings = split_evenly(pings, tiles)
    appenders = {name: _Appender(folder / f"{name}.parquet", name) for name in STREAMED}
    small: dict[str, list[pd.DataFrame]] = {}
    try:
        for k, d in enumerate(offsets):
            frames, _meta = generator.generate(seed=seed + k, complaints=n_complaints[k],
                                               pings=n_pings[k])
            tile = tile_frames(frames, k, d)
            del frames
            for name, frame in tile.items():
                if name in STREAMED:
                    appenders[name].append(frame)
                elif name == "categories":
                    small.setdefault(name, [frame])
                else:
                    small.setdefault(name, []).append(frame)
            del tile
            say(f"tile {k + 1}/{tiles}: {n_complaints[k]:,} complaints, {n_pings[k]:,} pings")
    finally:
        for appender in appenders.values():
            appender.close()
    for name, parts in small.items():
        write_dataset(name, pd.concat(parts, ignore_index=True), folder)
    meta = {
        "name": f"Region (Demo, {tiles} Städte)",
        "city": "Region",
        "synthetic": True,
        "seed": seed,
        "tiles": tiles,
        "complaints": complaints,
        "pings": pings,
        "note": "Synthetic demo region: the demo city (modelled on Hamm) tiled "
                f"{tiles} times side by side; no real persons or events.",
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    counts = {name: a.rows for name, a in appenders.items()}
    counts.update({name: sum(len(p) for p in parts) for name, parts in small.items()})
    return folder, counts
