"""Shared filters: URL round trip, invalid URL values, and which records they select."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.filters import Filters, Vocabulary, complaint_mask, from_query, incident_mask, to_query
from data.periods import latest_complete_quarter, parse_quarter, quarter_bounds, quarter_label

Q = parse_quarter
VOCAB = Vocabulary(quarters=tuple(range(Q("2024-Q4"), Q("2026-Q3") + 1)),
                   districts=("mitte", "heessen", "uentrop"),
                   categories=("laerm", "muell", "drogen"),
                   category_field={"laerm": "nachbarschaft", "muell": "infrastruktur",
                                   "drogen": "oeffentliche_raeume"})
DEFAULT = Filters(Q("2026-Q3"), Q("2026-Q3"))


@pytest.mark.parametrize("filters", [
    DEFAULT,
    Filters(Q("2025-Q1"), Q("2026-Q2"), districts=("mitte", "heessen")),
    Filters(Q("2025-Q3"), Q("2025-Q3"), fields=("infrastruktur",), categories=("muell",)),
    Filters(Q("2026-Q1"), Q("2026-Q3"), kinds=("joint",), weekdays=(4, 5), hours=(18, 6)),
    Filters(Q("2024-Q4"), Q("2026-Q3"), hours=(6, 22)),
])
def test_url_round_trip(filters: Filters) -> None:
    query = to_query(filters)
    restored, notices = from_query(query, VOCAB, DEFAULT)
    assert restored == filters
    assert notices == []


@pytest.mark.parametrize(("params", "expected", "notice"), [
    ({"q": "2031-Q1"}, DEFAULT, "q: ignored '2031-Q1'"),
    ({"q": "last year"}, DEFAULT, "q: ignored 'last year'"),
    ({"q": "2026-Q2..2025-Q1"}, Filters(Q("2025-Q1"), Q("2026-Q2")), None),
    ({"d": "mitte,atlantis"}, Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("mitte",)),
     "d: ignored 'atlantis'"),
    ({"c": "<script>"}, DEFAULT, "c: ignored '<script>'"),
    ({"f": "sport"}, DEFAULT, "f: ignored 'sport'"),
    ({"k": "horse,kod"}, Filters(Q("2026-Q3"), Q("2026-Q3"), kinds=("kod",)), "k: ignored 'horse'"),
    ({"wd": "1,9"}, Filters(Q("2026-Q3"), Q("2026-Q3"), weekdays=(1,)), "wd: ignored '9'"),
    ({"h": "25-3"}, DEFAULT, "h: ignored '25-3'"),
    ({"h": "abc"}, DEFAULT, "h: ignored 'abc'"),
])
def test_invalid_url_values_are_ignored_with_a_notice(params, expected, notice) -> None:
    restored, notices = from_query(params, VOCAB, DEFAULT)
    assert restored == expected
    assert notices == ([notice] if notice else [])


@pytest.mark.parametrize(("hours", "included"), [
    ((0, 24), list(range(24))),
    ((18, 24), [18, 19, 20, 21, 22, 23]),
    ((22, 3), [22, 23, 0, 1, 2]),
    ((6, 7), [6]),
])
def test_hour_window(hours, included) -> None:
    mask = Filters(0, 0, hours=hours).hour_mask()
    assert sorted(np.flatnonzero(mask).tolist()) == sorted(included)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"q_from": 5, "q_to": 4}, "q_from must not be after q_to"),
    ({"q_from": 4, "q_to": 4, "hours": (5, 5)}, "hours must be"),
    ({"q_from": 4, "q_to": 4, "hours": (0, 25)}, "hours must be"),
    ({"q_from": 4, "q_to": 4, "weekdays": (7,)}, "weekdays must be 0..6, got [7]"),
    ({"q_from": 4, "q_to": 4, "kinds": ("bike",)}, "got ['bike']"),
])
def test_filters_validate(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Filters(**kwargs)


def test_previous_period_has_equal_length() -> None:
    f = Filters(Q("2025-Q3"), Q("2026-Q2"))
    prev = f.previous()
    assert (quarter_label(prev.q_from), quarter_label(prev.q_to)) == ("2024-Q3", "2025-Q2")


COMPLAINTS = pd.DataFrame({
    "quarter": [Q("2026-Q3")] * 5 + [Q("2026-Q2")] * 2,
    "district_id": ["mitte", "mitte", "heessen", "uentrop", "mitte", "mitte", "heessen"],
    "field": ["nachbarschaft", "infrastruktur", "nachbarschaft", "oeffentliche_raeume",
              "infrastruktur", "nachbarschaft", "nachbarschaft"],
    "category": ["laerm", "muell", "laerm", "drogen", "muell", "laerm", "laerm"],
    "weekday": [0, 5, 5, 6, 2, 0, 1],
    "hour": [23, 10, 1, 20, 12, 23, 2],
})


@pytest.mark.parametrize(("filters", "expected_rows"), [
    (DEFAULT, [0, 1, 2, 3, 4]),
    (Filters(Q("2026-Q2"), Q("2026-Q3")), [0, 1, 2, 3, 4, 5, 6]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("mitte",)), [0, 1, 4]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), fields=("infrastruktur",)), [1, 4]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), categories=("laerm", "drogen")), [0, 2, 3]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), weekdays=(5, 6)), [1, 2, 3]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), hours=(22, 6)), [0, 2]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), districts=("mitte",), hours=(9, 13)), [1, 4]),
    (Filters(Q("2026-Q3"), Q("2026-Q3"), kinds=("police",)), [0, 1, 2, 3, 4]),  # no effect
])
def test_complaint_mask(filters, expected_rows) -> None:
    assert np.flatnonzero(complaint_mask(COMPLAINTS, filters)).tolist() == expected_rows


def test_incident_mask_ignores_categories() -> None:
    f = Filters(Q("2026-Q3"), Q("2026-Q3"), categories=("muell",), districts=("mitte",))
    assert np.flatnonzero(incident_mask(COMPLAINTS, f)).tolist() == [0, 1, 4]


@pytest.mark.parametrize(("today", "expected"), [
    ("2026-11-22", "2026-Q3"),
    ("2026-10-01", "2026-Q3"),
    ("2026-09-30", "2026-Q2"),
    ("2020-01-01", "2026-Q3"),  # nothing complete yet: the newest available
])
def test_latest_complete_quarter(today, expected) -> None:
    got = latest_complete_quarter(list(VOCAB.quarters), pd.Timestamp(today).date())
    assert quarter_label(got) == expected


@pytest.mark.parametrize("bad", ["2024Q3", "2024-Q5", "", None, "Q3-2024"])
def test_parse_quarter_rejects(bad) -> None:
    with pytest.raises(ValueError, match="quarter must look like"):
        parse_quarter(bad)


def test_quarter_bounds_are_local_time() -> None:
    start, end = quarter_bounds(Q("2024-Q4"))
    assert str(start) == "2024-10-01 00:00:00+02:00"
    assert str(end) == "2025-01-01 00:00:00+01:00"
