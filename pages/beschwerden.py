"""Beschwerden: statistical and emerging hot spots, categories by field, weekday x hour."""

import streamlit as st

from base.i18n import md_escape, t
from geo.model import emerging_quarters, weekday_hour
from ui import a11y, chrome, widgets
from viz import charts, pagedata

ctx = chrome.page()
lang, f, bundle = ctx.lang, ctx.filters, ctx.bundle
st.title(t("page.beschwerden", lang))
st.caption(md_escape(pagedata.scope_caption(bundle, f, lang)))
model = widgets.spatial_model(ctx, widgets.resolution_select(lang))

left, right = st.columns(2)
with left:
    st.subheader(t("beschwerden.hotspots", lang))
    widgets.show_map(pagedata.hotspot_map(bundle, model, f, lang, widgets.tiles()), key="hot_map",
                     height=520)
    st.caption(t("beschwerden.hotspots_help", lang))
    widgets.map_alternative(ctx, model, "hotspot", "hot_alt")
with right:
    quarters = emerging_quarters(f, bundle.quarters())
    if quarters:
        period = f"{pagedata.quarter_label(quarters[0])} – {pagedata.quarter_label(quarters[-1])}"
        st.subheader(t("beschwerden.emerging", lang, n=len(quarters), period=period))
        widgets.show_map(pagedata.emerging_map(bundle, model, f, lang, widgets.tiles(), quarters),
                         key="emerging_map", height=520)
        st.caption(t("beschwerden.emerging_help", lang))
        widgets.map_alternative(ctx, model, "emerging", "emerging_alt", *quarters)
    else:
        st.subheader(t("map.layer.emerging", lang))
        st.info(t("beschwerden.emerging_none", lang))

left, right = st.columns(2)
with left:
    a11y.chart(charts.categories_by_field(pagedata.category_counts(bundle, f, lang), lang,
                                          t("beschwerden.fields", lang)), lang,
               width="stretch", key="bs_fields")
with right:
    a11y.chart(charts.weekday_hour_heatmap(weekday_hour(model, f), lang,
                                           t("beschwerden.weekhour", lang)), lang,
               width="stretch", key="bs_weekhour")
