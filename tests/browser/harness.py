"""Browser test harness (helpers): `streamlit run dashboard.py` on localhost + Debian's headless Chromium.

Never downloads a browser: Playwright drives /usr/bin/chromium (installed by `make test`
with apt-get). Every request that would leave localhost is aborted and recorded, so the
tests prove the app works offline and never touch the network.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-default-apps", "--disable-extensions",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    def __init__(self, env: dict[str, str], script: str = "dashboard.py") -> None:
        """``streamlit run SCRIPT``: ``dashboard.py``, or ``app.py`` (with the app's tile route)."""
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = REPO / "test-output" / f"streamlit-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, "LAGEBILD_TILES": "none", **env}
        self._fh = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=REPO, env=full_env, stdout=self._fh, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("streamlit did not become healthy in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._fh.close()


class Recorder:
    """Aborts and records every request to a host other than localhost; records dialogs."""

    def __init__(self) -> None:
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []

    def route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until the script run has finished (no running indicator, a title present)."""
    page.wait_for_selector("h1", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def map_frame(page, timeout: float = 60_000):
    """The st_folium iframe's frame, once Leaflet has drawn into it."""
    # by its source: the map names its frame after what it shows ("Karte: …", geo/a11y.py)
    handle = page.wait_for_selector('iframe[src*="streamlit_folium.st_folium"]', timeout=timeout)
    frame = handle.content_frame()
    frame.wait_for_selector(".leaflet-container", timeout=timeout)
    return frame


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
