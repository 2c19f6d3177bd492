"""The spatial model of one data set: its cells and pre-aggregated cubes, built once.

Everything the pages ask per filter change (cell counts, presence per cell and district) is
answered from the cubes (see :mod:`geo.dosage`), so a rerun never touches the raw rows.

A model built from a bundle with a publisher (a viewer's, :func:`data.roles.restrict`) answers
every complaint count through it (:class:`data.privacy.Publisher`: cell key method, suppressed
below k as 0): cell counts, counts per quarter, per category and per weekday-hour; Gi*, the
emerging classes and the gap list are computed from those published counts only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from data.contracts import PATROL_KINDS
from data.filters import Filters
from data.folder import DataBundle
from data.privacy import Publisher
from geo import dosage, sums
from geo.cells import CellIndex, build_cell_index
from geo.deferred import deferrable
from geo.emerging import DEFAULT_METHOD, MIN_QUARTERS, emerging_hotspots
from geo.gap import main_categories, presence_gap
from geo.hotspots import gi_star


@dataclass(frozen=True, eq=False)
class SpatialModel:
    index: CellIndex
    # (a model built from a prepared form gets it read and summed in the background: pages
    # that do not count complaints per cell, e.g. a first Übersicht, do not wait for it)
    complaint_cube: pd.DataFrame = deferrable()  # type: ignore[assignment]  # noqa: RUF009 (a descriptor)
    presence_cube: pd.DataFrame
    districts: pd.DataFrame  # district_id, name, population
    category_field: dict[str, str]
    #: How complaint counts are published (the bundle's; None: exact).
    publisher: Publisher | None = None
    # City-wide analytics per filter state (hot spots, the gap list before the district cut):
    # the district filter only narrows what is shown, so a district change, and the second
    # caller in one run (map and its text alternative), reuse them. Bounded; thread-safe.
    # Not init fields: a model made by dataclasses.replace (e.g. another publisher) starts
    # with its own empty memo instead of sharing results computed for other numbers.
    _memo: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                       compare=False)


#: City-wide analytics results kept per model (each a table of at most n_cells rows).
MEMO_ENTRIES = 32


def _memoised(model: SpatialModel, key: tuple, compute):
    """``compute()`` once per ``key`` on this model (least recently used entries dropped)."""
    with model._memo_lock:
        if key in model._memo:
            model._memo.move_to_end(key)
            return model._memo[key]
    value = compute()  # outside the lock: two sessions may compute the same key once each
    with model._memo_lock:
        model._memo[key] = value
        model._memo.move_to_end(key)
        while len(model._memo) > MEMO_ENTRIES:
            model._memo.popitem(last=False)
    return value


def memoised(model: SpatialModel, key: tuple, compute):
    """``compute()`` once per ``key`` on this model (shared by every caller: never change the
    result; keys of other modules start with their own name)."""
    return _memoised(model, key, compute)


def build(bundle: DataBundle, resolution: int = 9) -> SpatialModel:
    """The model of a bundle: from its prepared form (geo.prepared) when it has one, else
    from the raw records (the same cells and cubes either way)."""
    cats = bundle["categories"]
    if bundle.prepared is not None:
        index, complaint_cube, presence_cube = bundle.prepared.view_deferred(
            resolution, bundle.district_scope)
    else:
        index = build_cell_index(bundle["districts"], resolution)
        complaint_cube = dosage.build_complaint_cube(bundle["complaints"], index)
        presence_cube = dosage.build_presence_cube(bundle["patrol_points"], bundle["patrols"], index)
    return SpatialModel(
        index=index,
        complaint_cube=complaint_cube,
        presence_cube=presence_cube,
        districts=bundle["districts"][["district_id", "name", "population"]].copy(),
        category_field=dict(zip(cats["category"], cats["field"], strict=True)),
        publisher=bundle.publisher,
    )


def _common(f: Filters) -> dict:
    return {
        "quarters": f.quarters,
        "weekdays": list(f.weekdays) or None,
        "hours": None if f.hours == (0, 24) else f.hours,
    }


def categories_of(model: SpatialModel, f: Filters) -> list[str] | None:
    """The categories the filters select (None: all)."""
    if f.categories:
        return list(f.categories)
    if f.fields:
        return [c for c, fld in model.category_field.items() if fld in f.fields]
    return None


def complaint_cell_counts(model: SpatialModel, f: Filters, quarters: list[int] | None = None
                          ) -> np.ndarray:
    """Complaints per cell (length n_cells) for the filters (optionally other quarters)."""
    args = _common(f)
    if quarters is not None:
        args["quarters"] = quarters
    args.update(categories=categories_of(model, f), districts=list(f.districts) or None)
    fast = sums.complaint_counts(model.complaint_cube, model.index, **args)
    if fast is not None:  # a period or district filter: the pre-summed slices (same numbers)
        return fast[0] if model.publisher is None else model.publisher.filled(*fast)
    return _published(model, dosage.complaint_counts, model.complaint_cube, model.index, **args)


def _published(model: SpatialModel, query, *args, **kwargs) -> np.ndarray:
    """A dosage complaint query as the model's principal may see it: exact counts, or (with a
    publisher) counts and key sums from one pass, published (suppressed as 0)."""
    if model.publisher is None:
        return query(*args, **kwargs)
    counts, key_sums = query(*args, value="both", **kwargs)
    return model.publisher.filled(counts, key_sums)


def complaint_counts_by_quarter(model: SpatialModel, f: Filters, quarters: list[int]) -> np.ndarray:
    args = {"categories": categories_of(model, f), "districts": list(f.districts) or None,
            "weekdays": list(f.weekdays) or None, "hours": None if f.hours == (0, 24) else f.hours}
    fast = sums.complaint_counts_by_quarter(model.complaint_cube, model.index, quarters, **args)
    if fast is not None:
        return fast[0] if model.publisher is None else model.publisher.filled(*fast)
    return _published(model, dosage.complaint_counts_by_quarter, model.complaint_cube, model.index,
                      quarters, **args)


def presence_minutes(model: SpatialModel, f: Filters) -> dict[str, np.ndarray]:
    """Presence minutes per cell by selected kind, plus ``total``."""
    fast = sums.presence_minutes(model.presence_cube, model.index, kinds=list(f.patrol_kinds()),
                                 districts=list(f.districts) or None, **_common(f))
    if fast is not None:
        return fast
    return dosage.presence_minutes(model.presence_cube, model.index, kinds=list(f.patrol_kinds()),
                                   districts=list(f.districts) or None, **_common(f))


def presence_cells(model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Long form: h3, kind, minutes (cells with presence only)."""
    parts = []
    for kind, minutes in presence_minutes(model, f).items():
        if kind == "total":
            continue
        nz = np.flatnonzero(minutes > 0)
        parts.append(pd.DataFrame({"h3": model.index.cells[nz], "kind": kind,
                                   "minutes": minutes[nz]}))
    if not parts:
        return pd.DataFrame({"h3": [], "kind": [], "minutes": []})
    return pd.concat(parts, ignore_index=True)


def district_hours(model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Patrol hours per district and kind: district_id, kod, joint, police (0 for unselected)."""
    ids = model.districts["district_id"].astype(str).to_numpy()
    hours = sums.district_hours(model.presence_cube, model.index, ids, **_common(f))
    if hours is None:  # (cells belong to one district each: the district filter selects rows)
        hours = dosage.district_hours(model.presence_cube, model.index, ids, **_common(f))
    selected = f.patrol_kinds()
    keep = np.isin(ids, list(f.districts)) if f.districts else slice(None)
    return pd.DataFrame({"district_id": ids[keep], **{
        kind: hours[keep, k] if kind in selected else np.zeros(len(ids[keep]))
        for k, kind in enumerate(PATROL_KINDS)}})


# --- analytics on top of the cubes ------------------------------------------------------------

def _city_wide(f: Filters) -> Filters:
    """Hot spots are judged against the whole city: the district filter only narrows display."""
    return replace(f, districts=())


def hotspots(model: SpatialModel, f: Filters) -> pd.DataFrame:
    """Gi* per cell (h3, count, z, p, p_fdr, cls) for the filters, city-wide.

    Computed once per city-wide filter state and model (a copy is returned).
    """
    return _spots(model, f).copy()


def _spots(model: SpatialModel, f: Filters) -> pd.DataFrame:
    """The memoised hot spots (shared: never handed out to be changed)."""
    g = _city_wide(f)
    return _memoised(model, ("hotspots", g),
                     lambda: gi_star(complaint_cell_counts(model, g), model.index))


def emerging_quarters(f: Filters, available: list[int], minimum: int = MIN_QUARTERS) -> list[int]:
    """The quarters for the emerging analysis: the period, extended back to ``minimum``.

    Empty when the data holds fewer than ``minimum`` quarters up to the period's end.
    """
    first = min(f.q_from, f.q_to - minimum + 1)
    quarters = [q for q in range(first, f.q_to + 1) if q in set(available)]
    return quarters if len(quarters) >= minimum else []


def emerging(model: SpatialModel, f: Filters, quarters: list[int], method: str = DEFAULT_METHOD
             ) -> pd.DataFrame:
    """Emerging hot spot classes per cell over ``quarters`` (city-wide, other filters apply)."""
    counts = complaint_counts_by_quarter(model, _city_wide(f), quarters)
    return emerging_hotspots(counts, model.index, method=method)


def gap(model: SpatialModel, f: Filters, spots: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ranked presence gap list (geo.gap) for the filters; rows of the selected districts."""
    g = _city_wide(f)

    def city_wide() -> pd.DataFrame:
        presence = presence_minutes(model, g)["total"]
        table = presence_gap(_spots(model, f) if spots is None else spots, presence, model.index)
        # The main categories of the gap's cells only: their rows of the cube give the same
        # per-cell sums as all rows (geo.sums.cube_rows_of_cells).
        cells = table["cell"].to_numpy().astype(np.int64)
        cats = dosage.complaint_category_counts(sums.cube_rows_of_cells(model.complaint_cube, cells),
                                                model.index,
                                                categories=categories_of(model, g),
                                                weekdays=list(g.weekdays) or None,
                                                hours=None if g.hours == (0, 24) else g.hours,
                                                quarters=g.quarters)
        if model.publisher is not None:  # main categories ranked by published counts only
            cats = cats.assign(count=model.publisher.filled(cats["count"], cats["key_sum"]))
            cats = cats[cats["count"] > 0].reset_index(drop=True)
        table["main_categories"] = main_categories(cats, len(model.index.cells), cells=cells)[cells]
        return table

    # Memoised for the model's own hot spots; a caller's other ``spots`` are computed as given.
    own = spots is None or (spots is _spots(model, f)) or spots.equals(_spots(model, f))
    table = _memoised(model, ("gap", g), city_wide) if own else city_wide()
    if f.districts:
        return table[table["district_id"].isin(f.districts)].reset_index(drop=True)
    return table.copy()


def weekday_hour(model: SpatialModel, f: Filters) -> np.ndarray:
    """Complaints as 7 x 24 (weekday x hour) for the filters."""
    args = {"categories": categories_of(model, f), "districts": list(f.districts) or None, **_common(f)}
    return _published(model, dosage.complaint_weekday_hour, model.complaint_cube, model.index, **args)


def district_hours_by_quarter(model: SpatialModel, f: Filters, quarters: list[int]) -> pd.DataFrame:
    """district_id, name, quarter, hours, joint_share... per district and quarter."""
    args = _common(f)
    args["quarters"] = quarters
    return dosage.district_presence(model.presence_cube, model.index, model.districts,
                                    by_quarter=True, kinds=list(f.patrol_kinds()),
                                    district_ids=list(f.districts) or None, **args)
