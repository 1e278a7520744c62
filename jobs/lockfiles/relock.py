"""Move a change's packages in the lockfiles it touches, with each lockfile's own tool, in the change's worktree.

What comes out is verified, never assumed: the lockfile is read back and every target must be locked at its
version; anything else (the tool failed, timed out, or resolved elsewhere) is a ``LockError`` and the change is
not committed, so a branch holds a consistent manifest and lockfile or nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from jobs.lockfiles.base import LockChange, LockedProject, LockError, ToolRun, diff, run_tool, tool_env
from jobs.lockfiles.detect import get
from jobs.models import FileEdit, Update


@dataclass(frozen=True)
class Relocked:
    edits: tuple[FileEdit, ...] = ()
    changes: tuple[LockChange, ...] = ()
    runs: tuple[ToolRun, ...] = ()


def executable(kind: str, configured: str = "") -> str:
    """The lock tool to run: the configured path, else the one on PATH; ``LockError`` when there is none."""
    fmt = get(kind)
    if configured:
        if Path(configured).is_file() or shutil.which(configured):
            return configured
        raise LockError(f"{fmt.tool} not found at {configured!r}", f"lockfiles.{fmt.tool.replace('-', '_')}")
    found = shutil.which(fmt.tool)
    if found is None:
        raise LockError(f"{fmt.tool} is not installed: install it (pip install {_package(kind)}) or set "
                        f"[lockfiles] {fmt.tool.replace('-', '_')}", kind)
    return found


def _package(kind: str) -> str:
    return {"uv": "uv", "pip-tools": "pip-tools", "poetry": "poetry"}.get(kind, kind)


def _configured(settings: object, kind: str) -> str:
    return str(getattr(settings, {"uv": "uv", "pip-tools": "pip_compile", "poetry": "poetry"}.get(kind, kind), "")
               or "")


def relock(worktree: Path, projects: Sequence[LockedProject], updates: Sequence[Update], *, index_url: str,
           extra_urls: Sequence[str], settings: object, secrets: Sequence[str] = (),
           refresh: bool = False) -> Relocked:
    """Each lockfile the updates name, moved to their versions (manifest edits already written in ``worktree``);
    with ``refresh``, every lockfile, every package to the newest version the manifests allow."""
    edits: list[FileEdit] = []
    changes: list[LockChange] = []
    runs: list[ToolRun] = []
    for project in projects:
        targets = {u.dependency.name: str(u.new) for u in updates if u.dependency.lockfile == project.lockfile}
        if not targets and not refresh:
            continue
        fmt = get(project.kind)
        path = worktree / project.lockfile
        before_text = path.read_text(encoding="utf-8")
        before = fmt.read(worktree, project)
        env = tool_env(fmt.index_env(index_url, extra_urls))
        args = fmt.index_args(index_url, extra_urls)
        timeout = float(getattr(settings, "timeout", 600))
        tool = executable(project.kind, _configured(settings, project.kind))
        if refresh:
            runs.append(fmt.refresh(worktree, project, executable=tool, env=env, index_args=args,  # type: ignore[attr-defined]
                                    timeout=timeout, secrets=secrets))
        else:
            runs.append(fmt.update(worktree, project, targets, executable=tool, env=env, index_args=args,
                                   timeout=timeout, secrets=secrets))
        after = fmt.read(worktree, project)
        for name, version in targets.items():
            locked = after.get(name)
            if locked is None or locked.version != version:
                raise LockError(f"{fmt.tool} did not lock {name} at {version} "
                                f"(it locked {locked.version if locked else 'nothing'})", project.lockfile)
        after_text = path.read_text(encoding="utf-8")
        if after_text != before_text:
            edits.append(FileEdit(project.lockfile, before_text, after_text))
        changes += diff(project.lockfile, before, after)
    return Relocked(tuple(edits), tuple(changes), tuple(runs))


def locked_requirements(worktree: Path, projects: Sequence[LockedProject], *, index_url: str,
                        extra_urls: Sequence[str], settings: object, secrets: Sequence[str] = ()) -> list[str]:
    """Requirements files (relative to ``worktree``) that install exactly what the lockfiles say, for the tests:
    a pip-compile output as it is, a uv lock exported with ``uv export --locked``."""
    files: list[str] = []
    for project in projects:
        if project.kind == "pip-tools":
            files.append(project.lockfile)
        elif project.kind == "poetry":
            target = Path(project.folder or ".") / ".nightcrew-locked-requirements.txt"
            (worktree / target).write_text(get("poetry").requirements(worktree, project),  # type: ignore[attr-defined]
                                           encoding="utf-8")
            files.append(target.as_posix())
        elif project.kind == "uv":
            fmt = get("uv")
            command = fmt.export_command(executable("uv", _configured(settings, "uv")))  # type: ignore[attr-defined]
            out = worktree / project.folder if project.folder else worktree
            run = run_tool(command, out, tool_env(fmt.index_env(index_url, extra_urls)),
                           float(getattr(settings, "timeout", 600)), f"uv export ({project.lockfile})", secrets)
            target = Path(project.folder or ".") / ".nightcrew-locked-requirements.txt"
            lines = [line for line in run.stdout.splitlines() if line and not line.startswith(("#", " "))]
            (worktree / target).write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(target.as_posix())
    return files
