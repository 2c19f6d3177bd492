"""Lagebild: the map with every layer, switchable, and the district choropleth metric."""

import streamlit as st

from base.i18n import md_escape, t
from ui import chrome, widgets
from ui import exports as ui_exports
from viz import exports, mapexport, pagedata, report

ctx = chrome.page()
lang, f = ctx.lang, ctx.filters
st.title(t("page.lagebild", lang))
scope = pagedata.scope_caption(ctx.bundle, f, lang)
st.caption(md_escape(scope))


# The page options (cell size, metric, layers), the map, its text alternative and the exports
# form one fragment: changing an option reruns only this part (the chrome, the sidebar filters
# and the title stay as drawn); a sidebar change reruns the whole page as before.
@st.fragment
def view() -> None:
    resolution = widgets.resolution_select(lang)
    model = widgets.spatial_model(ctx, resolution)
    left, right = st.columns([1, 2])
    with left:
        metric = chrome.url_select(t("lagebild.metric", lang), pagedata.METRICS, key="lb_metric",
                                   url_key="m", format_func=lambda m: t(f"metric.{m}", lang))
    with right:
        layers = chrome.url_multiselect(t("lagebild.layers", lang),
                                        pagedata.lagebild_layers(f, points=ctx.principal.sees_raw_points),
                                        key="lb_layers",
                                        url_key="l", format_func=lambda k: t(f"map.layer.{k}", lang),
                                        default=pagedata.LAGEBILD_DEFAULT_LAYERS)
    # Single complaints: coordinators (their districts: the data is restricted) and admins, and only
    # when chosen under "Ebenen beim Öffnen" (a bounded, opt-in layer; no cost otherwise).
    with_points = ctx.principal.sees_raw_points and "points" in layers
    widgets.show_lagebild_map(ctx, model, metric, layers, with_points, key="lagebild_map", height=680)
    st.caption(t("lagebild.help", lang))
    widgets.map_alternative(ctx, model, "lagebild", "lagebild_alt", metric)

    # --- exports of this view (the role's data, aggregates only) ----------------------------------------
    with st.expander(t("export.title", lang), icon=":material/ios_share:"):
        st.caption(t("export.hint", lang, anon=""))
        period = f.period_label().replace(" – ", "_")
        title = t("page.lagebild", lang)
        key = ui_exports.view_key(f, lang, metric, tuple(layers), resolution, ctx.principal.scope_key,
                                  ctx.signature)
        c1, c2, c3 = st.columns(3)
        with c1:
            ui_exports.download(
                t("export.csv", lang) + " · " + t("bezirke.comparison", lang),
                lambda: exports.csv_bytes(pagedata.display_district_table(
                    pagedata.district_table(ctx.bundle, model, f), lang), lang),
                f"bezirke_{period}.csv", "text/csv", key="lb_csv")
            ui_exports.download(
                t("export.geojson", lang),
                lambda: exports.cells_geojson(pagedata.cell_export(ctx.bundle, model, f),
                                              ["district_id", "complaints", "gi_class", "gi_z"], "cells"),
                f"zellen_{period}_r{resolution}.geojson", "application/geo+json", key="lb_geojson")
            ui_exports.gpkg_download(ctx, model, metric, "lb_gpkg", period)
        def export_map(tiles: str):
            """The map as exported (aggregates only, never the single-complaint layer) and its alt
            text, which names only the layers the exported file shows."""
            return mapexport.lagebild_export(ctx.bundle, model, f, lang, tiles, metric=metric, layers=layers,
                                             scope=scope)

        def map_html(tiles: str) -> str:
            plain, alt = export_map(tiles)
            return exports.standalone_map_html(plain, title, alt, lang)

        with c2:
            ui_exports.download(
                t("export.html", lang),
                lambda: map_html(widgets.tiles(lang)).encode("utf-8"),
                f"lagebild_{period}.html", "text/html", key="lb_html")

            def make_map_png(progress) -> bytes:
                progress(t("export.step.html", lang))
                plain, alt = export_map(widgets.export_tiles(lang))
                page = exports.standalone_map_html(plain, title, alt, lang)
                progress(t("export.step.render", lang))
                return exports.map_png(page, title, alt)

            ui_exports.long_export(t("export.map_png", lang), "lb_map_png", key, make_map_png,
                                   f"lagebild_{period}.png", "image/png", lang)
        with c3:
            who = ctx.principal.email or t(f"role.{ctx.principal.role}", lang)
            ui_exports.long_export(
                t("export.pdf", lang), "lb_pdf", key,
                lambda progress: report.quarter_report(ctx.bundle, model, f, lang, k=None, who=who,
                                                       progress=progress, tiles=widgets.tiles(lang)),
                f"quartalsbericht_{period}.pdf", "application/pdf", lang)


view()
