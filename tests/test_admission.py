"""How many script runs of a replica execute at once (ui/admission.py): the limit, arrival
order, slots given back for long tasks and on errors."""

from __future__ import annotations

import threading

import pytest

from ui import admission
from ui.admission import ENV, FIRST_ENV, Slots, limit_from


@pytest.mark.parametrize(("raw", "limit"), [
    (None, None), ("", None), ("  ", None), ("0", None), ("2", 2), (" 3 ", 3),
])
def test_limit_from_environment(raw, limit) -> None:
    env = {} if raw is None else {ENV: raw}
    assert limit_from(env) == limit


@pytest.mark.parametrize("raw", ["-1", "two", "1.5"])
def test_invalid_limit_is_rejected_with_the_value(raw) -> None:
    with pytest.raises(ValueError, match=f"{ENV}.*{raw!r}"):
        limit_from({ENV: raw})
    with pytest.raises(ValueError, match=f"{FIRST_ENV}.*{raw!r}"):
        limit_from({FIRST_ENV: raw}, FIRST_ENV)


def test_first_run_limit_is_its_own_setting() -> None:
    env = {ENV: "3", FIRST_ENV: "1"}
    assert (limit_from(env), limit_from(env, FIRST_ENV)) == (3, 1)
    assert limit_from({ENV: "3"}, FIRST_ENV) is None


class _Counting(Slots):
    """Slots that count how many runs entered them."""

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        self.entered = 0

    def slot(self):
        self.entered += 1
        return super().slot()


def test_only_a_sessions_first_run_queues_for_the_first_run_slots(monkeypatch) -> None:
    """dashboard.py: the first run of a session on this process takes a first-run slot (a
    new user, or one moved here from a dead replica); its later runs do not."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    dashboard = str(Path(__file__).resolve().parent.parent / "dashboard.py")
    first, every = _Counting(1), _Counting(None)
    monkeypatch.setattr(admission, "_first", first)
    monkeypatch.setattr(admission, "_slots", every)
    at = AppTest.from_file(dashboard, default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert (first.entered, every.entered) == (1, 1)
    at.run()  # a rerun of the same session
    at.switch_page("pages/lagebild.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert (first.entered, every.entered) == (1, 3)
    AppTest.from_file(dashboard, default_timeout=120).run()  # another session
    assert (first.entered, every.entered) == (2, 4)
    assert first.active == every.active == 0  # every slot given back


def test_slots_need_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="got 0"):
        Slots(0)


def _run_in_threads(slots: Slots, n: int, hold: threading.Event | list[threading.Event],
                    order: list[int]) -> list[threading.Thread]:
    """n runs, one after the other; run i holds its slot until ``hold`` (or ``hold[i]``) is set."""
    def run(i: int) -> None:
        with slots.slot():
            order.append(i)
            (hold[i] if isinstance(hold, list) else hold).wait(10)

    threads = []
    for i in range(n):
        th = threading.Thread(target=run, args=(i,))
        th.start()
        threads.append(th)
        # the next one arrives once this one holds a slot or waits in the queue
        assert _until(lambda i=i: len(order) + len(slots._waiting) == i + 1)
    return threads


def _until(predicate, tries: int = 2000) -> bool:
    import time

    for _ in range(tries):
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_at_most_limit_runs_at_once_served_in_arrival_order() -> None:
    slots = Slots(2)
    holds, order = [threading.Event() for _ in range(5)], []
    threads = _run_in_threads(slots, 5, holds, order)
    assert _until(lambda: len(order) == 2)
    assert slots.active == 2 and len(slots._waiting) == 3
    # Each run that ends hands its slot to the longest-waiting one: released one at a time so
    # the order of entry is the queue's, not the thread scheduler's.
    for ended in range(3):
        holds[ended].set()
        assert _until(lambda ended=ended: len(order) == ended + 3)
        assert slots.active == 2
    for h in holds:
        h.set()
    for th in threads:
        th.join(10)
    assert order == [0, 1, 2, 3, 4]  # queued runs in the order they came
    assert slots.peak == 2 and slots.active == 0 and slots._free == 2


def test_no_limit_lets_every_run_in() -> None:
    slots = Slots(None)
    hold, order = threading.Event(), []
    threads = _run_in_threads(slots, 4, hold, order)
    assert _until(lambda: len(order) == 4)
    hold.set()
    for th in threads:
        th.join(10)


def test_a_failing_run_gives_its_slot_back() -> None:
    slots = Slots(1)
    with pytest.raises(RuntimeError), slots.slot():
        raise RuntimeError("the page failed")
    with slots.slot():  # would wait forever if the slot were lost
        assert slots.active == 1
    assert slots.active == 0


def test_nested_slot_in_the_same_run_does_not_wait_for_itself() -> None:
    slots = Slots(1)
    with slots.slot(), slots.slot():
        assert slots.active == 1


def test_a_long_task_gives_its_slot_to_the_next_run_and_queues_for_it_again() -> None:
    slots = Slots(1)
    in_task, task_done, other_ran = threading.Event(), threading.Event(), threading.Event()
    after: list[int] = []

    def long_run() -> None:
        with slots.slot():
            with slots.released():
                in_task.set()
                task_done.wait(10)
            after.append(slots.active)  # back in a slot after the task

    def other_run() -> None:
        with slots.slot():
            other_ran.set()

    a = threading.Thread(target=long_run)
    a.start()
    assert in_task.wait(10)
    b = threading.Thread(target=other_run)
    b.start()
    assert other_ran.wait(10)  # ran while the long task was busy
    task_done.set()
    a.join(10)
    b.join(10)
    assert after == [1] and slots.active == 0 and slots._free == 1


def test_released_outside_a_slot_does_nothing() -> None:
    slots = Slots(1)
    with slots.released():
        assert slots.active == 0
    with slots.slot():
        assert slots.active == 1
