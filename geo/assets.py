"""Offline map assets: Leaflet and its plugins, served by the app itself.

The JavaScript and CSS come from PyPI packages installed at set-up (XStatic-Leaflet,
XStatic-Leaflet-MarkerCluster, and the heat-map plugin that folium ships); nothing is
copied into the repository. :func:`install` copies them into ``static/vendor`` (which
Streamlit serves under ``/app/static/vendor`` with ``server.enableStaticServing``), and
:func:`localize` points every folium element of a map at those files instead of a CDN.

``python -m geo.assets`` installs the files (the Makefile runs it).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import folium

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = ROOT / "static" / "vendor"
DEFAULT_BASE_URL = "/app/static/vendor"


def _package_dir(module: str) -> Path:
    mod = __import__(module, fromlist=["BASE_DIR"])
    return Path(mod.BASE_DIR)


def sources() -> dict[str, Path]:
    """Where each vendored file comes from: relative target path -> source file."""
    leaflet = _package_dir("xstatic.pkg.leaflet")
    cluster = _package_dir("xstatic.pkg.leaflet_markercluster")
    folium_templates = Path(folium.__file__).resolve().parent / "templates"
    files = {
        "leaflet/leaflet.js": leaflet / "leaflet.js",
        "leaflet/leaflet.css": leaflet / "leaflet.css",
        "markercluster/leaflet.markercluster.js": cluster / "leaflet.markercluster.js",
        "markercluster/MarkerCluster.css": cluster / "MarkerCluster.css",
        "markercluster/MarkerCluster.Default.css": cluster / "MarkerCluster.Default.css",
        "leaflet-heat/leaflet_heat.min.js": folium_templates / "leaflet_heat.min.js",
    }
    # Lagebild's own map script (accessibility: geo/a11y.py), served beside Leaflet.
    files["lagebild/map_a11y.js"] = ROOT / "geo" / "js" / "map_a11y.js"
    for image in sorted((leaflet / "images").glob("*.png")):
        files[f"leaflet/images/{image.name}"] = image
    return files


# folium's asset names -> our vendored file (None: not needed by Lagebild's maps, dropped).
ASSET_MAP: dict[str, str | None] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "markerclusterjs": "markercluster/leaflet.markercluster.js",
    "markerclustercss": "markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "markercluster/MarkerCluster.Default.css",
    "leaflet-heat.js": "leaflet-heat/leaflet_heat.min.js",
    "lagebild_map_a11y": "lagebild/map_a11y.js",
    # folium defaults that Lagebild does not use (no Bootstrap popups, no awesome-markers
    # icons: office markers are DivIcons with inline SVG).
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}


def install(target: Path = VENDOR_DIR) -> Path:
    """Copy the vendored assets into ``target`` (idempotent; refreshes changed files)."""
    for rel, src in sources().items():
        if not src.exists():
            raise FileNotFoundError(f"asset source missing (is the package installed?): {src}")
        dst = target / rel
        if dst.exists() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(dst.suffix + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    return target


def _walk(element):
    yield element
    for child in element._children.values():
        yield from _walk(child)


def localize(m: folium.Map, base_url: str = DEFAULT_BASE_URL) -> folium.Map:
    """Point every JS/CSS asset of the map and its children at ``base_url``.

    Raises ``ValueError`` for an asset that has no local copy, so a new plugin cannot
    silently bring a CDN address back.
    """
    base_url = base_url.rstrip("/")
    seen: set[str] = set()  # an asset is linked once, by the first element that needs it
    for element in _walk(m):
        for attr in ("default_js", "default_css"):
            assets = getattr(element, attr, None)
            if not assets:
                continue
            local = []
            for name, url in assets:
                if name not in ASSET_MAP:
                    raise ValueError(f"no local copy for map asset {name!r} ({url}); add it to ASSET_MAP")
                rel = ASSET_MAP[name]
                if rel is not None and name not in seen:
                    seen.add(name)
                    local.append((name, f"{base_url}/{rel}"))
            setattr(element, attr, local)
    return m


def inline_assets(html: str, base_url: str = DEFAULT_BASE_URL, source: Path = VENDOR_DIR) -> str:
    """Replace ``<script src>``/``<link href>`` of vendored assets by their content.

    For standalone HTML exports that must work offline without the app.
    """
    base_url = base_url.rstrip("/")
    for rel in sources():
        if not rel.endswith((".js", ".css")):
            continue
        url = f"{base_url}/{rel}"
        if url not in html:
            continue
        text = (source / rel).read_text(encoding="utf-8")
        if rel.endswith(".js"):
            html = html.replace(f'<script src="{url}"></script>', f"<script>{text}</script>")
        else:
            html = html.replace(f'<link rel="stylesheet" href="{url}"/>', f"<style>{text}</style>")
    return html


if __name__ == "__main__":
    out = install()
    print(f"map assets installed in {out}", file=sys.stderr)
