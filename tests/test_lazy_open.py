"""Opening a prepared folder: the patrols are read when a page asks, the same as read at once."""

from __future__ import annotations

import pandas as pd
import pytest

from data.folder import DataBundle, load_folder
from data.roles import Principal, restrict
from data.sources import DEMO_FOLDER
from geo import prepared

ENV = {"LAGEBILD_CELL_KEY_SECRET": "test-secret"}


def test_patrols_are_read_on_first_use_and_equal_an_eager_read() -> None:
    bundle = prepared.open_bundle(DEMO_FOLDER, progress=None)
    eager = load_folder(DEMO_FOLDER)
    assert not bundle.is_loaded("patrols")
    assert bundle.counts()["patrols"] == len(eager["patrols"])  # known without reading them
    pd.testing.assert_frame_equal(bundle["patrols"], eager["patrols"])
    assert bundle.is_loaded("patrols")


def test_pings_read_later_are_checked_against_the_unread_patrols() -> None:
    bundle = prepared.open_bundle(DEMO_FOLDER, progress=None)
    eager = load_folder(DEMO_FOLDER)
    start = pd.Timestamp("2026-01-01", tz="Europe/Berlin")
    end = pd.Timestamp("2026-01-08", tz="Europe/Berlin")
    pings = bundle.records_between("patrol_points", "time", start, end)
    expected = eager.records_between("patrol_points", "time", start, end)
    assert len(pings) > 0
    pd.testing.assert_frame_equal(pings, expected)


@pytest.mark.parametrize("complaints_read", [False, True], ids=["complaints-unread", "complaints-read"])
@pytest.mark.parametrize("principal", [
    Principal("viewer"), Principal("coordinator", ("heessen",)), Principal("coordinator", ("mitte",)),
], ids=["viewer", "coordinator-heessen", "coordinator-mitte"])
def test_restricted_views_know_quarters_and_newest_complaint_without_reading_patrols(
        principal, complaints_read) -> None:
    """A restricted view of the lazily opened set (patrols unread; the complaints read by an
    earlier page or not) has the quarters and the newest complaint of the same view of an
    eager read, and leaves the patrols unread."""
    opened = prepared.open_bundle(DEMO_FOLDER, progress=None)
    if complaints_read:
        assert len(opened["complaints"])
    lazy = restrict(opened, principal, env=ENV)
    eager = restrict(load_folder(DEMO_FOLDER), principal, env=ENV)
    assert lazy.quarters() == eager.quarters()
    assert lazy.as_of == eager.as_of
    assert not lazy.is_loaded("patrols")
    pd.testing.assert_frame_equal(lazy["patrols"], eager["patrols"])


def test_quarters_of_a_bundle_with_unread_patrols_read_them() -> None:
    """Without prepared patrol quarters, the quarters come from the patrols, read on demand."""
    eager = load_folder(DEMO_FOLDER)
    frames = {k: v for k, v in eager.frames.items() if k != "patrols"}
    bundle = DataBundle(frames=frames, meta=dict(eager.meta), lazy={"patrols": lambda: eager["patrols"]})
    assert bundle.quarters() == eager.quarters()
    assert bundle.is_loaded("patrols")
