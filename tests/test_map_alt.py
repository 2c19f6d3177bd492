"""viz.map_alt helpers (the text alternatives themselves are tested with the pages and exports)."""

from __future__ import annotations

import pandas as pd
import pytest

from viz import map_alt

CASES = {
    "named series": (pd.Series(["Nord", "Mitte", "Nord", "Süd", "Mitte", "Nord"], name="district_id"),
                     pd.Series(["hot99", "hot90", "hot99", "cold95", "hot90", "hot95"], name="cls")),
    "unnamed, one cell": (pd.Series(["A"]), pd.Series(["x"])),
    "missing values are left out": (pd.Series(["A", None, "B", "A"], name="r"),
                                    pd.Series(["x", "y", None, "y"], name="c")),
    "a filtered index": (pd.Series(["b", "a", "c", "a"], index=[7, 3, 9, 1], name="r"),
                         pd.Series(["u", "v", "u", "u"], index=[7, 3, 9, 1], name="c")),
}


@pytest.mark.parametrize("rows,cols", CASES.values(), ids=CASES.keys())
def test_crosstab_equals_pandas_crosstab(rows: pd.Series, cols: pd.Series) -> None:
    pd.testing.assert_frame_equal(map_alt.crosstab(rows, cols), pd.crosstab(rows, cols))


def test_crosstab_rejects_series_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        map_alt.crosstab(pd.Series(["a", "b"]), pd.Series(["x"]))
