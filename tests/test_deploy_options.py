"""The replicas the tests and bench/load.py start run with the systemd unit's server options."""

from __future__ import annotations

import shlex

from deployment import REPO, SERVER_OPTIONS


def _exec_start() -> list[str]:
    text = (REPO / "deploy" / "systemd" / "lagebild@.service").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ExecStart="))
    command = []
    for line in lines[start:]:
        command.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    return shlex.split(" ".join(command).removeprefix("ExecStart="))


def test_replica_options_are_the_systemd_units() -> None:
    args = _exec_start()
    pairs = dict(zip(args[3::2], args[4::2], strict=False))
    assert args[1:3] == ["run", "app.py"]
    for name, value in zip(SERVER_OPTIONS[::2], SERVER_OPTIONS[1::2], strict=True):
        assert pairs.get(name) == value, (name, args)
    assert pairs["--runner.postScriptGC"] == "false"
    assert pairs["--server.fileWatcherType"] == "none"
