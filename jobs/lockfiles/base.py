"""The lockfile interface and the small typed records that flow from it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from packaging.utils import canonicalize_name

from jobs.errors import NightcrewError
from jobs.tools.redact import redact


class LockError(NightcrewError):
    """A lock tool failed, or a lockfile cannot be read; the message is the tool's own error, one line."""


@dataclass(frozen=True)
class LockedProject:
    """A project whose environment a lockfile pins.

    ``manifest`` is what people edit (``pyproject.toml``, ``requirements.in``), ``lockfile`` what the tool writes
    (``uv.lock``, ``poetry.lock``, ``requirements.txt``); both relative to the repository, POSIX. ``options`` are
    the tool's own options as the lockfile records them (pip-compile's header command line).
    """

    kind: str  # "uv", "poetry", "pip-tools"
    manifest: str
    lockfile: str
    options: tuple[str, ...] = ()
    tool_version: str | None = None  # the version the project asks for (uv's required-version, Poetry's header)
    members: tuple[str, ...] = ()  # a workspace's member manifests (pyproject.toml), locked by the same lockfile

    @property
    def folder(self) -> str:
        return self.lockfile.rpartition("/")[0]


@dataclass(frozen=True)
class LockedPackage:
    name: str  # PEP 503 normalized
    version: str
    direct: bool


@dataclass(frozen=True)
class LockChange:
    """One package whose locked version moved (``old`` None: added; ``new`` None: removed)."""

    lockfile: str
    name: str
    old: str | None
    new: str | None
    direct: bool


@dataclass(frozen=True)
class ToolRun:
    """What a lock tool did: its command (no secrets), exit status, time and the tail of its output."""

    command: tuple[str, ...]
    seconds: float
    output: str = field(repr=False, default="")
    stdout: str = field(repr=False, default="")


class LockFormat(Protocol):
    kind: str
    tool: str  # the executable ("uv", "poetry", "pip-compile")

    def detect(self, root: Path, files: Sequence[str]) -> list[LockedProject]:
        """The locked projects among ``files`` (every file of the repository, relative POSIX paths)."""
        ...

    def read(self, root: Path, project: LockedProject) -> dict[str, LockedPackage]:
        """Every package the lockfile pins, by normalized name; raises ``LockError`` when it cannot be read."""
        ...

    def update(self, root: Path, project: LockedProject, targets: Mapping[str, str], *, executable: str,
               env: Mapping[str, str], index_args: Sequence[str], timeout: float) -> ToolRun:
        """Move ``targets`` (name -> version) in the lockfile with the tool, in ``root`` (a worktree)."""
        ...


def beside_pyproject(files: Sequence[str], lock_name: str) -> list[tuple[str, str]]:
    """(lockfile, manifest) of every ``lock_name`` that has a ``pyproject.toml`` in its folder."""
    found = []
    for path in files:
        if path.rpartition("/")[2] != lock_name:
            continue
        folder = path.rpartition("/")[0]
        manifest = f"{folder}/pyproject.toml" if folder else "pyproject.toml"
        if manifest in files:
            found.append((path, manifest))
    return found


def read_toml(root: Path, path: str) -> dict:
    """A TOML lockfile's data; a ``LockError`` naming the file when it cannot be read or is not TOML."""
    import tomllib

    try:
        return tomllib.loads((root / path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LockError(f"cannot read the lockfile ({exc.strerror})", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"not valid TOML: {exc}", path) from None


def manifest_names(root: Path, manifest: str) -> set[str]:
    """The names a lock's manifest lists (its direct packages), read by nightcrew's own manifest parsers; a
    constraints file it includes lists none, and a manifest no parser reads (``setup.py``) gives an empty set."""
    from jobs import manifests

    name = manifest.rpartition("/")[2]
    if name == "pyproject.toml":
        kind = "pyproject"
    elif name.endswith((".in", ".txt")):
        kind = "requirements"
    else:
        return set()
    parsed = manifests.get(kind).parse(root, [root / manifest])
    return {normalize(d.name) for d in parsed.dependencies if d.section != "constraints"}


def diff(lockfile: str, before: Mapping[str, LockedPackage], after: Mapping[str, LockedPackage]) -> list[LockChange]:
    """What moved between two readings of one lockfile: direct packages first, then by name."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is not None and new is not None and old.version == new.version:
            continue
        direct = (new or old).direct  # type: ignore[union-attr]
        changes.append(LockChange(lockfile, name, old.version if old else None, new.version if new else None, direct))
    return sorted(changes, key=lambda c: (not c.direct, c.name))


def normalize(name: str) -> str:
    return canonicalize_name(name)


# what a lock tool may see of the environment: enough to run and to reach the index, never a token
_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SSL_CERT_FILE", "SSL_CERT_DIR",
             "REQUESTS_CA_BUNDLE", "PIP_CERT", "SYSTEMROOT", "XDG_CACHE_HOME", "http_proxy", "https_proxy",
             "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "UV_CACHE_DIR", "POETRY_CACHE_DIR")


def tool_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
    env.update(extra)
    return env


def run_tool(command: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float, what: str,
             secrets: Sequence[str] = ()) -> ToolRun:
    """Run a lock tool; ``LockError`` with its whole error (one line, secrets removed) when it fails."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(list(command), cwd=cwd, env=dict(env), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LockError(f"no answer within {timeout:.0f}s", what) from None
    except OSError as exc:
        raise LockError(f"cannot run {command[0]} ({exc.strerror})", what) from None
    output = redact((proc.stderr or "") + (proc.stdout or ""), tuple(secrets))
    if proc.returncode != 0:
        lines = [re.sub(r"^[\s×╰─▶│├┬┴┼┐┘┌└═]+", "", line).strip() for line in output.splitlines()]
        lines = [line for line in lines if line]
        # the tool's error and its explanation ("No solution found ... Because ..."), as one line
        first = next((i for i, line in enumerate(lines) if re.match(r"(?i)(error|fatal|no solution|could not|"
                                                                   r"because|the current project)", line)), None)
        picked = lines[first:] if first is not None else lines[-3:]
        message = " ".join(picked) or f"exit {proc.returncode}"
        raise LockError(message if len(message) <= 600 else message[:597] + "...", what)
    return ToolRun(tuple(redact(part, tuple(secrets)) for part in command), time.perf_counter() - started,
                   output[-4000:], proc.stdout or "")
