"""The command line: parse arguments, load config, call a job, render the result. Nothing else."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from jobs import __version__
from jobs.errors import NightcrewError

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_OUTDATED = 1  # only with --fail-on-outdated
EXIT_CONFIG = 2  # configuration or usage error (click uses 2 for usage errors too)


def _is_interactive(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def _fail(message: str, code: int = EXIT_CONFIG) -> None:
    click.echo(f"nightcrew: error: {message}", err=True)
    sys.exit(code)


repo_option = click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="The repository to work on.",
)
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Configuration file (default: nightcrew.toml in the repository, else the built-in defaults).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nightcrew")
def cli() -> None:
    """nightcrew: dependency updates and release-note drafts, done on a schedule by an automation people can trust."""


@cli.command()
@repo_option
@config_option
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--all", "show_all", is_flag=True, help="Table: list up-to-date dependencies too.")
@click.option("--fail-on-outdated", is_flag=True, help=f"Exit {EXIT_OUTDATED} when any dependency is outdated.")
def scan(repo: Path, config_path: Path | None, output_format: str | None, show_all: bool, fail_on_outdated: bool) -> None:
    """List the repository's dependencies that have newer releases on the package index."""
    from jobs import config as config_module
    from jobs.formats.scan import render_table, to_json
    from jobs.scan import scan as run_scan

    if not repo.is_dir():
        _fail(f"{repo}: not a directory")
    try:
        config = config_module.load(config_path, repo=repo)
    except NightcrewError as exc:
        _fail(str(exc))
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    err = Console(stderr=True)
    progress = None
    if _is_interactive(sys.stderr):
        from rich.progress import Progress

        progress = Progress(console=err, transient=True)
    task = None

    def on_start(total: int) -> None:
        nonlocal task
        if progress is not None:
            progress.start()
            task = progress.add_task("asking the index", total=total)

    def on_done(_: str) -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    try:
        report = run_scan(repo, config, on_start=on_start, on_done=on_done)
    except NightcrewError as exc:
        _fail(str(exc))
    finally:
        if progress is not None:
            progress.stop()
    for problem in report.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)
    if output_format == "json":
        click.echo(json.dumps(to_json(report), indent=2))
    else:
        # Piped into a file or a CI log, nothing is to be gained by folding rows at 80 columns.
        render_table(report, Console() if sys.stdout.isatty() else Console(width=200), show_all=show_all)
    if fail_on_outdated and report.outdated:
        sys.exit(EXIT_OUTDATED)


def main() -> None:
    cli(prog_name="nightcrew")


if __name__ == "__main__":
    main()
