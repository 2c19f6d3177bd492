"""Lagebild: the map with every layer, switchable, and the district choropleth metric."""

import streamlit as st

from ui import chrome, widgets
from viz import pagedata
from viz.i18n import t

ctx = chrome.page()
lang, f = ctx.lang, ctx.filters
model = widgets.spatial_model(ctx, widgets.resolution_select(lang))

st.title(t("page.lagebild", lang))
st.caption(pagedata.scope_caption(ctx.bundle, f, lang))
metric = chrome.url_select(t("lagebild.metric", lang), pagedata.METRICS, key="lb_metric",
                           url_key="m", format_func=lambda m: t(f"metric.{m}", lang))
m = pagedata.lagebild_map(ctx.bundle, model, f, lang, widgets.tiles(), metric=metric)
widgets.show_map(m, key="lagebild_map", height=680)
st.caption(t("lagebild.help", lang))
