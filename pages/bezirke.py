"""Bezirke: one district's profile and the comparison table of all districts."""

import streamlit as st

from base.i18n import md_escape, t
from ui import a11y, chrome, widgets
from viz import charts, pagedata

ctx = chrome.page()
lang, f, bundle = ctx.lang, ctx.filters, ctx.bundle
model = widgets.spatial_model(ctx)
names = chrome.names_of(bundle)

st.title(t("page.bezirke", lang))
st.caption(md_escape(pagedata.scope_caption(bundle, f, lang)))
table = pagedata.district_table(bundle, model, f)

ids = list(names)
district = chrome.url_select(t("bezirke.choose", lang), ids, key="bz_district", url_key="b",
                             format_func=lambda d: names.get(d, d),
                             default=f.districts[0] if f.districts else ids[0])
profile = pagedata.district_profile(bundle, model, f, district, lang)

st.subheader(md_escape(names[district]))
left, right = st.columns([1, 2])
with left:
    st.markdown(f"**{t('bezirke.team', lang)}**")
    st.dataframe(profile.contacts, hide_index=True, width="stretch")
    widgets.kpi_tiles(profile.kpis, lang, per_row=1)
with right:
    a11y.chart(charts.quarter_trend(profile.trend, lang, t("bezirke.trend", lang)), lang,
               width="stretch", key="bz_trend")
    a11y.chart(charts.categories_by_field(profile.categories, lang), lang,
               width="stretch", key="bz_cats")
a11y.chart(charts.presence_vs_complaints(profile.presence_vs_complaints, lang), lang,
           width="stretch", key="bz_presence")

st.subheader(t("bezirke.comparison", lang))
display = pagedata.display_district_table(table, lang)
st.dataframe(display, hide_index=True, width="stretch")
chrome.download_csv(display, t("bezirke.download", lang), f"bezirke_{f.period_label()}.csv",
                    key="bz_csv")
