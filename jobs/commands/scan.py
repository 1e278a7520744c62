"""`nightcrew scan` (outdated dependencies) and `nightcrew changelog` (one package's changelog between two versions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from jobs.commands._shared import (EXIT_OUTDATED, EXIT_UNCHECKED, config_option, fail, guard_job, is_interactive,
                                   load_config, repo_option)
from jobs.errors import NightcrewError


@click.command()
@repo_option
@config_option
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--all", "show_all", is_flag=True, help="Table: list up-to-date dependencies too.")
@click.option("--fail-on-outdated", is_flag=True, help=f"Exit {EXIT_OUTDATED} when any dependency is outdated.")
@click.option("--fail-on-vulnerable", is_flag=True,
              help=f"Exit {EXIT_OUTDATED} when a dependency has a known vulnerability, {EXIT_UNCHECKED} when "
                   "vulnerabilities could not be checked (a CI gate that fails closed).")
@click.option("--min-severity", type=click.Choice(["LOW", "MODERATE", "HIGH", "CRITICAL"], case_sensitive=False),
              default="LOW", show_default=True, help="With --fail-on-vulnerable: the lowest severity that fails.")
def scan(repo: Path, config_path: Path | None, output_format: str | None, show_all: bool, fail_on_outdated: bool,
         fail_on_vulnerable: bool, min_severity: str) -> None:
    """List the repository's dependencies that have newer releases on the package index."""
    from jobs.formats.scan import render_table, to_json
    from jobs.scan import scan as run_scan

    config = load_config(repo, config_path)
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    err = Console(stderr=True)
    progress = None
    if is_interactive(sys.stderr):
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
        fail(str(exc))
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
    if fail_on_vulnerable:
        from jobs.advisories.osv import SEVERITIES

        floor = SEVERITIES.index(min_severity.upper())
        # an UNKNOWN severity fails the gate: a vulnerability nobody rated is not a harmless one
        found = [s for s in report.vulnerable if any(a.severity not in SEVERITIES or SEVERITIES.index(a.severity)
                                                     >= floor for a in s.advisories)]
        if found:
            sys.exit(EXIT_OUTDATED)
        if report.vulnerabilities_checked is not True:
            sys.exit(EXIT_UNCHECKED)  # the gate fails closed: no data is not "none found"
    if fail_on_outdated and report.outdated:
        sys.exit(EXIT_OUTDATED)
    if fail_on_outdated and any((s.skipped_reason or "").startswith("not checked") for s in report.statuses):
        sys.exit(EXIT_UNCHECKED)  # a gate must not pass because the index was down


@click.command()
@click.argument("package")
@click.argument("old")
@click.argument("new")
@repo_option
@config_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default=None,
              help="Output format (default: text on a terminal, json otherwise).")
def changelog(package: str, old: str, new: str, repo: Path, config_path: Path | None, output_format: str | None) -> None:
    """Print PACKAGE's changelog from OLD to NEW: the sections in between, their source, and what they flag."""
    from jobs import changelog as changelog_job
    from jobs.formats.changelog import to_json, to_text

    config = load_config(repo, config_path)
    audit = (repo / config.forge.state_file).parent / "audit.jsonl" if (repo / ".git").exists() else None
    report = guard_job(lambda: changelog_job.run(package, old, new, config, audit_path=audit))
    for problem in report.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)
    output_format = output_format or ("text" if sys.stdout.isatty() else "json")
    if output_format == "json":
        click.echo(json.dumps(to_json(report.changelog, report.summary), indent=2))
    else:
        click.echo(to_text(report.changelog), nl=False)


COMMANDS = [scan, changelog]
