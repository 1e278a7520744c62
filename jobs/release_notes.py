"""The release-notes job: git range -> PRs and issues -> categories -> render -> draft for editorial review.

The bot drafts; people publish. A draft a person edited is never overwritten.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.config import Config
from jobs.errors import ConfigError, NightcrewError
from jobs.models import ReleaseNote, ReleaseRange
from jobs.releases import categories, compose, enrich, history
from jobs.releases.drafts import DraftResult, GitHubDrafts, LocalDrafts
from jobs.state.drafts import DraftLog
from jobs.tools import Denied, Gate, Stopped
from jobs.tools.redact import secrets_from_environment

if TYPE_CHECKING:
    from jobs.releases.house import HouseResult
    from jobs.state.store import Store


@dataclass(frozen=True)
class ReleaseRun:
    run_id: str
    note: ReleaseNote
    range: ReleaseRange
    api_requests: int
    draft: DraftResult | None
    dry_run: bool
    problems: tuple[str, ...] = field(default_factory=tuple)
    synthesized: bool = False
    changelog_pr: dict | None = None
    complete: bool = True
    notices: tuple[str, ...] = ()
    denied: str | None = None  # the draft was not written because the policy said no (the notes are still here)
    denials: tuple = ()  # the gate's audit records of denied actions
    source: str = "default"  # what the text was made from: curated-section, news-fragments, house-style, default
    style: dict | None = None  # the learned house style (jobs.releases.style.HouseStyle.to_json), if any
    not_in_notes: tuple[int, ...] = ()  # PRs curated text does not mention (listed apart for the editor)


def _block(tag: str, text: str, styled: bool = False) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("<!-- nightcrew:release")]
    if styled:  # already a release section of this file, in its own style: as it is
        return f"<!-- nightcrew:release-notes {tag} -->\n{chr(10).join(lines).strip()}\n" \
               f"<!-- /nightcrew:release-notes {tag} -->\n"
    # the notes' own headings go one level below the release heading, so the file keeps one level per release
    body = "\n".join("#" + line if line.startswith("#") else line for line in lines)
    return f"<!-- nightcrew:release-notes {tag} -->\n## {tag}\n\n{body.strip()}\n<!-- /nightcrew:release-notes {tag} -->\n"


def with_notes(current: str, tag: str, text: str, *, styled: bool = False) -> str:
    """The changelog file with the notes for ``tag`` on top (or in place of the bot's earlier block for it);
    ``styled`` text is a release section in the file's own style and goes in as it is."""
    start, end = f"<!-- nightcrew:release-notes {tag} -->", f"<!-- /nightcrew:release-notes {tag} -->\n"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        return before + _block(tag, text, styled) + rest.split(end, 1)[1]
    lines = current.splitlines(keepends=True)
    # keep a leading "# Changelog" title (and what follows it up to the first release) above the new block
    top = 0
    if lines and lines[0].startswith("# "):
        top = 1
        while top < len(lines) and not lines[top].startswith(("## ", "<!-- nightcrew:release-notes ")):
            top += 1
    head = "".join(lines[:top])
    if head and not head.endswith("\n\n"):
        head = head.rstrip("\n") + "\n\n"
    tail = "".join(lines[top:])
    return head + _block(tag, text, styled) + ("\n" + tail if tail else "")


def propose_changelog(repo: Path, config: Config, forge, gate: Gate, tag: str, text: str,  # type: ignore[no-untyped-def]
                      *, styled: bool = False) -> dict:
    """A branch and PR that put the notes at the top of ``[release_notes] changelog_file``; once per tag,
    a PR a person closed stays closed, a branch a person pushed to is left alone."""
    from jobs.vcs import Author, Git

    settings = config.release_notes
    branch = f"{config.forge.branch_prefix}release-notes-{re.sub(r'[^A-Za-z0-9._-]+', '-', tag)}"
    existing = gate.run("forge.read", branch, lambda: forge.pulls_for_branch(branch))
    open_pr = next((p for p in existing if p.state == "open"), None)
    if open_pr is None and existing:
        return {"branch": branch, "action": "skipped", "reason": f"#{existing[0].number} is {existing[0].state}"}
    git = Git(repo, env=forge.git_env(), secrets=tuple(forge.secrets))
    author = Author(config.forge.author_name, config.forge.author_email)
    remote = getattr(forge, "remote", None)
    if remote is None:  # a forge made without make_forge
        remote = config.forge.remote or ("origin" if forge.kind == "github" else "")
    base = forge.default_base()
    base_sha = git.sha(git.fetch_branch(remote, base)) if remote else git.sha(base)
    remote_tip = gate.run("forge.read", branch, lambda: git.remote_sha(remote, branch)) if remote else None
    tip = git.sha(git.fetch_branch(remote, branch)) if remote_tip else git.sha(f"refs/heads/{branch}")
    if tip and git.foreign_commits(base_sha, tip, author.email):
        return {"branch": branch, "action": "skipped", "reason": "the branch has commits by someone else"}
    title = f"docs: release notes for {tag}"
    with git.worktree(base_sha) as worktree:
        path = worktree / settings.changelog_file
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        updated = with_notes(current, tag, text, styled=styled)
        if tip and git.file_at(tip, settings.changelog_file) == updated and open_pr:
            return {"branch": branch, "action": "unchanged", "pr": open_pr.number}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(updated, encoding="utf-8")
        sha = gate.run("git.branch", branch, lambda: git.commit(worktree, [settings.changelog_file], title + "\n",
                                                                  author))
    if forge.kind == "local":
        gate.run("git.branch", branch, lambda: git.set_branch(branch, sha))
    if remote:
        gate.run("git.push", f"{remote} {branch}", lambda: git.push(remote, branch, sha, expected=remote_tip))
    body = f"The release notes for {tag}, at the top of `{settings.changelog_file}`. Edit freely before merging."
    if open_pr:
        pull = gate.run("forge.update_pull", branch, lambda: forge.update_pull(open_pr.number, title=title, body=body))
        return {"branch": branch, "action": "updated", "pr": pull.number, "url": pull.url}
    pull = gate.run("forge.create_pull", branch, lambda: forge.create_pull(branch=branch, base=base, title=title,
                                                                           body=body, draft=False))
    return {"branch": branch, "action": "opened", "pr": pull.number, "url": pull.url}


def _category_config(repo: Path, config: Config) -> categories.CategoryConfig:
    """The repository's ``.github/release.yml`` when it has one, else nightcrew's config, else conventional types."""
    found = categories.find_release_yml(repo)
    if found is not None:
        loaded = categories.load_release_yml(found)
        if loaded is not None:
            return loaded
    settings = config.release_notes
    data = {
        "exclude_labels": list(settings.exclude_labels),
        "exclude_authors": list(settings.exclude_authors),
        "categories": [{"title": c.title, "labels": list(c.labels), "exclude_labels": list(c.exclude_labels),
                        "exclude_authors": list(c.exclude_authors)} for c in settings.categories],
    }
    return categories.config_from_dict(data)


def _house(repo: Path, config: Config, range_: ReleaseRange, pulls: dict, note: ReleaseNote, web: str | None, *,
           keep_categories: bool, intro: str = "") -> HouseResult:
    """The draft in the project's own voice (``jobs.releases.house``): curated text for this release first, else
    the note in the house style learned from the notes file at the tag's parent, else ``note`` as composed."""
    from jobs.releases import house
    from jobs.releases import style as house_style

    settings = config.release_notes
    if settings.style == "default":
        return house.HouseResult(note, "default")
    pattern = settings.tag_pattern
    version = house.version_text(range_.tag, pattern)
    previous = house.version_text(range_.previous_tag, pattern) if range_.previous_tag else None
    configured = settings.notes_file or settings.changelog_file
    day = house.release_day(repo, range_.tag_sha)
    before = house.find_notes_file(repo, f"{range_.tag_sha}^", configured) if range_.previous_sha or \
        range_.pulls or range_.direct_commits else None
    style = house_style.learn(before[1], before[0]) if before else None
    if settings.curated:
        at_tag = house.find_notes_file(repo, range_.tag_sha, configured or (before[0] if before else ""))
        if at_tag is not None:
            section = house.curated_section(at_tag[1], at_tag[0], version, previous)
            if section is not None:
                curated, missing = house.curated_note(note, range_, section, house.markup_of(at_tag[0]))
                return house.HouseResult(curated, "curated-section", style.to_json() if style else None, missing)
        found = house.fragments(repo, range_.tag_sha)
        if found:
            text = house.fragment_text(found, style, version=version, previous=previous, day=day, repo_url=web)
            curated, missing = house.curated_note(note, range_, text, style.markup if style else "markdown")
            return house.HouseResult(curated, "news-fragments", style.to_json() if style else None, missing)
    if style is None:
        return house.HouseResult(note, "default")
    styled = house.restyle(note, range_, pulls, style, version=version, previous=previous, day=day,
                           keep_categories=keep_categories, heading=settings.heading, item_order=settings.item_order,
                           intro=intro)
    return house.HouseResult(styled, "house-style", style.to_json())


def _highlights_intro(synthesis: object, note: ReleaseNote) -> str:
    numbers = {i.pr for _, items in note.categories for i in items if i.pr is not None}
    sentences = []
    for highlight in getattr(synthesis, "highlights", ()):
        cites = [n for n in highlight.cites if n in numbers]
        if cites:
            sentences.append(f"{highlight.text} ({', '.join(f'#{n}' for n in cites)}).")
    return " ".join(sentences)


def _date_of(repo: Path, sha: str | None) -> str | None:
    return history.commit_date(repo, sha) if sha else None


def _web_url(config: Config, repo: Path, forge: object | None) -> str | None:
    if config.forge.web_url:
        return config.forge.web_url.rstrip("/")
    repo_obj = getattr(forge, "_repo", None)
    if repo_obj is not None:
        return repo_obj.html_url.rstrip("/")
    remote = config.forge.remote or "origin"
    proc = subprocess.run(["git", "remote", "get-url", remote], cwd=repo, capture_output=True, text=True, timeout=60)
    return enrich.web_url(proc.stdout.strip() or None)


def run(repo: Path, config: Config, *, tag: str, previous_tag: str | None = None, forge_kind: str | None = None,
        dry_run: bool = False, gate: Gate | None = None, store: "Store | None" = None) -> ReleaseRun:
    """Draft the notes for ``tag``. ``gate`` and ``store`` come from the run (``jobs.runs.JobRun``); without
    them the job makes its own gate and opens the repository's state store."""
    run_id = gate.run_id if gate is not None else uuid.uuid4().hex[:12]
    kind = forge_kind or config.forge.kind
    forge = None
    if kind == "github":
        from jobs.dependency_updates import make_forge
        from jobs.vcs import Git

        if os.environ.get(config.forge.token_env):
            forge = make_forge(config, repo, Git(repo), "github")
    notices: list[str] = []
    if kind == "github" and forge is None:
        notices.append(f"no token in {config.forge.token_env}: notes from git alone, draft written locally")
    secrets = secrets_from_environment(extra=config.tests.secret_env) + tuple(getattr(forge, "secrets", ()))
    state = repo / config.forge.state_file
    if gate is None:
        gate = Gate(run_id=run_id, job="release-notes", dry_run=dry_run, secrets=secrets,
                    audit_path=None if dry_run else state.parent / "audit.jsonl")
    else:
        gate.secrets = tuple(dict.fromkeys(gate.secrets + secrets))
    settings = config.release_notes
    range_ = history.find_range(repo, tag, previous=previous_tag, pattern=settings.tag_pattern,
                                include_prereleases=None if settings.skip_prereleases else True,
                                include_direct=settings.include_direct_commits)
    web = _web_url(config, repo, forge)
    problems: list[str] = []
    requests = 0
    pulls = enrich.git_only(range_.pulls, web)
    if forge is not None:
        try:
            found, requests = gate.run("forge.read", f"pulls for {tag}", lambda: enrich.enrich(
                range_.pulls, reader_or_forge=forge, repository=forge.repository,
                since=_date_of(repo, range_.previous_sha)))
            pulls.update(found)  # what the forge does not know stays as git has it
        except NightcrewError as exc:
            problems.append(f"enrichment from the forge failed, git-only notes: {exc}")
    try:
        category_config = _category_config(repo, config)
    except categories.CategoryError as exc:
        raise ConfigError(str(exc), "release_notes.categories") from None
    note = compose.compose(range_, pulls, config=category_config, repo_url=web, bot_authors=settings.bot_authors,
                           bot_branch_prefix=(config.forge.branch_prefix, *settings.bot_branches),
                           neutralize_handles=settings.neutralize_handles,
                           include_direct_commits=settings.include_direct_commits, credit_bots=settings.credit_bots,
                           branches={n: p.branch for n, p in pulls.items() if p.branch})
    explicit = categories.find_release_yml(repo) is not None or bool(settings.categories)
    house = _house(repo, config, range_, pulls, note, web, keep_categories=explicit)
    note = house.note
    incomplete = compose.check_complete(range_, note)
    problems += incomplete
    if categories.find_release_yml(repo) is not None and (settings.exclude_labels or settings.exclude_authors):
        notices.append(".github/release.yml decides categories and exclusions; [release_notes] exclude_* were not used")
    synthesized = False
    denied: str | None = None
    # no LLM call (data sent, money spent) for notes the policy would not let us write anyway
    draft_allowed = dry_run or gate.verdict("forge.draft_release")[0] == "allow"
    if config.llm.enabled and not dry_run and draft_allowed:
        from jobs.llm.client import LLMError, build_llm
        from jobs.releases.synthesis import apply_synthesis, synthesize

        try:
            llm = build_llm(config.llm, gate)
            synthesis = synthesize(note, llm, pulls=pulls)
        except LLMError as exc:
            problems.append(str(exc))
        else:
            if synthesis is not None and house.source == "default":
                note = apply_synthesis(note, synthesis, repo_url=web, neutralize_handles=settings.neutralize_handles)
                synthesized = True
            elif synthesis is not None and house.source == "house-style":
                # the model's titles and highlights, rendered in the house style again
                retitled = apply_synthesis(note, synthesis, repo_url=web, neutralize_handles=settings.neutralize_handles)
                note = _house(repo, config, range_, pulls, retitled, web, keep_categories=True,
                              intro=_highlights_intro(synthesis, note)).note
                synthesized = True
    draft = None
    if not dry_run and not draft_allowed:
        try:  # asked anyway, so that the gate records the denial with its rule
            gate.run("forge.draft_release", tag, lambda: None)
        except Denied as exc:
            denied = str(exc)
            notices.append(f"draft not written: {exc}")
    elif not dry_run:
        from jobs.vcs import Git

        Git(repo).keep_out(state.parent, repo / settings.folder)
        drafts = GitHubDrafts(forge) if forge is not None else LocalDrafts(repo / settings.folder)
        from jobs.state.store import Store, repository_id

        own = store is None
        state_store = Store.for_repo(config, repo) if own else store
        log = DraftLog(state_store, repository_id(config, repo))
        try:
            last = log.last(tag)
            version = history.parse_tag(tag, settings.tag_pattern)
            draft = gate.run("forge.draft_release", tag, lambda: drafts.publish_draft(
                tag, note.text, last.text_hash if last else None,
                prerelease=version.is_prerelease if version is not None else None))
            log.add(tag, note.text, draft.text_hash, draft.url_or_path, draft.action)
        except Denied as exc:  # the policy changed its mind between the check and the write (a limit, a clock edge)
            denied = str(exc)
            notices.append(f"draft not written: {exc}")
        finally:
            if own:
                state_store.close()
        if forge is not None:
            requests = forge.requests
    changelog_pr = None
    if settings.changelog_file and not dry_run and denied is None:
        from jobs.dependency_updates import make_forge
        from jobs.vcs import Git

        pr_forge = forge if forge is not None else make_forge(config, repo, Git(repo), "local")
        try:
            changelog_pr = propose_changelog(repo, config, pr_forge, gate, tag, note.text,
                                             styled=house.source != "default")
        except Denied as exc:
            notices.append(f"changelog pull request not proposed: {exc}")
        except Stopped:
            raise
        except NightcrewError as exc:
            problems.append(f"changelog pull request: {exc}")
    return ReleaseRun(run_id, note, range_, requests, draft, dry_run, tuple(problems), synthesized, changelog_pr,
                      complete=not incomplete, notices=tuple(notices), denied=denied, source=house.source,
                      style=house.style, not_in_notes=house.not_in_notes,
                      denials=tuple(r for r in gate.records if r.outcome in ("denied", "needs-approval")))


def final_text(repo: Path, config: Config, tag: str, location: str, *, forge_kind: str | None = None) -> str:
    """The text people settled on for ``tag``: the published GitHub release's body, else the local draft file."""
    if location.startswith(("http://", "https://")):  # the draft went to the forge: the final text is there
        from jobs.dependency_updates import make_forge
        from jobs.vcs import Git

        forge = make_forge(config, repo, Git(repo), "github")
        for page in forge.release_listing():
            for release in page:
                if release.tag == tag and not release.draft:
                    return release.body or ""
        raise NightcrewError(f"no published release for {tag} yet", "notes score")
    path = LocalDrafts(repo / config.release_notes.folder).paths(tag)[0]  # the draft people edit
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NightcrewError(f"cannot read the final text ({exc.strerror})", str(path)) from None


def run_job(repo: Path, config: Config, *, tag: str, previous_tag: str | None = None, forge_kind: str | None = None,
            dry_run: bool = False, shutdown: threading.Event | None = None) -> ReleaseRun:
    """One run as the command line, the release watch and the scheduler start it: under the run lock, the policy
    and the kill switch, with the draft kept in the state store."""
    from jobs.runs import JobRun

    with JobRun(repo, config, "release-notes", dry_run=dry_run, shutdown=shutdown, forge_kind=forge_kind) as job:
        result = run(repo, config, tag=tag, previous_tag=previous_tag, forge_kind=forge_kind, dry_run=dry_run,
                     gate=job.gate, store=job.store if not dry_run else None)
        job.finish("partial" if result.problems else "ok", {"tag": tag, "problems": len(result.problems),
                                                            "complete": result.complete})
    return result
