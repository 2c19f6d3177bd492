"""Accessibility audit: axe-core on every page, German and English, in every frame.

    .venv/bin/python scripts/a11y_audit.py [--pages uebersicht,lagebild] [--langs de,en]

Starts ``streamlit run dashboard.py`` on the demo data (tiles off), opens each page in
Debian's headless Chromium, runs axe-core (from npm, see package.json) in the page and in
every frame, and prints the violations per page. The last line is one JSON object:
``{"pages": {"uebersicht/de": {"failing": n, "other": m, "rules": [...]}, ...},
"failing_total": n}``. Exit 0 when no violation fails (serious/critical or WCAG A/AA).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from a11y import PAGE_CONTENT, failing, run_axe, wait_for_content  # noqa: E402
from harness import CHROMIUM, CHROMIUM_ARGS, Recorder, StreamlitServer, wait_for_app  # noqa: E402

from ui.chrome import PAGES  # noqa: E402


def main() -> int:
    urls = [url for path, _key, url, _icon in PAGES if (ROOT / path).exists()]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default=",".join(urls))
    parser.add_argument("--langs", default="de,en")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = StreamlitServer({})
    results: dict[str, dict] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for lang in args.langs.split(","):
                for url in args.pages.split(","):
                    context = browser.new_context(viewport={"width": 1500, "height": 1000})
                    context.route("**/*", Recorder().route)
                    page = context.new_page()
                    page.goto(f"{server.url}/{url}?lang={lang}")
                    wait_for_app(page)
                    maps, charts = PAGE_CONTENT.get(url, (0, 0))
                    wait_for_content(page, maps, charts)
                    found = run_axe(page)
                    bad = failing(found)
                    key = f"{url}/{lang}"
                    results[key] = {"failing": len(bad), "other": len(found) - len(bad),
                                    "rules": sorted({f"{v.frame}:{v.rule}:{v.impact}" for v in found})}
                    print(f"== {key}: {len(bad)} failing, {len(found) - len(bad)} other")
                    for v in found:
                        print(("  FAIL " if v.fails else "  info ") + str(v))
                    context.close()
            browser.close()
    finally:
        server.stop()
    total = sum(r["failing"] for r in results.values())
    print(json.dumps({"pages": results, "failing_total": total}, ensure_ascii=False))
    return 0 if total == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
