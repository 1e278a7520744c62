"""The dependency-update job: scan -> choose -> edit -> commit -> test -> push -> pull request -> verify.

Each change is handled on its own; a failure becomes that change's result and the run goes on.
Human decisions win: a PR closed without merging is not proposed again, a branch someone else
committed to is never overwritten, a merged branch is not recreated.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from packaging.version import Version

from jobs import planner
from jobs.config import Config
from jobs.errors import ConfigError, NightcrewError, PackageIndexError
from jobs.forges import DuplicatePull, Forge, PullRequest
from jobs.manifests import edit
from jobs.models import Problem, ProposedChange, TestReport, Update
from jobs.render import Renderer, read_marker, with_marker
from jobs.scan import ScanReport, scan
from jobs.testing.runner import RunSpec, run_tests
from jobs.tools import Denied, Gate, Stopped, Subject
from jobs.tools.redact import redact, secrets_from_environment
from jobs.vcs import Author, Git, PushRejected

if TYPE_CHECKING:
    from jobs.state.record import Recorder

ACTIONS = ("opened", "updated", "unchanged", "superseded", "merged", "skipped", "failed")


WORKFLOW_PERMISSION = ("the token may not change files under .github/workflows (GitHub asks for the `workflows` "
                       "permission, which GITHUB_TOKEN never has): run with a GitHub App or personal access token "
                       "that has it, or leave \"actions\" out of [updates] ecosystems")


def _needs_workflow_permission(message: str, change: ProposedChange) -> bool:
    """Whether a push was refused because it changes a workflow file and the token lacks the workflows scope."""
    return "workflow" in message.lower() and "permission" in message.lower() and any(
        e.file.startswith(".github/workflows/") for e in change.edits)


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
    tested_sha: str | None = None  # the PR head the tests ran on (their outcome says nothing about another head)
    locks: tuple = ()  # jobs.lockfiles.LockChange: every locked package the change moved, direct and transitive


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
    stopped: str | None = None  # the kill switch or a shutdown stopped the run before it was done
    mode: str = "propose"
    notices: tuple[str, ...] = ()  # one line each, not errors (the default remote is missing, ...)
    waiting: tuple = ()  # planner.Waiting: releases the cooldown holds back, and until when
    # the known vulnerabilities of the scanned dependencies, {name: {"ids": [...], "fix": version or None}};
    # None when they were not checked (security off, or OSV not reached). The report follows them run to run.
    advisories: dict | None = None
    advisories_unchecked: tuple[str, ...] = ()  # names the check could not look at: their advisories are unknown

    @property
    def denials(self) -> tuple:
        return tuple(r for r in self.audit if r.outcome in ("denied", "needs-approval"))

    @property
    def failed(self) -> bool:
        return any(c.action == "failed" for c in self.changes)


LOCK_MAINTENANCE = "lock-maintenance"  # the key of the change that refreshes every lockfile
PUBLISHER_LABEL = "publisher-changed"  # a release published differently than the current one: never automerged


def _with_release_times(plans: list[planner.Planned], report: ScanReport) -> list[planner.Planned]:
    """Each update carries when its new version was released (the index's upload time), for the PR marker."""
    def timed(update: Update) -> Update:
        page = report.pages.get(update.dependency.name)
        return replace(update, released=page.released(update.new)) if page is not None else update

    return [replace(p, change=replace(p.change, updates=tuple(timed(u) for u in p.change.updates))) for p in plans]


def _advisories(report: ScanReport | None) -> dict | None:
    """What the scan knew to be vulnerable, for the run's record; None when it did not check."""
    if report is None or report.vulnerabilities_checked is not True:
        return None
    found: dict[str, dict] = {}
    unfixed: set[str] = set()
    for status in report.vulnerable:
        entry = found.setdefault(status.dependency.name, {"ids": [], "fix": None})
        entry["ids"] = sorted(set(entry["ids"]) | {a.id for a in status.advisories})
        if status.fix_version is None:  # one name in several files: a fix only when it covers every one
            unfixed.add(status.dependency.name)
        elif status.dependency.name not in unfixed:
            entry["fix"] = str(max([status.fix_version] + ([Version(entry["fix"])] if entry["fix"] else [])))
    for name in unfixed:
        found[name]["fix"] = None
    return found


def _unchecked(report: ScanReport | None) -> list[str]:
    """Dependencies the advisory check could not look at (no current version, or skipped: an index error...): the
    report keeps their earlier advisories open rather than counting them gone."""
    if report is None or report.vulnerabilities_checked is not True:
        return []
    return sorted({s.dependency.name for s in report.statuses if s.current is None or s.skipped_reason})


def _lock_context(changes: tuple) -> list[dict]:
    """The PR body's lockfile part: per lockfile, every package whose locked version moved."""
    by_file: dict[str, list[dict]] = {}
    for c in changes:
        by_file.setdefault(c.lockfile, []).append({"name": c.name, "old": c.old, "new": c.new, "direct": c.direct})
    return [{"lockfile": name, "changes": rows} for name, rows in by_file.items()]


def _repository_from_remote(url: str | None) -> str:
    """``owner/name`` from a remote URL (https, ssh or scp-like), or "" when it does not look like one."""
    if not url:
        return ""
    found = re.search(r"[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", url)
    return f"{found.group(1)}/{found.group(2)}" if found else ""


def make_forge(config: Config, repo: Path, git: Git, kind: str, *, dry_run: bool = False,
               remote: str | None = None) -> Forge:
    """The forge named ``kind``, from config and the ecosystem's environment variables. Its ``remote`` is the git
    remote branches go to ("": none, branches stay local) and ``remote_notice`` says why when the default was
    bent (``jobs.forges.remote``); ``remote`` here is a ``--remote`` given on the command line."""
    from jobs.forges.remote import resolve_remote

    if not git.is_repository():
        raise ConfigError("not a git repository", str(repo))
    choice = resolve_remote(config, git, kind, flag=remote)
    forge = _make_forge(config, repo, git, kind, dry_run=dry_run, remote=choice.name)
    forge.remote, forge.remote_notice = choice.name, choice.notice  # type: ignore[attr-defined]
    return forge


def _make_forge(config: Config, repo: Path, git: Git, kind: str, *, dry_run: bool, remote: str) -> Forge:
    if kind == "local":
        from jobs.forges.local import LocalForge

        state = repo / config.forge.state_file
        folder = repo / config.forge.pr_folder
        if not dry_run:
            git.keep_out(state.parent, folder)
        return LocalForge(git, state, folder, base=config.forge.base, read_only=dry_run, remote=remote)
    if kind == "github":
        from jobs.forges.github import GitHubForge

        repository = (config.forge.repository or os.environ.get("GITHUB_REPOSITORY", "")
                      or _repository_from_remote(git.remote_url(remote or "origin")))
        if not repository:
            raise ConfigError("no GitHub repository: set [forge] repository or GITHUB_REPOSITORY", "forge.repository")
        return GitHubForge(
            token=os.environ.get(config.forge.token_env, ""), repository=repository,
            api_url=config.forge.api_url or os.environ.get("GITHUB_API_URL") or None, base=config.forge.base,
            throttle=config.forge.throttle,
        )
    raise ConfigError(f"unknown forge {kind!r}", "forge.kind")


class _Changelogs:
    """The changelog (and optional LLM summary) of each package a PR moves, found once per run."""

    def __init__(self, config: Config, report: ScanReport, gate: Gate) -> None:
        from jobs.changelog import index_client, make_finder

        assert report.location is not None
        self._config = config
        self.client = index_client(config, report.location)
        self.finder = make_finder(config, self.client, gate)
        self.llm = None
        self.problems: list[Problem] = []
        if config.llm.enabled:
            from jobs.llm.client import LLMError, build_llm

            try:
                self.llm = build_llm(config.llm, gate)
            except LLMError as exc:
                self.problems.append(Problem(None, None, str(exc)))

    def entries(self, change: ProposedChange, report: ScanReport) -> list[dict]:
        from jobs.changelogs.summary import render_markdown, summarize
        from jobs.formats.changelog import pr_entry

        entries, seen = [], set()
        for update in change.updates:
            name = update.dependency.name
            if (name, update.new) in seen or update.old is None or name not in report.pages:
                continue
            seen.add((name, update.new))
            page, url = report.pages[name], None
            if update.dependency.ecosystem != "python":  # an action or a hook: its repository's releases
                from jobs.index.tags import DEFAULT_SERVER, repository_url
                from jobs.manifests.pins import at_depth

                # the GitHub sources read through [changelogs] github_api_url, else public GitHub: an action of a
                # GitHub Enterprise server is never looked up on github.com, where the same name may be another's
                server = os.environ.get("GITHUB_SERVER_URL") or DEFAULT_SERVER
                public = server.rstrip("/") == DEFAULT_SERVER or bool(self._config.changelogs.github_api_url)
                page = at_depth(update.dependency, page)
                url = repository_url(update.dependency, DEFAULT_SERVER) if public else None
                if url is None:
                    continue
            changelog = self.finder.find(name, update.old, update.new, page, repository_url=url)
            summary = summarize(changelog, self.llm) if self.llm is not None and changelog.sections else None
            entries.append(pr_entry(changelog, render_markdown(summary) if summary else None))
        return entries

    def close(self) -> list[Problem]:
        self.client.close()
        if self.llm is not None:
            self.llm.close()
        return self.problems + self.finder.problems


@dataclass
class _Snapshot:
    """The bot's pull requests as the forge had them when the run began."""

    open: list[PullRequest]
    rejected: dict[tuple[str, str], int]  # (package, version) a human closed without merging -> PR number

    def keys(self) -> dict[str, PullRequest]:
        return {m["key"]: p for p in self.open if (m := read_marker(p.body)) and "key" in m}


class DependencyUpdates:
    """One run of the job over one repository."""

    def __init__(self, repo: Path, config: Config, *, forge: Forge, dry_run: bool = False, only: tuple[str, ...] = (),
                 mode: str = "propose", renderer: Renderer | None = None,
                 progress: Callable[[str], None] | None = None, gate: Gate | None = None,
                 recorder: "Recorder | None" = None) -> None:
        self.repo, self.config, self.forge, self.dry_run, self.only = repo, config, forge, dry_run, only
        self.secrets = secrets_from_environment(extra=config.tests.secret_env) + tuple(forge.secrets)
        self.git = Git(repo, env=forge.git_env(), secrets=self.secrets)
        if gate is None:
            audit = None if dry_run else (repo / config.forge.state_file).parent / "audit.jsonl"
            gate = Gate(run_id=uuid.uuid4().hex[:12], job="dependency-updates", mode=mode, dry_run=dry_run,
                        audit_path=audit, secrets=self.secrets)
        else:
            gate.secrets = tuple(dict.fromkeys(gate.secrets + self.secrets))  # the forge's token too
        self.gate = gate
        self.run_id = gate.run_id
        self.recorder = recorder
        self.renderer = renderer or Renderer(config_file=Path(config.source).name if config.source else "nightcrew.toml")
        self.author = Author(config.forge.author_name, config.forge.author_email)
        self.remote = getattr(forge, "remote", None)
        if self.remote is None:  # a forge made without make_forge: the configured remote as it stands
            self.remote = config.forge.remote or ("origin" if forge.kind == "github" else "")
        self.prefix = config.forge.branch_prefix
        self.progress = progress or (lambda _: None)
        self.test_seconds = 0.0
        self.opened = 0
        self.open_count = 0
        self.problems: list[Problem] = []
        self._changelogs: _Changelogs | None = None
        self._results: list[ChangeResult] = []
        self._stop_after: Stopped | None = None  # a stop that came after a change's PR was written
        self._skipped: tuple[planner.Skip, ...] = ()
        self._waiting: list[planner.Waiting] = []
        self.notices: list[str] = []
        self._report: ScanReport | None = None

    # -- the run ---------------------------------------------------------------------------------

    def _base(self) -> tuple[str, str]:
        """The base branch and the commit bump branches start from: the remote's, when there is a remote."""
        base = self.forge.default_base()
        if self.remote:
            there = self.gate.run("forge.read", f"{self.remote} {base}", lambda: self.git.remote_sha(self.remote, base))
            if there is None:
                raise ConfigError(f"base branch {base!r} not found on remote {self.remote!r}", "forge.base")
            ref = self.gate.run("git.fetch", f"{self.remote} {base}", lambda: self.git.fetch_branch(self.remote, base))
            sha = self.git.sha(ref)
        else:
            sha = self.git.sha(base)
        if sha is None:
            raise ConfigError(f"base branch {base!r} not found", "forge.base")
        return base, sha

    def _see_committed_pause(self, base_sha: str) -> None:
        """Tell the kill switch whether the pause file is committed on the base: a host whose working tree is not
        kept up to date (a server, a cache) must stop for a pause people pushed, not only for one on its disk."""
        switch = getattr(self.gate, "switch", None)
        name = self.config.policy.pause_file
        if switch is not None and name:
            switch.see_committed(self.git.file_at(base_sha, name))

    def _snapshot(self) -> _Snapshot:
        open_bot = self.gate.run("forge.read", f"open pulls {self.prefix}*", lambda: self.forge.open_pulls(self.prefix))
        closed = self.gate.run("forge.read", f"closed pulls {self.prefix}*",
                               lambda: self.forge.closed_pulls(self.prefix))
        rejected: dict[tuple[str, str], int] = {}
        for pull in closed:
            marker = read_marker(pull.body)
            # nightcrew marks what it closes itself (superseded, no longer needed): only people's closes count
            if pull.state != "closed" or marker is None or marker.get("closed_by") == "nightcrew":
                continue
            for name, version in (marker.get("updates") or {}).items():
                rejected.setdefault((name, version), pull.number)
        if self.recorder is not None and not self.dry_run:
            self.recorder.seen(open_bot, closed)
        return _Snapshot(open_bot, rejected)

    def run(self) -> UpdateRun:
        """The whole run; a kill switch or shutdown stops it between steps with what was done so far."""
        started = time.perf_counter()
        stopped = None
        base = self.forge.default_base() if self.forge.kind == "local" else (self.config.forge.base or "")
        try:
            base = self._run()
        except Stopped as exc:
            stopped = str(exc)
        finally:
            if self._changelogs is not None:
                self.problems += self._changelogs.close()
                self._changelogs = None
        if self.recorder is not None and not self.dry_run:
            self.recorder.results(self._results)
        report = self._report
        problems = (tuple(report.problems) if report is not None else ()) + tuple(self.problems)
        problems += tuple(Problem(None, None, p) for p in self.gate.problems)
        return UpdateRun(
            run_id=self.run_id, forge=self.forge.kind, base=base, dry_run=self.dry_run, changes=tuple(self._results),
            skipped=self._skipped, problems=problems, seconds=time.perf_counter() - started,
            test_seconds=self.test_seconds, audit=tuple(self.gate.records), stopped=stopped, mode=self.gate.mode,
            notices=tuple(n for n in (getattr(self.forge, "remote_notice", None),) if n) + tuple(self.notices),
            waiting=tuple(self._waiting), advisories=_advisories(report),
            advisories_unchecked=tuple(_unchecked(report)),
        )

    def _run(self) -> str:
        base, base_sha = self._base()
        self._see_committed_pause(base_sha)
        with tempfile.TemporaryDirectory(prefix="nightcrew-base-") as folder:
            tree = Path(folder)
            self.git.export(base_sha, tree)  # scan what is committed on the base, not the working copy
            report = self.gate.run("index.fetch", "scan", lambda: scan(tree, self.config))
            self._report = report
            names = {s.dependency.name for s in report.statuses}
            unknown = [name for name in self.only if name not in names]
            if unknown:
                raise ConfigError(f"names no dependency of this repository: {', '.join(unknown)}", "--only")
            snapshot = self._snapshot()
            chosen, skipped = planner.choose(
                report.statuses, report.pages, self.config.updates, python=Version(report.python or "3"),
                prereleases=self.config.index.prereleases, only=self.only, rejected=snapshot.rejected,
                waiting=self._waiting,
            )
            self._age_notice(report)
            self._skipped = tuple(skipped)
            plans = planner.group(chosen, self.config.updates, self.prefix)
            plans = self._with_yank_reasons(plans, report)
            plans = self._with_security(plans, report)
            plans = _with_release_times(plans, report)
            maintenance = self._lock_maintenance(report)
            if maintenance is not None:
                plans.append(maintenance)
            self.open_count = len(snapshot.open)
            self._changelogs = _Changelogs(self.config, report, self.gate) if (
                self.config.changelogs.enabled and not self.dry_run and plans) else None
            replaceable = snapshot.keys()
            results = self._results
            for number, plan in enumerate(plans):
                self.progress(plan.change.branch)
                try:
                    self.gate.check_stop(plan.change.branch)
                except Stopped:
                    results += [ChangeResult(p.change.key, p.change.branch, "skipped", p.change,
                                             "not handled: the run was stopped") for p in plans[number:]]
                    raise
                try:
                    with self.gate.about(self._change_subject(plan.change)):
                        results.append(self._one(plan, base, base_sha, tree, report, plan.change.key in replaceable))
                    if self._stop_after is not None:
                        results += [ChangeResult(p.change.key, p.change.branch, "skipped", p.change,
                                                 "not handled: the run was stopped") for p in plans[number + 1:]]
                        raise self._stop_after
                except Stopped as exc:
                    if exc is self._stop_after:
                        raise
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "skipped", plan.change,
                                                f"not finished: {exc}"))
                    results += [ChangeResult(p.change.key, p.change.branch, "skipped", p.change,
                                             "not handled: the run was stopped") for p in plans[number + 1:]]
                    raise
                except Denied as exc:
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "skipped", plan.change, str(exc)))
                except NightcrewError as exc:
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "failed", plan.change, str(exc)))
                except Exception as exc:  # one change's surprise must not cost the others their results
                    reason = redact(f"internal error: {type(exc).__name__}: {exc}", self.secrets).splitlines()[0]
                    results.append(ChangeResult(plan.change.key, plan.change.branch, "failed", plan.change, reason))
            results += self._close_replaced(results, snapshot, report)
            results += self._merge_ready(results, snapshot, base_sha)
        return base

    @staticmethod
    def _change_subject(change: ProposedChange) -> Subject:
        """What the policy sees of one change: its packages and its largest update kind."""
        from jobs.state.record import change_kind

        return Subject(packages=tuple(sorted({u.dependency.name for u in change.updates})),
                       kind=change_kind(u.kind for u in change.updates))

    def _one(self, plan: planner.Planned, base: str, base_sha: str, tree: Path, report: ScanReport,
             replaces_open: bool) -> ChangeResult:
        change, branch = plan.change, plan.change.branch

        def result(action: str, reason: str | None = None, **more: object) -> ChangeResult:
            return ChangeResult(change.key, branch, action, change, reason, **more)  # type: ignore[arg-type]

        existing = self.gate.run("forge.read", branch, lambda: self.forge.pulls_for_branch(branch))
        open_pr = next((p for p in existing if p.state == "open"), None)
        if open_pr is not None:  # approval labels on the PR count for every action on this change from here on
            self.gate.with_labels(open_pr.labels)
        merged = next((p for p in existing if p.state == "merged"), None)
        if merged and not open_pr:
            return result("skipped", f"already merged in #{merged.number}")
        closed = next((p for p in existing if p.state == "closed"), None)
        if closed and not open_pr and (read_marker(closed.body) or {}).get("closed_by") != "nightcrew":
            return result("skipped", f"#{closed.number} was closed without merging: this version is not proposed again")
        if open_pr is None and not change.security:  # security updates pass the PR limits, as Dependabot's do
            limit = self._limit_reason(replaces_open)
            if limit:
                return result("skipped", limit)
            if not self.dry_run and self.gate.verdict("forge.create_pull")[0] != "allow":
                # no branch, no test run and no push for a PR the policy will not let us open: ask now, so the
                # gate records the denial (and raises Denied: the change is skipped with its rule)
                self.gate.run("forge.create_pull", branch, lambda: None)

        edits = edit.apply(tree, change.updates)
        refresh = change.key == LOCK_MAINTENANCE
        relocking = refresh or any(u.dependency.lockfile for u in change.updates)
        if not edits and not relocking:
            return result("skipped", "the manifests already allow this version: nothing to change")
        change = replace(change, edits=edits, commit_message=self.renderer.commit_message(change, plan.group))
        title = self.renderer.title(change, plan.group)

        tips = self._branch_tips(branch)
        others = sorted({email for _, tip in tips for email in self.git.foreign_commits(base_sha, tip, self.author.email)})
        if others:
            if self.recorder is not None and not self.dry_run:
                from jobs.state.record import change_kind

                self.recorder.branch_pushed(open_pr, {u.dependency.name: str(u.new) for u in change.updates},
                                            change_kind(u.kind for u in change.updates), ", ".join(others))
            if open_pr and not self.dry_run:
                self._comment_once(open_pr.number, f"nightcrew did not update this branch: it has commits by "
                                   f"{', '.join(others)}. Close this pull request to let nightcrew start over.")
            return result("skipped", f"branch {branch} has commits by {', '.join(others)}: not overwriting them",
                          pull=open_pr)
        remote_sha, tip = tips[0] if tips else (None, "")
        same_content = bool(remote_sha) and all(self.git.file_at(tip, e.file) == e.after for e in edits)
        if self.dry_run:
            action = "unchanged" if open_pr and same_content and open_pr.title == title else (
                "updated" if open_pr else "opened")
            if action == "opened":
                self.opened += 1
                self.open_count += 0 if replaces_open else 1
            return result(action, "dry run: nothing was changed", pull=open_pr)

        locks: tuple = ()
        with self._worktree(branch, base_sha) as worktree:
            edit.write(worktree, edits)
            if relocking:  # the lockfile moves with its own tool; a failure leaves nothing committed
                relocked = self._relock(worktree, branch, change, report, refresh=refresh)
                locks = relocked.changes
                edits = tuple(edits) + relocked.edits
                change = replace(change, edits=edits)
                if not edits:
                    return result("skipped", "the lockfile already locks these versions: nothing to change")
            files = [e.file for e in edits]
            sha = self.gate.run("git.branch", branch, inputs={"files": files, "after": [e.after for e in edits],
                                                              "message": change.commit_message},
                                fn=lambda: self.git.commit(worktree, files, change.commit_message, self.author))
            same_tree = bool(remote_sha) and self.git.tree_of(tip) == self.git.tree_of(sha)
            if open_pr and same_tree and open_pr.title == title and self._body_vouches_for(open_pr, remote_sha):
                self._sync_labels(open_pr, failing=None, security=bool(change.security),
                                  yanked=change.yanked is not None)
                return result("unchanged", None, pull=open_pr)
            tests = self._test(worktree, branch, report)
        failing = tests.outcome != "passed"
        if failing and self.config.updates.on_test_failure == "skip":
            return result("skipped", f"tests {tests.outcome.replace('_', ' ')}: no pull request "
                                     "(on_test_failure = \"skip\")", tests=tests)
        if not same_tree:
            try:
                self._publish(branch, sha, tips)
            except PushRejected as exc:
                if not _needs_workflow_permission(str(exc), change):
                    raise
                return result("skipped", WORKFLOW_PERMISSION, tests=tests)
        tested = sha if not same_tree else remote_sha  # the branch's head from now on: what the tests vouch for
        if open_pr is not None and self.recorder is not None:
            # at once: if updating the PR fails below, the store must not keep vouching for the previous head
            self.recorder.tested(open_pr.number, tests.outcome, tested)
        entries = self._changelog_entries(change, report)
        publishers = self._publishers(change, report)
        flagged = [c for c in publishers if c.flagged]
        for check in flagged:  # an audit record the report turns into an alert
            self.gate.note("index.provenance", f"{check.package} {check.new}", "flagged", check.summary(),
                           rule=PUBLISHER_LABEL)
        body = self.renderer.body(change, plan.group, tests, changelog=entries, locks=_lock_context(locks),
                                  publishers=[c.to_json() for c in flagged])
        pull, action = self._open_or_update(branch, base, title, body, failing, open_pr, change,
                                            (tests.outcome, tested))
        if flagged and PUBLISHER_LABEL not in pull.labels:  # the bot never merges it: the label says why
            self._soft("forge.label", pull.number, lambda: self.forge.add_labels(pull.number, [PUBLISHER_LABEL]))
        if self._stop_after is None:
            try:
                confirmed = self.gate.run("forge.read", f"#{pull.number}", lambda: self.forge.get_pull(pull.number))
            except Stopped as exc:
                self._stop_after = exc
        if self._stop_after is not None:
            # the PR was written (the forge answered with it); its finishing touches or the read-back were not done
            return result(action, f"not finished: {self._stop_after}", pull=pull, tests=tests, tested_sha=tested,
                          locks=locks)
        if confirmed.state != "open" or confirmed.branch != branch:
            return result("failed", f"the forge did not confirm #{pull.number} open on {branch}", tests=tests,
                          locks=locks)
        return result(action, None, pull=confirmed, tests=tests, tested_sha=tested, locks=locks)

    # -- steps -----------------------------------------------------------------------------------

    def _body_vouches_for(self, pull: PullRequest, head: str | None) -> bool:
        """Whether the PR's test results are those of its current head, as far as the state store knows (a run that
        pushed a new commit and then failed to update the PR leaves results of the commit before)."""
        if self.recorder is None or head is None:
            return True
        tracked = self.recorder.store.tracked_pull(self.recorder.repository, pull.number)
        if tracked is None or not tracked.get("tests_sha"):
            return True
        if tracked["tests_sha"] != head:
            return False
        # the head's own results are known; the PR shows them only if its failing label agrees with them
        shows_failing = self.config.updates.failing_label in pull.labels
        return shows_failing == (tracked.get("tests") not in (None, "passed"))

    def _changelog_entries(self, change: ProposedChange, report: ScanReport) -> list[dict]:
        """The PR body's changelog part; whatever goes wrong there is reported and never costs the PR."""
        if self._changelogs is None:
            return []
        try:
            return self._changelogs.entries(change, report)
        except Stopped:  # the kill switch: the run stops here, it is not a changelog problem
            raise
        except Exception as exc:  # upstream text is hostile input: a crash in reading it must not stop the PR
            reason = redact(f"{type(exc).__name__}: {exc}", self.secrets).splitlines()[0][:300]
            self.problems.append(Problem(None, None, f"{change.branch}: changelog left out ({reason})"))
            return []

    def _limit_reason(self, replaces_open: bool) -> str | None:
        limits = self.config.updates
        if self.opened >= limits.max_prs_per_run:
            return f"limit reached: max_prs_per_run = {limits.max_prs_per_run}"
        # a change that replaces one of the bot's open PRs leaves the number of open PRs as it is
        if not replaces_open and self.open_count >= limits.max_open_prs:
            return f"limit reached: max_open_prs = {limits.max_open_prs}"
        return None

    def _branch_tips(self, branch: str) -> list[tuple[str, str]]:
        """(commit, ref) of the branch wherever a person could have pushed to it: the remote, then the local branch."""
        tips: list[tuple[str, str]] = []
        if self.remote:
            sha = self.gate.run("forge.read", f"{self.remote} {branch}",
                                lambda: self.git.remote_sha(self.remote, branch))
            if sha is not None:
                ref = self.gate.run("git.fetch", f"{self.remote} {branch}",
                                    lambda: self.git.fetch_branch(self.remote, branch))
                tips.append((sha, ref))
        if self.forge.kind == "local":
            local = self.git.sha(f"refs/heads/{branch}")
            if local is not None and not any(sha == local for sha, _ in tips):
                tips.append((local, f"refs/heads/{branch}"))
        return tips

    @contextmanager
    def _worktree(self, branch: str, base_sha: str) -> Iterator[Path]:
        self.gate.run("git.branch", f"worktree for {branch}", lambda: None,  # policy check for what follows
                      inputs={"branch": branch, "base": base_sha})
        with self.git.worktree(base_sha) as worktree:
            yield worktree

    def _publishers(self, change: ProposedChange, report: ScanReport) -> list:  # type: ignore[type-arg]
        """PEP 740 publisher continuity of each update (``jobs.index.provenance``); a fetch failure is reported and
        costs only the check."""
        from jobs.index import provenance
        from jobs.index.client import IndexClient

        checks = []
        if report.location is None:
            return checks
        with IndexClient(report.location, cache_dir=None, timeout=self.config.index.timeout, retries=1,
                         backoff=self.config.index.backoff) as client:
            for update in change.updates:
                page = report.pages.get(update.dependency.name)
                if page is None or update.old is None:
                    continue
                try:
                    found = self.gate.run("index.fetch", f"provenance {update.dependency.name}",
                                          lambda page=page, update=update: provenance.check(client, page, update.old,
                                                                                            update.new))
                except (PackageIndexError, provenance.PackageIndexError) as exc:
                    self.problems.append(Problem(None, None, f"{change.branch}: publisher not checked: {exc}"))
                    continue
                if found is not None:
                    checks.append(found)
        return checks

    def _with_yank_reasons(self, plans: list[planner.Planned], report: ScanReport) -> list[planner.Planned]:
        """A change replacing a yanked pin carries the index's reason for the yank (the PR says why it exists)."""
        reasons = {(s.dependency.file, s.dependency.line): s.yanked_reason or "" for s in report.statuses if s.yanked}
        return [replace(p, change=replace(p.change, yanked=next(
            (reasons[(u.dependency.file, u.dependency.line)] for u in p.change.updates
             if (u.dependency.file, u.dependency.line) in reasons), ""))) if p.change.yanked is not None else p
            for p in plans]

    def _age_notice(self, report: ScanReport) -> None:
        """Once per run: a cooldown is set but the index gives no upload times, so release ages are unknown."""
        cooldown = self.config.updates.cooldown
        python = {s.dependency.name for s in report.statuses if s.dependency.ecosystem == "python"}
        pages = [p for name, p in report.pages.items() if p.files and name in python]  # tags are dated apart
        if cooldown.default_days <= 0 and not cooldown.packages and not any(
                (cooldown.major_days, cooldown.minor_days, cooldown.patch_days)):
            return
        if pages and not any(f.upload_time for p in pages for f in p.files):
            what = "proposed as if old enough" if cooldown.unknown_age == "propose" else "held"
            self.notices.append(f"the index gives no upload times (PEP 700): release ages are unknown and new "
                                f"releases are {what} (updates.cooldown.unknown_age = \"{cooldown.unknown_age}\")")

    def _with_security(self, plans: list[planner.Planned], report: ScanReport) -> list[planner.Planned]:
        """Security updates first: a change that already moves the package to a fixing version carries the
        advisories (and the label) instead of a second PR; any other vulnerable dependency gets its own change to
        the lowest fixing release. Ignored and unfixable ones are reported in the run summary."""
        if not self.config.security.enabled or not report.vulnerable:
            return plans
        security, skipped = planner.security_updates(report.statuses, self.config.updates,
                                                     min_severity=self.config.security.min_severity,
                                                     only=self.only)
        self._skipped = tuple(self._skipped) + tuple(skipped)
        plans = list(plans)
        extra: list[planner.Planned] = []
        for update, advisories in security:
            name, place = update.dependency.name, (update.dependency.file, update.dependency.line)
            reaching = next((i for i, p in enumerate(plans) if any(
                u.dependency.name == name and (u.dependency.file, u.dependency.line) == place and u.new >= update.new
                and u.new.major == update.new.major for u in p.change.updates)), None)
            if reaching is not None:
                found = plans[reaching]
                plans[reaching] = replace(found, change=replace(found.change, security=tuple(
                    dict.fromkeys(found.change.security + advisories))))
                continue
            change = ProposedChange(key=f"{name}:security@{update.dependency.file}", updates=(update,),
                                    branch=f"{self.prefix}{planner._slug(name)}-{update.new}", security=advisories)
            extra.append(planner.Planned(change, None, "security"))
        ordered = extra + [p for p in plans if p.change.security] + [p for p in plans if not p.change.security]
        return ordered

    def _lock_maintenance(self, report: ScanReport) -> planner.Planned | None:
        """The lock-maintenance change when it is due: enabled, the repository has lockfiles, the run is not
        limited to some packages, and the branch's last refresh is older than the interval (or there is none)."""
        settings = self.config.updates.lock_maintenance
        if not settings.enabled or not report.locked_projects or self.only:
            return None
        branch = f"{self.prefix}lock-maintenance"
        tips = self._branch_tips(branch)
        if tips:
            stamp = self.git.run("log", "-1", "--format=%ct", tips[0][1], check=False)
            if stamp.isdigit() and time.time() - int(stamp) < settings.interval_days * 86400:
                return None
        return planner.Planned(ProposedChange(key=LOCK_MAINTENANCE, updates=(), branch=branch), None, "minor")

    def _relock(self, worktree: Path, branch: str, change: ProposedChange, report: ScanReport, *,  # type: ignore[no-untyped-def]
                refresh: bool = False):
        from jobs.lockfiles.relock import relock

        assert report.location is not None
        location = report.location
        return self.gate.run("lock.update", branch, inputs={"updates": {u.dependency.name: str(u.new)
                                                                         for u in change.updates}},
                             fn=lambda: relock(worktree, report.locked_projects, change.updates,
                                               index_url=location.url, extra_urls=location.extra_urls,
                                               settings=self.config.lockfiles, secrets=self.secrets,
                                               refresh=refresh),
                             extra=lambda done: {"lockfiles": [e.file for e in done.edits],
                                                 "moved": len(done.changes),
                                                 "tool_seconds": round(sum(r.seconds for r in done.runs), 3),
                                                 "commands": [" ".join(r.command) for r in done.runs]})

    def _test(self, worktree: Path, branch: str, report: ScanReport) -> TestReport:
        settings = self.config.tests
        spec = RunSpec(setup=settings.setup, command=settings.command, timeout=settings.timeout,
                       system_site_packages=settings.system_site_packages, secret_env=settings.secret_env)
        files = sorted({d.dependency.file for d in report.statuses if d.dependency.section == "requirements"})
        if "python" not in self.config.updates.ecosystems and "requirements" in self.config.manifests.formats:
            # Python packages are not updated here, but the tests still need them installed
            from jobs import manifests
            from jobs.manifests.base import relative

            found = manifests.get("requirements").find(worktree, self.config.manifests.globs("requirements"))
            files = sorted({relative(worktree, path) for path in found})
        if report.locked_projects:  # the tests run against the lock: exactly the locked set is installed
            from jobs.lockfiles.relock import locked_requirements

            assert report.location is not None
            files += [f for f in locked_requirements(worktree, report.locked_projects, index_url=report.location.url,
                                                     extra_urls=report.location.extra_urls,
                                                     settings=self.config.lockfiles, secrets=self.secrets)
                      if f not in files]
        started = time.perf_counter()
        try:
            assert report.location is not None
            return self.gate.run("tests.run", branch, inputs={"setup": list(spec.setup), "command": spec.command,
                                                              "requirement_files": files}, fn=lambda: run_tests(
                worktree, spec, index=report.location, requirement_files=files, secrets=self.secrets))
        finally:
            self.test_seconds += time.perf_counter() - started

    def _publish(self, branch: str, sha: str, tips: list[tuple[str, str]]) -> None:
        if self.forge.kind == "local":
            self.gate.run("git.branch", branch, lambda: self.git.set_branch(branch, sha),
                          inputs={"branch": branch, "sha": sha})
        if self.remote:
            expected = tips[0][0] if tips and tips[0][1].startswith("refs/nightcrew/") else None
            self.gate.run("git.push", f"{self.remote} {branch}",
                          lambda: self.git.push(self.remote, branch, sha, expected=expected),
                          inputs={"branch": branch, "sha": sha, "expected": expected})

    def _open_or_update(self, branch: str, base: str, title: str, body: str, failing: bool,
                        open_pr: PullRequest | None, change: ProposedChange,
                        tested: tuple[str, str | None]) -> tuple[PullRequest, str]:
        draft = failing and self.config.updates.on_test_failure == "draft"
        if open_pr is None:
            try:
                pull = self.gate.run("forge.create_pull", branch, lambda: self.forge.create_pull(
                    branch=branch, base=base, title=title, body=body, draft=draft),
                    inputs={"branch": branch, "base": base, "title": title, "body": body, "draft": draft})
            except DuplicatePull:  # a PR we could not see a moment ago (a race, or an earlier retry that got through)
                found = self.gate.run("forge.read", branch, lambda: self.forge.pulls_for_branch(branch))
                open_pr = next((p for p in found if p.state == "open"), None)
                if open_pr is None:
                    raise
            else:
                self.opened += 1
                self.open_count += 1
                self._wrote_body(pull, change, tested)
                try:
                    self._sync_labels(pull, failing, security=bool(change.security),
                                      yanked=change.yanked is not None)
                    if self.config.updates.reviewers:
                        self._soft("forge.request_review", pull.number, lambda: self.forge.request_reviewers(
                            pull.number, self.config.updates.reviewers))
                except Stopped as exc:
                    self._stop_after = exc  # reported with the PR; the run stops after this change
                return pull, "opened"
        number = open_pr.number
        if open_pr.title != title or open_pr.body != body:
            open_pr = self.gate.run("forge.update_pull", f"#{number}",
                                    lambda: self.forge.update_pull(number, title=title, body=body),
                                    inputs={"title": title, "body": body})
            self._wrote_body(open_pr, change, tested)
            action = "updated"
        else:
            action = "unchanged"
        try:
            self._sync_labels(open_pr, failing, security=bool(change.security),
                              yanked=change.yanked is not None)
            if open_pr.draft != draft:  # the draft state follows the latest test result
                self._soft("forge.update_pull", number, lambda: self.forge.set_draft(number, draft))
                action = "updated"
        except Stopped as exc:
            if action == "unchanged":
                raise
            self._stop_after = exc
        return open_pr, action

    def _wrote_body(self, pull: PullRequest, change: ProposedChange, tested: tuple[str, str | None]) -> None:
        """Remember the body just written, and the test outcome it reports, before anything else can stop the run
        (see ``Recorder.wrote_body``)."""
        if self.recorder is None or self.dry_run:
            return
        from jobs.state.record import change_kind

        self.recorder.wrote_body(pull, key=change.key, packages={u.dependency.name: str(u.new) for u in change.updates},
                                 kind=change_kind(u.kind for u in change.updates), tested=tested)

    def _sync_labels(self, pull: PullRequest, failing: bool | None, security: bool = False,
                     yanked: bool = False) -> None:
        """The configured labels (and the security label on a security update), and the failing label exactly
        when the tests failed (None: leave it)."""
        labels = list(self.config.updates.labels) + ([self.config.security.label] if security else [])
        if yanked:
            labels.append(self.config.updates.yanked_label)
        wanted = [label for label in labels if label not in pull.labels]
        failing_label = self.config.updates.failing_label
        if failing and failing_label not in pull.labels:
            wanted.append(failing_label)
        if wanted:
            self._soft("forge.label", pull.number, lambda: self.forge.add_labels(pull.number, wanted))
        if failing is False and failing_label in pull.labels:
            self._soft("forge.label", pull.number, lambda: self.forge.remove_label(pull.number, failing_label))

    def _soft(self, action: str, number: int, fn: Callable[[], object]) -> None:
        """A finishing touch on a PR that exists: a failure is reported and the PR is still reported as it is."""
        try:
            self.gate.run(action, f"#{number}", fn)
        except Stopped:
            raise
        except NightcrewError as exc:
            self.problems.append(Problem(None, None, f"#{number}: {exc}"))

    def _comment_once(self, number: int, body: str) -> None:
        if body in self.gate.run("forge.read", f"#{number} comments", lambda: self.forge.comments(number)):
            return
        self.gate.run("forge.comment", f"#{number}", lambda: self.forge.comment(number, body))

    def _close_replaced(self, results: list[ChangeResult], snapshot: _Snapshot, report: ScanReport,
                        ) -> list[ChangeResult]:
        """Close the bot's open PRs that a newer change replaces, or whose versions the base already has."""
        live = {r.key: r for r in results if r.action in ("opened", "updated", "unchanged")}
        touched = {r.branch for r in results}
        current: dict[str, list[Version]] = {}
        for status in report.statuses:
            if status.current is not None:
                current.setdefault(status.dependency.name, []).append(status.current)
        closed: list[ChangeResult] = []
        for pull in snapshot.open:
            marker = read_marker(pull.body) or {}
            newer = live.get(marker.get("key", ""))
            if newer is not None and newer.branch != pull.branch:
                number = f"#{newer.pull.number} " if newer.pull else ""
                note = f"Superseded by {number}({newer.branch})."
            elif pull.branch not in touched and self._already_on_base(marker, current):
                note = "No longer needed: the base branch already has " + ", ".join(
                    f"{name} {version}" for name, version in sorted(marker["updates"].items())) + "."
            else:
                continue
            if self.dry_run:
                closed.append(ChangeResult(marker.get("key", ""), pull.branch, "superseded", None,
                                           f"dry run: would close: {note}", pull))
                continue
            try:
                with self.gate.about(self._pull_subject(pull, marker)):
                    closed.append(self._close_one(pull, marker, note))
            except Stopped:
                raise
            except Denied as exc:
                closed.append(ChangeResult(marker.get("key", ""), pull.branch, "skipped", None,
                                           f"not closed: {exc}", pull))
            except NightcrewError as exc:
                closed.append(ChangeResult(marker.get("key", ""), pull.branch, "failed", None,
                                           f"closing #{pull.number}: {exc}"))
        return closed

    def _pull_subject(self, pull: PullRequest, marker: dict) -> Subject:
        """What the policy sees of one of the bot's PRs this run did not build: its packages, kind and labels."""
        kind = marker.get("kind")
        if self.recorder is not None:
            tracked = self.recorder.store.tracked_pull(self.recorder.repository, pull.number)
            kind = (tracked or {}).get("kind") or kind
        return Subject(packages=tuple(sorted(marker.get("updates") or {})), kind=kind, labels=tuple(pull.labels))

    def _close_one(self, pull: PullRequest, marker: dict, note: str) -> ChangeResult:
        """Comment, close, and only then mark the PR closed by nightcrew.

        In this order a failure anywhere is harmless: an open PR never carries the mark (which would make a
        later close by a person look like the bot's), and a close without the mark only reads as a person
        closing a version that is obsolete anyway.
        """
        number = pull.number
        self._comment_once(number, note)
        done = self.gate.run("forge.close_pull", f"#{number}", lambda: self.forge.close_pull(number))
        try:
            done = self.gate.run("forge.update_pull", f"#{number}", lambda: self.forge.update_pull(
                number, title=pull.title, body=with_marker(pull.body, closed_by="nightcrew")))
        except Stopped:
            raise
        except NightcrewError as exc:
            self.problems.append(Problem(None, None, f"#{number} was closed but not marked as closed by nightcrew: "
                                                     f"{exc}"))
        return ChangeResult(marker.get("key", ""), pull.branch, "superseded", None, note, done)

    # -- autonomous mode -------------------------------------------------------------------------

    def _merge_ready(self, results: list[ChangeResult], snapshot: _Snapshot, base_sha: str) -> list[ChangeResult]:
        """Autonomous mode: merge each of the bot's open PRs that the policy allows; the rest stay proposals.

        A denial (too young, no automerge rule, a hold label, a limit) is audited by the gate and shown in the
        run summary; the PR is left as it is. A merge is reported only once the forge confirms it.
        """
        if self.gate.mode != "autonomous" or self.dry_run:
            return []
        # what this run did to each PR: a skipped or failed branch (someone else's commits, an error) is not merged
        handled: dict[str, ChangeResult] = {r.branch: r for r in results}
        candidates: dict[int, PullRequest] = {p.number: p for p in snapshot.open}
        for r in results:
            if r.pull is not None and r.action in ("opened", "updated", "unchanged"):
                candidates[r.pull.number] = r.pull
        merged: list[ChangeResult] = []
        for number, known in sorted(candidates.items()):
            result = handled.get(known.branch)
            if result is not None and result.action not in ("opened", "updated", "unchanged"):
                continue
            pull = self.gate.run("forge.read", f"#{number}", lambda: self.forge.get_pull(number))
            if pull.state != "open" or not pull.head_sha:
                continue
            if PUBLISHER_LABEL in pull.labels:  # a changed publisher or dropped attestations: a person decides
                self.gate.note("forge.merge", f"#{number}", "denied", "the release's publisher changed or its "
                               "attestations were dropped: never merged by the bot", rule=PUBLISHER_LABEL)
                continue
            if result is None and self._foreign_commits(pull, base_sha):
                continue  # tests recorded for the bot's commit say nothing about someone else's
            change = result.change if result is not None else None
            key = result.key if result is not None else (read_marker(pull.body) or {}).get("key", "")
            subject = self._merge_subject(pull, result)
            head = pull.head_sha
            verdict = self._forge_verdict(number, head)
            if verdict is not None:
                outcome, reason, rule = verdict
                self.gate.note("forge.merge", f"#{number}", "denied" if outcome == "denied" else "waiting", reason,
                               rule=rule)
                if outcome == "waiting":  # the next run looks again; a denial is never retried in a loop
                    merged.append(ChangeResult(key, pull.branch, "skipped", change, reason, pull))
                continue
            method = self._merge_method()
            try:
                self.gate.run("forge.merge", f"#{number}",
                              lambda: self.forge.merge_pull(number, sha=head, method=method),
                              inputs={"number": number, "sha": head, "method": method},
                              subject=subject)
                confirmed = self.gate.run("forge.read", f"#{number}", lambda: self.forge.get_pull(number))
            except Denied:
                continue
            except Stopped:
                raise
            except NightcrewError as exc:
                merged.append(ChangeResult(key, pull.branch, "failed", change, f"merging #{number}: {exc}", pull))
                continue
            if confirmed.state != "merged":
                merged.append(ChangeResult(key, pull.branch, "failed", change,
                                           f"the forge did not confirm #{number} merged", confirmed))
                continue
            reason = f"merged by policy ({subject.kind}, tests {subject.tests})"
            merged.append(ChangeResult(key, pull.branch, "merged", change, reason, confirmed,
                                       result.tests if result is not None else None))
        return merged

    def _forge_verdict(self, number: int, head: str) -> tuple[str, str, str] | None:
        """The forge's checks, reviews and mergeability for the head, when the forge gives them (GitHub): None when
        it says ready (or has no such verdict), else (``waiting`` | ``denied``, reason, rule)."""
        readiness = getattr(self.forge, "merge_readiness", None)
        if readiness is None:
            return None
        try:
            outcome, reason, rule = self.gate.run("forge.read", f"#{number} checks", lambda: readiness(
                number, sha=head, require_all=self.config.policy.require_all_checks))
        except Stopped:
            raise
        except NightcrewError as exc:
            return "denied", f"cannot verify checks: {exc}", "checks-unverifiable"
        return None if outcome == "ready" else (outcome, reason, rule)

    def _merge_method(self) -> str:
        chooser = getattr(self.forge, "merge_method", None)
        preferred = self.config.policy.merge_method
        if chooser is None:
            return preferred or "squash"
        return self.gate.run("forge.read", "merge method", lambda: chooser(preferred))

    def _foreign_commits(self, pull: PullRequest, base_sha: str) -> list[str]:
        tips = self._branch_tips(pull.branch)
        return sorted({e for _, tip in tips for e in self.git.foreign_commits(base_sha, tip, self.author.email)})

    def _merge_subject(self, pull: PullRequest, result: ChangeResult | None) -> Subject:
        """What the policy needs to decide a merge, each fact from the most direct source there is."""
        from jobs.state.record import change_kind

        tracked = None
        if self.recorder is not None:
            tracked = self.recorder.store.tracked_pull(self.recorder.repository, pull.number)
        change = result.change if result is not None else None
        if change is not None:
            packages = tuple(dict.fromkeys(u.dependency.name for u in change.updates))
            kind = change_kind(u.kind for u in change.updates)
        else:
            packages = tuple(sorted(((read_marker(pull.body) or {}).get("updates") or {})))
            kind = tracked["kind"] if tracked else None
        # tests count only for the commit they ran on: a head that moved since makes them unknown
        tests: str | None = None
        if result is not None and result.tests is not None and result.tested_sha == pull.head_sha:
            tests = result.tests.outcome
        elif tracked is not None and tracked.get("tests") and tracked.get("tests_sha") == pull.head_sha:
            tests = tracked["tests"]
        if tests is None and self.config.updates.failing_label in pull.labels:
            tests = "failed"
        age = None
        if pull.created_at:
            created = datetime.fromisoformat(pull.created_at.replace("Z", "+00:00"))
            created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
            age = max(0.0, (self.gate.policy.clock() - created).total_seconds() / 3600)
        return Subject(packages=packages, kind=kind, labels=tuple(pull.labels), tests=tests, age_hours=age,
                       draft=pull.draft, release_age_hours=self._release_age(pull, change))

    def _release_age(self, pull: PullRequest, change: ProposedChange | None) -> float | None:
        """Hours since the youngest release the PR moves to appeared on the index: from this run's plan, else
        from the PR's marker (written by the bot, first in the body). None when any of them is unknown."""
        if change is not None:
            times: list[datetime | None] = [u.released for u in change.updates]
        else:
            marker = read_marker(pull.body) or {}
            released = marker.get("released")
            released = released if isinstance(released, dict) else {}  # a person may have edited the body
            updates = marker.get("updates")
            times = []
            for name in updates if isinstance(updates, dict) else ():
                try:
                    times.append(datetime.fromisoformat(str(released[name])))
                except (KeyError, ValueError):
                    times.append(None)
        if not times or any(t is None for t in times):
            return None
        now = self.gate.policy.clock()
        youngest = max(t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in times if t is not None)
        return max(0.0, (now - youngest).total_seconds() / 3600)

    @staticmethod
    def _already_on_base(marker: dict, current: dict[str, list[Version]]) -> bool:
        updates = marker.get("updates") or {}
        if not updates:
            return False
        try:
            return all(name in current and min(current[name]) >= Version(version) for name, version in updates.items())
        except ValueError:
            return False


def run_job(repo: Path, config: Config, *, forge_kind: str | None = None, dry_run: bool = False,
            only: tuple[str, ...] = (), mode: str | None = None, progress: Callable[[str], None] | None = None,
            shutdown: threading.Event | None = None, remote: str | None = None) -> UpdateRun:
    """One run as the command line and the scheduler start it: under the run lock, the policy and the kill switch,
    recorded in the state store."""
    from packaging.utils import canonicalize_name

    from jobs.runs import JobRun
    from jobs.state.record import Recorder

    git = Git(repo)
    forge = make_forge(config, repo, git, forge_kind or config.forge.kind, dry_run=dry_run, remote=remote)
    with JobRun(repo, config, "dependency-updates", mode=mode, dry_run=dry_run, secrets=(),
                shutdown=shutdown) as job:
        recorder = None if dry_run or job.store is None else Recorder(job.store, job.repository, job.run_id)
        result = DependencyUpdates(repo, config, forge=forge, dry_run=dry_run,
                                   only=tuple(canonicalize_name(p) for p in only), progress=progress,
                                   gate=job.gate, recorder=recorder).run()
        # the dashboard shows the whole repository: a dry run, a stopped run or an --only run saw part of it
        if config.dashboard.enabled and not dry_run and not result.stopped and not only:
            from jobs import dashboard

            try:
                _, problem = dashboard.update(repo, config, forge=forge, gate=job.gate, store=job.store,
                                              repository=job.repository, result=result)
            except Stopped as exc:  # the kill switch or a shutdown came after the changes: a stopped run
                result, problem = replace(result, stopped=str(exc)), None
            result = replace(result, audit=tuple(job.gate.records),
                             problems=result.problems + ((problem,) if problem else ()))
        outcome = ("paused" if result.stopped and "paused" in result.stopped else "interrupted") if result.stopped \
            else ("partial" if result.failed or result.problems else "ok")
        counts: dict[str, int] = {}
        for change in result.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        summary: dict = {"changes": counts, "stopped": result.stopped, "problems": len(result.problems)}
        if result.advisories is not None:
            summary["advisories"] = result.advisories
            summary["advisories_unchecked"] = list(result.advisories_unchecked)
        job.finish(outcome, summary)
    return result
