"""The dependency-update job: scan -> choose -> edit -> commit -> test -> push -> pull request -> verify.

Each change is handled on its own; a failure becomes that change's result and the run goes on.
Human decisions win: a PR closed without merging is not proposed again, a branch someone else
committed to is never overwritten, a merged branch is not recreated.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from packaging.version import Version

from jobs import planner
from jobs.config import Config
from jobs.errors import ConfigError, NightcrewError
from jobs.forges import DuplicatePull, Forge, PullRequest
from jobs.manifests import edit
from jobs.models import FileEdit, Problem, ProposedChange, TestReport
from jobs.render import Renderer, read_marker
from jobs.scan import ScanReport, scan
from jobs.testing.runner import RunSpec, run_tests
from jobs.tools import Denied, Gate
from jobs.tools.redact import secrets_from_environment
from jobs.vcs import Author, Git, GitError

ACTIONS = ("opened", "updated", "unchanged", "superseded", "skipped", "failed")


@dataclass(frozen=True)
class ChangeResult:
    """What happened to one proposed change (or, with ``dry_run``, what would happen)."""

    key: str
    branch: str
    action: str
    change: ProposedChange | None = None
    reason: str | None = None
    pull: PullRequest | None = None
    tests: TestReport | None = None


@dataclass(frozen=True)
class UpdateRun:
    run_id: str
    forge: str
    base: str
    dry_run: bool
    changes: tuple[ChangeResult, ...]
    skipped: tuple[planner.Skip, ...]
    problems: tuple[Problem, ...]
    seconds: float
    test_seconds: float
    audit: tuple = field(default=(), repr=False)

    @property
    def failed(self) -> bool:
        return any(c.action == "failed" for c in self.changes)


def make_forge(config: Config, repo: Path, git: Git, kind: str, *, dry_run: bool = False) -> Forge:
    """The forge named ``kind``, from config and the ecosystem's environment variables."""
    if kind == "local":
        from jobs.forges.local import LocalForge

        state = repo / config.forge.state_file
        folder = repo / config.forge.pr_folder
        for path in () if dry_run else (state.parent, folder):
            try:
                git.exclude(path.resolve().relative_to(repo.resolve()).as_posix() + "/")
            except ValueError:
                pass  # outside the repository: nothing to keep out of git
        return LocalForge(git, state, folder, base=config.forge.base, read_only=dry_run)
    if kind == "github":
        from jobs.forges.github import GitHubForge

        repository = config.forge.repository or os.environ.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise ConfigError("no GitHub repository: set [forge] repository or GITHUB_REPOSITORY", "forge.repository")
        return GitHubForge(
            token=os.environ.get(config.forge.token_env, ""), repository=repository,
            api_url=config.forge.api_url or os.environ.get("GITHUB_API_URL") or None, base=config.forge.base,
            throttle=config.forge.throttle,
        )
    raise ConfigError(f"unknown forge {kind!r}", "forge.kind")


class DependencyUpdates:
    """One run of the job over one repository."""

    def __init__(self, repo: Path, config: Config, *, forge: Forge, dry_run: bool = False, only: tuple[str, ...] = (),
                 mode: str = "propose", renderer: Renderer | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.repo, self.config, self.forge, self.dry_run, self.only = repo, config, forge, dry_run, only
        self.run_id = uuid.uuid4().hex[:12]
        self.secrets = secrets_from_environment(extra=config.tests.secret_env) + tuple(getattr(forge, "secrets", ()))
        self.git = Git(repo, env=forge.git_env(), secrets=self.secrets)
        audit = None if dry_run else (repo / config.forge.state_file).parent / "audit.jsonl"
        self.gate = Gate(run_id=self.run_id, job="dependency-updates", mode=mode, dry_run=dry_run,
                         audit_path=audit, secrets=self.secrets)
        self.renderer = renderer or Renderer(config_file=Path(config.source).name if config.source else "nightcrew.toml")
        self.author = Author(config.forge.author_name, config.forge.author_email)
        self.remote = config.forge.remote or ("origin" if forge.kind == "github" else "")
        self.prefix = config.forge.branch_prefix
        self.progress = progress or (lambda _: None)
        self.test_seconds = 0.0
        self.opened = 0
        self.open_count = 0

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> UpdateRun:
        started = time.perf_counter()
        base = self.forge.default_base()
        base_sha = self.git.sha(base)
        if base_sha is None:
            raise GitError(f"base branch {base!r} not found", str(self.repo))
        with tempfile.TemporaryDirectory(prefix="nightcrew-base-") as folder:
            tree = Path(folder)
            self.git.export(base_sha, tree)  # scan what is committed on the base, not the working copy
            report = self.gate.run("index.fetch", "scan", lambda: scan(tree, self.config))
            chosen, skipped = planner.choose(
                report.statuses, report.pages, self.config.updates, python=Version(report.python or "3"),
                prereleases=self.config.index.prereleases, only=self.only,
            )
            plans = planner.group(chosen, self.config.updates, self.prefix)
            open_bot = self.gate.run("forge.read", f"open pulls {self.prefix}*", lambda: self.forge.open_pulls(self.prefix))
            self.open_count = len(open_bot)
            results: list[ChangeResult] = []
            for plan in plans:
                self.progress(plan.change.branch)
                try:
                    results.append(self._one(plan, base, base_sha, tree, report))
                except Denied as exc:
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "skipped", plan.change, str(exc)))
                except NightcrewError as exc:
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "failed", plan.change, str(exc)))
            results += self._supersede(results, open_bot)
        return UpdateRun(
            run_id=self.run_id, forge=self.forge.kind, base=base, dry_run=self.dry_run, changes=tuple(results),
            skipped=tuple(skipped), problems=report.problems, seconds=time.perf_counter() - started,
            test_seconds=self.test_seconds, audit=tuple(self.gate.records),
        )

    def _one(self, plan: planner.Planned, base: str, base_sha: str, tree: Path, report: ScanReport) -> ChangeResult:
        change, branch = plan.change, plan.change.branch

        def result(action: str, reason: str | None = None, **more: object) -> ChangeResult:
            return ChangeResult(change.key, branch, action, change, reason, **more)  # type: ignore[arg-type]

        existing = self.gate.run("forge.read", branch, lambda: self.forge.pulls_for_branch(branch))
        open_pr = next((p for p in existing if p.state == "open"), None)
        merged = next((p for p in existing if p.state == "merged"), None)
        if merged and not open_pr:
            return result("skipped", f"already merged in #{merged.number}")
        closed = next((p for p in existing if p.state == "closed"), None)
        if closed and not open_pr:
            return result("skipped", f"#{closed.number} was closed without merging: this version is not proposed again")
        if open_pr is None:
            limit = self._limit_reason()
            if limit:
                return result("skipped", limit)

        edits = edit.apply(tree, change.updates)
        if not edits:
            return result("skipped", "the manifests already allow this version: nothing to change")
        if self.dry_run:
            return ChangeResult(change.key, branch, "updated" if open_pr else "opened", replace(change, edits=edits),
                                "dry run: nothing was changed", open_pr)

        remote_sha, tip = self._branch_tip(branch)
        if remote_sha:
            others = self.git.foreign_commits(base_sha, tip, self.author.email)
            if others:
                reason = f"branch {branch} has commits by {', '.join(others)}: not overwriting them"
                if open_pr:
                    self._comment_once(open_pr.number, f"nightcrew did not update this branch: it has commits by "
                                       f"{', '.join(others)}. Close this pull request to let nightcrew start over.")
                return result("skipped", reason, pull=open_pr)

        change = self._texts(plan, change, edits)
        with self.git.worktree(base_sha) as worktree:
            edit.write(worktree, edits)
            sha = self.gate.run("git.branch", branch, lambda: self.git.commit(
                worktree, [e.file for e in edits], change.commit_message, self.author))
            same_tree = bool(remote_sha) and self.git.tree_of(tip) == self.git.tree_of(sha)
            if open_pr and same_tree:
                return result("unchanged", None, pull=open_pr)
            tests = self._test(worktree, branch, report)
        failing = tests.outcome != "passed"
        if failing and self.config.updates.on_test_failure == "skip":
            return result("skipped", f"tests {tests.outcome.replace('_', ' ')}: no pull request "
                                     "(on_test_failure = \"skip\")", tests=tests)
        if not same_tree:
            self._publish(branch, sha, remote_sha)
        title = self.renderer.title(change, plan.group)
        body = self.renderer.body(change, plan.group, tests)
        pull, action = self._open_or_update(branch, base, title, body, failing, open_pr)
        confirmed = self.gate.run("forge.read", f"#{pull.number}", lambda: self.forge.get_pull(pull.number))
        if confirmed.state != "open" or confirmed.branch != branch:
            return result("failed", f"the forge did not confirm #{pull.number} open on {branch}", tests=tests)
        return result(action, None, pull=confirmed, tests=tests)

    # -- steps -----------------------------------------------------------------------------------

    def _limit_reason(self) -> str | None:
        limits = self.config.updates
        if self.opened >= limits.max_prs_per_run:
            return f"limit reached: max_prs_per_run = {limits.max_prs_per_run}"
        if self.open_count >= limits.max_open_prs:
            return f"limit reached: max_open_prs = {limits.max_open_prs}"
        return None

    def _branch_tip(self, branch: str) -> tuple[str | None, str]:
        """The branch's current commit where PRs are made from (the remote, or the local branch) and a ref to it."""
        if not self.remote:
            return self.git.sha(f"refs/heads/{branch}"), f"refs/heads/{branch}"
        sha = self.gate.run("forge.read", f"{self.remote} {branch}", lambda: self.git.remote_sha(self.remote, branch))
        if sha is None:
            return None, ""
        return sha, self.git.fetch_branch(self.remote, branch)

    def _texts(self, plan: planner.Planned, change: ProposedChange, edits: tuple[FileEdit, ...]) -> ProposedChange:
        return replace(change, edits=edits, commit_message=self.renderer.commit_message(change, plan.group))

    def _test(self, worktree: Path, branch: str, report: ScanReport) -> TestReport:
        settings = self.config.tests
        spec = RunSpec(setup=settings.setup, command=settings.command, timeout=settings.timeout,
                       system_site_packages=settings.system_site_packages, secret_env=settings.secret_env)
        files = sorted({d.dependency.file for d in report.statuses if d.dependency.section == "requirements"})
        started = time.perf_counter()
        try:
            assert report.location is not None
            return self.gate.run("tests.run", branch, lambda: run_tests(
                worktree, spec, index=report.location, requirement_files=files, secrets=self.secrets))
        finally:
            self.test_seconds += time.perf_counter() - started

    def _publish(self, branch: str, sha: str, remote_sha: str | None) -> None:
        if self.forge.kind == "local":
            self.gate.run("git.branch", branch, lambda: self.git.set_branch(branch, sha))
        if self.remote:
            self.gate.run("git.push", f"{self.remote} {branch}",
                          lambda: self.git.push(self.remote, branch, sha, expected=remote_sha))

    def _open_or_update(self, branch: str, base: str, title: str, body: str, failing: bool,
                        open_pr: PullRequest | None) -> tuple[PullRequest, str]:
        draft = failing and self.config.updates.on_test_failure == "draft"
        if open_pr is None:
            try:
                pull = self.gate.run("forge.create_pull", branch, lambda: self.forge.create_pull(
                    branch=branch, base=base, title=title, body=body, draft=draft))
            except DuplicatePull:  # a PR we could not see a moment ago (a race, or an earlier retry that got through)
                found = self.gate.run("forge.read", branch, lambda: self.forge.pulls_for_branch(branch))
                open_pr = next((p for p in found if p.state == "open"), None)
                if open_pr is None:
                    raise
            else:
                self.opened += 1
                self.open_count += 1
                labels = list(self.config.updates.labels) + ([self.config.updates.failing_label] if failing else [])
                self.gate.run("forge.label", f"#{pull.number}", lambda: self.forge.add_labels(pull.number, labels))
                if self.config.updates.reviewers:
                    self.gate.run("forge.request_review", f"#{pull.number}", lambda: self.forge.request_reviewers(
                        pull.number, self.config.updates.reviewers))
                return pull, "opened"
        if open_pr.title == title and open_pr.body == body:
            return open_pr, "unchanged"
        number = open_pr.number
        pull = self.gate.run("forge.update_pull", f"#{number}",
                             lambda: self.forge.update_pull(number, title=title, body=body))
        if failing and self.config.updates.failing_label not in pull.labels:
            self.gate.run("forge.label", f"#{number}",
                          lambda: self.forge.add_labels(number, [self.config.updates.failing_label]))
        return pull, "updated"

    def _comment_once(self, number: int, body: str) -> None:
        seen = getattr(self.forge, "comments", None)
        if seen is not None and body in seen(number):
            return
        self.gate.run("forge.comment", f"#{number}", lambda: self.forge.comment(number, body))

    def _supersede(self, results: list[ChangeResult], open_bot: list[PullRequest]) -> list[ChangeResult]:
        """Close older open PRs of the same package or group that a newer change replaces."""
        if self.dry_run:
            return []
        live = {r.key: r for r in results if r.pull and r.action in ("opened", "updated", "unchanged")}
        closed: list[ChangeResult] = []
        for pull in open_bot:
            marker = read_marker(pull.body) or {}
            newer = live.get(marker.get("key", ""))
            if newer is None or newer.pull is None or newer.branch == pull.branch:
                continue
            note = f"Superseded by #{newer.pull.number} ({newer.pull.title})."
            try:
                self.gate.run("forge.comment", f"#{pull.number}", lambda: self.forge.comment(pull.number, note))
                done = self.gate.run("forge.close_pull", f"#{pull.number}", lambda: self.forge.close_pull(pull.number))
                closed.append(ChangeResult(newer.key, pull.branch, "superseded", None, note, done))
            except NightcrewError as exc:
                closed.append(ChangeResult(newer.key, pull.branch, "failed", None, f"closing #{pull.number}: {exc}"))
        return closed
