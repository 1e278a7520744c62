"""Changelog benchmark: real upgrades of real packages, ground truth read by hand; counts exact headings.

Run: python tests/benchmarks/bench_changelog.py [--cache DIR] [--no-fetch] [--slicer-only] [--only ID,...]
(target: at least 98% exact over all cases, chain and slicer)

Two case sets, in the same schema: the shared dev cases (../shared/changelog-dev-cases.toml, when there) and
our own, ``changelog-cases.toml`` beside this file (40+ widely used packages, with a ``class`` per case: bare
lines, one file per release, split by series, release markers, a single heading, plain...). The inputs are
fetched by ../shared/changelog_fetch.py from the index pip is configured for into the cache directory (default:
the user cache dir; one subfolder per set); a second run reuses them. Skipped with a message when the fetch
script is missing or nothing could be fetched. Every case prints what was expected and what came out when they
differ; the totals are printed per set, per source kind (sdist / description) and per class.

Two measures:

* chain (the default, printed together with the slicer's): the whole index-only chain, from the case's
  package on the index to the slice. A ``file:`` PEP 503 index is built in a temporary folder from the cached
  sdists (only those: the page lists the sdists in ``<cache>/sdists`` that ``<cache>/simple/<project>.json``
  names, with their sha256), and ``jobs.changelogs.finder.ChangelogFinder`` runs on it without GitHub
  sources. So our own source selection must find the right file inside the sdist (or the description). The
  source it used is shown next to the case's ``source``/``paths``. Missing versions are not scored: with
  only the cached sdists on the page, the index's release list differs from the case's ``index_releases``.
* slicer (``--slicer-only`` runs just this one): the slicer alone, on the texts the ground truth was read from.

Primary score: the returned headings equal the case's ``headings``; versions, lines, files and (slicer only)
slices (first/last line per file), and (chain only) the source, are the secondary scores.
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from packaging.utils import canonicalize_name  # noqa: E402
from packaging.version import Version  # noqa: E402

from jobs.changelogs.finder import ChangelogFinder  # noqa: E402
from jobs.changelogs.slicing import SliceResult, missing_versions, slice_releases  # noqa: E402
from jobs.errors import NightcrewError  # noqa: E402
from jobs.index.client import IndexClient  # noqa: E402
from jobs.index.locate import IndexLocation  # noqa: E402
from jobs.models import Changelog, ChangelogOrigin  # noqa: E402
from jobs.tools import Gate  # noqa: E402

SHARED = ROOT.parent / "shared"
CASES = SHARED / "changelog-dev-cases.toml"
OWN_CASES = Path(__file__).resolve().parent / "changelog-cases.toml"
FETCH = SHARED / "changelog_fetch.py"
CASE_SETS = (("shared", CASES), ("own", OWN_CASES))


def default_cache() -> Path:
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("nightcrew")) / "changelog-cases"
    except ImportError:  # platformdirs is a dependency, but the benchmark should still run without it
        return Path(tempfile.gettempdir()) / "nightcrew-changelog-cases"


def fetch(cache: Path, cases: Path = CASES) -> dict | None:
    """Run the fetch script into ``cache``; the manifest it leaves, or None when there is none."""
    proc = subprocess.run([sys.executable, str(FETCH), str(cache), "--cases", str(cases), "--jobs", "4"],
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


# -- the whole index-only chain ------------------------------------------------------------------------


def cached_sdists(case: dict, cache: Path) -> list[tuple[str, Path, str | None]]:
    """(file name, cached path, sha256 or None) of every cached sdist of the case's project."""
    project = canonicalize_name(case["package"])
    try:
        listed = json.loads((cache / "simple" / f"{project}.json").read_text())
    except (OSError, ValueError):
        listed = []
    known: dict[str, str | None] = {}
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
            known[entry["filename"]] = entry.get("sha256") if isinstance(entry.get("sha256"), str) else None
    # The case names its sdists and their digests too (a simple listing that was not saved is no reason to skip).
    for name_key, sha_key in (("sdist", "sdist_sha256"), ("new_sdist", "new_sdist_sha256")):
        if case.get(name_key):
            known[case[name_key]] = known.get(case[name_key]) or case.get(sha_key)
    found = []
    for filename, sha256 in sorted(known.items()):
        path = cache / "sdists" / filename
        if path.is_file() and not filename.lower().endswith(".whl"):
            found.append((filename, path, sha256))
    return found


def build_index(root: Path, case: dict, cache: Path) -> str | None:
    """A ``file:`` PEP 503 index under ``root`` whose project page lists the case's cached sdists; its URL,
    or None when nothing of the project is cached."""
    files = cached_sdists(case, cache)
    if not files:
        return None
    project = canonicalize_name(case["package"])
    folder = root / "simple" / project
    folder.mkdir(parents=True, exist_ok=True)
    anchors = []
    for filename, path, sha256 in files:
        href = path.resolve().as_uri() + (f"#sha256={sha256.lower()}" if sha256 else "")
        anchors.append(f'    <a href="{html.escape(href)}">{html.escape(filename)}</a><br/>')
    (folder / "index.html").write_text(
        "<!DOCTYPE html>\n<html>\n  <head><title>Links for " + html.escape(project) + "</title></head>\n"
        "  <body>\n" + "\n".join(anchors) + "\n  </body>\n</html>\n", encoding="utf-8")
    return (root / "simple").resolve().as_uri() + "/"


def source_matches(case: dict, origin: ChangelogOrigin | None, files: list[str | None] | None = None) -> bool:
    """Whether the chain read the text the ground truth was read from (for per-release folders, the
    folder holding every expected file; for notes split by series, the main file plus the series files that
    the sections name)."""
    if origin is None or origin.kind != case["source"]:
        return False
    if case["source"] == "description":
        return origin.path == "description"
    paths = case["paths"]
    if origin.path in paths:
        return len(paths) == 1 or set(paths) == set(files or ())
    folder = (origin.path or "").rstrip("/") + "/"
    return all(p.startswith(folder) for p in paths)


def shown_origin(origin: ChangelogOrigin | None) -> str:
    return "nothing" if origin is None else f"{origin.kind} {origin.path or origin.url or '?'}"


def expected_texts(case: dict, entry: dict, cache: Path) -> list[str] | None:
    """The section texts the slicer cuts from the text the ground truth was read from (None when not cached)."""
    try:
        texts = {path: (cache / rel).read_bytes().decode("utf-8") for path, rel in entry["texts"].items()}
    except (KeyError, OSError, TypeError, ValueError):
        return None
    sliced = slice_releases(texts, Version(case["old"]), Version(case["new"]))
    return [s.text for s in sliced.sections]


def score_chain(case: dict, changelog: Changelog, texts: list[str] | None) -> dict[str, bool]:
    """``lines`` (and ``files``) count only in the expected source's own numbering, so they fail whenever
    ``source`` does; ``text`` says whether the sections read the same as the expected source's."""
    sections = changelog.sections
    checks = {
        "headings": [s.heading for s in sections] == case["headings"],
        "versions": [s.version for s in sections] == case["versions"],
        "lines": [s.line for s in sections] == case["lines"],
        "source": source_matches(case, changelog.origin, [s.file for s in sections]),
    }
    if texts is not None:
        checks["text"] = [s.text for s in sections] == texts
    if "files" in case:
        checks["files"] = [s.file for s in sections] == case["files"]
    return checks


def run_chain_case(case: dict, entry: dict, cache: Path, root: Path) -> tuple[dict[str, bool] | None, str]:
    index_url = build_index(root, case, cache)
    if index_url is None:
        return None, "input missing: no cached sdist of the project"
    old, new = Version(case["old"]), Version(case["new"])
    gate = Gate(run_id="bench", job="changelog", mode="advisory")
    started = time.perf_counter()
    # No cache folder: the sdists are local files already, and nothing is left behind.
    with IndexClient(IndexLocation(index_url, (), "benchmark"), cache_dir=None) as client:
        try:
            page = client.project(case["package"])
        except NightcrewError as exc:
            return None, f"the local index does not answer: {exc}"
        finder = ChangelogFinder(client, gate, github_sources=())
        changelog = finder.find(page.name, old, new, page)
    millis = (time.perf_counter() - started) * 1000
    checks = score_chain(case, changelog, expected_texts(case, entry, cache))
    expected_source = f"{case['source']} {', '.join(case['paths'])}"
    detail = f"{millis:6.1f} ms, used {shown_origin(changelog.origin)}; expected {expected_source}"
    if changelog.note:
        detail += f"; note: {changelog.note}"
    for problem in finder.problems:
        detail += f"\n      problem: {problem}"
    if not checks["headings"]:
        detail += "\n      expected " + repr(case["headings"]) + "\n      got      " + repr(
            [s.heading for s in changelog.sections])
    elif not checks["versions"]:
        detail += f"\n      versions expected {case['versions']} got {[s.version for s in changelog.sections]}"
    if not checks["lines"]:
        detail += f"\n      lines expected {case['lines']} got {[s.line for s in changelog.sections]}"
    if not checks["source"] and checks.get("text"):
        detail += "\n      another source than the expected one, but the same section texts"
    if not checks.get("files", True):
        detail += f"\n      files expected {case['files']} got {[s.file for s in changelog.sections]}"
    return checks, detail


def report(label: str, cases: list[dict], run: Callable[[dict], tuple[dict[str, bool] | None, str]],
           secondary: tuple[str, ...]) -> list[tuple[dict, dict[str, bool]]]:
    """Run every case through ``run`` and print a line per case; the (case, checks) of the cases that ran."""
    done = []
    print(f"== {label}")
    for case in cases:
        checks, detail = run(case)
        if checks is None:
            print(f"SKIP  {case['id']:<24} {detail}")
            continue
        done.append((case, checks))
        marks = "  ".join(f"{key} {'ok' if good else 'NO'}" for key, good in checks.items())
        print(f"{'PASS' if all(checks.values()) else 'FAIL':<5} {case['id']:<24} {marks}  ({detail})")
    return done


def totals(label: str, done: list[tuple[dict, dict[str, bool]]], total: int, secondary: tuple[str, ...]) -> str:
    exact = sum(checks["headings"] for _, checks in done)
    ran = len(done)
    share = f" ({100 * exact / total:.1f}%)" if total else ""
    return (f"{label}: {exact} of {total} cases exact (headings){share}"
            + "".join(f"; {key} {sum(c.get(key, False) for _, c in done)}/{ran}" for key in secondary)
            + (f"; {total - ran} skipped" if ran < total else ""))


def breakdown(done: list[tuple[dict, dict[str, bool]]], key: Callable[[dict], str]) -> str:
    groups: dict[str, list[bool]] = {}
    for case, checks in done:
        groups.setdefault(key(case), []).append(checks["headings"])
    return ", ".join(f"{name} {sum(v)}/{len(v)}" for name, v in sorted(groups.items()))


def load_sets(cache: Path, no_fetch: bool, only: set[str],
              case_sets: tuple[tuple[str, Path], ...] = CASE_SETS) -> list[tuple[str, list[dict], dict]]:
    """(label, cases, manifest entries) of each case set whose file exists and whose inputs could be had."""
    sets = []
    for label, path in case_sets:
        if not path.is_file():
            print(f"note: {label} cases ({path}) not found")
            continue
        folder = cache / label
        folder.mkdir(parents=True, exist_ok=True)
        if no_fetch:
            try:
                manifest = json.loads((folder / "manifest.json").read_text())
            except (OSError, ValueError):
                manifest = None
        else:
            manifest = fetch(folder, path)
        if manifest is None:
            print(f"note: no inputs for the {label} cases in {folder} (offline and nothing cached?)")
            continue
        cases = [dict(c, set=label) for c in tomllib.loads(path.read_text())["case"] if not only or c["id"] in only]
        for case in cases:
            case.setdefault("class", "tricky:" + case["tricky"] if case.get("tricky") else "plain")
        sets.append((label, cases, {k: dict(v, _folder=str(folder)) for k, v in manifest.get("cases", {}).items()}))
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache directory for the fetched inputs")
    parser.add_argument("--no-fetch", action="store_true", help="use the cache as it is")
    parser.add_argument("--slicer-only", action="store_true",
                        help="run only the slicer on the extracted texts, not the whole index-only chain")
    parser.add_argument("--only", default="", help="comma-separated case ids")
    parser.add_argument("--cases", type=Path, action="append", default=[],
                        help="run this case file (same schema) instead of the shared and own sets; repeatable")
    args = parser.parse_args(argv)
    if not FETCH.is_file() and not args.no_fetch:
        print(f"skipped: the fetch script {FETCH} was not found")
        return 0
    cache = args.cache or default_cache()
    chosen = tuple((path.stem, path) for path in args.cases) or CASE_SETS
    sets = load_sets(cache, args.no_fetch, {i for i in args.only.split(",") if i}, chosen)
    if not sets:
        print("skipped: no case set could be read")
        return 0
    cases = [case for _, set_cases, _ in sets for case in set_cases]
    entries = {(case["set"], case["id"]): entry for label, set_cases, set_entries in sets for case in set_cases
               if (entry := set_entries.get(case["id"])) is not None}

    def entry_of(case: dict) -> tuple[dict, Path]:
        entry = entries.get((case["set"], case["id"]), {})
        return entry, Path(entry.get("_folder", cache))

    lines = []
    passed = True
    modes = [] if args.slicer_only else ["chain"]
    modes.append("slicer")
    for mode in modes:
        if mode == "chain":
            secondary = ("versions", "lines", "source", "text")
            with tempfile.TemporaryDirectory(prefix="nightcrew-bench-index-") as tmp:
                root = Path(tmp)
                done = report("chain: index page -> sdist / description -> slice (no GitHub)", cases,
                              lambda case: run_chain_case(case, *entry_of(case), root / case["set"]), secondary)
        else:
            secondary = ("versions", "lines", "slices")
            done = report("slicer: the extracted source texts only", cases,
                          lambda case: run_case(case, *entry_of(case)), secondary)
        lines.append(totals(mode, done, len(cases), secondary))
        for label, set_cases, _ in sets:
            lines.append("  " + totals(f"{mode} {label}", [d for d in done if d[0]["set"] == label], len(set_cases),
                                       ()))
        lines.append(f"  {mode} by source kind: {breakdown(done, lambda c: c['source'])}")
        lines.append(f"  {mode} by class: {breakdown(done, lambda c: c['class'])}")
        exact = sum(checks["headings"] for _, checks in done)
        passed &= bool(cases) and exact >= 0.98 * len(cases)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
