"""Find a repository's manifests anywhere in it, as Renovate does, but only the project's own.

The files are the repository's (``git ls-files --cached --others --exclude-standard``: what git tracks or would
track, nothing it ignores), or a walk of the tree where it is no git work tree (the exported base a run scans).
Left out: folders that are clearly not the project's own (test fixtures and data, templates, vendored code,
virtual environments, ``node_modules``, hidden caches), test input (a manifest in a subfolder of ``tests/``
that no tox, nox, CI or docs configuration names), ``.txt`` files whose lines are no requirements, and the
configured ``[manifests] exclude`` globs. Requirements and constraints files are found by the usual names
(``requirements*.txt``, ``*-requirements.txt``, ``constraints*.txt``, any ``.txt`` below ``requirements/``),
and every ``pyproject.toml``; pip-compile sources (``*.in``) are found by the lockfile detection next to their
compiled file. The rules were checked against the file listings of 23 well-known Python repositories.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

# Folder names whose contents are not the project's own manifests (build output is left to .gitignore).
NOT_OWN = frozenset({
    "node_modules", "site-packages", "__pypackages__", "__pycache__", "venv", "virtualenv",
    "vendor", "vendored", "_vendor", "third_party", "third-party", "fixtures", "fixture", "testdata", "test_data",
    "test-data", "data", "resources", "cassettes", "snapshots", "test_artifacts", "sample_data", "corpus",
    "template", "templates", "skeleton", "skeletons", "cookiecutter",
})
# Hidden folders that hold caches or environments; other committed hidden folders (.github, .travis, .ci ...) are
# deliberate configuration and are read.
HIDDEN_NOT_OWN = frozenset({".git", ".hg", ".svn", ".tox", ".nox", ".venv", ".nightcrew", ".eggs", ".direnv",
                            ".idea", ".vscode", ".cache", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
CI_FOLDERS = frozenset({".github", ".gitlab", ".circleci", ".travis", ".ci", ".azure-pipelines", ".buildkite"})
TEST_ROOTS = frozenset({"tests", "test", "testing"})
REQUIREMENT_FOLDERS = frozenset({"requirements", "requirements.d", "reqs"})
# Files whose text says which manifests the project's automation installs (tox, nox, CI, docs builds).
REFERENCE_GLOBS = ("tox.ini", "noxfile.py", "setup.cfg", "Makefile", "pyproject.toml", ".readthedocs.y*ml",
                   ".github/workflows/*.y*ml", ".gitlab-ci.yml", "azure-pipelines.yml", ".circleci/config.yml",
                   ".travis.yml")


def virtualenvs(files: Sequence[str]) -> frozenset[str]:
    """The folders of ``files`` that are virtual environments (they hold a ``pyvenv.cfg``)."""
    return frozenset(f.rpartition("/")[0] for f in files if f.rpartition("/")[2] == "pyvenv.cfg")


def not_own(path: str, venvs: frozenset[str] = frozenset()) -> str | None:
    """Why ``path`` (relative, POSIX) is not one of the project's own manifests, or None. ``venvs``: the
    repository's virtual-environment folders (``virtualenvs``)."""
    parts = path.split("/")[:-1]  # plain string work: this runs for every file of the repository
    in_ci = bool(parts) and parts[0] in CI_FOLDERS  # CI configuration is the project's own, whatever its folders
    for depth, part in enumerate(parts):
        if part in HIDDEN_NOT_OWN or (part.startswith(".") and part.endswith("cache")):
            return f"in the hidden folder {part}/"
        if not in_ci and part.lower() in NOT_OWN:
            return f"in a {part}/ folder"
        if venvs and "/".join(parts[:depth + 1]) in venvs:
            return f"in the virtual environment {'/'.join(parts[:depth + 1])}/"
    return None


def below_test_root(path: str) -> bool:
    """A manifest in a subfolder of a test folder (``tests/demo_pkg/pyproject.toml``): test input, unless the
    project's automation names it. Files right in the test folder, or in its ``requirements/`` folder, are the
    test suite's own (``tests/requirements/py3.txt``)."""
    parts = [p.lower() for p in PurePosixPath(path).parts[:-1]]
    for index, part in enumerate(parts):
        if part in TEST_ROOTS:
            rest = parts[index + 1:]
            return bool(rest) and not all(p in REQUIREMENT_FOLDERS for p in rest)
    return False


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether ``path`` matches one of the ``[manifests] exclude`` globs (``**`` crosses folders)."""
    if not patterns:
        return False
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
        # a tracked file deleted from the working copy is still listed: callers check the few they read
        return sorted(n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n)
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        rel = here.relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if d not in HIDDEN_NOT_OWN and not (here / d / "pyvenv.cfg").is_file()
                         and d != "node_modules")
        found.extend(name if rel == "." else f"{rel}/{name}" for name in names)
    return sorted(found)


def _is_top(root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=False)
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == root.resolve()


def is_requirements(path: str) -> bool:
    """A requirements or constraints file by its name: ``requirements*.txt``, ``*-requirements.txt``,
    ``constraints*.txt``, ``*-constraints.txt``, or any ``.txt`` below a ``requirements/`` (``requirements.d``,
    ``reqs``) folder."""
    if not path.endswith((".txt", ".TXT")):
        return False
    *folders, name = path.lower().split("/")
    if any(p in REQUIREMENT_FOLDERS for p in folders):
        return True
    stem = name[:-4]
    return any(stem.startswith(word) or stem.endswith((f"-{word}", f"_{word}"))
               for word in ("requirements", "constraints"))


_OPTION = re.compile(r"^-{1,2}[A-Za-z]")
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*(\(?\s*[<>=!~]|@|;|$)")


def reads_as_requirements(text: str) -> bool:
    """Whether a ``.txt`` found by its name holds requirement lines (a doctest or a Jinja template named
    ``test_requirements.txt`` does not): every one of its first 30 meaningful lines is a requirement, a URL or
    path, or a pip option."""
    if "{%" in text or "{{" in text:
        return False
    seen = 0
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip().rstrip("\\").strip()
        if not line:
            continue
        seen += 1
        if not (_OPTION.match(line) or _REQUIREMENT.match(line) or "://" in line or line.startswith((".", "/"))):
            return False
        if seen >= 30:
            break
    return True


def references(root: Path, files: Sequence[str]) -> str:
    """The text of the files that say which manifests the automation installs (see ``REFERENCE_GLOBS``)."""
    texts = []
    for path in files:
        if any(fnmatchcase(path, g) for g in REFERENCE_GLOBS):
            try:
                texts.append((root / path).read_text(encoding="utf-8", errors="replace")[:1_000_000])
            except OSError:
                continue
    return "\n".join(texts)


def discover(root: Path, format_name: str, files: Sequence[str], exclude: Sequence[str] = ()) -> list[Path]:
    """The files of ``format_name`` among ``files`` that are the project's own."""
    if format_name == "requirements":
        wanted = [f for f in files if is_requirements(f)]
    elif format_name == "pyproject":
        wanted = [f for f in files if f == "pyproject.toml" or f.endswith("/pyproject.toml")]
    else:
        return []
    venvs = virtualenvs(files)
    wanted = [f for f in wanted if not_own(f, venvs) is None and not excluded(f, exclude) and (root / f).is_file()]
    named = None
    kept = []
    for path in wanted:
        if below_test_root(path):
            if named is None:
                named = references(root, files)
            folder = str(PurePosixPath(path).parent)
            if path not in named and (format_name != "pyproject" or folder not in named):
                continue
        if format_name == "requirements":
            try:
                text = (root / path).read_text(encoding="utf-8", errors="replace")[:200_000]
            except OSError:
                continue
            if not reads_as_requirements(text):
                continue
        kept.append(root / path)
    return kept
