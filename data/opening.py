"""Opening hours in OpenStreetMap syntax (``Mo-Sa 09:00-20:30``), evaluated for a moment.

Offices carry their opening hours as OSM ``opening_hours`` text. :func:`is_open` answers
"open now?" for a popup; it never raises for bad data: an empty, missing or unparsable
expression, or a rule that says ``unknown``, gives ``None``.

Times: an aware ``datetime`` is converted to Europe/Berlin; a naive one is read as local
time in Europe/Berlin. Public holidays (``PH``) follow the German calendar.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours

from data.contracts import TZ

_ZONE = ZoneInfo(TZ)


@lru_cache(maxsize=512)
def _parse(expression: str) -> opening_hours.OpeningHours | None:
    try:
        return opening_hours.OpeningHours(expression, timezone=_ZONE, country="DE")
    except Exception:  # ParserError, SyntaxError, anything the parser may raise on bad data
        return None


def parse(expression: str | None) -> opening_hours.OpeningHours | None:
    """The parsed expression, or ``None`` when it is missing, blank or not valid OSM syntax."""
    if expression is None or (isinstance(expression, float) and math.isnan(expression)):
        return None
    text = str(expression).strip()
    if not text:
        return None
    return _parse(text)


def _local(now: datetime) -> datetime:
    return now.astimezone(_ZONE) if now.tzinfo is not None else now.replace(tzinfo=_ZONE)


def is_open(expression: str | None, now: datetime) -> bool | None:
    """Whether a place with these opening hours is open at ``now``.

    ``True``/``False`` when the expression says so; ``None`` when the hours are unknown
    (missing, unparsable, or an ``unknown`` rule applies at ``now``).
    """
    parsed = parse(expression)
    if parsed is None:
        return None
    try:
        state, _comment = parsed.state(_local(now))
    except Exception:  # evaluation errors on exotic expressions: treat as unknown
        return None
    if state == opening_hours.State.OPEN:
        return True
    if state == opening_hours.State.CLOSED:
        return False
    return None


def next_change(expression: str | None, now: datetime) -> datetime | None:
    """When the state changes next after ``now`` (Europe/Berlin), or ``None`` (never/unknown)."""
    parsed = parse(expression)
    if parsed is None:
        return None
    try:
        change = parsed.next_change(_local(now))
    except Exception:
        return None
    if change is None:
        return None
    return change.astimezone(_ZONE) if change.tzinfo is not None else change.replace(tzinfo=_ZONE)
