"""Refresh docs/lagebild.png: the Lagebild page of the demo city in headless Chromium.

Usage: .venv/bin/python scripts/screenshot.py   (or `make screenshot`)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, map_frame, wait_for_app  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402


def main() -> None:
    server = StreamlitServer({})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/lagebild")
            wait_for_app(page)
            frame = map_frame(page)
            frame.get_by_text("Präsenz Gemeinsame Streife").click()
            page.wait_for_timeout(800)
            out = ROOT / "docs" / "lagebild.png"
            page.screenshot(path=str(out))
            browser.close()
            print(f"wrote {out}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
