"""Versions of GitHub Actions and pre-commit hooks: the tags of their repositories.

With ``git ls-remote --tags`` (one round trip for every tag, no token, any git host, ``file://`` too), and
through the GitHub API when that fails and a token is set for the GitHub server (a private repository; one
request per 100 tags, at most 1,000 tags). Each tag that reads as a
version becomes one entry of a ``ProjectPage``: ``filename`` is the tag, ``url`` the commit it points to (an
annotated tag's target). The few newest tags above each pin get a date (the tagger's, else the commit's) from one
shallow fetch of just those tags, so the cooldown holds a tag made or moved a moment ago; a tag without a date
counts as of unknown age (``[updates.cooldown] unknown_age``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from datetime import datetime

from jobs.errors import NightcrewError, PackageIndexError
from jobs.manifests.pins import tag_version
from jobs.models import Dependency, DistributionFile, ProjectPage
from jobs.tools.redact import redact

DEFAULT_SERVER = "https://github.com"


def repository_url(dep: Dependency, server: str) -> str:
    """Where the dependency's tags live: its source URL, or ``owner/repo`` on the GitHub server."""
    source = dep.source or dep.name
    if "://" in source or source.startswith("git@") or os.path.isabs(source):
        return source
    return f"{server.rstrip('/')}/{'/'.join(source.split('/')[:2])}"


def github_repository(url: str, server: str) -> str | None:
    """``owner/repo`` of a URL on the GitHub server, else None."""
    try:
        there, here = urlsplit(url), urlsplit(server)
    except ValueError:
        return None
    if there.scheme not in ("http", "https") or (there.hostname or "").lower() != (here.hostname or "").lower():
        return None
    parts = there.path.strip("/").removesuffix(".git").split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 and all(parts[:2]) else None


def page_of(name: str, url: str, tags: Iterable[tuple[str, str]]) -> ProjectPage:
    files = []
    for tag, sha in tags:
        version = tag_version(tag)
        if version is not None:
            files.append(DistributionFile(filename=tag, url=sha, version=version))
    return ProjectPage(name, url, tuple(sorted(files, key=lambda f: (f.version, f.filename))))


def ls_remote(url: str, *, timeout: float, secrets: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(tag, commit) pairs of ``git ls-remote --tags url``; peeled (``^{}``) entries give an annotated tag's
    commit. Never asks for anything (no credential, passphrase or host-key prompt: a private repository fails at
    once) and leaves no helper process behind on a timeout. Raises ``PackageIndexError`` with git's own message."""
    import signal
    from urllib.parse import urlsplit as split

    try:  # credentials written into the URL itself are secrets too, wherever git repeats them
        parts = split(url)
        secrets = (*secrets, *(x for x in (parts.password, parts.username) if x))
    except ValueError:
        pass
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true",
           "GCM_INTERACTIVE": "never", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"}
    try:
        proc = subprocess.Popen(["git", "ls-remote", "--tags", "--", url], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    except OSError as exc:
        raise PackageIndexError(f"git ls-remote: {exc.strerror}") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # git and its remote helper (git-remote-https, ssh)
        except OSError:
            proc.kill()
        proc.communicate()
        raise PackageIndexError(f"git ls-remote --tags {redact(url, secrets)}: no answer in {timeout:g} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        message = "; ".join(line.removeprefix("fatal: ") for line in lines[-2:]) or f"exit {proc.returncode}"
        raise PackageIndexError(redact(f"git ls-remote --tags {url}: {message}", secrets))
    plain: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        tag = ref.removeprefix("refs/tags/")
        if tag.endswith("^{}"):
            peeled[tag[:-3]] = sha
        else:
            plain[tag] = sha
    return [(tag, peeled.get(tag, sha)) for tag, sha in plain.items()]


_QUIET_GIT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true", "GCM_INTERACTIVE": "never",
              "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"}


def tag_dates(url: str, tags: Iterable[str], *, timeout: float) -> dict[str, datetime]:
    """When each tag was made: an annotated tag's tagger date, else its commit's committer date. One shallow fetch
    of just those tags (no file contents where the server can filter them) into a scratch repository; {} when the
    fetch fails (the tags then count as of unknown age)."""
    import tempfile

    wanted = sorted(set(tags))
    if not wanted:
        return {}
    env = {**os.environ, **_QUIET_GIT}
    with tempfile.TemporaryDirectory(prefix="nightcrew-tags-") as scratch:
        def git(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["git", "-C", scratch, *args], capture_output=True, text=True, env=env,
                                  timeout=timeout, stdin=subprocess.DEVNULL, check=False)

        try:
            git("init", "-q", "--bare")
            refspecs = [f"+refs/tags/{tag}:refs/tags/{tag}" for tag in wanted]
            fetched = git("-c", "protocol.version=2", "fetch", "-q", "--depth=1", "--filter=blob:none",
                          "--no-tags", "--", url, *refspecs)
            if fetched.returncode != 0:
                return {}
            listing = git("for-each-ref", "--format=%(refname:strip=2)%09%(taggerdate:iso-strict)%09"
                          "%(*committerdate:iso-strict)%09%(committerdate:iso-strict)", "refs/tags")
        except (OSError, subprocess.TimeoutExpired):
            return {}
    dates: dict[str, datetime] = {}
    for line in listing.stdout.splitlines():
        tag, *stamps = line.split("\t")
        stamp = next((s for s in stamps if s), None)
        if stamp:
            try:
                dates[tag] = datetime.fromisoformat(stamp)
            except ValueError:
                continue
    return dates


class TagSource:
    """The tag pages of the pin dependencies of one scan."""

    def __init__(self, *, reader=None, server: str = "", timeout: float = 30,  # type: ignore[no-untyped-def]
                 secrets: tuple[str, ...] = (), date_newest: int = 3) -> None:
        self.reader = reader  # jobs.forges.github.GitHubReader with a token, or None
        self.server = (server or os.environ.get("GITHUB_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        self.timeout = timeout
        self.secrets = secrets
        self.requests = 0
        self.date_newest = date_newest

    def pages(self, deps: Iterable[Dependency]) -> Mapping[str, ProjectPage | PackageIndexError]:
        found: dict[str, ProjectPage | PackageIndexError] = {}
        by_url: dict[str, ProjectPage | PackageIndexError] = {}
        for dep in deps:
            if dep.name in found:
                continue
            url = repository_url(dep, self.server)
            if url not in by_url:
                by_url[url] = self._page(dep.name, url)
            page = by_url[url]
            found[dep.name] = page if isinstance(page, PackageIndexError) else ProjectPage(dep.name, url, page.files)
        if self.date_newest:
            self._date(found, [d for d in deps if d.name in found])
        return found

    def _date(self, pages: dict[str, ProjectPage | PackageIndexError], deps: list[Dependency]) -> None:
        """Give the newest few tags above each pin a date (``upload_time``), so the cooldown holds a tag made (or
        moved) a moment ago as it holds a fresh upload: the tags a run could propose, ``date_newest`` per pin."""
        from dataclasses import replace

        from jobs.manifests.pins import at_depth

        wanted: dict[str, set[str]] = {}
        for dep in deps:
            page = pages[dep.name]
            if not isinstance(page, ProjectPage) or not dep.pep440:
                continue
            current = tag_version(dep.pep440.removeprefix("=="))
            newer = sorted((f for f in at_depth(dep, page).files if current is None or f.version > current),
                           key=lambda f: f.version, reverse=True)
            wanted.setdefault(page.url, set()).update(f.filename for f in newer[: self.date_newest])
        for url, tags in wanted.items():
            dates = tag_dates(url, tags, timeout=self.timeout)
            if not dates:
                continue
            for name, page in list(pages.items()):
                if isinstance(page, ProjectPage) and page.url == url:
                    pages[name] = replace(page, files=tuple(
                        replace(f, upload_time=dates[f.filename]) if f.filename in dates else f for f in page.files))

    def _page(self, name: str, url: str) -> ProjectPage | PackageIndexError:
        """``git ls-remote`` first (one round trip, every tag); the GitHub API when that fails and a token may
        read the repository (a private one)."""
        self.requests += 1
        try:
            return page_of(name, url, ls_remote(url, timeout=self.timeout, secrets=self.secrets))
        except PackageIndexError as exc:
            failure = exc
        repository = github_repository(url, self.server) if self.reader is not None else None
        if repository is None:
            return failure
        try:
            return page_of(name, url, self.reader.tags(repository))
        except NightcrewError as exc:
            return PackageIndexError(f"{failure.message}; GitHub API: {exc}")
