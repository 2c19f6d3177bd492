"""Opening hours in OSM syntax: open now, closed, unknown."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from data.opening import is_open, next_change

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
CITYWACHE = "Mo-Sa 09:00-20:30"


@pytest.mark.parametrize(
    ("hours", "now", "expected"),
    [
        (CITYWACHE, datetime(2025, 6, 7, 20, 0), True),  # Saturday 20:00
        (CITYWACHE, datetime(2025, 6, 7, 20, 29), True),
        (CITYWACHE, datetime(2025, 6, 7, 20, 30), False),  # the end is exclusive
        (CITYWACHE, datetime(2025, 6, 7, 20, 31), False),
        (CITYWACHE, datetime(2025, 6, 8, 12, 0), False),  # Sunday
        (CITYWACHE, datetime(2025, 6, 9, 8, 59), False),  # Monday before opening
        (CITYWACHE, datetime(2025, 6, 9, 9, 0), True),
        # aware times are converted to Europe/Berlin (CEST = UTC+2 in June)
        (CITYWACHE, datetime(2025, 6, 7, 18, 0, tzinfo=UTC), True),
        (CITYWACHE, datetime(2025, 6, 7, 18, 31, tzinfo=UTC), False),
        (CITYWACHE, datetime(2025, 6, 7, 20, 0, tzinfo=BERLIN), True),
        ("24/7", datetime(2025, 12, 24, 3, 0), True),
        ("Mo-Th 08:00-16:00; Fr 08:00-13:00", datetime(2025, 6, 6, 14, 0), False),  # Friday 14:00
        ("Mo-Th 08:00-16:00; Fr 08:00-13:00", datetime(2025, 6, 5, 14, 0), True),  # Thursday
        ("Tu,Th 09:00-15:00", datetime(2025, 6, 3, 10, 0), True),
        # public holidays follow the German calendar (3 October, Tag der Deutschen Einheit)
        ("Mo-Su 08:00-20:00; PH off", datetime(2025, 10, 3, 10, 0), False),
        ("Mo-Su 08:00-20:00; PH off", datetime(2025, 10, 2, 10, 0), True),
        ("Mo-Fr 08:00-12:00 unknown", datetime(2025, 6, 2, 9, 0), None),
        ("garbage", datetime(2025, 6, 7, 12, 0), None),
        ("Mo-Sa 25:00-99:00 ???", datetime(2025, 6, 7, 12, 0), None),
        ("", datetime(2025, 6, 7, 12, 0), None),
        ("   ", datetime(2025, 6, 7, 12, 0), None),
        (None, datetime(2025, 6, 7, 12, 0), None),
        (float("nan"), datetime(2025, 6, 7, 12, 0), None),
    ],
)
def test_is_open(hours, now, expected):
    assert is_open(hours, now) is expected


@pytest.mark.parametrize(
    ("hours", "now", "expected"),
    [
        (CITYWACHE, datetime(2025, 6, 7, 12, 0), datetime(2025, 6, 7, 20, 30, tzinfo=BERLIN)),
        (CITYWACHE, datetime(2025, 6, 7, 21, 0), datetime(2025, 6, 9, 9, 0, tzinfo=BERLIN)),
        ("24/7", datetime(2025, 6, 7, 12, 0), None),
        ("garbage", datetime(2025, 6, 7, 12, 0), None),
        (None, datetime(2025, 6, 7, 12, 0), None),
    ],
)
def test_next_change(hours, now, expected):
    assert next_change(hours, now) == expected
