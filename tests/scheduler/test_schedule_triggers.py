"""Scheduler triggers under a controllable clock (time_machine, not sleeping): cron times in the configured time
zone, a missed run caught up once after a restart over the same state file, a run later than the grace time
skipped, an emptied cron expression removing the job, --run-now, and a failing run that the scheduler outlives.

The loop is driven by hand (``ManualScheduler.tick()``) with APScheduler's synchronous DebugExecutor; the job
is the real release watch over a real repository, counted in the state store."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.executors.debug import DebugExecutor

from jobs import config as config_module
from jobs.scheduler import build_scheduler
from jobs.state.store import Store, repository_id

UTC = timezone.utc


def schedule(release_watch: str, *, zone: str = "UTC", grace_minutes: int = 360) -> str:
    return (f'[schedule]\ntimezone = "{zone}"\ndependency_updates = ""\nrelease_watch = "{release_watch}"\n'
            f'report = ""\nmisfire_grace_minutes = {grace_minutes}\n')


def start(tagged, manual_scheduler, text: str, **kwargs):  # type: ignore[no-untyped-def]
    path = tagged.config(text)
    config = config_module.load(path, repo=tagged.work)
    scheduler = build_scheduler(tagged.work, config, path, scheduler_class=manual_scheduler,
                                executors={"default": DebugExecutor()}, **kwargs)
    scheduler.start()
    return scheduler


def watch_runs(tagged) -> list[str]:  # type: ignore[no-untyped-def]
    """Outcomes of the release-watch runs recorded in the state store, oldest first."""
    config = config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work)
    with Store.for_repo(config, tagged.work) as store:
        return [r["outcome"] for r in store.runs(repository=repository_id(config, tagged.work), job="release-watch")]


def stored_jobs(tagged) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(tagged.work / ".nightcrew" / "state.sqlite") as db:
        return dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs"))


@pytest.fixture(autouse=True)
def not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIGHTCREW_PAUSE", raising=False)


def test_a_cron_trigger_fires_at_its_time_in_the_configured_time_zone(tagged, manual_scheduler) -> None:
    new_york = ZoneInfo("America/New_York")
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        scheduler = start(tagged, manual_scheduler, schedule("30 9 * * *", zone="America/New_York"))
        try:
            assert scheduler.get_job("release-watch").next_run_time == datetime(2026, 3, 2, 9, 30, tzinfo=new_york)
            clock.move_to(datetime(2026, 3, 2, 9, 31, tzinfo=UTC))  # 09:30 in UTC is 04:31 in New York
            scheduler.tick()
            assert watch_runs(tagged) == []
            clock.move_to(datetime(2026, 3, 2, 14, 29, 59, tzinfo=UTC))
            scheduler.tick()
            assert watch_runs(tagged) == []
            clock.move_to(datetime(2026, 3, 2, 14, 30, tzinfo=UTC))  # 09:30 EST
            scheduler.tick()
            assert watch_runs(tagged) == ["ok"]
            assert scheduler.get_job("release-watch").next_run_time == datetime(2026, 3, 3, 9, 30, tzinfo=new_york)
        finally:
            scheduler.shutdown()


def test_a_run_missed_while_the_scheduler_was_down_is_caught_up_once_not_once_per_missed_day(
        tagged, manual_scheduler, log_lines) -> None:
    daily = schedule("17 3 * * *", grace_minutes=5 * 24 * 60)  # every missed day is within the grace time
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False) as clock:
        before = start(tagged, manual_scheduler, daily)
        before.tick()
        before.shutdown()  # the host goes down before 03:17 ...
        clock.move_to(datetime(2026, 3, 5, 4, 0, tzinfo=UTC))  # ... and is back 3 days and 43 min later

        after = start(tagged, manual_scheduler, daily)  # a new scheduler over the same state file
        try:
            after.tick()
            after.tick()
            assert watch_runs(tagged) == ["ok"]
            assert after.get_job("release-watch").next_run_time == datetime(2026, 3, 6, 3, 17, tzinfo=UTC)
        finally:
            after.shutdown()
        again = start(tagged, manual_scheduler, daily)  # and another restart right away runs nothing more
        again.tick()
        again.shutdown()
    assert watch_runs(tagged) == ["ok"]
    assert log_lines.events("release-watch") == ["start", "done"]


def test_a_missed_run_later_than_the_grace_time_is_skipped(tagged, manual_scheduler, log_lines) -> None:
    daily = schedule("17 3 * * *", grace_minutes=360)
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False) as clock:
        start(tagged, manual_scheduler, daily).shutdown()
        clock.move_to(datetime(2026, 3, 5, 12, 0, tzinfo=UTC))  # 8 h 43 min after the last due run

        after = start(tagged, manual_scheduler, daily)
        try:
            after.tick()
            assert after.get_job("release-watch").next_run_time == datetime(2026, 3, 6, 3, 17, tzinfo=UTC)
        finally:
            after.shutdown()
    assert watch_runs(tagged) == []
    (missed,) = [r for r in log_lines.all() if r["event"] == "missed"]
    assert missed["job"] == "release-watch" and "2026-03-05T03:17:00+00:00" in missed["detail"]


def test_a_changed_schedule_starts_afresh_instead_of_catching_up_the_old_one(tagged, manual_scheduler) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False) as clock:
        start(tagged, manual_scheduler, schedule("17 3 * * *")).shutdown()
        clock.move_to(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))

        after = start(tagged, manual_scheduler, schedule("45 5 * * *"))
        try:
            after.tick()
            assert after.get_job("release-watch").next_run_time == datetime(2026, 3, 2, 5, 45, tzinfo=UTC)
        finally:
            after.shutdown()
    assert watch_runs(tagged) == []


def test_an_empty_cron_expression_removes_the_job_from_the_store(tagged, manual_scheduler) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False) as clock:
        start(tagged, manual_scheduler, schedule("*/10 * * * *")).shutdown()
        assert set(stored_jobs(tagged)) == {"release-watch"}

        off = start(tagged, manual_scheduler, schedule(""))
        try:
            clock.move_to(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
            off.tick()
            assert off.get_job("release-watch") is None
        finally:
            off.shutdown()
    assert stored_jobs(tagged) == {}
    assert watch_runs(tagged) == []


def test_run_now_runs_a_job_at_once_even_without_a_schedule(tagged, manual_scheduler) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False):
        scheduler = start(tagged, manual_scheduler, schedule(""), run_now=["release-watch"])
        try:
            scheduler.tick()
            scheduler.tick()
            assert scheduler.get_job("release-watch") is None  # a one-off: gone once it ran
        finally:
            scheduler.shutdown()
    assert watch_runs(tagged) == ["ok"]
    assert stored_jobs(tagged) == {}  # nothing about it was kept


def test_a_failing_run_is_one_log_line_and_the_scheduler_goes_on(tagged, manual_scheduler, log_lines) -> None:
    every_ten = schedule("*/10 * * * *")
    with time_machine.travel(datetime(2026, 3, 2, 2, 5, tzinfo=UTC), tick=False) as clock:
        scheduler = start(tagged, manual_scheduler, every_ten)
        try:
            config = tagged.work / "nightcrew.toml"
            config.write_text(config.read_text() + "[schedule\n")  # broken while the scheduler runs
            clock.move_to(datetime(2026, 3, 2, 2, 10, tzinfo=UTC))
            scheduler.tick()
            tagged.config(every_ten)  # fixed again
            held = config_module.load(config, repo=tagged.work)
            with Store.for_repo(held, tagged.work) as store:  # a live run of the watch holds the lock
                store.acquire(repository_id(held, tagged.work), "release-watch", "by-hand", stale_after=timedelta(hours=1))
                clock.move_to(datetime(2026, 3, 2, 2, 20, tzinfo=UTC))
                scheduler.tick()
                store.release(repository_id(held, tagged.work), "release-watch", "by-hand")
            clock.move_to(datetime(2026, 3, 2, 2, 30, tzinfo=UTC))
            scheduler.tick()
        finally:
            scheduler.shutdown()
    lines = [r for r in log_lines.all() if r["job"] == "release-watch" and r["event"] != "start"]
    assert [r["event"] for r in lines] == ["error", "locked", "done"]
    assert "nightcrew.toml:" in lines[0]["detail"] and "invalid TOML" in lines[0]["detail"]
    assert "already running (run by-hand" in lines[1]["detail"]
    assert watch_runs(tagged) == ["ok"]


def seed_last_run(tagged, outcome: str) -> None:  # type: ignore[no-untyped-def]
    """A release-watch run record as a scheduled run that SIGTERM cut short (or a lock takeover) leaves it."""
    config = config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work)
    with Store.for_repo(config, tagged.work) as store:
        store.start_run("cut-short", repository_id(config, tagged.work), "release-watch", "propose")
        store.end_run("cut-short", outcome, {"stopped": "stopped before git.fetch: SIGTERM"})


@pytest.mark.parametrize("outcome", ["interrupted", "abandoned"])
def test_a_run_cut_short_within_the_grace_time_is_run_again_once_when_the_scheduler_starts(
        tagged, manual_scheduler, log_lines, outcome) -> None:
    daily = schedule("0 3 * * *", grace_minutes=360)
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, 5, tzinfo=UTC), tick=False) as clock:
        start(tagged, manual_scheduler, daily).shutdown()  # the stored job's next run is tomorrow 03:00
        seed_last_run(tagged, outcome)  # the 03:00 run, cut short; APScheduler had moved it to tomorrow
        clock.move_to(datetime(2026, 3, 2, 4, 30, tzinfo=UTC))

        after = start(tagged, manual_scheduler, daily)
        try:
            after.tick()
            after.tick()
            assert after.get_job("release-watch").next_run_time == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
        finally:
            after.shutdown()

    assert watch_runs(tagged) == [outcome, "ok"]
    (retry,) = [r for r in log_lines.all() if r["event"] == "retry"]
    assert retry["job"] == "release-watch" and f"ended {outcome}" in retry["detail"]
    assert "cut-short" in retry["detail"]


@pytest.mark.parametrize("outcome, minutes_later", [("interrupted", 400), ("paused", 30), ("ok", 30)])
def test_a_last_run_that_is_too_old_or_was_not_cut_short_is_not_run_again(
        tagged, manual_scheduler, log_lines, outcome, minutes_later) -> None:
    daily = schedule("0 3 * * *", grace_minutes=360)
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, 5, tzinfo=UTC), tick=False) as clock:
        start(tagged, manual_scheduler, daily).shutdown()
        seed_last_run(tagged, outcome)
        clock.move_to(datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + timedelta(minutes=minutes_later))

        after = start(tagged, manual_scheduler, daily)
        try:
            after.tick()
        finally:
            after.shutdown()

    assert watch_runs(tagged) == [outcome]
    assert "retry" not in log_lines.events()


def test_an_interrupted_run_of_a_job_that_is_no_longer_scheduled_is_not_run_again(tagged, manual_scheduler,
                                                                                  log_lines) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tick=False) as clock:
        tagged.config(schedule(""))
        seed_last_run(tagged, "interrupted")
        clock.move_to(datetime(2026, 3, 2, 3, 10, tzinfo=UTC))
        after = start(tagged, manual_scheduler, schedule(""))
        try:
            after.tick()
        finally:
            after.shutdown()

    assert watch_runs(tagged) == ["interrupted"]
    assert "retry" not in log_lines.events()
