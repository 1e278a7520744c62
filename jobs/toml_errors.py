"""Turn a tomllib decode error into (line, message) so every TOML error can name file:line."""

from __future__ import annotations

import re
import tomllib

_AT = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


def describe(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """The 1-based line of a TOML syntax error (None at end of document) and its message without position."""
    text = str(exc)
    line = getattr(exc, "lineno", None)  # Python 3.14+ carries it as an attribute
    found = _AT.search(text)
    if found:
        line = line or int(found.group(1))
        text = text[: found.start()]
    return line, text
