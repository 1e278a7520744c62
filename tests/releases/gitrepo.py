"""A real repository built commit by commit with ``git commit-tree`` for the release-notes tests (no working tree
needed, identities and dates through the environment of each call, never the user's configuration)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ALICE = ("Alice Maintainer", "alice@example.org")
BOB = ("Bob Builder", "bob@example.org")
CAROL = ("Carol Newcomer", "carol@example.org")
DAN = ("Dan Drive-by", "dan@example.org")


class Repo:
    """A repository built commit by commit with ``commit-tree``; ``main`` is the branch being released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, HOME=str(path))
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.tree = self.git("mktree", stdin="")
        self.main: str | None = None

    def git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, input=stdin,
                              env={**self.env, **(env or {})}, check=True)
        return proc.stdout.strip()

    def commit(self, message: str, author: tuple[str, str] = ALICE, parents: tuple[str | None, ...] | None = None,
               *, advance: bool = True) -> str:
        self.clock += 60
        when = f"{self.clock} +0000"
        identity = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": when,
                    "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com",
                    "GIT_COMMITTER_DATE": when}
        parents = (self.main,) if parents is None else parents
        args = [arg for p in parents if p for arg in ("-p", p)]
        sha = self.git("commit-tree", self.tree, *args, stdin=message, env=identity)
        if advance:
            self.main = sha
            self.git("update-ref", "refs/heads/main", sha)
        return sha

    def branch(self, messages: list[str], author: tuple[str, str], base: str | None = None) -> str:
        """Commits on a side branch from ``base`` (main's tip); the branch tip's sha."""
        tip = base or self.main
        for message in messages:
            tip = self.commit(message, author, (tip,), advance=False)
        return tip

    def merge_pr(self, number: int, title: str, author: tuple[str, str], *, commits: int = 2,
                 merger: tuple[str, str] = ALICE, branch: str = "feature") -> str:
        tip = self.branch([f"wip {number}.{i}" for i in range(commits)], author)
        body = f"\n\n{title}\n" if title else "\n"
        return self.commit(f"Merge pull request #{number} from {author[1].split('@')[0]}/{branch}{body}", merger,
                           (self.main, tip))

    def squash(self, number: int, title: str, author: tuple[str, str]) -> str:
        return self.commit(f"{title} (#{number})\n\n* wip\n\nCo-authored-by: x <x@example.org>\n", author)

    def tag(self, name: str, sha: str | None = None, *, annotated: bool = False) -> None:
        args = ["-a", "-m", f"release {name}"] if annotated else []
        self.git("tag", *args, name, sha or self.main or "", env={"GIT_COMMITTER_NAME": "r",
                                                                   "GIT_COMMITTER_EMAIL": "r@example.org"})

    def first_parent(self, spec: str) -> list[str]:
        return self.git("log", "--first-parent", "--reverse", "--format=%H", spec).split()
