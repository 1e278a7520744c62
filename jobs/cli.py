"""The command line, assembled: the ``nightcrew`` group, the ``run`` group and the commands of ``jobs.commands``.

Every command lives in a module of ``jobs.commands`` (each lists its click commands in ``COMMANDS``); what
they share (exit codes, options, the one-line error, the job wrapper) is ``jobs.commands._shared``. Usage
errors are printed like every other error: one ``nightcrew: error:`` line and one ``hint:`` line, exit 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from jobs import __version__
from jobs.commands._shared import (  # noqa: F401  (re-exported: the exit codes are part of the CLI's interface)
    EXIT_CONFIG,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_OUTDATED,
    EXIT_PARTIAL,
    EXIT_UNCHECKED,
)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class _Group(click.Group):
    """A group that adds the commands of ``jobs.commands`` when it is first asked for one (by then every module is
    fully imported, whichever was imported first), and reports usage errors in nightcrew's one-line form."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        _add_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _add_commands()
        return super().list_commands(ctx)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:  # wrong option, missing argument, bad value, unknown command
            where = exc.ctx.command_path if exc.ctx is not None else (prog_name or "nightcrew")
            click.echo(f"nightcrew: error: {_one_line(exc.format_message())}", err=True)
            click.echo(f"hint: '{where} --help' lists the options", err=True)
            sys.exit(EXIT_CONFIG)
        except click.ClickException as exc:  # a file option that cannot be opened, and the like
            click.echo(f"nightcrew: error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("nightcrew: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nightcrew")
def cli() -> None:
    """nightcrew: dependency updates and release-note drafts, done on a schedule by an automation people can trust."""
    import logging

    # Libraries' retry chatter would reach standard error unasked; nightcrew reports failures itself, one line each.
    for name in ("urllib3", "github", "cachecontrol", "filelock"):
        logging.getLogger(name).setLevel(logging.ERROR)


@cli.group(cls=_Group)
def run() -> None:
    """Run one job once (what the scheduler and the nightly CI cron call)."""


_commands_added = False


def _add_commands() -> None:
    """Commands kept in modules of their own under ``jobs.commands`` (each lists its commands in ``COMMANDS``;
    one marked ``nightcrew_run_job`` goes under ``nightcrew run``)."""
    global _commands_added
    if _commands_added:
        return
    _commands_added = True
    import importlib
    import pkgutil

    import jobs.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"jobs.commands.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            (run if getattr(command, "nightcrew_run_job", False) else cli).add_command(command)


def main() -> None:
    cli(prog_name="nightcrew")


if __name__ == "__main__":
    main()
