"""Map and chart palettes under colour-vision deficiency (CVD) simulation, and legend contrast.

    .venv/bin/python scripts/palette_check.py

Prints, per palette, the smallest colour difference (ΔE in CAM02-UCS) between adjacent steps
of a scale or between any two classes, for normal vision and simulated protan, deutan and
tritan dichromacy (colorspacious, severity 100), and whether the scale's lightness stays
ordered. The last line is one JSON object with the rows. README.md quotes the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo import maps
from viz import charts
from viz.colors import CVD_TYPES, cvd_report


def palettes() -> dict[str, tuple[tuple[str, ...], str]]:
    out: dict[str, tuple[tuple[str, ...], str]] = {
        name: (colors, "scale") for name, colors in maps.PALETTES.items()}
    out["trend (map)"] = (maps.TREND_COLORS, "diverging")
    out["hot spots (Gi*)"] = (tuple(maps.HOTSPOT_COLORS[c] for c in maps.HOTSPOT_CLASSES), "diverging")
    out["emerging classes"] = (tuple(maps.EMERGING_COLORS[c] for c in maps.EMERGING_CLASSES), "classes")
    out["Okabe-Ito (series)"] = (charts.OKABE_ITO, "classes")
    out["patrol kinds (charts)"] = (tuple(charts.KIND_COLORS.values()), "classes")
    out["Masterplan fields (charts)"] = (tuple(charts.FIELD_COLORS.values()), "classes")
    return out


def main() -> int:
    rows = cvd_report(palettes())
    head = f"{'palette':28} {'kind':9} {'n':>2} {'normal':>7} " + " ".join(f"{c[:6]:>7}" for c in CVD_TYPES)
    print(head + "  lightness ordered")
    for r in rows:
        print(f"{r['palette']:28} {r['kind']:9} {r['n']:>2} {r['normal']:>7} "
              + " ".join(f"{r[c]:>7}" for c in CVD_TYPES) + f"  {r.get('lightness_ordered', '')}")
    print(json.dumps(rows, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
