"""geo.model: city-wide analytics are computed once per filter state and shared safely."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from data.filters import Filters
from data.periods import parse_quarter
from data.sources import DEMO_FOLDER
from geo import model as geo_model
from geo import prepared
from geo.gap import presence_gap
from geo.hotspots import gi_star

Q3 = parse_quarter("2026-Q3")
CITY = Filters(Q3, Q3)


@pytest.fixture(scope="module")
def model():
    return geo_model.build(prepared.open_bundle(DEMO_FOLDER, progress=None), 9)


def _fresh(model):
    """The same cubes without any memoised result (a replaced model starts with its own memo)."""
    return replace(model)


def test_hotspots_equal_a_fresh_computation_and_are_copies(model) -> None:
    first = geo_model.hotspots(model, CITY)
    expected = gi_star(geo_model.complaint_cell_counts(_fresh(model), CITY), model.index)
    pd.testing.assert_frame_equal(first, expected)
    first["cls"] = "changed by a caller"
    again = geo_model.hotspots(model, CITY)
    pd.testing.assert_frame_equal(again, expected)  # the memo was not changed through a copy


@pytest.mark.parametrize("districts", [("mitte",), ("heessen", "pelkum")])
def test_district_gap_is_the_city_gap_narrowed(model, districts) -> None:
    """A district only narrows the city-wide gap list: with the city's list memoised, the
    district's list is the same as computed from scratch."""
    geo_model.gap(model, CITY)  # the city-wide view first, as the app does
    narrowed = geo_model.gap(model, replace(CITY, districts=districts))
    scratch = geo_model.gap(_fresh(model), replace(CITY, districts=districts))
    pd.testing.assert_frame_equal(narrowed, scratch)
    assert set(narrowed["district_id"]) <= set(districts)


def test_gap_with_other_hot_spots_is_not_taken_from_the_memo(model) -> None:
    spots = geo_model.hotspots(model, CITY)
    spots["cls"] = "none"  # e.g. an anonymised view: no hot spots at all
    assert geo_model.gap(model, CITY, spots).empty
    assert not geo_model.gap(model, CITY).empty  # the model's own hot spots: a gap list
    presence = geo_model.presence_minutes(model, CITY)["total"]
    assert presence_gap(spots, presence, model.index, None).empty


def test_memo_is_bounded(model) -> None:
    m = _fresh(model)
    for hour in range(geo_model.MEMO_ENTRIES + 5):
        geo_model.hotspots(m, replace(CITY, hours=(hour % 24, hour % 24 + 1), weekdays=(hour // 24,)))
    assert len(m._memo) == geo_model.MEMO_ENTRIES



def test_a_replaced_model_does_not_share_the_memo(model) -> None:
    """A model with another publisher (dataclasses.replace) must not reuse memoised results
    computed for the other one's numbers."""
    from data.privacy import Publisher

    exact_gap = geo_model.gap(model, CITY)
    published = replace(model, publisher=Publisher(k=5, secret="test-secret"))
    assert published._memo is not model._memo
    published_gap = geo_model.gap(published, CITY)
    assert not published_gap["complaints"].equals(exact_gap["complaints"])
