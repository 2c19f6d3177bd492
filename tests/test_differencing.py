"""The differencing attack on conference numbers (issue #15), and the cell key method's consistency.

An attacker (a viewer, or anyone with two Präsentation exports) takes two exports that differ in
one filter (hour window, weekday, category, quarter, district) and subtracts every number they
share. Before the cell key method, a difference between 1 and k-1 was the exact number of
complaints in between. Now, for every shared number, the set of true differences consistent
with the two published values (given the public ptable) must never be a single value between
1 and k-1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from data.filters import Filters, complaint_mask, incident_mask
from data.folder import load_folder
from data.periods import parse_quarter
from data.privacy import (
    PTABLE,
    PTable,
    cell_keys,
    conference_filters,
    published_counts,
    record_keys,
)
from data.roles import Principal, restrict
from geo import model as geo_model
from viz import exports, presentation

REPO = Path(__file__).resolve().parent.parent
Q = parse_quarter
K = 5


@pytest.fixture(scope="module")
def viewer():
    return restrict(load_folder(REPO / "data" / "demo"), Principal("viewer"))


@pytest.fixture(scope="module")
def model(viewer):
    return geo_model.build(viewer, 9)


def exported(bundle, model, f: Filters) -> tuple[dict[str, float], dict[str, float]]:
    """(published, true) numbers of every export of the Präsentation page for ``f``, by label."""
    anon = presentation.anonymise(bundle, model, f, "de", K)
    shown: dict[str, float] = {}
    geo = json.loads(exports.cells_geojson(presentation.cells_for_export(anon), ["count", "gap_rank"]))
    for feat in geo["features"]:  # the cells GeoJSON (hot spots and gaps)
        shown[f"cell:{feat['id']}"] = float(feat["properties"]["count"])
    for row in anon.gap.itertuples():  # the gap CSV: the same cells
        shown[f"cell:{row.h3}"] = float(row.complaints)
    for row in anon.trend.itertuples():  # the trend chart
        shown[f"quarter:{row.quarter_label}"] = float(row.value)
    for row in anon.districts.itertuples():  # the district CSV and charts
        shown[f"district:{row.district_id}:complaints"] = float(row.complaints)
        shown[f"district:{row.district_id}:incidents"] = float(row.incidents)
    for name in ("complaints", "open_complaints", "staff_incidents"):  # the PDF's KPI tiles
        shown[f"total:{name}"] = anon.totals[name]
    # the truth an attacker wants, for the same records
    g = conference_filters(f)
    c, inc = bundle["complaints"], bundle["staff_incidents"]
    exact = replace(model, publisher=None)  # (a viewer's model publishes; the truth is exact)
    cells = dict(zip(model.index.cells, geo_model.complaint_cell_counts(exact, replace(g, districts=())),
                     strict=True))
    true: dict[str, float] = {}
    for label in shown:
        kind, _, rest = label.partition(":")
        if kind == "cell":
            true[label] = float(cells[rest])
        elif kind == "quarter":
            true[label] = float((complaint_mask(c, g, quarters=[Q(rest)])).sum())
        elif kind == "district":
            d, what = rest.split(":")
            frame, mask = (c, complaint_mask) if what == "complaints" else (inc, incident_mask)
            m = mask(frame, replace(g, districts=()))
            true[label] = float((frame["district_id"].astype(str).to_numpy()[m] == d).sum())
    true["total:complaints"] = float(complaint_mask(c, g).sum())
    still_open = c["closed_quarter"].to_numpy() > g.q_to
    true["total:open_complaints"] = float((complaint_mask(c, g) & still_open).sum())
    true["total:staff_incidents"] = float(incident_mask(inc, g).sum())
    return shown, true


BASE = Filters(Q("2026-Q3"), Q("2026-Q3"))
#: Pairs of views that differ in one filter (the attacks of issue #15 and their variants).
PAIRS = {
    "hour window 0-24 / 0-23": (BASE, replace(BASE, hours=(0, 23))),
    "hour window 0-24 / 22-6": (BASE, replace(BASE, hours=(22, 6))),
    "weekday all / Sunday": (BASE, replace(BASE, weekdays=(6,))),
    "weekday all / Mon-Sat": (BASE, replace(BASE, weekdays=(0, 1, 2, 3, 4, 5))),
    "category all / laerm": (BASE, replace(BASE, categories=("laerm",))),
    "field all / one field": (BASE, replace(BASE, fields=("infrastruktur",))),
    "quarter Q3 / Q2-Q3": (BASE, Filters(Q("2026-Q2"), Q("2026-Q3"))),
    "quarter Q2-Q3 / Q1-Q3": (Filters(Q("2026-Q2"), Q("2026-Q3")), Filters(Q("2026-Q1"), Q("2026-Q3"))),
    "quarter Q3 / Q2": (BASE, Filters(Q("2026-Q2"), Q("2026-Q2"))),
    "district all / heessen": (BASE, replace(BASE, districts=("heessen",))),
    "district heessen / heessen+mitte": (replace(BASE, districts=("heessen",)),
                                         replace(BASE, districts=("heessen", "mitte"))),
}


def _plain(numbers: dict[str, float]) -> dict[str, float | None]:
    return {k: None if np.isnan(v) else v for k, v in numbers.items()}


def _consistent_differences(a: float, b: float, ptable: PTable, k: int) -> set[float]:
    """True differences (a's records minus b's) that the two published values allow.

    A suppressed value stands for at least 0..k-1 (more when hidden for its margin).
    """
    def sources(v: float) -> list[int]:
        return list(range(k)) if np.isnan(v) else ptable.sources(int(v), k)
    return {x - y for x in sources(a) for y in sources(b)}


@pytest.mark.parametrize("pair", list(PAIRS))
def test_no_difference_reveals_a_count_below_k(viewer, model, pair) -> None:
    fa, fb = PAIRS[pair]
    shown_a, true_a = exported(viewer, model, fa)
    shown_b, true_b = exported(viewer, model, fb)
    small = 0
    for label in shown_a.keys() & shown_b.keys():
        a, b = shown_a[label], shown_b[label]
        if np.isnan(a) and np.isnan(b):
            continue
        d = true_a[label] - true_b[label]
        possible = _consistent_differences(a, b, PTABLE, K)
        if not (np.isnan(a) or np.isnan(b)):  # (suppressed: < k, or hidden for its margin)
            assert d in possible, (label, a, b, d)  # the model of the attacker is right ...
        certain = len(possible) == 1 and 1 <= abs(next(iter(possible))) <= K - 1
        assert not certain, (pair, label, a, b, possible)  # ... and never certain of a small group
        small += 1 <= abs(d) <= K - 1
    if pair.startswith(("hour", "weekday", "category", "field")):
        assert _plain(shown_a) == _plain(shown_b)  # conference mode ignores these filters: identical exports


def test_the_attack_of_the_issue_is_defeated(viewer, model) -> None:
    """?s=gap&q=2026-Q3 against the same with &h=0-23: before, 19 cells differed by 1 to 4."""
    fa, fb = PAIRS["hour window 0-24 / 0-23"]
    # before: exact counts under each filter
    exact = replace(model, publisher=None)
    exact_a = geo_model.complaint_cell_counts(exact, fa)
    exact_b = geo_model.complaint_cell_counts(exact, fb)
    diff = exact_a - exact_b
    exposed = int(((exact_a >= K) & (exact_b >= K) & (diff >= 1) & (diff <= K - 1)).sum())
    assert exposed > 0  # the attack worked on exact counts
    shown_a, _ = exported(viewer, model, fa)
    shown_b, _ = exported(viewer, model, fb)
    assert _plain(shown_a) == _plain(shown_b)  # after: the hour window is not applied in conference mode


def test_the_same_records_give_the_same_number_in_every_view(viewer, model) -> None:
    views = [BASE, replace(BASE, hours=(6, 18)), replace(BASE, districts=("heessen",)),
             replace(BASE, districts=("heessen", "mitte")), replace(BASE, categories=("laerm",))]
    numbers = [exported(viewer, model, f)[0] for f in views]
    for one, two in combinations(numbers, 2):
        for label in one.keys() & two.keys():
            if label.startswith(("cell:", "district:")):  # a cell's records do not depend on these
                assert one[label] == two[label] or (np.isnan(one[label]) and np.isnan(two[label])), label
    # the trend's 2026-Q3 is the view total of a one-quarter view over all districts: same records
    assert numbers[0]["quarter:2026-Q3"] == numbers[0]["total:complaints"]
    # a quarter's number does not change with the period shown around it
    wide, _ = exported(viewer, model, Filters(Q("2025-Q3"), Q("2026-Q3")))
    assert wide["quarter:2026-Q3"] == numbers[0]["quarter:2026-Q3"]
    assert wide["quarter:2026-Q1"] == exported(viewer, model, Filters(Q("2026-Q1"), Q("2026-Q1")))[0][
        "quarter:2026-Q1"]


def test_published_numbers_stay_within_the_ptable(viewer, model) -> None:
    shown, true = exported(viewer, model, Filters(Q("2025-Q4"), Q("2026-Q3")))
    for label, v in shown.items():
        if np.isnan(v):
            assert true[label] < K or label.startswith(("district:", "quarter:")), label  # margins
            continue
        assert v >= K and abs(v - true[label]) <= PTABLE.d, (label, v, true[label])


@pytest.mark.parametrize(("count", "key", "expected"), [
    (100, 0.0, 98), (100, 0.099, 98), (100, 0.11, 99), (100, 0.31, 100), (100, 0.69, 100), (100, 0.71, 101),
    (100, 0.95, 102), (5, 0.0, 5), (5, 0.5, 5), (5, 0.6, 6), (5, 0.99, 7), (6, 0.0, 5), (6, 0.3, 6),
    (3, 0.5, 3),
])
def test_ptable_lookup(count, key, expected) -> None:
    assert int(PTABLE.perturb(np.array([count]), np.array([key]), 5)[0]) == expected


def test_ptable_rows_never_publish_below_k_and_every_value_has_two_sources() -> None:
    for k in (3, 5, 10):
        for n in range(k, k + 10):
            e, p = PTABLE.row(n, k)
            assert (n + e >= k).all() and abs(p.sum() - 1) < 1e-12
        for v in range(k, k + 10):
            assert len(PTABLE.sources(v, k)) >= 2


def test_record_keys_are_fixed_per_record_and_secret() -> None:
    ids = ["A-1", "A-2", "A-3", "B-9"]
    one = record_keys(ids, "geheim")
    assert np.array_equal(one, record_keys(ids, "geheim"))
    assert np.array_equal(one[[2, 0]], record_keys(["A-3", "A-1"], "geheim"))  # per record, not per position
    assert not np.array_equal(one, record_keys(ids, "anders"))
    assert ((one >= 0) & (one < 1)).all()
    keys = record_keys([f"X-{i}" for i in range(100_000)], "s")
    assert 0.49 < keys.mean() < 0.51  # uniform
    # sums are exact in any order: the cell key does not depend on how the view adds them up
    sums = [keys.sum(), keys[::-1].sum(), np.sort(keys).sum(), sum(keys.tolist())]
    assert len(set(cell_keys(sums).tolist())) == 1


def test_published_counts_suppress_below_k() -> None:
    out = published_counts([0, 3, 4, 5, 50], [0.2, 1.3, 2.5, 0.99, 7.0], 5)
    assert np.isnan(out[:3]).all() and out[3] == 7 and out[4] == 48


# --- the viewer's pages and exports (every number a logged-in viewer can see) --------------------
#
# A viewer's bundle carries the publisher (data.roles.restrict), and so does the spatial model
# built from it: every complaint and incident count on Übersicht, Lagebild, Bezirke, Beschwerden
# and Präsenz, in their charts and in their exports is published through the cell key method.
# ``viewer_numbers`` collects them by label (what records a number stands for); the attacker
# subtracts two views' numbers of the same label, knowing the ptable.

_VIEW_CACHE: dict = {}


def viewer_numbers(bundle, model, f: Filters, exact: bool = False) -> dict[str, float]:
    """Every complaint/incident number of the viewer's page data and exports for ``f``, by label
    (``exact``: the same view with exact numbers, the truth an attacker wants)."""
    import io

    import pandas as pd

    from data.roles import Principal as _P
    from viz import charts, gpkg, pagedata

    if exact:
        bundle, model = replace(bundle, publisher=None), replace(model, publisher=None)
    key = (id(bundle.frames), model.index.resolution, f, exact)
    if key in _VIEW_CACHE:
        return _VIEW_CACHE[key]
    lang = "en"
    shown: dict[str, float] = {}

    def put(label: str, value: object) -> None:
        v = float("nan") if value is None or pd.isna(value) else float(value)
        if label in shown and not (np.isnan(shown[label]) and np.isnan(v)):  # one record set, one number
            assert shown[label] == v, (label, shown[label], v)
        shown[label] = v

    kpis = pagedata.overview_kpis(bundle, model, f)  # Übersicht tiles (and the PDF's)
    for kpi in kpis:
        if kpi.key in ("complaints", "open_complaints", "staff_incidents"):
            put(f"kpi:{kpi.key}", kpi.current)
            if kpi.previous is not None:
                put(f"kpi_previous:{kpi.key}", kpi.previous)
    table = pagedata.district_table(bundle, model, f)  # Bezirke table, Lagebild choropleth
    for row in table.itertuples():
        for col in ("complaints", "previous", "open", "incidents"):
            put(f"district:{row.district_id}:{col}", getattr(row, col))
    csv = pd.read_csv(io.BytesIO(exports.csv_bytes(pagedata.display_district_table(table, lang), lang)),
                      encoding="utf-8-sig")  # the district CSV export
    for row_id, value in zip(table["district_id"], csv["Complaints"], strict=True):
        put(f"district:{row_id}:complaints", value)
    layers = gpkg.export_layers(bundle, model, f, _P("viewer"), lang=lang)  # the GeoPackage
    for row in layers[0].frame.itertuples():
        for col in ("complaints", "incidents"):
            value = getattr(row, col)
            if not pd.isna(value):  # (the GeoPackage hides more for its margin)
                put(f"district:{row.district_id}:{col}", value)
    for row in layers[1].frame.itertuples():
        if not pd.isna(row.complaints) and row.complaints > 0:
            put(f"cell:{row.h3}", row.complaints)
    series = pagedata.quarter_series(bundle, f)  # trend chart
    fig = charts.quarter_trend(series, lang)
    for label, value in zip(series["quarter_label"], fig.data[0].y, strict=True):
        put(f"quarter:{label}", value)
    for row in pagedata.category_counts(bundle, f, lang).itertuples():  # Beschwerden: fields chart
        put(f"category:{row.category_label}", row.count)
    for (d, h), value in np.ndenumerate(geo_model.weekday_hour(model, f)):  # weekday x hour heatmap
        put(f"weekhour:{d}:{h}", value)
    layers_data = pagedata.lagebild_data(bundle, model, f, lang, "complaints")  # the Lagebild map
    for row in layers_data.density.itertuples():
        put(f"cell:{row.h3}", row.value)
    for row in layers_data.districts.itertuples():
        put(f"district:{row.district_id}:complaints", row.value)
    for row in layers_data.incidents.itertuples():
        put(f"district:{row.district_id}:incidents", row.count)
    for row in layers_data.gap.itertuples():  # gap list (Präsenz table and CSV)
        put(f"cell:{row.h3}", row.complaints)
    geo = json.loads(exports.cells_geojson(pagedata.cell_export(bundle, model, f), ["complaints"]))
    for feat in geo["features"]:  # the cells GeoJSON / CSV export
        value = feat["properties"]["complaints"]
        if value is not None and value > 0:
            put(f"cell:{feat['id']}", value)
    district = "mitte"  # one district profile (Bezirke page)
    profile = pagedata.district_profile(bundle, model, f, district, lang)
    for row in profile.trend.itertuples():
        put(f"profile:{district}:quarter:{row.quarter_label}", row.value)
    for row in profile.categories.itertuples():
        put(f"profile:{district}:category:{row.category_label}", row.count)
    for kpi in profile.kpis:
        if kpi.key == "complaints":
            put(f"district:{district}:complaints", kpi.current)
    if exact:  # the truth of every cell (also those a view does not show)
        for h3_id, value in zip(model.index.cells, geo_model.complaint_cell_counts(model, f), strict=True):
            shown.setdefault(f"cell:{h3_id}", float(value))
    _VIEW_CACHE[key] = shown
    return shown


VIEWER_PAIRS = {
    "hour window 0-24 / 0-23": (BASE, replace(BASE, hours=(0, 23)), 9, 9),
    "hour window 0-24 / 22-6": (BASE, replace(BASE, hours=(22, 6)), 9, 9),
    "weekday all / Sunday": (BASE, replace(BASE, weekdays=(6,)), 9, 9),
    "weekday all / Mon-Sat": (BASE, replace(BASE, weekdays=(0, 1, 2, 3, 4, 5)), 9, 9),
    "category all / laerm": (BASE, replace(BASE, categories=("laerm",)), 9, 9),
    "category laerm / laerm+muell": (replace(BASE, categories=("laerm",)),
                                     replace(BASE, categories=("laerm", "muell")), 9, 9),
    "field all / one field": (BASE, replace(BASE, fields=("infrastruktur",)), 9, 9),
    "quarter Q3 / Q2-Q3": (BASE, Filters(Q("2026-Q2"), Q("2026-Q3")), 9, 9),
    "quarter Q3 / Q2": (BASE, Filters(Q("2026-Q2"), Q("2026-Q2")), 9, 9),
    "district all / heessen": (BASE, replace(BASE, districts=("heessen",)), 9, 9),
    "district heessen / heessen+mitte": (replace(BASE, districts=("heessen",)),
                                         replace(BASE, districts=("heessen", "mitte")), 9, 9),
    "resolution 9 / 8": (BASE, BASE, 9, 8),
    "resolution 9 / 10": (BASE, BASE, 9, 10),
}


@pytest.fixture(scope="module")
def viewer_models(viewer):
    assert viewer.publisher is not None  # restrict gave the viewer's bundle its publisher
    return {r: geo_model.build(viewer, r) for r in (8, 9, 10)}


def _sources(v: float, ptable: PTable, k: int) -> list[int]:
    """The true counts a shown value can stand for: NaN or below k (suppressed: shown empty or 0)
    is anything from 0 to k-1; from k on, the ptable's sources."""
    return list(range(k)) if np.isnan(v) or v < k else ptable.sources(int(v), k)


def viewer_attack(viewer, models, pair: str) -> dict[str, int]:
    """The attack on one pair: shared labels, exact differences 1..k-1 before (exact numbers, both
    at least k), certain after, and how often the naive guess (shown a - shown b) is right."""
    fa, fb, ra, rb = VIEWER_PAIRS[pair]
    sa, sb = viewer_numbers(viewer, models[ra], fa), viewer_numbers(viewer, models[rb], fb)
    ta = viewer_numbers(viewer, models[ra], fa, exact=True)
    tb = viewer_numbers(viewer, models[rb], fb, exact=True)
    out = {"shared": 0, "before_revealed": 0, "small": 0, "certain": 0, "naive_right": 0}
    for label, a, b, true_a, true_b in _comparable(sa, sb, ta, tb, ra, rb):
        group = isinstance(b, tuple)  # a coarse cell against its finer child cells
        if not group and (np.isnan(a) or a == 0) and (np.isnan(b) or b == 0):
            continue
        out["shared"] += 1
        d = true_a - true_b
        out["before_revealed"] += int(true_a >= K and true_b >= K and 1 <= abs(d) <= K - 1)
        b_sources = _sum_sources(b) if group else set(_sources(b, PTABLE, K))
        possible = {x - y for x in _sources(a, PTABLE, K) for y in b_sources}
        assert d in possible, (pair, label, a, b, true_a, true_b)  # the attacker's model is right
        out["certain"] += int(len(possible) == 1 and 1 <= abs(next(iter(possible))) <= K - 1)
        if 1 <= abs(d) <= K - 1:
            out["small"] += 1
            shown_b = float(np.nansum(b)) if group else b
            out["naive_right"] += int(a - shown_b == d)
    return out


def _sum_sources(children: tuple[float, ...]) -> set[int]:
    """The true totals a group of shown cells can stand for (each: its sources, or 0..k-1 when
    it is suppressed or not shown)."""
    totals = {0}
    for v in children:
        totals = {t + x for t in totals for x in _sources(v, PTABLE, K)}
    return totals


def _comparable(sa, sb, ta, tb, ra: int, rb: int):
    """(label, shown a, shown b, true a, true b) of the numbers an attacker can set against each
    other: the same label in both views; between two H3 resolutions also a cell of the coarser one
    against its child cells of the finer one (shown b: the children's shown values, a tuple)."""
    for label in sa.keys() & sb.keys():
        yield label, sa[label], sb[label], ta[label], tb[label]
    if ra == rb:
        return
    import h3

    fine, coarse = (sb, tb, rb), (sa, ta, ra)
    if rb < ra:
        fine, coarse = coarse, fine
    (s_f, t_f, _), (s_c, t_c, r_c) = fine, coarse
    children: dict[str, list[str]] = {}
    for label in t_f:
        if label.startswith("cell:"):
            children.setdefault(h3.cell_to_parent(label[5:], r_c), []).append(label)
    for parent, kids in children.items():
        label = f"cell:{parent}"
        if label not in t_c:
            continue
        shown_kids = tuple(s_f.get(kid, float("nan")) for kid in kids)
        if all(np.isnan(v) or v == 0 for v in shown_kids) and (np.isnan(s_c.get(label, np.nan))):
            continue
        yield label, s_c.get(label, float("nan")), shown_kids, t_c[label], sum(t_f[kid] for kid in kids)


@pytest.mark.parametrize("pair", list(VIEWER_PAIRS))
def test_viewer_pages_and_exports_withstand_differencing(viewer, viewer_models, pair) -> None:
    result = viewer_attack(viewer, viewer_models, pair)
    assert result["shared"] > 0
    assert result["certain"] == 0, (pair, result)


def test_the_viewer_attack_worked_on_exact_numbers(viewer, viewer_models) -> None:
    """Before: the same pairs on exact numbers revealed small groups (the attack is real)."""
    revealed = sum(viewer_attack(viewer, viewer_models, p)["before_revealed"] for p in
                   ("hour window 0-24 / 0-23", "weekday all / Mon-Sat", "quarter Q3 / Q2-Q3"))
    assert revealed > 0


def test_a_viewer_sees_the_same_number_for_the_same_records_everywhere(viewer, viewer_models) -> None:
    """Consistency: a district's, a cell's, a quarter's records give one number on every page and
    export (``viewer_numbers`` asserts that within a view), across views and in Präsentation."""
    m9 = viewer_models[9]
    base = viewer_numbers(viewer, m9, BASE)
    narrowed = viewer_numbers(viewer, m9, replace(BASE, districts=("heessen", "mitte")))
    for label in base.keys() & narrowed.keys():
        if label.startswith(("cell:", "district:")):  # records independent of the district filter
            both_hidden = np.isnan(base[label]) and np.isnan(narrowed[label])
            assert base[label] == narrowed[label] or both_hidden, label
    # a one-quarter view's total is that quarter's point of the trend; a district's total is its row
    assert base["kpi:complaints"] == base["quarter:2026-Q3"]
    one = viewer_numbers(viewer, m9, replace(BASE, districts=("mitte",)))
    assert one["kpi:complaints"] == base["district:mitte:complaints"] == base["profile:mitte:quarter:2026-Q3"]
    # the previous period of Q3 is Q2
    q2 = viewer_numbers(viewer, m9, Filters(Q("2026-Q2"), Q("2026-Q2")))
    assert base["kpi_previous:complaints"] == q2["kpi:complaints"]
    assert base["district:heessen:previous"] == q2["district:heessen:complaints"]
    # a cell does not change with the resolution of other pages' cells, nor with the period around it
    wide = viewer_numbers(viewer, m9, Filters(Q("2025-Q3"), Q("2026-Q3")))
    assert wide["quarter:2026-Q1"] == base["quarter:2026-Q1"]
    # Präsentation (same k, same secret) publishes the same district numbers
    anon = presentation.anonymise(viewer, m9, BASE, "en", K)
    for row in anon.districts.itertuples():
        if not np.isnan(row.complaints):
            assert row.complaints == base[f"district:{row.district_id}:complaints"], row.district_id
    assert anon.totals["complaints"] == base["kpi:complaints"]


def test_viewer_numbers_are_published_and_admin_numbers_exact(viewer, viewer_models) -> None:
    m9 = viewer_models[9]
    shown = viewer_numbers(viewer, m9, BASE)
    true = viewer_numbers(viewer, m9, BASE, exact=True)
    differ = 0
    for label, v in shown.items():
        if np.isnan(v) or v == 0:
            assert true[label] < K, (label, v, true[label])  # suppressed below k
            continue
        assert v >= K and abs(v - true[label]) <= PTABLE.d, (label, v, true[label])
        differ += v != true[label]
    assert differ > 0  # perturbed, not exact
    # an admin (no publisher) sees exact numbers
    admin = load_folder(REPO / "data" / "demo")
    assert restrict(admin, Principal("admin")).publisher is None
    assert restrict(admin, Principal("coordinator", ("mitte",))).publisher is None
