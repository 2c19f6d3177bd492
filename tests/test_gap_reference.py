"""geo.gap's numpy ranking against the pandas formulation it replaced, on random inputs:
the same gap list and the same main categories (ties, missing districts and counts,
categorical and text categories, a subset of cells)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from geo.gap import GAP_CLASSES, GAP_COLUMNS, main_categories, presence_gap


def reference_main_categories(cc: pd.DataFrame | None, n_cells: int, top: int = 3,
                              cells: np.ndarray | None = None) -> np.ndarray:
    out = np.full(n_cells, "", dtype=object)
    if cc is None or len(cc) == 0:
        return out
    cell = cc["cell"].to_numpy().astype(np.int64)
    count = cc["count"].to_numpy().astype(np.float64)
    keep = (cell >= 0) & (cell < n_cells) & (count > 0)
    if cells is not None:
        wanted = np.zeros(n_cells, dtype=bool)
        wanted[np.asarray(cells, dtype=np.int64)] = True
        keep &= wanted[np.clip(cell, 0, max(n_cells - 1, 0))]
    if not keep.any():
        return out
    frame = pd.DataFrame({"cell": cell[keep], "category": cc["category"].astype(str).to_numpy()[keep],
                          "count": count[keep]})
    frame = frame.groupby(["cell", "category"], as_index=False, sort=False)["count"].sum()
    frame = frame.sort_values(["cell", "count", "category"], ascending=[True, False, True], kind="stable")
    frame = frame.groupby("cell", sort=False).head(top)
    joined = frame.groupby("cell", sort=False)["category"].agg(",".join)
    out[joined.index.to_numpy()] = joined.to_numpy()
    return out


def reference_presence_gap(hotspots: pd.DataFrame, presence: np.ndarray, index, cc=None) -> pd.DataFrame:
    n = len(index.cells)
    cls = hotspots["cls"].to_numpy(dtype=object)
    district = np.asarray(index.district, dtype=object)
    codes = np.flatnonzero(np.isin(cls, GAP_CLASSES) & pd.notna(district))
    selected: list[int] = []
    if codes.size:
        frame = pd.DataFrame({"cell": codes, "district": district[codes].astype(str),
                              "presence": presence[codes]})
        limit = frame.groupby("district")["presence"].transform("quantile", 1 / 3)
        selected = frame.loc[frame["presence"] <= limit + 1e-9, "cell"].tolist()
    cells = np.asarray(selected, dtype=np.int64)
    out = pd.DataFrame({
        "district_id": district[cells], "h3": index.cells[cells], "cell": cells.astype(np.int32),
        "cls": cls[cells], "complaints": hotspots["count"].to_numpy()[cells],
        "presence_minutes": presence[cells],
        "main_categories": reference_main_categories(cc, n, cells=cells)[cells],
        "lat": index.lat[cells], "lon": index.lon[cells],
    })
    out = out.sort_values(["complaints", "presence_minutes", "h3"], ascending=[False, True, True],
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    return out[GAP_COLUMNS]


CATEGORIES = ["laerm", "drogen", "muell", "hunde", "parken", "Parken", "ä-müll", "1"]


def random_case(seed: int, n: int, categorical: bool, float_counts: bool):
    rng = np.random.default_rng(seed)
    cells = np.array([f"89{i:013x}" for i in rng.permutation(10 * n)[:n]], dtype=object)
    district = rng.choice(np.array(["nord", "sued", "ost", None], dtype=object), n, p=[.4, .3, .25, .05])
    index = SimpleNamespace(cells=cells, district=district, lat=rng.uniform(51, 52, n),
                            lon=rng.uniform(7, 8, n))
    cls = rng.choice(np.array(["hot99", "hot95", "hot90", "none", "cold95"], dtype=object), n)
    count = rng.integers(0, 6, n).astype(np.float64 if float_counts else np.int64)
    if float_counts:
        count[rng.random(n) < 0.2] = np.nan  # suppressed for a viewer
    presence = rng.choice([0.0, 0.0, 15.0, 30.0, 45.5, 60.0, 120.0], n)
    hotspots = pd.DataFrame({"h3": cells, "count": count, "cls": cls})
    rows = 6 * n
    cat = rng.choice(np.array([*CATEGORIES, None], dtype=object), rows)
    cc = pd.DataFrame({"cell": rng.integers(-2, n + 2, rows),
                       "category": pd.Categorical(cat, categories=CATEGORIES) if categorical else cat,
                       "count": rng.integers(0, 4, rows)})
    return hotspots, presence, index, cc


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("categorical", [True, False])
def test_gap_list_equals_the_pandas_formulation(seed, categorical):
    hotspots, presence, index, cc = random_case(seed, 60 + 40 * seed, categorical, float_counts=seed % 2 == 1)
    ours = presence_gap(hotspots, presence, index, cc)
    ref = reference_presence_gap(hotspots, presence, index, cc)
    assert len(ref) > 0
    pd.testing.assert_frame_equal(ours, ref)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("top", [1, 2, 3, 5])
def test_main_categories_equal_the_pandas_formulation(seed, categorical, top):
    _, _, index, cc = random_case(seed, 50, categorical, float_counts=False)
    n = len(index.cells)
    assert (main_categories(cc, n, top=top) == reference_main_categories(cc, n, top=top)).all()
    subset = np.random.default_rng(seed).choice(n, 7, replace=False)
    assert (main_categories(cc, n, top=top, cells=subset)
            == reference_main_categories(cc, n, top=top, cells=subset)).all()
