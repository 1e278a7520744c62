"""The long-running scheduler: the jobs of ``[schedule]`` on cron triggers, kept in the state store.

Jobs live in the state database (APScheduler's SQLAlchemy job store, table ``apscheduler_jobs``), so a run
missed while the host was down is still due when the scheduler starts again: it runs once (``coalesce``: any
number of missed runs of a job become one) if it is at most ``misfire_grace_minutes`` late, and is skipped
otherwise. At most one run of a job at a time (``max_instances=1``; the run lock also keeps out a
``nightcrew run`` started by hand). Every run goes through the same ``run_job`` functions as ``nightcrew run``.

SIGTERM or SIGINT: no new runs start, the running job stops before its next step (its gate raises
``Stopped``; the run is recorded as "interrupted"), then the scheduler exits 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from threading import TIMEOUT_MAX
from typing import Any, Iterable

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from jobs.config import Config
from jobs.errors import NightcrewError
from jobs.tools.redact import redact, secrets_from_environment

# The scheduled jobs and the [schedule] key of each one's cron expression.
JOBS: dict[str, str] = {
    "dependency-updates": "dependency_updates",
    "release-watch": "release_watch",
    "report": "report",
}
TABLE = "apscheduler_jobs"
ONE_OFF = "once"  # the in-memory job store of --run-now runs of jobs that have no schedule
POLL_SECONDS = 1.0  # how soon the main loop notices a stop that a signal asked for

# Set by SIGTERM/SIGINT; every job gets it as ``shutdown=`` and its gate stops before the next step.
SHUTDOWN = threading.Event()

log = logging.getLogger("nightcrew.scheduler")


# -- logging: one JSON object per line on standard error -------------------------------------------------------


class JsonLines(logging.Formatter):
    """{"time", "level", "job", "event", "detail"}; the detail is one line, with secrets removed."""

    def format(self, record: logging.LogRecord) -> str:
        detail = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = f"{detail}: {type(exc).__name__}: {exc}"
        line = (detail.strip().splitlines() or [""])[0][:1000]
        return json.dumps({
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "job": getattr(record, "job", "scheduler"),
            "event": getattr(record, "event", record.name),
            "detail": redact(line, secrets_from_environment()),
        }, ensure_ascii=False)


def configure_logging(stream: Any = None) -> logging.Handler:
    """Send the scheduler's log (and APScheduler's own errors) to ``stream`` (standard error) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    for name, level in (("nightcrew.scheduler", logging.INFO), ("apscheduler", logging.ERROR)):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h.formatter, JsonLines)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler


def _log(level: int, job: str, event: str, detail: str, *, exc_info: bool = False) -> None:
    log.log(level, "%s", detail, extra={"job": job, "event": event}, exc_info=exc_info)


# -- what a scheduled run does -----------------------------------------------------------------------------------


def _summary(job: str, result: Any) -> tuple[str, str]:
    """(event, detail) for the log line of a finished run."""
    if job == "dependency-updates":
        counts: dict[str, int] = {}
        for change in result.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        what = ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "nothing to do"
        if result.stopped:
            return "stopped", f"run {result.run_id}: {result.stopped} ({what})"
        problems = f"; {len(result.problems)} problems" if result.problems else ""
        return ("partial" if result.failed or result.problems else "done"), f"run {result.run_id}: {what}{problems}"
    if job == "release-watch":
        parts = [f"{name} {', '.join(tags)}" for name, tags in (
            ("baseline", result.baseline), ("drafted", result.drafted), ("failed", result.failed),
            ("gave up", result.gave_up), ("waiting", result.waiting)) if tags]
        what = "; ".join(parts) or "no new tags"
        if result.stopped:
            return "stopped", f"run {result.run_id}: {result.stopped} ({what})"
        return ("partial" if result.failed or result.gave_up or result.problems else "done"), \
            f"run {result.run_id}: {what}"
    return "done", f"wrote {result}"


def _run(job: str, repo: Path, config: Config) -> Any:
    if job == "dependency-updates":
        from jobs import dependency_updates

        return dependency_updates.run_job(repo, config, shutdown=SHUTDOWN)
    if job == "release-watch":
        from jobs import release_watch

        return release_watch.run_job(repo, config, shutdown=SHUTDOWN)
    if job == "report":
        try:
            from jobs.report import run_job as report_job
        except ImportError:
            raise NightcrewError("this nightcrew has no report job yet (jobs.report.run_job is missing)",
                                 "schedule.report") from None
        return report_job(repo, config, shutdown=SHUTDOWN)
    raise NightcrewError(f"unknown job {job!r}", "schedule")


def run_scheduled(job: str, repo: str, config_path: str | None) -> str:
    """One scheduled run of ``job`` (what the job store keeps a reference to, so it must stay importable under
    this name). Loads the configuration afresh, so an edited config applies from the next run on. Whatever
    happens is logged as one line; nothing propagates into the scheduler. Returns the log line's event."""
    from jobs import config as config_module
    from jobs.state.store import Locked
    from jobs.tools import Stopped

    folder = Path(repo)
    _log(logging.INFO, job, "start", f"run started in {folder}")
    try:
        config = config_module.load(Path(config_path) if config_path else None, repo=folder)
        event, detail = _summary(job, _run(job, folder, config))
    except Locked as exc:
        event, detail = "locked", f"not run: {exc}"
    except Stopped as exc:
        event, detail = "stopped", str(exc)
    except NightcrewError as exc:
        event, detail = "error", str(exc)
    except Exception as exc:  # a bug in one run must not end the service
        _log(logging.ERROR, job, "error", "internal error", exc_info=True)
        return "error"
    level = logging.WARNING if event in ("error", "partial", "locked") else logging.INFO
    _log(level, job, event, detail)
    return event


# -- the scheduler -----------------------------------------------------------------------------------------------


class Scheduler(BlockingScheduler):
    """APScheduler's blocking scheduler, stopped from its own loop once ``SHUTDOWN`` is set.

    A signal handler only sets ``SHUTDOWN`` (taking the scheduler's locks there could deadlock the thread it
    interrupted); the loop notices within ``POLL_SECONDS``, stops submitting and waits for the running job.
    The stock loop also does one more round of due jobs after ``shutdown()``, which would move a due job's next
    run time on without running it: a missed run lost. This loop stops before that round.
    """

    def _main_loop(self) -> None:
        due = time.monotonic()  # start() has set the wake-up event: the first round is at once
        while self.state != STATE_STOPPED:
            woke = self._event.wait(max(0.0, min(due - time.monotonic(), POLL_SECONDS)))
            if SHUTDOWN.is_set():
                _log(logging.INFO, "scheduler", "stopping", "no new runs; a running job stops at its next step")
                self.shutdown(wait=True)
                break
            if not woke and time.monotonic() < due:
                continue
            self._event.clear()
            wait_seconds = self._process_jobs()
            due = time.monotonic() + (TIMEOUT_MAX if wait_seconds is None else wait_seconds)


def cron_trigger(expression: str, zone: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression, timezone=zone)


def _same_trigger(a: Any, b: Any) -> bool:
    # repr shows every field, the start/end dates and the time zone
    return type(a) is type(b) and repr(a) == repr(b)


def _job_store(url: str) -> tuple[SQLAlchemyJobStore, dict[str, Any]]:
    """APScheduler's job store in the state database, and the jobs it holds now (by id)."""
    from sqlalchemy.exc import SQLAlchemyError

    from jobs.state.store import StateError

    options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    try:
        store = SQLAlchemyJobStore(url=url, tablename=TABLE, engine_options=options)
        store.jobs_t.create(store.engine, checkfirst=True)  # to read and tidy it before the scheduler starts
        return store, {job.id: job for job in store.get_all_jobs()}
    except SQLAlchemyError as exc:
        raise StateError(f"cannot read the scheduler's jobs: {str(exc).splitlines()[0]}", redact(url)) from None


def _on_event(event: JobEvent) -> None:
    when = getattr(event, "scheduled_run_time", None) or (getattr(event, "scheduled_run_times", None) or [None])[-1]
    at = when.isoformat(timespec="seconds") if when else "?"
    if event.code == EVENT_JOB_MISSED:
        _log(logging.WARNING, event.job_id, "missed",
             f"the run due at {at} was later than misfire_grace_minutes allows: skipped")
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        _log(logging.WARNING, event.job_id, "skipped",
             f"the run due at {at} did not start: the previous run is still going (one at a time)")
    elif event.code == EVENT_JOB_ERROR:  # run_scheduled catches everything; this is the last resort
        _log(logging.ERROR, event.job_id, "error", f"{type(event.exception).__name__}: {event.exception}")


def build_scheduler(repo: Path, config: Config, config_path: Path | None, *,
                    scheduler_class: type[BaseScheduler] = Scheduler, executors: dict | None = None,
                    run_now: Iterable[str] = ()) -> BaseScheduler:
    """A scheduler (not started) for ``repo`` with the jobs of ``config.schedule`` in the state store.

    The store follows the config now: a job whose cron expression is empty is removed from it. A job whose
    trigger did not change keeps its stored next run time, so a run that was due while nothing ran is still
    caught up (replacing the job would otherwise compute the next run from now, and lose it). ``run_now``
    names jobs to run as soon as the scheduler starts (a job without a schedule runs once).
    """
    from jobs.state.store import Store, url_for

    settings = config.schedule
    run_now = tuple(run_now)
    unknown = [name for name in run_now if name not in JOBS]
    if unknown:
        raise NightcrewError(f"no such job: {', '.join(unknown)} (jobs: {', '.join(JOBS)})", "--run-now")
    url = url_for(config, repo)
    Store(url).close()  # creates the file's folder and brings nightcrew's own tables up to date
    store, stored = _job_store(url)
    scheduler = scheduler_class(
        jobstores={"default": store, ONE_OFF: MemoryJobStore()},
        executors=executors or {"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        timezone=settings.timezone,
    )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    now = datetime.now(timezone.utc)
    args = [str(repo.resolve()), str(config_path.resolve()) if config_path else None]
    for name, key in JOBS.items():
        expression = getattr(settings, key)
        if not expression:
            if name in stored:
                store.remove_job(name)
            if name in run_now:
                scheduler.add_job(f"{__name__}:run_scheduled", DateTrigger(now), args=[name, *args],
                                  id=name, name=name, jobstore=ONE_OFF, misfire_grace_time=None)
            continue
        trigger = cron_trigger(expression, settings.timezone)
        previous = stored.get(name)
        if name in run_now:
            next_run = now
        elif previous is not None and previous.next_run_time and _same_trigger(previous.trigger, trigger):
            next_run = previous.next_run_time
        else:
            next_run = trigger.get_next_fire_time(None, now)
        scheduler.add_job(
            f"{__name__}:run_scheduled", trigger, args=[name, *args], id=name, name=name,
            misfire_grace_time=int(settings.misfire_grace_minutes * 60), coalesce=True, max_instances=1,
            replace_existing=True, next_run_time=next_run,
        )
    for other in set(stored) - set(JOBS):  # a job an older nightcrew kept: nothing would run it now
        store.remove_job(other)
    scheduler.nightcrew_run_now = run_now  # type: ignore[attr-defined]
    return scheduler


def planned(scheduler: BaseScheduler, config: Config) -> list[dict]:
    """Each job: its cron expression (empty: off) and next run time (None: not scheduled)."""
    jobs = {job.id: job for job in scheduler.get_jobs()}
    run_now = getattr(scheduler, "nightcrew_run_now", ())
    now = datetime.now(timezone.utc)
    rows = []
    for name, key in JOBS.items():
        job = jobs.get(name)
        when = getattr(job, "next_run_time", None) if job is not None else None
        rows.append({"job": name, "cron": getattr(config.schedule, key), "timezone": config.schedule.timezone,
                     "next_run": when.isoformat(timespec="seconds") if when else None, "run_now": name in run_now,
                     "catch_up": bool(when and when < now and name not in run_now)})
    return rows


def serve(scheduler: BaseScheduler, config: Config, *, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
          ) -> None:
    """Run ``scheduler`` in the foreground until SIGTERM or SIGINT (then stop as the module docstring says)."""
    SHUTDOWN.clear()
    received: list[str] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        SHUTDOWN.set()

    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        for row in planned(scheduler, config):
            if row["next_run"]:
                late = (" (--run-now: running at once)" if row["run_now"] else
                        " (a missed run: caught up now if within misfire_grace_minutes)" if row["catch_up"] else "")
                _log(logging.INFO, row["job"], "scheduled",
                     f"cron {row['cron']!r} ({row['timezone']}): next run {row['next_run']}{late}")
            else:
                _log(logging.INFO, row["job"], "off", "no schedule ([schedule] is empty for it)")
        _log(logging.INFO, "scheduler", "started", f"pid {os.getpid()}; stop with SIGTERM or SIGINT")
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    why = f" on {received[0]}" if received else ""
    _log(logging.INFO, "scheduler", "stopped", f"stopped{why}")
