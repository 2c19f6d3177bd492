"""The demo city: a synthetic Lagebild modelled on Hamm (Westfalen).

Deterministic: the same seed and sizes give byte-identical data folders. Everything is
synthetic: district boundaries are a Voronoi partition of the real district centres clipped
to an approximate city outline; offices, teams, phone numbers, complaints, patrols and
incidents are invented (no real persons, numbers in the fictional 555 range).

Built-in structure that the analytics must find:

* a strong, steady complaint cluster around the main station (Bahnhofsquartier), well
  covered by KOD and joint patrols;
* an *emerging* cluster in a park in Bockum-Hövel that appears in the fifth quarter and
  grows, with no patrol route nearby (a presence gap);
* a *fading* cluster in Heessen that halves over the eight quarters (a diminishing hot spot),
  covered by a patrol route that is walked less as it fades;
* seasonal (summer evenings) and time-of-day patterns per category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Point, Polygon

from data.contracts import TZ

DEFAULT_SEED = 20241001
DEFAULT_COMPLAINTS = 40_000
DEFAULT_PINGS = 600_000
START = pd.Timestamp("2024-10-01")  # first day of 2024-Q4, local time
N_QUARTERS = 8
N_DAYS = (pd.Timestamp("2026-10-01") - START).days  # 2024-Q4 .. 2026-Q3

# Approximate outline of Hamm (lon, lat), clockwise from the west.
CITY_OUTLINE = Polygon([
    (7.680, 51.665), (7.700, 51.700), (7.722, 51.726), (7.760, 51.737), (7.800, 51.744),
    (7.850, 51.741), (7.890, 51.729), (7.930, 51.713), (7.975, 51.701), (8.020, 51.681),
    (8.016, 51.651), (7.986, 51.628), (7.941, 51.614), (7.901, 51.597), (7.860, 51.589),
    (7.820, 51.601), (7.780, 51.617), (7.740, 51.624), (7.705, 51.640),
])

# Stadtbezirke: id, name, centre (lon, lat), population (approx., 2023 scale).
DISTRICTS = [
    ("mitte", "Mitte", (7.815, 51.677), 54_800),
    ("uentrop", "Uentrop", (7.950, 51.660), 27_400),
    ("rhynern", "Rhynern", (7.870, 51.622), 16_900),
    ("pelkum", "Pelkum", (7.745, 51.643), 17_200),
    ("herringen", "Herringen", (7.712, 51.668), 16_100),
    ("bockum-hoevel", "Bockum-Hövel", (7.752, 51.706), 33_600),
    ("heessen", "Heessen", (7.842, 51.710), 20_900),
]

STATION = (7.8076, 51.6783)  # Hamm (Westf) Hbf
EMERGING = (7.7385, 51.6990)  # park in Bockum-Hövel
FADING = (7.8390, 51.7135)  # square in Heessen

CATEGORIES = [
    # category, field, label_de, label_en
    ("laerm", "nachbarschaft", "Lärmbelästigung", "Noise nuisance"),
    ("nachbarschaftsstreit", "nachbarschaft", "Nachbarschaftskonflikt", "Neighbour dispute"),
    ("hunde", "nachbarschaft", "Hunde ohne Leine / Hundekot", "Dogs off leash / dog waste"),
    ("trinkgelage", "oeffentliche_raeume", "Alkoholkonsum im öffentlichen Raum", "Public drinking"),
    ("drogen", "oeffentliche_raeume", "Drogenkonsum", "Drug use"),
    ("bettelei", "oeffentliche_raeume", "Aggressives Betteln", "Aggressive begging"),
    ("belaestigung", "oeffentliche_raeume", "Belästigung", "Harassment"),
    ("unsicherheit", "oeffentliche_raeume", "Unsicherheitsgefühl (Angstraum)", "Feeling unsafe"),
    ("muell", "infrastruktur", "Wilder Müll", "Illegal dumping"),
    ("parken", "infrastruktur", "Falschparken", "Illegal parking"),
    ("vandalismus", "infrastruktur", "Vandalismus / Graffiti", "Vandalism / graffiti"),
    ("beleuchtung", "infrastruktur", "Beleuchtung defekt", "Broken street lighting"),
]
CAT_NAMES = [c[0] for c in CATEGORIES]

# Hour-of-day profile per category: list of (peak hour, width in hours, weight).
HOURS = {
    "laerm": [(23, 2.0, 1.0), (14, 3.0, 0.2)],
    "nachbarschaftsstreit": [(18, 3.0, 1.0)],
    "hunde": [(8, 1.5, 0.8), (18, 2.0, 1.0)],
    "trinkgelage": [(20, 2.5, 1.0)],
    "drogen": [(17, 4.0, 1.0)],
    "bettelei": [(13, 3.0, 1.0)],
    "belaestigung": [(20, 3.0, 1.0)],
    "unsicherheit": [(21, 2.0, 1.0)],
    "muell": [(11, 3.0, 1.0)],
    "parken": [(9, 2.0, 1.0), (16, 2.0, 0.8)],
    "vandalismus": [(1, 2.5, 1.0)],
    "beleuchtung": [(19, 2.0, 1.0)],
}
SUMMER_STRONG = {"laerm", "trinkgelage", "muell", "belaestigung", "drogen"}
WEEKEND_STRONG = {"laerm", "trinkgelage", "vandalismus", "belaestigung"}

DESCRIPTIONS = {
    "laerm": ["Laute Musik bis in die Nacht", "Lärm durch Feiernde", "Ruhestörung im Innenhof"],
    "nachbarschaftsstreit": ["Streit im Treppenhaus", "Konflikt um Mülltonnen"],
    "hunde": ["Hunde laufen ohne Leine", "Hundekot auf dem Spielplatz"],
    "trinkgelage": ["Gruppe trinkt Alkohol, hinterlässt Flaschen", "Trinkergruppe am Platz"],
    "drogen": ["Drogenkonsum im Hauseingang", "Spritzen im Gebüsch gefunden"],
    "bettelei": ["Aggressives Ansprechen von Passanten", "Betteln am Eingang"],
    "belaestigung": ["Passanten werden angepöbelt", "Belästigung an der Haltestelle"],
    "unsicherheit": ["Dunkle Unterführung, fühle mich unsicher", "Angstraum am Abend"],
    "muell": ["Sperrmüll illegal abgestellt", "Müllsäcke am Straßenrand"],
    "parken": ["Geh- und Radweg zugeparkt", "Parken in der Feuerwehrzufahrt"],
    "vandalismus": ["Graffiti an der Fassade", "Bank beschädigt"],
    "beleuchtung": ["Laterne defekt", "Weg ohne Beleuchtung"],
}
STREETS = ["Bahnhofstraße", "Weststraße", "Oststraße", "Nordstraße", "Südstraße", "Marktplatz",
           "Kirchweg", "Parkstraße", "Schulstraße", "Lindenallee", "Am Kanal", "Lippestraße"]


@dataclass(frozen=True)
class Cluster:
    """A complaint cluster: centre, spread (m), share of all complaints, quarter weights."""

    name: str
    centre: tuple[float, float]
    sigma_m: float
    share: float
    quarters: tuple[float, ...]
    categories: dict[str, float]


CLUSTERS = [
    Cluster("station", STATION, 170, 0.17, (1, 1, 1.05, 1.05, 1.1, 1.1, 1.15, 1.15),
            {"drogen": 3, "trinkgelage": 3, "bettelei": 2, "belaestigung": 2, "muell": 1,
             "unsicherheit": 1}),
    Cluster("centre", (7.8165, 51.6808), 230, 0.06, (1,) * 8,
            {"trinkgelage": 2, "bettelei": 2, "vandalismus": 1, "parken": 1, "laerm": 1}),
    Cluster("emerging", EMERGING, 150, 0.06, (0, 0, 0, 0, 0.25, 0.55, 0.85, 1.2),
            {"trinkgelage": 3, "laerm": 2, "muell": 2, "drogen": 1, "vandalismus": 1}),
    # Fades steadily but stays a (weakening) hot spot: ArcGIS "diminishing".
    Cluster("fading", FADING, 150, 0.05, (1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7),
            {"laerm": 2, "vandalismus": 2, "belaestigung": 1, "trinkgelage": 1}),
    Cluster("dumping", (7.9440, 51.6560), 260, 0.03, (1,) * 8, {"muell": 4, "parken": 1}),
]
BACKGROUND_MIX = {"laerm": 22, "nachbarschaftsstreit": 8, "hunde": 6, "muell": 17, "parken": 18,
                  "vandalismus": 8, "beleuchtung": 6, "trinkgelage": 6, "belaestigung": 4,
                  "drogen": 2, "bettelei": 2, "unsicherheit": 1}

# Patrol routes: (id, kind weights, district, speed m/s, waypoints lon/lat, share of patrols)
ROUTES = [
    ("bahnhof", {"kod": 0.5, "joint": 0.5}, "mitte", 1.2,
     [(7.8040, 51.6770), (7.8110, 51.6768), (7.8118, 51.6798), (7.8050, 51.6802)], 0.30),
    ("innenstadt", {"kod": 0.7, "joint": 0.3}, "mitte", 1.3,
     [(7.8080, 51.6790), (7.8200, 51.6795), (7.8210, 51.6830), (7.8100, 51.6835)], 0.18),
    ("heessen", {"kod": 1.0}, "heessen", 1.3,
     [(7.8340, 51.7110), (7.8440, 51.7110), (7.8440, 51.7160), (7.8340, 51.7160)], 0.12),
    ("bockum", {"kod": 1.0}, "bockum-hoevel", 1.3,
     [(7.7540, 51.7060), (7.7640, 51.7060), (7.7640, 51.7110), (7.7540, 51.7110)], 0.08),
    ("uentrop", {"kod": 1.0}, "uentrop", 1.3,
     [(7.9380, 51.6530), (7.9500, 51.6530), (7.9500, 51.6590), (7.9380, 51.6590)], 0.07),
    ("herringen", {"kod": 1.0}, "herringen", 1.3,
     [(7.7080, 51.6650), (7.7200, 51.6650), (7.7200, 51.6710), (7.7080, 51.6710)], 0.05),
    ("streife-mitte", {"police": 1.0}, "mitte", 6.0,
     [(7.7950, 51.6700), (7.8350, 51.6700), (7.8450, 51.6900), (7.8000, 51.6950)], 0.12),
    ("streife-sued", {"police": 1.0}, "rhynern", 7.0,
     [(7.8300, 51.6500), (7.8800, 51.6250), (7.9000, 51.6400), (7.8500, 51.6600)], 0.08),
]
# The Heessen route is walked less once the cluster fades (quarter weights).
ROUTE_QUARTERS = {"heessen": (1.4, 1.4, 1.2, 1.0, 0.7, 0.5, 0.4, 0.4)}


def _local_xy(lon: np.ndarray, lat: np.ndarray, origin: tuple[float, float]):
    k = np.cos(np.radians(origin[1]))
    return (lon - origin[0]) * 111_320.0 * k, (lat - origin[1]) * 110_540.0


def _from_local(x: np.ndarray, y: np.ndarray, origin: tuple[float, float]):
    k = np.cos(np.radians(origin[1]))
    return origin[0] + x / (111_320.0 * k), origin[1] + y / 110_540.0


def build_districts() -> pd.DataFrame:
    centres = MultiPoint([d[2] for d in DISTRICTS])
    cells = shapely.voronoi_polygons(centres, extend_to=CITY_OUTLINE.buffer(0.1), ordered=True)
    rows = []
    for k, (did, name, _centre, pop) in enumerate(DISTRICTS):
        geom = shapely.intersection(cells.geoms[k], CITY_OUTLINE)
        rows.append({
            "district_id": did,
            "name": name,
            "geometry": geom,
            "population": pop,
            "parent_id": None,
            "team_name": f"Bezirksteam {name}",
            "team_lead": f"Teamleitung KOD {name}",
            "phone": f"02381 555-01{k + 1:02d}",
            "email": f"bezirksteam-{did}@hamm.example",
        })
    return pd.DataFrame(rows)


def build_offices() -> pd.DataFrame:
    rows = [
        ("O-01", "Citywache Hamm", "citywache", 51.6792, 7.8098, "city", "Bahnhofsvorplatz 3, 59065 Hamm",
         "02381 555-0200", "Mo-Sa 09:00-20:30", 14),
        ("O-02", "KOD-Büro Heessen", "kod_office", 51.7118, 7.8405, "city", "Heessener Markt 1, 59073 Hamm",
         "02381 555-0210", "Mo-Fr 08:00-16:00", 4),
        ("O-03", "KOD-Büro Bockum-Hövel", "kod_office", 51.7082, 7.7601, "city",
         "Hammer Straße 10, 59075 Hamm", "02381 555-0220", "Mo-Th 08:00-16:00; Fr 08:00-13:00", 4),
        ("O-04", "KOD-Büro Herringen/Pelkum", "kod_office", 51.6671, 7.7155, "city",
         "Dortmunder Straße 5, 59077 Hamm", "02381 555-0230", "Tu,Th 09:00-15:00", 3),
        ("O-05", "Polizeiwache Hamm-Mitte", "police_station", 51.6825, 7.8190, "police",
         "Hohe Straße 20, 59065 Hamm", "02381 555-0300", "24/7", 40),
        ("O-06", "Polizeiwache Bockum-Hövel", "police_station", 51.7035, 7.7490, "police",
         "Bahnhofstraße 4, 59075 Hamm", "02381 555-0310", "24/7", 18),
    ]
    cols = ["office_id", "name", "kind", "lat", "lon", "operator", "address", "phone",
            "opening_hours", "staff"]
    return pd.DataFrame(rows, columns=cols)


def build_categories() -> pd.DataFrame:
    return pd.DataFrame(CATEGORIES, columns=["category", "field", "label_de", "label_en"])


def build_focus_areas() -> pd.DataFrame:
    sx, sy = STATION
    station_quarter = Polygon([(sx - 0.0055, sy - 0.0022), (sx + 0.0060, sy - 0.0025),
                               (sx + 0.0068, sy + 0.0030), (sx - 0.0050, sy + 0.0032)])
    tunnel = Polygon([(7.8088, 51.6800), (7.8102, 51.6800), (7.8102, 51.6812), (7.8088, 51.6812)])
    return pd.DataFrame([
        {"area_id": "F-01", "name": "Bahnhofsquartier", "kind": "schwerpunkt",
         "geometry": station_quarter, "since": pd.Timestamp("2024-10-01", tz=TZ), "until": None},
        {"area_id": "F-02", "name": "Unterführung Bahnhof Nord", "kind": "angstraum",
         "geometry": tunnel, "since": pd.Timestamp("2025-01-15", tz=TZ), "until": None},
    ])


def _day_weights(cats: str, quarters: tuple[float, ...]) -> np.ndarray:
    """Weight of each day for a category in a cluster: quarter x season x weekday."""
    days = pd.date_range(START, periods=N_DAYS, freq="D")
    q_index = ((days.year - START.year) * 12 + days.month - START.month) // 3
    w = np.asarray(quarters, dtype=float)[q_index]
    amp = 0.45 if cats in SUMMER_STRONG else 0.12
    w = w * (1 + amp * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 200) / 365.25))
    if cats in WEEKEND_STRONG:
        w = w * np.where(days.day_of_week.to_numpy() >= 4, 1.6, 1.0)
    elif cats == "parken":
        w = w * np.where(days.day_of_week.to_numpy() >= 5, 0.5, 1.0)
    return w / w.sum()


def _hour_weights(cat: str) -> np.ndarray:
    h = np.arange(24)
    w = np.full(24, 0.03)
    for peak, width, weight in HOURS[cat]:
        d = np.minimum(np.abs(h - peak), 24 - np.abs(h - peak))
        w += weight * np.exp(-0.5 * (d / width) ** 2)
    return w / w.sum()


def _sample_points(rng, n: int, centre, sigma_m: float, inside: Polygon) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian points around a centre, redrawn until every point lies inside ``inside``."""
    lon = np.empty(n)
    lat = np.empty(n)
    todo = np.arange(n)
    shapely.prepare(inside)
    while todo.size:
        x = rng.normal(0, sigma_m, todo.size)
        y = rng.normal(0, sigma_m, todo.size)
        lo, la = _from_local(x, y, centre)
        ok = shapely.contains_xy(inside, lo, la)
        lon[todo[ok]] = lo[ok]
        lat[todo[ok]] = la[ok]
        todo = todo[~ok]
    return lon, lat


def _local_times(rng, day_index: np.ndarray, hour: np.ndarray) -> pd.Series:
    seconds = hour * 3600 + rng.integers(0, 3600, day_index.size)
    naive = START + pd.to_timedelta(day_index, unit="D") + pd.to_timedelta(seconds, unit="s")
    local = pd.DatetimeIndex(naive).tz_localize(
        TZ, ambiguous=np.zeros(day_index.size, dtype=bool), nonexistent="shift_forward"
    )
    return pd.Series(local.as_unit("s"))


def build_complaints(rng, n: int, districts: pd.DataFrame) -> pd.DataFrame:
    shares = np.array([c.share for c in CLUSTERS])
    n_cluster = np.floor(shares * n).astype(int)
    n_background = n - n_cluster.sum()
    pops = districts["population"].to_numpy(dtype=float)
    n_district = rng.multinomial(n_background, pops / pops.sum())
    parts = []
    groups: list[tuple[int, tuple, float, Polygon, dict[str, float], tuple[float, ...]]] = []
    for c, k in zip(CLUSTERS, n_cluster, strict=True):
        groups.append((int(k), c.centre, c.sigma_m, CITY_OUTLINE, c.categories, c.quarters))
    for (_did, _name, centre, _pop), k, geom in zip(DISTRICTS, n_district, districts["geometry"],
                                                   strict=True):
        spread = float(np.sqrt(geom.area) * 111_000 * 0.35)
        groups.append((int(k), centre, spread, geom, BACKGROUND_MIX, (1.0,) * 8))
    for k, centre, sigma, inside, cat_mix, quarters in groups:
        if k == 0:
            continue
        lon, lat = _sample_points(rng, k, centre, sigma, inside)
        names = np.array(list(cat_mix))
        p = np.array(list(cat_mix.values()), dtype=float)
        cats = rng.choice(names, size=k, p=p / p.sum())
        day = np.empty(k, dtype=np.int64)
        hour = np.empty(k, dtype=np.int64)
        for cat in np.unique(cats):
            sel = np.flatnonzero(cats == cat)
            day[sel] = rng.choice(N_DAYS, size=sel.size, p=_day_weights(cat, quarters))
            hour[sel] = rng.choice(24, size=sel.size, p=_hour_weights(cat))
        parts.append(pd.DataFrame({"lon": lon, "lat": lat, "category": cats, "day": day,
                                   "hour": hour}))
    df = pd.concat(parts, ignore_index=True)
    received = _local_times(rng, df["day"].to_numpy(), df["hour"].to_numpy())
    order = np.argsort(received.to_numpy(), kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    received = received.iloc[order].reset_index(drop=True)
    n = len(df)
    end = pd.Timestamp(START + pd.Timedelta(days=N_DAYS), tz=TZ)
    age_days = ((end - received).dt.total_seconds() / 86400).to_numpy()
    u = rng.random(n)
    status = np.where(age_days < 14, np.where(u < 0.55, "open", np.where(u < 0.8, "in_progress",
                                                                            "closed")),
                      np.where(u < 0.015, "open", np.where(u < 0.03, "in_progress", "closed")))
    close_after = pd.to_timedelta(np.round(rng.exponential(3.0, n) * 86400 + 1800), unit="s")
    closed_at = (received + close_after).where(status == "closed", pd.NaT)
    closed_at = closed_at.where(closed_at < end, end - pd.Timedelta(seconds=1))
    closed_at = closed_at.where(status == "closed", pd.NaT)
    sources = rng.choice(["phone", "online", "police", "patrol"], size=n, p=[0.35, 0.4, 0.15, 0.1])
    desc_idx = rng.integers(0, 1000, n)
    cats = df["category"].to_numpy()
    descriptions = np.empty(n, dtype=object)
    for cat in np.unique(cats):
        sel = cats == cat
        options = np.array(DESCRIPTIONS[cat], dtype=object)
        descriptions[sel] = options[desc_idx[sel] % len(options)]
    streets = np.array(STREETS, dtype=object)[rng.integers(0, len(STREETS), n)]
    numbers = rng.integers(1, 120, n).astype(str)
    addresses = streets + " " + numbers.astype(object)
    field_of = {c[0]: c[1] for c in CATEGORIES}
    return pd.DataFrame({
        "complaint_id": [f"B-{i:07d}" for i in range(1, n + 1)],
        "received_at": received,
        "category": cats,
        "lat": np.round(df["lat"].to_numpy(), 6),
        "lon": np.round(df["lon"].to_numpy(), 6),
        "field": [field_of[c] for c in cats],
        "description": descriptions,
        "address": addresses,
        "status": status,
        "closed_at": closed_at.dt.as_unit("s"),
        "source": sources,
    })


def _route_geometry(waypoints):
    origin = waypoints[0]
    pts = np.array([*waypoints, waypoints[0]])
    x, y = _local_xy(pts[:, 0], pts[:, 1], origin)
    seg = np.hypot(np.diff(x), np.diff(y))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return origin, x, y, cum


def build_patrols(rng, n_pings: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patrols and their GPS pings (every 30-60 s) along looped routes."""
    mean_pings = 3 * 3600 / 45  # 3 h at one ping per 45 s
    n_patrols = max(1, round(n_pings / mean_pings))
    shares = np.array([r[5] for r in ROUTES])
    route_idx = rng.choice(len(ROUTES), size=n_patrols, p=shares / shares.sum())
    # Days by quarter weight of the route.
    day = np.empty(n_patrols, dtype=np.int64)
    for r, route in enumerate(ROUTES):
        sel = np.flatnonzero(route_idx == r)
        weights = ROUTE_QUARTERS.get(route[0], (1.0,) * 8)
        day[sel] = rng.choice(N_DAYS, size=sel.size, p=_day_weights("route", weights))
    kinds = np.empty(n_patrols, dtype=object)
    for r, route in enumerate(ROUTES):
        sel = np.flatnonzero(route_idx == r)
        names = list(route[1])
        p = np.array(list(route[1].values()), dtype=float)
        kinds[sel] = rng.choice(names, size=sel.size, p=p / p.sum())
    start_hour = np.where(kinds == "police", rng.integers(0, 24, n_patrols),
                          np.where(kinds == "joint", rng.integers(15, 21, n_patrols),
                                   rng.integers(9, 19, n_patrols)))
    start = _local_times(rng, day, start_hour)
    # Pings per patrol so that the total is exactly n_pings.
    raw = rng.uniform(0.6, 1.4, n_patrols)
    counts = np.floor(raw / raw.sum() * n_pings).astype(np.int64)
    counts[: n_pings - counts.sum()] += 1
    counts = np.maximum(counts, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(n_patrols), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(total) - first[owner]
    dt = rng.integers(30, 61, total).astype(np.int64)
    dt[pos == 0] = 0
    # One patrol in five takes a break of 8-20 minutes halfway (a gap that dosage drops).
    has_break = rng.random(n_patrols) < 0.2
    break_len = rng.integers(8 * 60, 20 * 60, n_patrols)
    at_break = has_break[owner] & (pos == counts[owner] // 2) & (pos > 0)
    dt[at_break] += break_len[owner[at_break]]
    elapsed = np.cumsum(dt)
    elapsed -= np.repeat(elapsed[first[counts > 0]], counts[counts > 0])
    walking = elapsed.astype(float).copy()
    walking[pos >= (counts[owner] // 2)] -= np.where(has_break, break_len, 0)[owner][
        pos >= (counts[owner] // 2)]
    lon = np.empty(total)
    lat = np.empty(total)
    phase = rng.uniform(0, 1, n_patrols)
    for r, route in enumerate(ROUTES):
        sel = np.flatnonzero(route_idx[owner] == r)
        if sel.size == 0:
            continue
        origin, x, y, cum = _route_geometry(route[4])
        length = cum[-1]
        d = (walking[sel] * route[3] + phase[owner[sel]] * length) % length
        px = np.interp(d, cum, x) + rng.normal(0, 6, sel.size)
        py = np.interp(d, cum, y) + rng.normal(0, 6, sel.size)
        lon[sel], lat[sel] = _from_local(px, py, origin)
    start_s = start.dt.as_unit("s").astype("int64").to_numpy()
    times = start_s[owner] + elapsed
    time_col = pd.to_datetime(times, unit="s", utc=True).tz_convert(TZ)
    ids = np.array([f"S-{i:06d}" for i in range(1, n_patrols + 1)], dtype=object)
    last = np.full(n_patrols, 0, dtype=np.int64)
    nz = counts > 0
    last[nz] = elapsed[first[nz] + counts[nz] - 1]
    end_s = start_s + last
    staff = np.where(kinds == "joint", 3, 2)
    patrols = pd.DataFrame({
        "patrol_id": ids,
        "start": pd.to_datetime(start_s, unit="s", utc=True).tz_convert(TZ),
        "end": pd.to_datetime(end_s, unit="s", utc=True).tz_convert(TZ),
        "kind": kinds,
        "unit": [ROUTES[r][0] for r in route_idx],
        "staff": staff,
        "district_id": [ROUTES[r][2] for r in route_idx],
    })
    pings = pd.DataFrame({
        "patrol_id": pd.Categorical.from_codes(owner, categories=ids),
        "time": time_col,
        "lat": np.round(lat, 6),
        "lon": np.round(lon, 6),
    })
    return patrols, pings


def build_staff_incidents(rng, n: int) -> pd.DataFrame:
    near_station = int(n * 0.6)
    lon1, lat1 = _sample_points(rng, near_station, STATION, 200, CITY_OUTLINE)
    lon2, lat2 = _sample_points(rng, n - near_station, (7.815, 51.680), 2500, CITY_OUTLINE)
    lon = np.concatenate([lon1, lon2])
    lat = np.concatenate([lat1, lat2])
    day = rng.integers(0, N_DAYS, n)
    hour = rng.choice(24, size=n, p=_hour_weights("belaestigung"))
    occurred = _local_times(rng, day, hour)
    order = np.argsort(occurred.to_numpy(), kind="stable")
    kind = rng.choice(["verbal", "threat", "physical"], size=n, p=[0.6, 0.25, 0.15])
    return pd.DataFrame({
        "incident_id": [f"V-{i:05d}" for i in range(1, n + 1)],
        "occurred_at": occurred.iloc[order].reset_index(drop=True),
        "kind": kind,
        "lat": np.round(lat[order], 6),
        "lon": np.round(lon[order], 6),
        "during": rng.choice(["kod_patrol", "joint_patrol", "office"], size=n, p=[0.5, 0.2, 0.3]),
        "injured": (kind == "physical") & (rng.random(n) < 0.5),
        "reported_to_police": (kind != "verbal") | (rng.random(n) < 0.2),
    })


def generate(seed: int = DEFAULT_SEED, complaints: int = DEFAULT_COMPLAINTS,
             pings: int = DEFAULT_PINGS) -> tuple[dict[str, pd.DataFrame], dict]:
    """All eight data sets of the demo city, plus its metadata."""
    if complaints < 0 or pings < 0:
        raise ValueError(f"sizes must not be negative, got complaints={complaints!r}, pings={pings!r}")
    rng = np.random.default_rng(seed)
    districts = build_districts()
    frames = {
        "districts": districts,
        "offices": build_offices(),
        "categories": build_categories(),
        "focus_areas": build_focus_areas(),
        "complaints": build_complaints(rng, complaints, districts),
    }
    frames["patrols"], frames["patrol_points"] = build_patrols(rng, pings)
    frames["staff_incidents"] = build_staff_incidents(rng, max(40, complaints // 250))
    meta = {
        "name": "Hamm (Demo)",
        "city": "Hamm",
        "synthetic": True,
        "seed": seed,
        "complaints": complaints,
        "pings": pings,
        "note": "Synthetic demo data modelled on Hamm; no real persons or events.",
    }
    return frames, meta


def city_outline() -> Polygon:
    return CITY_OUTLINE


def point(lonlat: tuple[float, float]) -> Point:
    return Point(lonlat)
