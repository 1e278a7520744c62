"""The one interface every manifest format implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from jobs.models import ParsedManifests


class ManifestFormat(Protocol):
    """A manifest format: find its files in a repository, parse them into ``Dependency`` records.

    ``parse`` never raises for bad input: a malformed line or an unreadable file becomes a ``Problem``
    (file, line, one-line message) and the other dependencies are still returned.
    File paths in the records are relative to ``root``, with forward slashes.
    """

    name: str

    def find(self, root: Path, globs: Sequence[str]) -> list[Path]: ...

    def parse(self, root: Path, paths: Sequence[Path]) -> ParsedManifests: ...


def find_by_globs(root: Path, globs: Sequence[str]) -> list[Path]:
    """Files under ``root`` matching any glob, sorted, each once."""
    found: set[Path] = set()
    for pattern in globs:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (absolute if outside ``root``)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
