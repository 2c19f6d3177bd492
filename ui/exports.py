"""Export buttons for pages: quick downloads and long exports with progress.

The data to export comes from the page (what it shows, restricted to the role and, on the
Präsentation page, anonymised); :mod:`viz.exports` and :mod:`viz.report` produce the files.
Quick files (CSV, GeoJSON, HTML) are download buttons; images and the PDF take a few
seconds in Chromium, so they are made on request with a progress display and then offered
for download until the view changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import streamlit as st

from base.i18n import register, t
from ui import admission

register({
    "export.title": ("Exportieren", "Export"),
    "export.csv": ("Tabelle als CSV", "Table as CSV"),
    "export.geojson": ("Zellen als GeoJSON", "Cells as GeoJSON"),
    "export.html": ("Karte als HTML (offline)", "Map as HTML (offline)"),
    "export.map_png": ("Karte als PNG", "Map as PNG"),
    "export.chart_png": ("Diagramm als PNG", "Chart as PNG"),
    "export.pdf": ("Quartalsbericht als PDF", "Quarter report as PDF"),
    "export.make": ("{what} erstellen", "Create {what}"),
    "export.download": ("{what} herunterladen", "Download {what}"),
    "export.working": ("{what} wird erstellt …", "Creating {what} …"),
    "export.done": ("{what} ist fertig", "{what} is ready"),
    "export.failed": ("{what} konnte nicht erstellt werden: {error}", "{what} could not be created: {error}"),
    "export.step.html": ("Karte als HTML zusammenstellen …", "Assembling the map as HTML …"),
    "export.step.render": ("In Chromium zeichnen …", "Rendering in Chromium …"),
    "export.hint": (
        "Exporte zeigen genau diese Ansicht: dieselben Filter, dieselbe Rolle{anon}. Bilder und "
        "PDF entstehen lokal in Chromium, ohne Internet; Karten-Bilder zeigen die Hintergrundkarte nur, "
        "wenn die App ihre Kacheln lokal hat (Kachelsatz oder Kachel-Cache).",
        "Exports show exactly this view: the same filters, the same role{anon}. Images and the PDF "
        "are made locally in Chromium without internet; map images show the base map only when the app "
        "has its tiles locally (tile set or tile cache)."),
    "export.gpkg": ("GeoPackage für GIS (QGIS, mit Stil)", "GeoPackage for GIS (QGIS, styled)"),
    "export.gpkg_crs": ("Bezugssystem des GeoPackage", "Reference system of the GeoPackage"),
    "export.hint_anon": (", anonymisiert mit k ≥ {k}", ", anonymised with k ≥ {k}"),
})

_STORE = "_exports"
_REQUEST = "_export_request"


def _request(key: str, view: str) -> None:
    st.session_state[_REQUEST] = (key, view)


def view_key(*parts: object) -> str:
    """A short key of what a view shows (filters, language, role scope, options)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def download(label: str, data: bytes | Callable[[], bytes], file_name: str, mime: str, key: str) -> None:
    """A plain download button (``data`` may be a callable: made when clicked)."""
    st.download_button(label, data=data, file_name=file_name, mime=mime, key=key, on_click="ignore",
                       icon=":material/download:")


def long_export(what: str, key: str, view: str, build: Callable[[Callable[[str], None]], bytes],
                file_name: str, mime: str, lang: str) -> None:
    """A button that makes a file with progress (``st.status``), then offers it for download.

    ``build(step)`` returns the file's bytes and calls ``step(text)`` for each stage. The
    file is kept for this session while ``view`` (see :func:`view_key`) stays the same.
    """
    store = st.session_state.setdefault(_STORE, {})
    made = store.get(key)
    if made is not None and made[0] != view:
        store.pop(key)
        made = None
    if made is None and st.session_state.get(_REQUEST) == (key, view):
        st.session_state.pop(_REQUEST, None)
        with st.status(t("export.working", lang, what=what), expanded=True) as status:
            try:
                with admission.slots().released():  # seconds of work: others' runs go on meanwhile
                    data = build(status.write)
            except Exception as exc:  # shown to the user; nothing half-made is offered
                status.update(label=t("export.failed", lang, what=what, error=str(exc)), state="error")
                return
            status.update(label=t("export.done", lang, what=what), state="complete", expanded=False)
        store[key] = (view, data)
        made = store[key]
    elif made is None:
        # The click is recorded by a callback: it survives a rerun that would drop the
        # button's value (e.g. the chrome's first-run switch into navigation mode).
        st.button(t("export.make", lang, what=what), key=f"{key}_make", icon=":material/build:",
                  on_click=_request, args=(key, view))
    if made is not None:
        download(t("export.download", lang, what=what), made[1], file_name, mime, key=f"{key}_dl")


def gpkg_download(ctx, model, metric: str, key: str, period: str) -> None:
    """The GeoPackage of this view (districts, cells, offices, focus areas; QGIS styles inside),
    EPSG:25832 or 4326; a viewer's file is k-anonymous (:mod:`viz.gpkg`)."""
    from viz import gpkg

    lang = ctx.lang
    epsg = st.radio(t("export.gpkg_crs", lang), gpkg.CRS_CHOICES, key=f"{key}_crs", horizontal=True,
                    format_func=lambda e: f"EPSG:{e}" + (" (ETRS89 / UTM 32N)" if e == 25832 else " (WGS84)"))
    download(t("export.gpkg", lang),
             lambda: gpkg.gpkg_bytes(gpkg.export_layers(ctx.bundle, model, ctx.filters, ctx.principal,
                                                        metric=metric, lang=lang), epsg),
             f"lagebild_{period}_epsg{epsg}.gpkg", "application/geopackage+sqlite3", key=key)
