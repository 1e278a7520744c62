"""One call site for every external action: check policy, run it, time it, write the audit record (redacted)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from jobs.errors import NightcrewError
from jobs.tools.redact import redact

T = TypeVar("T")

# Every action nightcrew may take, and whether it changes anything outside this process.
ACTIONS: dict[str, bool] = {
    "index.fetch": False,
    "git.branch": True,  # a local branch or worktree in the user's repository
    "git.fetch": False,
    "git.push": True,
    "forge.read": False,
    "forge.create_pull": True,
    "forge.update_pull": True,
    "forge.close_pull": True,
    "forge.comment": True,
    "forge.label": True,
    "forge.request_review": True,
    "forge.merge": True,
    "forge.draft_release": True,  # a draft for people to edit: never published by the bot
    "tests.run": True,  # runs freshly bumped third-party code
    "llm.call": False,
}
MODES = ("advisory", "propose", "autonomous")


class Denied(NightcrewError):
    """The policy said no; the caller records it and goes on."""


@dataclass(frozen=True)
class AuditRecord:
    time: str
    run_id: str
    job: str
    action: str
    target: str
    verdict: str
    rule: str
    outcome: str
    duration: float
    inputs_digest: str | None = None
    detail: str | None = None
    extra: dict | None = None  # e.g. for LLM calls: model and token counts


class Gate:
    """The policy and audit layer. ``mode`` is advisory | propose | autonomous; ``dry_run`` denies every change."""

    def __init__(
        self,
        *,
        run_id: str,
        job: str,
        mode: str = "propose",
        dry_run: bool = False,
        audit_path: Path | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.run_id, self.job, self.mode, self.dry_run = run_id, job, mode, dry_run
        self.audit_path = audit_path
        self.secrets = tuple(secrets)
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def verdict(self, action: str) -> tuple[str, str]:
        """("allow" | "deny", rule) for ``action`` under the current mode."""
        if action not in ACTIONS:
            return "deny", "unknown-action"
        mutating = ACTIONS[action]
        if mutating and self.dry_run:
            return "deny", "dry-run"
        if mutating and self.mode == "advisory":
            return "deny", "mode-advisory"
        if action == "forge.merge" and self.mode != "autonomous":
            return "deny", "merge-needs-autonomous"
        return "allow", f"mode-{self.mode}"

    def run(self, action: str, target: str, fn: Callable[[], T], *, inputs: object = None,
            extra: Callable[[T], dict] | None = None) -> T:
        """Run ``fn`` if policy allows ``action`` on ``target``; raise ``Denied`` otherwise. Always audited."""
        verdict, rule = self.verdict(action)
        digest = None
        if inputs is not None:
            digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if verdict != "allow":
            self._record(action, target, verdict, rule, "denied", 0.0, digest, None)
            raise Denied(f"{action} denied by policy ({rule})", target)
        started = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            self._record(action, target, verdict, rule, "error", time.perf_counter() - started, digest, str(exc))
            raise
        self._record(action, target, verdict, rule, "ok", time.perf_counter() - started, digest, None,
                     extra(result) if extra else None)
        return result

    def _record(self, action: str, target: str, verdict: str, rule: str, outcome: str, duration: float,
                digest: str | None, detail: str | None, extra: dict | None = None) -> None:
        record = AuditRecord(
            time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            run_id=self.run_id, job=self.job, action=action, target=redact(target, self.secrets),
            verdict=verdict, rule=rule, outcome=outcome, duration=round(duration, 4), inputs_digest=digest,
            detail=redact(detail, self.secrets)[:500] if detail else None,
            extra=json.loads(redact(json.dumps(extra, default=str), self.secrets)) if extra else None,
        )
        with self._lock:
            self.records.append(record)
            if self.audit_path is not None:
                self.audit_path.parent.mkdir(parents=True, exist_ok=True)
                with self.audit_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
