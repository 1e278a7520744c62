"""Cron expressions mean what crontab means: Sunday is 0 (and 7). APScheduler 3's ``from_crontab`` counts Monday
as 0, so ``0 7 * * 1`` (the weekly report's default, Mondays) fired on Tuesdays before this was translated."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jobs.scheduler import cron_day_of_week, cron_trigger

MONDAY = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("expression", "days"), [
    ("0 7 * * 1", ["Mon"]), ("0 7 * * 0", ["Sun"]), ("0 7 * * 7", ["Sun"]), ("0 7 * * 1-5", ["Mon", "Tue", "Wed",
                                                                                            "Thu", "Fri"]),
    ("0 7 * * 5-7", ["Fri", "Sat", "Sun"]), ("0 7 * * */3", ["Sun", "Wed", "Sat"]), ("0 7 * * mon,wed", ["Mon", "Wed"]),
    ("0 7 * * *", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
])
def test_days_of_week_are_crontabs(expression: str, days: list[str]) -> None:
    trigger = cron_trigger(expression, "UTC")
    fired, at = set(), MONDAY
    for _ in range(14):
        at = trigger.get_next_fire_time(None, at)
        fired.add(at.strftime("%a"))
        at = at.replace(minute=1)
    assert fired == set(days)


def test_bad_days_are_refused() -> None:
    for field in ("8", "5-2", "*/0"):
        with pytest.raises(ValueError):
            cron_day_of_week(field)
