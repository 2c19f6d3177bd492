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
    f = bundle.frames
    rows: list[dict[str, Any]] = []

    def add(check: str, dataset: str, count: int) -> None:
        rows.append({"check": check, "dataset": dataset, "count": int(count), "total": len(f[dataset])})

    for name in ("complaints", "offices", "staff_incidents"):
        add("outside", name, _missing(f[name], "district_id"))
    add("no_population", "districts", _missing(f["districts"], "population"))
    add("no_hours", "offices", _missing(f["offices"], "opening_hours"))
    add("no_status", "complaints", _missing(f["complaints"], "status"))
    add("no_label_en", "categories", _missing(f["categories"], "label_en"))
    patrols, pings = f["patrols"], f["patrol_points"]
    with_pings = set(pings["patrol_id"].astype(str).unique()) if len(pings) else set()
    add("no_pings", "patrols", int((~patrols["patrol_id"].astype(str).isin(with_pings)).sum())
        if len(patrols) else 0)
    out = pd.DataFrame(rows)
    out["share"] = (out["count"] / out["total"].where(out["total"] > 0)).fillna(0.0)
    return out
