"""`nightcrew pause`, `resume` and `status`: the kill switch people hold, and what the bot is doing now."""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from jobs.commands._shared import config_option, repo_option

from jobs.state.store import ANY_REPOSITORY, LockHolder, stale_reason
from jobs.tools.killswitch import PAUSED, truthy

JOB = "control"  # audit records of people's switches carry this job name


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a container: the host still says where it came from
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _audit_path(config: Any, repo: Path) -> Path:
    path = Path(config.state.audit_log)
    return path if path.is_absolute() else repo / path


def _note(config: Any, repo: Path, store: Any, repository: str, action: str, target: str, outcome: str,
          detail: str) -> None:
    """A pause or resume is a person's act on the bot: it goes into the audit log like the bot's own acts."""
    import uuid

    from jobs.tools.gate import Gate
    from jobs.tools.redact import secrets_from_environment

    gate = Gate(run_id=uuid.uuid4().hex[:12], job=JOB, audit_path=_audit_path(config, repo), store=store,
                repository=repository, secrets=secrets_from_environment(extra=config.tests.secret_env))
    gate.note(action, target, outcome, detail, rule="person")
    for problem in gate.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)


def _open(repo: Path, config_path: Path | None, *, create: bool):  # type: ignore[no-untyped-def]
    from jobs.commands._shared import fail, load_config
    from jobs.errors import NightcrewError
    from jobs.runs import _existing_store
    from jobs.state.store import Store, repository_id

    config = load_config(repo, config_path)
    if create and not config.state.url:
        from jobs.vcs import Git

        git = Git(repo)
        if git.is_repository():  # the state file a pause creates stays out of `git status`, as the jobs' do
            git.keep_out((repo / config.state.path).parent, (repo / config.state.audit_log).parent)
    try:
        store = Store.for_repo(config, repo) if create else _existing_store(config, repo)
    except NightcrewError as exc:
        fail(str(exc))
    return config, store, repository_id(config, repo)


def _other_sources(config: Any, repo: Path) -> list[str]:
    """Pauses ``resume`` cannot lift: the environment variable and the file in the repository."""
    found = []
    name = config.policy.pause_env
    if name and truthy(os.environ.get(name)):
        found.append(f"the environment variable {name} is set")
    if config.policy.pause_file and (repo / config.policy.pause_file).is_file():
        found.append(f"{config.policy.pause_file} exists in the repository")
    return found


@click.command()
@repo_option
@config_option
@click.option("--reason", default="", help="Why (shown by `nightcrew status` and in every run this stops).")
@click.option("--all", "every", is_flag=True, help="Pause every repository that uses this state store.")
def pause(repo: Path, config_path: Path | None, reason: str, every: bool) -> None:
    """Stop the bot: running jobs stop before their next action, new runs do nothing until `nightcrew resume`."""
    config, store, repository = _open(repo, config_path, create=True)
    scope = ANY_REPOSITORY if every else repository
    with store:
        store.set_control(scope, PAUSED, reason.strip(), by=_who())
        _note(config, repo, store, repository, "control.pause", "every repository" if every else repository,
              "paused", f"paused by {_who()}" + (f": {reason.strip()}" if reason.strip() else ""))
    click.echo(f"paused {'every repository' if every else repository}" + (f": {reason.strip()}" if reason else ""))


@click.command()
@repo_option
@config_option
@click.option("--all", "every", is_flag=True, help="Lift the pause of every repository in this state store.")
def resume(repo: Path, config_path: Path | None, every: bool) -> None:
    """Lift a `nightcrew pause` (for this repository, or with --all for every one)."""
    config, store, repository = _open(repo, config_path, create=True)
    with store:
        if every:
            lifted = [row["repository"] for row in store.controls(PAUSED)]
            for where in lifted:
                store.clear_control(where, PAUSED)
        else:
            lifted = [repository] if store.clear_control(repository, PAUSED) else []
        _note(config, repo, store, repository, "control.resume", "every repository" if every else repository,
              "resumed", f"resumed by {_who()}" + (f" ({', '.join(lifted)})" if lifted else " (was not paused)"))
        still = store.control(repository, PAUSED)
    click.echo(f"resumed {'every repository' if every else repository}" + ("" if lifted else " (it was not paused)"))
    if still is not None:  # "*" still holds this repository
        click.echo("nightcrew: still paused: `nightcrew pause --all` holds every repository; "
                   "`nightcrew resume --all` lifts it", err=True)
    for source in _other_sources(config, repo):
        click.echo(f"nightcrew: still paused: {source}", err=True)


@click.command()
@repo_option
@config_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def status(repo: Path, config_path: Path | None, output_format: str | None) -> None:
    """Whether the bot is paused and why (every source), which runs hold locks, and each job's last run."""
    config, store, repository = _open(repo, config_path, create=False)
    pauses: list[dict[str, Any]] = []
    name = config.policy.pause_env
    if name and truthy(os.environ.get(name)):
        pauses.append({"source": "environment", "where": name, "reason": None, "since": None, "by": None})
    path = repo / config.policy.pause_file if config.policy.pause_file else None
    if path is not None and path.is_file():
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        pauses.append({"source": "file", "where": config.policy.pause_file,
                       "reason": lines[0][:200] if lines and lines[0].strip() else None, "since": None, "by": None})
    locks: list[dict] = []
    last: dict[str, dict] = {}
    if store is not None:
        with store:
            for where in (repository, ANY_REPOSITORY):
                row = next((r for r in store.controls(PAUSED) if r["repository"] == where), None)
                if row is not None:
                    pauses.append({"source": "store", "where": "every repository" if where == ANY_REPOSITORY
                                   else "this repository", "reason": row["value"] or None, "since": row["set_at"],
                                   "by": row["set_by"]})
            locks = store.locks(repository)
            last = store.last_runs(repository)
    data = {
        "schema": "nightcrew.status/1",
        "repository": repository,
        "paused": bool(pauses),
        "pauses": pauses,
        "locks": [{"job": r["job"], "run_id": r["run_id"], "pid": r["pid"], "host": r["host"],
                   "since": r["acquired_at"], "heartbeat": r["heartbeat_at"],
                   # the next run takes a stale lock over; say so, so nobody deletes it by hand
                   "stale": stale_reason(LockHolder(r["run_id"], r["pid"], r["host"], r["acquired_at"],
                                                    r["heartbeat_at"]),
                                         timedelta(minutes=config.state.stale_lock_minutes))} for r in locks],
        "last_runs": {job: {"run_id": r["id"], "started_at": r["started_at"], "ended_at": r["ended_at"],
                            "outcome": r["outcome"], "mode": r["mode"], "summary": r["summary"]}
                      for job, r in last.items()},
    }
    if (output_format or ("table" if sys.stdout.isatty() else "json")) == "json":
        click.echo(json.dumps(data, indent=2))
        return
    if not pauses:
        click.echo(f"{repository}: running (not paused)")
    for p in pauses:
        where = {"environment": f"environment variable {p['where']}", "file": f"file {p['where']}"}.get(
            p["source"], f"`nightcrew pause` for {p['where']}")
        extra = "".join(f" {k} {p[k]}" for k in ("since", "by") if p[k])
        click.echo(f"{repository}: PAUSED by {where}{extra}" + (f": {p['reason']}" if p["reason"] else ""))
    for lock in data["locks"]:
        state = f"STALE ({lock['stale']}; the next run takes it over)" if lock["stale"] else "running"
        click.echo(f"{state}: {lock['job']} (run {lock['run_id']}, process {lock['pid']} on {lock['host']}, "
                   f"since {lock['since']}, last sign of life {lock['heartbeat']})")
    for job, run in data["last_runs"].items():
        click.echo(f"last {job}: {run['outcome']} (run {run['run_id']}, {run['mode']}, started {run['started_at']})")


COMMANDS = [pause, resume, status]
