"""The simulated browser of the load bench (tests/stclient.py) behaves like Streamlit's frontend:
its reconnect waits and its cache of large messages (no server needed)."""

from __future__ import annotations

import random

import pytest
from deployment import UPSTREAM_HEADER, render_site
from stclient import MessageCache, SessionError, ping_delay, reconnect_delay
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@pytest.mark.parametrize(("attempt", "low", "high"), [
    (1, 0.25, 0.5),  # nextReconnectDelayMs: the first retry soon, jittered
    (2, 0.5, 1.0),
    (3, 1.0, 2.0),
    (4, 2.0, 4.0),
    (9, 2.0, 4.0),  # capped at 4 s
])
def test_reconnect_delay_is_the_frontends(attempt, low, high) -> None:
    rng = random.Random(attempt)
    delays = [reconnect_delay(attempt, rng) for _ in range(500)]
    assert all(low <= d < high for d in delays), (min(delays), max(delays))
    assert max(delays) - min(delays) > (high - low) / 2  # jittered over the range


@pytest.mark.parametrize(("retry", "low", "high"), [
    (1, 0.1, 0.1),  # doInitPings: 100 ms, then doubling, 70-100 % jitter, at most 4 s
    (2, 0.14, 0.2),
    (3, 0.28, 0.4),
    (7, 2.8, 4.0),
    (12, 2.8, 4.0),
])
def test_ping_delay_is_the_frontends(retry, low, high) -> None:
    rng = random.Random(retry)
    delays = [ping_delay(retry, rng) for _ in range(500)]
    assert all(low <= d <= high for d in delays), (min(delays), max(delays))


@pytest.mark.parametrize("bad", [0, -1])
def test_delays_count_from_one(bad) -> None:
    with pytest.raises(ValueError, match="from 1"):
        reconnect_delay(bad, random.Random(0))
    with pytest.raises(ValueError, match="from 1"):
        ping_delay(bad, random.Random(0))


def _element(text: str, cacheable: bool) -> tuple[ForwardMsg, bytes]:
    fm = ForwardMsg()
    fm.hash = f"h-{text}"
    fm.delta.new_element.markdown.body = text
    fm.metadata.cacheable = cacheable
    return fm, fm.SerializeToString()


def _reference(fm: ForwardMsg, path: int) -> tuple[ForwardMsg, bytes]:
    ref = ForwardMsg()
    ref.ref_hash = fm.hash
    ref.metadata.delta_path.extend([0, path])
    return ref, ref.SerializeToString()


def test_cacheable_messages_are_announced_and_references_resolved() -> None:
    cache = MessageCache(max_age=2)
    big, data = _element("a map", cacheable=True)
    small, small_data = _element("a caption", cacheable=False)
    assert cache.resolve(big, data) is big and cache.resolve(small, small_data) is small
    assert cache.hashes() == [big.hash]  # only what the server marked cacheable
    cache.finished_run()
    ref, ref_data = _reference(big, 7)
    full = cache.resolve(ref, ref_data)
    assert full.delta.new_element.markdown.body == "a map"
    assert list(full.metadata.delta_path) == [0, 7]  # placed where the reference says
    assert (cache.hits, cache.saved) == (1, len(data))


def test_unused_messages_expire_after_max_age_runs() -> None:
    cache = MessageCache(max_age=2)
    old, old_data = _element("old map", cacheable=True)
    used, used_data = _element("shown again", cacheable=True)
    cache.resolve(old, old_data)
    cache.resolve(used, used_data)
    for _ in range(2):
        cache.finished_run()
        cache.resolve(*_reference(used, 1))  # a reference keeps it young
    assert set(cache.hashes()) == {old.hash, used.hash}  # 2 runs old: kept
    cache.finished_run()
    assert cache.hashes() == [used.hash]  # 3 runs without use: gone, as in the frontend


def test_a_reference_to_an_unknown_message_is_an_error() -> None:
    cache = MessageCache()
    big, _ = _element("never received", cacheable=True)
    with pytest.raises(SessionError, match="does not hold"):
        cache.resolve(*_reference(big, 0))


def test_the_upstream_header_is_the_benchs_not_the_sites() -> None:
    plain = render_site([8501, 8502], 9000)
    assert UPSTREAM_HEADER not in plain
    bench = render_site([8501, 8502], 9000, upstream_header=True)
    assert bench.count(UPSTREAM_HEADER) == 1
    assert bench.replace(f"        {UPSTREAM_HEADER}\n", "") == plain
