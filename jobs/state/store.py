"""The state store: one SQLAlchemy database (a SQLite file by default), migrated on open, written in transactions.

Why no Alembic: nightcrew ships its schema inside the package and migrates the user's file when it opens it,
with no migration scripts folder or command for anybody to run; a version table and an ordered list of
small migration functions (``schema.MIGRATIONS``), each applied in one transaction, is all that needs.
"""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, func, insert, select, update, delete
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from jobs.errors import NightcrewError
from jobs.state import schema
from jobs.tools.redact import redact

ANY_REPOSITORY = "*"


class StateError(NightcrewError):
    """The state store cannot be opened, migrated or written."""


class Locked(StateError):
    """Another live run of this job holds the repository's lock."""


# Runs of this process that hold a lock: a lock row with our pid but another run id was left by a process that
# had our pid before (a restarted container is pid 1 again).
_ACTIVE_RUNS: set[str] = set()


def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(when: datetime | None = None) -> str:
    """A UTC time as stored: ISO 8601 with milliseconds, sortable as text."""
    return (when or now()).astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_stamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def url_for(config: Any, repo: Path) -> str:
    """The store's SQLAlchemy URL: ``[state] url``, else the SQLite file at ``[state] path`` in ``repo``."""
    if config.state.url:
        return config.state.url
    path = Path(config.state.path)
    return f"sqlite:///{path if path.is_absolute() else (repo / path).resolve()}"


def repository_id(config: Any, repo: Path, forge_kind: str | None = None) -> str:
    """How the store names a repository: "owner/name" when known, else its folder's absolute path."""
    if config.forge.repository:
        return config.forge.repository
    if (forge_kind or config.forge.kind) == "github" and os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    return str(repo.resolve())


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    pid: int
    host: str
    acquired_at: str
    heartbeat_at: str


@dataclass(frozen=True)
class Acquired:
    """The lock is ours; ``took_over`` names the stale holder we replaced, if any, and why it was stale."""

    took_over: LockHolder | None = None
    why: str = ""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def stale_reason(holder: LockHolder, stale_after: timedelta) -> str | None:
    """Why ``holder``'s lock may be taken over, or None while it looks alive."""
    host, pid = socket.gethostname(), os.getpid()
    silent = now() - parse_stamp(holder.heartbeat_at)
    if holder.host == host and not _process_alive(holder.pid):
        return f"process {holder.pid} on {holder.host} is gone"
    if holder.host == host and holder.pid == pid and holder.run_id not in _ACTIVE_RUNS:
        # our own pid, but no run of ours: a restarted container (pid 1 again) or a reused pid
        return f"process {holder.pid} on {holder.host} is this process, which does not hold it (pid reused)"
    if silent > stale_after:
        return f"no sign of life from process {holder.pid} on {holder.host} for {int(silent.total_seconds())} s"
    return None


class Store:
    """One handle on the state database. Every write is one transaction; reads see committed state only."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except Exception:
            raise StateError("not a SQLAlchemy database URL", redact(url)) from None
        self.where = redact(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(
                url, future=True, connect_args={"timeout": 30} if self.is_sqlite else {})
        except Exception as exc:  # a missing driver (psycopg ...) or a bad option
            raise StateError(f"cannot open the state store: {exc}".splitlines()[0], self.where) from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite starts transactions only before DML, so DDL (migrations) would commit piecemeal:
            # SQLAlchemy's documented recipe lets every transaction begin with a real BEGIN.
            # Writes begin IMMEDIATE: a deferred transaction that reads, then writes, fails at once with "database
            # is locked" in WAL mode when another connection committed meanwhile; IMMEDIATE waits (busy_timeout).
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("nightcrew_write") else "BEGIN"))
        self.migrate()

    @classmethod
    def for_repo(cls, config: Any, repo: Path) -> "Store":
        return cls(url_for(config, repo))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction (IMMEDIATE on SQLite), without error translation."""
        with self.engine.connect() as conn:
            conn.execution_options(nightcrew_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back (nothing written) if it raises."""
        try:
            with self._begin() as conn:
                yield conn
        except (OperationalError, IntegrityError) as exc:
            raise StateError(f"state store write failed: {str(exc.orig).splitlines()[0]}", self.where) from None

    # -- schema ----------------------------------------------------------------------------------

    def version(self) -> int:
        with self.engine.connect() as conn:
            return self._version(conn)

    @staticmethod
    def _version(conn: Connection) -> int:
        schema.schema_version.create(conn, checkfirst=True)
        found = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
        return int(found or 0)

    def migrate(self) -> int:
        """Bring the schema to the latest version, one migration per transaction; returns the version."""
        try:
            with self._begin() as conn:
                current = self._version(conn)
            if current > schema.LATEST:
                raise StateError(f"the state store is at schema version {current}, newer than this nightcrew "
                                 f"({schema.LATEST}): upgrade nightcrew", self.where)
            for version, migration in schema.MIGRATIONS:
                if version <= current:
                    continue
                with self._begin() as conn:
                    if self._version(conn) >= version:  # another process migrated meanwhile
                        continue
                    migration(conn)
                    conn.execute(delete(schema.schema_version))
                    conn.execute(insert(schema.schema_version).values(version=version))
                current = version
            return current
        except SQLAlchemyError as exc:
            raise StateError(f"cannot open the state store: {str(exc).splitlines()[0]}", self.where) from None

    # -- runs ------------------------------------------------------------------------------------

    def start_run(self, run_id: str, repository: str, job: str, mode: str) -> None:
        with self.transaction() as conn:
            conn.execute(insert(schema.runs).values(
                id=run_id, repository=repository, job=job, mode=mode, started_at=stamp(), outcome="running",
                pid=os.getpid(), host=socket.gethostname()))

    def end_run(self, run_id: str, outcome: str, summary: dict | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(
                ended_at=stamp(), outcome=outcome, summary=json.dumps(summary or {}, sort_keys=True, default=str)))

    def runs(self, *, repository: str | None = None, job: str | None = None, since: datetime | None = None,
             ) -> list[dict]:
        query = select(schema.runs).order_by(schema.runs.c.started_at)
        if repository:
            query = query.where(schema.runs.c.repository == repository)
        if job:
            query = query.where(schema.runs.c.job == job)
        if since:
            query = query.where(schema.runs.c.started_at >= stamp(since))
        return self._rows(query)

    # -- changes, pull requests, overrides -------------------------------------------------------

    def add_change(self, *, run_id: str, repository: str, key: str, branch: str, packages: dict[str, str],
                   kind: str | None, action: str, pull_number: int | None = None, pull_url: str | None = None,
                   tests: str | None = None, reason: str | None = None, conn: Connection | None = None) -> None:
        values = dict(run_id=run_id, repository=repository, key=key, branch=branch,
                      packages=json.dumps(packages, sort_keys=True), kind=kind, action=action,
                      pull_number=pull_number, pull_url=pull_url, tests=tests, reason=reason, at=stamp())
        self._write(insert(schema.changes).values(**values), conn)

    def tracked_pull(self, repository: str, number: int) -> dict | None:
        rows = self._rows(select(schema.pulls).where(schema.pulls.c.repository == repository,
                                                     schema.pulls.c.number == number))
        return rows[0] if rows else None

    def tracked_pulls(self, repository: str | None = None, *, state: str | None = None) -> list[dict]:
        query = select(schema.pulls).order_by(schema.pulls.c.opened_at)
        if repository:
            query = query.where(schema.pulls.c.repository == repository)
        if state:
            query = query.where(schema.pulls.c.state == state)
        return self._rows(query)

    def track_pull(self, *, repository: str, number: int, branch: str, key: str | None, packages: dict[str, str],
                   kind: str | None, url: str | None, state: str, tests: str | None = None,
                   opened_at: str | None = None, body: str | None = None, conn: Connection | None = None) -> None:
        """Insert or refresh the record of one of the bot's PRs (its fate is set by ``pull_closed``)."""
        def write(c: Connection) -> None:
            table = schema.pulls
            found = c.execute(select(table.c.state).where(table.c.repository == repository,
                                                          table.c.number == number)).first()
            values = dict(branch=branch, key=key, packages=json.dumps(packages, sort_keys=True), kind=kind, url=url,
                          updated_at=stamp())
            if tests is not None:
                values["tests"] = tests
            if body is not None:
                from jobs.state.record import body_hash

                values["body_hash"] = body_hash(body)
            if found is None:
                c.execute(insert(table).values(repository=repository, number=number, state=state,
                                               opened_at=opened_at or stamp(), **values))
            else:
                if found.state != "open" and state == "open":  # someone reopened it
                    values.update(reopened=table.c.reopened + 1, closed_at=None, closed_by=None)
                c.execute(update(table).where(table.c.repository == repository, table.c.number == number)
                          .values(state=state, **values))
        self._with(write, conn)

    def pull_closed(self, *, repository: str, number: int, merged: bool, by: str, at: str | None = None,
                    conn: Connection | None = None) -> bool:
        """Record that a tracked PR was merged or closed (``by`` human | nightcrew); False if already recorded."""
        table = schema.pulls
        values: dict[str, Any] = {"state": "merged" if merged else "closed", "updated_at": stamp()}
        values.update({"merged_at": at or stamp(), "merged_by": by} if merged else
                      {"closed_at": at or stamp(), "closed_by": by})
        statement = update(table).where(table.c.repository == repository, table.c.number == number,
                                        table.c.state == "open").values(**values)
        return bool(self._write(statement, conn).rowcount)

    def add_override(self, *, repository: str, kind: str, pull_number: int | None, packages: dict[str, str],
                     update_kind: str | None, detail: str | None = None, conn: Connection | None = None) -> None:
        self._write(insert(schema.overrides).values(
            repository=repository, kind=kind, pull_number=pull_number, packages=json.dumps(packages, sort_keys=True),
            update_kind=update_kind, detail=detail, at=stamp()), conn)

    def has_override(self, repository: str, kind: str, pull_number: int) -> bool:
        table = schema.overrides
        return bool(self._rows(select(table.c.id).where(table.c.repository == repository, table.c.kind == kind,
                                                        table.c.pull_number == pull_number).limit(1)))

    # -- audit -----------------------------------------------------------------------------------

    def add_audit(self, record: dict, *, repository: str | None = None, lock: tuple[str, str] | None = None) -> bool:
        """One audit record (already redacted by the gate); also renews the run's lock heartbeat.

        Returns False when ``lock`` is given and the run no longer holds it (another run took it over)."""
        values = {k: record.get(k) for k in ("time", "run_id", "job", "action", "target", "verdict", "rule",
                                              "outcome", "duration", "inputs_digest", "detail")}
        values["extra"] = json.dumps(record["extra"], sort_keys=True) if record.get("extra") else None
        with self.transaction() as conn:
            conn.execute(insert(schema.audit).values(repository=repository, **values))
            if lock is not None:
                held = conn.execute(update(schema.locks).where(
                    schema.locks.c.repository == lock[0], schema.locks.c.job == lock[1],
                    schema.locks.c.run_id == record["run_id"]).values(heartbeat_at=stamp())).rowcount
                return bool(held)
        return True

    def audit(self, *, run_id: str | None = None, action: str | None = None, since: datetime | None = None,
              repository: str | None = None, limit: int | None = None) -> list[dict]:
        """Audit records, oldest first. ``action`` matches exactly, or a prefix when it ends in ``*`` or ``.``."""
        table = schema.audit
        query = select(table).order_by(table.c.time, table.c.id)
        if run_id:
            query = query.where(table.c.run_id.startswith(run_id, autoescape=True))
        if action:
            if action.endswith(("*", ".")):
                query = query.where(table.c.action.startswith(action.rstrip("*"), autoescape=True))
            else:
                query = query.where(table.c.action == action)
        if since:
            query = query.where(table.c.time >= stamp(since))
        if repository:
            query = query.where(table.c.repository == repository)
        if limit:
            query = query.limit(limit)
        rows = self._rows(query)
        for row in rows:
            row["extra"] = json.loads(row["extra"]) if row["extra"] else None
        return rows

    def count_audit(self, action: str, *, outcome: str = "ok", since: datetime) -> int:
        table = schema.audit
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(
                table.c.action == action, table.c.outcome == outcome, table.c.time >= stamp(since))).scalar() or 0)

    # -- locks -----------------------------------------------------------------------------------

    def acquire(self, repository: str, job: str, run_id: str, *, stale_after: timedelta) -> Acquired:
        """Take the run lock of ``job`` on ``repository``; a dead or silent holder's lock is taken over.

        Raises ``Locked`` when a live run holds it.
        """
        me = dict(run_id=run_id, pid=os.getpid(), host=socket.gethostname(), acquired_at=stamp(),
                  heartbeat_at=stamp())
        table = schema.locks
        try:
            with self._begin() as conn:
                conn.execute(insert(table).values(repository=repository, job=job, **me))
            _ACTIVE_RUNS.add(run_id)
            return Acquired()
        except IntegrityError:
            pass
        except OperationalError as exc:
            raise StateError(f"cannot take the run lock: {str(exc.orig).splitlines()[0]}", self.where) from None
        with self.transaction() as conn:
            row = conn.execute(select(table).where(table.c.repository == repository, table.c.job == job)).first()
            if row is None:  # released in between
                conn.execute(insert(table).values(repository=repository, job=job, **me))
                _ACTIVE_RUNS.add(run_id)
                return Acquired()
            holder = LockHolder(row.run_id, row.pid, row.host, row.acquired_at, row.heartbeat_at)
            why = stale_reason(holder, stale_after)
            if why is None:
                raise Locked(f"{job} is already running (run {holder.run_id}, process {holder.pid} on {holder.host}, "
                             f"since {holder.acquired_at})", repository)
            # compare-and-swap: only one of two racing takers wins
            taken = conn.execute(update(table).where(table.c.repository == repository, table.c.job == job,
                                                     table.c.run_id == holder.run_id).values(**me)).rowcount
            if not taken:
                raise Locked(f"{job}: another run took the lock first", repository)
            _ACTIVE_RUNS.add(run_id)
            conn.execute(update(schema.runs).where(schema.runs.c.id == holder.run_id,
                                                   schema.runs.c.outcome == "running")
                         .values(outcome="abandoned", ended_at=stamp()))
            return Acquired(holder, why)

    def release(self, repository: str, job: str, run_id: str) -> None:
        _ACTIVE_RUNS.discard(run_id)
        table = schema.locks
        with self.transaction() as conn:
            conn.execute(delete(table).where(table.c.repository == repository, table.c.job == job,
                                             table.c.run_id == run_id))

    def lock_holder(self, repository: str, job: str) -> LockHolder | None:
        table = schema.locks
        rows = self._rows(select(table).where(table.c.repository == repository, table.c.job == job))
        if not rows:
            return None
        r = rows[0]
        return LockHolder(r["run_id"], r["pid"], r["host"], r["acquired_at"], r["heartbeat_at"])

    def locks(self, repository: str | None = None) -> list[dict]:
        """Every run lock held now (for ``nightcrew status``), optionally of one repository."""
        query = select(schema.locks).order_by(schema.locks.c.repository, schema.locks.c.job)
        if repository:
            query = query.where(schema.locks.c.repository == repository)
        return self._rows(query)

    def last_runs(self, repository: str) -> dict[str, dict]:
        """The latest run of each job on ``repository``, by job name."""
        table = schema.runs
        latest = (select(table.c.job, func.max(table.c.started_at).label("started_at"))
                  .where(table.c.repository == repository).group_by(table.c.job).subquery())
        query = select(table).join(latest, (table.c.job == latest.c.job)
                                   & (table.c.started_at == latest.c.started_at)).where(
            table.c.repository == repository).order_by(table.c.job)
        rows = self._rows(query)
        for row in rows:
            row["summary"] = json.loads(row["summary"]) if row["summary"] else None
        return {row["job"]: row for row in rows}

    # -- controls (the pause switch) -------------------------------------------------------------

    def set_control(self, repository: str, name: str, value: str, by: str | None = None) -> None:
        table = schema.controls
        with self.transaction() as conn:
            conn.execute(delete(table).where(table.c.repository == repository, table.c.name == name))
            conn.execute(insert(table).values(repository=repository, name=name, value=value, set_at=stamp(),
                                              set_by=by))

    def clear_control(self, repository: str, name: str) -> bool:
        table = schema.controls
        with self.transaction() as conn:
            return bool(conn.execute(delete(table).where(table.c.repository == repository,
                                                         table.c.name == name)).rowcount)

    def controls(self, name: str) -> list[dict]:
        """Every switch called ``name``, whatever repository it was set for."""
        table = schema.controls
        return self._rows(select(table).where(table.c.name == name).order_by(table.c.repository))

    def control(self, repository: str, name: str) -> dict | None:
        """The switch set for ``repository``, else the one set for every repository ("*")."""
        table = schema.controls
        for where in (repository, ANY_REPOSITORY):
            rows = self._rows(select(table).where(table.c.repository == where, table.c.name == name))
            if rows:
                return rows[0]
        return None

    # -- release tags and drafts -----------------------------------------------------------------

    def seen_tags(self, repository: str) -> dict[str, str]:
        table = schema.seen_tags
        return {r["tag"]: r["outcome"] for r in self._rows(select(table).where(table.c.repository == repository))}

    def mark_tag(self, repository: str, tag: str, *, sha: str | None, outcome: str, run_id: str | None) -> None:
        table = schema.seen_tags
        with self.transaction() as conn:
            conn.execute(delete(table).where(table.c.repository == repository, table.c.tag == tag))
            conn.execute(insert(table).values(repository=repository, tag=tag, sha=sha, seen_at=stamp(),
                                              run_id=run_id, outcome=outcome))

    def add_draft(self, *, tag: str, generated: str, text_hash: str, location: str, action: str,
                  repository: str | None = None) -> None:
        self._write(insert(schema.release_drafts).values(
            tag=tag, generated=generated, text_hash=text_hash, location=location, action=action, created_at=stamp(),
            repository=repository))

    def last_draft(self, tag: str, *, written: bool = False, repository: str | None = None) -> dict | None:
        table = schema.release_drafts
        query = select(table).where(table.c.tag == tag).order_by(table.c.id.desc()).limit(1)
        if written:
            query = query.where(table.c.action.in_(("created", "updated")))
        if repository:
            query = query.where((table.c.repository == repository) | (table.c.repository.is_(None)))
        rows = self._rows(query)
        return rows[0] if rows else None

    def set_final(self, draft_id: int, final_text: str, distance: float) -> None:
        table = schema.release_drafts
        with self.transaction() as conn:
            conn.execute(update(table).where(table.c.id == draft_id).values(
                final_text=final_text, distance=distance, final_at=stamp()))

    def drafts(self, *, repository: str | None = None, since: datetime | None = None) -> list[dict]:
        table = schema.release_drafts
        query = select(table).order_by(table.c.id)
        if repository:
            query = query.where((table.c.repository == repository) | (table.c.repository.is_(None)))
        if since:
            query = query.where(table.c.created_at >= stamp(since))
        return self._rows(query)

    # -- helpers ---------------------------------------------------------------------------------

    def _rows(self, query: Any) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def _write(self, statement: Any, conn: Connection | None = None) -> Any:
        if conn is not None:
            return conn.execute(statement)
        with self.transaction() as own:
            return own.execute(statement)

    def _with(self, fn: Any, conn: Connection | None) -> None:
        if conn is not None:
            fn(conn)
            return
        with self.transaction() as own:
            fn(own)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # WAL: the scheduler's job store, a running job and `nightcrew report` read and write at once
    dbapi_connection.isolation_level = None  # see the "begin" listener: we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()
