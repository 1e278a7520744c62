"""`nightcrew schedule` (the long-running scheduler) and `nightcrew run release-watch` (one watch for new tags)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from jobs.commands._shared import config_option, repo_option
from jobs.scheduler import JOBS

SCHEDULE_SCHEMA = "nightcrew.schedule/1"
WATCH_SCHEMA = "nightcrew.release-watch/1"


@click.command("schedule")
@repo_option
@config_option
@click.option("--run-now", "run_now", multiple=True, type=click.Choice(list(JOBS)), metavar="JOB",
              help=f"Also run JOB as soon as the scheduler starts (repeatable; one of {', '.join(JOBS)}).")
@click.option("--list", "list_only", is_flag=True,
              help="Print the jobs and their next run times, then exit (only reads the state store).")
def schedule(repo: Path, config_path: Path | None, run_now: tuple[str, ...], list_only: bool) -> None:
    """Run the jobs of [schedule] on their cron schedules until SIGTERM or SIGINT.

    Jobs are kept in the state store: a run missed while the scheduler was down is caught up once when it
    starts again (if at most [schedule] misfire_grace_minutes late), and so is a run that SIGTERM cut short.
    One scheduler per state store: a second one exits 75. --list only reads (JSON: "catch_up" is a missed
    run, "retry" a cut-short last run, each run at start). Log: JSON lines on standard error.
    """
    from jobs.commands._shared import EXIT_CONFIG, EXIT_LOCKED, fail, load_config
    from jobs.errors import NightcrewError
    from jobs.state.store import Locked
    from jobs import scheduler as scheduling

    config = load_config(repo, config_path)
    if list_only:
        try:
            rows = scheduling.listed(repo, config, run_now)
        except NightcrewError as exc:
            fail(str(exc), EXIT_CONFIG)
        if sys.stdout.isatty():
            for row in rows:
                when = row["next_run"] or "off"
                late = "  (missed: catch-up at start)" if row["catch_up"] else ""
                again = "  (last run cut short: run again at start)" if row["retry"] else ""
                click.echo(f"{row['job']:<20} {row['cron'] or '-':<16} {when}{late}{again}")
            click.echo(f"time zone: {config.schedule.timezone}")
        else:
            click.echo(json.dumps({"schema": SCHEDULE_SCHEMA, "jobs": rows}, indent=2))
        return
    scheduling.configure_logging()
    try:
        # the lock first: a second scheduler must not rewrite the job store the first one runs from
        with scheduling.SchedulerLock(config, repo) as lock:
            scheduler = scheduling.build_scheduler(repo, config, config_path, run_now=run_now)
            scheduling.serve(scheduler, config, heartbeat=lock.renew)
    except Locked as exc:
        fail(str(exc), EXIT_LOCKED)
    except NightcrewError as exc:
        fail(str(exc), EXIT_CONFIG)


@click.command("release-watch")
@repo_option
@config_option
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="Where drafts go (default: [forge] kind).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def release_watch(repo: Path, config_path: Path | None, forge_kind: str | None, output_format: str | None) -> None:
    """Draft release notes for each release tag that appeared since the last watch (the first watch only
    records the tags already there).

    A tag the policy holds back (quiet hours, advisory mode, a rule) waits for a later watch; that is not a
    failure. A tag is drafted once: a tag moved to another commit, or deleted and created again, after its
    draft was written is not drafted again; run `nightcrew run release-notes --tag TAG` for that.

    Each watch also stores the final text of earlier drafts for the report's edit distance: a GitHub draft once
    its release is published, a local draft file once a newer release tag was drafted by an earlier watch.
    """
    from jobs import release_watch as job
    from jobs.commands._shared import EXIT_PARTIAL, echo_outcome, guard_job, load_config, stop_on_signals

    config = load_config(repo, config_path)
    with stop_on_signals() as shutdown:
        result = guard_job(lambda: job.run_job(repo, config, forge_kind=forge_kind, shutdown=shutdown))
    echo_outcome(result)
    if (output_format or ("table" if sys.stdout.isatty() else "json")) == "json":
        click.echo(json.dumps({"schema": WATCH_SCHEMA, **asdict(result)}, indent=2))
    else:
        for label, tags in (("baseline (recorded, not drafted)", result.baseline), ("drafted", result.drafted),
                            ("failed (tried again next time)", result.failed), ("gave up", result.gave_up),
                            ("waiting (tried again next watch)", result.waiting)):
            if tags:
                click.echo(f"{label}: {', '.join(tags)}")
        if not (result.baseline or result.drafted or result.failed or result.gave_up or result.waiting):
            click.echo("no new release tags")
        if result.finals:
            click.echo(f"final text stored (edit distance for the report): {', '.join(result.finals)}")
    if result.failed or result.gave_up or result.problems:
        sys.exit(EXIT_PARTIAL)


release_watch.nightcrew_run_job = True  # type: ignore[attr-defined]

COMMANDS = [schedule, release_watch]
