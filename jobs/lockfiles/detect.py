"""Find the locked projects of a repository tree."""

from __future__ import annotations

import os
from pathlib import Path

from jobs.lockfiles.base import LockedProject, LockFormat
from jobs.lockfiles.piptools import PipToolsLock
from jobs.lockfiles.poetry import PoetryLock
from jobs.lockfiles.uv import UvLock

FORMATS: dict[str, LockFormat] = {"uv": UvLock(), "poetry": PoetryLock(), "pip-tools": PipToolsLock()}
_SKIP = {".git", ".hg", ".venv", "venv", "node_modules", ".tox", ".nox", "__pycache__", ".nightcrew", "build",
         "dist", "site-packages"}
MAX_DEPTH = 4


def get(kind: str) -> LockFormat:
    return FORMATS[kind]


def _files(root: Path) -> list[str]:
    found: list[str] = []
    base = len(root.parts)
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith(".") and len(here.parts) - base < MAX_DEPTH]
        rel = here.relative_to(root).as_posix()
        found.extend(name if rel == "." else f"{rel}/{name}" for name in names)
    return sorted(found)


def detect(root: Path, kinds: tuple[str, ...] = tuple(FORMATS), files: list[str] | None = None) -> list[LockedProject]:
    """The locked projects among ``files`` (the repository's, relative; default: a walk of ``root``)."""
    files = _files(root) if files is None else files
    projects: list[LockedProject] = []
    for kind in kinds:
        if kind in FORMATS:
            projects.extend(FORMATS[kind].detect(root, files))
    return projects
