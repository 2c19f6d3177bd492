"""Colour checks for accessibility: WCAG contrast ratios and colour-vision-deficiency (CVD)
simulation of the map and chart palettes.

:func:`contrast_ratio` is the WCAG 2.1 formula (relative luminance of sRGB). :func:`cvd_report`
simulates protan, deutan and tritan vision (Machado et al. 2009, severity 100 = dichromacy)
with colorspacious (a test/documentation tool from requirements-dev.txt, imported only
here) and measures how far apart the colours stay in CAM02-UCS (ΔE; about 1 is a just
noticeable difference, legends need clearly more).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def rgb(color: str) -> tuple[float, float, float]:
    """'#00549f' -> (0, 84, 159) as floats 0..255."""
    m = _HEX.fullmatch(color.strip())
    if not m:
        raise ValueError(f"expected a colour like '#00549f', got {color!r}")
    h = m.group(1)
    return tuple(float(int(h[i:i + 2], 16)) for i in (0, 2, 4))  # type: ignore[return-value]


def blend(color: str, alpha: float, background: str) -> str:
    """``color`` with opacity ``alpha`` drawn over ``background`` (as a hex colour)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be within 0..1, got {alpha!r}")
    fg, bg = rgb(color), rgb(background)
    mixed = [round(alpha * f + (1 - alpha) * b) for f, b in zip(fg, bg, strict=True)]
    return "#" + "".join(f"{v:02x}" for v in mixed)


def relative_luminance(color: str) -> float:
    def channel(v: float) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1..21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


CVD_TYPES = ("protanomaly", "deuteranomaly", "tritanomaly")


def _simulate(colors: Sequence[str], cvd: str | None, severity: float):
    import numpy as np
    from colorspacious import cspace_convert

    srgb = np.array([rgb(c) for c in colors])
    if cvd is not None:
        space = {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": severity}
        srgb = np.clip(cspace_convert(srgb / 255, space, "sRGB1"), 0, 1) * 255
    return cspace_convert(srgb, "sRGB255", "CAM02-UCS")


def delta_e(colors: Sequence[str], cvd: str | None = None, severity: float = 100,
            adjacent: bool = True) -> float:
    """The smallest ΔE (CAM02-UCS) between adjacent colours (``adjacent``, for ordered
    scales) or between any two (classes), as seen with ``cvd`` (None: normal vision)."""
    import numpy as np

    if len(colors) < 2:
        raise ValueError(f"need at least two colours, got {list(colors)!r}")
    jab = _simulate(colors, cvd, severity)
    pairs = zip(range(len(colors) - 1), range(1, len(colors)), strict=True) if adjacent else \
        itertools.combinations(range(len(colors)), 2)
    return float(min(np.linalg.norm(jab[i] - jab[j]) for i, j in pairs))


def lightness_ordered(colors: Sequence[str], cvd: str | None = None, severity: float = 100) -> bool:
    """Whether lightness (J') changes monotonically along the scale (readable without hue)."""
    j = [float(v) for v in _simulate(colors, cvd, severity)[:, 0]]
    steps = [b - a for a, b in itertools.pairwise(j)]
    return all(s > 0 for s in steps) or all(s < 0 for s in steps)


def cvd_report(palettes: dict[str, tuple[Sequence[str], str]]) -> list[dict]:
    """Per palette (colours, kind: "scale", "diverging" or "classes") the smallest ΔE for
    normal vision and each CVD type; for sequential scales whether lightness stays ordered."""
    rows = []
    for name, (colors, kind) in palettes.items():
        if kind not in ("scale", "diverging", "classes"):
            raise ValueError(f"kind must be scale, diverging or classes, got {kind!r}")
        ordered = kind != "classes"
        row: dict = {"palette": name, "kind": kind, "n": len(colors),
                     "normal": round(delta_e(colors, None, adjacent=ordered), 1)}
        for cvd in CVD_TYPES:
            row[cvd] = round(delta_e(colors, cvd, adjacent=ordered), 1)
        if kind == "scale":
            row["lightness_ordered"] = all(lightness_ordered(colors, c) for c in (None, *CVD_TYPES))
        rows.append(row)
    return rows
