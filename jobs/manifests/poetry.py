"""Poetry's ``[tool.poetry]`` dependency tables, and Poetry's constraint syntax converted to PEP 440."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Any, Protocol, Sequence

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jobs.manifests.pep508 import DIRECT_URL, LOCAL_PATH, VCS, first_line
from jobs.manifests.tomltext import KeyPath, ProblemSink, child_table, toml_kind
from jobs.models import Dependency, Span

OR_UNSUPPORTED = "'||' constraints are not supported"
# The keys that make a dependency table point somewhere other than the index, and what that is.
_LINK_KEYS = (("git", VCS), ("path", LOCAL_PATH), ("file", LOCAL_PATH), ("develop", LOCAL_PATH), ("url", DIRECT_URL))

# Longest first, so ``~=`` is not read as ``~`` and ``>=`` not as ``>``.
_OPERATORS = ("~=", "==", "!=", "<=", ">=", "<", ">", "=", "^", "~")
_SEPARATORS = " \t,"
_PYTHON_MARKER_OPERATORS = (">=", ">", "<=", "<", "==", "!=")


class PoetryConstraintError(ValueError):
    """A Poetry constraint that cannot be written as a PEP 440 specifier."""


class UnsupportedConstraint(PoetryConstraintError):
    """A valid Poetry constraint PEP 440 cannot express (``||`` alternatives)."""


class PoetryDocument(ProblemSink, Protocol):
    """What the Poetry reader needs from a parsed ``pyproject.toml``: positions and a problem sink."""

    file: str

    def line(self, path: KeyPath) -> int:
        """The 1-based line where the value at ``path`` (or its nearest located ancestor) is written."""
        ...

    def locate(self, path: KeyPath, value: str, offset: int, length: int) -> tuple[int, Span | None]:
        """Line and span of ``value[offset:offset + length]`` inside the string literal at ``path``."""
        ...


@dataclass(frozen=True)
class PoetryResult:
    """What the Poetry tables of one file hold."""

    dependencies: tuple[Dependency, ...] = ()
    requires_python: str | None = None


# --------------------------------------------------------------------------- constraint conversion


def to_pep440(constraint: str) -> str:
    """Convert a Poetry version constraint to a PEP 440 specifier string ("" means any version).

    The rules are Poetry's "Dependency specification" page
    (https://python-poetry.org/docs/dependency-specification/#version-constraints):

    * Caret: "An update is allowed if the new version number does not modify the left-most non-zero
      digit in the major, minor, patch grouping": ``^1.2.3`` → ``>=1.2.3,<2.0.0``, ``^1.2`` → ``>=1.2,<2.0``,
      ``^1`` → ``>=1,<2``, ``^0.2.3`` → ``>=0.2.3,<0.3.0``, ``^0.0.3`` → ``>=0.0.3,<0.0.4``,
      ``^0.0`` → ``>=0.0,<0.1``, ``^0`` → ``>=0,<1``. The upper bound keeps the precision written
      (Poetry's docs pad both bounds to three parts; the two forms select the same versions).
    * Tilde: "If you specify a major, minor, and patch version or only a major and minor version, only
      patch-level changes are allowed. If you only specify a major version, then minor- and patch-level
      changes are allowed": ``~1.2.3`` → ``>=1.2.3,<1.3.0``, ``~1.2`` → ``>=1.2,<1.3``, ``~1`` → ``>=1,<2``.
      ``~=`` is PEP 440's compatible-release operator already and is kept.
    * Wildcard: ``*`` → any version (""), ``1.2.*`` → ``==1.2.*``.
    * Inequalities (``>=``, ``>``, ``<``, ``<=``, ``!=``), separated by commas or spaces
      ("``>= 1.2, < 1.5``"), are kept with the spaces removed and joined by commas.
    * Exact: ``1.2.3`` and ``==1.2.3`` → ``==1.2.3`` (Poetry also reads a single ``=`` as ``==``).
    * ``||`` (or ``|``) alternatives have no PEP 440 form: ``UnsupportedConstraint``.

    Raises ``PoetryConstraintError`` when the text is not a constraint, or converts to an invalid
    PEP 440 specifier (each result is checked with ``SpecifierSet``).
    """
    if "|" in constraint:
        raise UnsupportedConstraint(OR_UNSUPPORTED)
    parts = [_convert_atom(operator, version) for operator, version in _atoms(constraint)]
    pep440 = ",".join(part for part in parts if part)
    try:
        SpecifierSet(pep440)
    except InvalidSpecifier as exc:
        raise PoetryConstraintError(f"invalid version constraint {constraint!r}: {first_line(exc)}") from None
    return pep440


def _atoms(constraint: str) -> list[tuple[str, str]]:
    """Split a constraint into (operator, version) pairs; spaces may sit between operator and version."""
    atoms: list[tuple[str, str]] = []
    i, n = 0, len(constraint)
    while True:
        while i < n and constraint[i] in _SEPARATORS:
            i += 1
        if i >= n:
            return atoms
        operator = next((op for op in _OPERATORS if constraint.startswith(op, i)), "")
        i += len(operator)
        while i < n and constraint[i] in " \t":
            i += 1
        start = i
        while i < n and constraint[i] not in _SEPARATORS:
            i += 1
        if start == i:
            raise PoetryConstraintError(f"invalid version constraint {constraint!r}: operator without a version")
        atoms.append((operator, constraint[start:i]))


def _convert_atom(operator: str, version: str) -> str:
    if operator == "^":
        return _bounded(version, _caret_upper)
    if operator == "~":
        return _bounded(version, _tilde_upper)
    if operator == "=":
        operator = "=="
    if not operator:
        if version == "*":
            return ""
        operator = "=="
    return f"{operator}{version}"


def _bounded(version: str, upper: Any) -> str:
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise PoetryConstraintError(f"invalid version {version!r}") from None
    return f">={version},<{upper(parsed)}"


def _caret_upper(version: Version) -> str:
    release = list(version.release)
    # Bump the left-most non-zero part; when all parts are zero, bump the last one written.
    index = next((i for i, part in enumerate(release) if part != 0), len(release) - 1)
    return _bump(version, release, index)


def _tilde_upper(version: Version) -> str:
    release = list(version.release)
    return _bump(version, release, 0 if len(release) == 1 else 1)


def _bump(version: Version, release: list[int], index: int) -> str:
    bumped = release[:index] + [release[index] + 1] + [0] * (len(release) - index - 1)
    epoch = f"{version.epoch}!" if version.epoch else ""
    return epoch + ".".join(str(part) for part in bumped)


def python_marker(constraint: str) -> str | None:
    """A marker for a dependency's ``python`` key, or None when the constraint is not simple.

    Simple means every converted clause is an inequality or exact match on a plain release number
    (``^3.8`` → ``python_version >= "3.8" and python_version < "4.0"``). Versions with three or more
    parts compare against ``python_full_version``. Anything else (``||``, wildcards, ``~=``,
    pre-releases) returns None, and the caller keeps only the ``markers`` key: an approximate
    marker would be worse than none, because the marker decides whether the dependency applies.
    """
    try:
        pep440 = to_pep440(constraint)
    except PoetryConstraintError:
        return None
    clauses: list[str] = []
    for text in pep440.split(",") if pep440 else ():
        spec = Specifier(text)
        if spec.operator not in _PYTHON_MARKER_OPERATORS or spec.version.endswith(".*"):
            return None
        version = Version(spec.version)
        if version.is_prerelease or version.is_postrelease or version.local or version.epoch:
            return None
        variable = "python_version" if len(version.release) <= 2 else "python_full_version"
        clauses.append(f'{variable} {spec.operator} "{spec.version}"')
    return " and ".join(clauses) or None


# --------------------------------------------------------------------------- tables


def parse_poetry(data: dict[str, Any], doc: PoetryDocument, listed: AbstractSet[str] = frozenset()) -> PoetryResult:
    """Read ``[tool.poetry.dependencies]``, ``[tool.poetry.dev-dependencies]`` and every
    ``[tool.poetry.group.<g>.dependencies]`` of one parsed ``pyproject.toml``.

    The ``python`` key of the main table becomes ``requires_python`` (PEP 440), not a dependency.
    ``listed`` holds the normalized names ``[project]`` declares: Poetry 2 lets the main table add only
    details to those (``requests = {source = "private"}``), and such an entry is no second dependency.
    """
    poetry = data.get("tool", {}).get("poetry") if isinstance(data.get("tool"), dict) else None
    if poetry is None:
        return PoetryResult()
    base: KeyPath = ("tool", "poetry")
    if not isinstance(poetry, dict):
        doc.problem(base, f"expected a table, got {toml_kind(poetry)}")
        return PoetryResult()
    deps: list[Dependency] = []
    requires_python = None
    main = child_table(poetry, base + ("dependencies",), doc)
    if main is not None:
        requires_python = _requires_python(main, base + ("dependencies",), doc)
        deps += _read_table(main, base + ("dependencies",), doc, skip=("python",), listed=listed)
    dev = child_table(poetry, base + ("dev-dependencies",), doc)
    if dev is not None:
        deps += _read_table(dev, base + ("dev-dependencies",), doc)
    groups = child_table(poetry, base + ("group",), doc)
    for group_name, group in (groups or {}).items():
        group_path = base + ("group", group_name)
        if not isinstance(group, dict):
            doc.problem(group_path, f"expected a table, got {toml_kind(group)}")
            continue
        table = child_table(group, group_path + ("dependencies",), doc)
        if table is not None:
            deps += _read_table(table, group_path + ("dependencies",), doc)
    return PoetryResult(tuple(deps), requires_python)


def _requires_python(table: dict[str, Any], path: KeyPath, doc: PoetryDocument) -> str | None:
    value = table.get("python")
    if value is None:
        return None
    if not isinstance(value, str):
        doc.problem(path + ("python",), f"expected a string, got {toml_kind(value)}")
        return None
    try:
        return to_pep440(value)
    except PoetryConstraintError as exc:
        doc.problem(path + ("python",), str(exc))
        return None


def _read_table(
    table: dict[str, Any], path: KeyPath, doc: PoetryDocument, skip: Sequence[str] = (),
    listed: AbstractSet[str] = frozenset(),
) -> list[Dependency]:
    section = ".".join(str(part) for part in path)
    deps: list[Dependency] = []
    for raw_name, value in table.items():
        if raw_name in skip:
            continue
        entry = _Entry(raw_name, section, path + (raw_name,), doc, canonicalize_name(raw_name) in listed)
        if isinstance(value, list):
            # A multiple-constraints dependency: one Dependency per constraint table.
            for index, item in enumerate(value):
                deps += entry.at(index).read(item)
        else:
            deps += entry.read(value)
    return deps


@dataclass(frozen=True)
class _Entry:
    """One dependency value in a Poetry table, and where it is written."""

    raw_name: str
    section: str
    path: KeyPath
    doc: PoetryDocument
    in_project: bool = False  # [project] declares this package; a table without a version only adds details

    def at(self, index: int) -> _Entry:
        return _Entry(self.raw_name, self.section, self.path + (index,), self.doc, self.in_project)

    def read(self, value: Any) -> list[Dependency]:
        if isinstance(value, str):
            return self._from_constraint(value, self.path, extras=(), marker=None)
        if isinstance(value, dict):
            return self._from_table(value)
        self.doc.problem(self.path, f"expected a version string or a table, got {toml_kind(value)}")
        return []

    def _from_table(self, table: dict[str, Any]) -> list[Dependency]:
        extras = self._extras(table.get("extras"))
        marker = self._marker(table)
        if extras is None or marker is False:
            return []
        for key, reason in _LINK_KEYS:
            if key in table:
                return [self._dependency("", self.doc.line(self.path), None, None, extras, marker, reason)]
        version = table.get("version")
        if version is None:
            # Poetry reads a missing version as "*": documented for Poetry 2 tables that only add a source
            # or allow pre-releases. For a package [project] declares, that declaration is the dependency.
            if self.in_project:
                return []
            return [self._dependency("", self.doc.line(self.path), None, "", extras, marker, None)]
        if not isinstance(version, str):
            self.doc.problem(self.path, f"'version' is {toml_kind(version)}; expected a version string "
                                        "or a git, path or url key")
            return []
        return self._from_constraint(version, self.path + ("version",), extras, marker)

    def _from_constraint(
        self, text: str, path: KeyPath, extras: tuple[str, ...], marker: str | None
    ) -> list[Dependency]:
        written = text.strip()
        line, span = self.doc.locate(path, text, len(text) - len(text.lstrip()), len(written))
        try:
            pep440: str | None = to_pep440(written)
            reason = None
        except UnsupportedConstraint as exc:
            pep440, reason = None, str(exc)
        except PoetryConstraintError as exc:
            self.doc.problem(path, str(exc))
            return []
        return [self._dependency(written, line, span, pep440, extras, marker, reason)]

    def _dependency(
        self,
        specifier: str,
        line: int,
        span: Span | None,
        pep440: str | None,
        extras: tuple[str, ...],
        marker: str | None,
        skipped_reason: str | None,
    ) -> Dependency:
        return Dependency(
            name=canonicalize_name(self.raw_name),
            raw_name=self.raw_name,
            specifier=specifier,
            file=self.doc.file,
            line=line,
            section=self.section,
            span=span,
            pep440=pep440,
            extras=extras,
            marker=marker,
            skipped_reason=skipped_reason,
        )

    def _extras(self, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.doc.problem(self.path + ("extras",), "expected an array of strings")
            return None
        return tuple(sorted(value))

    def _marker(self, table: dict[str, Any]) -> str | None | bool:
        """The combined marker text, None for no marker, False after recording a problem."""
        markers, python = table.get("markers"), table.get("python")
        for key, value in (("markers", markers), ("python", python)):
            if value is not None and not isinstance(value, str):
                self.doc.problem(self.path + (key,), f"expected a string, got {toml_kind(value)}")
                return False
        clauses = []
        if markers and markers.strip():
            clauses.append(markers.strip())
        python_clause = python_marker(python) if python else None
        if python_clause:
            clauses.append(python_clause)
        if not clauses:
            return None
        text = " and ".join(f"({clause})" for clause in clauses) if len(clauses) > 1 else clauses[0]
        try:
            return str(Marker(text))
        except InvalidMarker as exc:
            self.doc.problem(self.path + ("markers",), f"invalid marker {markers!r}: {first_line(exc)}")
            return False

