"""Scan benchmark: 300 dependencies, 30 releases each, on a loopback index; cold and warm wall time, requests, bytes.

Run: python tests/benchmarks/bench_scan.py   (targets: cold < 3 s, warm < 1.5 s with only conditional requests)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs import config as config_module  # noqa: E402
from jobs.scan import scan  # noqa: E402
from tests.support.indexserver import StaticIndex  # noqa: E402

PACKAGES = 300
VERSIONS = 30


def build_index(index: StaticIndex) -> None:
    for p in range(PACKAGES):
        name = f"bench-pkg-{p:03d}"
        for v in range(VERSIONS):
            version = f"{v // 10}.{v % 10}.0"
            wheel = f"bench_pkg_{p:03d}-{version}-py3-none-any.whl"
            index.add_file_entry(name, wheel, requires_python=">=3.8", sha256="0" * 64)
            index.add_file_entry(name, f"bench_pkg_{p:03d}-{version}.tar.gz", requires_python=">=3.8", sha256="1" * 64)


def write_repo(repo: Path, index_url: str, cache: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    lines = [f"bench-pkg-{p:03d}=={p % 3}.{p % 10}.0" if p % 4 else f"bench-pkg-{p:03d}>={p % 3}.0,<3" for p in range(PACKAGES)]
    (repo / "requirements.txt").write_text("\n".join(lines) + "\n")
    # the advisory check is measured by bench_advisories.py against a stand-in; nothing here leaves loopback
    (repo / "nightcrew.toml").write_text(f'[index]\nurl = "{index_url}"\ncache_dir = "{cache.as_posix()}"\n'
                                         '\n[security]\nenabled = false\n')


def page_traffic(index: StaticIndex) -> tuple[int, int, int]:
    pages = [r for r in index.requests if r.path.startswith("/simple/")]
    return len(pages), sum(1 for r in pages if r.conditional), sum(r.bytes_sent for r in pages)


def measure(label: str, repo: Path, index: StaticIndex) -> float:
    config = config_module.load(repo=repo)
    index.reset_log()
    started = time.perf_counter()
    report = scan(repo, config)
    seconds = time.perf_counter() - started
    sent, conditional, sent_bytes = page_traffic(index)
    print(f"{label:<22} {seconds:6.2f} s  requests {sent:4d} (conditional {conditional:4d})  "
          f"bytes downloaded {sent_bytes:9d}  outdated {len(report.outdated)}/{len(report.statuses)}")
    return seconds


def measure_cli(label: str, repo: Path, index: StaticIndex) -> float:
    index.reset_log()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jobs", "scan", "--repo", str(repo), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    seconds = time.perf_counter() - started
    data = json.loads(proc.stdout)
    sent, conditional, sent_bytes = page_traffic(index)
    print(f"{label:<22} {seconds:6.2f} s  requests {sent:4d} (conditional {conditional:4d})  "
          f"bytes downloaded {sent_bytes:9d}  (whole command, interpreter start included; "
          f"{data['summary']['outdated']} outdated)")
    return seconds


def main() -> None:
    with StaticIndex() as index, tempfile.TemporaryDirectory() as tmp:
        build_index(index)
        base = Path(tmp)
        print(f"scan benchmark: {PACKAGES} dependencies x {VERSIONS} releases (wheel + sdist each), loopback index")
        cold = measure("cold (empty cache)", base / "repo", index) if write_repo(base / "repo", index.url, base / "c1") is None else 0
        warm = measure("warm (cache filled)", base / "repo", index)
        write_repo(base / "repo2", index.url, base / "c2")
        cli_cold = measure_cli("cli cold", base / "repo2", index)
        cli_warm = measure_cli("cli warm", base / "repo2", index)
        print(f"targets: cold < 3.0 s -> {'met' if cold < 3 else 'MISSED'} ({cold:.2f}, cli {cli_cold:.2f}); "
              f"warm < 1.5 s -> {'met' if warm < 1.5 else 'MISSED'} ({warm:.2f}, cli {cli_warm:.2f})")


if __name__ == "__main__":
    main()
