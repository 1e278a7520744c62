"""`nightcrew audit`: the audit records of the state store, filtered by run, action and time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jobs.commands._since import parse_since
from jobs.commands.control import config_option, repo_option

SCHEMA = "nightcrew.audit/1"


@click.command()
@repo_option
@config_option
@click.option("--run", "run_id", default=None, metavar="ID", help="Records of runs whose id starts with ID.")
@click.option("--action", default=None, metavar="X",
              help="One action (forge.merge), or every action under a prefix (forge.*).")
@click.option("--since", default=None, metavar="SPAN|ISO", help="Only records since then: 7d, 48h, 30m or an ISO time.")
@click.option("--all-repositories", "every", is_flag=True,
              help="Records of every repository in the state store (default: this repository's).")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "jsonl"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def audit(repo: Path, config_path: Path | None, run_id: str | None, action: str | None, since: str | None,
          every: bool, output_format: str | None) -> None:
    """What nightcrew did, or was refused: one record per action, oldest first (secrets were redacted when written)."""
    from jobs.commands._shared import fail, load_config
    from jobs.errors import NightcrewError
    from jobs.runs import _existing_store
    from jobs.state.store import repository_id

    config = load_config(repo, config_path)
    try:
        start = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    try:
        store = _existing_store(config, repo)  # reading the log must not create a state store
        records: list[dict] = []
        if store is not None:
            with store:
                records = store.audit(run_id=run_id, action=action, since=start,
                                      repository=None if every else repository_id(config, repo))
    except NightcrewError as exc:
        fail(str(exc))
    for record in records:
        record.pop("id", None)
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    if output_format == "jsonl":
        for record in records:
            click.echo(json.dumps(record, sort_keys=True))
    elif output_format == "json":
        click.echo(json.dumps({"schema": SCHEMA, "records": records}, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("time", "run", "job", "action", "target", "verdict", "rule", "outcome", "s", "detail"):
            table.add_column(column, overflow="fold")
        for r in records:
            # Text cells: targets and details are not rich markup
            table.add_row(*(Text(str(v)) for v in (r["time"], r["run_id"], r["job"], r["action"], r["target"],
                                                    r["verdict"], r["rule"], r["outcome"], f"{r['duration']:.2f}",
                                                    r["detail"] or "")))
        console = Console() if sys.stdout.isatty() else Console(width=200)
        if records:
            console.print(table)
        console.print(f"{len(records)} records", highlight=False)


COMMANDS = [audit]
