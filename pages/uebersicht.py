"""Übersicht: the state of the city at a glance (KPIs, what changed, a compact map)."""

import streamlit as st

from base.i18n import md_escape, t
from ui import chrome, widgets
from viz import pagedata

ctx = chrome.page()
lang, f = ctx.lang, ctx.filters
model = widgets.spatial_model(ctx)

st.title(t("page.uebersicht", lang))
st.caption(md_escape(pagedata.scope_caption(ctx.bundle, f, lang)))

widgets.kpi_tiles(pagedata.overview_kpis(ctx.bundle, model, f), lang)

left, right = st.columns([3, 2])
with left:
    st.subheader(t("overview.map", lang))
    widgets.show_cached_map(
        ("overview", str(ctx.source.folder), ctx.signature, model.index.resolution, f, lang),
        lambda: pagedata.overview_map(ctx.bundle, model, f, lang, widgets.tiles()),
        key="overview_map", height=460)
    widgets.map_alternative(ctx, model, "overview", "overview_alt")
with right:
    st.subheader(t("overview.changed", lang))
    changed = pagedata.what_changed_tables(ctx.bundle, f, lang)
    if changed.empty:
        st.info(t("overview.nothing_changed", lang))
    else:
        st.dataframe(changed, hide_index=True, width="stretch")
    st.caption(t("overview.changed_help", lang))
