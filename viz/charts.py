"""Plotly chart builders for Lagebild: small, general, translated, colour-blind safe.

Every builder returns a :class:`plotly.graph_objects.Figure` with translated axis titles
and the number format of the language (German ``1.234,5``, English ``1,234.5``) through
``layout.separators``. Colours come from the Okabe–Ito palette (safe for the common
colour-vision deficiencies) or colour-blind-safe sequential scales.

Plotly renders a subset of HTML in texts (``<b>``, ``<br>``, ``<a href>``) in titles, tick
labels, legends and hover labels, so every data-derived text (district names, category
labels, series names, titles) is HTML-escaped before it reaches a figure.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from base.i18n import check_lang, register, t

register({
    "chart.quarter": ("Quartal", "Quarter"),
    "chart.count": ("Anzahl", "Count"),
    "chart.category": ("Kategorie", "Category"),
    "chart.district": ("Bezirk", "District"),
    "chart.weekday": ("Wochentag", "Weekday"),
    "chart.hour": ("Uhrzeit (Stunde)", "Hour of day"),
    "chart.complaints": ("Beschwerden", "Complaints"),
    "chart.patrol_hours": ("Streifenstunden", "Patrol hours"),
    "chart.joint_share": ("Anteil gemeinsamer Streifen", "Share of joint patrols"),
    "chart.nodata": ("Keine Daten für diese Auswahl", "No data for this selection"),
    "chart.metric.complaints": ("Beschwerden", "Complaints"),
    "chart.metric.per_1000": ("Beschwerden je 1.000 Einw.", "Complaints per 1,000 inhabitants"),
    "chart.metric.patrol_hours": ("Streifenstunden", "Patrol hours"),
    "chart.metric.hours_per_1000": ("Streifenstunden je 1.000 Einw.", "Patrol hours per 1,000 inhabitants"),
    "chart.metric.joint_share": ("Anteil gemeinsamer Streifen", "Share of joint patrols"),
    "chart.metric.open": ("Offene Beschwerden", "Open complaints"),
    "chart.metric.incidents": ("Übergriffe auf Beschäftigte", "Assaults on staff"),
    "chart.metric.z": ("Trendsignal z", "Trend signal z"),
    "chart.metric.trend": ("Trendsignal z", "Trend signal z"),
})

#: Okabe–Ito colours (Okabe & Ito 2008), in the order used for series.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FIELD_COLORS = {"nachbarschaft": "#0072B2", "oeffentliche_raeume": "#E69F00", "infrastruktur": "#009E73"}
KIND_COLORS = {"kod": "#0072B2", "joint": "#CC79A7", "police": "#009E73"}
#: Trend signal classes (z ≤ −3, ≤ −2, |z| < 2, ≥ 2, ≥ 3), ColorBrewer RdBu as on the map.
TREND_COLORS = ("#2166ac", "#92c5de", "#bdbdbd", "#f4a582", "#b2182b")
#: Metrics with a translated axis title (the columns of the district comparison table);
#: ``z``/``trend`` are trend signals, ``joint_share`` a share 0..1 shown in percent.
METRICS = ("complaints", "per_1000", "patrol_hours", "hours_per_1000", "joint_share", "open",
           "incidents", "z", "trend")
TREND_METRICS = ("z", "trend")
SEPARATORS = {"de": ",.", "en": ".,"}


def esc(value: Any) -> str:
    """Escape a data text for plotly (None/NaN -> empty string).

    ``&``, ``<`` and ``>`` become entities, so no tag can form; quotes stay (plotly would
    show ``&quot;`` literally, and without a tag they are harmless).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=False)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs the columns {list(columns)}; missing {missing}")


def _layout(fig: go.Figure, lang: str, title: str | None, x_title: str | None, y_title: str | None,
            height: int = 360) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        separators=SEPARATORS[check_lang(lang)],
        title={"text": esc(title)} if title else None,
        height=height,
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 10},
        font={"family": "system-ui, sans-serif", "size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        hoverlabel={"namelength": -1},
    )
    fig.update_xaxes(title_text=esc(x_title) if x_title else None, automargin=True, separatethousands=True)
    fig.update_yaxes(title_text=esc(y_title) if y_title else None, automargin=True, separatethousands=True)
    return fig


#: Dark edge of bars and markers: light series colours (Okabe–Ito orange, yellow, sky blue) are
#: below 3:1 against white; the edge keeps every mark at ≥ 3:1 (WCAG 1.4.11).
EDGE = "#333333"


def _edged(fig: go.Figure) -> go.Figure:
    fig.update_traces(marker_line_color=EDGE, marker_line_width=1, selector={"type": "bar"})
    fig.update_traces(marker_line_color=EDGE, marker_line_width=1, selector={"type": "scatter"})
    return fig


def _no_data(fig: go.Figure, lang: str) -> go.Figure:
    fig.add_annotation(text=t("chart.nodata", lang), showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5, font={"size": 15, "color": "#555555"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def quarter_trend(frame: pd.DataFrame, lang: str = "de", title: str | None = None,
                  y_title: str | None = None) -> go.Figure:
    """Values per quarter as lines with markers, one line per ``series`` if that column exists.

    ``frame``: quarter_label (e.g. "2024-Q3"), value; optional series (a label per line).
    Quarters are shown in the order of first appearance (sort the frame beforehand).
    """
    _require(frame, ["quarter_label", "value"], "quarter_trend")
    fig = go.Figure()
    _layout(fig, lang, title, t("chart.quarter", lang), y_title or t("chart.count", lang))
    if frame.empty:
        return _no_data(fig, lang)
    order = list(dict.fromkeys(frame["quarter_label"].astype(str)))
    groups = frame.groupby("series", sort=False) if "series" in frame.columns else [(None, frame)]
    for i, (series, part) in enumerate(groups):
        fig.add_trace(go.Scatter(
            x=part["quarter_label"].astype(str).map(esc), y=part["value"], mode="lines+markers",
            name=esc(series) if series is not None else esc(y_title or t("chart.count", lang)),
            line={"color": OKABE_ITO[i % len(OKABE_ITO)], "width": 2.5},
            marker={"size": 7, "symbol": ["circle", "square", "diamond", "triangle-up"][i % 4]},
            hovertemplate="%{x}: %{y:,.4~f}<extra>%{fullData.name}</extra>",
        ))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=[esc(q) for q in order])
    fig.update_layout(showlegend="series" in frame.columns)
    return _edged(fig)


def categories_by_field(frame: pd.DataFrame, lang: str = "de", title: str | None = None,
                        top: int | None = None) -> go.Figure:
    """Horizontal bars of counts per category, coloured by Masterplan field.

    ``frame``: field (nachbarschaft, oeffentliche_raeume, infrastruktur), category_label,
    count. ``top`` keeps the largest categories.
    """
    _require(frame, ["field", "category_label", "count"], "categories_by_field")
    fig = go.Figure()
    _layout(fig, lang, title, t("chart.count", lang), None,
            height=max(260, 28 * min(len(frame), top or len(frame)) + 90))
    if frame.empty:
        return _no_data(fig, lang)
    data = frame.sort_values("count", ascending=False, kind="stable")
    if top is not None:
        data = data.head(top)
    fields = list(dict.fromkeys(data["field"]))
    for i, field in enumerate(fields):
        part = data[data["field"] == field]
        label = t(f"field.{field}", lang) if field in FIELD_COLORS else esc(field)
        fig.add_trace(go.Bar(
            y=part["category_label"].map(esc), x=part["count"], orientation="h", name=label,
            marker_color=FIELD_COLORS.get(field, OKABE_ITO[(i + 3) % len(OKABE_ITO)]),
            hovertemplate="%{y}: %{x:,}<extra>%{fullData.name}</extra>",
        ))
    fig.update_yaxes(categoryorder="array", categoryarray=list(data["category_label"].map(esc))[::-1])
    fig.update_layout(barmode="overlay", bargap=0.25)
    return _edged(fig)


def _trend_class(z: float) -> int:
    if not math.isfinite(z):
        return 2
    return 0 if z <= -3 else 1 if z <= -2 else 2 if z < 2 else 3 if z < 3 else 4


def district_comparison(frame: pd.DataFrame, metric: str, lang: str = "de", title: str | None = None,
                        axis_title: str | None = None) -> go.Figure:
    """Horizontal bars of one metric per district, largest on top.

    ``frame``: name and the column ``metric``. Known metrics (:data:`METRICS`) have
    translated axis titles; for others pass ``axis_title``. ``z``/``trend`` (trend signals)
    are drawn with the diverging trend colours and reference lines at ±2 and ±3;
    ``joint_share`` (0..1) in percent.
    """
    if metric not in frame.columns:
        raise ValueError(f"district_comparison: frame has no column {metric!r}")
    _require(frame, ["name"], "district_comparison")
    if axis_title is None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {list(METRICS)} (or pass axis_title), got {metric!r}")
        axis_title = t(f"chart.metric.{metric}", lang)
    fig = go.Figure()
    _layout(fig, lang, title, axis_title, None, height=max(260, 30 * len(frame) + 90))
    if frame.empty:
        return _no_data(fig, lang)
    data = frame.sort_values(metric, ascending=True, kind="stable", na_position="first")
    values = pd.to_numeric(data[metric], errors="coerce")
    if metric == "joint_share":
        values = values * 100
        fig.update_xaxes(ticksuffix=" %" if lang == "de" else "%")
    if metric in TREND_METRICS:
        colors = [TREND_COLORS[_trend_class(v)] for v in values.to_numpy(dtype="float64")]
    else:
        colors = OKABE_ITO[0]
    fig.add_trace(go.Bar(
        y=data["name"].map(esc), x=values, orientation="h", marker_color=colors,
        name=esc(axis_title), hovertemplate="%{y}: %{x:,.4~f}<extra></extra>",
    ))
    if metric in TREND_METRICS:
        for x in (-3, -2, 2, 3):
            dash = "dot" if abs(x) == 2 else "dash"
            fig.add_vline(x=x, line={"color": "#666666", "width": 1, "dash": dash})
    fig.update_layout(showlegend=False)
    return _edged(fig)


def weekday_hour_heatmap(matrix: np.ndarray | pd.DataFrame | Sequence[Sequence[float]], lang: str = "de",
                         title: str | None = None, value_title: str | None = None) -> go.Figure:
    """Counts by weekday (rows, Monday first) and hour of day (columns 0-23) as a heatmap."""
    values = np.asarray(matrix, dtype="float64")
    if values.shape != (7, 24):
        raise ValueError(f"weekday_hour_heatmap needs a 7x24 matrix, got shape {values.shape}")
    days = [t(f"weekday.{d}", lang) for d in range(7)]
    fig = go.Figure(go.Heatmap(
        z=values, x=list(range(24)), y=days, colorscale="Cividis", reversescale=False,
        colorbar={"title": {"text": esc(value_title or t("chart.count", lang))}},
        hovertemplate="%{y} %{x}:00: %{z:,.4~f}<extra></extra>", xgap=1, ygap=1,
    ))
    _layout(fig, lang, title, t("chart.hour", lang), t("chart.weekday", lang), height=320)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(dtick=2, range=[-0.5, 23.5])
    return fig


def presence_vs_complaints(frame: pd.DataFrame, lang: str = "de", title: str | None = None) -> go.Figure:
    """Scatter of patrol hours (x) against complaints (y), one labelled point per district.

    ``frame``: name, complaints, hours.
    """
    _require(frame, ["name", "complaints", "hours"], "presence_vs_complaints")
    fig = go.Figure()
    _layout(fig, lang, title, t("chart.patrol_hours", lang), t("chart.complaints", lang), height=380)
    if frame.empty:
        return _no_data(fig, lang)
    fig.add_trace(go.Scatter(
        x=frame["hours"], y=frame["complaints"], mode="markers+text", text=frame["name"].map(esc),
        textposition="top center", cliponaxis=False,
        marker={"size": 11, "color": OKABE_ITO[0], "line": {"width": 1, "color": "#ffffff"}},
        hovertemplate=("%{text}<br>%{x:,.1f} " + esc(t("unit.hours", lang)) + " · %{y:,} "
                       + esc(t("chart.complaints", lang)) + "<extra></extra>"), showlegend=False,
    ))
    return fig


def joint_share_over_time(frame: pd.DataFrame, lang: str = "de", title: str | None = None) -> go.Figure:
    """Share of joint patrols per quarter (0..1) as a line, in percent.

    ``frame``: quarter_label, share.
    """
    _require(frame, ["quarter_label", "share"], "joint_share_over_time")
    fig = go.Figure()
    _layout(fig, lang, title, t("chart.quarter", lang), t("chart.joint_share", lang))
    if frame.empty:
        return _no_data(fig, lang)
    suffix = " %" if lang == "de" else "%"
    percent = pd.to_numeric(frame["share"], errors="coerce") * 100
    fig.add_trace(go.Scatter(
        x=frame["quarter_label"].astype(str).map(esc), y=percent, mode="lines+markers",
        line={"color": KIND_COLORS["joint"], "width": 2.5}, marker={"size": 7},
        fill="tozeroy", fillcolor="rgba(204,121,167,0.15)",
        hovertemplate="%{x}: %{y:,.1f}" + suffix + "<extra></extra>", showlegend=False,
    ))
    fig.update_xaxes(type="category")
    fig.update_yaxes(ticksuffix=suffix, rangemode="tozero")
    return _edged(fig)
