"""The logic packages never import streamlit (pages compose, modules compute)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOGIC_PACKAGES = ["base", "data", "geo", "viz"]


def test_logic_packages_do_not_import_streamlit() -> None:
    modules = []
    for pkg in LOGIC_PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if path.name == "__main__.py":
                continue
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.'))\n"
        "print(len(sys.modules)); assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert len(modules) >= 8
