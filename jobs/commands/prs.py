"""`nightcrew prs`: the local forge's pull requests (list, show, close as a human would)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jobs.commands._shared import config_option, fail, load_config, repo_option
from jobs.errors import NightcrewError


@click.command()
@repo_option
@config_option
@click.argument("action", type=click.Choice(["list", "show", "close"]), default="list")
@click.argument("number", type=int, required=False)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None)
def prs(repo: Path, config_path: Path | None, action: str, number: int | None, output_format: str | None) -> None:
    """The local forge's pull requests: list them, show one, or close one (as a human would)."""
    from jobs.forges.local import LocalForge
    from jobs.vcs import Git

    config = load_config(repo, config_path)
    git = Git(repo)
    if not git.is_repository():
        fail(f"{repo}: not a git repository")
    state = repo / config.forge.state_file
    # listing and showing never create the state file; closing needs it to exist
    forge = LocalForge(git, state, repo / config.forge.pr_folder, config.forge.base, read_only=action != "close"
                       or not state.exists())
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    if action != "list" and number is None:
        fail(f"'prs {action}' needs a pull-request number")
    try:
        if action == "close":
            before = forge.get_pull(number)  # type: ignore[arg-type]
            if before.state != "open":
                fail(f"#{before.number} is already {before.state}")
            pull = forge.close_pull(number, by="human")  # type: ignore[arg-type]
            click.echo(f"closed #{pull.number} ({pull.branch})")
            return
        pulls = forge.all_pulls() if action == "list" else [forge.get_pull(number)]  # type: ignore[arg-type]
    except NightcrewError as exc:
        fail(str(exc))
    if output_format == "json":
        rows = [{"number": p.number, "title": p.title, "state": p.state, "branch": p.branch, "draft": p.draft,
                 "labels": list(p.labels), "body_path": p.url} for p in pulls]
        click.echo(json.dumps(rows if action == "list" else rows[0], indent=2))
    elif action == "show":
        click.echo(forge.markdown_path(pulls[0].number).read_text(encoding="utf-8"))
    else:
        for p in pulls:
            click.echo(f"#{p.number:<4} {p.state:<7}{' draft' if p.draft else '      '} {p.branch:<40} {p.title}")


COMMANDS = [prs]
