"""The Lagebild map as exported (HTML, PNG) and its alt text.

The exported file holds aggregates only: never the single-complaint layer, even when the
page shows it. Its alt text therefore names the layers of the *exported* map as it opens,
not those of the page.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium

from base.i18n import t
from data.filters import Filters
from data.folder import DataBundle
from geo.model import SpatialModel
from viz import pagedata


def lagebild_export(bundle: DataBundle, model: SpatialModel, f: Filters, lang: str, tiles: str, *,
                    metric: str, layers: Sequence[str], scope: str) -> tuple[folium.Map, str]:
    """(map, alt text): the Lagebild map with ``layers`` shown except ``points``; the alt text
    names exactly the layers the exported map shows."""
    m = pagedata.lagebild_map(bundle, model, f, lang, tiles, metric=metric)
    in_file = pagedata.show_lagebild_layers(m, [k for k in layers if k != "points"], lang)
    alt = t("lagebild.map_alt", lang, scope=scope, metric=t(f"metric.{metric}", lang),
            layers=", ".join(in_file) or "–")
    return m, alt
