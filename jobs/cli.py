"""The command line: parse arguments, load config, call a job, render the result. Nothing else."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from rich.console import Console

from jobs import __version__
from jobs.errors import ConfigError, NightcrewError

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_OUTDATED = 1  # only with --fail-on-outdated
EXIT_CONFIG = 2  # configuration or usage error (click uses 2 for usage errors too)
EXIT_UNCHECKED = 3  # scan --fail-on-outdated: nothing outdated found, but some dependencies could not be checked
EXIT_PARTIAL = 1  # run: some change failed or some input could not be read; the rest was done
EXIT_LOCKED = 75  # run: another run of the same job on the same repository holds the lock (EX_TEMPFAIL)


def _is_interactive(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def _fail(message: str, code: int = EXIT_CONFIG) -> None:
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


def _run_job(job):  # type: ignore[no-untyped-def]
    """Run a job; a configuration error exits 2, a held run lock 75, any other nightcrew error (nothing could be
    done) exits 1. A stop by the kill switch is not an error: it is reported and exits 0."""
    from jobs.state.store import Locked
    from jobs.tools import Stopped

    try:
        return job()
    except ConfigError as exc:
        _fail(str(exc))
    except Locked as exc:
        _fail(str(exc), EXIT_LOCKED)
    except Stopped as exc:
        click.echo(f"nightcrew: {exc}", err=True)
        sys.exit(EXIT_OK)
    except NightcrewError as exc:
        _fail(str(exc), EXIT_PARTIAL)


def _load_config(repo: Path, config_path: Path | None):  # type: ignore[no-untyped-def]
    """The repository's validated configuration; a usage error (exit 2) when either is wrong."""
    from jobs import config as config_module

    if not repo.is_dir():
        _fail(f"{repo}: not a directory")
    try:
        return config_module.load(config_path, repo=repo)
    except NightcrewError as exc:
        _fail(str(exc))


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


class _Group(click.Group):
    """A group that adds the commands of ``jobs.commands`` when it is first asked for one: by then every module is
    fully imported, whichever of them was imported first."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        _add_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _add_commands()
        return super().list_commands(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nightcrew")
def cli() -> None:
    """nightcrew: dependency updates and release-note drafts, done on a schedule by an automation people can trust."""
    import logging

    # Libraries' retry chatter would reach standard error unasked; nightcrew reports failures itself, one line each.
    for name in ("urllib3", "github", "cachecontrol", "filelock"):
        logging.getLogger(name).setLevel(logging.ERROR)


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
    from jobs.formats.scan import render_table, to_json
    from jobs.scan import scan as run_scan

    config = _load_config(repo, config_path)
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
    if fail_on_outdated and any((s.skipped_reason or "").startswith("not checked") for s in report.statuses):
        sys.exit(EXIT_UNCHECKED)  # a gate must not pass because the index was down


@cli.command()
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

    config = _load_config(repo, config_path)
    audit = (repo / config.forge.state_file).parent / "audit.jsonl" if (repo / ".git").exists() else None
    report = _run_job(lambda: changelog_job.run(package, old, new, config, audit_path=audit))
    for problem in report.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)
    output_format = output_format or ("text" if sys.stdout.isatty() else "json")
    if output_format == "json":
        click.echo(json.dumps(to_json(report.changelog, report.summary), indent=2))
    else:
        click.echo(to_text(report.changelog), nl=False)


@cli.group(cls=_Group)
def run() -> None:
    """Run one job once (what the scheduler and the nightly CI cron call)."""


@run.command("dependency-updates")
@repo_option
@config_option
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None,
              help="Where pull requests go (default: [forge] kind).")
@click.option("--dry-run", is_flag=True, help="Change nothing anywhere; print what would be done.")
@click.option("--only", multiple=True, metavar="PKG", help="Only these packages (repeatable).")
@mode_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def dependency_updates(repo: Path, config_path: Path | None, forge_kind: str | None, dry_run: bool,
                       only: tuple[str, ...], mode: str | None, output_format: str | None) -> None:
    """Propose version-bump pull requests, each with the repository's own test results."""
    from jobs.dependency_updates import run_job
    from jobs.formats.updates import render_table, to_json

    config = _load_config(repo, config_path)
    err = Console(stderr=True)
    progress = (lambda branch: err.print(f"[dim]working on {branch}[/dim]")) if _is_interactive(sys.stderr) else None
    with stop_on_signals() as shutdown:
        result = _run_job(lambda: run_job(repo, config, forge_kind=forge_kind, dry_run=dry_run, only=only, mode=mode,
                                          progress=progress, shutdown=shutdown))
    if result.stopped:
        click.echo(f"nightcrew: {result.stopped}", err=True)
    for record in result.denials:
        click.echo(f"nightcrew: denied: {record.action} {record.target} ({record.rule})", err=True)
    for problem in result.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)
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


@run.command("release-notes")
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

    config = _load_config(repo, config_path)
    with stop_on_signals() as shutdown:
        result = _run_job(lambda: job.run_job(repo, config, tag=tag, previous_tag=previous_tag, forge_kind=forge_kind,
                                              dry_run=dry_run, shutdown=shutdown))
    for problem in result.problems:
        click.echo(f"nightcrew: error: {problem}", err=True)
    for notice in result.notices:
        click.echo(f"nightcrew: note: {notice}", err=True)
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


@cli.group()
def notes() -> None:
    """Release-note drafts: how much people changed them."""


@notes.command("score")
@click.option("--tag", default=None, help="Compare the stored draft for TAG with the published release or file.")
@click.option("--draft", "draft_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--final", "final_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@repo_option
@config_option
@click.option("--forge", "forge_kind", type=click.Choice(["local", "github"]), default=None)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default=None)
def notes_score(tag: str | None, draft_file: Path | None, final_file: Path | None, repo: Path,
                config_path: Path | None, forge_kind: str | None, output_format: str | None) -> None:
    """Normalized edit distance between the generated draft and the final text, with items deleted and added."""
    from dataclasses import asdict

    from jobs.releases.score import score

    if draft_file and final_file:
        generated, final = draft_file.read_text(encoding="utf-8"), final_file.read_text(encoding="utf-8")
    elif tag:
        from jobs.release_notes import final_text
        from jobs.state.drafts import DraftLog
        from jobs.state.store import Store, repository_id

        config = _load_config(repo, config_path)
        with Store.for_repo(config, repo) as store:
            log = DraftLog(store, repository_id(config, repo))
            stored = log.last(tag, written=True)
            if stored is None:
                _fail(f"no generated draft stored for {tag}")
            try:
                final = final_text(repo, config, tag, stored.location, forge_kind=forge_kind)
            except NightcrewError as exc:
                _fail(str(exc), EXIT_PARTIAL)
            result = score(stored.generated, final)
            log.set_final(stored, final, result.distance)  # the report's edit distance per release
    else:
        _fail("give --tag TAG, or --draft FILE and --final FILE")
    if draft_file and final_file:
        result = score(generated, final)
    if (output_format or ("text" if sys.stdout.isatty() else "json")) == "json":
        click.echo(json.dumps(asdict(result), indent=2))
    else:
        click.echo(f"edit distance {result.distance:.3f} ({result.generated_chars} -> {result.final_chars} characters)")
        for item in result.deleted:
            click.echo(f"- deleted: {item}")
        for item in result.added:
            click.echo(f"+ added: {item}")


@cli.command()
@repo_option
@config_option
@click.argument("action", type=click.Choice(["list", "show", "close"]), default="list")
@click.argument("number", type=int, required=False)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default=None)
def prs(repo: Path, config_path: Path | None, action: str, number: int | None, output_format: str | None) -> None:
    """The local forge's pull requests: list them, show one, or close one (as a human would)."""
    from jobs.forges.local import LocalForge
    from jobs.vcs import Git

    config = _load_config(repo, config_path)
    git = Git(repo)
    if not git.is_repository():
        _fail(f"{repo}: not a git repository")
    state = repo / config.forge.state_file
    # listing and showing never create the state file; closing needs it to exist
    forge = LocalForge(git, state, repo / config.forge.pr_folder, config.forge.base, read_only=action != "close"
                       or not state.exists())
    output_format = output_format or ("table" if sys.stdout.isatty() else "json")
    if action != "list" and number is None:
        _fail(f"'prs {action}' needs a pull-request number")
    try:
        if action == "close":
            before = forge.get_pull(number)  # type: ignore[arg-type]
            if before.state != "open":
                _fail(f"#{before.number} is already {before.state}")
            pull = forge.close_pull(number, by="human")  # type: ignore[arg-type]
            click.echo(f"closed #{pull.number} ({pull.branch})")
            return
        pulls = forge.all_pulls() if action == "list" else [forge.get_pull(number)]  # type: ignore[arg-type]
    except NightcrewError as exc:
        _fail(str(exc))
    if output_format == "json":
        rows = [{"number": p.number, "title": p.title, "state": p.state, "branch": p.branch, "draft": p.draft,
                 "labels": list(p.labels), "body_path": p.url} for p in pulls]
        click.echo(json.dumps(rows if action == "list" else rows[0], indent=2))
    elif action == "show":
        click.echo(forge.markdown_path(pulls[0].number).read_text(encoding="utf-8"))
    else:
        for p in pulls:
            click.echo(f"#{p.number:<4} {p.state:<7}{' draft' if p.draft else '      '} {p.branch:<40} {p.title}")


_commands_added = False


def _add_commands() -> None:
    """Commands kept in modules of their own under ``jobs.commands`` (each lists its commands in ``COMMANDS``)."""
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
