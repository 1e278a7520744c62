"""Manifest discovery on a large repository: how long listing the files (git ls-files) and picking the project's own
manifests takes, for a tree of 60,000 files in 3,000 folders with manifests among them (some in test input and
fixture folders, some named by tox.ini).

Run: python tests/benchmarks/bench_discovery.py   (target: under 1 s for 60,000 files)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs.config import load  # noqa: E402
from jobs.manifests.discover import discover  # noqa: E402
from jobs.scan import own_files  # noqa: E402


def build(root: Path, folders: int = 3000, per_folder: int = 20) -> None:
    for number in range(folders):
        kind = ("src/pkg", "tests/unit", "tests/fixtures", "docs", "tools")[number % 5]
        folder = root / kind / f"m{number}"
        folder.mkdir(parents=True)
        for index in range(per_folder - 1):
            (folder / f"f{index}.py").write_text("")
        if number % 50 in (0, 1):  # in src/pkg and in tests/unit (test input unless tox.ini names it)
            (folder / "requirements.txt").write_text("requests==2.31.0\n")
    (root / "requirements.txt").write_text("requests==2.31.0\n")
    (root / "pyproject.toml").write_text('[project]\nname = "big"\nversion = "1"\n')
    (root / "tox.ini").write_text("[testenv]\ndeps = -rtests/unit/m1/requirements.txt\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nightcrew-bench-discovery-") as folder:
        root = Path(folder)
        build(root)
        config = load(None, repo=root)
        started = time.perf_counter()
        listing = own_files(root, config) or []
        found = [p for fmt in ("requirements", "pyproject") for p in discover(root, fmt, listing)]
        seconds = time.perf_counter() - started
        total = int(subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                                   check=True).stdout.count("\n"))
    print(f"discovery: {total} files, {len(listing)} kept after folder rules, {len(found)} manifests, "
          f"{seconds:.2f} s")
    print(f"target: under 1 s -> {'met' if seconds < 1 else 'MISSED'}")
    return 0 if seconds < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
