"""`nightcrew run dependency-updates` and `nightcrew run release-notes`: one job, once (what the scheduler
and the nightly CI cron call)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from jobs.commands._shared import (EXIT_PARTIAL, config_option, echo_outcome, guard_job, is_interactive, load_config, mode_option,
                                   only_option, repo_option, stop_on_signals)


@click.command("dependency-updates")
@repo_option
@config_option
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="Where pull requests go (default: [forge] kind).")
@click.option("--remote", default=None, metavar="NAME",
              help="The git remote branches are pushed to (default: [forge] remote; must exist).")
@click.option("--dry-run", is_flag=True, help="Change nothing anywhere; print what would be done.")
@only_option
@mode_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def dependency_updates(repo: Path, config_path: Path | None, forge_kind: str | None, remote: str | None,
                       dry_run: bool, only: tuple[str, ...], mode: str | None, output_format: str | None) -> None:
    """Propose version-bump pull requests, each with the repository's own test results."""
    from jobs.dependency_updates import run_job
    from jobs.formats.updates import render_table, to_json

    config = load_config(repo, config_path)
    err = Console(stderr=True)
    progress = (lambda branch: err.print(f"[dim]working on {branch}[/dim]")) if is_interactive(sys.stderr) else None
    with stop_on_signals() as shutdown:
        result = guard_job(lambda: run_job(repo, config, forge_kind=forge_kind, dry_run=dry_run, only=only, mode=mode,
                                           progress=progress, shutdown=shutdown, remote=remote))
    echo_outcome(result)
    for record in result.denials:
        click.echo(f"nightcrew: denied: {record.action} {record.target} ({record.rule})", err=True)
    for change in result.changes:
        if change.action == "failed":
            click.echo(f"nightcrew: error: {change.branch}: {change.reason}", err=True)
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    if output_format == "json":
        click.echo(json.dumps(to_json(result), indent=2))
    else:
        render_table(result, Console() if sys.stdout.isatty() else Console(width=200))
    if result.failed or result.problems:
        sys.exit(EXIT_PARTIAL)


@click.command("release-notes")
@click.option("--tag", required=True, help="The release tag to draft notes for.")
@click.option("--previous-tag", default=None, help="Override the previous release (default: found from tags).")
@repo_option
@config_option
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="Where the draft goes (default: [forge] kind).")
@click.option("--dry-run", is_flag=True, help="Write no draft; print the notes.")
@click.option("--format", "output_format", type=click.Choice(["markdown", "json"]), default=None,
              help="Output (default: markdown on a terminal, json otherwise).")
def release_notes(tag: str, previous_tag: str | None, repo: Path, config_path: Path | None, forge_kind: str | None,
                  dry_run: bool, output_format: str | None) -> None:
    """Draft release notes for TAG (every item links its PR or issue); never published by the bot."""
    from jobs import release_notes as job
    from jobs.formats.release_notes import to_json

    config = load_config(repo, config_path)
    with stop_on_signals() as shutdown:
        result = guard_job(lambda: job.run_job(repo, config, tag=tag, previous_tag=previous_tag, forge_kind=forge_kind,
                                              dry_run=dry_run, shutdown=shutdown))
    echo_outcome(result)
    output_format = output_format or ("markdown" if sys.stdout.isatty() else "json")
    if output_format == "json":
        click.echo(json.dumps(to_json(result), indent=2))
    else:
        click.echo(result.note.text, nl=False)
        items = sum(len(items) for _, items in result.note.categories)
        draft = (f"draft {result.draft.action}: {result.draft.url_or_path}" if result.draft
                 else "no draft (denied by policy)" if result.denied else "no draft (dry run)")
        click.echo(f"\n{items} items, {len(result.note.excluded)} excluded, "
                   f"{'complete' if result.complete else 'INCOMPLETE'}; {result.api_requests} API requests; {draft}",
                   err=True)
    if result.problems:
        sys.exit(EXIT_PARTIAL)


for _command in (dependency_updates, release_notes):
    _command.nightcrew_run_job = True  # type: ignore[attr-defined]

COMMANDS = [dependency_updates, release_notes]
