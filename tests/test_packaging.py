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
