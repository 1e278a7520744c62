"""Splice new version text into manifests byte-exactly, verify each edit by re-parsing, write atomically."""

from __future__ import annotations

import contextlib
import copy
import math
import os
import re
import shlex
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from jobs.errors import NightcrewError
from jobs.manifests import pyproject, requirements
from jobs.manifests.tomltext import KeyPath, Located, locate_values
from jobs.models import Dependency, FileEdit, Problem, Span, Update

_REQUIREMENTS_SECTIONS = ("requirements", "constraints")
_HASH_PREFIX_RE = re.compile(r"--hash(?:=|[ \t]+)")
_HASH_VALUE_RE = re.compile(r"(?:sha256|sha384|sha512):[0-9A-Fa-f]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is harmless, line breaks and the rest are not
_LAYOUT = " \t\r\n\\"  # what may sit between two --hash options: spaces and line continuations


class EditError(NightcrewError):
    """An update cannot be written into its manifest safely; nothing is written."""


@dataclass(frozen=True)
class _Splice:
    """Replace ``text[start:end]`` with ``new``; ``update`` says which update asked for it."""

    start: int
    end: int
    new: str
    update: Update
    hashes: bool = False  # the run of --hash options rather than the version text


def apply(root: Path, updates: Sequence[Update]) -> tuple[FileEdit, ...]:
    """The verified new text of every manifest the updates change (files in order of first update).

    Updates whose ``new_specifier`` is None change nothing; a file left unchanged yields no edit.
    Raises ``EditError`` (naming file:line) when any edit is unsafe; files are never written here.
    """
    by_file: dict[str, list[Update]] = {}
    for update in updates:
        if update.new_specifier is not None:
            by_file.setdefault(update.dependency.file, []).append(update)
    edits: list[FileEdit] = []
    for file, group in by_file.items():
        before = _read(root / file, file)
        after = edit_text(file, before, group)
        if after != before:
            edits.append(FileEdit(file, before, after))
    return tuple(edits)


def edit_text(file: str, text: str, updates: Sequence[Update]) -> str:
    """``text`` (the whole manifest ``file``) with every update spliced in and verified."""
    updates = [u for u in updates if u.new_specifier is not None]
    if not updates:
        return text
    kind = _kind(file, updates)
    toml = kind == "pyproject"
    splices = sorted((s for u in updates for s in _splices(text, u)), key=lambda s: (s.start, s.end))
    _check_overlaps(splices)
    if toml:
        _check_toml_strings(file, text, splices)
    after = _splice(text, splices)
    _check_outside(file, text, after, splices)
    if toml:
        _verify_toml_data(file, text, after, splices)
    _verify_parse(file, text, after, splices, updates, kind)
    return after


def write(root: Path, edits: Sequence[FileEdit]) -> None:
    """Write each edit's ``after`` atomically (temp file + ``os.replace``), keeping the file mode and CRLF.

    Refuses (``EditError``) a file whose text is no longer the edit's ``before``, or that resolves
    outside ``root``.
    """
    for edit in edits:
        _write_one(root, edit)


# --------------------------------------------------------------------------- splices


def _where(dep: Dependency) -> str:
    return f"{dep.file}:{dep.line}"


def _refuse(dep: Dependency, reason: str) -> EditError:
    return EditError(f"cannot edit: {reason}", _where(dep))


def _read(path: Path, file: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise EditError(f"cannot edit: cannot read file: {getattr(exc, 'strerror', None) or exc}", file) from None


def _format_of(dep) -> str:  # type: ignore[no-untyped-def]
    if dep.ecosystem != "python":
        return dep.ecosystem
    return "requirements" if dep.section in _REQUIREMENTS_SECTIONS else "pyproject"


def _kind(file: str, updates: Sequence[Update]) -> str:
    kinds = {_format_of(u.dependency) for u in updates}
    if len(kinds) > 1:
        raise EditError(f"cannot edit: updates mix formats ({', '.join(sorted(kinds))}) in one file", file)
    return kinds.pop()


def _splices(text: str, update: Update) -> list[_Splice]:
    dep, new = update.dependency, update.new_specifier
    assert new is not None  # filtered by the caller
    if dep.span is None:
        raise _refuse(dep, f"the version text of {dep.raw_name!r} has no known position "
                           "(split by a line continuation, written with escapes, or not a version)")
    if _CONTROL_RE.search(new):
        raise _refuse(dep, f"new version text {new!r} for {dep.raw_name!r} contains a control character")
    start, end = dep.span.start, dep.span.end
    if text[start:end] != dep.specifier:
        raise _refuse(dep, f"{dep.raw_name!r}: the file no longer has {dep.specifier!r} where it was parsed; "
                           "it changed since")
    if start == end:
        start = end = _insertion_point(text, start)
    splices = [_Splice(start, end, new, update)]
    if dep.section in _REQUIREMENTS_SECTIONS and dep.hashes:
        splices.append(_hash_splice(text, update))
    return splices


def _insertion_point(text: str, at: int) -> int:
    """An empty span moved back over spaces, so the new text sits right after the name/extras.

    Both parsers already put it there (``pep508.specifier_span``); this keeps a span placed after the
    spaces before a ``;`` from giving ``requests ==1.0; m``, valid but not how anyone writes it.
    """
    while at > 0 and text[at - 1] in " \t":
        at -= 1
    return at


def _hash_splice(text: str, update: Update) -> _Splice:
    """Replace the whole run of ``--hash`` options, reusing the layout between the first two."""
    dep = update.dependency
    if not update.hashes:
        raise _refuse(dep, f"{dep.raw_name!r} has --hash options; new hashes are needed")
    bad = [h for h in update.hashes if not _HASH_VALUE_RE.fullmatch(h)]
    if bad:
        raise _refuse(dep, f"invalid new hash {bad[0]!r} for {dep.raw_name!r} (expected sha256/sha384/sha512:<hex>)")
    spans = requirements.hash_option_spans(text, dep.line)
    if not spans or any(span is None for span in spans):
        raise _refuse(dep, f"the --hash options of {dep.raw_name!r} cannot be located")
    located = [span for span in spans if span is not None]
    options = [text[span.start:span.end] for span in located]
    prefix = _HASH_PREFIX_RE.match(options[0])
    assert prefix is not None  # the span was found by a pattern starting the same way
    if tuple(_hash_value(option) for option in options) != dep.hashes:
        raise _refuse(dep, f"the --hash options of {dep.raw_name!r} are not the ones it was parsed with")
    gaps = [text[a.end:b.start] for a, b in zip(located, located[1:])]
    if any(gap.strip(_LAYOUT) for gap in gaps):
        raise _refuse(dep, f"other options sit between the --hash options of {dep.raw_name!r}")
    sep = gaps[0] if gaps else _single_hash_sep(text, located[0].start)
    new = sep.join(prefix.group() + value for value in update.hashes)
    return _Splice(located[0].start, located[-1].end, new, update, hashes=True)


def _hash_value(option: str) -> str:
    words = shlex.split(option)  # a value may be quoted; pip reads it through shlex too
    return words[0].partition("=")[2] if len(words) == 1 else words[1]


def _single_hash_sep(text: str, start: int) -> str:
    """With one old hash: new hashes stay on its line, or each gets a continuation line like it had."""
    at = start
    while at > 0 and text[at - 1] in _LAYOUT:
        at -= 1
    before = text[at:start]
    return before if "\n" in before else " "


def _check_overlaps(splices: Sequence[_Splice]) -> None:
    for a, b in zip(splices, splices[1:]):
        if b.start < a.end or b.start == a.start:
            dep = b.update.dependency
            raise _refuse(dep, f"two updates change the same text ({a.update.dependency.raw_name!r}, {dep.raw_name!r})")


def _splice(text: str, splices: Sequence[_Splice]) -> str:
    # Back to front: each splice leaves the offsets of the ones before it valid.
    for s in reversed(splices):
        text = text[:s.start] + s.new + text[s.end:]
    return text


def _shift(splices: Sequence[_Splice], pos: int) -> int:
    """Where offset ``pos`` of the old text (not inside a splice) is in the new text."""
    return pos + sum(len(s.new) - (s.end - s.start) for s in splices if s.end <= pos and s.start < pos)


def _check_outside(file: str, before: str, after: str, splices: Sequence[_Splice]) -> None:
    """Belt and braces: every character outside the splices is where it was."""
    old, new = 0, 0
    for s in splices:
        length = s.start - old
        if before[old:s.start] != after[new:new + length]:
            raise EditError("cannot edit: text outside the edited versions changed", file)
        old, new = s.end, new + length + len(s.new)
    if before[old:] != after[new:]:
        raise EditError("cannot edit: text outside the edited versions changed", file)


# --------------------------------------------------------------------------- TOML checks


def _bom(text: str) -> int:
    return 1 if text.startswith("\ufeff") else 0


def _string_at(located: dict[KeyPath, Located], s: _Splice) -> tuple[KeyPath, int] | None:
    """The key path of the string literal holding the splice, and where its contents start."""
    for path, where in located.items():
        if where.content and where.content[0] <= s.start and s.end <= where.content[1]:
            return path, where.content[0]
    return None


def _quote(text: str, content_start: int) -> str:
    """The quote character of the string whose contents start at ``content_start``."""
    at = content_start
    if text[at - 1] not in "\"'":  # a multi-line string: its first line break is not content
        at -= 2 if text[at - 2:at] == "\r\n" else 1
    return text[at - 1]


def _check_toml_strings(file: str, text: str, splices: Sequence[_Splice]) -> None:
    located = locate_values(text, _bom(text)).values
    for s in splices:
        found = _string_at(located, s)
        dep = s.update.dependency
        if found is None:
            raise _refuse(dep, f"the version of {dep.raw_name!r} is not inside a TOML string")
        quote = _quote(text, found[1])
        forbidden = "\"\\" if quote == '"' else "'"
        if any(char in forbidden for char in s.new):
            kind = "basic" if quote == '"' else "literal"
            raise _refuse(dep, f"new version text {s.new!r} would need escaping in a TOML {kind} string")


def _verify_toml_data(file: str, before: str, after: str, splices: Sequence[_Splice]) -> None:
    """Both TOML parsers read the new text as the old data with only the spliced strings changed."""
    start = _bom(before)
    located = locate_values(before, start).values
    expected = copy.deepcopy(tomllib.loads(before[start:]))
    for s in reversed(splices):  # back to front, so splices in one string keep valid offsets
        found = _string_at(located, s)
        assert found is not None  # checked in _check_toml_strings
        path, content_start = found
        value = _get(expected, path)
        offset = s.start - content_start
        _set(expected, path, value[:offset] + s.new + value[offset + s.end - s.start:])
    parsers: tuple[tuple[str, Callable[[str], Any]], ...] = (
        ("tomllib", tomllib.loads), ("tomlkit", lambda t: tomlkit.parse(t).unwrap()))
    for name, parse in parsers:
        try:
            data = parse(after[start:])
        except Exception as exc:  # each parser has its own error types; any failure refuses the edit
            raise EditError(f"cannot edit: the edited file does not parse with {name}: {exc}", file) from None
        if _comparable(data) != _comparable(expected):
            raise EditError(f"cannot edit: {name} reads other data changed than the edited versions", file)


def _get(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: KeyPath, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _comparable(data: Any) -> Any:
    """``data`` with NaN floats made equal to each other, so a file holding ``nan`` still compares."""
    if isinstance(data, dict):
        return {key: _comparable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_comparable(value) for value in data]
    if isinstance(data, float) and math.isnan(data):
        return "nan"
    return data


# --------------------------------------------------------------------------- re-parse checks


def _parse(kind: str, text: str, file: str) -> tuple[tuple[Dependency, ...], tuple[Problem, ...]]:
    if kind == "actions":
        from jobs.manifests import actions

        result = actions.parse_text(text, file)
    elif kind == "pre-commit":
        from jobs.manifests import precommit

        result = precommit.parse_text(text, file)
    else:
        result = pyproject.parse_text(text, file) if kind == "pyproject" else requirements.parse_text(text, file)
    return result.dependencies, result.problems


def _verify_parse(file: str, before: str, after: str, splices: Sequence[_Splice],
                  updates: Sequence[Update], toml: bool | str) -> None:
    """The format's own parser reads the new text as the old, except the updated versions (and hashes)."""
    kind = toml if isinstance(toml, str) else ("pyproject" if toml else "requirements")
    old_deps, old_problems = _parse(kind, before, file)
    new_deps, new_problems = _parse(kind, after, file)
    if len(old_deps) != len(new_deps):
        raise EditError(f"cannot edit: the edited file has {len(new_deps)} dependencies, not {len(old_deps)}", file)
    if [p.message for p in old_problems] != [p.message for p in new_problems]:
        raise EditError("cannot edit: the edit changes the problems found in the file", file)
    updated = {_index(old_deps, u): u for u in updates}
    starts = {id(s.update): s.start for s in splices if not s.hashes}
    line_starts = [0] + [i + 1 for i, char in enumerate(before) if char == "\n"]
    for index, (old, new) in enumerate(zip(old_deps, new_deps)):
        line = _shifted_line(before, splices, line_starts, old.line)
        update = updated.get(index)
        if update is None:
            _check_unchanged(file, old, new, line, _shift(splices, old.span.start) if old.span else None)
        else:
            _check_updated(update, old, new, line, _shift(splices, starts[id(update)]))


def _index(deps: Sequence[Dependency], update: Update) -> int:
    dep = update.dependency
    for index, old in enumerate(deps):
        if (old.span, old.line, old.name) == (dep.span, dep.line, dep.name):
            return index
    raise _refuse(dep, f"{dep.raw_name!r} is not where it was at line {dep.line}; the file changed since it was parsed")


def _shifted_line(before: str, splices: Sequence[_Splice], line_starts: list[int], line: int) -> int:
    """The line number a line has after the splices above it added or removed line breaks."""
    at = line_starts[line - 1] if line <= len(line_starts) else len(before)
    return line + sum(s.new.count("\n") - before[s.start:s.end].count("\n") for s in splices if s.end <= at)


_SAME_FIELDS = ("name", "raw_name", "section", "extras", "marker")


def _check_unchanged(file: str, old: Dependency, new: Dependency, line: int, start: int | None) -> None:
    fields = (*_SAME_FIELDS, "specifier", "pep440", "hashes", "skipped_reason")
    changed = [f for f in fields if getattr(old, f) != getattr(new, f)]
    if new.line != line:
        changed.append("line")
    if (old.span is None) != (new.span is None) or (new.span and new.span.start != start):
        changed.append("span")
    if changed:
        raise EditError(f"cannot edit: the edit also changed {old.raw_name!r} ({', '.join(changed)})",
                        f"{file}:{old.line}")


def _check_updated(update: Update, old: Dependency, new: Dependency, line: int, start: int) -> None:
    dep = update.dependency
    changed = [f for f in _SAME_FIELDS if getattr(old, f) != getattr(new, f)]
    if new.line != line:
        changed.append("line")
    if changed:
        raise _refuse(dep, f"the edited {dep.raw_name!r} reads back with a different {', '.join(changed)}")
    if new.specifier != update.new_specifier:
        raise _refuse(dep, f"the edited {dep.raw_name!r} reads back as {new.specifier!r}, "
                           f"not {update.new_specifier!r}")
    if new.span is None or (new.specifier and new.span != Span(start, start + len(new.specifier))):
        raise _refuse(dep, f"the edited version of {dep.raw_name!r} is not where it was written")
    hashes = update.hashes if old.hashes else old.hashes
    if new.hashes != hashes:
        raise _refuse(dep, f"the edited {dep.raw_name!r} reads back with other hashes")
    _check_admits(update, new)


def _check_admits(update: Update, new: Dependency) -> None:
    dep, pep440 = update.dependency, new.pep440 if new.pep440 is not None else new.specifier
    try:
        admits = SpecifierSet(pep440).contains(update.new, prereleases=True)
    except InvalidSpecifier:
        admits = False
    if not admits:
        raise _refuse(dep, f"the new constraint {update.new_specifier!r} of {dep.raw_name!r} "
                           f"does not admit {update.new}")


# --------------------------------------------------------------------------- writing


def _write_one(root: Path, edit: FileEdit) -> None:
    # Write through a symlink (the link stays a link), but never outside the repository.
    target = Path(os.path.realpath(root / edit.file))
    if not target.is_relative_to(root.resolve()):
        raise EditError("cannot write: the file resolves outside the repository", edit.file)
    if _read(target, edit.file) != edit.before:
        raise EditError("cannot write: the file changed since the edit was made", edit.file)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise EditError(f"cannot write: {exc.strerror or exc}", edit.file) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:  # newline="": CRLF stays CRLF
            handle.write(edit.after)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise EditError(f"cannot write: {exc.strerror or exc}", edit.file) from None
        raise
