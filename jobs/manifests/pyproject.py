"""The ``pyproject.toml`` format: PEP 621 ``[project]``, PEP 735 dependency groups, build-system, Poetry."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import tomllib

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from jobs import toml_errors
from jobs.manifests.base import find_by_globs, relative
from jobs.manifests.poetry import DIRECT_URL, LOCAL_PATH, VCS, KeyPath, child_table, parse_poetry, toml_kind
from jobs.models import Dependency, ParsedManifests, Problem, Span

DEFAULT_GLOBS = ("pyproject.toml",)

_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")


class PyprojectFormat:
    """``pyproject.toml`` files: every requirement in PEP 621, PEP 735, build-system and Poetry tables."""

    name = "pyproject"

    def find(self, root: Path, globs: Sequence[str]) -> list[Path]:
        return find_by_globs(root, globs or DEFAULT_GLOBS)

    def parse(self, root: Path, paths: Sequence[Path]) -> ParsedManifests:
        """Parse each file; a file that cannot be read or parsed becomes a ``Problem``, the rest still count.

        ``requires_python`` comes from the shallowest file that states one (the repository's root
        project rather than a nested package), ties broken by path order.
        """
        files: list[str] = []
        deps: list[Dependency] = []
        problems: list[Problem] = []
        pythons: list[tuple[int, str, str]] = []
        for path in paths:
            file = relative(root, path)
            files.append(file)
            result = parse_file(path, file)
            deps += result.dependencies
            problems += result.problems
            if result.requires_python is not None:
                pythons.append((file.count("/"), file, result.requires_python))
        return ParsedManifests(
            files=tuple(files),
            dependencies=tuple(deps),
            problems=tuple(problems),
            requires_python=min(pythons)[2] if pythons else None,
        )


@dataclass(frozen=True)
class FileResult:
    """What one ``pyproject.toml`` holds."""

    dependencies: tuple[Dependency, ...] = ()
    problems: tuple[Problem, ...] = ()
    requires_python: str | None = None


def parse_file(path: Path, file: str) -> FileResult:
    """Parse one ``pyproject.toml`` (``file`` is the name used in records). Never raises for bad input."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(problems=(Problem(file, None, f"cannot read file: {exc}"),))
    return parse_text(text, file)


def parse_text(text: str, file: str) -> FileResult:
    """Parse the text of one ``pyproject.toml``; offsets in spans are into ``text``."""
    # A UTF-8 byte-order mark is not TOML, but editors write one; skip it, keep offsets into ``text``.
    start = 1 if text.startswith("\ufeff") else 0
    try:
        data = tomllib.loads(text[start:])
    except tomllib.TOMLDecodeError as exc:
        return FileResult(problems=(_toml_problem(exc, text, file),))
    doc = Document(file, text, locate_values(text, start))
    deps = [*_project(data, doc), *_dependency_groups(data, doc), *_build_system(data, doc)]
    poetry = parse_poetry(data, doc)
    deps += poetry.dependencies
    requires_python = _project_requires_python(data, doc)
    if requires_python is None:
        requires_python = poetry.requires_python
    return FileResult(tuple(deps), tuple(doc.problems), requires_python)


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str, file: str) -> Problem:
    line, message = toml_errors.describe(exc, text)
    return Problem(file, line, f"invalid TOML: {message}")


# --------------------------------------------------------------------------- positions


@dataclass(frozen=True)
class Located:
    """Where a value is written: the line of its key (or array slot), and for a string its contents."""

    line: int
    content: tuple[int, int] | None = None  # [start, end) of a string literal's characters, quotes excluded


def locate_values(text: str, start: int = 0) -> dict[KeyPath, Located]:
    """Every value of a valid TOML document, by key path, with where it is written in ``text``.

    tomllib gives values but no positions; this walks the raw text once, in document order,
    following table headers, dotted keys, arrays and inline tables. It assumes the text parsed.
    """
    try:
        return _Locator(text).run(start)
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        # The walk disagreed with the parser; lines fall back to 1 and spans to None, never a crash.
        return {}


class _Locator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.found: dict[KeyPath, Located] = {}
        self.table_arrays: dict[KeyPath, int] = {}

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def run(self, pos: int) -> dict[KeyPath, Located]:
        table: KeyPath = ()
        while True:
            pos = self.skip_blank(pos, newlines=True)
            if pos >= len(self.text):
                return self.found
            if self.text.startswith("[[", pos):
                table, pos = self.header(pos + 2, "]]", array=True)
            elif self.text[pos] == "[":
                table, pos = self.header(pos + 1, "]", array=False)
            else:
                pos = self.key_value(pos, table)

    def header(self, pos: int, close: str, array: bool) -> tuple[KeyPath, int]:
        line = self.line_at(pos)
        keys, pos = self.key(pos)
        path: KeyPath = ()
        for key in keys[:-1]:
            path += (key,)
            if path in self.table_arrays:
                # ``[a.b]`` after ``[[a]]`` belongs to the latest element of the array ``a``.
                path += (self.table_arrays[path],)
        path += (keys[-1],)
        if array:
            index = self.table_arrays.get(path, -1) + 1
            self.table_arrays[path] = index
            path += (index,)
        self.found.setdefault(path, Located(line))
        pos = self.skip_blank(pos)
        if not self.text.startswith(close, pos):
            raise ValueError("unclosed table header")
        return path, pos + len(close)

    def key_value(self, pos: int, table: KeyPath) -> int:
        line = self.line_at(pos)
        keys, pos = self.key(pos)
        pos = self.skip_blank(pos)
        if self.text[pos] != "=":
            raise ValueError("expected '='")
        return self.value(self.skip_blank(pos + 1), table + tuple(keys), line)

    def key(self, pos: int) -> tuple[list[str], int]:
        keys: list[str] = []
        while True:
            pos = self.skip_blank(pos)
            char = self.text[pos]
            if char in "\"'":
                end, _ = self.string_end(pos, char)
                keys.append(next(iter(tomllib.loads(self.text[pos:end] + " = 0"))))
                pos = end
            else:
                end = pos
                while end < len(self.text) and (self.text[end].isalnum() or self.text[end] in "_-"):
                    end += 1
                if end == pos:
                    raise ValueError("expected a key")
                keys.append(self.text[pos:end])
                pos = end
            pos = self.skip_blank(pos)
            if pos >= len(self.text) or self.text[pos] != ".":
                return keys, pos
            pos += 1

    def value(self, pos: int, path: KeyPath, line: int) -> int:
        char = self.text[pos]
        if char in "\"'":
            end, delimiter = self.string_end(pos, char)
            self.found[path] = Located(line, self.string_content(pos, end, delimiter))
            return end
        self.found[path] = Located(line)
        if char == "[":
            return self.array(pos + 1, path)
        if char == "{":
            return self.inline_table(pos + 1, path)
        end = pos
        while end < len(self.text) and self.text[end] not in ",]}#\r\n":
            end += 1
        return end

    def array(self, pos: int, path: KeyPath) -> int:
        index = 0
        while True:
            pos = self.skip_blank(pos, newlines=True)
            if self.text[pos] == "]":
                return pos + 1
            pos = self.value(pos, path + (index,), self.line_at(pos))
            index += 1
            pos = self.skip_blank(pos, newlines=True)
            if self.text[pos] == ",":
                pos += 1

    def inline_table(self, pos: int, path: KeyPath) -> int:
        while True:
            pos = self.skip_blank(pos, newlines=True)
            if self.text[pos] == "}":
                return pos + 1
            pos = self.key_value(pos, path)
            pos = self.skip_blank(pos, newlines=True)
            if self.text[pos] == ",":
                pos += 1

    def string_end(self, pos: int, quote: str) -> tuple[int, int]:
        """The position just past the string literal that starts at ``pos``, and its delimiter length."""
        text = self.text
        if text.startswith(quote * 3, pos):
            i = pos + 3
            while not text.startswith(quote * 3, i):
                i += 2 if quote == '"' and text[i] == "\\" else 1
            # Up to two quotes right before the closing three belong to the content.
            for _ in range(2):
                if text.startswith(quote * 4, i):
                    i += 1
            return i + 3, 3
        i = pos + 1
        while text[i] != quote:
            i += 2 if quote == '"' and text[i] == "\\" else 1
        return i + 1, 1

    def string_content(self, start: int, end: int, delimiter: int) -> tuple[int, int]:
        first, last = start + delimiter, end - delimiter
        # A newline right after the opening delimiter of a multi-line string is not content.
        if delimiter == 3:
            if self.text.startswith("\r\n", first):
                first += 2
            elif self.text.startswith("\n", first):
                first += 1
        return first, last

    def skip_blank(self, pos: int, newlines: bool = False) -> int:
        text, blank = self.text, " \t\r\n" if newlines else " \t"
        while pos < len(text):
            if text[pos] in blank:
                pos += 1
            elif text[pos] == "#" and newlines:
                while pos < len(text) and text[pos] != "\n":
                    pos += 1
            else:
                return pos
        return pos


@dataclass
class Document:
    """One parsed ``pyproject.toml``: its name, text, value positions, and the problems found in it."""

    file: str
    text: str
    located: dict[KeyPath, Located]
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: KeyPath) -> int:
        for end in range(len(path), 0, -1):
            if path[:end] in self.located:
                return self.located[path[:end]].line
        return 1

    def locate(self, path: KeyPath, value: str, offset: int, length: int) -> tuple[int, Span | None]:
        found = self.located.get(path)
        if found is None or found.content is None:
            return self.line(path), None
        start, end = found.content
        if self.text[start:end] != value:
            # Escapes or line continuations: the characters in the file are not the value's characters.
            return _line_of(self.text, start), None
        return _line_of(self.text, start + offset), Span(start + offset, start + offset + length)

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), f"{key_path_text(path)}: {message}"))


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def key_path_text(path: KeyPath) -> str:
    """``project.dependencies[2]``; keys that are not bare TOML keys are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{key}" if out else key
    return out


# --------------------------------------------------------------------------- PEP 621 / PEP 735 / build-system


def _project(data: dict[str, Any], doc: Document) -> list[Dependency]:
    project = child_table(data, ("project",), doc)
    if project is None:
        return []
    deps = _requirement_array(project.get("dependencies"), ("project", "dependencies"), doc)
    extras = child_table(project, ("project", "optional-dependencies"), doc) or {}
    for extra, requirements in extras.items():
        deps += _requirement_array(requirements, ("project", "optional-dependencies", extra), doc)
    return deps


def _project_requires_python(data: dict[str, Any], doc: Document) -> str | None:
    project = data.get("project")
    value = project.get("requires-python") if isinstance(project, dict) else None
    if value is None:
        return None
    path: KeyPath = ("project", "requires-python")
    if not isinstance(value, str):
        doc.problem(path, f"expected a string, got {toml_kind(value)}")
        return None
    try:
        SpecifierSet(value)
    except InvalidSpecifier as exc:
        doc.problem(path, f"invalid version specifier {value!r}: {exc}")
        return None
    return value.strip()


def _build_system(data: dict[str, Any], doc: Document) -> list[Dependency]:
    build = child_table(data, ("build-system",), doc)
    if build is None:
        return []
    return _requirement_array(build.get("requires"), ("build-system", "requires"), doc)


def _dependency_groups(data: dict[str, Any], doc: Document) -> list[Dependency]:
    """PEP 735 groups. ``{include-group = ...}`` is checked, never expanded: each requirement is
    reported once, in the group where it is written."""
    groups = child_table(data, ("dependency-groups",), doc)
    if groups is None:
        return []
    by_name = {canonicalize_name(name): name for name in groups}
    includes: dict[str, list[tuple[KeyPath, str]]] = {}
    deps: list[Dependency] = []
    for group, entries in groups.items():
        path: KeyPath = ("dependency-groups", group)
        if not isinstance(entries, list):
            doc.problem(path, f"expected an array, got {toml_kind(entries)}")
            continue
        edges = includes.setdefault(canonicalize_name(group), [])
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                target = _include(entry, path + (index,), by_name, doc)
                if target is not None:
                    edges.append((path + (index,), target))
            else:
                deps += _requirement_entry(entry, path + (index,), doc)
    _report_cycles(includes, by_name, doc)
    return deps


def _include(entry: dict[str, Any], path: KeyPath, by_name: dict[str, str], doc: Document) -> str | None:
    target = entry.get("include-group")
    if set(entry) != {"include-group"} or not isinstance(target, str):
        doc.problem(path, "expected a requirement string or {include-group = \"<group>\"}")
        return None
    if canonicalize_name(target) not in by_name:
        doc.problem(path, f"include-group {target!r} names no group in [dependency-groups]")
        return None
    return canonicalize_name(target)


def _report_cycles(includes: dict[str, list[tuple[KeyPath, str]]], by_name: dict[str, str], doc: Document) -> None:
    """One problem per include that closes a cycle, naming the groups around it."""
    done: set[str] = set()
    reported: set[KeyPath] = set()

    def visit(group: str, stack: list[str]) -> None:
        stack.append(group)
        for where, target in includes.get(group, []):
            if target in stack:
                if where not in reported:
                    reported.add(where)
                    cycle = " -> ".join(by_name[name] for name in stack[stack.index(target) :] + [target])
                    doc.problem(where, f"include-group cycle: {cycle}")
            elif target not in done:
                visit(target, stack)
        stack.pop()
        done.add(group)

    for group in includes:
        if group not in done:
            visit(group, [])


def _requirement_array(value: Any, path: KeyPath, doc: Document) -> list[Dependency]:
    if value is None:
        return []
    if not isinstance(value, list):
        doc.problem(path, f"expected an array of requirement strings, got {toml_kind(value)}")
        return []
    deps: list[Dependency] = []
    for index, entry in enumerate(value):
        deps += _requirement_entry(entry, path + (index,), doc)
    return deps


def _requirement_entry(entry: Any, path: KeyPath, doc: Document) -> list[Dependency]:
    if not isinstance(entry, str):
        doc.problem(path, f"expected a requirement string, got {toml_kind(entry)}")
        return []
    dep = requirement(entry, path, doc)
    return [dep] if dep is not None else []


def requirement(text: str, path: KeyPath, doc: Document) -> Dependency | None:
    """A PEP 508 string at ``path`` as a ``Dependency`` (None, and a problem, when it does not parse).

    The section is the key path without the array index (``project.optional-dependencies.test``).
    A requirement without a version gets an empty span where a specifier would be inserted.
    """
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        doc.problem(path, f"invalid requirement {text!r}: {exc}")
        return None
    # Sections name keys as written, unquoted: "project.optional-dependencies.<extra>".
    section = ".".join(str(part) for part in (path[:-1] if isinstance(path[-1], int) else path))
    specifier, offset = _written_specifier(text, req)
    line, span = doc.locate(path, text, offset or 0, len(specifier))
    if offset is None:
        span = None
    return Dependency(
        name=canonicalize_name(req.name),
        raw_name=req.name,
        specifier=specifier,
        file=doc.file,
        line=line,
        section=section,
        span=span,
        pep440=str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker is not None else None,
        skipped_reason=_url_reason(req.url) if req.url else None,
    )


def _written_specifier(text: str, req: Requirement) -> tuple[str, int | None]:
    """The version part of a PEP 508 string as written, and its offset in ``text``.

    ``Requirement`` parsed the string; this only finds the characters it read as the specifier:
    they sit after the name and ``[extras]`` and before ``;``. The result is checked against the
    parsed specifier, and falls back to the normalized form (offset None) if they disagree.
    """
    if req.url:
        return "", None
    start = text.index(req.name) + len(req.name)
    rest = text[start:]
    stripped = rest.lstrip()
    if stripped.startswith("["):
        start += len(rest) - len(stripped) + stripped.index("]") + 1
    end = text.find(";", start)
    end = len(text) if end == -1 else end
    region = text[start:end]
    start += len(region) - len(region.lstrip())
    written = region.strip()
    if written.startswith("(") and written.endswith(")"):
        inner = written[1:-1]
        start += 1 + len(inner) - len(inner.lstrip())
        written = inner.strip()
    try:
        same = SpecifierSet(written) == req.specifier
    except InvalidSpecifier:
        same = False
    return (written, start) if same else (str(req.specifier), None)


def _url_reason(url: str) -> str:
    if url.startswith(_VCS_SCHEMES):
        return VCS
    if url.startswith("file:"):
        return LOCAL_PATH
    return DIRECT_URL
