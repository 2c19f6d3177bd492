"""``python -m data``: exit codes and the JSON summary line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "data", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_check_valid_folder() -> None:
    res = run("check", str(DEMO))
    assert res.returncode == 0, res.stderr
    summary = last_json(res.stdout)
    assert summary["valid"] is True
    assert summary["errors"] == []
    assert summary["records"]["districts"] == 7
    assert summary["records"]["complaints"] > 30_000
    assert summary["quarters"][0] == "2024-Q4" and summary["quarters"][-1] == "2026-Q3"
    minlon, minlat, maxlon, maxlat = summary["bbox"]
    assert 7.6 < minlon < maxlon < 8.1 and 51.5 < minlat < maxlat < 51.8


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(DEMO, folder)
    offices = pd.read_csv(folder / "offices.csv", dtype=str)
    offices.loc[2, "lat"] = "95.5"
    offices.loc[3, "kind"] = "castle"
    offices.to_csv(folder / "offices.csv", index=False)
    return folder


def test_check_invalid_folder_exits_1_with_errors(broken: Path) -> None:
    res = run("check", str(broken))
    assert res.returncode == 1
    summary = last_json(res.stdout)
    assert summary["valid"] is False
    assert summary["error_count"] == 2
    assert {"dataset": "offices", "row": 3, "column": "lat", "value": "95.5",
            "reason": "latitude outside -90..90"} in summary["errors"]
    assert any(e["row"] == 4 and e["column"] == "kind" and e["value"] == "castle"
               for e in summary["errors"])
    assert "offices: row 3, column 'lat'" in res.stdout


def test_check_missing_folder_exits_1(tmp_path: Path) -> None:
    res = run("check", str(tmp_path / "nope"))
    assert res.returncode == 1
    assert last_json(res.stdout)["errors"][0]["reason"] == "data folder does not exist"


@pytest.mark.parametrize("args", [
    (),
    ("frobnicate",),
    ("check",),
    ("demo",),
    ("demo", "--out", "x", "--seed", "abc"),
    ("demo", "--out", "x", "--complaints", "-3"),
])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    res = run(*args)
    assert res.returncode == 2
    assert "usage" in res.stderr


def test_demo_writes_a_valid_folder(tmp_path: Path) -> None:
    out = tmp_path / "small"
    res = run("demo", "--out", str(out), "--seed", "3", "--complaints", "2000", "--pings", "5000")
    assert res.returncode == 0, res.stderr
    assert last_json(res.stdout)["records"]["complaints"] == 2000
    check = run("check", str(out))
    assert check.returncode == 0, check.stdout
    assert last_json(check.stdout)["records"]["patrol_points"] == 5000
