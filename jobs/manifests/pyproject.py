"""The ``pyproject.toml`` format: PEP 621 ``[project]``, PEP 735 dependency groups, build-system, Poetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import tomllib

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from jobs import toml_errors
from jobs.manifests.base import find_by_globs, relative
from jobs.manifests.pep508 import first_line, link_reason, specifier_span
from jobs.manifests.poetry import parse_poetry
from jobs.manifests.tomltext import KeyPath, Located, child_table, key_path_text, line_of, locate_values, toml_kind
from jobs.models import Dependency, ParsedManifests, Problem, Span
from jobs.tools.redact import redact

DEFAULT_GLOBS = ("pyproject.toml",)
UNLOCATED = "could not locate values in the file; lines are approximate"


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
    positions = locate_values(text, start)
    doc = Document(file, text, positions.values)
    if not positions.complete:  # say so once, rather than give later values their table's line silently
        doc.problems.append(Problem(file, None, UNLOCATED))
    project = _project(data, doc)
    deps = [*project, *_dependency_groups(data, doc), *_build_system(data, doc)]
    poetry = parse_poetry(data, doc, listed={dep.name for dep in project})
    deps += poetry.dependencies
    requires_python = _project_requires_python(data, doc)
    if requires_python is None:
        requires_python = poetry.requires_python
    return FileResult(tuple(deps), tuple(doc.problems), requires_python)


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str, file: str) -> Problem:
    line, message = toml_errors.describe(exc, text)
    return Problem(file, line, f"invalid TOML: {message}")


# --------------------------------------------------------------------------- the document


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
        return 1  # nothing located: only after the scan stopped early, which parse_text reports

    def locate(self, path: KeyPath, value: str, offset: int, length: int) -> tuple[int, Span | None]:
        found = self.located.get(path)
        if found is None or found.content is None:
            return self.line(path), None
        start, end = found.content
        if self.text[start:end] != value:
            # Escapes or line continuations: the characters in the file are not the value's characters.
            return line_of(self.text, start), None
        return line_of(self.text, start + offset), Span(start + offset, start + offset + length)

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), f"{key_path_text(path)}: {message}"))


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
        doc.problem(path, f"invalid version specifier {value!r}: {first_line(exc)}")
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
    A requirement without a version gets an empty span where a specifier would be inserted. A URL
    requirement is reported with its reason, an empty specifier and ``pep440`` None.
    """
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        doc.problem(path, f"invalid requirement {redact(text)!r}: {first_line(exc)}")
        return None
    # Sections name keys as written, unquoted: "project.optional-dependencies.<extra>".
    section = ".".join(str(part) for part in (path[:-1] if isinstance(path[-1], int) else path))
    located = specifier_span(text, req)
    start, end = located or (0, 0)
    line, span = doc.locate(path, text, start, end - start)
    if located:
        specifier = text[start:end]
    else:  # a URL, or written so that the text is not found: the normalized form, and nowhere to edit
        specifier, span = ("" if req.url else str(req.specifier)), None
    return Dependency(
        name=canonicalize_name(req.name),
        raw_name=req.name,
        specifier=specifier,
        file=doc.file,
        line=line,
        section=section,
        span=span,
        pep440=None if req.url else str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker is not None else None,
        skipped_reason=link_reason(req.url) if req.url else None,
    )
