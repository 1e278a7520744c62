"""The release watch: notice new release tags (local git and the forge's remote) and draft notes once per tag.

The first watch of a repository only records the tags already there ("baseline"): drafting the whole history
would bury people in drafts nobody asked for. After that each new tag, oldest version first, gets one run of
the release-notes job; a failed run is tried again on the next watches, ``MAX_ATTEMPTS`` times in all.

A tag the policy keeps from being drafted (quiet hours, advisory mode, a rule) is "waiting": that is not a
failed attempt, and the next watch tries it again, so a tag pushed during quiet hours is drafted after them.

A tag is drafted once, by name: a tag that is moved to another commit, or deleted and created again, after
its draft was written is not drafted again (``nightcrew run release-notes --tag TAG`` redrafts it by hand).

After drafting, each watch collects the final text of the drafts that have none yet and stores it with its edit
distance from what the bot wrote (the report's release-note edits), as ``nightcrew notes score`` does by hand. A
draft on GitHub is final once its release is published. A local draft file has no such moment: it counts as
final once a newer release tag had been drafted before this watch began, i.e. the release manager moved on at
least one watch ago (the same watch that drafts the newer tag would take the text before anyone could finish it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version
from sqlalchemy import delete, exists, insert, select, text

from jobs.config import Config
from jobs.errors import ConfigError, NightcrewError
from jobs.releases.history import parse_tag
from jobs.state import schema
from jobs.state.store import Locked, Store, stamp
from jobs.tools import Denied, Gate, Stopped
from jobs.vcs import Git

MAX_ATTEMPTS = 3  # drafting attempts per tag, the first included; then the tag is given up ("gave-up")
DONE = ("baseline", "drafted", "gave-up")  # outcomes that are never tried again
WRITTEN = ("created", "updated")  # draft actions that reached the main draft (the one people edit and publish)


@dataclass(frozen=True)
class Tag:
    name: str
    sha: str  # the commit the tag names (annotated tags peeled)
    version: Version
    local: bool  # False: only the remote has it yet


@dataclass(frozen=True)
class WatchResult:
    run_id: str
    baseline: tuple[str, ...] = ()  # found on the first watch, recorded, not drafted
    drafted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # this watch's attempt failed; tried again next time
    gave_up: tuple[str, ...] = ()  # failed for the last allowed time
    stopped: str | None = None  # the kill switch or a shutdown stopped the watch between tags
    problems: tuple[str, ...] = ()  # one line each: a remote that could not be listed, a failed draft's error
    waiting: tuple[str, ...] = ()  # new tags left for the next watch: the policy said no, or the lock was held
    notices: tuple[str, ...] = ()  # one line each: why a tag waits for the policy (not an error)
    finals: tuple[str, ...] = ()  # tags whose final text (and edit distance) this watch stored


def _local_tags(git: Git) -> dict[str, str]:
    out = git.run("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", "refs/tags")
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, sha, peeled = (line.split("\x00") + ["", ""])[:3]
        if name:
            found[name] = peeled or sha
    return found


def _remote_tags(git: Git, remote: str) -> dict[str, str]:
    """The remote's tags as ``git ls-remote --tags`` lists them; an annotated tag's ``^{}`` line is its commit."""
    found: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in git.run("ls-remote", "--tags", remote).splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        name = ref[len("refs/tags/"):]
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            found[name] = sha
    return {name: peeled.get(name, sha) for name, sha in found.items()}


def _git_for(repo: Path, config: Config, kind: str) -> Git:
    """Git with the forge's credentials in its environment (GitHub: a credential helper, never a URL)."""
    if kind == "github" and os.environ.get(config.forge.token_env):
        from jobs.dependency_updates import make_forge

        try:
            forge = make_forge(config, repo, Git(repo), "github")
        except NightcrewError:
            return Git(repo)
        return Git(repo, env=forge.git_env(), secrets=tuple(forge.secrets))
    return Git(repo)


def list_tags(repo: Path, config: Config, gate: Gate, git: Git) -> tuple[list[Tag], list[str]]:
    """Release tags (matching ``[release_notes] tag_pattern``) here and on ``[forge] remote``, and problems."""
    pattern = config.release_notes.tag_pattern
    problems: list[str] = []
    local = _local_tags(git)
    remote_only: dict[str, str] = {}
    remote = config.forge.remote
    if remote and remote in git.run("remote").split():
        try:
            listed = gate.run("git.fetch", f"{remote} tags", lambda: _remote_tags(git, remote))
        except Stopped:
            raise
        except NightcrewError as exc:  # the local tags can still be watched
            problems.append(f"remote tags not listed: {exc}")
        else:
            remote_only = {name: sha for name, sha in listed.items() if name not in local}
    tags = []
    for names, is_local in ((local, True), (remote_only, False)):
        for name, sha in names.items():
            version = parse_tag(name, pattern)
            if version is not None:
                tags.append(Tag(name, sha, version, is_local))
    tags.sort(key=lambda t: (t.version, t.name))
    return tags, problems


def _seen(store: Store, repository: str) -> dict[str, tuple[str, int]]:
    """{tag: (outcome, attempts)} of what earlier watches recorded."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT tag, outcome, attempts FROM seen_tags WHERE repository = :r"),
                            {"r": repository})
        return {row.tag: (row.outcome, int(row.attempts or 0)) for row in rows}


def _mark(store: Store, repository: str, tags: list[Tag], *, outcome: str, run_id: str, attempts: int) -> None:
    """Record what became of ``tags`` (and how many attempts it took) in one transaction: a baseline is
    written whole or not at all, so a crash cannot leave half the history to be drafted as new."""
    table = schema.seen_tags
    with store.transaction() as conn:
        for tag in tags:
            conn.execute(delete(table).where(table.c.repository == repository, table.c.tag == tag.name))
            conn.execute(insert(table).values(repository=repository, tag=tag.name, sha=tag.sha, seen_at=stamp(),
                                              run_id=run_id, outcome=outcome))
            conn.execute(text("UPDATE seen_tags SET attempts = :n WHERE repository = :r AND tag = :t"),
                         {"n": attempts, "r": repository, "t": tag.name})


def _watched_before(store: Store, repository: str, run_id: str) -> bool:
    """Whether an earlier watch of this repository recorded what was there, even if that was no tag at all."""
    runs = schema.runs
    # EXISTS, not the run rows: a watch every few minutes piles up tens of thousands of them in a year
    query = select(exists().where(runs.c.repository == repository, runs.c.job == "release-watch",
                                  runs.c.outcome == "ok", runs.c.id != run_id))
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def _written_drafts(store: Store, repository: str) -> dict[str, dict]:
    """{tag: its newest draft that reached the main draft} (what ``DraftLog.last(tag, written=True)`` gives)."""
    latest: dict[str, dict] = {}
    for row in store.drafts(repository=repository):  # oldest first: a later row of a tag replaces an earlier one
        if row["action"] in WRITTEN:
            latest[row["tag"]] = row
    return latest


def _published_text(repo: Path, config: Config, tag: str, location: str, forge_kind: str | None) -> str | None:
    """The published release's body, or None while the release is still a draft (not a failure: not yet)."""
    from jobs.release_notes import final_text

    try:
        return final_text(repo, config, tag, location, forge_kind=forge_kind)
    except NightcrewError as exc:
        if exc.message.startswith("no published release"):
            return None
        raise


def collect_finals(repo: Path, config: Config, store: Store, repository: str, gate: Gate, *,
                   drafted_before: set[str], forge_kind: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """Store the final text and edit distance of each written draft that has none yet and is final now (see the
    module docstring); ``drafted_before``: the tags with a written draft when this watch began.

    Returns (tags scored, problems, notices), one line per problem; only ``Stopped`` is raised.
    """
    from jobs.release_notes import final_text
    from jobs.releases.drafts import LocalDrafts
    from jobs.releases.score import score
    from jobs.state.drafts import DraftLog, StoredDraft

    pattern = config.release_notes.tag_pattern
    log = DraftLog(store, repository)
    scored: list[str] = []
    problems: list[str] = []
    notices: list[str] = []
    before = [v for v in (parse_tag(name, pattern) for name in drafted_before) if v is not None]
    for tag, row in _written_drafts(store, repository).items():
        if row["final_text"] is not None:
            continue
        location = row["location"]
        on_forge = location.startswith(("http://", "https://"))
        try:
            if on_forge:
                final = gate.run("forge.read", f"release {tag}",
                                 lambda: _published_text(repo, config, tag, location, forge_kind))
                if final is None:
                    continue
            else:
                version = parse_tag(tag, pattern)
                if version is None or not any(other > version for other in before):
                    continue  # the release manager may still be editing it
                path = LocalDrafts(repo / config.release_notes.folder).paths(tag)[0]
                if not path.is_file():  # removed by a person: nothing to compare, and no failure of the watch
                    notices.append(f"{tag}: no final text to compare: {path} is gone")
                    continue
                final = gate.run("forge.read", str(path),
                                 lambda: final_text(repo, config, tag, location, forge_kind=forge_kind))
            result = score(row["generated"], final)
            log.set_final(StoredDraft(row["tag"], row["generated"], row["text_hash"], location, row["action"],
                                      row["created_at"], row["id"]), final, result.distance)
        except Stopped:
            raise
        except Denied as exc:
            notices.append(f"{tag}: final text not read, the policy said no: {exc.message}")
            continue
        except NightcrewError as exc:
            problems.append(f"{tag}: final text not collected: {exc}")
            continue
        except Exception as exc:  # one draft's surprise must not end the watch; the next watch tries again
            problems.append(f"{tag}: final text not collected: {type(exc).__name__}: {exc}")
            continue
        scored.append(tag)
    return scored, problems, notices


def run_job(repo: Path, config: Config, *, forge_kind: str | None = None,
            shutdown: threading.Event | None = None) -> WatchResult:
    """One watch, as ``nightcrew run release-watch`` and the scheduler start it: under the run lock, the policy
    and the kill switch; each draft is its own release-notes run (its own lock, run record and audit)."""
    from jobs import release_notes
    from jobs.runs import JobRun

    kind = forge_kind or config.forge.kind
    git = _git_for(repo, config, kind)
    if not git.is_repository():
        raise ConfigError("not a git repository", str(repo))
    baseline: list[str] = []
    drafted: list[str] = []
    failed: list[str] = []
    gave_up: list[str] = []
    waiting: list[str] = []
    notices: list[str] = []
    problems: list[str] = []
    finals: list[str] = []
    stopped: str | None = None
    with JobRun(repo, config, "release-watch", shutdown=shutdown, forge_kind=forge_kind) as job:
        store, repository, gate = job.store, job.repository, job.gate
        assert store is not None  # not a dry run
        gate.secrets = tuple(dict.fromkeys(gate.secrets + git.secrets))
        try:
            drafted_before = set(_written_drafts(store, repository))
            tags, problems = list_tags(repo, config, gate, git)
            seen = _seen(store, repository)
            if not seen and not _watched_before(store, repository, job.run_id):
                if problems:  # a baseline without the remote's tags would let its whole history be drafted later
                    problems.append("first watch: nothing recorded until the remote's tags can be listed")
                else:
                    _mark(store, repository, tags, outcome="baseline", run_id=job.run_id, attempts=0)
                    baseline = [t.name for t in tags]
                tags = []
            for tag in tags:
                outcome, attempts = seen.get(tag.name, ("", 0))
                if outcome in DONE or (outcome == "failed" and attempts >= MAX_ATTEMPTS):
                    continue
                gate.check_stop(f"release notes for {tag.name}")
                attempts += 1
                try:
                    if not tag.local:
                        remote = config.forge.remote
                        gate.run("git.fetch", f"{remote} tag {tag.name}",
                                 lambda: git.run("fetch", "--quiet", "--no-tags", remote, "tag", tag.name))
                    notes = release_notes.run_job(repo, config, tag=tag.name, forge_kind=forge_kind,
                                                  shutdown=shutdown)
                    # a release-notes job that reports the gate's no instead of raising it: the same as Denied
                    denied = getattr(notes, "denied", None)
                    if denied:
                        raise Denied(denied)
                except Stopped:
                    raise
                except Denied as exc:  # quiet hours, advisory mode, a rule: the tag waits, no attempt is used up
                    waiting.append(tag.name)
                    notices.append(f"{tag.name}: waiting, the policy said no: {exc.message}")
                    continue
                except Locked as exc:  # a release-notes run by hand holds the lock: not this tag's failure
                    waiting.append(tag.name)
                    problems.append(f"{tag.name}: left for the next watch: {exc}")
                    continue
                except NightcrewError as exc:
                    last = attempts >= MAX_ATTEMPTS
                    _mark(store, repository, [tag], outcome="gave-up" if last else "failed", run_id=job.run_id,
                          attempts=attempts)
                    (gave_up if last else failed).append(tag.name)
                    gave = f" (attempt {attempts} of {MAX_ATTEMPTS}" + (", giving up)" if last else ")")
                    problems.append(f"{tag.name}: release notes failed{gave}: {exc}")
                    continue
                _mark(store, repository, [tag], outcome="drafted", run_id=job.run_id, attempts=attempts)
                drafted.append(tag.name)
            finals, final_problems, final_notices = collect_finals(
                repo, config, store, repository, gate, drafted_before=drafted_before, forge_kind=forge_kind)
            problems += final_problems
            notices += final_notices
        except Stopped as exc:
            stopped = str(exc)
        outcome = (("paused" if "paused" in stopped else "interrupted") if stopped
                   else "partial" if failed or gave_up or problems else "ok")
        job.finish(outcome, {"baseline": len(baseline), "drafted": drafted, "failed": failed, "gave_up": gave_up,
                             "waiting": waiting, "finals": finals, "stopped": stopped, "problems": len(problems)})
    return WatchResult(job.run_id, tuple(baseline), tuple(drafted), tuple(failed), tuple(gave_up), stopped,
                       tuple(problems), tuple(waiting), tuple(notices), tuple(finals))
