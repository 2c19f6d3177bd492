"""Geocoding of addresses without coordinates (geopy), with a persistent cache.

* Nominatim by default (``nominatim.openstreetmap.org``), or a city's own Nominatim or
  Photon: ``LAGEBILD_GEOCODER`` (``nominatim`` | ``photon``), ``LAGEBILD_GEOCODER_URL``,
  ``LAGEBILD_GEOCODER_CONTACT`` (goes into the user agent
  ``Lagebild/0.1 (+contact)``), ``LAGEBILD_GEOCODER_DELAY`` (seconds between requests;
  never below 1 s for the public OpenStreetMap server), ``LAGEBILD_GEOCODER_COUNTRY``;
  or the same as :class:`GeocoderSettings` fields.
* At most one request per second (geopy's ``RateLimiter``).
* Every answer (found or not found) goes into a SQLite cache keyed by the normalised
  address as soon as it arrives, so an interrupted run resumes where it stopped.
* The first connection failure stops the run: the remaining addresses are reported as
  not geocoded with the reason, nothing waits on a dead network.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

USER_AGENT = "Lagebild/0.1"
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"

Progress = Callable[[int, int, str], None]


@dataclass
class GeocoderSettings:
    service: str = "nominatim"  # nominatim | photon
    url: str | None = None  # domain or base URL of the server; None = public default
    contact: str | None = None  # e-mail or URL for the user agent
    min_delay_s: float = 1.0
    timeout_s: float = 10.0
    retry_wait_s: float = 2.0  # one retry after a failed request, then the run stops
    suffix: str = ""  # appended to every query, e.g. ", Köln"
    country_codes: str | None = None  # e.g. "de"

    @classmethod
    def from_env(cls, **overrides: Any) -> GeocoderSettings:
        env = os.environ
        values: dict[str, Any] = {
            "service": env.get("LAGEBILD_GEOCODER", "nominatim").strip().lower() or "nominatim",
            "url": env.get("LAGEBILD_GEOCODER_URL") or None,
            "contact": env.get("LAGEBILD_GEOCODER_CONTACT") or None,
            "country_codes": env.get("LAGEBILD_GEOCODER_COUNTRY") or None,
        }
        delay = env.get("LAGEBILD_GEOCODER_DELAY", "").strip()
        if delay:
            try:
                values["min_delay_s"] = float(delay)
            except ValueError:
                raise ValueError(f"LAGEBILD_GEOCODER_DELAY must be seconds, got {delay!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.service not in ("nominatim", "photon"):
            raise ValueError(f"geocoder must be 'nominatim' or 'photon', got {self.service!r}")
        if self.min_delay_s < 0:
            raise ValueError(f"geocoder delay must not be negative, got {self.min_delay_s!r}")

    @property
    def user_agent(self) -> str:
        return f"{USER_AGENT} (+{self.contact})" if self.contact else USER_AGENT

    @property
    def server(self) -> str:
        """Host (and path) of the server, for messages."""
        if not self.url:
            return PUBLIC_NOMINATIM if self.service == "nominatim" else "photon.komoot.io"
        parsed = urlparse(self.url if "://" in self.url else f"https://{self.url}")
        return (parsed.netloc + parsed.path).rstrip("/")

    @property
    def delay(self) -> float:
        """The delay between requests: at least 1 s on the public OpenStreetMap server."""
        if self.service == "nominatim" and self.server == PUBLIC_NOMINATIM:
            return max(1.0, self.min_delay_s)
        return self.min_delay_s


def make_geocoder(settings: GeocoderSettings) -> Any:
    """A geopy geocoder for the settings (no network access until it is used)."""
    from geopy.geocoders import Nominatim, Photon

    scheme = "https"
    domain = None
    if settings.url:
        parsed = urlparse(settings.url if "://" in settings.url else f"https://{settings.url}")
        scheme = parsed.scheme or "https"
        domain = (parsed.netloc + parsed.path).rstrip("/")
    if settings.service == "photon":
        kw: dict[str, Any] = {"user_agent": settings.user_agent, "timeout": settings.timeout_s,
                              "scheme": scheme}
        if domain:
            kw["domain"] = domain
        return Photon(**kw)
    kw = {"user_agent": settings.user_agent, "timeout": settings.timeout_s, "scheme": scheme}
    if domain:
        kw["domain"] = domain
    return Nominatim(**kw)


def normalise_address(text: str) -> str:
    """Cache key: NFKC, casefolded, whitespace and comma spacing collapsed."""
    value = unicodedata.normalize("NFKC", str(text)).casefold().strip()
    value = re.sub(r"\s*,\s*", ", ", value)
    return re.sub(r"\s+", " ", value).strip(" ,")


class GeocodeCache:
    """A SQLite cache ``address -> (lat, lon) | not found``; created on the first write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if not self.path.exists() and not create:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path)
        con.execute("CREATE TABLE IF NOT EXISTS geocode (key TEXT PRIMARY KEY, lat REAL, lon REAL, "
                    "found INTEGER NOT NULL, service TEXT, time TEXT)")
        return con

    def get_many(self, keys: Iterable[str]) -> dict[str, tuple[float, float] | None]:
        keys = list(keys)
        con = self._connect(create=False)
        if con is None or not keys:
            return {}
        out: dict[str, tuple[float, float] | None] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, lat, lon, found in con.execute(
                        f"SELECT key, lat, lon, found FROM geocode WHERE key IN ({marks})", chunk):
                    out[key] = (float(lat), float(lon)) if found else None
        finally:
            con.close()
        return out

    def put(self, key: str, latlon: tuple[float, float] | None, service: str = "") -> None:
        con = self._connect(create=True)
        assert con is not None
        try:
            with con:
                con.execute(
                    "INSERT OR REPLACE INTO geocode (key, lat, lon, found, service, time) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (key, latlon[0] if latlon else None, latlon[1] if latlon else None,
                     1 if latlon else 0, service, datetime.now(UTC).isoformat(timespec="seconds")))
        finally:
            con.close()

    def __len__(self) -> int:
        con = self._connect(create=False)
        if con is None:
            return 0
        try:
            return int(con.execute("SELECT COUNT(*) FROM geocode").fetchone()[0])
        finally:
            con.close()


@dataclass
class GeocodeOutcome:
    """Per normalised address: (lat, lon), None (not found); ``failed`` were never asked."""

    results: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    cached: int = 0
    asked: int = 0
    error: str | None = None
    server: str = ""

    @property
    def found(self) -> int:
        return sum(1 for v in self.results.values() if v is not None)

    @property
    def not_found(self) -> int:
        return sum(1 for v in self.results.values() if v is None)


def _latlon(location: Any) -> tuple[float, float] | None:
    if location is None:
        return None
    if isinstance(location, tuple | list) and len(location) == 2:
        return float(location[0]), float(location[1])
    if isinstance(location, list):  # exactly_one=False style answers
        location = location[0] if location else None
        if location is None:
            return None
    return float(location.latitude), float(location.longitude)


def geocode_addresses(addresses: Iterable[str], *, geocoder: Any = None,
                      settings: GeocoderSettings | None = None, cache: GeocodeCache | None = None,
                      progress: Progress | None = None) -> GeocodeOutcome:
    """Geocode distinct addresses (cache first); see the module docstring for the rules.

    ``geocoder`` is a geopy geocoder, an object with ``geocode(query)`` or a callable
    ``query -> Location | (lat, lon) | None`` (tests inject a fake one).
    """
    from geopy import exc as gexc
    from geopy.extra.rate_limiter import RateLimiter

    settings = settings or GeocoderSettings.from_env()
    queries: dict[str, str] = {}
    for a in addresses:
        if a is None or not str(a).strip():
            continue
        query = f"{str(a).strip()}{settings.suffix}"
        queries.setdefault(normalise_address(query), query)
    outcome = GeocodeOutcome(server=settings.server)
    if cache is not None:
        hits = cache.get_many(queries)
        outcome.results.update(hits)
        outcome.cached = len(hits)
    todo = [k for k in queries if k not in outcome.results]
    total = len(queries)
    done = outcome.cached
    if progress:
        progress(done, total, "cache")
    if not todo:
        return outcome
    if geocoder is None:
        geocoder = make_geocoder(settings)
    func = geocoder.geocode if hasattr(geocoder, "geocode") else geocoder
    kwargs: dict[str, Any] = {}
    if settings.country_codes and hasattr(geocoder, "geocode") and settings.service == "nominatim":
        kwargs["country_codes"] = settings.country_codes
    limited = RateLimiter(func, min_delay_seconds=settings.delay, max_retries=1,
                          error_wait_seconds=settings.retry_wait_s,
                          swallow_exceptions=False)
    offline = (gexc.GeocoderUnavailable, gexc.GeocoderTimedOut, gexc.GeocoderServiceError,
               gexc.GeocoderRateLimited, gexc.GeocoderQuotaExceeded, gexc.GeocoderAuthenticationFailure,
               gexc.GeocoderInsufficientPrivileges, ConnectionError, OSError, TimeoutError)
    quiet = logging.getLogger("geopy")  # its RateLimiter logs retries with a traceback
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        for i, key in enumerate(todo):
            try:
                answer = limited(queries[key], **kwargs)
            except gexc.GeocoderQueryError:
                answer = None
            except offline as exc:
                outcome.error = short_reason(exc)
                outcome.failed.update(todo[i:])
                break
            latlon = _latlon(answer)
            outcome.results[key] = latlon
            outcome.asked += 1
            if cache is not None:
                cache.put(key, latlon, settings.server)
            done += 1
            if progress:
                progress(done, total, queries[key])
    finally:
        quiet.setLevel(level)
    return outcome


def short_reason(exc: BaseException) -> str:
    """A one-line reason for a connection failure ('[Errno -2] Name or service not known')."""
    text = str(exc) or type(exc).__name__
    m = re.search(r"\[Errno [^\]]+\][^)\"']*", text)
    if m:
        return m.group(0).strip()
    for marker in ("Read timed out", "timed out", "Connection refused", "Failed to resolve"):
        if marker in text:
            return marker
    return text[:160]


def query_key(address: str, settings: GeocoderSettings) -> str:
    """The cache key of one address under ``settings`` (suffix included)."""
    return normalise_address(f"{str(address).strip()}{settings.suffix}")
