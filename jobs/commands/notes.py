"""`nightcrew notes score`: how much people changed a release-note draft."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jobs.commands._shared import EXIT_PARTIAL, config_option, fail, load_config, repo_option
from jobs.errors import NightcrewError


@click.group()
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

        config = load_config(repo, config_path)
        with Store.for_repo(config, repo) as store:
            log = DraftLog(store, repository_id(config, repo))
            stored = log.last(tag, written=True)
            if stored is None:
                fail(f"no generated draft stored for {tag}")
            try:
                final = final_text(repo, config, tag, stored.location, forge_kind=forge_kind)
            except NightcrewError as exc:
                fail(str(exc), EXIT_PARTIAL)
            result = score(stored.generated, final)
            log.set_final(stored, final, result.distance)  # the report's edit distance per release
    else:
        fail("give --tag TAG, or --draft FILE and --final FILE")
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


COMMANDS = [notes]
