"""viz.pagedata's district table built from numpy columns against the column-by-column
pandas formulation it replaced: the same frame (values, dtypes, order) for exact and
published counts, with and without a previous period, for many filter states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.filters import Filters
from data.folder import DataBundle, load_folder
from data.kpis import signal, trend_z
from data.roles import Principal, restrict
from geo import model as gm
from geo.model import SpatialModel, district_hours
from viz import pagedata

REPO = Path(__file__).resolve().parent.parent


def reference_district_table(bundle: DataBundle, model: SpatialModel, all_f: Filters, prev_ok: bool
                    ) -> pd.DataFrame:
    d = bundle["districts"][["district_id", "name", "population"]].copy()
    c = bundle.complaint_table
    pub = bundle.publisher
    cur = pagedata._counts_by(c, all_f, "district_id", pub)
    prev = pagedata._counts_by(c, all_f.previous(), "district_id", pub)
    open_ = pagedata._counts_by(c, all_f, "district_id", pub, open_at_end=True)
    incidents = pagedata.incidents_per_district(bundle, all_f)
    hours = district_hours(model, all_f).set_index("district_id")

    ids = d["district_id"].tolist()

    def column(values: pd.Series) -> np.ndarray:
        """``values`` (indexed by district_id) in the table's district order (a dict lookup:
        Series.map costs a millisecond per column on a dozen rows)."""
        lookup = dict(zip(values.index.tolist(), values.tolist(), strict=True))
        mapped = np.array([lookup.get(i, np.nan) for i in ids], dtype="float64")
        return mapped if pub is not None else np.nan_to_num(mapped, nan=0.0).astype(int)

    d["complaints"] = column(cur)
    d["previous"] = column(prev) if prev_ok else np.nan
    d["z"] = trend_z(d["complaints"].to_numpy(), d["previous"].to_numpy()) if prev_ok else np.nan
    d["signal"] = [signal(z) for z in d["z"]]
    pop = d["population"].astype("float64")
    d["per_1000"] = d["complaints"] / pop * 1000
    total = hours.reindex(d["district_id"]).fillna(0.0)
    d["patrol_hours"] = total.sum(axis=1).to_numpy()
    d["hours_per_1000"] = d["patrol_hours"] / pop * 1000
    joint = total["joint"].to_numpy() if "joint" in total else np.zeros(len(d))
    with np.errstate(invalid="ignore", divide="ignore"):
        d["joint_share"] = np.where(d["patrol_hours"] > 0, joint / d["patrol_hours"], np.nan)
    d["open"] = column(open_)
    d["incidents"] = column(incidents)
    return d


@pytest.fixture(scope="module", params=["admin", "viewer", "coordinator"])
def view(request):
    bundle = load_folder(REPO / "data" / "demo")
    principal = {"admin": Principal("admin"), "viewer": Principal("viewer"),
                 "coordinator": Principal("coordinator", ("mitte", "heessen"))}[request.param]
    restricted = restrict(bundle, principal, {"LAGEBILD_CELL_KEY_SECRET": "test-secret"})
    return restricted, gm.build(restricted, 9)


def states(bundle: DataBundle) -> list[Filters]:
    q = bundle.quarters()
    return [Filters(q[-1], q[-1]), Filters(q[0], q[0]), Filters(q[-4], q[-1]),
            Filters(q[-2], q[-1], weekdays=(0, 5, 6)), Filters(q[-1], q[-1], hours=(22, 6)),
            Filters(q[-3], q[-2], kinds=("joint",)), Filters(q[-1], q[-1], kinds=("kod", "police")),
            Filters(q[-1], q[-1], fields=("oeffentliche_raeume",)),
            Filters(q[-2], q[-2], categories=("laerm",))]


@pytest.mark.parametrize("prev_ok", [True, False])
def test_district_table_equals_the_pandas_formulation(view, prev_ok):
    bundle, model = view
    for f in states(bundle):
        pd.testing.assert_frame_equal(pagedata._district_table(bundle, model, f, prev_ok),
                                      reference_district_table(bundle, model, f, prev_ok))
