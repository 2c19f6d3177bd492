"""Präsenz: patrol coverage (dosage) by kind, hours per district, joint share, presence gaps."""

import streamlit as st

from base.i18n import md_escape, t
from ui import a11y, chrome, widgets
from ui import exports as ui_exports
from viz import charts, pagedata

ctx = chrome.page()
lang, f, bundle = ctx.lang, ctx.filters, ctx.bundle
st.title(t("page.praesenz", lang))
st.caption(md_escape(pagedata.scope_caption(bundle, f, lang)))
model = widgets.spatial_model(ctx, widgets.resolution_select(lang))

st.subheader(t("praesenz.map", lang))
widgets.show_map(pagedata.presence_map(bundle, model, f, lang, widgets.tiles()), key="presence_map",
                 height=560)
widgets.map_alternative(ctx, model, "presence", "presence_alt")

st.subheader(t("praesenz.gap", lang))
gaps = pagedata.gap_table(bundle, model, f, lang)
if gaps.empty:
    st.info(t("praesenz.no_gap", lang))
else:
    st.dataframe(gaps, hide_index=True, width="stretch")
    chrome.download_csv(gaps, t("praesenz.download", lang), f"praesenzluecken_{f.period_label()}.csv",
                        key="gap_csv")
st.caption(t("praesenz.gap_help", lang))
with st.expander(t("export.title", lang), icon=":material/ios_share:"):
    ui_exports.gpkg_download(ctx, model, "patrol_hours", "pz_gpkg", f.period_label().replace(" – ", "_"))

left, right = st.columns(2)
with left:
    a11y.chart(charts.quarter_trend(pagedata.hours_by_quarter(bundle, model, f), lang,
                                    t("praesenz.hours", lang), y_title=t("unit.hours", lang)), lang,
               width="stretch", key="pz_hours")
with right:
    a11y.chart(charts.joint_share_over_time(pagedata.joint_share_series(bundle, model, f), lang,
                                            t("praesenz.joint", lang)), lang,
               width="stretch", key="pz_joint")
