"""The built wheel carries the defaults (config/, templates/) and the console script, not only a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_config_templates_and_entry_point(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("nightcrew-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "nightcrew = jobs.cli:main" in archive.read(entry_points).decode()
    assert "jobs/_data/config/nightcrew.toml" in names
    assert "jobs/_data/templates/README.md" in names
    assert "jobs/cli.py" in names and "jobs/manifests/requirements.py" in names
    assert not any(n.startswith("tests/") for n in names)


def _top_level_imports(folder: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_module_the_code_and_tests_import_is_declared() -> None:
    """A test dependency that only this machine happens to have must not pass unnoticed: every third-party module
    imported by jobs/ comes from a base dependency, and every one imported by tests/ from a base or test one."""
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    test = base | {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["test"]}
    providers = packages_distributions()
    # pip: only asked for its built-in default index, when it is there (jobs/index/locate.py falls back without it)
    local = {"jobs", "tests", "__future__", "pip"} | set(sys.stdlib_module_names)
    for folder, declared in (("jobs", base), ("tests", test)):
        missing = {}
        for module in sorted(_top_level_imports(ROOT / folder) - local):
            dists = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not dists & declared:
                missing[module] = sorted(dists)
        assert not missing, f"{folder}/ imports modules that pyproject.toml does not declare: {missing}"
