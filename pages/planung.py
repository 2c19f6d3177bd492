"""Planung: places, resources, the weekly patrol plan per team, saved plans and their Wirkung.

Coordinators (their districts) and admins (all); never part of the conference mode. The
computation is geo.planning / geo.wirkung, the tables and exports viz.planning.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from base.i18n import fmt_number, fmt_percent, md_escape, register, t
from data.periods import quarter_bounds, quarter_label
from geo.planning import PlanError, PlanSettings, Resources, plan_document
from ui import chrome, widgets
from ui import planning as cached
from viz import planning as pv

register(
    {
        "planung.intro": (
            "Aus Hotspots und Präsenzlücken wird ein Wochenplan: Besuche von {minutes} Minuten an "
            "Einsatzorten in Zeitfenstern, mit den Stunden, die es wirklich gibt. Exakt gelöst "
            "(gemischt-ganzzahliges Programm).",
            "Hot spots and presence gaps become a week plan: visits of {minutes} minutes at places "
            "in time windows, with the hours that really exist. Solved exactly (mixed-integer programme).",
        ),
        "planung.tab.new": ("Neuer Plan", "New plan"),
        "planung.tab.saved": ("Gespeicherte Pläne und Wirkung", "Saved plans and effect"),
        "planung.inputs": ("Eingaben", "Inputs"),
        "planung.start": ("Beginn", "Start"),
        "planung.weeks": ("Wochen", "Weeks"),
        "planung.visit": ("Besuchsdauer (Minuten)", "Visit length (minutes)"),
        "planung.travel": ("Wegezeit je Besuch (Minuten)", "Travel allowance per visit (minutes)"),
        "planung.staff": ("Personen je Streife", "Staff per patrol"),
        "planung.service": ("Dienstzeit", "Service hours"),
        "planung.days": ("Diensttage", "Service days"),
        "planung.open_failed": ("Der Plan lässt sich nicht öffnen: {error}",
                                "The plan cannot be opened: {error}"),
        "planung.seed": ("Seed (Reihenfolge)", "Seed (order)"),
        "planung.safety": (
            "Fenster mit Übergriffen auf Beschäftigte (#sicherimDienst)",
            "Windows with assaults on staff (#sicherimDienst)",
        ),
        "planung.safety.joint": (
            "nur gemeinsame Streifen mit der Polizei",
            "joint patrols with the police only",
        ),
        "planung.safety.omit": ("auslassen", "leave out"),
        "planung.resources": (
            "Stunden je Team und Woche (Personenstunden)",
            "Hours per team and week (person-hours)",
        ),
        "planung.resources_help": (
            "Vorgabe: die im letzten Quartal geleisteten KOD- bzw. gemeinsamen Streifenstunden des Teams je "
            "Woche, mal Personen je Streife. Ein Besuch kostet (Besuch + Wegezeit) × Personen.",
            "Default: the team's delivered KOD or joint patrol hours last quarter per week, times staff per "
            "patrol. A visit costs (visit + travel) × staff.",
        ),
        "planung.col.kod": ("KOD-Stunden", "KOD hours"),
        "planung.col.joint": ("Gemeinsame Stunden", "Joint hours"),
        "planung.flex": (
            "Flexibler Pool (stadtweit, Stunden je Woche)",
            "Flexible pool (city-wide, hours per week)",
        ),
        "planung.no_plan": ("Kein Plan möglich: {reason}", "No plan possible: {reason}"),
        "planung.coverage": ("Abdeckung durch den Plan", "Coverage by the plan"),
        "planung.coverage_last": (
            "Abdeckung durch die Präsenz im letzten Quartal",
            "Coverage by last quarter's presence",
        ),
        "planung.coverage_help": (
            "Anteil der erwarteten Beschwerden an allen Einsatzorten (ganze Woche), die in ein "
            "geplantes Ort-Zeitfenster fallen bzw. in eines mit mindestens {minutes} Minuten Präsenz "
            "je Tag im letzten Quartal.",
            "Share of the expected complaints at all places (whole week) that fall in a planned "
            "place-window, or in one with at least {minutes} minutes of presence per day last quarter.",
        ),
        "planung.solver": (
            "Zielwert {objective} erwartete Beschwerden je Woche · Schranke {bound} · Lücke {gap} · "
            "{status} in {seconds} s",
            "Objective {objective} expected complaints per week · bound {bound} · gap {gap} · "
            "{status} in {seconds} s",
        ),
        "planung.team": ("Team", "Team"),
        "planung.all_teams": ("alle Teams", "all teams"),
        "planung.week": ("Wochenplan", "Week plan"),
        "planung.places": ("Einsatzorte", "Places"),
        "planung.map": ("Karte der Einsatzorte", "Map of the places"),
        "planung.budgets": (
            "Stunden: genutzt / verfügbar (Personenminuten je Woche)",
            "Hours: used / available (person-minutes per week)",
        ),
        "planung.excluded": (
            "Ausgelassene Fenster (Übergriffe auf Beschäftigte in den letzten zwei Quartalen)",
            "Windows left out (assaults on staff in the last two quarters)",
        ),
        "planung.empty": (
            "Der Plan ist leer: keine Stunden verfügbar oder keine erwarteten Beschwerden in der Dienstzeit.",
            "The plan is empty: no hours available or no expected complaints in service hours.",
        ),
        "planung.csv": ("Wochenplan als CSV", "Week plan as CSV"),
        "planung.gpx": ("Einsatzorte als GPX (Handgeräte)", "Places as GPX (handheld devices)"),
        "planung.pdf_make": ("PDF für {team} erstellen", "Create PDF for {team}"),
        "planung.pdf": ("PDF für {team} herunterladen", "Download PDF for {team}"),
        "planung.pdf_failed": (
            "PDF konnte nicht erstellt werden: {error}",
            "The PDF could not be created: {error}",
        ),
        "planung.save_name": ("Name des Plans", "Name of the plan"),
        "planung.save": ("Plan speichern", "Save plan"),
        "planung.saved": ("Gespeichert: {name}, Version {version}", "Saved: {name}, version {version}"),
        "planung.save_failed": ("Speichern fehlgeschlagen: {error}", "Saving failed: {error}"),
        "planung.no_saved": ("Noch keine gespeicherten Pläne.", "No saved plans yet."),
        "planung.pick": ("Plan", "Plan"),
        "planung.version": ("Version", "Version"),
        "planung.shipped": ("mitgeliefert", "shipped"),
        "planung.effect": ("Wirkung", "Effect"),
        "planung.effect.not_in_data": (
            "Der Zeitraum des Plans ({quarters}) liegt noch nicht (ganz) in den Daten.",
            "The plan's period ({quarters}) is not (fully) in the data yet.",
        ),
        "planung.effect.inexact": (
            "Gemessen über ganze Quartale ({quarters}); der Plan deckt sie nicht genau ab.",
            "Measured over whole quarters ({quarters}); the plan does not cover them exactly.",
        ),
        "planung.effect.teams": ("Erfüllung je Team", "Compliance per team"),
        "planung.effect.places": (
            "Geplant und geleistet je Einsatzort (GPS)",
            "Planned and delivered per place (GPS)",
        ),
        "planung.did": (
            "Beschwerden an geplanten Orten gegenüber vergleichbaren, nicht geplanten Hotspots",
            "Complaints at planned places against comparable unplanned hot spots",
        ),
        "planung.did.numbers": (
            "Geplante Orte ({n_t}): {t0} vorher ({before}) → {t1} je Quartal danach; "
            "Vergleichsorte ({n_c}): {c0} → {c1}. Verhältnis {ratio} · Poisson-z {z} (p = {pp}) · "
            "Permutationstest p = {pperm}.",
            "Planned places ({n_t}): {t0} before ({before}) → {t1} per quarter after; comparison "
            "places ({n_c}): {c0} → {c1}. Ratio {ratio} · Poisson z {z} (p = {pp}) · permutation "
            "test p = {pperm}.",
        ),
        "planung.did.too_little_data": (
            "Zu wenig Daten, um eine Wirkung zu beurteilen.",
            "Too little data to tell whether the plan had an effect.",
        ),
        "planung.did.fell": (
            "Die Beschwerden an den geplanten Orten sind deutlich stärker gesunken als an den "
            "Vergleichsorten.",
            "Complaints at the planned places fell clearly more than at the comparison places.",
        ),
        "planung.did.rose": (
            "Die Beschwerden an den geplanten Orten sind deutlich stärker gestiegen als an den "
            "Vergleichsorten (die Orte wurden wohl wegen ihres Anstiegs geplant).",
            "Complaints at the planned places rose clearly more than at the comparison places "
            "(they were probably planned because they were rising).",
        ),
        "planung.did.no_difference": (
            "Kein klarer Unterschied zu den Vergleichsorten.",
            "No clear difference from the comparison places.",
        ),
    }
)

ctx = chrome.page()
principal = chrome.require_role("coordinator", "admin")
lang, bundle = ctx.lang, ctx.bundle
st.title(t("page.planung", lang))
model = widgets.spatial_model(ctx, 9)
names = chrome.names_of(bundle)
labels = bundle.category_labels(lang)
teams = [d for d in names if not ctx.filters.districts or d in ctx.filters.districts]
demo = ctx.source.kind == "demo" or bundle.synthetic
quarters = bundle.quarters()
next_start = quarter_bounds(max(quarters) + 1)[0].date() if quarters else date.today()
st.caption(t("planung.intro", lang, minutes=15))

tab_new, tab_saved = st.tabs([t("planung.tab.new", lang), t("planung.tab.saved", lang)])

with tab_new:
    with st.expander(t("planung.inputs", lang), expanded=True):
        c1, c2, c3, c4 = st.columns(4)
        start = c1.date_input(t("planung.start", lang), value=next_start, key="pl_start")
        weeks = c2.number_input(t("planung.weeks", lang), 1, 53, 13, key="pl_weeks")
        visit = c3.slider(t("planung.visit", lang), 10, 20, 15, key="pl_visit")
        travel = c4.number_input(t("planung.travel", lang), 0, 120, 5, key="pl_travel")
        c1, c2, c3, c4 = st.columns(4)
        staff = c1.number_input(t("planung.staff", lang), 1, 10, 2, key="pl_staff")
        service = c2.slider(t("planung.service", lang), 0, 24, (7, 22), key="pl_service")
        days = c2.multiselect(t("planung.days", lang), list(range(7)), default=list(range(6)), key="pl_days",
                              format_func=lambda d: pv.day_label(d, lang))
        seed = c3.number_input(t("planung.seed", lang), 0, 2**31 - 1, 0, key="pl_seed")
        safety = c4.radio(
            t("planung.safety", lang),
            ["joint", "omit"],
            key="pl_safety",
            format_func=lambda m: t(f"planung.safety.{m}", lang),
        )
        base = cached.defaults(ctx.signature, start, tuple(teams), int(staff), bundle, model)
        st.markdown(f"**{t('planung.resources', lang)}**")
        editor = st.data_editor(
            pd.DataFrame(
                {
                    t("planung.team", lang): [names[d] for d in teams],
                    t("planung.col.kod", lang): [base.kod_hours.get(d, 0.0) for d in teams],
                    t("planung.col.joint", lang): [base.joint_hours.get(d, 0.0) for d in teams],
                }
            ),
            hide_index=True,
            disabled=[t("planung.team", lang)],
            key=f"pl_res_{start}_{staff}_{','.join(teams)}",
            column_config={
                t("planung.col.kod", lang): st.column_config.NumberColumn(min_value=0.0, max_value=10_000.0),
                t("planung.col.joint", lang): st.column_config.NumberColumn(
                    min_value=0.0, max_value=10_000.0
                ),
            },
        )
        flex = st.number_input(t("planung.flex", lang), 0.0, 10_000.0, 0.0, key="pl_flex")
        st.caption(t("planung.resources_help", lang))
    kod = pd.to_numeric(editor[t("planung.col.kod", lang)], errors="coerce").fillna(0.0).clip(0, 10_000)
    joint = pd.to_numeric(editor[t("planung.col.joint", lang)], errors="coerce").fillna(0.0).clip(0, 10_000)
    resources = Resources(
        dict(zip(teams, kod.astype(float), strict=True)),
        dict(zip(teams, joint.astype(float), strict=True)),
        float(flex),
    )
    try:
        settings = PlanSettings(
            start=start,
            weeks=int(weeks),
            districts=tuple(teams),
            visit_minutes=int(visit),
            travel_minutes=int(travel),
            staff=int(staff),
            service_start=int(service[0]),
            service_end=int(service[1]),
            service_days=tuple(int(d) for d in days),
            seed=int(seed),
            safety=safety,
        )
        plan = cached.plan(ctx.signature, settings, cached.resources_key(resources), bundle, model)
    except (PlanError, ValueError) as exc:
        st.warning(t("planung.no_plan", lang, reason=md_escape(exc)))
        plan = None
    if plan is not None:
        cov, cov_last = pv.coverage_text(plan, lang)
        c1, c2 = st.columns(2)
        c1.metric(t("planung.coverage", lang), cov)
        c2.metric(t("planung.coverage_last", lang), cov_last)
        st.caption(t("planung.coverage_help", lang, minutes=plan.settings.visit_minutes))
        st.caption(
            t(
                "planung.solver",
                lang,
                objective=fmt_number(plan.objective, lang, 2),
                bound=fmt_number(plan.bound, lang, 2),
                gap=fmt_percent(plan.gap, lang, 2),
                status=plan.status,
                seconds=fmt_number(plan.solve_s, lang, 2),
            )
        )
        if plan.empty:
            st.info(t("planung.empty", lang))
        planned_teams = [d for d in teams if (plan.visits["district_id"] == d).any()] or teams
        team = st.selectbox(
            t("planung.team", lang), planned_teams, key="pl_team", format_func=lambda d: names[d]
        )
        st.subheader(t("planung.week", lang))
        table = pv.week_table(plan, lang, labels, names, team)
        st.dataframe(table, hide_index=True, width="stretch")
        st.subheader(t("planung.map", lang))
        widgets.show_map(pv.plan_map(plan, lang, widgets.tiles(), bundle.bbox()), key="plan_map", height=480)
        st.subheader(t("planung.places", lang))
        st.dataframe(pv.place_table(plan, lang, labels), hide_index=True, width="stretch")
        st.markdown(f"**{t('planung.budgets', lang)}**")
        st.dataframe(pv.budget_table(plan, lang, names), hide_index=True)
        if not plan.excluded.empty:
            st.markdown(f"**{t('planung.excluded', lang)}**")
            st.dataframe(plan.excluded, hide_index=True)
        label = f"{start.isoformat()}_{int(weeks)}w"
        c1, c2, c3 = st.columns(3)
        with c1:
            chrome.download_csv(
                pv.week_table(plan, lang, labels, names),
                t("planung.csv", lang),
                f"streifenplan_{label}.csv",
                key="pl_csv",
            )
        c2.download_button(
            t("planung.gpx", lang),
            data=pv.gpx_bytes(plan, f"Lagebild {label}"),
            file_name=f"einsatzorte_{label}.gpx",
            mime="application/gpx+xml",
            key="pl_gpx",
            on_click="ignore",
        )
        with c3:
            if cached.button(t("planung.pdf_make", lang, team=names[team]), key="pl_pdf_make"):
                try:
                    st.session_state["pl_pdf"] = (
                        team,
                        pv.team_pdf(plan, label, team, lang, labels, names, bundle.bbox()),
                    )
                except Exception as exc:  # Chromium missing or failing: say so, keep the page
                    st.error(t("planung.pdf_failed", lang, error=md_escape(exc)))
            ready = st.session_state.get("pl_pdf")
            if ready and ready[0] == team:
                st.download_button(
                    t("planung.pdf", lang, team=names[team]),
                    data=ready[1],
                    file_name=f"streifenplan_{team}_{label}.pdf",
                    mime="application/pdf",
                    key="pl_pdf",
                    on_click="ignore",
                )
        c1, c2 = st.columns([3, 1])
        name = c1.text_input(t("planung.save_name", lang), value=f"Plan {start.isoformat()}", key="pl_name")
        with c2:
            save = cached.button(t("planung.save", lang), key="pl_save")
        if save:
            try:
                doc = plan_document(plan, name, dataset=str(bundle.meta.get("name") or ""))
                saved = cached.archives(False)[0].save(doc, saved_by=principal.email or principal.name)
                st.success(t("planung.saved", lang, name=md_escape(saved.name), version=saved.version))
            except (OSError, ValueError) as exc:
                st.error(t("planung.save_failed", lang, error=md_escape(exc)))

with tab_saved:
    saved = cached.saved_plans(demo, principal, str(bundle.meta.get("name") or ""))
    if not saved:
        st.info(t("planung.no_saved", lang))
    else:

        def _label(i: int) -> str:
            s = saved[i][1]
            extra = f" · {t('planung.shipped', lang)}" if s.shipped else ""
            return f"{s.name} ({s.start}, {s.weeks} W.){extra}"

        pick = st.selectbox(t("planung.pick", lang), range(len(saved)), format_func=_label, key="pl_pick")
        archive, info = saved[pick]
        version = st.selectbox(
            t("planung.version", lang),
            list(reversed(archive.versions(info.plan_id))),
            key=f"pl_ver_{info.plan_id}",
        )
        try:
            opened = cached.open_plan(archive, info.plan_id, int(version), principal)
        except (KeyError, TypeError, ValueError, OSError) as exc:  # a damaged or foreign file
            st.error(t("planung.open_failed", lang, error=md_escape(exc)))
            opened = None
        if opened is not None:
            st.dataframe(pv.week_table(opened, lang, labels, names), hide_index=True, width="stretch")
            st.subheader(t("planung.effect", lang))
            e = cached.wirkung(
                ctx.signature,
                f"{archive.root}|{info.plan_id}|{version}|{principal.scope_key}",
                opened,
                bundle,
                model,
            )
            if e.status != "ok":
                st.info(t("planung.effect.not_in_data", lang, quarters=pv.quarters_text(e.quarters)))
            else:
                if not e.exact:
                    st.caption(t("planung.effect.inexact", lang, quarters=pv.quarters_text(e.quarters)))
                place_frame, team_frame = pv.effect_tables(e, lang, names)
                st.markdown(f"**{t('planung.effect.teams', lang)}**")
                st.dataframe(team_frame, hide_index=True)
                st.markdown(f"**{t('planung.effect.places', lang)}**")
                st.dataframe(place_frame, hide_index=True, width="stretch")
                st.markdown(f"**{t('planung.did', lang)}**")
                d = e.did
                st.write(t(f"planung.did.{d['verdict']}", lang))
                if d.get("ratio") is not None:
                    st.caption(
                        t(
                            "planung.did.numbers",
                            lang,
                            n_t=d["n_treated"],
                            t0=fmt_number(d["treated_before"], lang),
                            before=quarter_label(d["before_quarter"]),
                            t1=fmt_number(d["treated_after"], lang, 1),
                            n_c=d["n_control"],
                            c0=fmt_number(d["control_before"], lang),
                            c1=fmt_number(d["control_after"], lang, 1),
                            ratio=fmt_number(d["ratio"], lang, 2),
                            z=fmt_number(d["z"], lang, 2),
                            pp=fmt_number(d["p_poisson"], lang, 3),
                            pperm=fmt_number(d["p_permutation"], lang, 3),
                        )
                    )
