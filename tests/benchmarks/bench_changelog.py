"""Changelog benchmark: slice the real cases of ../shared/changelog-dev-cases.toml and count exact headings.

Run: python tests/benchmarks/bench_changelog.py [--cache DIR] [--no-fetch]   (target: every case exact)

The inputs are fetched by ../shared/changelog_fetch.py from the index pip is configured for into the cache
directory (default: the user cache dir); a second run reuses them. Skipped with a message when ../shared is
missing or nothing could be fetched. Primary score: the returned headings equal the case's ``headings``;
versions, lines, files and slices (first/last line per file) are the secondary scores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from packaging.version import Version  # noqa: E402

from jobs.changelogs.slicing import SliceResult, missing_versions, slice_releases  # noqa: E402

SHARED = ROOT.parent / "shared"
CASES = SHARED / "changelog-dev-cases.toml"
FETCH = SHARED / "changelog_fetch.py"


def default_cache() -> Path:
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("nightcrew")) / "changelog-cases"
    except ImportError:  # platformdirs is a dependency, but the benchmark should still run without it
        return Path(tempfile.gettempdir()) / "nightcrew-changelog-cases"


def fetch(cache: Path) -> dict | None:
    """Run the fetch script into ``cache``; the manifest it leaves, or None when there is none."""
    proc = subprocess.run([sys.executable, str(FETCH), str(cache), "--cases", str(CASES)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        print("fetch incomplete (offline?):\n  " + "\n  ".join(tail))
    try:
        return json.loads((cache / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def actual_slices(result: SliceResult) -> list[dict]:
    by_file: dict[str, tuple[int, int]] = {}
    for path, first, last in result.spans:
        low, high = by_file.get(path, (first, last))
        by_file[path] = (min(low, first), max(high, last))
    return [{"path": p, "first": f, "last": last} for p, (f, last) in by_file.items()]


def score(case: dict, result: SliceResult) -> dict[str, bool]:
    sections = result.sections
    checks = {
        "headings": [s.heading for s in sections] == case["headings"],
        "versions": [s.version for s in sections] == case["versions"],
        "lines": [s.line for s in sections] == case["lines"],
        "slices": actual_slices(result) == case["slices"],
    }
    if "files" in case:
        checks["files"] = [s.file for s in sections] == case["files"]
    return checks


def run_case(case: dict, entry: dict, cache: Path) -> tuple[dict[str, bool] | None, str]:
    if not entry or not entry.get("ok"):
        return None, "input missing: " + "; ".join((entry or {}).get("problems", []) or ["not fetched"])
    texts = {path: (cache / rel).read_bytes().decode("utf-8") for path, rel in entry["texts"].items()}
    old, new = Version(case["old"]), Version(case["new"])
    started = time.perf_counter()
    result = slice_releases(texts, old, new)
    millis = (time.perf_counter() - started) * 1000
    checks = score(case, result)
    missing = missing_versions(case.get("index_releases", ()), result.sections, old, new)
    detail = f"{millis:6.1f} ms, {len(result.found_versions)} versions in the changelog"
    if missing:
        detail += f", missing: {', '.join(missing)}"
    if not checks["headings"]:
        detail += "\n      expected " + repr(case["headings"]) + "\n      got      " + repr(
            [s.heading for s in result.sections])
    if not checks["slices"]:
        detail += f"\n      slices expected {case['slices']} got {actual_slices(result)}"
    if not checks["lines"]:
        detail += f"\n      lines expected {case['lines']} got {[s.line for s in result.sections]}"
    return checks, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache directory for the fetched inputs")
    parser.add_argument("--no-fetch", action="store_true", help="use the cache as it is")
    args = parser.parse_args(argv)
    if not CASES.is_file() or not FETCH.is_file():
        print(f"skipped: {SHARED} (cases file and fetch script) not found")
        return 0
    cache = args.cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    if args.no_fetch:
        try:
            manifest = json.loads((cache / "manifest.json").read_text())
        except (OSError, ValueError):
            manifest = None
    else:
        manifest = fetch(cache)
    if manifest is None:
        print(f"skipped: no inputs in {cache} (offline and nothing cached?)")
        return 0
    cases = tomllib.loads(CASES.read_text())["case"]
    exact = 0
    secondary = {"versions": 0, "lines": 0, "slices": 0}
    ran = 0
    for case in cases:
        checks, detail = run_case(case, manifest.get("cases", {}).get(case["id"], {}), cache)
        if checks is None:
            print(f"SKIP  {case['id']:<22} {detail}")
            continue
        ran += 1
        exact += checks["headings"]
        for key in secondary:
            secondary[key] += checks[key]
        marks = "  ".join(f"{key} {'ok' if good else 'NO'}" for key, good in checks.items())
        print(f"{'PASS' if all(checks.values()) else 'FAIL':<5} {case['id']:<22} {marks}  ({detail})")
    print(f"{exact} of {len(cases)} cases exact (headings)"
          + "".join(f"; {key} {count}/{ran}" for key, count in secondary.items())
          + (f"; {len(cases) - ran} skipped" if ran < len(cases) else ""))
    return 0 if exact == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
