"""CSV files for spreadsheets without formula injection.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab/carriage return before one) is a
formula to Excel and LibreOffice. Text cells from data (names, labels, uploaded values) are
prefixed with an apostrophe so they stay text; numbers are left alone.
"""

from __future__ import annotations

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells can't be read as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_safe, na_action="ignore")
    out.columns = [_safe(c) for c in out.columns]
    return out
