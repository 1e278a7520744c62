"""`nightcrew init`: write this repository's nightcrew.toml and CI workflow, or propose them as an onboarding PR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jobs.commands._shared import (
    EXIT_PARTIAL,
    config_option,
    echo_outcome,
    guard_job,
    load_config,
    repo_option,
)

SCHEMA = "nightcrew.init/1"


@click.command()
@repo_option
@config_option
@click.option("--pr", "as_pr", is_flag=True,
              help="Propose the files as an onboarding pull request through the forge (never on the base branch).")
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="Where the onboarding pull request goes (default: [forge] kind).")
@click.option("--remote", default=None, metavar="NAME", help="The git remote the branch is pushed to.")
@click.option("--force", is_flag=True, help="Replace files that are already there.")
@click.option("--dry-run", is_flag=True, help="Change nothing anywhere; print what would be written or proposed.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default=None,
              help="Output format (default: text on a terminal, json otherwise).")
def init(repo: Path, config_path: Path | None, as_pr: bool, forge_kind: str | None, remote: str | None, force: bool,
         dry_run: bool, output_format: str | None) -> None:
    """Onboard a repository: nightcrew.toml (only what differs from the defaults, an existing Dependabot or
    Renovate config carried over) and .github/workflows/nightcrew.yml, written here or proposed as a PR."""
    from jobs.adoption.init import propose, write_files

    config = load_config(repo, config_path)
    output_format = output_format or ("text" if sys.stdout.isatty() else "json")
    if not as_pr:
        proposal = guard_job(lambda: propose(repo, config))
        written = [] if dry_run else guard_job(lambda: write_files(repo, proposal, force=force))
        _print(output_format, "dry_run" if dry_run else "written", proposal, files=written or list(proposal.files))
        return
    result = guard_job(lambda: _onboard(repo, config, forge_kind, remote, dry_run, force))
    echo_outcome(result)
    _print(output_format, result.action, result.proposal, files=list(result.proposal.files), onboarding=result)
    if result.action == "failed":
        sys.exit(EXIT_PARTIAL)


def _onboard(repo: Path, config, forge_kind, remote, dry_run, force):  # type: ignore[no-untyped-def]
    from jobs.adoption.onboarding import onboard
    from jobs.dependency_updates import make_forge
    from jobs.runs import JobRun
    from jobs.vcs import Git

    kind = forge_kind or config.forge.kind
    forge = make_forge(config, repo, Git(repo), kind, dry_run=dry_run, remote=remote)
    with JobRun(repo, config, "init", dry_run=dry_run, forge_kind=kind) as job:
        result = onboard(repo, config, forge, job.gate, dry_run=dry_run, force=force)
        job.finish("partial" if result.action == "failed" else "ok", {"action": result.action})
    notice = getattr(forge, "remote_notice", None)
    if notice:
        click.echo(f"nightcrew: note: {notice}", err=True)
    return result


def _print(output_format: str, action: str, proposal, *, files: list[str], onboarding=None) -> None:  # type: ignore[no-untyped-def]
    s = proposal.survey
    carried = proposal.carried
    data = {
        "schema": SCHEMA, "action": action, "files": files,
        "found": {"files": {k: list(v) for k, v in s.files.items()}, "dependencies": s.dependencies,
                  "lockfiles": list(s.lockfiles), "python": s.python, "default_branch": s.default_branch},
        "carried_over": None if carried is None else {"source": carried.source, "translated": list(carried.translated),
                                                      "untranslated": list(carried.untranslated)},
    }
    if onboarding is not None:
        pull = onboarding.pull
        data.update(branch=onboarding.branch, base=onboarding.base, reason=onboarding.reason,
                    preview=list(onboarding.preview),
                    pr=None if pull is None else {"number": pull.number, "url": pull.url, "state": pull.state})
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
        return
    if onboarding is not None:
        pull = onboarding.pull
        where = f" #{pull.number} {pull.url}" if pull is not None else ""
        click.echo(f"{action}: onboarding pull request{where} ({onboarding.branch} -> {onboarding.base})"
                   + (f": {onboarding.reason}" if onboarding.reason else ""))
    else:
        click.echo(f"{'would write' if action == 'dry_run' else 'wrote'}: {', '.join(files)}")
    for ecosystem, names in sorted(s.files.items()):
        click.echo(f"found {ecosystem}: {', '.join(names)} ({s.dependencies.get(ecosystem, 0)} dependencies)")
    if carried is not None:
        click.echo(f"carried over from {carried.source}: {len(carried.translated)} settings; "
                   f"{len(carried.untranslated)} not carried over:")
        for line in carried.untranslated:
            click.echo(f"  - {line}")


COMMANDS = [init]
