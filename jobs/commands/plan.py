"""`nightcrew plan`: the fleet's work (repository x job) as a GitHub Actions matrix, or a table for people."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from jobs.commands._shared import config_option, repo_option
from jobs.fleet import JOBS


@click.command("plan")
@repo_option
@config_option
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default=None,
              help="json: the matrix on one line, for fromJSON in a workflow (default when not on a terminal); "
                   "table: for people.")
@click.option("--job", "jobs", multiple=True, type=click.Choice(JOBS), help="Only this job (repeatable).")
@click.option("--repository", "repositories", multiple=True, metavar="OWNER/NAME",
              help="Only this repository of the plan (repeatable).")
@click.option("--chunk", type=int, default=None, metavar="K",
              help="With --chunks: print part K (1..N) of the plan.")
@click.option("--chunks", type=int, default=None, metavar="N",
              help="Split the plan into N near-equal parts, one workflow run each (GitHub runs at most 256 "
                   "jobs from one matrix per workflow run).")
def plan_command(repo: Path, config_path: Path | None, output_format: str | None, jobs: tuple[str, ...],
                 repositories: tuple[str, ...], chunk: int | None, chunks: int | None) -> None:
    """Print the fleet plan: one entry per repository and job of [fleet] repositories (else this repository)."""
    from jobs.commands._shared import fail, load_config
    from jobs.errors import NightcrewError
    from jobs.fleet import MATRIX_LIMIT, plan

    if (chunk is None) != (chunks is None):
        fail("give --chunk K and --chunks N together")
    config = load_config(repo, config_path)
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    try:
        whole = plan(config, jobs=jobs, repositories=repositories)
        if output_format == "json" or chunks is not None:
            part = whole.split(chunk or 1, chunks or 1)
        else:
            part = whole  # a person may look at a plan too big for one matrix; the note below says so
    except NightcrewError as exc:
        fail(str(exc))
    if not part.entries:
        click.echo("nightcrew: note: the plan is empty (nothing matches); the workflow runs no job", err=True)
    if output_format == "json":
        click.echo(part.to_json())
        return
    rows = [("repository", "job", "config", "mode", "concurrency")]
    rows += [(e.repository, e.job, e.config or "(its nightcrew.toml)", e.mode or "(its [policy] mode)",
              e.concurrency_key) for e in part.entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    where = f"chunk {part.chunk} of {part.chunks} of a plan of {part.total}; " if part.chunks > 1 else ""
    origin = "this repository alone (no [fleet] repositories)" if part.fallback else "[fleet] repositories"
    count = f"{part.repositories} repositor{'y' if part.repositories == 1 else 'ies'}"
    click.echo(f"{where}{len(part.entries)} jobs on {count}, from {origin}", err=True)
    if len(part.entries) > MATRIX_LIMIT:
        click.echo(f"nightcrew: note: over GitHub's {MATRIX_LIMIT} jobs per matrix: the workflow needs "
                   f"--chunks {-(-part.total // MATRIX_LIMIT)}", err=True)


COMMANDS = [plan_command]
