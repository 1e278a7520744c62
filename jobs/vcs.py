"""Git for the update job: worktrees at the base, one commit per change, guarded pushes, merged checks."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from jobs.errors import NightcrewError
from jobs.tools.redact import redact


class GitError(NightcrewError):
    """A git command failed; the message is git's own error, whole, on one line, with secrets removed."""


_ERROR_PREFIXES = ("fatal:", "error:", "remote: error:", "! [", " ! [")
# git push --porcelain writes a refused ref on standard output: "!<TAB>src:dst<TAB>[remote rejected] (why)"
_PORCELAIN_REJECTED = re.compile(r"^!\t[^\t]*\t(\[[^\]]*\].*)$")
# a hook's own words come as "remote: ..." lines, between git's progress lines
_REMOTE_PROGRESS = re.compile(r"^remote: *(Counting|Compressing|Enumerating|Total|Resolving|Writing|Delta|$)")


def error_line(output: str, returncode: int) -> str:
    """git's error as one line: its ``fatal:``/``error:`` lines (and rejected refs) joined, else the last
    paragraph it printed, joined; never a trailing fragment of a wrapped hint."""
    lines = [line.rstrip() for line in output.splitlines()]
    picked = [line.strip() for line in lines if line.lstrip().startswith(_ERROR_PREFIXES)]
    if not picked:
        paragraphs = [block.split("\n") for block in re.split(r"\n\s*\n", "\n".join(lines).strip()) if block.strip()]
        picked = [line.strip() for line in paragraphs[-1]] if paragraphs else []
    if not picked:
        return f"exit {returncode}"
    text = "; ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in picked)
    return text if len(text) <= 500 else text[:497] + "..."


class PushRejected(GitError):
    """The remote refused the push (someone else moved the branch, a hook said no, no permission)."""


@dataclass(frozen=True)
class Author:
    name: str
    email: str


class Git:
    """A repository on disk, driven through the git command line (what GitPython's ``repo.git`` does too).

    ``env`` is added to every git call: how a forge authenticates pushes (``GIT_CONFIG_*`` headers) without
    a token in any URL or argument; ``secrets`` are removed from every error.
    """

    def __init__(self, path: Path, *, env: Mapping[str, str] | None = None, secrets: Sequence[str] = (),
                 timeout: int = 600) -> None:
        self.path = path
        self.timeout = timeout
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        self.secrets = tuple(secrets)

    def _exec(self, args: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None,
              stdin: str | None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", *args], cwd=cwd or self.path, capture_output=True, text=True, input=stdin,
                env={**self.env, **(env or {})}, timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"no answer within {self.timeout}s", f"git {args[0]}") from None
        except OSError as exc:
            raise GitError(f"cannot run git ({exc.strerror})", f"git {args[0]}") from None

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, env: Mapping[str, str] | None = None,
            error: type[GitError] = GitError, stdin: str | None = None) -> str:
        proc = self._exec(args, cwd, env, stdin)
        if check and proc.returncode != 0:
            output = proc.stderr or proc.stdout or ""
            if args[:1] == ("push",):  # why a remote refused: its rejection status and a hook's words
                why = [m[1] for m in map(_PORCELAIN_REJECTED.match, (proc.stdout or "").splitlines()) if m]
                why += [line.strip() for line in (proc.stderr or "").splitlines() if line.startswith("remote:")
                        and not _REMOTE_PROGRESS.match(line) and not line.startswith("remote: error:")]
                output = "\n".join(why + [output]) if why else output
                why_line = "; ".join(why)
                message = error_line(output, proc.returncode)
                if why_line and why_line not in message:
                    message = f"{error_line(proc.stderr or proc.stdout or '', proc.returncode)}: {why_line}"[:500]
                raise error(redact(message, self.secrets), f"git {args[0]}")
            message = error_line(output, proc.returncode)
            raise error(redact(message, self.secrets), f"git {args[0]}")
        return proc.stdout.strip()

    # -- reading ---------------------------------------------------------------------------------

    def current_branch(self) -> str:
        return self.run("rev-parse", "--abbrev-ref", "HEAD")

    def sha(self, ref: str) -> str | None:
        out = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return out or None

    def remote_sha(self, remote: str, branch: str) -> str | None:
        """The branch's commit on ``remote`` right now (None when it does not exist there)."""
        out = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}")
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def is_repository(self) -> bool:
        return self._exec(["rev-parse", "--git-dir"], None, None, None).returncode == 0

    def remotes(self) -> list[str]:
        """The names of the repository's remotes."""
        return self.run("remote").split()

    def remote_url(self, remote: str) -> str | None:
        proc = self._exec(["remote", "get-url", remote], None, None, None)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def fetch_branch(self, remote: str, branch: str) -> str:
        """Fetch ``remote``'s branch into a private ref and return that ref's name."""
        ref = f"refs/nightcrew/remotes/{remote}/{branch}"
        self.run("fetch", "--no-tags", "--quiet", remote, f"+refs/heads/{branch}:{ref}")
        return ref

    def authors_since(self, base: str, tip: str) -> list[tuple[str, str]]:
        """(author e-mail, committer e-mail) of each commit on ``tip`` that ``base`` does not have."""
        out = self.run("log", "--format=%ae%x00%ce", f"{base}..{tip}")
        return [tuple(line.split("\x00", 1)) for line in out.splitlines() if line]  # type: ignore[misc]

    def foreign_commits(self, base: str, tip: str, bot_email: str) -> list[str]:
        """E-mails of people other than the bot who wrote or committed on ``tip`` since ``base``."""
        others = {email for pair in self.authors_since(base, tip) for email in pair if email != bot_email}
        return sorted(others)

    def is_ancestor(self, commit: str, of: str) -> bool:
        return self._exec(["merge-base", "--is-ancestor", commit, of], None, None, None).returncode == 0

    def tree_of(self, ref: str) -> str:
        return self.run("rev-parse", f"{ref}^{{tree}}")

    def file_at(self, ref: str, path: str) -> str | None:
        """A file's text at ``ref`` (None when it is not there), exactly as committed."""
        # bytes, not text mode: text mode would turn CRLF into LF
        proc = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=self.path, capture_output=True, env=self.env,
                              timeout=self.timeout)
        return proc.stdout.decode("utf-8", errors="surrogateescape") if proc.returncode == 0 else None

    def export(self, ref: str, dest: Path) -> None:
        """The files of ``ref`` written to ``dest`` (no checkout, no change to the repository)."""
        try:
            proc = subprocess.run(["git", "archive", "--format=tar", ref], cwd=self.path, capture_output=True,
                                  env=self.env, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise GitError(f"no answer within {self.timeout}s", "git archive") from None
        if proc.returncode != 0:
            raise GitError(redact(proc.stderr.decode(errors="replace").strip() or "archive failed", self.secrets),
                           "git archive")
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
            archive.extractall(dest, filter="data")

    def exclude(self, pattern: str) -> None:
        """Keep ``pattern`` out of ``git status`` for this clone only (``.git/info/exclude``)."""
        path = Path(self.run("rev-parse", "--git-path", "info/exclude"))
        path = path if path.is_absolute() else self.path / path
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if pattern not in text.splitlines():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(("" if not text or text.endswith("\n") else "\n") + pattern + "\n")

    def keep_out(self, *paths: Path) -> None:
        """Exclude nightcrew's own files under the repository from git (paths outside it are left alone)."""
        for path in paths:
            try:
                self.exclude(path.resolve().relative_to(self.path.resolve()).as_posix() + "/")
            except ValueError:
                continue

    # -- writing ---------------------------------------------------------------------------------

    @contextmanager
    def worktree(self, base: str) -> Iterator[Path]:
        """A temporary, detached worktree at ``base``; removed afterwards whatever happens."""
        folder = Path(tempfile.mkdtemp(prefix="nightcrew-wt-"))
        self.run("worktree", "add", "--detach", "--quiet", str(folder), base)
        try:
            yield folder
        finally:
            self.run("worktree", "remove", "--force", str(folder), check=False)
            shutil.rmtree(folder, ignore_errors=True)
            self.run("worktree", "prune", check=False)

    def commit(self, worktree: Path, files: Sequence[str], message: str, author: Author) -> str:
        """Commit ``files`` (already written in ``worktree``) as ``author``; return the new commit's sha."""
        self.run("add", "--", *files, cwd=worktree)
        identity = {
            "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
        }
        self.run("commit", "--quiet", "--no-verify", "-F", "-", cwd=worktree, env=identity, stdin=message)
        return self.run("rev-parse", "HEAD", cwd=worktree)

    def set_branch(self, branch: str, sha: str) -> None:
        self.run("branch", "--force", "--quiet", branch, sha)

    def push(self, remote: str, branch: str, sha: str, expected: str | None) -> None:
        """Push ``sha`` to ``remote``'s ``branch`` only if the branch is still at ``expected`` (None: absent)."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        self.run("push", "--quiet", "--porcelain", lease, remote, f"{sha}:refs/heads/{branch}", error=PushRejected)
