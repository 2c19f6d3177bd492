"""The Daten page in headless Chromium: upload a file, import it, and see the map change."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from harness import REPO, StreamlitServer, map_frame, screenshot, wait_for_app

sys.path.insert(0, str(REPO / "tests"))
from import_fixtures import (
    MITTE,
    SUED,
    german_excel_csv,
    polygon_feature_collection,
    shapefile_zip,
)

from data.cli import main
from data.store import Store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StreamlitServer, Path, Path]]:
    """A store with 2 districts and a few complaints, shown by the app."""
    tmp = tmp_path_factory.mktemp("daten")
    root = tmp / "store"
    assert main(["import", "districts", str(shapefile_zip(tmp / "b.zip")), "--store", str(root)]) == 0
    assert main(["import", "complaints", str(german_excel_csv(tmp / "b.csv")), "--store", str(root),
                 "--activate"]) == 0
    third = shapely.box(7.86, 51.66, 7.9, 51.7)
    three = polygon_feature_collection(tmp / "drei.geojson", [MITTE, SUED, third], ["01", "02", "03"])
    server = StreamlitServer({"LAGEBILD_STORE": str(root)})
    yield server, root, three
    server.stop()


def _map_html(page, url: str) -> str:
    """The Lagebild map's document (its district layer carries the district names)."""
    page.goto(f"{url}/lagebild")
    wait_for_app(page)
    return map_frame(page).content()


def test_upload_import_and_the_map_changes(store_server, page) -> None:
    server, root, three = store_server
    before = _map_html(page, server.url)
    assert "Süd-Höve" in before and "Bezirk 03" not in before
    page.goto(f"{server.url}/daten")
    wait_for_app(page)
    page.set_input_files('[data-testid="stFileUploader"] input[type="file"]', str(three))
    check = page.get_by_role("button", name="Prüfen", exact=True)
    check.wait_for(timeout=60_000)
    check.click()
    page.get_by_text("Übernommen", exact=True).wait_for(timeout=60_000)
    page.get_by_role("button", name="Importieren", exact=True).click()
    page.get_by_text("Bezirke: Version 3 gespeichert").wait_for(timeout=60_000)
    screenshot(page, "daten")
    assert Store(root).generation == 3 and Store(root).is_active()
    after = _map_html(page, server.url)
    assert "Bezirk 03" in after and "Süd-Höve" not in after
    assert page.recorder.external == []
