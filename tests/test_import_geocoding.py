"""Geocoding with injected fake geocoders: cache, resume, offline. No test touches the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from geopy.exc import GeocoderUnavailable
from import_fixtures import INSIDE_MITTE, INSIDE_SUED, districts_frame, open311_json

from data.importers import GeocodeCache, GeocoderSettings, geocode_addresses, prepare_import
from data.importers.geocoding import make_geocoder, normalise_address

FAST = GeocoderSettings(min_delay_s=0.0, url="geocoder.test.invalid", retry_wait_s=0.0)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


class FakeGeocoder:
    def __init__(self, answers: dict[str, tuple[float, float] | None], fail_after: int | None = None,
                 exc: BaseException | None = None) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.fail_after = fail_after
        self.exc = exc

    def geocode(self, query: str) -> tuple[float, float] | None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise self.exc or GeocoderUnavailable("Failed to establish a new connection")
        self.calls.append(query)
        return self.answers.get(query)


def test_geocode_fills_coordinates_and_caches(tmp_path: Path) -> None:
    fake = FakeGeocoder({"Bahnhofstraße 5, 59065 Hamm": INSIDE_SUED})
    cache = GeocodeCache(tmp_path / "cache" / "geocode.sqlite")
    report = prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame(),
                            geocode=True, geocoder=fake, geocoder_settings=FAST, geocode_cache=cache,
                            lang="en")
    assert report.records_accepted == 3 and report.geocoded == 1
    row = report.frame.set_index("complaint_id").loc["A-3"]
    assert (row["lat"], row["lon"]) == INSIDE_SUED
    assert report.errors["row"].tolist() == [4]  # no address at all: not geocodable
    assert fake.calls == ["Bahnhofstraße 5, 59065 Hamm"]
    again = FakeGeocoder({})
    report = prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame(),
                            geocode=True, geocoder=again, geocoder_settings=FAST, geocode_cache=cache)
    assert again.calls == [] and report.records_accepted == 3  # answered from the cache


def test_not_found_is_listed(tmp_path: Path) -> None:
    report = prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame(),
                            geocode=True, geocoder=FakeGeocoder({}), geocoder_settings=FAST,
                            geocode_cache=GeocodeCache(tmp_path / "g.sqlite"), lang="en")
    assert report.not_geocoded == 1
    assert report.errors.set_index("row").loc[3, "reason"] == "not geocoded: address not found"


def test_offline_keeps_the_rest(tmp_path: Path) -> None:
    fake = FakeGeocoder({}, fail_after=0)
    report = prepare_import("complaints", open311_json(tmp_path / "o.json"), districts=districts_frame(),
                            geocode=True, geocoder=fake, geocoder_settings=FAST,
                            geocode_cache=GeocodeCache(tmp_path / "g.sqlite"))
    assert report.records_accepted == 2 and report.not_geocoded == 1
    assert any(n.startswith("Geocoding nicht möglich: keine Verbindung zu geocoder.test.invalid")
               for n in report.notes)
    assert report.errors.set_index("row").loc[3, "reason"] == \
        "nicht geocodiert: keine Verbindung zu geocoder.test.invalid"


def test_interrupted_run_resumes(tmp_path: Path) -> None:
    cache = GeocodeCache(tmp_path / "g.sqlite")
    addresses = [f"Straße {i}, Hamm" for i in range(5)]
    answers = {a: (51.6 + i / 1000, 7.8) for i, a in enumerate(addresses)}
    first = FakeGeocoder(answers, fail_after=2, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        geocode_addresses(addresses, geocoder=first, settings=FAST, cache=cache)
    assert len(cache) == 2
    second = FakeGeocoder(answers)
    progress: list[tuple[int, int]] = []
    outcome = geocode_addresses(addresses, geocoder=second, settings=FAST, cache=cache,
                                progress=lambda done, total, _: progress.append((done, total)))
    assert second.calls == addresses[2:]
    assert outcome.cached == 2 and outcome.found == 5
    assert progress[0] == (2, 5) and progress[-1] == (5, 5)


def test_duplicate_addresses_asked_once(tmp_path: Path) -> None:
    fake = FakeGeocoder({"Markt 1, Hamm": INSIDE_MITTE})
    outcome = geocode_addresses(["Markt 1, Hamm", " markt 1 ,  HAMM ", None, ""], geocoder=fake,
                                settings=FAST)
    assert fake.calls == ["Markt 1, Hamm"] and outcome.found == 1


def test_callable_geocoder_and_suffix() -> None:
    calls: list[str] = []

    def fn(q: str) -> tuple[float, float]:
        calls.append(q)
        return INSIDE_MITTE

    settings = GeocoderSettings(min_delay_s=0, suffix=", Hamm", url="x.invalid")
    outcome = geocode_addresses(["Markt 1"], geocoder=fn, settings=settings)
    assert calls == ["Markt 1, Hamm"] and outcome.found == 1


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAGEBILD_GEOCODER", "photon")
    monkeypatch.setenv("LAGEBILD_GEOCODER_URL", "https://geo.stadt.example/photon")
    monkeypatch.setenv("LAGEBILD_GEOCODER_CONTACT", "it@stadt.example")
    s = GeocoderSettings.from_env()
    assert s.service == "photon" and s.server == "geo.stadt.example/photon"
    assert s.user_agent == "Lagebild/0.1 (+it@stadt.example)"
    geocoder = make_geocoder(s)
    assert type(geocoder).__name__ == "Photon" and geocoder.domain == "geo.stadt.example/photon"
    monkeypatch.setenv("LAGEBILD_GEOCODER", "arcgis")
    with pytest.raises(ValueError, match="nominatim"):
        GeocoderSettings.from_env()


def test_public_nominatim_is_never_faster_than_one_request_per_second() -> None:
    s = GeocoderSettings(min_delay_s=0.0)
    assert s.server == "nominatim.openstreetmap.org" and s.delay == 1.0
    assert s.user_agent == "Lagebild/0.1"
    geocoder = make_geocoder(s)
    assert type(geocoder).__name__ == "Nominatim"
    assert geocoder.headers["User-Agent"] == "Lagebild/0.1"
    assert GeocoderSettings(min_delay_s=0.0, url="nominatim.stadt.example").delay == 0.0


def test_normalise_address() -> None:
    assert normalise_address("  Markt 1 ,Hamm ") == normalise_address("markt 1, hamm") == "markt 1, hamm"
