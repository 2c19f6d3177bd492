"""Präsentation: conference mode. Full screen, large type, anonymised aggregates only.

A sequence of views (Gi* hot spots, presence gaps, trend, district comparison), stepped with
the buttons or the arrow keys (← →). Everything shown or exported comes from
:func:`viz.presentation.anonymise`: counts below k are suppressed (k from ``LAGEBILD_K``,
default 5, raised per view with the URL parameter ``kmin`` up to ``K_MAX`` = 50, never below 3;
a higher ``kmin`` gives k = 50 with a notice, a lower one is ignored with a notice).
"""

import os

import streamlit as st

from base.i18n import md_escape, register, t
from data.privacy import k_choices, k_from_env, requested_k
from geo import tiles as geo_tiles
from ui import a11y, chrome, widgets
from ui import exports as ui_exports
from viz import exports, map_alt, pagedata, presentation, report

register({
    "pres.prev": ("Zurück", "Back"),
    "pres.next": ("Weiter", "Next"),
    "pres.step": ("Ansicht {i} von {n}", "View {i} of {n}"),
    "pres.k": ("Mindestfallzahl k", "Minimum count k"),
    "pres.exit": ("Präsentation beenden", "Leave presentation"),
    "pres.keys": ("Tasten ← → blättern", "Keys ← → step through"),
    "pres.k_error": ("LAGEBILD_K ist ungültig: {error}", "LAGEBILD_K is invalid: {error}"),
    "pres.coarse": (
        "Präsentation zeigt ganze Quartale, ganze Tage und alle Kategorien: Stunden-, Wochentags- und "
        "Kategoriefilter gelten hier nicht (Schutz vor Differenzbildung).",
        "The presentation shows whole quarters, whole days and all categories: hour, weekday and "
        "category filters do not apply here (protection against differencing)."),
    "pres.k_capped": ("kmin={raw} liegt über dem Höchstwert: k = {k} (höchstens {k}).",
                      "kmin={raw} is above the maximum: k = {k} (at most {k})."),
})

# Full screen: no sidebar (the filters stay in effect), no header, large type, high contrast.
PROJECTOR_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapseButton"],
header[data-testid="stHeader"] { display: none !important; }
[data-testid="stMainBlockContainer"], .block-container { max-width: 100% !important;
  padding: 1.2rem 2.2rem 2rem 2.2rem !important; }
[data-testid="stMain"] { background: #ffffff; color: #000000; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] { font-size: 1.35rem; color: #000000; }
[data-testid="stMain"] h1 { font-size: 2.9rem; color: #000000; padding-top: 0.2rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.15rem; color: #1a1a1a; }
[data-testid="stMain"] button { font-size: 1.25rem; min-height: 3rem; border-width: 2px; }
[data-testid="stMain"] button:focus-visible { outline: 4px solid #1a1a1a; outline-offset: 2px;
  box-shadow: 0 0 0 8px #ffbf00; }
[data-testid="stMain"] [data-testid="stDataFrame"] { font-size: 1.1rem; }
[data-testid="stMain"] .stMarkdownBadge { font-size: 1.2rem; padding: 0.2rem 0.7rem; }
</style>"""

ctx = chrome.page()
lang, f, bundle = ctx.lang, ctx.filters, ctx.bundle
st.html(PROJECTOR_CSS)

try:
    k_floor = k_from_env(os.environ)
except ValueError as exc:
    st.error(t("pres.k_error", lang, error=str(exc)))
    st.stop()

VIEWS = presentation.VIEWS
ss = st.session_state
if not ss.get("_pr_restored"):  # the view from the URL, once per session
    ss["_pr_restored"] = True
    raw = st.query_params.get("s")
    ss["pr_step"] = VIEWS.index(raw) if raw in VIEWS else 0
step = ss.get("pr_step", 0) % len(VIEWS)


def move(delta: int) -> None:
    ss["pr_step"] = (ss.get("pr_step", 0) + delta) % len(VIEWS)


bar = st.columns([1.1, 1.1, 2.2, 1.3, 2.2, 2.1], vertical_alignment="bottom")
bar[0].button(t("pres.prev", lang), key="pr_prev", icon=":material/arrow_back:", shortcut="Left",
              on_click=move, args=(-1,), width="stretch")
bar[1].button(t("pres.next", lang), key="pr_next", icon=":material/arrow_forward:", icon_position="right",
              shortcut="Right", on_click=move, args=(1,), width="stretch")
step = ss.get("pr_step", 0) % len(VIEWS)
view = VIEWS[step]
if st.query_params.get("s") != view:
    st.query_params["s"] = view
bar[2].markdown(f"**{t('pres.step', lang, i=step + 1, n=len(VIEWS))}** · {t('pres.keys', lang)}")
if not ss.get("_pr_kmin_checked"):  # a link may raise k (capped at the maximum), never lower it
    ss["_pr_kmin_checked"] = True
    raw_k = st.query_params.get("kmin")
    k_asked, why = requested_k(k_floor, raw_k)
    if why == "capped":
        st.query_params["kmin"] = str(k_asked)
        st.warning(t("pres.k_capped", lang, raw=md_escape(str(raw_k)[:12]), k=k_asked))
with bar[3]:
    k = chrome.url_select(t("pres.k", lang), k_choices(k_floor), key="pr_k", url_key="kmin")
with bar[4]:
    resolution = widgets.resolution_select(lang)
bar[5].page_link("pages/uebersicht.py", label=t("pres.exit", lang), icon=":material/close:")
chrome.statement_link(lang, bar[5])  # the sidebar (and its link) is hidden here

model = widgets.spatial_model(ctx, resolution)
anon = presentation.anonymise(bundle, model, f, lang, k)  # conference filters, cell key method
scope = pagedata.scope_caption(bundle, anon.filters or f, lang)

st.title(t(f"pres.view.{view}", lang))
st.badge(t("pres.badge", lang, k=k), icon=":material/shield:", color="blue",
         help=t("pres.badge_help", lang, k=k))
note = t("pres.suppressed_note", lang, n=anon.suppressed, k=k) if anon.suppressed else ""
st.caption(md_escape(" · ".join(x for x in (scope, note) if x)))
if anon.filters is not None and anon.filters != f:
    st.info(t("pres.coarse", lang), icon=":material/filter_alt_off:")

# Conference mode: the app's local tiles when they cover the view (said under the map).
tiles, tiles_note = widgets.conference_tiles(lang, presentation.bounds(bundle, f))
map_view, chart_view = presentation.export_views(view)
if view == "hotspots":
    widgets.show_map(presentation.view_map(bundle, anon, f, lang, tiles, view), key="pr_map_hotspots",
                     height=700, tiles_note=False)
    st.caption(md_escape(tiles_note))
    a11y.map_alternative(map_alt.presentation(bundle, anon, lang, view, presentation.gap_table(anon, lang)),
                         lang, "pr_alt_hotspots")
elif view == "gap":
    gaps = presentation.gap_table(anon, lang)
    left, right = st.columns([3, 2])
    with left:
        widgets.show_map(presentation.view_map(bundle, anon, f, lang, tiles, view), key="pr_map_gap",
                         height=700, tiles_note=False)
        st.caption(md_escape(tiles_note))
        # the description; the gap list beside the map is its table
        described = map_alt.presentation(bundle, anon, lang, view, gaps).description
        a11y.map_alternative(map_alt.MapAlt(described, ()), lang, "pr_alt_gap")
    with right:
        if gaps.empty:
            st.info(t("pres.no_gap", lang, k=k))
        else:
            st.dataframe(gaps, hide_index=True, width="stretch", height=680)
elif view == "trend":
    a11y.chart(presentation.projector_style(presentation.view_chart(anon, lang, view), 640), lang,
               width="stretch", key="pr_trend", config={"displayModeBar": False})
else:
    left, right = st.columns(2)
    with left:
        a11y.chart(presentation.projector_style(presentation.view_chart(anon, lang, view)), lang,
                   width="stretch", key="pr_per_1000", config={"displayModeBar": False})
    with right:
        a11y.chart(presentation.projector_style(presentation.district_figure(anon, lang, "incidents")), lang,
                   width="stretch", key="pr_incidents", config={"displayModeBar": False})

# --- exports of this view (all anonymised like the view) ------------------------------------------
with st.expander(t("export.title", lang), icon=":material/ios_share:"):
    st.caption(t("export.hint", lang, anon=t("export.hint_anon", lang, k=k)))
    key = ui_exports.view_key(f, lang, k, resolution, view, ctx.principal.scope_key, ctx.signature)
    period = f.period_label().replace(" – ", "_")
    map_title, chart_title = t(f"pres.view.{map_view}", lang), t(f"pres.view.{chart_view}", lang)
    map_alt = presentation.alt_text(map_view, anon, scope, lang)
    chart_alt = presentation.alt_text(chart_view, anon, scope, lang)

    c1, c2, c3 = st.columns(3)
    with c1:
        ui_exports.download(t("export.csv", lang) + " · " + t("pres.view.districts", lang),
                            exports.csv_bytes(presentation.district_display(anon, lang), lang),
                            f"bezirke_anonymisiert_{period}.csv", "text/csv", key="pr_csv_districts")
        ui_exports.download(t("export.csv", lang) + " · " + t("pres.view.gap", lang),
                            exports.csv_bytes(presentation.gap_table(anon, lang), lang),
                            f"praesenzluecken_anonymisiert_{period}.csv", "text/csv", key="pr_csv_gap")
        ui_exports.download(t("export.geojson", lang),
                            exports.cells_geojson(presentation.cells_for_export(anon),
                                                  ["district_id", "cls", "count", "gap_rank"], "hotspots"),
                            f"zellen_anonymisiert_{period}_r{resolution}.geojson", "application/geo+json",
                            key="pr_geojson")
    with c2:
        ui_exports.download(
            t("export.html", lang),
            lambda: exports.standalone_map_html(presentation.view_map(bundle, anon, f, lang, tiles, map_view),
                                                map_title, map_alt, lang).encode("utf-8"),
            f"karte_{map_view}_{period}.html", "text/html", key="pr_html")

        def make_map_png(progress) -> bytes:
            progress(t("export.step.html", lang))
            m = presentation.view_map(bundle, anon, f, lang, geo_tiles.for_export(tiles), map_view)
            page = exports.standalone_map_html(m, map_title, map_alt, lang)
            progress(t("export.step.render", lang))
            return exports.map_png(page, map_title, map_alt)

        def make_chart_png(progress) -> bytes:
            progress(t("export.step.render", lang))
            return exports.figure_png(presentation.view_chart(anon, lang, chart_view), chart_title, chart_alt)

        ui_exports.long_export(t("export.map_png", lang), "pr_map_png", key, make_map_png,
                               f"karte_{map_view}_{period}.png", "image/png", lang)
        ui_exports.long_export(t("export.chart_png", lang), "pr_chart_png", key, make_chart_png,
                               f"diagramm_{chart_view}_{period}.png", "image/png", lang)
    with c3:
        who = t(f"role.{ctx.principal.role}", lang)  # no e-mail address on a handout
        ui_exports.long_export(
            t("export.pdf", lang), "pr_pdf", key,
            lambda progress: report.quarter_report(bundle, model, f, lang, k=k, who=who, progress=progress,
                                                   tiles=tiles),
            f"quartalsbericht_anonymisiert_{period}.pdf", "application/pdf", lang)
