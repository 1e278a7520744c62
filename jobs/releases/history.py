"""The range of changes of a release, from git alone: tags and their versions, the previous release, and the
pull requests, direct commits and contributors between the two.

Everything is read with a handful of git calls, whatever the size of the range: one ``git for-each-ref`` for
the tags, one ``git log`` (NUL-separated) for every commit of ``previous..TAG`` (the first-parent history is
rebuilt from the parents it prints; the other commits are the PR branches, where PR authors' commits live),
and one ``git log previous --format=%aE`` for first-time contributor detection.

Rules:

* A tag names a version when the tag pattern (a regex with a ``version`` group) matches it and the group is a
  PEP 440 version, or a semver-style one packaging rejects (``1.2.3-rc.1.2``, ``2.0.0-SNAPSHOT``, ``1.0.0-0.3``),
  normalized (:func:`normalize_version`).
* The previous release of TAG is the tag with the highest version below TAG's among the tags reachable from TAG
  (its ancestors, or TAG's own commit) that match the pattern; pre-releases are skipped when TAG is a final
  release, unless ``include_prereleases=True`` (``False`` skips them for a pre-release TAG too).
* The changes are the first-parent history ``previous..TAG``, oldest first. A commit is a pull request when its
  subject is GitHub's merge-commit subject ``Merge pull request #N from owner/branch`` (title: the first line of
  the message body, as GitHub writes it; the branch name when the body is empty) or ends with a squash
  reference ``Title (#N)`` (the last reference is the PR: ``Revert "X (#1)" (#2)`` is #2, titled
  ``Revert "X (#1)"``). ``kind`` is ``merge`` for a merge commit (either subject form), ``squash`` otherwise;
  a merge's ``author_email`` is that of the PR branch's tip (the merge's second parent), not of whoever merged.
  A PR number met twice is the PR once (the oldest commit); the later commit naming it again (a re-landed or
  reverted-and-redone change) is kept as a direct commit, so that nothing in the range goes unlisted. Other commits
  are direct commits (rebase-merged PRs among them: git alone cannot tell them apart), plain merge commits too
  (``Merge branch 'x'``, octopus ``Merge branches …``, ``Merge remote-tracking branch``, ``Merge tag``: see
  :func:`is_plain_merge`, which the notes leave out by rule).
* Contributors are the authors of every commit in ``previous..TAG`` (the PR branches included), oldest first,
  ``Name <email>`` after ``.mailmap``; new contributors are those whose e-mail (case-insensitive) authored no
  commit reachable from ``previous`` (all of them for a first release).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from packaging.version import InvalidVersion, Version

from jobs.errors import NightcrewError
from jobs.models import Commit, PullRef, ReleaseRange
from jobs.vcs import GitError

DEFAULT_TAG_PATTERN = r"^v?(?P<version>\d[^/]*)$"

_MERGE_SUBJECT = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<source>\S+)")
# What ``git merge`` (fmt-merge-msg) writes for a merge that is no pull request: a branch, several (octopus), a
# remote-tracking branch, a tag, a commit.
_PLAIN_MERGE = re.compile(r"^Merge (?:(?:remote-tracking )?branch(?:es)?|tags?|commits?) '")
_SQUASH_SUBJECT = re.compile(r"^(?P<title>.*?)\s*\(#(?P<number>\d+)\)\s*$")

# semver-ish pre-release labels packaging does not know, or cannot parse in their semver shape
_PRE_LABELS = {
    "a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc",
    "candidate": "rc", "dev": ".dev", "snapshot": ".dev", "nightly": ".dev", "canary": ".dev", "next": ".dev",
}
_SEMVER = re.compile(
    r"^[vV]?(?P<release>\d+(?:\.\d+)*)(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$")
_LOG_FIELDS = 7  # sha, parents, author name, author e-mail, author date, subject, body


class ReleaseRangeError(NightcrewError):
    """The range of a release cannot be determined: a bad tag, a previous release that is not an ancestor."""


class UnknownTagError(ReleaseRangeError):
    """The tag (or revision) does not exist in the repository."""


# -- versions ----------------------------------------------------------------------------------------------


def normalize_version(text: str) -> Version | None:
    """``text`` as a PEP 440 version, or None. Semver-style forms packaging rejects are normalized:
    ``1.2.3-rc.1.2`` → ``1.2.3rc1.post2``, ``2.0.0-SNAPSHOT`` → ``2.0.0.dev0``, ``1.0.0-0.3.7`` → ``1.0.0.dev0``
    (a numeric semver pre-release); build metadata (``+…``) is kept as a local version when it can be."""
    text = text.strip()
    try:
        return Version(text)
    except InvalidVersion:
        pass
    match = _SEMVER.match(text)
    if match is None:
        return None
    candidate = match["release"]
    if match["pre"]:
        parts = [p for p in re.split(r"[.-]", match["pre"]) if p]
        label = next((p.lower() for p in parts if not p.isdigit()), None)
        numbers = [int(p) for p in parts if p.isdigit()]
        if label is None:  # purely numeric semver pre-release: below the release, like a dev release
            candidate += f".dev{numbers[0] if numbers else 0}"
        elif label in _PRE_LABELS:
            candidate += f"{_PRE_LABELS[label]}{numbers[0] if numbers else 0}"
            if len(numbers) > 1:
                candidate += f".post{numbers[1]}"
        else:
            return None
    for with_build in ((candidate + "+" + match["build"]) if match["build"] else None, candidate):
        if with_build is None:
            continue
        try:
            return Version(with_build)
        except InvalidVersion:
            continue
    return None


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    except re.error as exc:
        raise ReleaseRangeError(f"tag pattern {pattern!r} is not a regular expression: {exc}") from None
    if "version" not in compiled.groupindex:
        raise ReleaseRangeError(f"tag pattern {compiled.pattern!r} needs a (?P<version>...) group")
    return compiled


def parse_tag(tag: str, pattern: str | re.Pattern[str] = DEFAULT_TAG_PATTERN) -> Version | None:
    """The version ``tag`` names under ``pattern`` (a regex with a ``version`` group), or None when the tag does
    not match or the group is not a version."""
    match = _compile(pattern).search(tag)
    if match is None or match["version"] is None:
        return None
    return normalize_version(match["version"])


# -- git ---------------------------------------------------------------------------------------------------


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run git in ``repo`` (no prompts, no signatures, paths unquoted); the finished process, whatever its exit."""
    command = ["git", "-c", "log.showSignature=false", "-c", "core.quotePath=false", *args]
    if not repo.is_dir():
        raise ReleaseRangeError("no such folder", str(repo))
    try:
        return subprocess.run(command, cwd=repo, capture_output=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except OSError as exc:
        raise GitError(f"cannot run git ({exc.strerror})", f"git {args[0]}") from None


def _git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in ``repo``; its standard output decoded as UTF-8 (undecodable bytes replaced)."""
    proc = _run(repo, *args)
    if check and proc.returncode != 0:
        lines = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise GitError(lines[-1].strip() if lines else f"exit {proc.returncode}", f"git {args[0]}")
    return proc.stdout.decode("utf-8", errors="replace")


def _resolve(repo: Path, name: str) -> str:
    """The commit ``name`` points at: a tag first (``refs/tags/NAME``), else any revision (a sha, a branch)."""
    if name and not name.startswith("-"):
        for ref in (f"refs/tags/{name}", name):
            out = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
            if out:
                return out
    if not _git(repo, "rev-parse", "--git-dir", check=False).strip():
        raise ReleaseRangeError("not a git repository", str(repo))
    raise UnknownTagError(f"unknown tag {name!r}", str(repo))


def resolve(repo: Path, name: str) -> str:
    """The sha of the commit a tag (or revision) names; :class:`UnknownTagError` when there is none."""
    return _resolve(repo, name)


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    """Whether ``commit`` is ``of`` or one of its ancestors."""
    return _run(repo, "merge-base", "--is-ancestor", commit, of).returncode == 0


def commit_date(repo: Path, revision: str | None) -> str | None:
    """The committer date (ISO 8601) of ``revision``; None for None or a revision git does not know."""
    if revision is None or revision.startswith("-"):
        return None
    return _git(repo, "log", "-1", "--format=%cI", revision, "--", check=False).strip() or None


def tags(repo: Path, *, merged: str | None = None) -> list[str]:
    """The repository's tag names (``pkg-a/v1.0`` for ``refs/tags/pkg-a/v1.0``), sorted by name; with
    ``merged``, only the tags whose commit is reachable from that revision (ancestors, and itself)."""
    args = ["for-each-ref", "--format=%(refname:strip=2)"]
    if merged is not None:
        args.append(f"--merged={_resolve(repo, merged)}")
    return [line for line in _git(repo, *args, "refs/tags").splitlines() if line]


def release_tags(repo: Path, pattern: str | re.Pattern[str] = DEFAULT_TAG_PATTERN, *,
                 merged: str | None = None) -> list[tuple[str, Version]]:
    """(tag, version) of each tag the pattern gives a version, lowest version first (ties by name)."""
    compiled = _compile(pattern)
    found = [(tag, parse_tag(tag, compiled)) for tag in tags(repo, merged=merged)]
    return sorted(((t, v) for t, v in found if v is not None), key=lambda tv: (tv[1], tv[0]))


def previous_tag(repo: Path, tag: str, *, pattern: str | re.Pattern[str] = DEFAULT_TAG_PATTERN,
                 include_prereleases: bool | None = None) -> str | None:
    """The release before ``tag``: the highest-versioned tag reachable from it that matches ``pattern`` and sorts
    below it. Pre-releases are candidates when ``include_prereleases`` is True, never when False, and (None)
    only when ``tag`` is itself a pre-release. None for the first release."""
    compiled = _compile(pattern)
    sha = _resolve(repo, tag)
    version = parse_tag(tag, compiled)
    if version is None:
        raise ReleaseRangeError(f"tag {tag!r} names no version under the tag pattern {compiled.pattern!r}",
                                str(repo))
    prereleases = version.is_prerelease if include_prereleases is None else include_prereleases
    best: tuple[Version, str] | None = None
    for name, candidate in release_tags(repo, compiled, merged=sha):
        if name == tag or candidate >= version or (candidate.is_prerelease and not prereleases):
            continue
        if best is None or (candidate, name) > best:
            best = (candidate, name)
    return best[1] if best else None


# -- the range ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    sha: str
    parents: tuple[str, ...]
    name: str
    email: str
    date: str
    subject: str
    body: str


def _log(repo: Path, revisions: Sequence[str]) -> list[_Entry]:
    """Every commit of ``revisions`` (children before parents, newest first): one git call."""
    fmt = "%x00".join(("%H", "%P", "%aN", "%aE", "%aI", "%s", "%b"))
    out = _git(repo, "log", "-z", "--date-order", f"--format={fmt}", *revisions, "--")
    parts = out.split("\x00")
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) % _LOG_FIELDS:  # a NUL inside a message (git refuses to write one, fast-import does not)
        raise GitError("cannot read the commit log (a NUL byte in a commit message?)", "git log")
    return [
        _Entry(parts[i].lstrip("\n"), tuple(parts[i + 1].split()), parts[i + 2], parts[i + 3], parts[i + 4],
               parts[i + 5], parts[i + 6].rstrip("\n"))
        for i in range(0, len(parts), _LOG_FIELDS)
    ]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def pull_of(subject: str, body: str = "", parents: int = 2) -> tuple[int, str, str] | None:
    """(number, title, kind) of the pull request a commit message records, or None for a direct commit.

    On a single-parent commit (``parents`` 1) the trailing ``(#N)`` a squash merge appends names the PR that
    landed it, even when the subject starts with ``Merge pull request #M``: a squashed backport of a merge."""
    squash = _SQUASH_SUBJECT.match(subject)
    if parents <= 1 and squash and _MERGE_SUBJECT.match(subject):
        return int(squash["number"]), _first_line(body) or squash["title"].strip(), "squash"
    merge = _MERGE_SUBJECT.match(subject)
    if merge:
        # GitHub's title is the message body's first line; without one, the branch (owner/ removed)
        source = merge["source"]
        branch = source.split("/", 1)[1] if "/" in source else source
        return int(merge["number"]), _first_line(body) or branch, "merge"
    squash = _SQUASH_SUBJECT.match(subject)
    if squash:
        return int(squash["number"]), squash["title"].strip() or subject.strip(), "squash"
    return None


_COAUTHOR = re.compile(r"^\s*Co-authored-by:\s*(?P<name>[^<\n]*?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*$",
                       re.IGNORECASE | re.MULTILINE)


def coauthors_of(message: str) -> list[str]:
    """``Name <email>`` of each ``Co-authored-by:`` trailer of a commit message."""
    return [f"{m['name'] or m['email']} <{m['email']}>" for m in _COAUTHOR.finditer(message or "")]


def _branch(by_sha: dict, tip: str, chain: set[str]) -> list:  # type: ignore[type-arg]
    """The commits of a merged branch: from its tip back along first parents until the released history."""
    found, sha = [], tip
    while sha in by_sha and sha not in chain and len(found) < 500:
        entry = by_sha[sha]
        found.append(entry)
        sha = entry.parents[0] if entry.parents else None
    return found


def is_plain_merge(subject: str) -> bool:
    """Whether a commit subject is git's own for a merge that is no pull request (``Merge branch 'side'``,
    ``Merge branches 'a' and 'b'``, ``Merge remote-tracking branch 'origin/x'``, ``Merge tag 'v1.2'``)."""
    return _PLAIN_MERGE.match(subject) is not None


def release_range(repo: Path, tag: str, previous: str | None, *, include_direct: bool = True) -> ReleaseRange:
    """What changed from ``previous`` (None: the beginning of history) to ``tag``; see the module's rules."""
    tag_sha = _resolve(repo, tag)
    previous_sha = _resolve(repo, previous) if previous is not None else None
    if previous_sha is not None and not is_ancestor(repo, previous_sha, tag_sha):
        raise ReleaseRangeError(f"{previous!r} is not an ancestor of {tag!r}", str(repo))
    entries = _log(repo, [tag_sha] if previous_sha is None else [tag_sha, f"^{previous_sha}"])
    by_sha = {e.sha: e for e in entries}

    chain: list[_Entry] = []  # the first-parent history, rebuilt: what `git log --first-parent` would list
    sha: str | None = tag_sha
    while sha is not None and sha in by_sha:
        entry = by_sha[sha]
        chain.append(entry)
        sha = entry.parents[0] if entry.parents else None
    chain.reverse()

    pulls: list[PullRef] = []
    seen: set[int] = set()
    direct: list[Commit] = []
    credited: list[str] = []
    for entry in chain:
        found = pull_of(entry.subject, entry.body, len(entry.parents))
        if found is None and not is_plain_merge(entry.subject):  # a direct commit is its author's own contribution
            credited.append(f"{entry.name} <{entry.email}>")
            credited.extend(coauthors_of(entry.body))
        if found is None:
            if include_direct:
                direct.append(Commit(entry.sha, entry.subject, entry.body, entry.name, entry.email, entry.date))
            continue
        number, title, kind = found
        if number in seen:  # the PR is its first commit; a later one naming it again is a change of its own
            if include_direct:
                direct.append(Commit(entry.sha, entry.subject, entry.body, entry.name, entry.email, entry.date))
            continue
        seen.add(number)
        author, author_name = entry.email, entry.name
        messages = [entry.body]
        if len(entry.parents) > 1:  # a merge commit, whatever its message format ("Title (#N)" is one option)
            kind = "merge"
            if entry.parents[1] in by_sha:
                tip = by_sha[entry.parents[1]]  # the PR branch's tip, not whoever pressed the button
                author, author_name = tip.email, tip.name
                messages += [e.body for e in _branch(by_sha, entry.parents[1], {c.sha for c in chain})]
        coauthors = tuple(dict.fromkeys(c for m in messages for c in coauthors_of(m)))
        merge = _MERGE_SUBJECT.match(entry.subject)
        branch = merge["source"].split("/", 1)[1] if merge and "/" in merge["source"] else None
        pulls.append(PullRef(number, entry.sha, title, kind, author, entry.body, coauthors, author_name, branch))
        credited.append(f"{author_name} <{author}>")
        credited.extend(coauthors)

    # the people credited: PR authors (a merge commit's author is whoever pressed the button: not as such),
    # co-authors, and the authors of direct commits; in order of first appearance
    contributors: dict[str, str] = {}  # lower-cased e-mail -> "Name <email>"
    for who in credited:
        email = who.rpartition("<")[2].rstrip(">").strip().lower()
        if email and email not in contributors:
            contributors[email] = who
    if previous_sha is None:
        new = list(contributors.values())
    else:
        # who contributed before: commit authors and the co-authors their trailers name
        earlier = _git(repo, "log", "--format=%aE%n%(trailers:key=Co-authored-by,valueonly)", previous_sha, "--")
        before = {(line.rpartition("<")[2].rstrip(">") if "<" in line else line).strip().lower()
                  for line in earlier.splitlines() if line.strip()}
        new = [who for key, who in contributors.items() if key not in before]

    return ReleaseRange(
        tag=tag, previous_tag=previous, tag_sha=tag_sha, previous_sha=previous_sha, pulls=tuple(pulls),
        direct_commits=tuple(direct), contributors=tuple(contributors.values()), new_contributors=tuple(new),
    )


def find_range(repo: Path, tag: str, *, previous: str | None = None,
               pattern: str | re.Pattern[str] = DEFAULT_TAG_PATTERN, include_prereleases: bool | None = None,
               include_direct: bool = True) -> ReleaseRange:
    """:func:`release_range` from ``previous`` when given (``--previous-tag``), else from :func:`previous_tag`."""
    if previous is None:
        previous = previous_tag(repo, tag, pattern=pattern, include_prereleases=include_prereleases)
    return release_range(repo, tag, previous, include_direct=include_direct)
