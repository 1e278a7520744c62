"""The onboarding pull request of `nightcrew init --pr`: the proposed config and workflow on a branch of their own,
opened (or updated) through the forge, never committed to the base branch.

Human overrides win as for bump PRs: a closed onboarding PR is not opened again, a branch people pushed to is
not overwritten, and a merged one (or a base branch that already has ``nightcrew.toml``) means the repository
is onboarded. Every step goes through the gate (policy first, audit after)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from jobs.adoption.init import (
    CONFIG_FILE,
    TITLE,
    Proposal,
    check_config,
    pr_body,
    propose,
)
from jobs.config import Config
from jobs.errors import ConfigError, NightcrewError
from jobs.forges.base import PullRequest
from jobs.vcs import Author, Git


@dataclass(frozen=True)
class Onboarding:
    action: str  # opened | updated | unchanged | skipped | dry_run | failed
    branch: str
    base: str
    pull: PullRequest | None
    reason: str | None
    proposal: Proposal
    preview: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def preview(repo: Path, proposal: Proposal, forge, base_config: Config) -> tuple[list[str] | None, str | None]:  # type: ignore[no-untyped-def]
    """What the first run would propose with the proposed config: a dry run of the dependency-updates job."""
    import uuid

    from jobs.dependency_updates import DependencyUpdates
    from jobs.tools import Gate

    try:
        config = check_config(proposal.config_text)
        config = config.model_copy(update={"forge": base_config.forge, "tests": base_config.tests})
        gate = Gate(run_id=uuid.uuid4().hex[:12], job="init", mode="advisory", dry_run=True, audit_path=None)
        run = DependencyUpdates(repo, config, forge=forge, dry_run=True, gate=gate).run()
    except NightcrewError as exc:
        return None, str(exc)
    if run.stopped:
        return None, run.stopped
    lines = []
    for change in run.changes:
        if change.action not in ("opened", "updated", "unchanged") or change.change is None:
            continue
        moves = ", ".join(f"{u.dependency.name} {u.old} → {u.new}" for u in change.change.updates)
        kinds = sorted({u.kind for u in change.change.updates})
        lines.append(f"{moves} ({'/'.join(kinds)}; branch `{change.branch}`)")
    problem = None
    if not lines and run.problems:
        problem = str(run.problems[0])
    return list(dict.fromkeys(lines)), problem


def onboard(repo: Path, config: Config, forge, gate, *, dry_run: bool = False, force: bool = False  # type: ignore[no-untyped-def]
            ) -> Onboarding:
    git = Git(repo, env=forge.git_env(), secrets=gate.secrets)
    remote = getattr(forge, "remote", "") or ""
    base = forge.default_base()
    if remote:
        there = gate.run("forge.read", f"{remote} {base}", lambda: git.remote_sha(remote, base))
        if there is None:
            raise ConfigError(f"base branch {base!r} not found on remote {remote!r}", "forge.base")
        base_sha = git.sha(gate.run("git.fetch", f"{remote} {base}", lambda: git.fetch_branch(remote, base)))
    else:
        base_sha = git.sha(base)
    if base_sha is None:
        raise ConfigError(f"base branch {base!r} not found", "forge.base")
    branch = f"{config.forge.branch_prefix}onboarding"
    with tempfile.TemporaryDirectory(prefix="nightcrew-init-") as folder:
        tree = Path(folder)
        git.export(base_sha, tree)
        proposal = propose(tree, config, git_repo=repo, base=base)
        on_base = (tree / CONFIG_FILE).is_file()
        kept = [name for name in proposal.files if name != CONFIG_FILE and (tree / name).exists()]
        if kept and not force:  # a file people wrote stays theirs: the PR leaves it out and says so
            from dataclasses import replace

            proposal = replace(proposal, files={k: v for k, v in proposal.files.items() if k not in kept},
                               kept=tuple(kept))

    def result(action: str, reason: str | None = None, pull: PullRequest | None = None,
               shown: tuple[str, ...] = ()) -> Onboarding:
        return Onboarding(action, branch, base, pull, reason, proposal, shown, proposal.survey.problems)

    existing = gate.run("forge.read", branch, lambda: forge.pulls_for_branch(branch))
    open_pr = next((p for p in existing if p.state == "open"), None)
    merged = next((p for p in existing if p.state == "merged"), None)
    closed = next((p for p in existing if p.state == "closed"), None)
    if open_pr is None:
        if merged is not None:
            return result("skipped", f"already onboarded: #{merged.number} was merged")
        if closed is not None:
            return result("skipped", f"#{closed.number} was closed without merging: not opened again")
        if on_base and not force:
            return result("skipped", f"{CONFIG_FILE} is already on {base}: nothing to onboard (--force to propose "
                                     "a new one)")
    tips = []
    if remote:
        sha = gate.run("forge.read", f"{remote} {branch}", lambda: git.remote_sha(remote, branch))
        if sha is not None:
            tips.append((sha, gate.run("git.fetch", f"{remote} {branch}", lambda: git.fetch_branch(remote, branch))))
    if forge.kind == "local":
        local = git.sha(f"refs/heads/{branch}")
        if local is not None and not any(s == local for s, _ in tips):
            tips.append((local, f"refs/heads/{branch}"))
    author = Author(config.forge.author_name, config.forge.author_email)
    others = sorted({e for _, tip in tips for e in git.foreign_commits(base_sha, tip, author.email)})
    if others:
        return result("skipped", f"branch {branch} has commits by {', '.join(others)}: not overwriting them",
                      open_pr)
    shown, problem = preview(repo, proposal, forge, config)
    body = pr_body(proposal, shown, problem)
    if dry_run:
        return result("dry_run", "dry run: nothing was changed", open_pr, tuple(shown or ()))
    remote_sha, tip = tips[0] if tips else (None, "")
    with git.worktree(base_sha) as worktree:
        for name, text in proposal.files.items():
            target = worktree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        files = list(proposal.files)
        message = f"{TITLE}\n\nAdds {' and '.join(files)}, written by `nightcrew init`.\n"
        sha = gate.run("git.branch", branch, lambda: git.commit(worktree, files, message, author),
                       inputs={"files": files})
    same_tree = bool(remote_sha) and git.tree_of(tip) == git.tree_of(sha)
    if not same_tree:
        if forge.kind == "local":
            gate.run("git.branch", branch, lambda: git.set_branch(branch, sha), inputs={"branch": branch, "sha": sha})
        if remote:
            expected = tips[0][0] if tips and tips[0][1].startswith("refs/nightcrew/") else None
            gate.run("git.push", f"{remote} {branch}", lambda: git.push(remote, branch, sha, expected=expected),
                     inputs={"branch": branch, "sha": sha, "expected": expected})
    if open_pr is None:
        pull = gate.run("forge.create_pull", branch, lambda: forge.create_pull(
            branch=branch, base=base, title=TITLE, body=body, draft=False),
            inputs={"branch": branch, "base": base, "title": TITLE, "body": body})
        action = "opened"
    elif open_pr.title != TITLE or open_pr.body != body or not same_tree:
        number = open_pr.number
        pull = gate.run("forge.update_pull", f"#{number}", lambda: forge.update_pull(number, title=TITLE, body=body),
                        inputs={"title": TITLE, "body": body})
        action = "updated"
    else:
        pull, action = open_pr, "unchanged"
    confirmed = gate.run("forge.read", f"#{pull.number}", lambda: forge.get_pull(pull.number))
    if confirmed.state != "open" or confirmed.branch != branch:
        return result("failed", f"the forge did not confirm #{pull.number} open on {branch}", None, tuple(shown or ()))
    return result(action, None, confirmed, tuple(shown or ()))
