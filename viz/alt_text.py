"""Text alternatives: charts as a summary sentence and a data table, KPI tiles as sentences,
maps as a short description (no streamlit; the pages show them next to the picture).

A screen reader user cannot see a chart or a map; WCAG 1.1.1 asks for a text alternative.
:func:`figure_summary` says what a plotly figure shows (per series the last values and the
trend, or the highest and lowest bars), :func:`figure_table` gives its data as a table, and
:func:`kpi_sentence` turns a KPI tile into one sentence.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from base.i18n import check_lang, fmt_number, register, t
from data.kpis import Kpi
from viz.kpi_text import _value, kpi_text

if TYPE_CHECKING:  # plotly is imported where a chart is drawn (not at start)
    import plotly.graph_objects as go

register({
    "alt.chart": ("Diagramm", "Chart"),
    "alt.nodata": ("Diagramm ohne Daten für diese Auswahl.", "Chart without data for this selection."),
    "alt.last": ("{series}: zuletzt {last} ({x})", "{series}: last {last} ({x})"),
    "alt.before": ("davor {prev} ({x})", "before that {prev} ({x})"),
    "alt.up": ("gestiegen", "up"),
    "alt.down": ("gesunken", "down"),
    "alt.flat": ("unverändert", "unchanged"),
    "alt.range": ("Höchstwert {max} ({xmax}), Tiefstwert {min} ({xmin}) über {n} Werte",
                  "highest {max} ({xmax}), lowest {min} ({xmin}) over {n} values"),
    "alt.bars": ("{series}: höchster Wert {max} ({ymax}), niedrigster {min} ({ymin}), {n} Balken",
                 "{series}: highest {max} ({ymax}), lowest {min} ({ymin}), {n} bars"),
    "alt.points": ("{n} Punkte ({x} / {y}): {series}", "{n} points ({x} / {y}): {series}"),
    "alt.group": ("Gruppe", "Group"),
    "alt.item": ("Eintrag", "Item"),
    "alt.heatmap": ("Höchster Wert {max} bei {y}, {x}; niedrigster {min} bei {ymin}, {xmin}",
                    "highest value {max} at {y}, {x}; lowest {min} at {ymin}, {xmin}"),
    "alt.kpi_prev": ("Vorzeitraum {prev}", "previous period {prev}"),
    "alt.kpi_none": ("kein Vorzeitraum in den Daten", "no previous period in the data"),
    "alt.table_label": ("Wert", "Value"),
})

_SYMBOLS = re.compile(r"[▲▼]+\s*")


def _plain(value: Any) -> str:
    """Figure text as a person reads it: entities decoded, tags removed."""
    if value is None:
        return ""
    return html.unescape(re.sub(r"<[^>]+>", " ", str(value))).strip()


def _num(value: Any, lang: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _plain(value)
    if not math.isfinite(v):
        return "–"
    digits = 0 if v == round(v) or abs(v) >= 100 else (1 if abs(v) >= 1 else 2)
    return fmt_number(v, lang, digits)


def _title(fig: go.Figure) -> str:
    title = fig.layout.title.text if fig.layout.title else None
    return _plain(title) if title else ""


def _axis_title(axis) -> str:
    return _plain(axis.title.text) if axis and axis.title and axis.title.text else ""


def _series(fig: go.Figure) -> list[tuple[str, str, list, np.ndarray, str, bool]]:
    """(kind, name, categories, values, orientation, is_line) of each scatter/bar trace."""
    out = []
    for trace in fig.data:
        if trace.type not in ("scatter", "bar"):
            continue
        horizontal = getattr(trace, "orientation", None) == "h"
        cats, vals = (trace.y, trace.x) if horizontal else (trace.x, trace.y)
        if cats is None or vals is None:
            continue
        values = pd.to_numeric(pd.Series(list(vals)), errors="coerce").to_numpy(dtype="float64")
        labels = [_plain(c) for c in cats]
        mode = trace.mode or "" if trace.type == "scatter" else ""
        is_line = trace.type == "scatter" and ("lines" in mode or not mode)
        if trace.type == "scatter" and not is_line and trace.text is not None:
            labels = [_plain(c) for c in trace.text]  # a labelled scatter: the label names the point
        out.append((trace.type, _plain(trace.name) or _axis_title(fig.layout.yaxis), labels, values,
                    "h" if horizontal else "v", is_line))
    return out


def figure_table(fig: go.Figure, lang: str = "de") -> pd.DataFrame:
    """The figure's data as a table (one row per category/point, one column per series)."""
    check_lang(lang)
    heat = [tr for tr in fig.data if tr.type == "heatmap"]
    if heat:
        tr = heat[0]
        z = np.asarray(tr.z, dtype="float64")
        cols = [_plain(x) for x in (tr.x if tr.x is not None else range(z.shape[1]))]
        rows = [_plain(y) for y in (tr.y if tr.y is not None else range(z.shape[0]))]
        frame = pd.DataFrame(z, columns=cols)
        frame.insert(0, _axis_title(fig.layout.yaxis) or "", rows)
        return frame
    series = _series(fig)
    if not series:
        return pd.DataFrame()
    first = series[0]
    if first[0] == "scatter" and not first[5]:  # a labelled scatter plot: x and y per point
        tr = next(tr for tr in fig.data if tr.type == "scatter")
        return pd.DataFrame({
            "": first[2],
            _axis_title(fig.layout.xaxis) or "x": pd.to_numeric(pd.Series(list(tr.x)), errors="coerce"),
            _axis_title(fig.layout.yaxis) or "y": pd.to_numeric(pd.Series(list(tr.y)), errors="coerce"),
        })
    cat_axis = fig.layout.yaxis if first[4] == "h" else fig.layout.xaxis
    cat_title = _axis_title(cat_axis) or t("alt.item", lang)
    if first[0] == "bar":  # bars (e.g. categories coloured by field): one row per bar
        value_title = _axis_title(fig.layout.xaxis if first[4] == "h" else fig.layout.yaxis)
        rows = [(c, name, v) for _k, name, cats, vals, _o, _l in series
                for c, v in zip(cats, vals, strict=False)]
        columns = [cat_title, t("alt.group", lang), value_title or t("alt.table_label", lang)]
        frame = pd.DataFrame(rows, columns=columns)
        if len(series) == 1:
            frame = frame.drop(columns=t("alt.group", lang))
        return frame
    merged: dict[str, dict[str, float]] = {}
    order: list[str] = []
    for _kind, name, cats, vals, _o, _l in series:
        for c, v in zip(cats, vals, strict=False):
            if c not in merged:
                merged[c] = {}
                order.append(c)
            merged[c][name or t("alt.table_label", lang)] = v
    frame = pd.DataFrame([merged[c] for c in order])
    frame.insert(0, cat_title, order)
    return frame


def figure_summary(fig: go.Figure, lang: str = "de") -> str:
    """One or two sentences on what the figure shows: per line series the last two values
    and the direction, its highest and lowest value; per bar series the highest and lowest bar."""
    check_lang(lang)
    title = _title(fig)
    head = f"{t('alt.chart', lang)}{': ' + title if title else ''}. "
    heat = [tr for tr in fig.data if tr.type == "heatmap"]
    if heat:
        table = figure_table(fig, lang)
        z = table.iloc[:, 1:].to_numpy(dtype="float64")
        if not np.isfinite(z).any():
            return head + t("alt.nodata", lang)
        iy, ix = np.unravel_index(np.nanargmax(z), z.shape)
        jy, jx = np.unravel_index(np.nanargmin(z), z.shape)
        cols = list(table.columns[1:])
        x_title = _axis_title(fig.layout.xaxis)
        return head + t("alt.heatmap", lang, max=_num(z[iy, ix], lang), y=table.iloc[iy, 0],
                        x=f"{x_title} {cols[ix]}", min=_num(z[jy, jx], lang),
                        ymin=table.iloc[jy, 0], xmin=f"{x_title} {cols[jx]}") + "."
    series = _series(fig)
    parts = []
    bars = [(c, name, v) for kind, name, cats, vals, _o, _l in series if kind == "bar"
            for c, v in zip(cats, vals, strict=False) if math.isfinite(v)]
    if bars:
        many = len({name for _c, name, _v in bars}) > 1
        hi, lo = max(bars, key=lambda b: b[2]), min(bars, key=lambda b: b[2])

        def where(b):
            return f"{b[0]}, {b[1]}" if many else b[0]

        name = _axis_title(fig.layout.xaxis if series[0][4] == "h" else fig.layout.yaxis) or series[0][1]
        parts.append(t("alt.bars", lang, series=name, max=_num(hi[2], lang), ymax=where(hi),
                       min=_num(lo[2], lang), ymin=where(lo), n=len(bars)))
    for kind, name, cats, vals, _orient, is_line in series:
        ok = np.isfinite(vals)
        if kind == "bar" or not ok.any():
            continue
        idx = np.flatnonzero(ok)
        hi, lo = idx[np.argmax(vals[idx])], idx[np.argmin(vals[idx])]
        if not is_line:
            parts.append(t("alt.points", lang, n=len(idx), x=_axis_title(fig.layout.xaxis),
                                   y=_axis_title(fig.layout.yaxis), series="; ".join(
                f"{cats[i]}: {_num(fig.data[0].x[i], lang)} / {_num(vals[i], lang)}" for i in idx)))
            continue
        last = idx[-1]
        text = t("alt.last", lang, series=name, last=_num(vals[last], lang), x=cats[last])
        if len(idx) > 1:
            prev = idx[-2]
            d = vals[last] - vals[prev]
            direction = t("alt.up" if d > 0 else "alt.down" if d < 0 else "alt.flat", lang)
            text += ", " + t("alt.before", lang, prev=_num(vals[prev], lang), x=cats[prev])
            text += f": {direction}; " + t("alt.range", lang, max=_num(vals[hi], lang), xmax=cats[hi],
                                             min=_num(vals[lo], lang), xmin=cats[lo], n=len(idx))
        parts.append(text)
    if not parts:
        return head + t("alt.nodata", lang)
    return head + ". ".join(parts) + "."


def kpi_sentence(kpi: Kpi, lang: str = "de") -> str:
    """A KPI tile as one sentence: label, value, previous value and change with its signal."""
    text = kpi_text(kpi, lang)
    sentence = f"{text.label}: {text.value}"
    if kpi.previous is None:
        return f"{sentence}, {t('alt.kpi_none', lang)}."
    sentence += ", " + t("alt.kpi_prev", lang, prev=_value(kpi.key, kpi.previous, lang))
    if text.delta:
        sentence += ": " + _SYMBOLS.sub("", text.delta).replace(" · ", ", ")
    return sentence + "."


def table_caption(title: str, rows: int, lang: str) -> str:
    return f"{title} ({fmt_number(rows, lang)} {'Zeilen' if lang == 'de' else 'rows'})"


def join_names(names: Sequence[str], lang: str, limit: int = 5) -> str:
    """ "A, B und C" (de) / "A, B and C" (en); more than ``limit`` names end with "…"."""
    names = [str(n) for n in names]
    if len(names) > limit:
        return ", ".join(names[:limit]) + " …"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + (" und " if lang == "de" else " and ") + names[-1]
