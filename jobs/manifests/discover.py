"""Find a repository's manifests anywhere in it, as Renovate does, but only the project's own.

The files are the repository's (``git ls-files --cached --others --exclude-standard``: what git tracks or would
track, nothing it ignores), or a walk of the tree where it is no git work tree (the exported base a run scans).
Left out: folders that are clearly not the project's own (test fixtures and data, vendored code, virtual
environments, ``node_modules``, build output, hidden folders other than ``.github``) and the configured
``[manifests] exclude`` globs. Requirements files are found by the usual names (``requirements*.txt``,
``*-requirements.txt``, ``requirements/*.txt``), and every ``pyproject.toml``; pip-compile sources (``*.in``)
are found by the lockfile detection next to their compiled file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

# Folder names whose contents are not the project's own manifests.
NOT_OWN = frozenset({
    "node_modules", "site-packages", "__pypackages__", "__pycache__", "venv", "virtualenv",
    "vendor", "vendored", "_vendor", "third_party", "third-party", "fixtures", "fixture", "testdata", "test_data",
    "test-data", "data", "resources", "cassettes", "snapshots", "build", "dist",
})
VISIBLE_DOT_FOLDERS = frozenset({".github", ".ci", ".circleci", ".gitlab"})


def not_own(path: str, root: Path | None = None) -> str | None:
    """Why ``path`` (relative, POSIX) is not one of the project's own manifests, or None."""
    parts = PurePosixPath(path).parts[:-1]
    for depth, part in enumerate(parts):
        if part.startswith(".") and part not in VISIBLE_DOT_FOLDERS:
            return f"in the hidden folder {part}/"
        if part.lower() in NOT_OWN:
            return f"in a {part}/ folder"
        if root is not None and (root.joinpath(*parts[:depth + 1]) / "pyvenv.cfg").is_file():
            return f"in the virtual environment {'/'.join(parts[:depth + 1])}/"
    return None


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether ``path`` matches one of the ``[manifests] exclude`` globs (``**`` crosses folders)."""
    return any(fnmatchcase(path, p) or fnmatchcase(path, p.replace("**/", "")) or PurePosixPath(path).match(p)
               for p in patterns)


def repository_files(root: Path) -> list[str]:
    """Every file of the repository (relative, POSIX), git-ignored ones left out."""
    try:
        proc = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    inside = proc is not None and proc.returncode == 0 and _is_top(root)
    if inside:
        assert proc is not None
        names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        return sorted(n for n in names if (root / n).is_file())
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        rel = here.relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if d != ".git" and not (here / d / "pyvenv.cfg").is_file()
                         and d not in NOT_OWN and (not d.startswith(".") or d in VISIBLE_DOT_FOLDERS))
        found.extend(name if rel == "." else f"{rel}/{name}" for name in names)
    return sorted(found)


def _is_top(root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=False)
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == root.resolve()


def is_requirements(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    folder = PurePosixPath(path).parent.name.lower()
    if not name.endswith(".txt"):
        return False
    return name.startswith("requirements") or name.endswith(("-requirements.txt", "_requirements.txt")) or \
        folder == "requirements"


def discover(root: Path, format_name: str, files: Sequence[str], exclude: Sequence[str] = ()) -> list[Path]:
    """The files of ``format_name`` among ``files`` that are the project's own."""
    if format_name == "requirements":
        wanted = [f for f in files if is_requirements(f)]
    elif format_name == "pyproject":
        wanted = [f for f in files if PurePosixPath(f).name == "pyproject.toml"]
    else:
        return []
    return [root / f for f in wanted if not_own(f, root) is None and not excluded(f, exclude)]
