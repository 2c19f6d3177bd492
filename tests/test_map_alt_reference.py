"""viz.map_alt.hotspot_part on numpy arrays against the pandas formulation it replaced: the
same sentence and the same two tables on random cells (ties, every class, missing names,
suppressed counts, with and without z)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from base.i18n import t
from geo import maps
from viz import map_alt


def reference_hotspot_part(cells: pd.DataFrame, district_names: dict[str, str], lang: str
                 ) -> tuple[str, tuple[tuple[str, pd.DataFrame], ...]]:
    """``cells``: h3, district_id, cls, count; optional z, lat, lon."""
    cls_all = cells["cls"].astype(str).to_numpy()
    shown = cls_all != "none"  # (only classified cells are named)
    cls = cls_all[shown]
    hot = np.isin(cls, map_alt.HOT_CLASSES)
    if not hot.any():
        return t("malt.no_hot", lang), ()
    ids = cells["district_id"].to_numpy()[shown]
    names = pd.Series([district_names.get(d, d) for d in ids.tolist()], name="district_id", dtype=object)
    by = map_alt.crosstab(names, pd.Series(cls, name="cls", dtype=object))
    order = [c for c in maps.HOTSPOT_CLASSES if c in by.columns]
    by = by[order].rename(columns={c: t(f"map.hot.{c}", lang) for c in order})
    by = by.sort_values(by.columns[0], ascending=False).reset_index()
    by = by.rename(columns={by.columns[0]: t("col.district", lang)})
    kinds, numbers = np.unique(cls, return_counts=True)
    counts = dict.fromkeys(maps.HOTSPOT_CLASSES, 0) | dict(zip(kinds.tolist(), numbers.tolist(), strict=True))
    where = names[hot].value_counts()
    cold = sum(counts.get(c, 0) for c in ("cold90", "cold95", "cold99"))
    text = t("malt.hot", lang, hot=int(hot.sum()), h99=counts["hot99"], h95=counts["hot95"],
             h90=counts["hot90"], where=f"{where.index[0]} ({where.iloc[0]})", cold=cold)
    rows = np.flatnonzero(shown)[hot]
    strongest = cells.iloc[rows].assign(_rank=[map_alt.HOT_CLASSES.index(c) for c in cls[hot].tolist()])
    sort = ["_rank", "z"] if "z" in cells.columns else ["_rank", "count"]
    strongest = strongest.sort_values(sort, ascending=[True, False]).head(map_alt.TOP_CELLS)
    top = pd.DataFrame({
        t("malt.class", lang): strongest["cls"].map(lambda c: t(f"map.hot.{c}", lang)),
        t("col.district", lang): strongest["district_id"].map(lambda d: district_names.get(d, d)),
        t("col.complaints", lang): strongest["count"],
    })
    if "z" in strongest.columns:
        top[t("malt.z", lang)] = strongest["z"].round(2)
    for col, key in (("lat", "col.lat"), ("lon", "col.lon")):
        if col in strongest.columns:
            top[t(key, lang)] = strongest[col].round(5)
    top[t("col.cell", lang)] = strongest["h3"]
    return text, ((t("malt.t.hot_by_district", lang), by),
                  (t("malt.t.hot_top", lang, n=len(top)), top.reset_index(drop=True)))


CLASSES = np.array(["hot99", "hot95", "hot90", "cold90", "cold95", "cold99", "none"], dtype=object)


def random_cells(seed: int, n: int, with_z: bool, float_counts: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    count = rng.integers(0, 9, n).astype(np.float64 if float_counts else np.int64)
    if float_counts:
        count[rng.random(n) < 0.2] = np.nan
    cells = pd.DataFrame({
        "h3": [f"89{i:013x}" for i in rng.permutation(5 * n)[:n]],
        "district_id": rng.choice(np.array(["nord", "sued", "ost", "west", "zz"], dtype=object), n),
        "cls": rng.choice(CLASSES, n, p=[.1, .1, .1, .05, .05, .05, .55]),
        "count": count,
        "lat": rng.uniform(51, 52, n), "lon": rng.uniform(7, 8, n),
    })
    if with_z:
        cells["z"] = rng.choice([1.7, 1.96, 2.2, 2.58, 3.1, 3.1], n)  # ties on purpose
    return cells


NAMES = {"nord": "Nord", "sued": "Süd", "ost": "Ost", "west": "West"}  # "zz" has no name


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("with_z", [True, False])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_hotspot_part_equals_the_pandas_formulation(seed, with_z, lang):
    cells = random_cells(seed, 30 + 25 * seed, with_z, float_counts=seed % 2 == 1)
    text, tables = map_alt.hotspot_part(cells, NAMES, lang)
    ref_text, ref_tables = reference_hotspot_part(cells, NAMES, lang)
    assert text == ref_text
    assert len(tables) == len(ref_tables) == 2
    for (title, table), (ref_title, ref_table) in zip(tables, ref_tables, strict=True):
        assert title == ref_title
        pd.testing.assert_frame_equal(table, ref_table)


def test_hotspot_part_without_hot_cells():
    cells = random_cells(1, 40, True, False).assign(cls="cold95")
    assert map_alt.hotspot_part(cells, NAMES, "de") == (t("malt.no_hot", "de"), ())
