"""Advisory-check benchmark: what the OSV check adds to a 300-dependency scan.

A loopback index serves 300 packages (30 releases each); an OSV stand-in answers every request after a realistic
delay (default 80 ms, about a round trip to the public API) and knows advisories for 10 of the packages. The
scan runs warm (index pages cached) with the check off, then on with a cold advisory cache (one batched query,
then the details of the 10 advisories), then on with a warm one (details cached by id and modification time).

Run: python tests/benchmarks/bench_advisories.py [--delay SECONDS]
(target: one round trip plus the detail lookups for the vulnerable ones; the check adds well under a second)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs import config as config_module  # noqa: E402
from jobs.scan import scan  # noqa: E402
from tests.benchmarks.bench_scan import PACKAGES, build_index, write_repo  # noqa: E402
from tests.support.indexserver import StaticIndex  # noqa: E402
from tests.support.osv_server import OsvStandIn, advisory  # noqa: E402

VULNERABLE = 10


def run(repo: Path, security: bool) -> tuple[float, object]:
    text = (repo / "nightcrew.toml").read_text().split("\n[security]")[0]
    (repo / "nightcrew.toml").write_text(text + f"\n[security]\nenabled = {'true' if security else 'false'}\n")
    config = config_module.load(repo=repo)
    started = time.perf_counter()
    report = scan(repo, config)
    return time.perf_counter() - started, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.08, help="seconds the OSV stand-in takes per request")
    args = parser.parse_args(argv)
    with StaticIndex() as index, OsvStandIn() as osv, tempfile.TemporaryDirectory(prefix="nightcrew-bench-") as tmp:
        build_index(index)
        # every release below 2.9.0 affected; pinned packages only (a range resolves to 2.9.0, the fix)
        pinned = [p for p in range(0, PACKAGES, 7) if p % 4][:VULNERABLE]
        for p in pinned:
            osv.add(advisory(f"GHSA-bench-{p:04d}", f"bench-pkg-{p:03d}", fixed=["2.9.0"]))
        osv.slow(args.delay)
        os.environ["NIGHTCREW_OSV_URL"] = osv.url
        repo = Path(tmp) / "repo"
        write_repo(repo, index.url, Path(tmp) / "cache")
        run(repo, False)  # warm the index cache
        off, report = run(repo, False)
        from jobs.scan import cache_dir, check_advisories

        config = config_module.load(repo=repo)
        cache, _ = cache_dir(config)
        timings = []
        for label in ("cold", "warm"):  # the check alone, on the scan's own statuses and pages
            if label == "cold" and cache is not None:
                import shutil

                shutil.rmtree(cache / "osv", ignore_errors=True)
            osv.reset_log()
            started = time.perf_counter()
            statuses, checked, problem, _ = check_advisories(list(report.statuses), report.pages,  # type: ignore[attr-defined]
                                                             config, cache)
            timings.append((label, time.perf_counter() - started, len(osv.requests),
                            sum(1 for s in statuses if s.advisories)))
        (_, cold, cold_requests, vulnerable), (_, warm, warm_requests, _) = timings
        print(f"advisory benchmark: {PACKAGES} dependencies, {VULNERABLE} with an advisory, OSV stand-in delay "
              f"{args.delay * 1000:.0f} ms per request")
        print(f"scan without the check (warm index)  {off:6.2f} s")
        print(f"the check, cold advisory cache       {cold:6.2f} s  ({cold_requests} OSV requests: 1 batch + "
              f"{cold_requests - 1} details in parallel; {vulnerable} vulnerable found)")
        print(f"the check, warm advisory cache       {warm:6.2f} s  ({warm_requests} OSV request)")
        ok = vulnerable == VULNERABLE and warm_requests == 1
        print(f"target: one batched round trip plus detail lookups for the vulnerable only -> {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
