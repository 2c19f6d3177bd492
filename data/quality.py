"""What is loaded and how good it is: plain-Python summaries for the *Daten* page.

The page translates the keys (``check``, ``dataset``) and formats the numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from data.contracts import DATASETS
from data.folder import DataBundle


def loaded_overview(bundle: DataBundle, status: dict[str, Any] | None) -> pd.DataFrame:
    """One row per data set: records in the app, and (for imported data) version, time, source.

    ``status`` is :meth:`data.store.Store.status` when the app shows the store, else None.
    """
    counts = bundle.counts()
    rows = []
    for name in DATASETS:
        info = (status or {}).get("datasets", {}).get(name, {})
        rows.append({"dataset": name, "records": int(counts.get(name, 0)), "version": info.get("version"),
                     "time": info.get("time"), "source": info.get("source"),
                     "rejected": info.get("rejected")})
    return pd.DataFrame(rows)


def _missing(frame: pd.DataFrame, column: str) -> int:
    if column not in frame.columns or frame.empty:
        return 0
    return int(frame[column].isna().sum())


def quality_checks(bundle: DataBundle) -> pd.DataFrame:
    """Data checks: (check, dataset, count, total) for problems that do not stop the app.

    ``check`` keys: ``outside`` (points in no district), ``no_population`` (districts
    without inhabitants: no rates), ``no_hours`` (offices without opening hours),
    ``no_status`` (complaints without status), ``no_label_en`` (categories without an
    English label), ``no_pings`` (patrols without GPS points: no presence).
    """
    counts = bundle.counts()
    rows: list[dict[str, Any]] = []

    def add(check: str, dataset: str, count: int) -> None:
        rows.append({"check": check, "dataset": dataset, "count": int(count),
                     "total": int(counts.get(dataset, 0))})

    # The large data sets from their summaries when they are not in memory (a prepared bundle).
    raw_complaints = bundle.is_loaded("complaints") or "complaint_table" not in bundle._cache
    if raw_complaints:
        add("outside", "complaints", _missing(bundle["complaints"], "district_id"))
    else:
        table = bundle.complaint_table
        add("outside", "complaints", int(table.loc[table["district_id"].isna(), "n"].sum()))
    for name in ("offices", "staff_incidents"):
        add("outside", name, _missing(bundle[name], "district_id"))
    add("no_population", "districts", _missing(bundle["districts"], "population"))
    add("no_hours", "offices", _missing(bundle["offices"], "opening_hours"))
    if raw_complaints:
        add("no_status", "complaints", _missing(bundle["complaints"], "status"))
    else:
        add("no_status", "complaints", int(table.loc[table["status"].isna(), "n"].sum()))
    add("no_label_en", "categories", _missing(bundle["categories"], "label_en"))
    patrols = bundle["patrols"]
    if "patrols_without_pings" in bundle._cache and not bundle.is_loaded("patrol_points"):
        add("no_pings", "patrols", bundle._cache["patrols_without_pings"])
    else:
        pings = bundle["patrol_points"]
        with_pings = set(pings["patrol_id"].astype(str).unique()) if len(pings) else set()
        add("no_pings", "patrols", int((~patrols["patrol_id"].astype(str).isin(with_pings)).sum())
            if len(patrols) else 0)
    out = pd.DataFrame(rows)
    out["share"] = (out["count"] / out["total"].where(out["total"] > 0)).fillna(0.0)
    return out
