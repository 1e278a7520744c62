"""What every command shares: exit codes, the one-line error, config loading, the job wrapper, signals and
the common options. ``jobs.cli`` only assembles the command group from ``jobs.commands``."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from jobs.errors import ConfigError, NightcrewError

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_OUTDATED = 1  # only with --fail-on-outdated
EXIT_CONFIG = 2  # configuration or usage error (click uses 2 for usage errors too)
EXIT_UNCHECKED = 3  # scan --fail-on-outdated: nothing outdated found, but some dependencies could not be checked
EXIT_PARTIAL = 1  # run: some change failed or some input could not be read; the rest was done
EXIT_LOCKED = 75  # run: another run of the same job on the same repository holds the lock (EX_TEMPFAIL)


def is_interactive(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def fail(message: str, code: int = EXIT_CONFIG) -> None:
    click.echo(f"nightcrew: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM or SIGINT during a one-shot run: the run stops at its next step, as under the scheduler (a second
    signal stops it at once). The event is what the jobs take as ``shutdown``."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    signals = (signal.SIGTERM, signal.SIGINT)

    def handler(signum: int, _frame: object) -> None:
        if event.is_set():  # asked twice: stop now, the way the signal would have without us
            signal.signal(signum, signal.SIG_DFL)
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signum)
            return
        event.set()
        click.echo(f"nightcrew: {signal.Signals(signum).name}: stopping after the current step "
                   "(send it again to stop at once)", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def echo_outcome(result) -> None:  # type: ignore[no-untyped-def]
    """A job's stop reason, notes and problems on standard error, one line each, the same way for every job."""
    if getattr(result, "stopped", None):
        click.echo(f"nightcrew: {result.stopped}", err=True)
    for notice in getattr(result, "notices", ()):
        click.echo(f"nightcrew: note: {notice}", err=True)
    for problem in result.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)


def guard_job(job):  # type: ignore[no-untyped-def]
    """Run a job; a configuration error exits 2, a held run lock 75, any other nightcrew error (nothing could be
    done) exits 1. A stop by the kill switch is not an error: it is reported and exits 0."""
    from jobs.state.store import Locked
    from jobs.tools import Stopped

    try:
        return job()
    except ConfigError as exc:
        fail(str(exc))
    except Locked as exc:
        fail(str(exc), EXIT_LOCKED)
    except Stopped as exc:
        click.echo(f"nightcrew: {exc}", err=True)
        sys.exit(EXIT_OK)
    except NightcrewError as exc:
        fail(str(exc), EXIT_PARTIAL)


def load_config(repo: Path, config_path: Path | None):  # type: ignore[no-untyped-def]
    """The repository's validated configuration; a usage error (exit 2) when either is wrong."""
    from jobs import config as config_module

    if not repo.is_dir():
        fail(f"{repo}: not a directory")
    try:
        return config_module.load(config_path, repo=repo)
    except NightcrewError as exc:
        fail(str(exc))


repo_option = click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="The repository to work on.",
)
mode_option = click.option(
    "--mode", type=click.Choice(["advisory", "propose", "autonomous"]), default=None,
    help="What the bot may do (default: [policy] mode): report only, propose PRs, or also merge what policy allows.",
)
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Configuration file (default: nightcrew.toml in the repository, else the built-in defaults).",
)




def split_names(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """``--only a,b --only c`` -> ("a", "b", "c"): names given comma-separated, repeated, or both."""
    names = [name.strip() for item in value for name in item.split(",")]
    if any(not name for name in names):
        raise click.BadParameter("an empty package name (a stray comma?)")
    return tuple(dict.fromkeys(names))


only_option = click.option(
    "--only", multiple=True, metavar="PKG[,PKG...]", callback=split_names,
    help="Only these packages: comma-separated, and/or the option repeated (--only a,b --only c).",
)
