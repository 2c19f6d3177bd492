"""The shared chrome of every page, written once: page config, navigation, language,
data source and its badge, the sidebar filters and their URL state.

``dashboard.py`` calls :func:`main` (page config and navigation); every page starts with
:func:`page`, which draws the chrome and returns what it decided on this run (language,
filters, data).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from base.i18n import DEFAULT_LANG, LANGS, md_escape, register, t
from data.contracts import FIELDS, PATROL_KINDS, TZ
from data.filters import Filters, Vocabulary, default_filters, from_query, to_query
from data.folder import DataBundle, DataFolderError
from data.periods import latest_complete_quarter, parse_quarter, quarter_label
from data.privacy import CELL_KEY_ENV
from data.roles import LOCAL_ADMIN, Principal, check_role
from data.sources import Source
from ui import a11y, auth, basemap, cache
from viz.exports import csv_bytes

ROOT = Path(__file__).resolve().parent.parent
# A local icon: a ":material/...:" page icon makes the browser fetch an SVG from Google.
ICON = str(ROOT / "assets" / "icon.png")

register({
    "chrome.demo_cell_key": (
        "{var} ist nicht gesetzt: die veröffentlichten Zahlen der Betrachter und der Präsentation "
        "verwenden den öffentlichen Demo-Schlüssel. Bitte ein eigenes Geheimnis setzen "
        "(z. B. openssl rand -hex 32) und die Daten neu vorbereiten.",
        "{var} is not set: the published numbers of viewers and the presentation use the public "
        "demo key. Set a secret of your own (e.g. openssl rand -hex 32) and prepare the data again."),
    "app.title": ("Lagebild", "Lagebild"),
    "app.subtitle": ("Integratives Lagebild Ordnungsdienst & Polizei",
                     "Joint situational picture, public-order service & police"),
    "page.uebersicht": ("Übersicht", "Overview"),
    "page.lagebild": ("Lagebild", "Situation map"),
    "page.bezirke": ("Bezirke", "Districts"),
    "page.praesenz": ("Präsenz", "Presence"),
    "page.beschwerden": ("Beschwerden", "Complaints"),
    "page.daten": ("Daten", "Data"),
    "page.planung": ("Planung", "Planning"),
    "page.praesentation": ("Präsentation", "Presentation"),
    "page.barrierefreiheit": ("Barrierefreiheit", "Accessibility"),
    "chrome.statement": ("Erklärung zur Barrierefreiheit", "Accessibility statement"),
    "chrome.language": ("Sprache", "Language"),
    "chrome.filters": ("Filter", "Filters"),
    "chrome.demo_badge": ("Demo-Daten (synthetisch)", "Demo data (synthetic)"),
    "chrome.source_env": ("Datenordner: {path}", "Data folder: {path}"),
    "chrome.source_store": ("Importierte Daten", "Imported data"),
    "chrome.source_db": ("Importierte Daten, Version {version}", "Imported data, version {version}"),
    "chrome.period": ("Zeitraum (Quartale)", "Period (quarters)"),
    "chrome.districts": ("Bezirke", "Districts"),
    "chrome.fields": ("Handlungsfeld (Masterplan)", "Field (Masterplan)"),
    "chrome.categories": ("Kategorien", "Categories"),
    "chrome.kinds": ("Streifenart", "Patrol kind"),
    "chrome.weekdays": ("Wochentage", "Weekdays"),
    "chrome.hour_from": ("Uhrzeit von", "Time from"),
    "chrome.hour_to": ("bis", "to"),
    "chrome.all": ("alle", "all"),
    "chrome.overnight": ("{a}–{b} Uhr (über Mitternacht)", "{a}:00–{b}:00 (overnight)"),
    "chrome.url_notice": ("Hinweis: ungültige Angaben im Link wurden ignoriert: {items}",
                          "Note: invalid values in the link were ignored: {items}"),
    "chrome.error_title": ("Die Daten können nicht geladen werden", "The data cannot be loaded"),
    "chrome.error_folder": ("Datenordner: {path}", "Data folder: {path}"),
    "chrome.error_hint": (
        "Bitte die Dateien prüfen (z. B. mit `python -m data check ORDNER`) oder "
        "`LAGEBILD_DATA` auf einen gültigen Ordner setzen.",
        "Please check the files (e.g. with `python -m data check FOLDER`) or point "
        "`LAGEBILD_DATA` at a valid folder."),
    "chrome.no_data": ("Der Datenordner enthält keine Beschwerden oder Streifen.",
                       "The data folder holds no complaints or patrols."),
    "chrome.reset": ("Filter zurücksetzen", "Reset filters"),
    "chrome.forbidden": ("Diese Seite ist nur für die Rolle „{roles}“ zugänglich.",
                         "This page is only available to the role \"{roles}\"."),
    "chrome.no_districts": ("Keiner der freigegebenen Bezirke ist in den Daten: {error}",
                            "None of the districts granted to you is in the data: {error}"),
    "chrome.link": ("Link kopieren", "Copy link"),
    "chrome.link_copy": ("Kopieren", "Copy"),
    "chrome.link_copied": ("kopiert", "copied"),
    "chrome.link_manual": ("bitte markieren und kopieren", "please select and copy"),
    "chrome.link_help": (
        "Der Link gibt Seite, Filter, Sprache und Kartenebenen wieder. Empfänger sehen nur, was "
        "ihre eigene Rolle erlaubt.",
        "The link reproduces page, filters, language and map layers. Recipients see only what "
        "their own role allows."),
})

# Page files in navigation order: (file, i18n key, url path, icon).
PAGES = [
    ("pages/uebersicht.py", "page.uebersicht", "uebersicht", ":material/dashboard:"),
    ("pages/lagebild.py", "page.lagebild", "lagebild", ":material/map:"),
    ("pages/bezirke.py", "page.bezirke", "bezirke", ":material/location_city:"),
    ("pages/praesenz.py", "page.praesenz", "praesenz", ":material/directions_walk:"),
    ("pages/beschwerden.py", "page.beschwerden", "beschwerden", ":material/report:"),
    ("pages/planung.py", "page.planung", "planung", ":material/event_note:"),
    ("pages/daten.py", "page.daten", "daten", ":material/database:"),
    ("pages/praesentation.py", "page.praesentation", "praesentation", ":material/slideshow:"),
    ("pages/barrierefreiheit.py", "page.barrierefreiheit", "barrierefreiheit", ":material/accessibility:"),
]
STATEMENT_PAGE = "pages/barrierefreiheit.py"

# Session-state keys of the filter widgets.
K_LANG = "lang"
K_Q = "flt_q"
K_D = "flt_d"
K_F = "flt_f"
K_C = "flt_c"
K_K = "flt_k"
K_WD = "flt_wd"
K_H0 = "flt_h0"
K_H1 = "flt_h1"
_URL_DONE = "_url_restored"
_NOTICES = "_url_notices"


@dataclass
class Context:
    """What the chrome decided on this run (returned by :func:`page`)."""

    lang: str
    filters: Filters
    bundle: DataBundle
    source: Source
    signature: str  # identifies the data *and* what the principal may see (a cache key)
    principal: Principal = LOCAL_ADMIN


def current_lang() -> str:
    lang = st.session_state.get(K_LANG)
    if lang in LANGS:
        return lang
    q = st.query_params.get("lang")
    return q if q in LANGS else DEFAULT_LANG


#: Pages only some roles may open (the page itself checks too: :func:`require_role`).
PAGE_ROLES = {"pages/daten.py": ("admin",), "pages/planung.py": ("coordinator", "admin")}


def navigation(lang: str, principal: Principal = LOCAL_ADMIN):
    pages = []
    for i, (path, key, url, icon) in enumerate(PAGES):
        if not (ROOT / path).exists():
            continue
        if path in PAGE_ROLES and not principal.has_role(*PAGE_ROLES[path]):
            continue
        pages.append(st.Page(path, title=t(key, lang), url_path=url, icon=icon, default=i == 0))
    return st.navigation(pages, position="sidebar")


def _vocabulary(bundle: DataBundle) -> Vocabulary:
    cats = bundle["categories"]
    return Vocabulary(
        quarters=tuple(bundle.quarters()),
        districts=tuple(bundle["districts"]["district_id"]),
        categories=tuple(cats["category"]),
        category_field=dict(zip(cats["category"], cats["field"], strict=True)),
    )


def _restore_from_url(vocab: Vocabulary, default: Filters) -> None:
    """Once per session: URL -> widget state (before the widgets exist)."""
    if st.session_state.get(_URL_DONE):
        return
    st.session_state[_URL_DONE] = True
    params = {k: st.query_params.get(k) for k in st.query_params}
    filters, notices = from_query(params, vocab, default)
    lang = params.get("lang")
    if lang is not None and lang not in LANGS:  # a valid one was applied by current_lang()
        notices.append(f"lang: ignored {lang!r}")
    _write_widget_state(filters)
    st.session_state[_NOTICES] = notices


# Filter values live in "kept" session keys; each run seeds the widgets from them and a
# change callback writes back. Streamlit scopes widget state to the page that drew the
# widget, so without this a page switch could reset a filter.
def _kept(key: str) -> str:
    return f"_keep_{key}"


def _store(key: str) -> None:
    st.session_state[_kept(key)] = st.session_state[key]


def _seed(key: str) -> dict:
    """Widget kwargs that bind the widget ``key`` to its kept value."""
    ss = st.session_state
    if _kept(key) in ss:
        ss[key] = ss[_kept(key)]
    return {"key": key, "on_change": _store, "args": (key,)}


def _get(key: str, default=None):
    return st.session_state.get(_kept(key), default)


def _set(key: str, value) -> None:
    st.session_state[_kept(key)] = value


# The period slider is keyed, so its identity stays the same while the user moves it (an
# unkeyed widget is identified by its ``value``: each change made a new slider, and the next
# change, sent to the old one, was lost). It is given the kept period as ``value`` and never
# written through session state (a range select_slider without a range ``value`` does not read
# two-thumb input back). A restored, reset or sanitised period is shown by a new key
# (generation below): a fresh slider whose default is the new period. A page switch
# (st.navigation) gives it a new identity too (the page is part of it), seeded the same way.
_Q_GEN = "_flt_q_gen"


def _period_key() -> str:
    return f"{K_Q}_{st.session_state.get(_Q_GEN, 0)}"


def _set_period(value: tuple[str, str]) -> None:
    """Set the kept period from outside the slider (URL, reset, data switch)."""
    _set(K_Q, tuple(value))
    st.session_state[_Q_GEN] = st.session_state.get(_Q_GEN, 0) + 1


def _write_widget_state(f: Filters) -> None:
    _set_period((quarter_label(f.q_from), quarter_label(f.q_to)))
    _set(K_D, list(f.districts))
    _set(K_F, list(f.fields))
    _set(K_C, list(f.categories))
    _set(K_K, list(f.kinds))
    _set(K_WD, list(f.weekdays))
    _set(K_H0, _hour_label(f.hours[0]))
    _set(K_H1, _hour_label(f.hours[1]))


def _hour_label(hour: int) -> str:
    return f"{hour:02d}:00"


HOURS_FROM = [_hour_label(h) for h in range(24)]
HOURS_TO = [_hour_label(h) for h in range(1, 25)]


def _sanitise_widget_state(vocab: Vocabulary, default: Filters) -> None:
    """Keep widget state within the options of the loaded data (e.g. after a data switch)."""
    labels = [quarter_label(q) for q in vocab.quarters]
    q = _get(K_Q)
    if not (isinstance(q, tuple | list) and len(q) == 2 and all(v in labels for v in q)):
        _set_period((quarter_label(default.q_from), quarter_label(default.q_to)))
    for key, allowed in ((K_D, vocab.districts), (K_F, FIELDS), (K_C, vocab.categories),
                         (K_K, PATROL_KINDS), (K_WD, range(7))):
        _set(key, [v for v in _get(key, []) if v in allowed])
    if _get(K_H0) not in HOURS_FROM:
        _set(K_H0, HOURS_FROM[0])
    if _get(K_H1) not in HOURS_TO:
        _set(K_H1, HOURS_TO[-1])


def _filter_widgets(bundle: DataBundle, vocab: Vocabulary, lang: str) -> Filters:
    labels = [quarter_label(q) for q in vocab.quarters]
    st.sidebar.subheader(t("chrome.filters", lang))
    if len(labels) > 1:
        # Keyed (a stable identity, see _period_key); seeded by ``value`` only.
        chosen = st.sidebar.select_slider(t("chrome.period", lang), options=labels,
                                          value=tuple(_get(K_Q)), key=_period_key())
        _set(K_Q, tuple(chosen))
    else:
        st.sidebar.caption(f"{t('chrome.period', lang)}: {labels[0]}")
    names = dict(zip(bundle["districts"]["district_id"], bundle["districts"]["name"], strict=True))
    all_ = t("chrome.all", lang)
    st.sidebar.multiselect(t("chrome.districts", lang), list(vocab.districts), **_seed(K_D),
                           format_func=lambda d: names.get(d, d), placeholder=all_)
    st.sidebar.multiselect(t("chrome.fields", lang), list(FIELDS), **_seed(K_F),
                           format_func=lambda f: t(f"field.{f}", lang), placeholder=all_)
    cat_labels = bundle.category_labels(lang)
    chosen_fields = _get(K_F) or list(FIELDS)
    cat_options = [c for c in vocab.categories if vocab.category_field.get(c) in chosen_fields]
    _set(K_C, [c for c in _get(K_C, []) if c in cat_options])
    st.sidebar.multiselect(t("chrome.categories", lang), cat_options, **_seed(K_C),
                           format_func=lambda c: cat_labels.get(c, c), placeholder=all_)
    st.sidebar.multiselect(t("chrome.kinds", lang), list(PATROL_KINDS), **_seed(K_K),
                           format_func=lambda k: t(f"kind.{k}", lang), placeholder=all_)
    st.sidebar.multiselect(t("chrome.weekdays", lang), list(range(7)), **_seed(K_WD),
                           format_func=lambda d: t(f"weekday.{d}", lang), placeholder=all_)
    c1, c2 = st.sidebar.columns(2)
    c1.selectbox(t("chrome.hour_from", lang), HOURS_FROM, **_seed(K_H0))
    c2.selectbox(t("chrome.hour_to", lang), HOURS_TO, **_seed(K_H1))
    h0, h1 = int(_get(K_H0)[:2]), int(_get(K_H1)[:2])
    if h0 == h1 % 24:
        h0, h1 = 0, 24  # an empty window means the whole day
    if h0 > h1:
        st.sidebar.caption(t("chrome.overnight", lang, a=h0, b=h1))
    q0, q1 = (parse_quarter(v) for v in _get(K_Q))
    # A callback (runs before the next script run) survives the rerun that leaves Streamlit's
    # pages-folder mode; a plain `if st.button(...)` click would be lost there.
    st.sidebar.button(t("chrome.reset", lang), key="flt_reset", on_click=_reset_filters,
                      args=(vocab,))
    return Filters(
        q_from=min(q0, q1), q_to=max(q0, q1), districts=tuple(_get(K_D)), fields=tuple(_get(K_F)),
        categories=tuple(_get(K_C)), kinds=tuple(_get(K_K)), weekdays=tuple(sorted(_get(K_WD))),
        hours=(h0, h1),
    )


def _today() -> date:
    """Today in the city's time zone (not the server's): decides the latest complete quarter."""
    return pd.Timestamp.now(tz=TZ).date()


def _reset_filters(vocab: Vocabulary) -> None:
    _write_widget_state(default_filters(vocab, latest_complete_quarter(list(vocab.quarters),
                                                                       _today())))


FILTER_URL_KEYS = ("q", "d", "f", "c", "k", "wd", "h", "lang")


def _sync_url(f: Filters, lang: str) -> None:
    """Write the filters and language into the URL; page-level keys are left alone."""
    wanted = to_query(f)
    if lang != DEFAULT_LANG:
        wanted["lang"] = lang
    for key in FILTER_URL_KEYS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def _error_page(source: Source, exc: Exception, lang: str) -> None:
    st.title(t("chrome.error_title", lang))
    st.error(t("chrome.error_folder", lang, path=md_escape(source.label or source.folder)))
    if isinstance(exc, DataFolderError):
        table = exc.errors.copy()
        table["value"] = table["value"].map(lambda v: "" if v is None else str(v))
        st.dataframe(table.head(500), hide_index=True, width="stretch")
    else:
        st.code(str(exc), language=None)
    st.info(t("chrome.error_hint", lang))


def main() -> None:
    """The entry script: page config and navigation; the selected page draws the chrome."""
    st.set_page_config(page_title="Lagebild", page_icon=ICON, layout="wide",
                       initial_sidebar_state="expanded")
    lang = current_lang()
    principal = auth.require_login(lang)
    navigation(lang, principal).run()


def _leave_pages_folder_mode() -> None:
    """Rerun through dashboard.py when Streamlit ran a page file on its own.

    Because a ``pages/`` folder exists, Streamlit starts a fresh process in its old
    "pages folder" mode until ``st.navigation`` is first called: a first visit of
    ``/lagebild`` then runs pages/lagebild.py directly, with file names in the menu. One
    rerun switches to dashboard.py's navigation (same URL paths, so the same page).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page() -> Context:
    """Draw the shared chrome for the running page and return its context.

    Every page calls this first. It also works when Streamlit runs a page file directly
    (its first run of a URL such as ``/lagebild``, because a ``pages/`` folder exists).
    When the data cannot be loaded it shows an error page and stops the run.
    """
    lang = _open_page()
    statement_link(lang)
    principal = auth.require_login(lang)
    if principal.authenticated and principal.role == "admin" and not os.environ.get(CELL_KEY_ENV, "").strip():
        # a shared deployment with the public demo secret: viewers' noise could be recomputed
        st.error(t("chrome.demo_cell_key", lang, var=CELL_KEY_ENV))
    source, signature, bundle, error = cache.current_bundle(lang)
    if error is not None:
        _error_page(source, error, lang)
        st.stop()
    # What this principal may see, applied to the data itself before any page gets it.
    try:
        bundle = cache.restricted_bundle(str(source.folder), signature, principal.scope_key,
                                         bundle, principal)
    except ValueError as exc:
        st.error(t("chrome.no_districts", lang, error=md_escape(exc)))
        st.stop()
    signature = cache.view_signature(signature, principal.scope_key)
    demo = source.kind == "demo" or bundle.synthetic
    if demo:
        st.sidebar.warning(t("chrome.demo_badge", lang), icon=":material/science:")
    elif source.kind == "env":
        st.sidebar.caption(t("chrome.source_env", lang, path=source.folder.name))
    elif source.kind == "db":  # the version tells a user (and bench/load.py) what they see
        st.sidebar.caption(t("chrome.source_db", lang, version=source.generation))
    else:
        st.sidebar.caption(t("chrome.source_store", lang))
    auth.sidebar_identity(principal, lang, names_of(bundle))
    vocab = _vocabulary(bundle)
    if not vocab.quarters:
        st.warning(t("chrome.no_data", lang))
        st.stop()
    default = default_filters(vocab, latest_complete_quarter(list(vocab.quarters), _today()))
    _restore_from_url(vocab, default)
    _sanitise_widget_state(vocab, default)
    filters = _filter_widgets(bundle, vocab, lang)
    basemap.sidebar(lang)
    notices = st.session_state.get(_NOTICES)
    if notices:
        st.warning(t("chrome.url_notice", lang, items=md_escape("; ".join(notices))))
        st.session_state[_NOTICES] = []
    _sync_url(filters, lang)
    _share_link(lang)
    if demo:
        # a badge in plain Markdown: inside a caption it would be drawn at reduced contrast
        st.markdown(f":orange-badge[:material/science: {t('chrome.demo_badge', lang)}]")
    return Context(lang=lang, filters=filters, bundle=bundle, source=source, signature=signature,
                   principal=principal)


def statement_link(lang: str, container=None) -> None:
    """The link to the Erklärung zur Barrierefreiheit (in the sidebar of every page)."""
    (container or st.sidebar).page_link(STATEMENT_PAGE, label=t("chrome.statement", lang),
                                        icon=":material/accessibility:")


def _open_page() -> str:
    """What every page starts with: page config, the language switch and the accessibility
    setup (document language). Returns the language."""
    _leave_pages_folder_mode()
    st.set_page_config(page_title="Lagebild", page_icon=ICON, layout="wide",
                       initial_sidebar_state="expanded")
    lang = current_lang()
    st.session_state[K_LANG] = lang
    st.sidebar.radio(t("chrome.language", lang), list(LANGS), key=K_LANG, horizontal=True,
                     format_func=str.upper)
    a11y.setup(lang)
    return lang


def plain_page() -> str:
    """The chrome of a page that needs no data (the accessibility statement): page config,
    language and the accessibility setup. Returns the language."""
    lang = _open_page()
    if lang != DEFAULT_LANG:
        st.query_params["lang"] = lang
    elif "lang" in st.query_params:
        del st.query_params["lang"]
    return lang


def require_role(*roles: str) -> Principal:
    """Stop the page unless the logged-in principal has one of ``roles`` (e.g. ``"admin"``).

    Call it at the top of a page, before or after :func:`page`: the check uses the
    logged-in identity (never the URL) and shows a login screen when nobody is logged in.
    """
    if not roles:
        raise ValueError(f"require_role needs at least one role, got {roles!r}")
    for role in roles:
        check_role(role)
    lang = current_lang()
    principal = auth.require_login(lang)
    if not principal.has_role(*roles):
        st.error(t("chrome.forbidden", lang, roles=", ".join(t(f"role.{r}", lang) for r in roles)))
        st.stop()
    return principal


_LINK_HTML = """<!DOCTYPE html><html lang="LANG"><head><meta charset="utf-8"><title>TITLE</title></head><body>
<style>html,body{margin:0;padding:2px}</style>
<div style="font:14px system-ui,sans-serif;color:#222">
<input id="u" readonly aria-label="Link" style="width:100%;box-sizing:border-box;padding:4px;
 font:12px monospace;border:1px solid #888;border-radius:4px">
<div style="margin-top:6px"><button id="b" type="button" style="padding:4px 12px;font:14px system-ui;
 border:1px solid #00549f;background:#00549f;color:#fff;border-radius:4px;cursor:pointer">COPY</button>
<span id="s" role="status" aria-live="polite" style="margin-left:8px"></span></div>
</div>
<script>
(function () {
  var u = document.getElementById("u"), s = document.getElementById("s");
  function cur() { try { return window.parent.location.href; } catch (e) { return ""; } }
  function refresh() { if (document.activeElement !== u) { u.value = cur(); } }
  refresh();
  setInterval(refresh, 700);
  document.getElementById("b").addEventListener("click", function () {
    u.value = cur(); u.focus(); u.select();
    var done = function (ok) { s.textContent = ok ? COPIED : MANUAL; };
    try { done(document.execCommand("copy")); } catch (e) { done(false); }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(u.value).then(function () { done(true); }, function () {});
    }
  });
})();
</script>
</body></html>
"""


def _share_link(lang: str) -> None:
    """"Link kopieren": the browser's current address (page, filters, language, page options).

    The address carries no identity: whoever opens it sees only what their own role allows.
    """
    with st.sidebar.popover(t("chrome.link", lang), icon=":material/link:", width="stretch"):
        html = (_LINK_HTML.replace("LANG", lang).replace("TITLE", t("chrome.link", lang))
                .replace("COPY", t("chrome.link_copy", lang))
                .replace("COPIED", json.dumps(t("chrome.link_copied", lang)))
                .replace("MANUAL", json.dumps(t("chrome.link_manual", lang))))
        st.iframe(html, height=104)  # room for the field and the button at any font size
        st.caption(t("chrome.link_help", lang))


def names_of(bundle: DataBundle) -> dict[str, str]:
    """district_id -> name."""
    d = bundle["districts"]
    return dict(zip(d["district_id"], d["name"], strict=True))


def download_csv(frame: pd.DataFrame, label: str, file_name: str, key: str) -> None:
    """A CSV download (UTF-8 with BOM so that Excel opens umlauts correctly)."""
    data = csv_bytes(frame, current_lang())
    st.download_button(label, data=data, file_name=file_name, mime="text/csv", key=key)


def _url_value_once(key: str, url_key: str) -> str | None:
    """The URL's value for a page option, read once per session (later the widget rules)."""
    restored = f"_url_{key}"
    if st.session_state.get(restored):
        return None
    st.session_state[restored] = True
    raw = st.query_params.get(url_key)
    return None if raw is None else str(raw)


def _url_notice(url_key: str, bad: list[str]) -> None:
    st.warning(t("chrome.url_notice", current_lang(),
                 items=md_escape(f"{url_key}: {', '.join(map(repr, bad))}")))


def url_select(label: str, options, key: str, url_key: str, format_func=str, default=None):
    """A selectbox whose value is kept in the URL under ``url_key`` (restored once per session).

    An invalid URL value is ignored with a notice.
    """
    options = list(options)
    labels = {str(o): o for o in options}
    raw = _url_value_once(key, url_key)
    if raw is not None:
        if raw in labels:
            _set(key, labels[raw])
        else:
            _url_notice(url_key, [raw])
    if _get(key) not in options:
        _set(key, default if default in options else options[0])
    value = st.selectbox(label, options, format_func=format_func, **_seed(key))
    if st.query_params.get(url_key) != str(value):
        st.query_params[url_key] = str(value)
    return value


def url_multiselect(label: str, options, key: str, url_key: str, format_func=str, default=()):
    """A multiselect whose values are kept in the URL under ``url_key`` (comma-separated).

    Restored once per session; unknown values in the URL are dropped with a notice; an
    empty value in the URL means "none selected", a missing one the ``default``.
    """
    options = list(options)
    labels = {str(o): o for o in options}
    raw = _url_value_once(key, url_key)
    if raw is not None:
        items = [v for v in str(raw).split(",") if v]
        bad = [v for v in items if v not in labels]
        if bad:
            _url_notice(url_key, bad)
        _set(key, [labels[v] for v in dict.fromkeys(items) if v in labels])
    if _get(key) is None:
        _set(key, [o for o in default if o in options])
    _set(key, [o for o in _get(key) if o in options])
    value = st.multiselect(label, options, format_func=format_func, **_seed(key))
    wanted = ",".join(str(v) for v in value)
    if st.query_params.get(url_key) != wanted:
        st.query_params[url_key] = wanted
    return value
