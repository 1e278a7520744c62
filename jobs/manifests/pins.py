"""What GitHub Actions workflows and pre-commit configs share: refs of other git repositories pinned in YAML.

A pin is a tag (``v4``, ``v4.1.2``, ``0.6.9``) or a full commit SHA followed by a comment naming the tag it
stands for (``8ade135a41bc03ea155e62e844d188df1ea18608 # v4.1.0``). YAML is read with PyYAML's composer, whose
nodes carry character offsets, so every span points at the text as written (quotes, comments and layout are
never re-serialized). The version of a pin is its tag read as PEP 440 (``v4.1.2`` -> 4.1.2); its depth is the
number of components the tag has (``v4`` is 1), and updates keep that depth: a ``v4`` pin moves to ``v5``,
never to ``v5.0.1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

from jobs.manifests.base import find_by_globs, relative
from jobs.models import Dependency, ParsedManifests, Problem, ProjectPage, Span

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# what stands between "#" and the tag a version comment names: "# v4.1.0", "# tag=v4.1.0", "# pin @v4.1.0",
# pre-commit's "# frozen: v4.1.0", renovate's "# renovate: tag=v4.1.0", ratchet's "# ratchet:owner/repo@v4.1.0",
# "# owner/repo@v4.1.0"
_COMMENT = (r"[ \t]+#[ \t]*(?:renovate:[ \t]*)?(?:tag[ \t]*=[ \t]*|pin[ \t]*@[ \t]*|frozen:[ \t]*|"
            r"(?:ratchet:)?[\w.-]+/[\w./-]+@|@)?")
_TAG = r"[^\s#'\",;)]+"
_COMMENT_TAG_RE = re.compile(rf"^(?P<gap>{_COMMENT})(?P<tag>{_TAG})")
# a SHA pin's specifier: the SHA, the closing quote of a quoted scalar if any, the comment, the tag
SHA_PIN_RE = re.compile(rf"^(?P<sha>[0-9a-f]{{40}})(?P<mid>['\"]?{_COMMENT})(?P<tag>{_TAG})$")
# a tag pin's specifier: the tag, a quoted scalar's closing quote, and a version comment if the line has one
TAG_PIN_RE = re.compile(rf"^(?P<ref>[^\s#'\"]+)(?P<quote>['\"]?)(?:(?P<mid>{_COMMENT})(?P<tag>{_TAG}))?$")
# a comment that says "leave this pin alone"
_HOLD_RE = re.compile(r"#.*\b(ratchet:exclude|nightcrew:\s*ignore)\b")
_TAG_DEPTH_RE = re.compile(r"^[^\d]*(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class Scalar:
    """A YAML scalar as written: its value and where the value's characters sit (quotes excluded)."""

    value: str
    start: int  # offset of the value's first character
    end: int
    line: int  # 1-based
    quoted: bool
    node_end: int  # offset after the closing quote (== end when plain)


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (first document); raises ``yaml.YAMLError`` when it is not YAML."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def compose_file(text: str, file: str) -> tuple[yaml.Node | None, ParsedManifests | None]:
    """(root node, None), or (None, the result to return): an empty file, or invalid YAML as one problem naming
    the file and line."""
    try:
        root = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, ParsedManifests((file,), (), (Problem(file, mark.line + 1 if mark else None,
                                                           f"invalid YAML: {problem}"),))
    return root, (ParsedManifests((file,)) if root is None else None)


class YamlPinFormat:
    """A YAML manifest of pins, one file at a time: subclasses give ``name`` and ``parse_text(text, file)``."""

    name = ""

    @staticmethod
    def parse_text(text: str, file: str) -> ParsedManifests:
        raise NotImplementedError

    def find(self, root: Path, globs: Sequence[str]) -> list[Path]:
        return find_by_globs(root, globs)

    def parse(self, root: Path, paths: Sequence[Path]) -> ParsedManifests:
        files, deps, problems = [], [], []
        for path in paths:
            file = relative(root, path)
            try:
                with open(path, encoding="utf-8", newline="") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(file, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
                continue
            parsed = self.parse_text(text, file)
            files.append(file)
            deps.extend(parsed.dependencies)
            problems.extend(parsed.problems)
        return ParsedManifests(tuple(files), tuple(deps), tuple(problems))


def scalar(node: yaml.Node, text: str) -> Scalar | None:
    """A scalar node as written, or None when its value is not the text between its marks (escapes, folding)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    start, end = node.start_mark.index, node.end_mark.index
    quoted = node.style in ("'", '"')
    inner_start, inner_end = (start + 1, end - 1) if quoted else (start, end)
    if node.style in ("|", ">") or text[inner_start:inner_end] != node.value:
        return None
    return Scalar(node.value, inner_start, inner_end, node.start_mark.line + 1, quoted, end)


def walk_key(node: yaml.Node, key: str) -> Iterator[tuple[yaml.MappingNode, yaml.Node]]:
    """Every (mapping, value node) pair whose key is ``key``, anywhere below ``node``; a node reached again through
    a YAML alias is visited once (an alias may even contain itself)."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    yield current, v
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def mapping_value(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def tag_version(tag: str) -> Version | None:
    """A tag read as a version (``v4.1.2``, ``4.1.2``, ``v5.0.0-beta.1``), or None."""
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def tag_depth(tag: str) -> int:
    """How many release components a tag writes: ``v4`` 1, ``v4.1`` 2, ``v4.1.2`` 3."""
    found = _TAG_DEPTH_RE.match(tag)
    return found[1].count(".") + 1 if found else 0


@dataclass(frozen=True)
class Pin:
    """A ref as written after ``@`` or in ``rev:``: a tag, or a SHA with the tag its comment names."""

    ref: str
    tag: str | None  # the tag the pin stands for (the ref itself, or a SHA pin's comment)
    sha: str | None
    specifier: str  # the text the span covers: the ref, or "sha # tag" up to the tag's end
    span: Span
    skipped_reason: str | None = None


def read_pin(text: str, ref_start: int, ref: str, after: int) -> Pin:
    """The pin whose ref sits at ``text[ref_start:ref_start + len(ref)]``; ``after`` is where the YAML scalar
    ends (after its closing quote), where a version comment starts. The span runs from the ref across a closing
    quote to the end of the comment's tag when the line has a version comment, so one splice moves both (a SHA
    pin's comment says its version; a tag pin's comment is kept in step); else it covers the ref and, in a quoted
    scalar, the closing quote (where a SHA pin's comment would go)."""
    line_end = text.find("\n", after)
    rest = text[after: len(text) if line_end < 0 else line_end].rstrip("\r")
    hold = _HOLD_RE.search(rest)
    comment = _COMMENT_TAG_RE.match(rest)
    versioned = comment is not None and tag_version(comment["tag"]) is not None
    end = after + comment.end("tag") if versioned else after
    span = Span(ref_start, end)
    specifier = text[ref_start:end]
    if hold:
        return Pin(ref, None, None, specifier, span, f"marked {hold[1]} in its comment: not updated")
    if SHA_RE.match(ref):
        if not versioned:
            said = rest.strip().lstrip("#").strip()
            why = (f"its comment {said[:40]!r} names no version tag" if said else
                   "pinned to a commit without a version comment (# vX.Y.Z)")
            return Pin(ref, None, ref, specifier, span, why)
        return Pin(ref, comment["tag"], ref, specifier, span)
    if tag_version(ref) is None:
        return Pin(ref, None, None, specifier, span, f"ref {ref!r} is not a version tag (a branch or a short SHA)")
    return Pin(ref, ref, None, specifier, span)


def dependency(name: str, raw_name: str, pin: Pin, *, file: str, line: int, section: str, ecosystem: str,
               source: str | None) -> Dependency:
    version = tag_version(pin.tag) if pin.tag else None
    return Dependency(name=name, raw_name=raw_name, specifier=pin.specifier, file=file, line=line, section=section,
                      span=pin.span, pep440=f"=={version}" if version is not None else "",
                      skipped_reason=pin.skipped_reason, ecosystem=ecosystem, source=source)


# -- updates -------------------------------------------------------------------------------------------------


def pin_tag(dep: Dependency) -> str | None:
    """The tag a pin stands for: the ref itself, or the tag a SHA pin's comment names."""
    found = SHA_PIN_RE.match(dep.specifier or "")
    if found:
        return found["tag"]
    found = TAG_PIN_RE.match(dep.specifier or "")
    return found["ref"] if found and not SHA_RE.match(found["ref"]) else None


def pin_sha(dep: Dependency) -> str | None:
    """The commit a SHA pin names, else None."""
    found = SHA_PIN_RE.match(dep.specifier or "")
    return found["sha"] if found else None


def sha_mismatch(dep: Dependency, page: ProjectPage) -> str | None:
    """Why a SHA pin cannot be trusted, or None: its comment names an exact tag (``v4.1.0``) whose commit is
    another (a comment left behind by a hand edit, or a tag moved upstream). A moving tag (``v4``) moves by
    design: its old commit is no mismatch."""
    sha, tag = pin_sha(dep), pin_tag(dep)
    if sha is None or tag is None or tag_depth(tag) < 3:
        return None
    commits = {f.url for f in page.files if f.filename == tag}
    if not commits or sha in commits:
        return None
    return (f"the pinned commit {sha[:12]} is not tag {tag} ({next(iter(commits))[:12]}): not updated until the "
            "comment or the SHA is corrected")


def at_depth(dep: Dependency, page: ProjectPage) -> ProjectPage:
    """``page`` with only the tags as deep as the pin's (a ``v4`` pin sees ``v5``, not ``v5.0.1``) and, among
    tags naming the same version, only those written like the pin (``v4.1.0`` for ``v4.0.0``, not ``4.1.0``)."""
    tag = pin_tag(dep)
    if tag is None:
        return page
    depth, prefix = tag_depth(tag), tag[: len(tag) - len(tag.lstrip("vV"))]
    kept = [f for f in page.files if tag_depth(f.filename) == depth]
    styled = {f.version for f in kept if f.filename.startswith(prefix) and f.filename[len(prefix):][:1].isdigit()}
    kept = [f for f in kept if f.version not in styled or (
        f.filename.startswith(prefix) and f.filename[len(prefix):][:1].isdigit())]
    return ProjectPage(page.name, page.url, tuple(kept))


def new_pin_text(dep: Dependency, version: Version, page: ProjectPage, *, to_sha: bool = False) -> str:
    """The text that replaces the pin's span for ``version``: the new tag, or the new commit's SHA and the new
    tag in the comment. ``to_sha`` turns a plain tag pin into a SHA pin with a version comment.
    Raises ValueError when the page has no tag (or no commit) for ``version``."""
    files = [f for f in at_depth(dep, page).files if f.version == version]
    if not files:
        raise ValueError(f"no tag for {version}")
    tag, sha = files[0].filename, files[0].url
    pinned = SHA_PIN_RE.match(dep.specifier)
    if pinned:
        if not SHA_RE.match(sha):
            raise ValueError(f"no commit known for tag {tag}")
        return sha + pinned["mid"] + tag
    written = TAG_PIN_RE.match(dep.specifier)
    if written is None:
        raise ValueError(f"cannot read the pin {dep.specifier!r}")
    if to_sha and dep.ecosystem == "actions":  # the SHA inside the quotes, the tag in a comment after them
        if not SHA_RE.match(sha):
            raise ValueError(f"no commit known for tag {tag}")
        return sha + written["quote"] + (written["mid"] or " # ") + tag
    return tag + written["quote"] + ((written["mid"] + tag) if written["mid"] else "")
