"""Opening a prepared folder: the patrols are read when a page asks, the same as read at once."""

from __future__ import annotations

import pandas as pd

from data.folder import load_folder
from data.sources import DEMO_FOLDER
from geo import prepared


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
