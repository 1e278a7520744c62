"""``uv.lock``: read with tomllib, moved with ``uv lock --upgrade-package NAME==VERSION``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Mapping, Sequence

from jobs.lockfiles.base import (LockedPackage, LockedProject, ToolRun, beside_pyproject, normalize,
                                 read_toml, run_tool)

_ROOT_SOURCES = ("editable", "virtual")


class UvLock:
    kind = "uv"
    tool = "uv"

    def detect(self, root: Path, files: Sequence[str]) -> list[LockedProject]:
        found = []
        for path, manifest in beside_pyproject(files, "uv.lock"):
            required = None
            members: tuple[str, ...] = ()
            try:
                data = tomllib.loads((root / manifest).read_text(encoding="utf-8"))
                required = data.get("tool", {}).get("uv", {}).get("required-version")
                members = _members(manifest, data.get("tool", {}).get("uv", {}).get("workspace"), files)
            except (OSError, tomllib.TOMLDecodeError, AttributeError):
                pass
            found.append(LockedProject(self.kind, manifest, path, (),
                                       str(required) if isinstance(required, str) else None, members))
        return found

    def read(self, root: Path, project: LockedProject) -> dict[str, LockedPackage]:
        data = read_toml(root, project.lockfile)
        packages = [p for p in data.get("package", []) if isinstance(p, dict) and isinstance(p.get("name"), str)]
        roots = [p for p in packages if any(k in _ROOT_SOURCES for k in (p.get("source") or {}))]
        root_names = {normalize(p["name"]) for p in roots}
        direct: set[str] = set()
        for package in roots:
            groups = [package.get("dependencies") or []]
            for table in ("optional-dependencies", "dev-dependencies"):
                groups += list((package.get(table) or {}).values())
            for group in groups:
                direct.update(normalize(d["name"]) for d in group if isinstance(d, dict) and "name" in d)
        locked: dict[str, LockedPackage] = {}
        for package in packages:
            name = normalize(package["name"])
            if name in root_names or not isinstance(package.get("version"), str):
                continue
            locked[name] = LockedPackage(name, package["version"], name in direct)
        return locked

    def update(self, root: Path, project: LockedProject, targets: Mapping[str, str], *, executable: str,
               env: Mapping[str, str], index_args: Sequence[str], timeout: float,
               secrets: Sequence[str] = ()) -> ToolRun:
        command = [executable, "lock", "--no-progress"]
        for name, version in targets.items():
            command += ["--upgrade-package", f"{name}=={version}"]
        return run_tool(command, root / project.folder if project.folder else root, env, timeout,
                        f"uv lock ({project.lockfile})", secrets)

    def refresh(self, root: Path, project: LockedProject, *, executable: str, env: Mapping[str, str],
                index_args: Sequence[str], timeout: float, secrets: Sequence[str] = ()) -> ToolRun:
        return run_tool([executable, "lock", "--no-progress", "--upgrade"],
                        root / project.folder if project.folder else root, env, timeout,
                        f"uv lock --upgrade ({project.lockfile})", secrets)

    def index_env(self, url: str, extra: Sequence[str]) -> dict[str, str]:
        env = {"UV_DEFAULT_INDEX": url, "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
        if extra:
            env["UV_INDEX"] = " ".join(extra)
        return env

    def index_args(self, url: str, extra: Sequence[str]) -> list[str]:
        return []  # uv takes its index from the environment (UV_DEFAULT_INDEX, UV_INDEX)

    def export_command(self, executable: str) -> list[str]:
        """What prints the locked set as a requirements file (the tests install exactly that)."""
        return [executable, "export", "--locked", "--no-hashes", "--no-emit-project", "--all-extras",
                "--format", "requirements-txt", "--quiet"]


def _members(manifest: str, workspace: object, files: Sequence[str]) -> tuple[str, ...]:
    """The member manifests of a uv workspace (``[tool.uv.workspace] members`` globs, less ``exclude``), relative
    to the repository: one lockfile locks them all."""
    if not isinstance(workspace, dict):
        return ()
    folder = manifest.rpartition("/")[0]
    prefix = f"{folder}/" if folder else ""

    def globs(key: str) -> list[str]:
        value = workspace.get(key) or []
        return [prefix + str(g).strip("/").removeprefix("./") for g in value if isinstance(g, str)] \
            if isinstance(value, list) else []

    members, exclude = globs("members"), globs("exclude")
    found = []
    for path in files:
        if not path.endswith("/pyproject.toml") or path == manifest:
            continue
        member = path.rpartition("/")[0]
        if any(_glob_match(member, g) for g in members) and not any(_glob_match(member, g) for g in exclude):
            found.append(path)
    return tuple(sorted(found))


def _glob_match(path: str, pattern: str) -> bool:
    """A folder against a uv workspace glob, segment by segment as uv's glob does: ``*`` stays inside one folder
    name, ``**`` crosses any number of them; a leading ``./`` is nothing."""
    from fnmatch import fnmatchcase

    def segments(text: str) -> list[str]:
        return [part for part in text.split("/") if part not in ("", ".")]

    def match(names: list[str], parts: list[str]) -> bool:
        if not parts:
            return not names
        if parts[0] == "**":
            return any(match(names[i:], parts[1:]) for i in range(len(names) + 1))
        return bool(names) and fnmatchcase(names[0], parts[0]) and match(names[1:], parts[1:])

    return match(segments(path), segments(pattern))
