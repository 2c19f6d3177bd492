"""The replicas the tests and bench/load.py start run with the systemd unit's server options."""

from __future__ import annotations

import shlex

from deployment import REPO, SERVER_ENV, SERVER_OPTIONS


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


def _directive(text: str, name: str) -> list[str]:
    return [line.strip().rstrip(";").split()[1:] for line in text.splitlines()
            if line.strip().startswith(name + " ")]


def test_nginx_gives_up_on_a_dead_replica_within_seconds() -> None:
    """A replica whose machine died answers nothing: nginx must not wait its default 60 s to
    connect before trying the next one (failover within 10 s), and must try the next one on
    a refused or timed-out connection."""
    text = (REPO / "deploy" / "nginx" / "lagebild.conf").read_text(encoding="utf-8")
    (timeout,) = _directive(text, "proxy_connect_timeout")
    assert timeout[0].endswith("s") and 0 < int(timeout[0][:-1]) <= 3, timeout
    (next_upstream,) = _directive(text, "proxy_next_upstream")
    assert {"error", "timeout"} <= set(next_upstream)
    servers = [s for s in _directive(text, "server") if s != ["{"]]  # not the server block
    assert servers and all("max_fails=1" in s for s in servers), servers


def test_replica_environment_is_the_systemd_units() -> None:
    text = (REPO / "deploy" / "systemd" / "lagebild@.service").read_text(encoding="utf-8")
    unit = dict(line.removeprefix("Environment=").split("=", 1) for line in text.splitlines()
                if line.startswith("Environment="))
    assert unit == SERVER_ENV
