"""Fixtures for the browser tests (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, Recorder, StreamlitServer


@pytest.fixture(scope="session")
def _playwright():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt-get")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(_playwright):
    b = _playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def server() -> Iterator[StreamlitServer]:
    """The app on the demo data, tiles off."""
    s = StreamlitServer({})
    yield s
    s.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="de-DE")
    rec = Recorder()
    context.route("**/*", rec.route)
    p = context.new_page()
    p.on("dialog", rec.dialog)
    p.recorder = rec
    yield p
    context.close()


