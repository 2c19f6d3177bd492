"""Values a bundle derives once from its small tables: category labels, district centres
and bounds (each computed on first use, the same as computing them afresh)."""

from __future__ import annotations

import pytest
import shapely

from data.folder import load_folder
from data.sources import DEMO_FOLDER


@pytest.fixture(scope="module")
def bundle():
    return load_folder(DEMO_FOLDER)


@pytest.mark.parametrize("lang, column", [("de", "label_de"), ("en", "label_en")])
def test_category_labels_per_language_and_a_copy_each_time(bundle, lang, column):
    cats = bundle["categories"]
    labels = bundle.category_labels(lang)
    assert labels == {c: (e if isinstance(e, str) else d) for c, e, d in
                      zip(cats["category"], cats[column], cats["label_de"], strict=True)}
    labels["laerm"] = "changed"
    assert bundle.category_labels(lang)["laerm"] != "changed"


def test_district_centres_lie_inside_their_districts(bundle):
    d = bundle["districts"].set_index("district_id")
    centres = bundle.district_centres()
    assert list(centres["district_id"]) == list(d.index)
    assert list(centres["name"]) == list(d["name"])
    for rec in centres.to_dict("records"):
        assert shapely.contains(d.loc[rec["district_id"], "geometry"], shapely.Point(rec["lon"], rec["lat"]))
    centres.loc[0, "lat"] = 0.0  # a copy: the next caller gets the real centres
    assert bundle.district_centres().loc[0, "lat"] != 0.0


@pytest.mark.parametrize("pick", [(), ("mitte",), ("mitte", "heessen"), ("heessen", "mitte")])
def test_district_bounds_are_the_bounds_of_the_selected_districts(bundle, pick):
    d = bundle["districts"]
    chosen = d if not pick else d[d["district_id"].isin(pick)]
    assert bundle.district_bounds(pick) == tuple(float(v) for v in
                                                 shapely.total_bounds(chosen["geometry"].to_numpy()))
    assert bundle.district_bounds(pick) == bundle.district_bounds(pick)


@pytest.mark.parametrize("quarters", [1, 4])
def test_incidents_by_district_counts_the_filtered_incidents_at_the_centres(bundle, quarters):
    from data.filters import Filters, incident_mask
    from viz import pagedata

    q = bundle.quarters()
    f = Filters(q[-quarters], q[-1])
    inc = bundle["staff_incidents"]
    expected = inc.loc[incident_mask(inc, f), "district_id"].value_counts()
    out = pagedata.incidents_by_district(bundle, f)
    assert dict(zip(out["district_id"], out["count"], strict=True)) == expected[expected > 0].to_dict()
    centres = bundle.district_centres().set_index("district_id")
    shown = out.set_index("district_id")[["lat", "lon"]]
    assert (shown == centres.loc[out["district_id"], ["lat", "lon"]]).all().all()
