"""Release-notes benchmark: a generated repository with 5,000 commits and 1,000 PRs between two tags.

Run: python tests/benchmarks/bench_release_notes.py [--keep DIR] [--runs N]
(targets: git-only drafting < 2 s; enrichment: at most one API request per 100 PRs plus a constant)

The repository is written in one ``git fast-import`` stream (no working tree, a second or so): 1,000 commits
and 60 release tags of earlier history up to ``v1.0.0``, then the measured range ``v1.0.0..v2.0.0`` of 5,000
commits: 500 PRs merged with a merge commit (1 to 5 commits each on the PR branch), 500 squash-merged PRs
(``Title (#N)``), and direct commits; a pre-release tag ``v2.0.0-rc.1`` inside the range (skipped for the
final release), monorepo-style tags and a higher tag off the released history (both ignored).

PR numbers in the range are #501..#1500 (#1..#500 are left for older pull requests, which only the stand-in
server knows).

Sections (each prints its own figures; add one to ``SECTIONS``):

* git-only: ``previous_tag`` + ``release_range``, then the whole git-only drafting end to end,
  ``jobs.release_notes.run(..., forge_kind="local", dry_run=True)`` (range, compose, render, completeness
  check), with ``[forge] web_url`` in a ``nightcrew.toml``; first run and best of N against 2 s, and where the
  time goes (each stage timed inside the real run).
* enrichment: the same run with ``forge_kind="github"`` against ``tests.support.github_server.GitHubStandIn``
  (over a bare clone of the repository) seeded with the range's 1,000 PRs (merged after the previous tag) and
  500 older ones (merged before it; every tenth updated after it, as a late comment or label does): the API
  requests the run reports (``api_requests``) and the stand-in's own request log, against at most one request
  per 100 PRs plus a constant (``ENRICH_CONSTANT``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jobs.config  # noqa: E402
import jobs.release_notes  # noqa: E402
from jobs.releases import compose, enrich, history  # noqa: E402
from jobs.releases.history import previous_tag, release_range  # noqa: E402

TAG, PREVIOUS = "v2.0.0", "v1.0.0"
RANGE_COMMITS = 5_000
MERGE_PRS = 500
SQUASH_PRS = 500
HISTORY_COMMITS = 1_000
OLD_TAGS = 60
TARGET_SECONDS = 2.0
REPO_URL = "https://github.com/bench/project"
WEB_URL = "https://git.example.org/acme/widgets"  # [forge] web_url of the git-only drafting
FIRST_PR = 501  # range PRs are #501..#1500; #1..#500 are the older PRs seeded in the stand-in
OLDER_PRS = 500
ENRICH_CONSTANT = 5  # enrichment target: at most PRs / 100 + this many API requests


@dataclass
class Generated:
    path: Path
    commits: int = 0
    range_commits: int = 0
    first_parent: int = 0
    prs: int = 0
    direct: int = 0
    authors: set[str] = field(default_factory=set)
    new_authors: set[str] = field(default_factory=set)
    seconds: float = 0.0
    # PR number -> (title as the PR has it, author's login, merge time as a Unix epoch)
    pulls: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    previous_epoch: int = 0  # the commit time of PREVIOUS


class Stream:
    """A ``git fast-import`` stream of empty-tree commits, with marks."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.mark = 0
        self.clock = 1_600_000_000

    def commit(self, ref: str, message: str, author: tuple[str, str], parents: list[int]) -> int:
        self.mark += 1
        self.clock += 30
        data = message.encode()
        lines = [f"commit {ref}", f"mark :{self.mark}", f"author {author[0]} <{author[1]}> {self.clock} +0000",
                 f"committer GitHub <noreply@github.com> {self.clock} +0000", f"data {len(data)}"]
        tail = [f"from :{parents[0]}"] if parents else []
        tail += [f"merge :{p}" for p in parents[1:]]
        self.chunks.append("\n".join(lines).encode() + b"\n" + data + b"\n" + "\n".join(tail).encode()
                           + (b"\n" if tail else b""))
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self.chunks.append(f"reset refs/tags/{name}\nfrom :{mark}\n".encode())

    def bytes(self) -> bytes:
        return b"\n".join(self.chunks) + b"\ndone\n"


def person(i: int) -> tuple[str, str]:
    return f"Person {i:03d}", f"person{i:03d}@example.org"


def generate(path: Path) -> Generated:
    """The benchmark repository at ``path`` (see the module's docstring)."""
    started = time.perf_counter()
    out = Generated(path)
    s = Stream()
    main: int | None = None

    def on_main(message: str, author: tuple[str, str], extra: list[int] | None = None) -> int:
        nonlocal main
        main = s.commit("refs/heads/main", message, author, ([main] if main else []) + (extra or []))
        return main

    before: set[str] = set()
    for i in range(HISTORY_COMMITS):  # earlier history: 60 authors, a release every ~16 commits
        author = person(i % 60)
        before.add(author[1])
        on_main(f"Old change {i}\n\nSome explanation of change {i}.\n", author)
        if i % (HISTORY_COMMITS // OLD_TAGS) == 0 and i // (HISTORY_COMMITS // OLD_TAGS) < OLD_TAGS:
            n = i // (HISTORY_COMMITS // OLD_TAGS)
            s.tag(f"v0.{n // 10}.{n % 10}", main)  # type: ignore[arg-type]
            s.tag(f"pkg-a/v0.{n}.0", main)  # type: ignore[arg-type]
    s.tag(PREVIOUS, main)  # type: ignore[arg-type]
    out.previous_epoch = s.clock
    s.tag("v1.0.0-rc.1", main)  # type: ignore[arg-type]
    out.commits = HISTORY_COMMITS

    # the range: 1,000 PR slots and direct commits spread between them, 5,000 commits in all
    branch_sizes = [1 + (k * 7) % 5 for k in range(MERGE_PRS)]  # 1..5, 3 on average
    merge_commits_total = sum(branch_sizes) + MERGE_PRS
    direct_total = RANGE_COMMITS - merge_commits_total - SQUASH_PRS
    slots = ["merge"] * MERGE_PRS + ["squash"] * SQUASH_PRS
    slots = [slots[(k * 389) % len(slots)] for k in range(len(slots))]  # 389 is prime to 1,000: a permutation
    direct_after = [direct_total // len(slots) + (1 if k < direct_total % len(slots) else 0) for k in range(len(slots))]
    number, merges_done = FIRST_PR - 1, 0
    for k, kind in enumerate(slots):
        number += 1
        author = person(40 + (k * 13) % 300)  # 300 authors in the range, 20 of them also in the earlier history
        out.authors.add(author[1])
        if kind == "merge":
            tip = main
            for j in range(branch_sizes[merges_done]):
                tip = s.commit("refs/heads/pr", f"wip {number}.{j}\n", author, [tip])  # type: ignore[list-item]
                out.range_commits += 1
            merges_done += 1
            on_main(f"Merge pull request #{number} from {author[1].split('@')[0]}/topic-{number}\n\n"
                    f"Add feature number {number}\n", person(0), [tip])  # type: ignore[list-item]
            out.pulls[number] = (f"Add feature number {number}", author[1].split("@")[0], s.clock)
        else:
            on_main(f"feat(core): squash-merged feature {number} (#{number})\n\n* wip\n* more wip\n", author)
            out.pulls[number] = (f"feat(core): squash-merged feature {number}", author[1].split("@")[0], s.clock)
        out.range_commits += 1
        out.prs += 1
        for d in range(direct_after[k]):
            on_main(f"Direct change {k}.{d}\n", person(d % 60))
            out.range_commits += 1
            out.direct += 1
        if k == len(slots) * 4 // 5:
            s.tag("v2.0.0-rc.1", main)  # type: ignore[arg-type]
    s.tag(TAG, main)  # type: ignore[arg-type]
    side = s.commit("refs/heads/maintenance", "Hotfix off the released history\n", person(1),
                    [main])  # type: ignore[list-item]
    s.tag("v1.9.9", side)  # reachable from nothing released: ignored
    s.tag("pkg-a/v9.0.0", main)  # type: ignore[arg-type]  # another package's tag: ignored
    out.commits += out.range_commits + 1
    out.first_parent = out.prs + out.direct
    out.new_authors = out.authors - before

    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=path, input=s.bytes(), check=True, env=env)
    subprocess.run(["git", "remote", "add", "origin", REPO_URL + ".git"], cwd=path, check=True, env=env)
    out.seconds = time.perf_counter() - started
    return out


# -- sections ----------------------------------------------------------------------------------------------


def timed(call: Callable[[], object], runs: int) -> tuple[object, float, float]:
    """(result, first run seconds, best of ``runs``)."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return result, times[0], min(times)


@contextlib.contextmanager
def stage_timers(stages: dict[str, tuple[object, str]]) -> Iterator[dict[str, float]]:
    """While inside, each ``module.attribute`` of ``stages`` (label -> (module, attribute name)) is wrapped to add
    its wall time to the label; the code under test calls them as module attributes, so the real run is timed."""
    spent = {label: 0.0 for label in stages}
    saved: list[tuple[object, str, object]] = []
    for label, (module, name) in stages.items():
        original = getattr(module, name)

        def timed_call(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started

        saved.append((module, name, original))
        setattr(module, name, timed_call)
    try:
        yield spent
    finally:
        for module, name, original in reversed(saved):
            setattr(module, name, original)


# Stages of jobs.release_notes.run, as (module, attribute) it calls; "render" runs inside "compose".
RUN_STAGES: dict[str, tuple[object, str]] = {
    "previous tag": (history, "previous_tag"),
    "range (git log)": (history, "release_range"),
    "git-only pull info": (enrich, "git_only"),
    "category config": (jobs.release_notes, "_category_config"),
    "compose": (compose, "compose"),
    "render (Jinja)": (compose, "render_note"),
    "completeness check": (compose, "check_complete"),
}


def print_split(spent: dict[str, float], total: float, nested: dict[str, str]) -> None:
    """One line per stage (``nested``: stage -> the stage it runs inside, shown without it), then the rest."""
    shown = dict(spent)
    for inner, outer in nested.items():
        shown[outer] -= spent[inner]
    for label, seconds in shown.items():
        name = f"{label} (without {', '.join(i for i, o in nested.items() if o == label)})" \
            if label in nested.values() else label  # fmt: skip
        print(f"  {name:38s} {seconds:6.3f} s  {100 * seconds / total:5.1f} %")
    rest = total - sum(shown.values())
    print(f"  {'other (config, gate, links, summary)':38s} {rest:6.3f} s  {100 * rest / total:5.1f} %")


def _note_counts(note: Any) -> tuple[int, int]:
    """(PR items + excluded PRs, direct-commit items) of a ReleaseNote."""
    items = [item for _, group in note.categories for item in group]
    return sum(1 for i in items if i.pr is not None) + len(note.excluded), sum(1 for i in items if i.pr is None)


def git_only_section(generated: Generated, runs: int) -> bool:
    repo = generated.path
    print("\n== git-only ==")

    def find() -> object:
        previous = previous_tag(repo, TAG)
        return previous, release_range(repo, TAG, previous)

    (previous, found), first, best = timed(find, runs)  # type: ignore[misc]
    ok = (previous == PREVIOUS and len(found.pulls) == generated.prs
          and len(found.direct_commits) == generated.direct
          and {c.rsplit("<", 1)[1].rstrip(">") for c in found.new_contributors} == generated.new_authors)
    print(f"previous_tag + release_range   first {first:6.3f} s   best of {runs} {best:6.3f} s   "
          f"previous {previous}  PRs {len(found.pulls)}  direct {len(found.direct_commits)}  "
          f"contributors {len(found.contributors)} (new {len(found.new_contributors)})  "
          f"{'as generated' if ok else 'MISMATCH with the generated repository'}")

    # The whole git-only drafting, end to end: range + compose + render + completeness check.
    (repo / "nightcrew.toml").write_text(f'[forge]\nweb_url = "{WEB_URL}"\n', encoding="utf-8")
    config = jobs.config.load(repo=repo)
    timings: list[tuple[float, dict[str, float]]] = []
    result = None
    for _ in range(runs):
        with stage_timers(RUN_STAGES) as spent:
            started = time.perf_counter()
            result = jobs.release_notes.run(repo, config, tag=TAG, forge_kind="local", dry_run=True)
            timings.append((time.perf_counter() - started, spent))
    assert result is not None
    first, best = timings[0][0], min(t for t, _ in timings)
    prs, direct = _note_counts(result.note)
    text = result.note.text
    drafted = (result.note.previous_tag == PREVIOUS and prs == generated.prs and direct == generated.direct
               and not result.problems and result.api_requests == 0 and f"{WEB_URL}/pull/{FIRST_PR}" in text
               and f"{WEB_URL}/compare/{PREVIOUS}...{TAG}" in text)  # fmt: skip
    print(f"release_notes.run (local, dry run)   first {first:6.3f} s   best of {runs} {best:6.3f} s   "
          f"previous {result.note.previous_tag}  PR items {prs}  direct items {direct}  "
          f"contributors {len(result.note.contributors)} (new {len(result.note.new_contributors)})  "
          f"draft {len(text.splitlines())} lines / {len(text) // 1024} KiB  problems {len(result.problems)}  "
          f"{'complete, links from web_url' if drafted else 'NOT as generated: ' + '; '.join(result.problems[:3])}")
    best_total, best_spent = min(timings, key=lambda pair: pair[0])
    print(f"where the time goes (best run, {best_total:.3f} s; stages timed inside the run):")
    print_split(best_spent, best_total, {"render (Jinja)": "compose"})
    if runs > 1:
        first_total, first_spent = timings[0]
        range_seconds = first_spent["previous tag"] + first_spent["range (git log)"]
        print(f"first run ({first_total:.3f} s): range {range_seconds:.3f} s"
              f", compose + render {first_spent['compose']:.3f} s (render {first_spent['render (Jinja)']:.3f} s)")
    ok = ok and drafted
    verdict = "met" if first < TARGET_SECONDS and best < TARGET_SECONDS and ok else "NOT met"
    print(f"target: git-only drafting < {TARGET_SECONDS:.0f} s  ->  {verdict} (first {first:.3f} s, best {best:.3f} s, "
          f"{os.cpu_count()} cpus)")
    return ok and first < TARGET_SECONDS and best < TARGET_SECONDS


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def seed_pulls(server: Any, generated: Generated) -> tuple[int, int]:
    """The range's PRs (merged at their merge commit's time, after PREVIOUS) and the older ones (#1..#500,
    merged before PREVIOUS; every tenth updated after it, as a late comment or label does) in the stand-in.
    Returns (range PRs, older PRs)."""
    previous = _utc(generated.previous_epoch)
    for k in range(1, OLDER_PRS + 1):
        merged = previous - timedelta(hours=2 * (OLDER_PRS + 1 - k))
        updated = previous + timedelta(days=1 + k % 7) if k % 10 == 0 else None
        server.add_merged_pull(f"Older change {k}", f"Closes #{k + 2000}." if k % 3 == 0 else "", number=k,
                               author=person(k % 60)[1].split("@")[0], merged_at=merged, updated_at=updated,
                               labels=["enhancement"] if k % 2 else [])  # fmt: skip
    for number, (title, login, epoch) in sorted(generated.pulls.items()):
        body = f"Implements the feature.\n\nCloses #{number + 2000}\n" if number % 4 == 0 else "Implements it.\n"
        labels = ["bug"] if number % 5 == 0 else ["enhancement"] if number % 5 == 1 else []
        server.add_merged_pull(title, body, number=number, author=login, merged_at=_utc(epoch), labels=labels,
                               head=f"{login}/topic-{number}")  # fmt: skip
    return len(generated.pulls), OLDER_PRS


def enrichment_section(generated: Generated, runs: int) -> bool:
    import jobs.dependency_updates
    from tests.support.github_server import GitHubStandIn

    repo = generated.path
    print("\n== enrichment (GitHub stand-in) ==")
    bare = repo.parent / "bare.git"
    if bare.exists():
        shutil.rmtree(bare)
    subprocess.run(["git", "clone", "--bare", "--quiet", str(repo), str(bare)], check=True)
    target = generated.prs // 100 + ENRICH_CONSTANT
    with GitHubStandIn(bare, "acme/widgets") as server:
        started = time.perf_counter()
        in_range, older = seed_pulls(server, generated)
        seeded = time.perf_counter() - started
        config_file = repo.parent / "nightcrew-github.toml"
        config_file.write_text(f'[forge]\nkind = "github"\napi_url = "{server.api_url}"\n'
                               f'repository = "acme/widgets"\nthrottle = false\n', encoding="utf-8")  # fmt: skip
        config = jobs.config.load(config_file)
        print(f"stand-in at {server.api_url}: seeded {in_range} range PRs "
              f"(#{min(generated.pulls)}..#{max(generated.pulls)}, merged after {PREVIOUS}) and {older} older ones "
              f"(#1..#{older}, merged before it, every tenth updated after it) in {seeded:.2f} s")
        stages = {"forge setup (GET repo)": (jobs.dependency_updates, "make_forge"),
                  "previous tag's date": (jobs.release_notes, "_date_of"),
                  "enrichment (list pages)": (enrich, "enrich"), **RUN_STAGES}
        timings: list[tuple[float, dict[str, float]]] = []
        logs: list[list[Any]] = []
        result = None
        with environment(GITHUB_TOKEN="bot-token"):
            for _ in range(runs):
                server.reset_log()
                with stage_timers(stages) as spent:
                    started = time.perf_counter()
                    result = jobs.release_notes.run(repo, config, tag=TAG, forge_kind="github", dry_run=True)
                    timings.append((time.perf_counter() - started, spent))
                logs.append(server.requests)
    assert result is not None
    log = logs[-1]
    first, best = timings[0][0], min(t for t, _ in timings)
    prs, direct = _note_counts(result.note)
    items = [item for _, group in result.note.categories for item in group if item.pr is not None]
    enriched = sum(1 for item in items if item.author == generated.pulls[item.pr][1])
    with_issues = sum(1 for item in items if item.issues == (item.pr + 2000,))
    expected_issues = sum(1 for n in generated.pulls if n % 4 == 0)
    correct = (prs == generated.prs and direct == generated.direct and not result.problems
               and enriched == generated.prs and with_issues == expected_issues)  # fmt: skip
    print(f"release_notes.run (github, dry run)   first {first:6.3f} s   best of {runs} {best:6.3f} s   "
          f"PR items {prs}  with the forge's author {enriched}  with closed issues {with_issues}/{expected_issues}  "
          f"problems {len(result.problems)}  "
          f"{'complete' if correct else 'NOT as seeded: ' + '; '.join(result.problems[:3])}")
    counts = sorted({len(entries) for entries in logs})
    print(f"API requests: api_requests {result.api_requests} (enrichment), stand-in log {len(log)} per run "
          f"(every run: {', '.join(map(str, counts))})")
    for record in log:
        query = "&".join(f"{k}={v}" for k, v in sorted(record.query.items()))
        print(f"  {record.method} {record.path}{'?' + query if query else ''}  -> {record.status}")
    best_total, best_spent = min(timings, key=lambda pair: pair[0])
    print(f"where the time goes (best run, {best_total:.3f} s):")
    print_split(best_spent, best_total, {"render (Jinja)": "compose"})
    met = result.api_requests <= target and len(log) <= target and max(counts) <= target
    print(f"target: at most {generated.prs} PRs / 100 + {ENRICH_CONSTANT} = {target} API requests  ->  "
          f"{'met' if met and correct else 'NOT met'} (api_requests {result.api_requests}, stand-in log {len(log)})")
    return met and correct


SECTIONS: list[tuple[str, Callable[[Generated, int], bool]]] = [
    ("git-only", git_only_section),
    ("enrichment", enrichment_section),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="generate the repository here and keep it")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure (best and first shown)")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nightcrew-bench-notes-"))
    try:
        repo = folder / "repo"
        if repo.exists():
            shutil.rmtree(repo)
        generated = generate(repo)
        print(f"generated {generated.commits} commits in {generated.seconds:.2f} s: range {PREVIOUS}..{TAG} has "
              f"{generated.range_commits} commits, {generated.first_parent} first-parent, {generated.prs} PRs "
              f"({MERGE_PRS} merge commits, {SQUASH_PRS} squash), {generated.direct} direct, "
              f"{len(generated.authors)} PR authors ({len(generated.new_authors)} new)")
        results = [section(generated, args.runs) for _, section in SECTIONS]
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
