"""One call site for every external action: kill switch, policy, run it, time it, write the audit record (redacted)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from jobs.errors import NightcrewError
from jobs.tools.policy import ACTIONS, MODES, Counters, Decision, Policy, Subject
from jobs.tools.redact import redact

T = TypeVar("T")

__all__ = ["ACTIONS", "MODES", "AuditRecord", "Denied", "Gate", "Stopped", "Subject"]


class Denied(NightcrewError):
    """The policy said no (or needs a person's approval); the caller records it and goes on."""

    def __init__(self, message: str, where: str | None = None, *, decision: Decision | None = None) -> None:
        super().__init__(message, where)
        self.decision = decision


class Stopped(NightcrewError):
    """The kill switch is on, or a shutdown was asked for: the run stops before its next action."""


@dataclass(frozen=True)
class AuditRecord:
    time: str
    run_id: str
    job: str
    action: str
    target: str
    verdict: str
    rule: str
    outcome: str  # ok, error, denied, needs-approval, stopped, or a note such as "took-over"
    duration: float
    inputs_digest: str | None = None
    detail: str | None = None
    extra: dict | None = None  # e.g. for LLM calls: model and token counts
    repository: str | None = None


class Gate:
    """The policy and audit layer every external action passes.

    ``mode`` is advisory | propose | autonomous and ``dry_run`` denies every change, when no ``policy`` is
    given; ``stop`` returns a reason to stop (the kill switch, a shutdown) or None, and is asked before
    every action. Records go to ``audit_path`` (JSON Lines) and to ``store`` (the state store), redacted.
    """

    def __init__(
        self,
        *,
        run_id: str,
        job: str,
        mode: str = "propose",
        dry_run: bool = False,
        audit_path: Path | None = None,
        secrets: Iterable[str] = (),
        policy: Policy | None = None,
        stop: Callable[[], str | None] | None = None,
        store: object | None = None,
        repository: str = "",
    ) -> None:
        if policy is None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.policy = policy or Policy(None, mode=mode, dry_run=dry_run)
        self.run_id, self.job, self.dry_run = run_id, job, self.policy.dry_run
        self.mode = self.policy.mode
        self.audit_path = audit_path
        self.secrets = tuple(secrets)
        self.stop = stop
        self.store = store
        self.repository = repository
        self.counters = Counters()
        self.records: list[AuditRecord] = []
        self.problems: list[str] = []  # audit sinks that failed (the record is still in the other one)
        self._lock = threading.Lock()
        self._about: Subject | None = None
        self.holds_lock = False  # set by JobRun once it holds the run lock: each record renews it
        self.lock_lost = False
        self.switch = None  # the KillSwitch, when JobRun made one (the job tells it about a committed pause file)

    @property
    def denials(self) -> list[AuditRecord]:
        return [r for r in self.records if r.outcome in ("denied", "needs-approval")]

    def verdict(self, action: str, subject: Subject | None = None) -> tuple[str, str]:
        """(verdict, rule) for ``action`` now."""
        decision = self.policy.decide(action, self._subject(subject), self.counters)
        return decision.verdict, decision.rule

    @contextmanager
    def about(self, subject: Subject) -> Iterator[None]:
        """Within the block, actions called without ``subject=`` are about ``subject`` (one change's packages and
        kind), so that rules naming packages or kinds apply to its branch, test run, push and PR alike."""
        previous, self._about = self._about, subject
        try:
            yield
        finally:
            self._about = previous

    def with_labels(self, labels: Iterable[str]) -> None:
        """The PR of the current ``about`` subject is known now: its labels (an approval, a hold) count from here
        to the end of the enclosing ``about`` block, which restores the subject before it."""
        if self._about is None:
            raise RuntimeError("Gate.with_labels() outside a Gate.about() block")
        self._about = replace(self._about, labels=tuple(labels))

    def _subject(self, subject: Subject | None) -> Subject:
        subject = subject or self._about
        if subject is None:
            return Subject(repository=self.repository)
        if not subject.repository and self.repository:
            return replace(subject, repository=self.repository)
        return subject

    def check_stop(self, where: str = "") -> None:
        """Raise ``Stopped`` (and audit it) when the kill switch is on or a shutdown was asked for."""
        reason = self.stop() if self.stop is not None else None
        if not reason and self.lock_lost:
            reason = "lost-lock: another run took over this run's lock (it looked stale); stopping to avoid two runs"
        if reason:
            self._record("run.stop", where or "run", "deny", reason.split(":")[0], "stopped", 0.0, None, reason)
            raise Stopped(f"stopped before {where or 'the next step'}: {reason}")

    def run(self, action: str, target: str, fn: Callable[[], T], *, inputs: object = None,
            extra: Callable[[T], dict] | None = None, subject: Subject | None = None) -> T:
        """Run ``fn`` if policy allows ``action`` on ``target``; raise ``Denied`` or ``Stopped`` otherwise.

        Always audited, whatever happens.
        """
        self.check_stop(f"{action} {target}")
        decision = self.policy.decide(action, self._subject(subject), self.counters)
        digest = None
        if inputs is not None:
            digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if not decision.allowed:
            outcome = "needs-approval" if decision.verdict == "needs-approval" else "denied"
            self._record(action, target, decision.verdict, decision.rule, outcome, 0.0, digest, decision.reason)
            what = "needs approval" if outcome == "needs-approval" else "denied by policy"
            raise Denied(f"{action} {what} ({decision.rule}" + (f": {decision.reason})" if decision.reason else ")"),
                         target, decision=decision)
        started = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            self._record(action, target, decision.verdict, decision.rule, "error", time.perf_counter() - started,
                         digest, str(exc))
            raise
        self.counters.add(action)
        self._record(action, target, decision.verdict, decision.rule, "ok", time.perf_counter() - started, digest,
                     None, extra(result) if extra else None)
        return result

    def note(self, action: str, target: str, outcome: str, detail: str, *, rule: str = "") -> None:
        """An audit record for something nightcrew noticed or did on its own state (a lock taken over, a run stopped)."""
        self._record(action, target, "deny" if outcome == "denied" else "allow", rule or outcome, outcome, 0.0, None,
                     detail)

    def _record(self, action: str, target: str, verdict: str, rule: str, outcome: str, duration: float,
                digest: str | None, detail: str | None, extra: dict | None = None) -> None:
        record = AuditRecord(
            time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            run_id=self.run_id, job=self.job, action=action, target=redact(target, self.secrets),
            verdict=verdict, rule=rule, outcome=outcome, duration=round(duration, 4), inputs_digest=digest,
            detail=redact(detail, self.secrets)[:500] if detail else None,
            extra=json.loads(redact(json.dumps(extra, default=str), self.secrets)) if extra else None,
            repository=self.repository or None,
        )
        with self._lock:
            self.records.append(record)
            if self.audit_path is not None:
                try:
                    self.audit_path.parent.mkdir(parents=True, exist_ok=True)
                    with self.audit_path.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
                except OSError as exc:
                    self.problems.append(f"{self.audit_path}: audit log not written: {exc.strerror}")
            if self.store is not None:
                try:
                    held = self.store.add_audit(  # type: ignore[attr-defined]
                        asdict(record), repository=self.repository or None,
                        lock=(self.repository, self.job) if self.holds_lock else None)
                    if self.holds_lock and held is False:
                        self.lock_lost = True
                except NightcrewError as exc:
                    self.problems.append(f"audit record not stored: {exc}")
