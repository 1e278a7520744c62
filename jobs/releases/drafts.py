"""The draft for editorial review: a draft release on GitHub, or a markdown file per release, never published.

Both stores follow one rule: nightcrew rewrites a draft only while it still holds nightcrew's last text. Each
draft starts with a hidden marker, ``<!-- nightcrew:release sha256=HEX -->``, whose hash covers the text below
it; a draft whose text no longer matches its marker (or has lost it) was edited by a person. That draft is left
exactly as it is and the new text goes beside it (a second draft release named ``TAG (nightcrew draft)``, or a
``TAG.nightcrew.md`` file), and the result says so (``kept-human-edits``). The side draft follows the same rule:
if a person edited that one too, nothing is written and the note says why.

Text is compared with line endings normalized (``CRLF`` → ``LF``) and trailing white space ignored, so a
draft that was opened in GitHub's editor and saved unchanged still counts as untouched.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import quote

from jobs.forges.base import ForgeError
from jobs.releases.history import DEFAULT_TAG_PATTERN, parse_tag

if TYPE_CHECKING:
    from jobs.forges.github import DraftRelease, GitHubForge

__all__ = ["DraftResult", "DraftStore", "GitHubDrafts", "LocalDrafts", "text_hash", "with_marker", "is_bots_text",
           "file_stem", "looks_prerelease", "SIDE_SUFFIX"]  # fmt: skip

Action = Literal["created", "updated", "kept-human-edits"]
SIDE_SUFFIX = " (nightcrew draft)"
_MARKER = re.compile(r"\A[ \t]*<!--\s*nightcrew:release\s+sha256=(?P<hash>[0-9a-f]{16,64})\s*-->[ \t]*(?:\r?\n|\Z)")
# The marker carries the first 16 hex digits of the text's sha256: enough to tell an edit (a chance edit keeping
# them is 1 in 2**64), short enough to be little noise in the draft; markers with the whole hash still count.
MARKER_HEX = 16


@dataclass(frozen=True)
class DraftResult:
    """What happened to the draft: ``url_or_path`` is where the new text is (or, when nothing could be
    written, the draft a person edited); ``text_hash`` is the hash to pass as ``previous_text_hash`` next time."""

    action: Action
    url_or_path: str
    note: str = ""
    text_hash: str = ""


class DraftStore(Protocol):
    """Where drafts for editorial review go."""

    def publish_draft(self, tag: str, text: str, previous_text_hash: str | None = None, *,
                      prerelease: bool | None = None) -> DraftResult:  # fmt: skip
        """Write ``text`` as the draft for ``tag`` (``created`` or ``updated``), unless a person edited the draft
        since nightcrew wrote ``previous_text_hash`` (or the text its marker names): then ``kept-human-edits``.

        ``previous_text_hash`` is ``DraftResult.text_hash`` of the last run (from the state store), or None; a
        draft counts as nightcrew's when its text matches its own marker or that hash. ``prerelease`` is whether
        ``tag`` is a pre-release under the configured tag pattern (``history.parse_tag``); None: see
        :func:`looks_prerelease`."""
        ...


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def text_hash(text: str) -> str:
    """sha256 (hex) of a draft's text, line endings normalized and trailing white space ignored."""
    return hashlib.sha256(_normalize(text).encode("utf-8")).hexdigest()


def with_marker(text: str) -> str:
    """The draft as written: the hidden marker line, then ``text``."""
    return f"<!-- nightcrew:release sha256={text_hash(text)[:MARKER_HEX]} -->\n{_normalize(text)}\n"


def _split(body: str) -> tuple[str | None, str]:
    match = _MARKER.match(body)
    return (match["hash"], body[match.end():]) if match else (None, body)


def is_bots_text(body: str, previous_text_hash: str | None = None) -> bool:
    """Whether ``body`` is still nightcrew's text: it matches its own marker, or the hash nightcrew recorded."""
    marker, rest = _split(body)
    current = text_hash(rest)
    return (marker is not None and current.startswith(marker)) or \
        (previous_text_hash is not None and current == previous_text_hash)


def _same(body: str, new_body: str) -> bool:
    return _normalize(body) == _normalize(new_body)


def looks_prerelease(tag: str, prerelease: bool | None = None) -> bool:
    """``prerelease`` when the caller knows (it read ``tag`` with the configured tag pattern), else what
    ``history.parse_tag`` reads under the default pattern — of the tag, or of its last path part for a
    monorepo tag (``pkg-a/v1.2.0-rc.1``): ``v2.0.0-SNAPSHOT`` and ``1.2.3-rc.1.2`` are pre-releases, as they
    are when the notes pick the previous release. A tag that names no version is no pre-release."""
    if prerelease is not None:
        return prerelease
    for candidate in dict.fromkeys((tag, tag.rsplit("/", 1)[-1])):
        version = parse_tag(candidate, DEFAULT_TAG_PATTERN)
        if version is not None:
            return version.is_prerelease
    return False


# -- GitHub: draft releases ------------------------------------------------------------------------


class GitHubDrafts:
    """Draft releases on GitHub through ``GitHubForge`` (a token with push access: drafts are invisible
    otherwise). Every release it creates or edits has ``draft: true``; a published release is never touched.

    ``target`` is where GitHub will create the tag when someone publishes the draft and the tag does not
    exist yet (a branch or a full sha GitHub has); None: the default branch. Requests are counted in
    ``forge.requests``.
    """

    def __init__(self, forge: GitHubForge, *, target: str | None = None) -> None:
        self.forge = forge
        self.target = target

    def _find(self, tag: str, previous_text_hash: str | None
              ) -> tuple[DraftRelease | None, DraftRelease | None, DraftRelease | None]:  # fmt: skip
        """(published release, main draft, side draft) for ``tag``; among several drafts, nightcrew's own first."""
        published = main = side = None
        side_name = tag + SIDE_SUFFIX
        for page in self.forge.release_listing():
            for release in page:
                if release.tag != tag:
                    continue
                if not release.draft:
                    published = published or release
                elif release.name == side_name:
                    side = side or release
                elif main is None or (not is_bots_text(main.body, previous_text_hash)
                                      and is_bots_text(release.body, previous_text_hash)):  # fmt: skip
                    main = release
        return published, main, side

    def _write(self, existing: DraftRelease, body: str) -> DraftRelease | None:
        """Update ``existing`` (None: it changed or was published since it was read: nothing written)."""
        if _same(existing.body, body):
            return existing
        return self.forge.update_draft_release(existing.id, body=body, expect_body=existing.body)

    def publish_draft(self, tag: str, text: str, previous_text_hash: str | None = None, *,
                      prerelease: bool | None = None) -> DraftResult:  # fmt: skip
        body, digest = with_marker(text), text_hash(text)
        prerelease = looks_prerelease(tag, prerelease)
        published, main, side = self._find(tag, previous_text_hash)
        if published is not None:
            return DraftResult("kept-human-edits", published.html_url,
                               f"{tag} is already published; nightcrew does not touch published releases", digest)
        if main is None:
            created = self.forge.create_draft_release(tag, name=tag, body=body, prerelease=prerelease,
                                                      target=self.target)  # fmt: skip
            return DraftResult("created", created.html_url, f"draft release for {tag} created", digest)
        if is_bots_text(main.body, previous_text_hash):
            written = self._write(main, body)
            if written is not None:
                note = "unchanged" if _same(main.body, body) else f"draft release for {tag} updated"
                return DraftResult("updated", written.html_url, note, digest)
        # A person edited the draft (or did while this run read it): theirs stays, the new text goes beside it.
        side_name = tag + SIDE_SUFFIX
        edited = f"the draft release for {tag} was edited by hand since nightcrew wrote it and is left as it is"
        if side is None:
            created = self.forge.create_draft_release(tag, name=side_name, body=body,
                                                      prerelease=prerelease, target=self.target)
            return DraftResult("kept-human-edits", created.html_url,
                               f"{edited}; the new draft is beside it as {side_name!r}", digest)  # fmt: skip
        if is_bots_text(side.body, previous_text_hash):
            written = self._write(side, body)
            if written is not None:
                return DraftResult("kept-human-edits", written.html_url,
                                   f"{edited}; the new draft is beside it in {side_name!r}", digest)  # fmt: skip
        return DraftResult("kept-human-edits", main.html_url,
                           f"{edited}, and so was {side_name!r}: the new text was not written to GitHub", digest)


# -- local: one markdown file per release ----------------------------------------------------------


def file_stem(tag: str) -> str:
    """A file name for ``tag``, safe everywhere, that tells tags apart (``pkg-a/v1.2.0`` → ``pkg-a%2Fv1.2.0``)."""
    stem = quote(tag, safe="._+-@")
    return "%2E" + stem[1:] if stem.startswith(".") else stem  # no hidden files


def _atomic_write(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half of one."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644  # an edited file keeps its mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class LocalDrafts:
    """One markdown file per release under ``folder``: ``<folder>/<tag>.md`` (see ``file_stem``), and
    ``<tag>.nightcrew.md`` beside it when a person edited the first one."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def paths(self, tag: str) -> tuple[Path, Path]:
        stem = file_stem(tag)
        return self.folder / f"{stem}.md", self.folder / f"{stem}.nightcrew.md"

    def _write(self, path: Path, content: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, content)
        except OSError as exc:
            raise ForgeError(f"cannot write the draft: {exc.strerror or exc}", str(path)) from None

    @staticmethod
    def _read(path: Path) -> str | None:
        try:
            return path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ForgeError(f"cannot read the draft: {exc.strerror or exc}", str(path)) from None

    def publish_draft(self, tag: str, text: str, previous_text_hash: str | None = None, *,
                      prerelease: bool | None = None) -> DraftResult:  # fmt: skip
        """See ``DraftStore.publish_draft``; a markdown file has no pre-release flag (``prerelease`` is unused)."""
        content, digest = with_marker(text), text_hash(text)
        main, side = self.paths(tag)
        existing = self._read(main)
        if existing is None:
            self._write(main, content)
            return DraftResult("created", str(main), f"draft for {tag} written", digest)
        if is_bots_text(existing, previous_text_hash):
            if _same(existing, content):
                return DraftResult("updated", str(main), "unchanged", digest)
            self._write(main, content)
            return DraftResult("updated", str(main), f"draft for {tag} updated", digest)
        edited = f"{main.name} was edited by hand since nightcrew wrote it and is left as it is"
        beside = self._read(side)
        if beside is None or is_bots_text(beside, previous_text_hash):
            if beside is None or not _same(beside, content):
                self._write(side, content)
            return DraftResult("kept-human-edits", str(side), f"{edited}; the new draft is beside it in {side.name}",
                               digest)  # fmt: skip
        return DraftResult("kept-human-edits", str(main),
                           f"{edited}, and so was {side.name}: the new text was not written", digest)
