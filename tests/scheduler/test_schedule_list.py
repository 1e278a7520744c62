"""`nightcrew schedule --list` only reads: it creates no state file, leaves the stored jobs as they are even when
the config turned one off, and shows the next run times the job store keeps (a missed run as a catch-up, a
cut-short last run within the grace time as a retry), as {"schema": "nightcrew.schedule/1", "jobs": [...]}."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from apscheduler.executors.debug import DebugExecutor
from click.testing import CliRunner

from jobs import config as config_module
from jobs.cli import cli
from jobs.scheduler import build_scheduler
from jobs.state.store import Store, repository_id

UTC = timezone.utc


def schedule(release_watch: str) -> str:
    return (f'[schedule]\ntimezone = "UTC"\ndependency_updates = ""\nrelease_watch = "{release_watch}"\n'
            'report = ""\nmisfire_grace_minutes = 360\n')


def listing(tagged) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["schedule", "--list", "--repo", str(tagged.work)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "nightcrew.schedule/1"
    return {row["job"]: row for row in document["jobs"]}


def stored_jobs(tagged) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(tagged.work / ".nightcrew" / "state.sqlite") as db:
        return dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs"))


def run_scheduler_once(tagged, manual_scheduler) -> None:  # type: ignore[no-untyped-def]
    path = tagged.work / "nightcrew.toml"
    scheduler = build_scheduler(tagged.work, config_module.load(path, repo=tagged.work), path,
                                scheduler_class=manual_scheduler, executors={"default": DebugExecutor()})
    scheduler.start()
    scheduler.shutdown()


@pytest.fixture(autouse=True)
def not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIGHTCREW_PAUSE", raising=False)


def test_list_on_a_repository_without_state_creates_nothing(tagged) -> None:
    tagged.config(schedule("30 4 * * *"))
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False):
        rows = listing(tagged)

    assert not (tagged.work / ".nightcrew").exists()
    assert rows["release-watch"]["next_run"] == "2026-03-02T04:30:00+00:00"
    assert rows["release-watch"]["catch_up"] is False
    assert rows["dependency-updates"]["next_run"] is None and rows["report"]["cron"] == ""


def test_list_with_a_job_turned_off_in_the_config_leaves_the_stored_job_in_place(tagged, manual_scheduler) -> None:
    tagged.config(schedule("*/10 * * * *"))
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False):
        run_scheduler_once(tagged, manual_scheduler)
        before = stored_jobs(tagged)
        state = sorted(p.name for p in (tagged.work / ".nightcrew").iterdir())
        tagged.config(schedule(""))

        rows = listing(tagged)

    assert set(before) == {"release-watch"}
    assert stored_jobs(tagged) == before
    assert sorted(p.name for p in (tagged.work / ".nightcrew").iterdir()) == state  # no WAL files left behind
    assert rows["release-watch"]["cron"] == "" and rows["release-watch"]["next_run"] is None  # what a start would do


def test_list_shows_the_stored_next_run_of_a_run_missed_while_nothing_ran(tagged, manual_scheduler) -> None:
    tagged.config(schedule("17 3 * * *"))
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False) as clock:
        run_scheduler_once(tagged, manual_scheduler)  # next run 03:17, then the host is down until 05:00
        clock.move_to(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
        rows = listing(tagged)
        tagged.config(schedule("45 5 * * *"))  # a changed schedule starts afresh, as the scheduler would
        changed = listing(tagged)

    assert rows["release-watch"]["next_run"] == "2026-03-02T03:17:00+00:00" and rows["release-watch"]["catch_up"]
    assert changed["release-watch"]["next_run"] == "2026-03-02T05:45:00+00:00"
    assert not changed["release-watch"]["catch_up"]


def seed_last_run(tagged, outcome: str) -> None:  # type: ignore[no-untyped-def]
    """A release-watch run record as a scheduled run that SIGTERM cut short (or a lock takeover) leaves it."""
    config = config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work)
    with Store.for_repo(config, tagged.work) as store:
        store.start_run("cut-short", repository_id(config, tagged.work), "release-watch", "propose")
        store.end_run("cut-short", outcome, {"stopped": "stopped before git.fetch: SIGTERM"})


@pytest.mark.parametrize("outcome", ["interrupted", "abandoned"])
def test_list_shows_that_a_run_cut_short_within_the_grace_time_is_run_again_at_start(
        tagged, manual_scheduler, log_lines, outcome) -> None:
    tagged.config(schedule("0 3 * * *"))
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, 5, tzinfo=UTC), tick=False) as clock:
        run_scheduler_once(tagged, manual_scheduler)  # the stored job's next run is tomorrow 03:00
        seed_last_run(tagged, outcome)  # the 03:00 run, cut short
        clock.move_to(datetime(2026, 3, 2, 4, 30, tzinfo=UTC))
        rows = listing(tagged)
        before = stored_jobs(tagged)
        started = build_scheduler(tagged.work, config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work),
                                  tagged.work / "nightcrew.toml", scheduler_class=manual_scheduler,
                                  executors={"default": DebugExecutor()})
        started.start()  # ManualScheduler: nothing runs until a tick
        retry_job = started.get_job("release-watch:retry")
        started.shutdown()

    watch = rows["release-watch"]
    assert watch["retry"] is True
    assert f"ended {outcome}" in watch["retry_reason"] and "cut-short" in watch["retry_reason"]
    assert watch["catch_up"] is False and watch["next_run"] == "2026-03-03T03:00:00+00:00"
    assert rows["dependency-updates"]["retry"] is False and rows["dependency-updates"]["retry_reason"] is None
    assert stored_jobs(tagged) == before  # listing wrote nothing
    # what the listing promised is what a start does
    assert [r["event"] for r in log_lines.all() if r["job"] == "release-watch"] == ["retry"]
    assert retry_job is not None


@pytest.mark.parametrize("outcome, minutes_later", [("interrupted", 400), ("paused", 30), ("ok", 30)])
def test_list_shows_no_retry_for_a_last_run_too_old_or_not_cut_short(tagged, manual_scheduler, outcome,
                                                                    minutes_later) -> None:
    tagged.config(schedule("0 3 * * *"))
    with time_machine.travel(datetime(2026, 3, 2, 3, 0, 5, tzinfo=UTC), tick=False) as clock:
        run_scheduler_once(tagged, manual_scheduler)
        seed_last_run(tagged, outcome)
        clock.move_to(datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + timedelta(minutes=minutes_later))
        rows = listing(tagged)

    assert rows["release-watch"]["retry"] is False and rows["release-watch"]["retry_reason"] is None

