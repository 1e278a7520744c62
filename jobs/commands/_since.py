"""The ``--since`` value that `nightcrew report` and `nightcrew audit` share: a span back from now or an ISO time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_SPAN = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ACCEPTED = "a span such as 7d, 48h, 30m, 2w, or an ISO 8601 date or time (2026-11-01, 2026-11-01T08:00+02:00)"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``48h``, ``7d``, ``2w`` before ``now`` (default: the current time), or an ISO 8601 date or time
    (UTC unless it names its offset).

    Raises ValueError with one line that says what is accepted.
    """
    now = now or datetime.now(timezone.utc)
    value = text.strip()
    span = _SPAN.fullmatch(value.lower())
    if span:
        amount = int(span.group(1))
        if amount <= 0:
            raise ValueError(f"{text!r} is an empty period")
        try:
            return now - timedelta(**{_UNITS[span.group(2)]: amount})
        except OverflowError:
            raise ValueError(f"{text!r} reaches back too far") from None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r}: give {ACCEPTED}") from None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if when > now:
        raise ValueError(f"{text!r} is in the future")
    return when
