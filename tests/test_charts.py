"""Chart builders: translated axes, number separators, colours, escaping, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from viz import charts

XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def trend_frame(series: bool = False) -> pd.DataFrame:
    quarters = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    frame = pd.DataFrame({"quarter_label": quarters, "value": [120.0, 1340.0, 980.0, 1010.0]})
    if series:
        other = frame.assign(value=frame["value"] / 2, series="Heessen")
        frame = pd.concat([frame.assign(series="Mitte"), other], ignore_index=True)
    return frame


def categories_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "field": ["nachbarschaft", "oeffentliche_raeume", "infrastruktur", "nachbarschaft"],
        "category_label": ["Lärmbelästigung", "Drogenkonsum", "Wilder Müll", "Hunde"],
        "count": [1200, 340, 560, 80],
    })


def districts_frame() -> pd.DataFrame:
    return pd.DataFrame({"name": ["Mitte", "Uentrop", "Rhynern", "Pelkum"],
                         "per_1000": [306.1, 135.4, 150.0, 197.3], "z": [3.4, -2.2, 0.4, 2.5],
                         "complaints": [5000, 1200, 800, 950], "hours": [2400.5, 300.0, 120.0, 80.0],
                         "joint_share": [0.25, 0.1, 0.0, 0.5]})


BUILDERS = {
    "quarter_trend": lambda lang: charts.quarter_trend(trend_frame(), lang),
    "quarter_trend_series": lambda lang: charts.quarter_trend(trend_frame(series=True), lang),
    "categories_by_field": lambda lang: charts.categories_by_field(categories_frame(), lang),
    "district_comparison": lambda lang: charts.district_comparison(districts_frame(), "per_1000", lang),
    "district_trend": lambda lang: charts.district_comparison(districts_frame(), "z", lang),
    "weekday_hour_heatmap": lambda lang: charts.weekday_hour_heatmap(np.arange(168).reshape(7, 24), lang),
    "presence_vs_complaints": lambda lang: charts.presence_vs_complaints(districts_frame(), lang),
    "joint_share_over_time": lambda lang: charts.joint_share_over_time(
        pd.DataFrame({"quarter_label": ["2025-Q1", "2025-Q2"], "share": [0.2, 0.35]}), lang),
}


@pytest.mark.parametrize(
    ("builder", "lang", "x_title", "y_title"),
    [
        ("quarter_trend", "de", "Quartal", "Anzahl"),
        ("quarter_trend", "en", "Quarter", "Count"),
        ("categories_by_field", "de", "Anzahl", None),
        ("categories_by_field", "en", "Count", None),
        ("district_comparison", "de", "Beschwerden je 1.000 Einw.", None),
        ("district_comparison", "en", "Complaints per 1,000 inhabitants", None),
        ("district_trend", "de", "Trendsignal z", None),
        ("district_trend", "en", "Trend signal z", None),
        ("weekday_hour_heatmap", "de", "Uhrzeit (Stunde)", "Wochentag"),
        ("weekday_hour_heatmap", "en", "Hour of day", "Weekday"),
        ("presence_vs_complaints", "de", "Streifenstunden", "Beschwerden"),
        ("presence_vs_complaints", "en", "Patrol hours", "Complaints"),
        ("joint_share_over_time", "de", "Quartal", "Anteil gemeinsamer Streifen"),
        ("joint_share_over_time", "en", "Quarter", "Share of joint patrols"),
    ],
)
def test_axis_titles(builder, lang, x_title, y_title):
    fig = BUILDERS[builder](lang)
    assert isinstance(fig, go.Figure)
    assert fig.layout.xaxis.title.text == x_title
    assert fig.layout.yaxis.title.text == y_title


@pytest.mark.parametrize("builder", sorted(BUILDERS))
@pytest.mark.parametrize(("lang", "separators"), [("de", ",."), ("en", ".,")])
def test_number_separators(builder, lang, separators):
    fig = BUILDERS[builder](lang)
    assert fig.layout.separators == separators
    assert fig.layout.xaxis.separatethousands and fig.layout.yaxis.separatethousands


@pytest.mark.parametrize(("lang", "suffix"), [("de", " %"), ("en", "%")])
def test_joint_share_in_percent(lang, suffix):
    fig = BUILDERS["joint_share_over_time"](lang)
    assert fig.layout.yaxis.ticksuffix == suffix
    assert list(fig.data[0].y) == pytest.approx([20.0, 35.0])


@pytest.mark.parametrize(("lang", "days"), [("de", ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]),
                                            ("en", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])])
def test_heatmap_weekdays_monday_first(lang, days):
    fig = BUILDERS["weekday_hour_heatmap"](lang)
    assert list(fig.data[0].y) == days
    assert list(fig.data[0].x) == list(range(24))
    assert fig.data[0].z[0][5] == 5 and fig.data[0].z[6][23] == 167


def test_quarter_trend_series_and_order():
    fig = BUILDERS["quarter_trend_series"]("de")
    assert [tr.name for tr in fig.data] == ["Mitte", "Heessen"]
    assert fig.layout.showlegend is True
    assert list(fig.layout.xaxis.categoryarray) == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert {tr.line.color for tr in fig.data} <= set(charts.OKABE_ITO)


def test_categories_coloured_by_field_and_sorted():
    fig = BUILDERS["categories_by_field"]("de")
    names = {tr.name: tr.marker.color for tr in fig.data}
    assert names == {"Sichere Nachbarschaft": charts.FIELD_COLORS["nachbarschaft"],
                     "Sichere öffentliche Räume": charts.FIELD_COLORS["oeffentliche_raeume"],
                     "Sichere Infrastruktur": charts.FIELD_COLORS["infrastruktur"]}
    # the largest category on top (last in a horizontal bar chart's category array)
    assert list(fig.layout.yaxis.categoryarray) == ["Hunde", "Drogenkonsum", "Wilder Müll", "Lärmbelästigung"]
    assert len(charts.categories_by_field(categories_frame(), top=2).layout.yaxis.categoryarray) == 2


def test_district_trend_colours_by_signal_class():
    fig = BUILDERS["district_trend"]("de")
    bar = fig.data[0]
    by_name = dict(zip(bar.y, bar.marker.color, strict=True))
    assert by_name == {"Mitte": charts.TREND_COLORS[4], "Pelkum": charts.TREND_COLORS[3],
                       "Rhynern": charts.TREND_COLORS[2], "Uentrop": charts.TREND_COLORS[1]}
    assert len(fig.layout.shapes) == 4  # reference lines at ±2 and ±3


@pytest.mark.parametrize(("lang", "suffix"), [("de", " %"), ("en", "%")])
def test_district_joint_share_in_percent(lang, suffix):
    fig = charts.district_comparison(districts_frame(), "joint_share", lang)
    assert list(fig.data[0].x) == pytest.approx([0.0, 10.0, 25.0, 50.0])
    assert fig.layout.xaxis.ticksuffix == suffix
    assert fig.layout.xaxis.title.text == {"de": "Anteil gemeinsamer Streifen",
                                           "en": "Share of joint patrols"}[lang]


def test_district_comparison_sorted_largest_on_top():
    fig = BUILDERS["district_comparison"]("de")
    assert list(fig.data[0].y) == ["Uentrop", "Rhynern", "Pelkum", "Mitte"]


@pytest.mark.parametrize(
    ("build", "texts"),
    [
        (lambda: charts.quarter_trend(trend_frame(series=True).assign(series=XSS)),
         lambda f: [tr.name for tr in f.data]),
        (lambda: charts.categories_by_field(categories_frame().assign(category_label=XSS)),
         lambda f: list(f.data[0].y)),
        (lambda: charts.district_comparison(districts_frame().assign(name=XSS), "per_1000"),
         lambda f: list(f.data[0].y)),
        (lambda: charts.presence_vs_complaints(districts_frame().assign(name=XSS)),
         lambda f: list(f.data[0].text)),
        (lambda: charts.quarter_trend(trend_frame(), title=XSS, y_title=XSS),
         lambda f: [f.layout.title.text, f.layout.yaxis.title.text]),
        (lambda: charts.district_comparison(districts_frame(), "per_1000", axis_title=XSS),
         lambda f: [f.layout.xaxis.title.text]),
    ],
)
def test_data_text_is_escaped(build, texts):
    fig = build()
    values = texts(fig)
    assert values and all(XSS_ESCAPED in v for v in values)
    assert XSS not in fig.to_json()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: charts.weekday_hour_heatmap(np.zeros((24, 7))), "7x24"),
        (lambda: charts.weekday_hour_heatmap(np.zeros((7, 23))), "7x24"),
        (lambda: charts.district_comparison(districts_frame(), "beauty"), "no column 'beauty'"),
        (lambda: charts.district_comparison(districts_frame().assign(beauty=1), "beauty"), "got 'beauty'"),
        (lambda: charts.quarter_trend(pd.DataFrame({"quarter": [], "value": []})), "quarter_label"),
        (lambda: charts.presence_vs_complaints(pd.DataFrame({"name": ["a"]})), "complaints"),
        (lambda: charts.quarter_trend(trend_frame(), lang="fr"), "got 'fr'"),
    ],
)
def test_invalid_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_custom_axis_title_for_other_metrics():
    fig = charts.district_comparison(districts_frame().assign(beauty=1), "beauty", axis_title="Schönheit")
    assert fig.layout.xaxis.title.text == "Schönheit"


@pytest.mark.parametrize(
    ("build", "lang", "text"),
    [
        (lambda lang: charts.quarter_trend(trend_frame().head(0), lang), "de",
         "Keine Daten für diese Auswahl"),
        (lambda lang: charts.categories_by_field(categories_frame().head(0), lang), "en",
         "No data for this selection"),
        (lambda lang: charts.presence_vs_complaints(districts_frame().head(0), lang), "de",
         "Keine Daten für diese Auswahl"),
    ],
)
def test_empty_frames_say_no_data(build, lang, text):
    fig = build(lang)
    assert fig.layout.annotations[0].text == text
    assert len(fig.data) == 0
