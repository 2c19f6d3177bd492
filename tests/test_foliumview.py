"""ui.foliumview: one render of the folium tree sends what st_folium would send."""

from __future__ import annotations

import re

import pytest
import streamlit_folium as sf
from test_maps import bounds, districts, focus, full_map, offices  # noqa: F401 (fixtures)

from geo.a11y import make_accessible
from ui import foliumview

FOLIUM_ID = re.compile(r"_[0-9a-f]{32}")


def _recorded(monkeypatch) -> list[dict]:
    calls: list[dict] = []

    def record(**kwargs):
        kwargs.pop("on_change")  # a closure of each caller
        calls.append({k: FOLIUM_ID.sub("_ID", v) if isinstance(v, str) else v
                      for k, v in kwargs.items()})

    monkeypatch.setattr(sf, "_component_func", record)
    return calls


@pytest.mark.parametrize("lang", ["de", "en"])
def test_view_sends_what_st_folium_sends(monkeypatch, bounds, districts, offices, focus, lang):  # noqa: F811
    calls = _recorded(monkeypatch)
    for show in ("st_folium", "view"):
        m = make_accessible(full_map(bounds, districts, offices, focus, lang=lang, n_cells=300), lang)
        if show == "st_folium":
            sf.st_folium(m, key="lagebild_map", height=680, use_container_width=True,
                         returned_objects=[])
        else:
            foliumview.show_view(foliumview.build_view(m, "lagebild_map"), "lagebild_map", 680)
    reference, ours = calls
    assert ours["script"] == reference["script"]
    assert ours["header"] == reference["header"]
    assert ours == reference
    assert "lagebild/map_a11y.js" in " ".join(ours["js_links"])  # the a11y script is linked
    assert not [u for u in ours["js_links"] + ours["css_links"] if u.startswith("http")]  # offline


def test_view_renders_the_tree_once(monkeypatch, bounds, districts, offices, focus):  # noqa: F811
    import folium

    m = full_map(bounds, districts, offices, focus, n_cells=50)
    renders = []
    original = folium.Map.render

    def counting(self, **kwargs):
        renders.append(1)
        return original(self, **kwargs)

    monkeypatch.setattr(folium.Map, "render", counting)
    view = foliumview.build_view(m, "k")
    assert len(renders) == 1
    assert view.size > 0 and "L.map(" in view.script


def test_view_rejects_what_is_not_a_map() -> None:
    with pytest.raises(ValueError, match=r"folium\.Map"):
        foliumview.build_view("<div></div>", "k")  # type: ignore[arg-type]


def test_view_leaves_the_figures_script_unrendered(bounds, districts, offices, focus):  # noqa: F811
    """build_view renders the figure's header and html only (streamlit-folium makes the
    script itself); a full render afterwards, e.g. an export, still gets every script."""
    from geo import maps

    m = full_map(bounds, districts, offices, focus, n_cells=50)
    view = foliumview.build_view(m, "k")
    figure = m.get_root()
    assert len(figure.header._children) > 0 and len(figure.html._children) > 0
    assert len(figure.script._children) == 0
    assert maps._parts() == ("header", "html", "script")  # the switch is reset
    other = full_map(bounds, districts, offices, focus, n_cells=50)
    html = other.get_root().render()
    assert "L.map(" in html and html.count(".addTo(") >= view.script.count(".addTo(") > 0
