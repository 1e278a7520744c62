"""One run of one job on one repository: the run lock, the run record, the gate and its policy, the outcome.

The command line and the scheduler both start jobs through ``JobRun``, so both paths run the same code
under the same lock, policy and kill switch.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable

from jobs.config import Config
from jobs.state.store import Store, repository_id
from jobs.tools.gate import Gate, Stopped
from jobs.tools.killswitch import KillSwitch
from jobs.tools.policy import Policy
from jobs.tools.redact import redact, secrets_from_environment


class JobRun:
    """``with JobRun(repo, config, "dependency-updates") as run: ... run.finish(outcome, summary)``.

    Entering takes the lock (raising ``store.Locked`` if a live run holds it; a dead holder's lock is taken
    over and the audit says so) and records the run as running. Leaving releases the lock and records the
    outcome: what ``finish`` said, else "paused"/"interrupted" for a ``Stopped`` run, else "failed".
    A dry run writes nothing: no lock, no run record, no audit; it still honours the kill switch.
    """

    def __init__(self, repo: Path, config: Config, job: str, *, mode: str | None = None, dry_run: bool = False,
                 secrets: Iterable[str] = (), shutdown: threading.Event | None = None, store: Store | None = None,
                 clock: Any = None, forge_kind: str | None = None) -> None:
        self.repo, self.config, self.job, self.dry_run = repo, config, job, dry_run
        self.run_id = uuid.uuid4().hex[:12]
        self.repository = repository_id(config, repo, forge_kind)
        self.secrets = tuple(secrets) or secrets_from_environment(extra=config.tests.secret_env)
        self._own_store = store is None
        self.store = store
        if self.store is None and not dry_run:
            self.store = Store.for_repo(config, repo)
        elif self.store is None:
            self.store = _existing_store(config, repo)
        self.mode = mode or config.policy.mode
        self.policy = Policy(config.policy, mode=self.mode, dry_run=dry_run, clock=clock,
                             merges_today=self._merges_today)
        self.switch = KillSwitch(config.policy, repo, store=self.store, repository=self.repository, shutdown=shutdown)
        audit_log = Path(config.state.audit_log)
        self.gate = Gate(
            run_id=self.run_id, job=job, policy=self.policy, stop=self.switch.reason, secrets=self.secrets,
            audit_path=None if dry_run else (audit_log if audit_log.is_absolute() else repo / audit_log),
            store=None if dry_run else self.store, repository=self.repository,
        )
        self.gate.switch = self.switch
        self.outcome: str | None = None
        self.summary: dict = {}
        self._locked = False

    def _merges_today(self) -> int:
        if self.store is None:
            return 0
        from jobs.state.store import now

        return self.store.count_audit("forge.merge", since=now() - timedelta(hours=24))

    def __enter__(self) -> "JobRun":
        if self.dry_run or self.store is None:
            return self
        try:
            acquired = self.store.acquire(self.repository, self.job, self.run_id,
                                          stale_after=timedelta(minutes=self.config.state.stale_lock_minutes))
        except BaseException:
            if self._own_store:
                self.store.close()
            raise
        try:
            self._locked = True
            self.gate.holds_lock = True
            self.store.start_run(self.run_id, self.repository, self.job, self.mode)
            if acquired.took_over is not None:
                self.gate.note("state.lock", f"{self.job} lock", "took-over",
                               f"took over the lock of run {acquired.took_over.run_id}: {acquired.why}",
                               rule="stale-lock")
        except BaseException:  # never leave the lock held by a run that did not start
            self.store.release(self.repository, self.job, self.run_id)
            if self._own_store:
                self.store.close()
            raise
        return self

    def finish(self, outcome: str, summary: dict | None = None) -> None:
        self.outcome, self.summary = outcome, dict(summary or {})

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _tb: object) -> None:
        try:
            if self.store is None or self.dry_run or not self._locked:
                return
            outcome, summary = self.outcome, dict(self.summary)
            if isinstance(exc, Stopped):
                outcome = "paused" if "paused" in str(exc) else "interrupted"
                summary["stopped"] = str(exc)
            elif exc is not None:
                outcome = "failed"
                summary["error"] = redact(str(exc), self.secrets).splitlines()[0][:500] if str(exc) else type(exc).__name__
            summary["denials"] = len(self.gate.denials)
            self.store.end_run(self.run_id, outcome or "ok", summary)
            self.store.release(self.repository, self.job, self.run_id)
        finally:
            if self._own_store and self.store is not None:
                self.store.close()


def _existing_store(config: Config, repo: Path) -> Store | None:
    """The store, for reading the pause switch in a dry run, only when it already exists (a dry run creates nothing)."""
    if config.state.url:
        return Store(config.state.url)
    path = Path(config.state.path)
    path = path if path.is_absolute() else repo / path
    return Store(f"sqlite:///{path.resolve()}") if path.is_file() else None
