"""Turn a tomllib decode error into (line, message) so every TOML error can name file:line."""

from __future__ import annotations

import re
import tomllib

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_AT_END = re.compile(r"\s*\(at end of document\)")


def describe(exc: tomllib.TOMLDecodeError, text: str | None = None) -> tuple[int | None, str]:
    """The 1-based line of a TOML syntax error and its message, the position moved out of the text.

    An error "at end of document" is put on the last line of ``text`` when the text is given.
    """
    message = str(exc)
    line = getattr(exc, "lineno", None)  # Python 3.14+ carries it as an attribute
    found = _AT.search(message)
    if found:
        line = line or int(found.group(1))
        message = _AT.sub(f" (column {found.group(2)})", message, count=1)
    elif _AT_END.search(message):
        if text is not None:
            line = line or text.count("\n") + (0 if text.endswith("\n") else 1)
        message = _AT_END.sub(" at end of file", message, count=1)
    return line, message
