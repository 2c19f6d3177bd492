"""Roles and what each may see: restrictions applied to the data itself.

Three roles (design.md section 6):

- ``viewer`` (mayor's office): aggregates and maps of all districts (or of the districts
  configured for them); no free text of complaints (descriptions, addresses).
- ``coordinator`` (district team lead): everything of *their* districts, including raw
  complaint points and their details; nothing of any other district.
- ``admin`` (city IT): everything, all districts, and the imports (Daten page).

A :class:`Principal` is who is logged in with their role and districts. It comes from the
logged-in identity (never from the URL) through a :class:`RoleConfig`, a mapping of e-mail
addresses and groups to roles and districts read from configuration (see
:func:`parse_role_config`). :func:`restrict` applies a principal to a
:class:`~data.folder.DataBundle` *before* any page sees it: rows of other districts are
dropped and raw text is blanked, so no filter, URL or export can reach them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from data.folder import DataBundle
from data.privacy import publisher_for

ROLES = ("viewer", "coordinator", "admin")
#: Columns of complaints that carry free text about people or places; blanked for viewers.
RAW_TEXT_COLUMNS = ("description", "address")
#: Data sets whose rows belong to one district (by the computed ``district_id``).
DISTRICT_ROWS = ("complaints", "staff_incidents", "offices")


def check_role(role: object) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    return str(role)


@dataclass(frozen=True)
class Principal:
    """Who is looking: a role and the districts they may see (``None``: all districts).

    ``authenticated`` is False for the local single-user mode (no login configured).
    """

    role: str
    districts: tuple[str, ...] | None = None
    email: str | None = None
    name: str | None = None
    authenticated: bool = False

    def __post_init__(self) -> None:
        check_role(self.role)
        if self.districts is not None:
            if isinstance(self.districts, str) or not all(
                    isinstance(d, str) and d for d in self.districts):
                raise ValueError(f"districts must be a tuple of district ids, got {self.districts!r}")
            object.__setattr__(self, "districts", tuple(dict.fromkeys(self.districts)))
        if self.role == "admin" and self.districts is not None:
            raise ValueError(f"an admin sees all districts; districts must be None, got {self.districts!r}")
        if self.role == "coordinator" and not self.districts:
            raise ValueError(f"a coordinator needs at least one district, got {self.districts!r}")

    @property
    def sees_raw_text(self) -> bool:
        """Descriptions and addresses of complaints (coordinators: their districts; admins)."""
        return self.role in ("coordinator", "admin")

    @property
    def sees_raw_points(self) -> bool:
        """Single complaint points on the map (coordinators and admins)."""
        return self.role in ("coordinator", "admin")

    def has_role(self, *roles: str) -> bool:
        for r in roles:
            check_role(r)
        return self.role in roles

    @property
    def scope_key(self) -> str:
        """Identifies what this principal sees (a cache key for data derived from it)."""
        districts = "*" if self.districts is None else ",".join(sorted(self.districts))
        return f"{self.role}:{districts}"


LOCAL_ADMIN = Principal(role="admin", name="local")


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    role: str
    districts: tuple[str, ...] | None


@dataclass(frozen=True)
class RoleConfig:
    """E-mail addresses and groups mapped to roles and districts.

    ``users`` keys are lower-case e-mail addresses; ``groups`` keys group names as the
    identity provider sends them (claim ``groups_claim``); ``default`` applies to any other
    logged-in user (``None``: no access).
    """

    users: Mapping[str, Grant]
    groups: Mapping[str, Grant]
    default: Grant | None = None
    groups_claim: str = "groups"


EMPTY_CONFIG = RoleConfig(users={}, groups={}, default=None)


def _grant(where: str, entry: object) -> Grant:
    if isinstance(entry, str):  # shorthand: "viewer" / "admin"
        entry = {"role": entry}
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a table with role (and districts), got {entry!r}")
    unknown = sorted(set(entry) - {"role", "districts"})
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}, got {dict(entry)!r}")
    role = entry.get("role")
    if role not in ROLES:
        raise ValueError(f"{where}: role must be one of {ROLES}, got {role!r}")
    districts = entry.get("districts")
    if districts is not None:
        if isinstance(districts, str) or not isinstance(districts, Iterable) or not all(
                isinstance(d, str) and d.strip() for d in districts):
            raise ValueError(f"{where}: districts must be a list of district ids, got {districts!r}")
        districts = tuple(d.strip() for d in districts)
    if role == "admin" and districts is not None:
        raise ValueError(f"{where}: an admin sees all districts, remove districts, got {districts!r}")
    if role == "coordinator" and not districts:
        raise ValueError(f"{where}: a coordinator needs districts = [...], got {districts!r}")
    return Grant(role, districts)


def parse_role_config(raw: Mapping[str, object] | None) -> RoleConfig:
    """A :class:`RoleConfig` from a TOML-like mapping; ``ValueError`` naming the bad entry.

    Format (e.g. ``.streamlit/roles.toml``)::

        groups_claim = "groups"          # optional, the identity token claim with groups

        [users."anna.schmidt@hamm.de"]
        role = "coordinator"
        districts = ["heessen", "uentrop"]

        [users."ob-buero@hamm.de"]
        role = "viewer"

        [groups.lagebild-admins]
        role = "admin"

        [default]                        # optional: any other logged-in user
        role = "viewer"
    """
    if raw is None:
        return EMPTY_CONFIG
    if not isinstance(raw, Mapping):
        raise ValueError(f"role configuration must be a table, got {raw!r}")
    unknown = sorted(set(raw) - {"users", "groups", "default", "groups_claim"})
    if unknown:
        raise ValueError(f"role configuration: unknown keys {unknown}, got {sorted(raw)!r}")
    users: dict[str, Grant] = {}
    for email, entry in dict(raw.get("users") or {}).items():
        if "@" not in str(email):
            raise ValueError(f"role configuration: users keys must be e-mail addresses, got {email!r}")
        users[str(email).strip().lower()] = _grant(f"users.{email!r}", entry)
    groups = {str(g): _grant(f"groups.{g!r}", e) for g, e in dict(raw.get("groups") or {}).items()}
    default = _grant("default", raw["default"]) if raw.get("default") is not None else None
    claim = raw.get("groups_claim", "groups")
    if not isinstance(claim, str) or not claim:
        raise ValueError(f"role configuration: groups_claim must be a claim name, got {claim!r}")
    return RoleConfig(users=users, groups=groups, default=default, groups_claim=claim)


def _principal(grant: Grant, email: str | None, name: str | None) -> Principal:
    return Principal(role=grant.role, districts=grant.districts, email=email, name=name,
                     authenticated=True)


def principal_for(config: RoleConfig, email: str | None, groups: Iterable[str] = (),
                  name: str | None = None) -> Principal | None:
    """The principal of a logged-in identity, or ``None`` when it has no access.

    An entry for the e-mail address wins. Otherwise the matching groups decide: the highest
    role among them, with the union of the districts of the groups granting that role
    (all districts if one of them grants all). Otherwise ``default``.
    """
    key = (email or "").strip().lower()
    if key and key in config.users:
        return _principal(config.users[key], email, name)
    grants = [config.groups[g] for g in groups if g in config.groups]
    if grants:
        top = max(ROLES.index(g.role) for g in grants)
        best = [g for g in grants if ROLES.index(g.role) == top]
        if any(g.districts is None for g in best):
            districts = None
        else:
            districts = tuple(dict.fromkeys(d for g in best for d in g.districts or ()))
        return _principal(Grant(ROLES[top], districts), email, name)
    if config.default is not None:
        return _principal(config.default, email, name)
    return None


def local_principal(env: Mapping[str, str]) -> Principal:
    """The local single-user principal (no login configured): admin unless narrowed.

    ``LAGEBILD_LOCAL_ROLE`` (viewer, coordinator) and ``LAGEBILD_LOCAL_DISTRICTS``
    (comma-separated ids) let a local start run with less, e.g. a projector laptop as
    viewer. They can only narrow: the local user is an admin anyway.
    """
    role = env.get("LAGEBILD_LOCAL_ROLE", "").strip() or "admin"
    check_role(role)
    raw = env.get("LAGEBILD_LOCAL_DISTRICTS", "").strip()
    districts = tuple(d.strip() for d in raw.split(",") if d.strip()) or None
    if role == "admin":
        if districts is not None:
            raise ValueError(f"LAGEBILD_LOCAL_DISTRICTS needs LAGEBILD_LOCAL_ROLE viewer or coordinator, "
                             f"got {raw!r}")
        return LOCAL_ADMIN
    return Principal(role=role, districts=districts, name="local")


# --- restriction --------------------------------------------------------------------------------


def _rows_in(frame: pd.DataFrame, districts: set[str]) -> pd.DataFrame:
    if "district_id" not in frame.columns:
        raise ValueError(f"expected a district_id column, got {list(frame.columns)!r}")
    keep = frame["district_id"].astype(object).isin(districts).to_numpy()
    out = frame.loc[keep].reset_index(drop=True)
    if isinstance(out["district_id"].dtype, pd.CategoricalDtype):  # no other district's id left
        out["district_id"] = out["district_id"].cat.remove_unused_categories()
    return out


def restrict(bundle: DataBundle, principal: Principal, env: Mapping[str, str] | None = None
             ) -> DataBundle:
    """The part of ``bundle`` that ``principal`` may see (a new bundle; the input is untouched).

    - districts (when the principal has a list): the districts table, complaints, staff
      incidents and offices keep only rows of those districts; focus areas only those that
      touch them. Patrol pings stay, but every aggregation works on the cells of the
      remaining districts only, so presence elsewhere never shows.
    - viewers: complaint descriptions and addresses are blanked, and the bundle carries the
      publisher of the cell key method (:func:`data.privacy.publisher_for`; ``env``, default
      ``os.environ``: ``LAGEBILD_K``, ``LAGEBILD_CELL_KEY_SECRET``): every complaint and
      incident count a page, chart, map or export takes from it (or from the spatial model
      built from it) is published, never exact.

    Patrols are not dropped, so the quarters to choose from stay those of the full data.
    Raises ``ValueError`` when none of the principal's districts exists in the data.
    """
    if principal.role == "admin":
        return bundle
    publisher = publisher_for(principal.role, os.environ if env is None else env)
    frames = dict(bundle.frames)
    wanted: set[str] | None = None
    if principal.districts is not None:
        wanted = set(principal.districts)
        d = frames["districts"]
        known = set(d["district_id"])
        if not wanted & known:
            raise ValueError(f"none of the districts of this user exists in the data, got "
                             f"{sorted(wanted)!r}")
        frames["districts"] = d[d["district_id"].isin(wanted)].reset_index(drop=True)
        for name in DISTRICT_ROWS:
            if name in frames:
                frames[name] = _rows_in(frames[name], wanted)
        areas = frames["focus_areas"]
        if len(areas):
            union = shapely.union_all(frames["districts"]["geometry"].to_numpy())
            touches = shapely.intersects(areas["geometry"].to_numpy(), union)
            frames["focus_areas"] = areas.loc[np.asarray(touches, dtype=bool)].reset_index(drop=True)
    blank = not principal.sees_raw_text
    if blank and "complaints" in frames:
        frames["complaints"] = _blank_text(frames["complaints"])

    def scoped(name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The same restriction for rows read later (a large data set not in memory)."""
        if wanted is not None and name in DISTRICT_ROWS:
            frame = _rows_in(frame, wanted)
        return _blank_text(frame) if blank and name == "complaints" else frame

    lazy = {name: (lambda n=name: scoped(n, bundle[n])) for name in bundle.lazy
            if name not in bundle.frames}
    reader = None
    if bundle.reader is not None:
        parent = bundle.reader

        def reader(name: str, start=None, end=None) -> pd.DataFrame:
            return scoped(name, parent(name, start, end))

    points = None
    if bundle.points is not None:  # queried at the source, within the scope below
        parent_points = bundle.points

        def points(f, within: frozenset[str] | None, limit: int) -> tuple[pd.DataFrame, int]:
            rows, total = parent_points(f, within, limit)
            return scoped("complaints", rows), total

    scope = bundle.district_scope
    if wanted is not None:
        scope = frozenset(wanted) if scope is None else scope & frozenset(wanted)
    return DataBundle(frames=frames, meta=dict(bundle.meta), path=bundle.path,
                      _cache=_restricted_cache(bundle, wanted), lazy=lazy, reader=reader,
                      district_scope=scope, prepared=bundle.prepared, points=points,
                      publisher=publisher)


def _blank_text(c: pd.DataFrame) -> pd.DataFrame:
    c = c.copy()
    for col in RAW_TEXT_COLUMNS:
        if col in c.columns:
            c[col] = pd.Series([None] * len(c), index=c.index, dtype=object)
    return c


def _restricted_cache(bundle: DataBundle, wanted: set[str] | None) -> dict:
    """Summaries of a prepared bundle (see geo.prepared) for the rows a restriction keeps.

    Only what a prepared bundle carries instead of its large data sets: the complaint
    summary, record counts, the newest complaint per district and the quarters.
    """
    cache = bundle._cache
    if "complaint_table" not in cache or bundle.is_loaded("complaints"):
        # Computed from the (restricted) frames on demand; patrols are never restricted, so
        # their quarters carry over and a lazy patrol table stays unread.
        return {k: cache[k] for k in ("patrol_quarters",) if k in cache}
    if wanted is None:
        return {k: cache[k] for k in ("complaint_table", "counts", "as_of", "quarters",
                                      "as_of_by_district", "patrol_quarters") if k in cache}
    table = _rows_in(cache["complaint_table"], wanted)
    counts = dict(cache.get("counts", {}))
    counts["complaints"] = int(table["n"].sum())
    latest = [v for k, v in cache.get("as_of_by_district", {}).items() if k in wanted]
    quarters = set(table.loc[table["n"] > 0, "quarter"].tolist()) | set(cache.get("patrol_quarters",
                                                                                  []))
    return {"complaint_table": table, "counts": counts, "as_of": max(latest) if latest else None,
            "quarters": sorted(q for q in quarters if q >= 0),
            "as_of_by_district": {k: v for k, v in cache.get("as_of_by_district", {}).items()
                                  if k in wanted},
            "patrol_quarters": list(cache.get("patrol_quarters", []))}
