"""The long-running scheduler: the jobs of ``[schedule]`` on cron triggers, kept in the state store.

Jobs live in the state database (APScheduler's SQLAlchemy job store, table ``apscheduler_jobs``), so a run
missed while the host was down is still due when the scheduler starts again: it runs once (``coalesce``: any
number of missed runs of a job become one) if it is at most ``misfire_grace_minutes`` late, and is skipped
otherwise. At most one run of a job at a time (``max_instances=1``; the run lock also keeps out a
``nightcrew run`` started by hand). Every run goes through the same ``run_job`` functions as ``nightcrew run``.

SIGTERM or SIGINT: no new runs start, the running job stops before its next step (its gate raises
``Stopped``; the run is recorded as "interrupted"), then the scheduler exits 0. APScheduler moved that job's
next run time on before it ran, so the catch-up above would not redo it: when the scheduler starts, a
scheduled job whose last run ended "interrupted" or "abandoned" (its lock taken over) at most
``misfire_grace_minutes`` ago runs once more at once.

One scheduler per state store: it holds the lock row of job "scheduler" (``SchedulerLock``, the run locks'
stale rules, its heartbeat renewed while it runs), so a second one exits without touching the job store.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import sqlite3
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from threading import TIMEOUT_MAX
from typing import Any, Callable, Iterable
from urllib.parse import quote
from zoneinfo import ZoneInfo

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
from jobs.state import schema
from jobs.tools.redact import redact, secrets_from_environment

# The scheduled jobs and the [schedule] key of each one's cron expression.
JOBS: dict[str, str] = {
    "dependency-updates": "dependency_updates",
    "release-watch": "release_watch",
    "report": "report",
}
TABLE = "apscheduler_jobs"
ONE_OFF = "once"  # the in-memory job store of one-off runs: --run-now without a schedule, retries
POLL_SECONDS = 1.0  # how soon the main loop notices a stop that a signal asked for
LOCK_JOB = "scheduler"  # the lock row that keeps a second scheduler off the same state store
HEARTBEAT_SECONDS = 60.0  # how often a running scheduler renews its lock (stale after [state] stale_lock_minutes)
RETRIED = ("interrupted", "abandoned")  # a last run that ended so is run again when the scheduler starts

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
            ("gave up", result.gave_up), ("waiting", result.waiting),
            ("final text", result.finals)) if tags]
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
    except Exception:  # a bug in one run must not end the service
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

    heartbeat: Callable[[], None] | None = None  # renews the scheduler's lock (``SchedulerLock.renew``)

    def _main_loop(self) -> None:
        due = time.monotonic()  # start() has set the wake-up event: the first round is at once
        renewed = time.monotonic()
        while self.state != STATE_STOPPED:
            woke = self._event.wait(max(0.0, min(due - time.monotonic(), POLL_SECONDS)))
            if self.heartbeat is not None and time.monotonic() - renewed >= HEARTBEAT_SECONDS:
                self.heartbeat()
                renewed = time.monotonic()
            if SHUTDOWN.is_set():
                _log(logging.INFO, "scheduler", "stopping", "no new runs; a running job stops at its next step")
                self.shutdown(wait=True)
                break
            if not woke and time.monotonic() < due:
                continue
            self._event.clear()
            wait_seconds = self._process_jobs()
            due = time.monotonic() + (TIMEOUT_MAX if wait_seconds is None else wait_seconds)


class SchedulerLock:
    """``with SchedulerLock(config, repo) as lock:`` holds the one scheduler lock of the state store.

    The lock row is the run locks' (``Store.acquire``, job "scheduler"), so the same stale rules apply: a
    holder whose process is gone (same host) or that renewed nothing for ``[state] stale_lock_minutes`` is
    taken over. It is held for the whole store, not one repository, because the job store (one table, jobs by
    job name) is the whole store's. Raises ``Locked`` when a live scheduler holds it.
    """

    def __init__(self, config: Config, repo: Path) -> None:
        from jobs.state.store import Store, url_for

        self.store = Store(url_for(config, repo))
        self.run_id = uuid.uuid4().hex[:12]
        self.stale_after = timedelta(minutes=config.state.stale_lock_minutes)

    def __enter__(self) -> "SchedulerLock":
        from jobs.state.store import ANY_REPOSITORY, Locked

        try:
            acquired = self.store.acquire(ANY_REPOSITORY, LOCK_JOB, self.run_id, stale_after=self.stale_after)
        except Locked as exc:
            self.store.close()
            raise Locked(f"{exc.message}; one scheduler per state store", self.store.where) from None
        except BaseException:
            self.store.close()
            raise
        if acquired.took_over is not None:
            _log(logging.WARNING, "scheduler", "took-over",
                 f"took over the scheduler lock of run {acquired.took_over.run_id}: {acquired.why}")
        return self

    def renew(self) -> None:
        """Show the lock's holder is alive (a scheduler on another host is taken over only when this stops)."""
        from sqlalchemy import update

        from jobs.state import schema
        from jobs.state.store import ANY_REPOSITORY, stamp

        locks = schema.locks
        try:
            with self.store.transaction() as conn:
                conn.execute(update(locks).where(locks.c.repository == ANY_REPOSITORY, locks.c.job == LOCK_JOB,
                                                 locks.c.run_id == self.run_id).values(heartbeat_at=stamp()))
        except Exception as exc:  # a busy or briefly unreachable store must not end the service: next beat
            _log(logging.WARNING, "scheduler", "heartbeat", f"lock not renewed: {type(exc).__name__}: {exc}")

    def __exit__(self, *_: object) -> None:
        from jobs.state.store import ANY_REPOSITORY

        try:
            self.store.release(ANY_REPOSITORY, LOCK_JOB, self.run_id)
        except NightcrewError as exc:  # a lock left behind is taken over once this process is gone
            _log(logging.WARNING, "scheduler", "unlock", f"lock not released: {exc}")
        finally:
            self.store.close()


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_day_of_week(field: str) -> str:
    """A crontab day-of-week field in APScheduler's terms. crontab counts Sunday as 0 (and 7), APScheduler 3's
    ``from_crontab`` counts Monday as 0: passed through, ``0 7 * * 1`` would fire on Tuesdays. The field is
    expanded to day names, which mean the same to both."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()

    def day(token: str) -> int:
        token = token.strip().lower()
        if token[:3] in _CRON_DAYS:
            return _CRON_DAYS.index(token[:3])
        number = int(token)
        if not 0 <= number <= 7:
            raise ValueError(f"day of week {number} is not 0-7")
        return number % 7

    for part in field.split(","):
        spread, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step {step} in {field!r}")
        if spread == "*":
            low, high = 0, 6
        elif "-" in spread:
            first, last = spread.split("-", 1)
            low, high = day(first), day(last)
            if last.strip() == "7":
                high = 7
        else:
            low = high = day(spread)
            if step_text:
                high = 6
        if high < low:
            raise ValueError(f"range {spread!r} in {field!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def cron_trigger(expression: str, zone: str) -> CronTrigger:
    """A 5-field crontab expression as crontab means it (Sunday is 0 or 7), in ``zone``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"not a 5-field cron expression: {expression!r}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=cron_day_of_week(weekday),
                       timezone=zone)


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


def _next_run(name: str, trigger: CronTrigger, previous: tuple[Any, datetime | None] | None, now: datetime,
              run_now: tuple[str, ...]) -> datetime:
    """When a scheduled job runs next: now for --run-now; the stored time if its trigger did not change (so a run
    that was due while nothing ran is still caught up); else the trigger's next time from now."""
    if name in run_now:
        return now
    if previous is not None and previous[1] is not None and _same_trigger(previous[0], trigger):
        return previous[1]
    return trigger.get_next_fire_time(None, now)


def _check_run_now(run_now: tuple[str, ...]) -> None:
    unknown = [name for name in run_now if name not in JOBS]
    if unknown:
        raise NightcrewError(f"no such job: {', '.join(unknown)} (jobs: {', '.join(JOBS)})", "--run-now")


def build_scheduler(repo: Path, config: Config, config_path: Path | None, *,
                    scheduler_class: type[BaseScheduler] = Scheduler, executors: dict | None = None,
                    run_now: Iterable[str] = ()) -> BaseScheduler:
    """A scheduler (not started) for ``repo`` with the jobs of ``config.schedule`` in the state store.

    The store follows the config now: a job whose cron expression is empty is removed from it. A job whose
    trigger did not change keeps its stored next run time, so a run that was due while nothing ran is still
    caught up (replacing the job would otherwise compute the next run from now, and lose it). ``run_now``
    names jobs to run as soon as the scheduler starts (a job without a schedule runs once). A scheduled job
    whose last run was cut short (``RETRIED``) within ``misfire_grace_minutes`` runs once more at once.
    Call it holding ``SchedulerLock``: it rewrites the store's jobs.
    """
    from jobs.state.store import Store, url_for

    settings = config.schedule
    run_now = tuple(run_now)
    _check_run_now(run_now)
    url = url_for(config, repo)
    with Store(url) as state:  # creates the file's folder and brings nightcrew's own tables up to date
        last_runs = state.last_runs(_repository(config, repo))
    store, stored = _job_store(url)
    scheduler = scheduler_class(
        jobstores={"default": store, ONE_OFF: MemoryJobStore()},
        executors=executors or {"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        timezone=settings.timezone,
    )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    now = datetime.now(timezone.utc)
    args = [str(repo.resolve()), str(config_path.resolve()) if config_path else None]
    retries: dict[str, str] = {}
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
        next_run = _next_run(name, trigger, (previous.trigger, previous.next_run_time) if previous else None, now,
                             run_now)
        scheduler.add_job(
            f"{__name__}:run_scheduled", trigger, args=[name, *args], id=name, name=name,
            misfire_grace_time=int(settings.misfire_grace_minutes * 60), coalesce=True, max_instances=1,
            replace_existing=True, next_run_time=next_run,
        )
        if retry := _retry_for(next_run, last_runs.get(name), now, settings.misfire_grace_minutes):
            _log(logging.INFO, name, "retry", retry)
            retries[name] = retry
            scheduler.add_job(f"{__name__}:run_scheduled", DateTrigger(now), args=[name, *args],
                              id=f"{name}:retry", name=name, jobstore=ONE_OFF, misfire_grace_time=None)
    for other in set(stored) - set(JOBS):  # a job an older nightcrew kept: nothing would run it now
        store.remove_job(other)
    scheduler.nightcrew_run_now = run_now  # type: ignore[attr-defined]
    scheduler.nightcrew_retries = retries  # type: ignore[attr-defined]
    return scheduler


def _repository(config: Config, repo: Path) -> str:
    from jobs.state.store import repository_id

    return repository_id(config, repo)


def _retry_for(next_run: datetime, last: dict | None, now: datetime, grace_minutes: float) -> str | None:
    """Why a scheduled job whose next run is ``next_run`` runs once more at start (see ``_retry_reason``), or None."""
    # a due (or --run-now) job runs at once anyway: a retry on top would run it twice
    return _retry_reason(last, now, grace_minutes) if next_run > now else None


def _retry_reason(last: dict | None, now: datetime, grace_minutes: float) -> str | None:
    """Why the job's last run is run again at start (its log line), or None: it ended "interrupted" (SIGTERM)
    or "abandoned" and started at most ``grace_minutes`` ago, the same grace a missed run gets."""
    from jobs.state.store import parse_stamp

    if last is None or last.get("outcome") not in RETRIED:
        return None
    started = parse_stamp(last["started_at"])
    if now - started > timedelta(minutes=grace_minutes):
        return None
    return (f"the last run ({last['id']}, started {started.isoformat(timespec='seconds')}) ended "
            f"{last['outcome']}: running it again now")


def planned(scheduler: BaseScheduler, config: Config) -> list[dict]:
    """Each job: its cron expression (empty: off) and next run time (None: not scheduled)."""
    jobs = {job.id: job for job in scheduler.get_jobs()}
    run_now = getattr(scheduler, "nightcrew_run_now", ())
    retries = {name: why for name, why in getattr(scheduler, "nightcrew_retries", {}).items()
               if f"{name}:retry" in jobs}  # not once the retry has run
    return _rows(config, {name: getattr(jobs.get(name), "next_run_time", None) for name in JOBS}, run_now, retries)


def _rows(config: Config, next_runs: dict[str, datetime | None], run_now: Iterable[str],
          retries: dict[str, str] | None = None) -> list[dict]:
    """The listing's rows; ``retries``: {job: why} of the jobs whose cut-short last run is run again at start."""
    now = datetime.now(timezone.utc)
    zone = ZoneInfo(config.schedule.timezone)
    retries = retries or {}
    rows = []
    for name, key in JOBS.items():
        when = next_runs.get(name)
        rows.append({"job": name, "cron": getattr(config.schedule, key), "timezone": config.schedule.timezone,
                     "next_run": when.astimezone(zone).isoformat(timespec="seconds") if when else None,
                     "run_now": name in run_now, "catch_up": bool(when and when < now and name not in run_now),
                     "retry": name in retries, "retry_reason": retries.get(name)})
    return rows


def listed(repo: Path, config: Config, run_now: Iterable[str] = ()) -> list[dict]:
    """What ``planned`` would show for a scheduler started now, worked out without changing anything: from the
    config and, when the state store exists, the next run times its job store keeps (read, never written; a
    missing store is not created)."""
    run_now = tuple(run_now)
    _check_run_now(run_now)
    settings = config.schedule
    stored, last_runs = _stored_state(config, repo)
    now = datetime.now(timezone.utc)
    next_runs: dict[str, datetime | None] = {}
    retries: dict[str, str] = {}
    for name, key in JOBS.items():
        expression = getattr(settings, key)
        if not expression:
            next_runs[name] = now if name in run_now else None
            continue
        next_runs[name] = when = _next_run(name, cron_trigger(expression, settings.timezone), stored.get(name), now,
                                           run_now)
        if retry := _retry_for(when, last_runs.get(name), now, settings.misfire_grace_minutes):
            retries[name] = retry
    return _rows(config, next_runs, run_now, retries)


def _stored_state(config: Config, repo: Path) -> tuple[dict[str, tuple[Any, datetime | None]], dict[str, dict]]:
    """From the state store, read-only ({} when there is none): {job id: (trigger or None, next run time)} of the
    job store's table, and {job: its latest run on this repository} (id, outcome, started_at) as
    ``Store.last_runs`` has them (a ``Store`` would migrate, that is write, the file)."""
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from jobs.state.store import StateError, url_for

    url = url_for(config, repo)
    try:
        parsed = make_url(url)
    except Exception:
        raise StateError("not a SQLAlchemy database URL", redact(url)) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            return {}, {}
        path = Path(database).resolve()
        # rw, not ro: the last connection to close then tidies the WAL files away, which a ro one cannot
        # do; "rw" never creates the file, and query_only refuses any write
        mode = "rw" if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK) else "ro"

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=30)
            conn.execute("PRAGMA query_only = ON")
            return conn

        engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    else:
        try:
            engine = create_engine(url, poolclass=NullPool)
        except Exception as exc:  # a missing driver or a bad option
            raise StateError(f"cannot open the state store: {exc}".splitlines()[0], redact(url)) from None
    table = SQLAlchemyJobStore(engine=engine, tablename=TABLE).jobs_t  # the table's shape, nothing created
    found: dict[str, tuple[Any, datetime | None]] = {}
    last_runs: dict[str, dict] = {}
    try:
        tables = inspect(engine)
        with engine.connect() as conn:
            if tables.has_table(TABLE):
                for row in conn.execute(select(table.c.id, table.c.next_run_time, table.c.job_state)):
                    try:
                        trigger = pickle.loads(row.job_state).get("trigger")
                    except Exception:  # written by another APScheduler: treated as a changed trigger
                        trigger = None
                    when = (datetime.fromtimestamp(row.next_run_time, timezone.utc)
                            if row.next_run_time is not None else None)
                    found[row.id] = (trigger, when)
            if tables.has_table(schema.runs.name):
                last_runs = _latest_runs(conn, _repository(config, repo))
    except SQLAlchemyError as exc:
        raise StateError(f"cannot read the scheduler's jobs: {str(exc).splitlines()[0]}", redact(url)) from None
    finally:
        engine.dispose()
    return found, last_runs


def _latest_runs(conn: Any, repository: str) -> dict[str, dict]:
    """{job: {id, outcome, started_at}} of each job's latest run on ``repository`` (one row per job)."""
    from sqlalchemy import func, select

    runs = schema.runs
    latest = (select(runs.c.job, func.max(runs.c.started_at).label("started_at"))
              .where(runs.c.repository == repository).group_by(runs.c.job).subquery())
    query = select(runs.c.id, runs.c.job, runs.c.outcome, runs.c.started_at).join(
        latest, (runs.c.job == latest.c.job) & (runs.c.started_at == latest.c.started_at)).where(
        runs.c.repository == repository)
    return {row.job: dict(row._mapping) for row in conn.execute(query)}


def serve(scheduler: BaseScheduler, config: Config, *, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
          heartbeat: Callable[[], None] | None = None) -> None:
    """Run ``scheduler`` in the foreground until SIGTERM or SIGINT (then stop as the module docstring says);
    ``heartbeat`` (the scheduler lock's ``renew``) is called every ``HEARTBEAT_SECONDS`` meanwhile."""
    SHUTDOWN.clear()
    received: list[str] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        SHUTDOWN.set()

    if heartbeat is not None:
        scheduler.heartbeat = heartbeat  # type: ignore[attr-defined]
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
