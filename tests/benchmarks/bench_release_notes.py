"""Release-notes benchmark: a generated repository with 5,000 commits and 1,000 PRs between two tags.

Run: python tests/benchmarks/bench_release_notes.py [--keep DIR] [--runs N]
(targets: git-only drafting < 2 s; enrichment: at most one API request per 100 PRs plus a constant)

The repository is written in one ``git fast-import`` stream (no working tree, a second or so): 1,000 commits
and 60 release tags of earlier history up to ``v1.0.0``, then the measured range ``v1.0.0..v2.0.0`` of 5,000
commits: 500 PRs merged with a merge commit (1 to 5 commits each on the PR branch), 500 squash-merged PRs
(``Title (#N)``), and direct commits; a pre-release tag ``v2.0.0-rc.1`` inside the range (skipped for the
final release), monorepo-style tags and a higher tag off the released history (both ignored).

Sections (each prints its own figures; add one to ``SECTIONS``):

* git-only: ``previous_tag`` + ``release_range``, then the whole git-only drafting when
  ``jobs.releases.compose`` offers a git-only entry point (otherwise said to be not yet available).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs.releases.history import previous_tag, release_range  # noqa: E402

TAG, PREVIOUS = "v2.0.0", "v1.0.0"
RANGE_COMMITS = 5_000
MERGE_PRS = 500
SQUASH_PRS = 500
HISTORY_COMMITS = 1_000
OLD_TAGS = 60
TARGET_SECONDS = 2.0
REPO_URL = "https://github.com/bench/project"


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
    s.tag("v1.0.0-rc.1", main)  # type: ignore[arg-type]
    out.commits = HISTORY_COMMITS

    # the range: 1,000 PR slots and direct commits spread between them, 5,000 commits in all
    branch_sizes = [1 + (k * 7) % 5 for k in range(MERGE_PRS)]  # 1..5, 3 on average
    merge_commits_total = sum(branch_sizes) + MERGE_PRS
    direct_total = RANGE_COMMITS - merge_commits_total - SQUASH_PRS
    slots = ["merge"] * MERGE_PRS + ["squash"] * SQUASH_PRS
    slots = [slots[(k * 389) % len(slots)] for k in range(len(slots))]  # 389 is prime to 1,000: a permutation
    direct_after = [direct_total // len(slots) + (1 if k < direct_total % len(slots) else 0) for k in range(len(slots))]
    number, merges_done = 100, 0
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
        else:
            on_main(f"feat(core): squash-merged feature {number} (#{number})\n\n* wip\n* more wip\n", author)
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


def _compose_entry() -> tuple[Callable[..., object] | None, str]:
    """The git-only drafting entry point of ``jobs.releases.compose``, if there is one yet."""
    try:
        module = importlib.import_module("jobs.releases.compose")
    except ModuleNotFoundError as exc:
        if exc.name == "jobs.releases.compose":
            return None, "jobs/releases/compose.py does not exist yet"
        raise
    for name in ("compose_git_only", "draft_git_only", "git_only_draft"):
        entry = getattr(module, name, None)
        if callable(entry):
            return entry, name
    return None, "jobs.releases.compose has no compose_git_only(...)-like entry point"


def _call_compose(entry: Callable[..., object], repo: Path) -> object:
    """Call the entry point with the arguments its signature names (repo, tag, previous tag, repository URL)."""
    offered = {"repo": repo, "repository": repo, "path": repo, "tag": TAG, "previous": None, "previous_tag": None,
               "repo_url": REPO_URL, "web_url": REPO_URL}
    params = inspect.signature(entry).parameters
    kwargs = {name: offered[name] for name in params if name in offered}
    missing = [n for n, p in params.items() if p.default is p.empty and n not in kwargs
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if missing:
        raise TypeError(f"does not know how to pass {', '.join(missing)}")
    return entry(**kwargs)


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
    total = best

    entry, what = _compose_entry()
    if entry is None:
        print(f"whole git-only drafting          not yet available ({what})")
    else:
        try:
            _, first, best = timed(lambda: _call_compose(entry, repo), runs)
        except TypeError as exc:
            print(f"whole git-only drafting          not measured: {what}() {exc}")
        else:
            print(f"whole git-only drafting ({what})  first {first:6.3f} s   best of {runs} {best:6.3f} s")
            total = best
    verdict = "met" if total < TARGET_SECONDS and ok else "NOT met"
    print(f"target: git-only drafting < {TARGET_SECONDS:.0f} s  ->  {verdict} ({total:.3f} s, {os.cpu_count()} cpus)")
    return ok and total < TARGET_SECONDS


# A second section (API requests for enrichment against the GitHub stand-in) is appended here.
SECTIONS: list[tuple[str, Callable[[Generated, int], bool]]] = [("git-only", git_only_section)]


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
