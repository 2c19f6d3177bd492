"""Calendar quarters in local time (Europe/Berlin), e.g. ``"2024-Q3"``."""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pandas as pd

from data.contracts import TZ

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def parse_quarter(text: str) -> int:
    """A quarter label as an ordinal (year * 4 + quarter - 1), with a precise error."""
    m = _QUARTER.match(str(text).strip()) if text is not None else None
    if not m:
        raise ValueError(f"quarter must look like '2024-Q3', got {text!r}")
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def quarter_label(ordinal: int) -> str:
    return f"{ordinal // 4}-Q{ordinal % 4 + 1}"


def quarter_ordinals(times: pd.Series) -> np.ndarray:
    """Quarter ordinal of each tz-aware timestamp, in local time; -1 for missing."""
    local = times.dt.tz_convert(TZ) if isinstance(times.dtype, pd.DatetimeTZDtype) else times
    year = local.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    q = local.dt.quarter.to_numpy(dtype="float64", na_value=np.nan)
    out = year * 4 + q - 1
    return np.where(np.isnan(out), -1, out).astype(np.int32)


def quarter_bounds(ordinal: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start (inclusive) and end (exclusive) of a quarter as local timestamps."""
    year, q = divmod(ordinal, 4)
    start = pd.Timestamp(year=year, month=3 * q + 1, day=1, tz=TZ)
    end_year, end_q = divmod(ordinal + 1, 4)
    end = pd.Timestamp(year=end_year, month=3 * end_q + 1, day=1, tz=TZ)
    return start, end


def latest_complete_quarter(available: list[int], today: date | datetime) -> int:
    """The newest quarter in ``available`` that had ended by ``today``.

    Falls back to the newest available quarter when none had ended (data from the future,
    e.g. a clock that is off), so the app always shows something.
    """
    if not available:
        raise ValueError("no quarters available")
    today_ord = today.year * 4 + (today.month - 1) // 3
    complete = [q for q in available if q < today_ord]
    return max(complete) if complete else max(available)
