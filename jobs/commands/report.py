"""``nightcrew report``: the figures of a period from the state store, as a table, JSON or one HTML page."""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path

import click

from jobs.commands._shared import config_option, repo_option

from jobs.commands._since import parse_since


def _open_store(config, repo: Path):  # type: ignore[no-untyped-def]
    """The repository's store; an empty one in memory when there is none yet (a report creates nothing)."""
    from jobs.state.store import Store

    if config.state.url:
        return Store(config.state.url)
    path = Path(config.state.path)
    path = path if path.is_absolute() else repo / path
    return Store(f"sqlite:///{path.resolve()}" if path.is_file() else "sqlite://")


@click.command()
@repo_option
@config_option
@click.option("--since", "since_text", default=None, metavar="PERIOD",
              help="The period: 30m, 48h, 30d, 2w, or an ISO date or time (default: [report] since_days).")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "html"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (replaced atomically) instead of standard output.")
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="The forge the jobs ran with (default: [forge] kind): it decides the repository's name in the "
                   "state store (with github, GITHUB_REPOSITORY when [forge] repository is not set).")
@click.option("--repository", "repository", default=None, metavar="OWNER/NAME|PATH|all",
              help="The repository as the state store names it, or \"all\" for every repository in the store "
                   "(default: this one, as the jobs name it).")
def report(repo: Path, config_path: Path | None, since_text: str | None, output_format: str | None,
           output: Path | None, forge_kind: str | None, repository: str | None) -> None:
    """Figures that show whether the bot earns its keep: PRs proposed, merged and closed by people, overrides,
    test pass rate, release-note edits, policy denials, and alerts for bad autonomy patterns."""
    import json

    from rich.console import Console

    from jobs.commands._shared import fail, load_config
    from jobs.errors import NightcrewError
    from jobs.formats.report import render_table, to_html, to_json
    from jobs.report import compute, write_atomic
    from jobs.state.store import now, repository_id

    until = now()
    since = until - timedelta(days=30)
    if since_text is not None:
        try:
            since = parse_since(since_text, until)
        except ValueError as exc:
            fail(f"--since: {exc}")
    if repository is not None and not repository.strip():
        fail("--repository: empty; give OWNER/NAME, a path, or all")
    config = load_config(repo, config_path)
    if since_text is None:
        since = until - timedelta(days=config.report.since_days)
    output_format = output_format or ("table" if output is None and sys.stdout.isatty() else "json")
    try:
        store = _open_store(config, repo)
        try:
            # the name the update job recorded: with --forge github that is GITHUB_REPOSITORY, not the folder
            named = repository_id(config, repo, forge_kind) if repository is None else (
                None if repository == "all" else repository)
            figures = compute(store, since=since, repository=named, now=until,
                              failures_in_a_row=config.report.failures_in_a_row,
                              security_pr_days=config.report.security_pr_days)
        finally:
            store.close()
    except NightcrewError as exc:
        fail(str(exc), 1)
    if output_format == "json":
        text = json.dumps(to_json(figures), indent=2) + "\n"
    elif output_format == "html":
        text = to_html(figures)
    else:
        console = Console(width=120, record=True, file=io.StringIO()) if output else (
            Console() if sys.stdout.isatty() else Console(width=200))
        render_table(figures, console)
        if output is None:
            return
        text = console.export_text()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror}", 1)


COMMANDS = [report]
