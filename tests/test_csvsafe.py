"""CSV exports keep data text as text in spreadsheets (no formula injection)."""

from __future__ import annotations

import pandas as pd
import pytest

from data.csvsafe import neutralise_formulas
from viz.exports import csv_bytes


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+49 2381 555", "'+49 2381 555"),
    ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("Mitte", "Mitte"),
    ("Bockum-Hövel", "Bockum-Hövel"),
])
def test_text_cells(value: str, expected: str) -> None:
    out = neutralise_formulas(pd.DataFrame({"name": [value], "n": [-3]}))
    assert out.loc[0, "name"] == expected
    assert out.loc[0, "n"] == -3  # numbers stay numbers


def test_csv_export_is_neutralised() -> None:
    data = csv_bytes(pd.DataFrame({"Bezirk": ["=1+1"], "Beschwerden": [5]}), "de").decode("utf-8-sig")
    assert data.splitlines()[1] == "'=1+1;5"
