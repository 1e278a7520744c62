"""TOML helpers the manifest readers share: key paths, type names for messages, and where values are written."""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass
from typing import Any, Protocol, Union

KeyPath = tuple[Union[str, int], ...]
"""Where a value sits in a TOML document: table keys and array indexes, outermost first."""


class ProblemSink(Protocol):
    """Somewhere to record a problem found at a key path."""

    def problem(self, path: KeyPath, message: str) -> None:
        """Record a ``Problem`` at the line of ``path``, the message prefixed with the key path."""
        ...


def toml_kind(value: Any) -> str:
    """A TOML type name with its article, for messages (``an array``)."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array", dict: "a table"}
    return next((label for kind, label in names.items() if isinstance(value, kind)), "a date or time")


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


def child_table(parent: dict[str, Any], path: KeyPath, sink: ProblemSink) -> dict[str, Any] | None:
    """The table at the last key of ``path`` in ``parent``; a non-table is a problem there, and None."""
    value = parent.get(str(path[-1]))
    if value is None:
        return None
    if not isinstance(value, dict):
        sink.problem(path, f"expected a table, got {toml_kind(value)}")
        return None
    return value


def line_of(text: str, pos: int) -> int:
    """The 1-based line holding offset ``pos`` of ``text``."""
    return text.count("\n", 0, pos) + 1


# --------------------------------------------------------------------------- positions


@dataclass(frozen=True)
class Located:
    """Where a value is written: the line of its key (or array slot), and for a string its contents."""

    line: int
    content: tuple[int, int] | None = None  # [start, end) of a string literal's characters, quotes excluded


@dataclass(frozen=True)
class Positions:
    """Every value located in a document; ``complete`` is False when the scan stopped early (values after
    that point are missing, the ones found are right)."""

    values: dict[KeyPath, Located]
    complete: bool = True


def locate_values(text: str, start: int = 0) -> Positions:
    """Every value of a valid TOML document, by key path, with where it is written in ``text``.

    tomllib gives values but no positions; this walks the raw text once, in document order, following
    table headers, dotted keys, arrays and inline tables. It assumes the text parsed; should the walk
    and the parser still disagree, the walk stops there and says so rather than raise.
    """
    locator = _Locator(text)
    try:
        locator.run(start)
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return Positions(locator.found, complete=False)
    return Positions(locator.found)


class _Locator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.found: dict[KeyPath, Located] = {}
        self.table_arrays: dict[KeyPath, int] = {}

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def run(self, pos: int) -> None:
        table: KeyPath = ()
        while True:
            pos = self.skip_blank(pos, newlines=True)
            if pos >= len(self.text):
                return
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
                # TOML bare keys are ASCII letters, digits, "_" and "-" (str.isalnum would take more).
                while end < len(self.text) and (self.text[end].isascii() and self.text[end].isalnum()
                                                or self.text[end] in "_-"):
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
                if i >= len(text):
                    raise ValueError("unterminated string")
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
