"""geo.deferred: a value computed in the background reads like the value itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from geo.deferred import Deferred, deferrable


@dataclass(eq=False)
class Holder:
    name: str
    value: object = deferrable()  # type: ignore[assignment]
    other: int = 0


@pytest.mark.parametrize("background", [True, False])
def test_a_deferred_field_reads_as_its_value_computed_once(background) -> None:
    calls = []
    gate = threading.Event()

    def compute():
        gate.wait(5)
        calls.append(1)
        return {"cube": 42}

    h = Holder("a", Deferred(compute, background=background))
    gate.set()
    assert h.value == {"cube": 42}
    assert h.value is h.value
    assert calls == [1]
    assert Holder("b", [1, 2]).value == [1, 2]  # a plain value stays as given


def test_a_deferred_field_is_required_and_errors_reach_the_reader() -> None:
    with pytest.raises(TypeError):
        Holder("no value")  # type: ignore[call-arg]

    def broken():
        raise ValueError("cube file unreadable, got 'x'")

    h = Holder("c", Deferred(broken))
    with pytest.raises(ValueError, match="unreadable"):
        _ = h.value
    with pytest.raises(ValueError, match="unreadable"):  # again, not a stale None
        _ = h.value


def test_the_process_waits_at_exit_for_a_computation_in_flight(tmp_path) -> None:
    """A process that ends while a Deferred computes waits for it: a daemon thread still in
    pyarrow during the interpreter's finalisation hung or crashed short-lived processes."""
    import subprocess
    import sys
    from pathlib import Path

    done = tmp_path / "done"
    child = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from geo.deferred import Deferred\n"
        f"d = Deferred(lambda: (time.sleep(1.0), open({str(done)!r}, 'w').write('x')))\n"
        "print('exiting', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
    assert done.read_text() == "x"  # the computation finished before the interpreter ended
