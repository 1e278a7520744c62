"""pip requirements files, read by pip's own line rules, with spans pointing back into the file text."""

from __future__ import annotations

import optparse
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from jobs.manifests.base import find_by_globs, relative
from jobs.manifests.pep508 import (
    ARCHIVES, LOCAL_PATH, first_line, is_vcs_scheme, link_names, link_reason, link_scheme, specifier_span)
from jobs.models import Dependency, ParsedManifests, Problem, Span
from jobs.tools.redact import redact

# pip's req_file.COMMENT_RE: "#" starts a comment at line start or after whitespace, not inside a URL.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
# pip's req_file.ENV_VAR_RE: only upper case, digits and "_" inside ${...}.
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_EXPANDED = -1  # the "file offset" of a character a ${VAR} expansion put in: it is nowhere in the file
_REMOTE_RE = re.compile(r"^(https?|ftp):", re.I)
_STRONG_HASHES = ("sha256", "sha384", "sha512")
_IGNORED_FLAGS = ("--no-index", "--pre", "--prefer-binary", "--require-hashes")
_IGNORED_VALUES = (
    ("-f", "--find-links"), ("--trusted-host",), ("--only-binary",), ("--no-binary",),
    ("--use-feature",), ("-C", "--config-settings"), ("--global-option",),
)


@dataclass
class _Line:
    """One logical line (continuations joined, comment and outer whitespace removed)."""

    number: int
    text: str
    offsets: list[int]  # file offset of each character of ``text``; _EXPANDED where ${VAR} put it in
    secrets: tuple[str, ...] = ()  # the values ${VAR} expanded to, kept out of every message

    def span(self, start: int, end: int) -> Span | None:
        """File span of ``text[start:end]``; None when it crosses a line continuation or expanded text
        (an edit must never write an expanded value back into the file)."""
        if start == end:  # an empty spot: right after the character before it
            neighbour = self.offsets[start - 1] if start else self.offsets[0]
            at = neighbour + 1 if start else neighbour
            return None if neighbour == _EXPANDED else Span(at, at)
        if _EXPANDED in self.offsets[start:end]:
            return None
        first, last = self.offsets[start], self.offsets[end - 1]
        # offsets only grow, so equal distances mean no characters were cut out in between
        return Span(first, last + 1) if last - first == end - 1 - start else None

    def expand(self, environ: Mapping[str, str]) -> _Line:
        """pip's expand_env_variables: each ``${VAR}`` with a non-empty value is replaced by it."""
        text, offsets, secrets, pos = "", [], [], 0
        for match in _ENV_VAR_RE.finditer(self.text):
            value = environ.get(match.group(1))
            if not value:  # pip leaves unset and empty variables as written
                continue
            text += self.text[pos:match.start()] + value
            offsets += [*self.offsets[pos:match.start()], *[_EXPANDED] * len(value)]
            secrets.append(value)
            pos = match.end()
        if not secrets:
            return self
        longest_first = tuple(sorted(secrets, key=len, reverse=True))  # a secret inside another goes with it
        return _Line(self.number, text + self.text[pos:], offsets + self.offsets[pos:], longest_first)


def _logical_lines(text: str) -> Iterator[_Line]:
    """pip's join_lines + ignore_comments, keeping where each character came from."""
    pending: list[tuple[str, list[int]]] = []
    first, pos = 0, 0
    for number, chunk in enumerate(text.splitlines(keepends=True), 1):
        content, start = chunk.splitlines()[0], pos
        pos += len(chunk)
        if number == 1 and content.startswith("\ufeff"):  # a BOM is not part of the first line
            content, start = content[1:], start + 1
        is_comment = _COMMENT_RE.match(content) is not None
        if content.endswith("\\") and not is_comment:
            left = len(content) - len(content.lstrip("\\"))
            kept = content.strip("\\")  # pip strips backslashes at both ends
            first = first if pending else number
            pending.append((kept, list(range(start + left, start + left + len(kept)))))
            continue
        piece = (content, list(range(start, start + len(content))))
        if is_comment:  # pip prefixes a space so the comment still matches once joined
            piece = (" " + content, [start, *piece[1]])
        line = _clean(first if pending else number, [*pending, piece])
        pending = []
        if line:
            yield line
    if pending and (line := _clean(first, pending)):
        yield line


def _clean(number: int, pieces: list[tuple[str, list[int]]]) -> _Line | None:
    joined = "".join(text for text, _ in pieces)
    offsets = [o for _, offs in pieces for o in offs]
    comment = _COMMENT_RE.search(joined)
    kept = joined[:comment.start()] if comment else joined
    start, end = len(kept) - len(kept.lstrip()), len(kept.rstrip())
    return _Line(number, joined[start:end], offsets[start:end]) if end > start else None


def _split_args_options(text: str) -> tuple[str, str]:
    """pip's break_args_options: the requirement runs up to the first space-separated token starting "-"."""
    tokens = text.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return text, ""


class _OptionError(Exception):
    """A line's options do not parse; the message is optparse's (or ours), one line."""


class _OptionParser(optparse.OptionParser):
    def error(self, msg: str) -> Any:  # optparse would print usage and exit
        raise _OptionError(msg.replace("no such option", "unknown option"))


def _add_hash(option: optparse.Option, opt: str, value: str, parser: optparse.OptionParser) -> None:
    algo, _, digest = value.partition(":")
    if algo not in _STRONG_HASHES or not digest:
        parser.error(f"--hash must be {'/'.join(_STRONG_HASHES)}:<hex digest>, got {value!r}")
    parser.values.ensure_value("hashes", []).append(value)


def _parse_options(options: str) -> tuple[optparse.Values, list[str]]:
    """The options pip accepts in requirements files (req_file.SUPPORTED_OPTIONS and _REQ)."""
    try:
        argv = shlex.split(options)
    except ValueError as exc:
        raise _OptionError(f"cannot split options {options!r}: {exc}") from None
    # A fresh parser per line, as pip does: appended values must not leak between lines.
    parser = _OptionParser(add_help_option=False)
    parser.add_option("-i", "--index-url", dest="index_url")
    parser.add_option("--extra-index-url", dest="extra_index_urls", action="append", default=[])
    parser.add_option("-r", "--requirement", dest="requirements", action="append", default=[])
    parser.add_option("-c", "--constraint", dest="constraints", action="append", default=[])
    parser.add_option("-e", "--editable", dest="editables", action="append", default=[])
    parser.add_option("--hash", dest="hashes", action="callback", callback=_add_hash, type="str", default=[])
    for flag in _IGNORED_FLAGS:
        parser.add_option(flag, action="store_true")
    for names in _IGNORED_VALUES:
        parser.add_option(*names, action="append")
    return parser.parse_args(argv)


def _is_url(text: str) -> bool:
    """pip's is_url: a scheme pip can fetch or check out (``name @ url`` is not one)."""
    scheme = link_scheme(text)
    return scheme in ("http", "https", "file", "ftp") or is_vcs_scheme(scheme)


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".")


def _is_archive_path(text: str) -> bool:
    """pip treats ``x.whl``/``x.tar.gz`` as a file, unless it is ``name @ url``."""
    before_at, at, _ = text.partition("@")
    return text.lower().endswith(ARCHIVES) and not (at and not _looks_like_path(before_at))


def _skipped(link: str, reason: str, base: dict[str, Any], secrets: Sequence[str], name: str | None = None,
             **more: Any) -> Dependency:
    """A requirement nightcrew cannot check, named as well as the link allows, credentials redacted."""
    name, raw_name = link_names(link, name, secrets)
    return Dependency(name=name, raw_name=raw_name, specifier="", skipped_reason=reason, **base, **more)


def _requirement(line: _Line, args: str, hashes: tuple[str, ...], base: dict[str, Any]) -> Dependency:
    """A PEP 508 line, or a URL/path pip would install; raises InvalidRequirement/InvalidMarker."""
    base = {**base, "hashes": hashes}  # pip checks hashes for URL requirements too
    url_like = _is_url(args)
    head, _, marker_text = args.partition("; " if url_like else ";")  # pip's marker separators
    target, marker_text = head.strip(), marker_text.strip()
    if not url_like and not _is_archive_path(target):
        try:
            req = Requirement(f"{target} ; {marker_text}" if marker_text else target)
        except InvalidRequirement:
            if not _looks_like_path(target):
                raise
        else:
            more = {"extras": tuple(sorted(req.extras)), "marker": str(req.marker) if req.marker else None}
            if req.url:
                return _skipped(req.url, link_reason(req.url), base, line.secrets, name=req.name, **more)
            located = specifier_span(args, req)
            specifier = args[located[0]:located[1]] if located else str(req.specifier)
            return Dependency(name=canonicalize_name(req.name), raw_name=req.name, specifier=specifier,
                              span=line.span(*located) if located else None, pep440=str(req.specifier),
                              **base, **more)
    marker = str(Marker(marker_text)) if marker_text else None
    reason = link_reason(target) if url_like else LOCAL_PATH
    return _skipped(target, reason, base, line.secrets, marker=marker)


@dataclass
class _Walk:
    """The state of one parse() call: every file read once, includes followed depth-first."""

    root: Path
    files: list[str] = field(default_factory=list)
    found: list[tuple[Path, Dependency]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    index_by_entry: dict[str, str] = field(default_factory=dict)  # the --index-url each top-level file ends with
    seen: set[Path] = field(default_factory=set)
    included_as: dict[Path, set[str]] = field(default_factory=dict)
    follow_includes: bool = True
    label: str | None = None  # the record file name when parsing text that has no path
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    secrets: set[str] = field(default_factory=set)  # every value ${VAR} expanded to so far

    def rel(self, path: Path) -> str:
        return self.label if self.label is not None else relative(self.root, path)

    def report(self, file: str, line: int | None, message: str) -> None:
        """Record a problem; messages quote lines, URLs and paths, so credentials and expanded values go."""
        self.problems.append(Problem(file, line, redact(message, sorted(self.secrets, key=len, reverse=True))))

    def visit(self, path: Path, stack: tuple[Path, ...], site: tuple[str, int] | None = None) -> None:
        key = path.resolve()
        if key in self.seen:
            return
        self.seen.add(key)
        text = self.read(path, site)
        if text is None:
            return
        self.files.append(self.rel(path))
        for line in _logical_lines(text):
            self.handle(path, line, (*stack, key))

    def read(self, path: Path, site: tuple[str, int] | None) -> str | None:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                return f.read()
        except FileNotFoundError:
            where, missing = site or (self.rel(path), None), self.rel(path)
            self.report(*where, f"{'included ' if site else ''}file not found: {missing}")
        except UnicodeDecodeError as exc:
            bad = f"byte {exc.object[exc.start]:#04x} at offset {exc.start}"
            self.report(self.rel(path), None, f"not valid UTF-8 ({bad})")
        except OSError as exc:
            self.report(self.rel(path), None, f"cannot read file: {exc.strerror or exc}")
        return None

    def handle(self, path: Path, written: _Line, stack: tuple[Path, ...]) -> None:
        line = written.expand(self.environ)  # pip expands ${VAR} before it reads options or requirements
        self.secrets.update(line.secrets)
        file = self.rel(path)
        args, options = _split_args_options(line.text)
        try:
            opts, leftovers = _parse_options(options)
        except _OptionError as exc:
            self.report(file, line.number, str(exc))
            return
        base = {"file": file, "line": line.number, "section": "requirements"}
        if args:
            try:
                self.found.append((stack[-1], _requirement(line, args, tuple(opts.hashes), base)))
            except (InvalidRequirement, InvalidMarker) as exc:
                self.report(file, line.number, f"invalid requirement {args.strip()!r}: {first_line(exc)}")
        elif opts.editables:  # pip reads only the first -e of a line
            target = opts.editables[0]
            self.found.append((stack[-1], _skipped(target, link_reason(target, editable=True), base, line.secrets)))
        else:
            self.options_line(path, line.number, opts, leftovers, stack)

    def options_line(self, path: Path, number: int, opts: optparse.Values, leftovers: list[str],
                     stack: tuple[Path, ...]) -> None:
        if opts.index_url:  # as in pip, each --index-url replaces the one before: the last one wins
            self.index_url = opts.index_url
            self.index_by_entry[self.rel(stack[0] if stack else path)] = opts.index_url
        self.extra_index_urls += [u for u in opts.extra_index_urls if u not in self.extra_index_urls]
        for kind, targets in (("requirements", opts.requirements), ("constraints", opts.constraints)):
            for target in targets:
                self.include(path, number, target, kind, stack)
        file = self.rel(path)
        if opts.hashes:
            self.report(file, number, "--hash without a requirement is ignored")
        if leftovers:  # pip silently drops these; say so instead
            self.report(file, number, f"unexpected argument after options: {' '.join(leftovers)}")

    def include(self, path: Path, number: int, target: str, kind: str, stack: tuple[Path, ...]) -> None:
        if not self.follow_includes:
            return
        file = self.rel(path)
        if _REMOTE_RE.match(target):
            self.report(file, number, f"remote includes are not followed: {target}")
            return
        if target.lower().startswith("file:"):
            target = url2pathname(urlsplit(target).path)
        included = path.parent / target
        key = included.resolve()
        self.included_as.setdefault(key, set()).add(kind)
        if key in stack:
            chain = " -> ".join(self.rel(p) for p in (*stack[stack.index(key):], key))
            self.report(file, number, f"include cycle: {chain}")
            return
        self.visit(included, stack, (file, number))

    def section(self, key: Path) -> str:
        """Constraints only when every include of the file was ``-c`` (a ``-r`` makes them requirements)."""
        kinds = self.included_as.get(key)
        return "constraints" if kinds and "requirements" not in kinds else "requirements"

    def chosen_index(self) -> str | None:
        """One index for the run (nightcrew reads one): the files at the repository's top win, as pip run there
        would read them; files elsewhere (found by discovery) that name another index are reported, not obeyed."""
        if len(set(self.index_by_entry.values())) <= 1:
            return self.index_url
        top = [(f, u) for f, u in self.index_by_entry.items() if "/" not in f]
        chosen_file, chosen = (top or list(self.index_by_entry.items()))[-1]
        from jobs.index.locate import redact_url

        for file, url in self.index_by_entry.items():
            if url != chosen:
                self.report(file, None, f"--index-url {redact_url(url)} differs from {chosen_file}'s "
                                        f"({redact_url(chosen)}): nightcrew reads one index per run and uses "
                                        f"{chosen_file}'s")
        return chosen

    def result(self) -> ParsedManifests:
        index_url = self.chosen_index()
        return ParsedManifests(
            files=tuple(self.files),
            dependencies=tuple(replace(dep, section=self.section(key)) for key, dep in self.found),
            problems=tuple(self.problems),
            index_url=index_url,
            extra_index_urls=tuple(self.extra_index_urls),
        )


class RequirementsFormat:
    """pip requirements files: ``-r``/``-c`` includes followed, each file parsed once per call.

    Spans point at the version-specifier text as written. An unpinned requirement gets an empty span right
    after its name/extras (where a pin would go). A specifier split by a line continuation has ``span=None``
    and its joined text as ``specifier``. ``${VAR}`` references are expanded from the environment as pip
    does (unset or empty ones are left as written); a specifier with expanded text in it has ``span=None``.
    """

    name = "requirements"

    def find(self, root: Path, globs: Sequence[str]) -> list[Path]:
        return find_by_globs(root, globs)

    def parse(self, root: Path, paths: Sequence[Path]) -> ParsedManifests:
        walk = _Walk(root)
        for path in paths:
            walk.visit(path, ())
        return walk.result()


def parse_text(text: str, file: str) -> ParsedManifests:
    """Parse the text of one requirements file (``file`` names it in records); includes are not followed.

    Spans are offsets into ``text``; every dependency's section is ``requirements``, since only an
    including file can make this one a constraints file.
    """
    walk = _Walk(Path("."), follow_includes=False, label=file)
    walk.files.append(file)
    key = Path(file)
    for line in _logical_lines(text):
        walk.handle(key, line, (key,))
    return walk.result()


_HASH_OPTION_RE = re.compile(r"(?<!\S)--hash(?:=|[ \t]+)\S+")


def hash_option_spans(text: str, line: int) -> list[Span | None] | None:
    """Where each ``--hash`` option (``--hash=algo:hex``, the whole option) of the requirement whose
    logical line starts on ``line`` is written in ``text``; None when no logical line starts there.

    An option cut by a line continuation has no span (None in the list).
    """
    for logical in _logical_lines(text):
        if logical.number == line:
            _, options = _split_args_options(logical.text)
            start = len(logical.text) - len(options)  # options are the tail of the line
            return [logical.span(m.start(), m.end()) for m in _HASH_OPTION_RE.finditer(logical.text, start)]
    return None
