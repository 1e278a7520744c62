"""A loopback stand-in for GitHub's REST API (pulls, issues, labels, releases, contents) over real bare git repos,
plus the two GraphQL mutations that change a pull request's draft state (REST cannot)."""

from __future__ import annotations

import base64
import hashlib
import http
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .loopback import Fault, LoopbackHandler, LoopbackServer

__all__ = ["GitHubStandIn", "RequestRecord", "ApiError", "git", "seed_bare_repo", "commit_files"]

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
GRAPHQL_DOCS = "https://docs.github.com/graphql"
_PREFIX = "/api/v3"  # GitHub Enterprise serves the API under /api/v3; api.github.com serves it at the root
_GRAPHQL = "/graphql"  # GraphQL: /api/graphql beside /api/v3 on GitHub Enterprise, api.github.com/graphql otherwise
_JSON = "application/json; charset=utf-8"
_ANONYMOUS_LIMIT = 60
_R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
# Configuration that would change git's behaviour (signing, hooks paths, merge drivers) must not leak in from the
# developer's machine: every git call below sees only the repository's own config.
_GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


# -- git -------------------------------------------------------------------------------------------


def git(git_dir: Path | str | None, *args: str, input: str | None = None, env: Mapping[str, str] | None = None,
        cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run git hermetically (no global/system config); ``git_dir`` None runs in ``cwd``."""
    cmd = ["git"] + (["--git-dir", str(git_dir)] if git_dir is not None else []) + list(args)
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30, cwd=cwd,
                          env={**os.environ, **_GIT_ENV, **(env or {})})  # fmt: skip
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _git_bytes(git_dir: Path, *args: str) -> bytes:
    """``git`` for binary output (blob contents), as hermetic as ``git``."""
    proc = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, timeout=30,
                          env={**os.environ, **_GIT_ENV})  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def seed_bare_repo(bare: Path, branch: str = "main", files: Mapping[str, str] | None = None) -> str:
    """``git init --bare`` at ``bare`` and push one commit to ``branch`` from a throwaway clone; returns its sha."""
    git(None, "init", "--quiet", "--bare", "-b", branch, str(bare))
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        work = Path(tmp) / "work"
        git(None, "clone", "--quiet", str(bare), str(work))
        for key, value in (("user.name", "Seed Author"), ("user.email", "seed@example.com")):
            git(None, "config", key, value, cwd=work)  # local to the clone: global config stays untouched
        for rel, text in (files or {"README.md": "# widgets\n", "requirements.txt": "requests==2.31.0\n"}).items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
        git(None, "add", "-A", cwd=work)
        git(None, "commit", "--quiet", "-m", "Initial commit", cwd=work)
        git(None, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git(bare, "rev-parse", f"refs/heads/{branch}").stdout.strip()


def commit_files(bare: Path, branch: str, files: Mapping[str, str], message: str = "Bump dependencies",
                 base: str = "main", author: tuple[str, str] = ("nightcrew", "bot@nightcrew.test")) -> str:  # fmt: skip
    """Commit ``files`` on top of ``branch`` (or ``base`` if it does not exist yet) with git plumbing; returns the sha.

    This is what a push does to the bare repo, minus the transport: real objects, a real ref update.
    """
    tip = git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False).stdout.strip()
    parent = tip or git(bare, "rev-parse", "--verify", f"refs/heads/{base}^{{commit}}").stdout.strip()
    with tempfile.TemporaryDirectory(prefix="idx-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
               "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1]}  # fmt: skip
        git(bare, "read-tree", parent, env=env)
        for rel, text in files.items():
            blob = git(bare, "hash-object", "-w", "--stdin", input=text).stdout.strip()
            git(bare, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        tree = git(bare, "write-tree", env=env).stdout.strip()
        sha = git(bare, "commit-tree", tree, "-p", parent, "-m", message, env=env).stdout.strip()
    git(bare, "update-ref", f"refs/heads/{branch}", sha)
    return sha


def _collapse(path: str) -> str:
    """``a/b/../c`` -> ``a/c``; "" when ``..`` climbs above the top."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                return ""
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# -- state -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One answered request; ``path`` has no /api/v3 prefix and is percent-decoded, ``body`` is the parsed JSON."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    login: str | None
    body: Any
    prefixed: bool
    headers: dict[str, str]
    response_headers: dict[str, str]
    duration: float


class ApiError(Exception):
    """Raised by a handler to answer with a GitHub-shaped error body."""

    def __init__(self, status: int, payload: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, payload)
        self.status, self.payload, self.headers = status, payload, headers or {}


def _err(status: int, message: str, doc: str = DOCS) -> ApiError:
    return ApiError(status, {"message": message, "documentation_url": doc})


def _invalid(resource: str, code: str, field: str | None = None, message: str | None = None) -> ApiError:
    error: dict[str, str] = {"resource": resource, "code": code}
    if field:
        error["field"] = field
    if message:
        error["message"] = message
    return ApiError(422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS})


def _not_found() -> ApiError:
    return _err(404, "Not Found")


@dataclass
class _User:
    login: str
    id: int
    type: str


@dataclass
class _Label:
    id: int
    name: str
    color: str
    description: str | None


@dataclass
class _Comment:
    id: int
    issue: int
    body: str
    user: str
    created: datetime
    updated: datetime


@dataclass
class _Pull:
    id: int
    head: str
    base: str
    head_sha: str
    base_sha: str
    draft: bool
    maintainer_can_modify: bool
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    reviewers: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)


@dataclass
class _Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created: datetime
    updated: datetime
    labels: list[str] = field(default_factory=list)  # keys into GitHubStandIn._labels (lower-cased names)
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    pull: _Pull | None = None


@dataclass
class _Release:
    """One release; ``published`` is None while it is a draft."""

    id: int
    tag: str
    target: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: str
    created: datetime
    published: datetime | None


@dataclass
class _Repo:
    """A repository the stand-in serves: the main one (every endpoint) or one added by ``add_repo`` (read
    endpoints and releases only: an upstream project whose changelog is read)."""

    full_name: str
    bare: Path
    default_branch: str
    id: int
    created: datetime
    releases: dict[int, _Release]
    collaborators: set[str] | None = None  # None: the server's collaborators
    private: bool = False

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]


@dataclass
class _Fault(Fault):
    """A fault for requests whose method is ``method`` ("*": any) and whose path ``pattern`` fully matches."""

    method: str = "*"
    pattern: re.Pattern[str] = re.compile(".*")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.pattern.fullmatch(path) is not None


@dataclass
class _Ctx:
    """What a handler needs to know about the request it answers."""

    login: str
    api: str  # base for API URLs in bodies: keeps the caller's prefix style so followed links stay valid
    path: str
    query: dict[str, str]
    body: Any
    _refs: dict[str, str] | None = None
    repo: _Repo | None = None  # the repository a /repos/{owner}/{repo}/... path names


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def _node(kind: str, id_: int) -> str:
    # GitHub's legacy global node ids: base64 of "<len>:<Type><id>", e.g. MDQ6VXNlcjE= for user 1.
    return base64.b64encode(f"{len(kind):02d}:{kind}{id_}".encode()).decode()


def _token(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() not in ("token", "bearer"):
        return None
    return value.strip() or None


def _since(value: str) -> datetime:
    """A ``since`` parameter (ISO 8601, ``Z`` or an offset); GitHub answers 422 to anything else."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("Issue", "invalid", "since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default  # GitHub ignores unparsable paging parameters


def _str(body: dict[str, Any], key: str, default: Any = None) -> Any:
    value = body.get(key, default)
    if value is not None and value is not default and not isinstance(value, str):
        raise _err(422, f"Invalid request.\n\nFor 'properties/{key}', {json.dumps(value)} is not a string.")
    return value


# -- GraphQL documents -----------------------------------------------------------------------------

# The two mutations served, with the draft state each leaves behind and the verb of GitHub's permission error.
_MUTATIONS = {"convertPullRequestToDraft": (True, "convert the pull request {} to draft"),
              "markPullRequestReadyForReview": (False, "mark the pull request {} as ready for review")}  # fmt: skip
_PULL_FIELDS = {"id": "ID", "number": "Int", "isDraft": "Boolean", "title": "String", "url": "URI",
                "state": "PullRequestState", "__typename": "String"}  # fmt: skip
# What each served type answers: field -> type; a type that is a key here is an object and needs a selection.
_SCHEMA: dict[str, dict[str, str]] = {
    "PullRequest": _PULL_FIELDS,
    **{f"{m[0].upper()}{m[1:]}Payload": {"clientMutationId": "String", "pullRequest": "PullRequest",
                                          "__typename": "String"} for m in _MUTATIONS},
}  # fmt: skip
_SERVED = "the GitHub stand-in serves only the convertPullRequestToDraft and markPullRequestReadyForReview mutations"
_GQL_TOKEN = re.compile(
    r'(?P<skip>[\s,\ufeff]+|#[^\n\r]*)|(?P<block>""")|(?P<string>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<punct>\.\.\.|[!$&():=@\[\]{|}])"
)


class _GraphQLError(Exception):
    """One entry of a GraphQL ``errors`` list (its JSON fields as keyword arguments)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.entry = {"message": message, **extra}


@dataclass
class _GqlField:
    """One field of a selection set: ``alias: name(args) { selections }``; ``args`` values are parsed literals,
    with a variable as ``("$", name)``."""

    name: str
    alias: str | None
    args: dict[str, Any]
    selections: list[_GqlField] | None
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name

    @property
    def locations(self) -> list[dict[str, int]]:
        return [{"line": self.line, "column": self.column}]


class _GqlParser:
    """A parser for the subset of GraphQL the stand-in answers: one operation (query or mutation) of fields with
    arguments, aliases and nested selections; no fragments, directives or block strings."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str, int, int]] = []  # (kind, text, line, column)
        pos, line, line_start = 0, 1, 0
        while pos < len(text):
            m = _GQL_TOKEN.match(text, pos)
            column = pos - line_start + 1
            if m is None or m.lastgroup == "block":
                shown = "block string" if m else repr(text[pos])
                raise _GraphQLError(f"Parse error on {shown} at [{line}, {column}]",
                                    locations=[{"line": line, "column": column}])  # fmt: skip
            if m.lastgroup != "skip":
                self.tokens.append((cast(str, m.lastgroup), m.group(), line, column))
            for nl in re.finditer(r"\r\n|\n|\r", m.group()):
                line, line_start = line + 1, pos + nl.end()
            pos = m.end()
        self.end = ("end", "end of file", line, pos - line_start + 1)
        self.i = 0

    def _peek(self) -> tuple[str, str, int, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else self.end

    def _fail(self, token: tuple[str, str, int, int] | None = None) -> _GraphQLError:
        kind, text, line, column = token or self._peek()
        shown = f'"{text}"' if kind != "end" else "end of file"
        return _GraphQLError(f"Parse error on {shown} ({kind.upper()}) at [{line}, {column}]",
                             locations=[{"line": line, "column": column}])  # fmt: skip

    def _take(self, text: str | None = None, kind: str | None = None) -> tuple[str, str, int, int]:
        token = self._peek()
        if (text is not None and token[1] != text) or (kind is not None and token[0] != kind) or token[0] == "end":
            raise self._fail()
        self.i += 1
        return token

    def _at(self, text: str) -> bool:
        return self._peek()[0] in ("punct", "name") and self._peek()[1] == text

    def document(self) -> tuple[str, list[_GqlField]]:
        """(``query`` or ``mutation``, the operation's top-level fields)."""
        kind = "query"
        if self._peek()[0] == "name":
            kind = self._take(kind="name")[1]
            if kind in ("fragment", "subscription"):
                raise _GraphQLError(f"{kind}s are not supported: {_SERVED}")
            if kind not in ("query", "mutation"):
                raise self._fail(self.tokens[self.i - 1])
            if self._peek()[0] == "name":
                self._take(kind="name")  # the operation's name
            if self._at("("):
                self._variable_definitions()
        if self._at("@"):
            raise _GraphQLError(f"directives are not supported: {_SERVED}")
        fields = self._selection_set()
        if self._peek()[0] != "end":
            raise _GraphQLError(f"only one operation per document is supported: {_SERVED}")
        return kind, fields

    def _variable_definitions(self) -> None:
        self._take("(")
        while not self._at(")"):
            self._take("$")
            self._take(kind="name")
            self._take(":")
            self._type()
            if self._at("="):
                self._take("=")
                self._value()
        self._take(")")

    def _type(self) -> None:
        if self._at("["):
            self._take("[")
            self._type()
            self._take("]")
        else:
            self._take(kind="name")
        if self._at("!"):
            self._take("!")

    def _selection_set(self) -> list[_GqlField]:
        self._take("{")
        fields = []
        while not self._at("}"):
            if self._at("..."):
                raise _GraphQLError(f"fragments are not supported: {_SERVED}")
            _, name, line, column = self._take(kind="name")
            alias = None
            if self._at(":"):
                self._take(":")
                alias, name = name, self._take(kind="name")[1]
            args: dict[str, Any] = {}
            if self._at("("):
                self._take("(")
                while not self._at(")"):
                    arg = self._take(kind="name")[1]
                    self._take(":")
                    args[arg] = self._value()
                self._take(")")
            if self._at("@"):
                raise _GraphQLError(f"directives are not supported: {_SERVED}")
            selections = self._selection_set() if self._at("{") else None
            fields.append(_GqlField(name, alias, args, selections, line, column))
        self._take("}")
        if not fields:
            raise self._fail(self.tokens[self.i - 1])
        return fields

    def _value(self) -> Any:
        kind, text, _, _ = self._peek()
        if kind == "punct" and text == "$":
            self._take("$")
            return ("$", self._take(kind="name")[1])
        if kind == "punct" and text in ("[", "{"):
            self._take(text)
            close = "]" if text == "[" else "}"
            items: list[Any] = []
            obj: dict[str, Any] = {}
            while not self._at(close):
                if text == "[":
                    items.append(self._value())
                else:
                    key = self._take(kind="name")[1]
                    self._take(":")
                    obj[key] = self._value()
            self._take(close)
            return items if text == "[" else obj
        if kind in ("string", "number"):
            try:
                value = json.loads(text)  # GraphQL's string escapes and numbers are JSON's
            except ValueError:
                raise self._fail() from None
            self.i += 1
            return value
        if kind == "name":
            self.i += 1
            return {"true": True, "false": False, "null": None}.get(text, text)  # other names: enum values
        raise self._fail()


def _gql_check(type_name: str, fields: list[_GqlField], path: list[str]) -> None:
    """Validate ``fields`` against what the stand-in serves of ``type_name``, as GitHub validates before running."""
    served = _SCHEMA[type_name]
    for f in fields:
        where = [*path, f.key]
        if f.name not in served:
            raise _GraphQLError(f"Field '{f.name}' doesn't exist on type '{type_name}' (as far as the GitHub stand-in "
                                "knows)", path=where, locations=f.locations,
                                extensions={"code": "undefinedField", "typeName": type_name, "fieldName": f.name})
        if f.args:
            arg = next(iter(f.args))
            raise _GraphQLError(f"Field '{f.name}' doesn't accept argument '{arg}'", path=where, locations=f.locations)
        kind = served[f.name]
        if kind in _SCHEMA and f.selections is None:
            raise _GraphQLError(f"Field must have selections (field '{f.name}' returns {kind} but has no selections. "
                                f"Did you mean '{f.name} {{ ... }}'?)", path=where, locations=f.locations)
        if kind not in _SCHEMA and f.selections is not None:
            names = ", ".join(s.name for s in f.selections)
            raise _GraphQLError(f"Selections can't be made on scalars (field '{f.name}' returns {kind} but has "
                                f"selections [{names}])", path=where, locations=f.locations)
        if f.selections is not None:
            _gql_check(kind, f.selections, where)


# -- HTTP plumbing ---------------------------------------------------------------------------------


class _Handler(LoopbackHandler):
    server_version = "nightcrew-GitHubStandIn/1.0"

    def do_GET(self) -> None:
        cast(GitHubStandIn, self.server.app)._serve(self)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET


Handler = Callable[..., tuple[int, Any] | tuple[int, Any, dict[str, str]]]


class GitHubStandIn(LoopbackServer[RequestRecord]):
    """GitHub REST stand-in for one repository on 127.0.0.1:0; PRs and issues in memory, branches in ``bare_repo``.

    Tokens map to user logins; every token user and every name in ``collaborators`` may be asked for review.
    ``add_repo`` serves more repositories (read endpoints and releases), e.g. an upstream project's.
    """

    handler_class = _Handler

    def __init__(
        self,
        bare_repo: Path,
        full_name: str = "acme/widgets",
        tokens: Mapping[str, str] | None = None,
        default_branch: str = "main",
        per_page_default: int = 30,
        *,
        collaborators: Iterable[str] | None = None,
        rate_limit: int = 5000,
    ) -> None:
        super().__init__()
        self.bare = Path(bare_repo)
        self.full_name = full_name
        self.owner, self.repo_name = full_name.split("/")
        self.tokens = dict(tokens if tokens is not None else {"bot-token": "nightcrew-bot", "human-token": "alice"})
        self.default_branch = default_branch
        self.per_page_default = per_page_default
        default_collaborators = [*self.tokens.values(), "bob", "carol"]
        self.collaborators = set(collaborators if collaborators is not None else default_collaborators)
        self.rate_limit = rate_limit
        self.repo_id = 1296269
        self.created = _now()
        self._users: dict[str, _User] = {}
        self._user_ids = itertools.count(1)
        self._ids = itertools.count(1_000_001)
        self._numbers = itertools.count(1)  # issues and PRs share one number sequence, as on GitHub
        self._issues: dict[int, _Issue] = {}
        self._labels: dict[str, _Label] = {}
        self._comments: dict[int, _Comment] = {}
        self._rate: dict[str, tuple[int, int]] = {}  # token ("" = anonymous) -> (used, reset epoch)
        for login in self.tokens.values():  # token users first, so the bot is user ID 1
            self._user(login)
        self._user(self.owner, "Organization")
        self._main_releases: dict[int, _Release] = {}
        self._extra: dict[str, _Repo] = {}  # lower-cased full name -> repository added by add_repo
        # merge safety: commit statuses and check runs by sha, reviews by pull, branch protection by branch
        self._statuses: dict[str, list[dict[str, Any]]] = {}
        self._check_runs: dict[str, list[dict[str, Any]]] = {}
        self._reviews: dict[int, list[dict[str, Any]]] = {}
        self._protection: dict[str, dict[str, Any]] = {}
        self.protection_readable = True  # False: the token may not read protection (403), as without admin
        self.merge_methods = {"merge": True, "squash": True, "rebase": True}
        self._routes = self._build_routes()

    # -- urls (start/stop/port/base_url come from LoopbackServer) ----------------------------------

    @property
    def web_url(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def api_url(self) -> str:
        return self.web_url + _PREFIX

    # -- test-side controls ------------------------------------------------------------------------

    def fail(self, method: str, path_regex: str, status: int = 502, times: int | None = 1,
             body: Any = None, headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """Answer the next ``times`` matching requests (None: until clear_faults) with ``status``.

        ``method`` "*" matches any; ``path_regex`` must fully match the decoded path without the /api/v3 prefix.
        ``body``: dict/list (JSON), str/bytes (sent as is) or None for ``{"message": <reason phrase>}``.
        """
        if body is None:
            body = {"message": http.HTTPStatus(status).phrase}
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self._add_fault(_Fault("fail", times, status, raw, dict(headers or {}), method=method.upper(),
                               pattern=re.compile(path_regex)))  # fmt: skip

    def delay(self, method: str, path_regex: str, seconds: float, times: int | None = 1) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before answering them normally."""
        self._add_fault(_Fault("delay", times, seconds=seconds, method=method.upper(), pattern=re.compile(path_regex)))

    def exhaust_rate_limit(self, token: str | None = None, reset_in: float = 3600) -> None:
        """Use up the core rate limit of ``token`` (None: every token) until ``reset_in`` seconds from now."""
        reset = int(time.time() + reset_in + 0.999)
        with self._lock:
            for tok in [token] if token is not None else list(self.tokens):
                self._rate[tok] = (self.rate_limit, reset)

    def restore_rate_limit(self) -> None:
        with self._lock:
            self._rate.clear()

    def add_repo(self, full_name: str, bare_repo: Path, default_branch: str = "main", *,
                 collaborators: Iterable[str] | None = None, private: bool = False) -> None:  # fmt: skip
        """Serve another repository (e.g. an upstream project) from ``bare_repo``: ``GET /repos/{o}/{r}``,
        contents, git trees and releases; pulls, issues and labels stay the main repository's.

        ``collaborators`` have push access (see drafts, create releases); None: the server's collaborators.
        A public repository can be read without a token, as on GitHub.
        """
        key = full_name.lower()
        with self._lock:
            if key == self.full_name.lower() or key in self._extra:
                raise ValueError(f"{full_name} is already served")
            repo_id = self.repo_id + 1 + len(self._extra)
            self._extra[key] = _Repo(full_name, Path(bare_repo), default_branch, repo_id, _now(), {},
                                     None if collaborators is None else set(collaborators), private)  # fmt: skip
            self._user(full_name.split("/")[0], "Organization")

    def add_release(self, tag: str, body: str | None = None, *, repo: str | None = None, name: str | None = None,
                    draft: bool = False, prerelease: bool = False, target: str | None = None,
                    created: datetime | None = None, author: str | None = None) -> int:  # fmt: skip
        """Seed a release without an HTTP round trip (``repo`` None: the main repository); returns its id.

        Like ``POST .../releases``: a published release whose tag does not exist yet tags ``target``
        (default: the default branch). ``created`` orders the listing (newest first).
        """
        with self._lock:
            r = self._repo_named(repo or self.full_name)
            release = self._new_release(r, tag, target or r.default_branch, name, body, draft, prerelease,
                                        author or next(iter(self.tokens.values()), "nightcrew-bot"))  # fmt: skip
            if created is not None:
                release.created = created
                release.published = None if draft else created
            return release.id

    def releases(self, repo: str | None = None) -> list[dict[str, Any]]:
        """Compact snapshot of a repository's releases, newest first (drafts included)."""
        with self._lock:
            r = self._repo_named(repo or self.full_name)
            return [{"id": x.id, "tag_name": x.tag, "name": x.name, "body": x.body, "draft": x.draft,
                     "prerelease": x.prerelease, "target_commitish": x.target, "published_at": _iso(x.published)}
                    for x in self._sorted_releases(r, drafts=True)]  # fmt: skip

    def add_merged_pull(self, title: str, body: str | None = None, *, number: int | None = None,
                        labels: Iterable[str] = (), author: str = "alice", merged_at: datetime | None = None,
                        updated_at: datetime | None = None, created_at: datetime | None = None,
                        head: str | None = None, base: str | None = None, merge_commit_sha: str | None = None,
                        merged_by: str | None = None) -> int:  # fmt: skip
        """Seed a merged pull request, no git work or HTTP round trip (fast: hundreds per test); returns its number.

        ``number`` None takes the next free one (issues and pulls share the sequence; later numbers follow the
        highest). ``merged_at`` defaults to now; ``updated_at`` to ``merged_at`` (merging updates a pull, and so
        does anything later); ``created_at`` to an hour before the merge. Unknown labels are created. The head
        and merge shas need not exist in the bare repository (nothing reads them for a closed pull).
        """
        with self._lock:
            if number is None:
                number = next(self._numbers)
                while number in self._issues:
                    number = next(self._numbers)
            elif number in self._issues:
                raise ValueError(f"#{number} exists already")
            merged = merged_at or _now()
            head_ref = head or f"feature/{number}"
            fake = hashlib.sha1(f"{self.full_name}#{number}".encode()).hexdigest()
            pull = _Pull(next(self._ids), head_ref, base or self.default_branch, fake, fake, False, False,
                         merged_at=merged, merged_by=merged_by or author, merge_commit_sha=merge_commit_sha or fake)
            issue = _Issue(number, next(self._ids), title, body, author, created_at or merged - timedelta(hours=1),
                           updated_at or merged, self._ensure_labels(list(labels)), state="closed", closed_at=merged,
                           closed_by=merged_by or author, pull=pull)  # fmt: skip
            self._user(author)
            self._issues[number] = issue
            if number >= max(self._issues):  # keep GitHub's monotonic numbering after an explicit number
                self._numbers = itertools.count(number + 1)
            return number

    # -- state accessors (compact snapshots, not API JSON) -----------------------------------------

    def pulls(self) -> list[dict[str, Any]]:
        with self._lock:
            refs = self._all_refs()
            return [self.pull(n, refs) for n, i in sorted(self._issues.items()) if i.pull is not None]

    def pull(self, number: int, _refs: dict[str, str] | None = None) -> dict[str, Any]:
        with self._lock:
            issue = self._issues[number]
            pr = issue.pull
            if pr is None:
                raise KeyError(f"#{number} is an issue, not a pull request")
            head_sha = (_refs or self._all_refs()).get(pr.head) if issue.state == "open" else None
            return {"number": number, "state": issue.state, "title": issue.title, "body": issue.body,
                    "user": issue.user, "draft": pr.draft, "head": pr.head, "base": pr.base,
                    "head_sha": head_sha or pr.head_sha, "merged": pr.merged_at is not None,
                    "merged_at": _iso(pr.merged_at), "closed_at": _iso(issue.closed_at),
                    "merge_commit_sha": pr.merge_commit_sha, "labels": self.issue_labels(number),
                    "requested_reviewers": list(pr.reviewers), "requested_teams": list(pr.teams),
                    "comments": len(self.comments(number))}  # fmt: skip

    def issue(self, number: int) -> dict[str, Any]:
        with self._lock:
            i = self._issues[number]
            return {"number": number, "state": i.state, "state_reason": i.state_reason, "title": i.title,
                    "body": i.body, "user": i.user, "labels": self.issue_labels(number),
                    "closed_at": _iso(i.closed_at), "is_pull": i.pull is not None}  # fmt: skip

    def comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": c.id, "body": c.body, "user": c.user, "created_at": _iso(c.created)}
                    for c in self._comments.values() if c.issue == number]  # fmt: skip

    def labels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"name": lb.name, "color": lb.color, "description": lb.description} for lb in self._sorted_labels()]

    def issue_labels(self, number: int) -> list[str]:
        with self._lock:
            return [self._labels[key].name for key in self._issues[number].labels]

    def ref_sha(self, branch: str) -> str | None:
        """The bare repo's current sha for ``branch``, or None."""
        return self._ref_sha(branch)

    # -- request handling --------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        started = time.monotonic()
        split = urlsplit(handler.path)
        raw_path = split.path.rstrip("/") or "/"
        prefixed = raw_path == _PREFIX or raw_path.startswith(_PREFIX + "/")
        raw_path = (raw_path[len(_PREFIX):] or "/") if prefixed else raw_path
        if raw_path == "/api" + _GRAPHQL:  # GitHub Enterprise's GraphQL endpoint, beside /api/v3: logged as /graphql
            raw_path, prefixed = _GRAPHQL, True
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""  # always drain: the connection is reused
        token = _token(handler.headers.get("Authorization"))
        api = self.web_url + (_PREFIX if prefixed else "")
        status, headers, body, login, parsed = self._respond(handler.command, raw_path, query, raw_body, token, api)
        # Log before answering: a client may look at the log the moment it has its response.
        record = RequestRecord(handler.command, unquote(raw_path), query, status, login, parsed, prefixed,
                               dict(handler.headers.items()), headers, time.monotonic() - started)  # fmt: skip
        self._log(record)
        handler.reply(status, headers, body)

    def _respond(self, method: str, raw_path: str, query: dict[str, str], raw_body: bytes, token: str | None,
                 api: str) -> tuple[int, dict[str, str], bytes, str | None, Any]:  # fmt: skip
        path = unquote(raw_path)
        failure = self._hold(self._take_faults(matches=lambda f: f.matches(method, path)))
        login = self.tokens.get(token) if token else None
        parsed: Any = None
        graphql = raw_path == _GRAPHQL
        resource, doc = ("graphql", GRAPHQL_DOCS) if graphql else ("core", DOCS)  # separate limits, as on GitHub
        with self._lock:
            bucket = token if login is not None else ""
            headers = {"Content-Type": _JSON, "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
                       "X-GitHub-Media-Type": "github.v3; format=json", "X-GitHub-Api-Version-Selected": "2022-11-28"}
            if failure is not None:
                headers.update({**self._rate_headers(bucket, resource=resource), **failure.headers})
                return failure.status, headers, failure.body, login, None
            try:
                # GitHub answers reads of public repositories without a token (at 60 requests an hour).
                anonymous = login is None and token is None and method == "GET" and self._public_read(raw_path)
                if graphql and token is None:  # GraphQL has no anonymous access at all
                    raise _err(401, "This endpoint requires you to be authenticated.",
                               GRAPHQL_DOCS + "/guides/forming-calls-with-graphql#authenticating-with-graphql")
                if login is None and not anonymous:
                    headers.update(self._rate_headers("", consume=True, resource=resource))
                    raise _err(401, "Bad credentials", doc)
                headers.update(self._rate_headers(bucket, consume=True, resource=resource))
                # Deviation: only the core limit is enforced (exhaust_rate_limit); GraphQL's is merely counted.
                if not graphql and self._rate[bucket][0] > (self.rate_limit if bucket else _ANONYMOUS_LIMIT):
                    if login is None:
                        raise _err(403, "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                                        "Authenticated requests get a higher rate limit. Check out the "
                                        "documentation for more details.)", RATE_DOCS)  # fmt: skip
                    user = self._user(login)
                    raise _err(403, f"API rate limit exceeded for user ID {user.id}.", RATE_DOCS)
                if raw_body.strip():
                    try:
                        parsed = json.loads(raw_body)
                    except ValueError:
                        raise _err(400, "Problems parsing JSON", doc) from None
                ctx = _Ctx(login=login or "", api=api, path=raw_path, query=query, body=parsed)
                status, payload, extra = self._route(method, raw_path, ctx)
                headers.update(extra)
            except ApiError as exc:
                status, payload = exc.status, exc.payload
                headers.update(exc.headers)
            except RuntimeError as exc:  # a git call failed: answer like GitHub's own 500, keep the detail
                status, payload = 500, {"message": "Server Error", "detail": str(exc)}
        body = json.dumps(payload).encode() if payload is not None else b""
        if payload is None:
            headers.pop("Content-Type")
        return status, headers, body, login, parsed

    def _rate_headers(self, bucket: str, consume: bool = False, resource: str = "core") -> dict[str, str]:
        limit = self.rate_limit if bucket else _ANONYMOUS_LIMIT
        key = bucket if resource == "core" else f"{resource}:{bucket}"  # GraphQL points are counted apart
        used, reset = self._rate.get(key, (0, 0))
        if time.time() >= reset:  # the window rolled over: a fresh hour, as on GitHub
            used, reset = 0, int(time.time()) + 3600
        if consume:
            used += 1  # an over-limit request counts too; remaining stays 0
        self._rate[key] = (used, reset)
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - used)),
                "X-RateLimit-Reset": str(reset), "X-RateLimit-Used": str(min(used, limit)),
                "X-RateLimit-Resource": resource}  # fmt: skip

    def _route(self, method: str, raw_path: str, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        named = re.match(_R + r"(?:/|$)", raw_path)
        if named:
            ctx.repo = self._served(f"{unquote(named['owner'])}/{unquote(named['repo'])}")
            if ctx.repo is None or (ctx.repo.private and not self._can_push(ctx.login, ctx.repo)):
                raise _not_found()
        main = ctx.repo is None or ctx.repo.full_name.lower() == self.full_name.lower()
        for verb, pattern, func in self._routes:
            match = pattern.fullmatch(raw_path)
            if match and verb == method:
                if not main and func not in self._shared:
                    raise _not_found()  # added repositories serve the read API and releases only
                args = {k: unquote(v) for k, v in match.groupdict().items() if k not in ("owner", "repo")}
                result = func(ctx, **args)
                return (result[0], result[1], result[2] if len(result) > 2 else {})
        raise _not_found()

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        n, rest = r"(?P<number>\d+)", r"(?P<name>.+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/user", self._get_user), ("GET", _R, self._get_repo),
            ("GET", _R + f"/branches/{rest}/protection", self._get_protection),  # before the branch: names have "/"
            ("GET", _R + f"/branches/{rest}", self._get_branch),
            # PyGithub's GitRef (fetched, then deleted by PullRequest.delete_branch) uses the singular /git/ref/.
            ("GET", _R + "/git/refs?/(?P<ref>heads/.+)", self._get_ref),
            ("DELETE", _R + "/git/refs?/(?P<ref>heads/.+)", self._delete_ref),
            ("GET", _R + "/pulls", self._list_pulls), ("POST", _R + "/pulls", self._create_pull),
            ("GET", _R + f"/pulls/{n}", self._get_pull), ("PATCH", _R + f"/pulls/{n}", self._edit_pull),
            ("GET", _R + f"/pulls/{n}/commits", self._pull_commits),
            ("GET", _R + f"/pulls/{n}/merge", self._is_merged), ("PUT", _R + f"/pulls/{n}/merge", self._merge),
            ("POST", _R + f"/pulls/{n}/requested_reviewers", self._request_reviewers),
            ("GET", _R + "/issues", self._list_issues), ("POST", _R + "/issues", self._create_issue),
            ("GET", _R + f"/issues/{n}", self._get_issue), ("PATCH", _R + f"/issues/{n}", self._edit_issue),
            ("GET", _R + f"/issues/{n}/comments", self._list_comments),
            ("POST", _R + f"/issues/{n}/comments", self._create_comment),
            ("PATCH", _R + r"/issues/comments/(?P<cid>\d+)", self._edit_comment),
            ("GET", _R + f"/issues/{n}/labels", self._get_issue_labels),
            ("POST", _R + f"/issues/{n}/labels", self._add_issue_labels),
            ("DELETE", _R + f"/issues/{n}/labels/{rest}", self._remove_issue_label),
            ("GET", _R + "/labels", self._list_labels), ("POST", _R + "/labels", self._create_label),
            ("GET", _R + f"/labels/{rest}", self._get_label),
            ("GET", _R + "/releases", self._list_releases), ("POST", _R + "/releases", self._create_release),
            ("GET", _R + "/releases/latest", self._latest_release),
            ("GET", _R + "/releases/tags/(?P<tag>.+)", self._release_by_tag),
            ("GET", _R + r"/releases/(?P<rid>\d+)", self._get_release),
            ("PATCH", _R + r"/releases/(?P<rid>\d+)", self._edit_release),
            ("DELETE", _R + r"/releases/(?P<rid>\d+)", self._delete_release),
            ("GET", _R + "/contents", self._get_contents), ("GET", _R + "/contents/(?P<path>.+)", self._get_contents),
            ("GET", _R + "/git/trees/(?P<ref>.+)", self._get_tree),
            ("GET", _R + "/tags", self._list_tags),
            ("GET", _R + "/commits/(?P<ref>[^/]+)", self._get_commit),
            ("GET", _R + "/commits/(?P<ref>[^/]+)/status", self._combined_status),
            ("GET", _R + "/commits/(?P<ref>[^/]+)/check-runs", self._list_check_runs),
            ("GET", _R + f"/pulls/{n}/reviews", self._list_reviews),
            ("POST", _GRAPHQL, self._graphql),
        ]  # fmt: skip
        # Anonymous GETs of a public repository may reach these; repositories added by add_repo serve only these
        # and the release writes.
        self._public: set[Handler] = {self._get_repo, self._list_releases, self._latest_release,
                                      self._release_by_tag, self._get_release, self._get_contents, self._get_tree,
                                      self._list_tags}
        self._shared: set[Handler] = self._public | {self._create_release, self._edit_release, self._delete_release}
        return [(verb, re.compile(pattern), func) for verb, pattern, func in table]

    def _public_read(self, raw_path: str) -> bool:
        """Whether an anonymous GET of ``raw_path`` reads a served repository through a read endpoint."""
        named = re.match(_R + r"(?:/|$)", raw_path)
        # A private repository's reads get this far too; _route answers 404 to who may not see it, as GitHub does.
        if not named or self._served(f"{unquote(named['owner'])}/{unquote(named['repo'])}") is None:
            return False
        return any(verb == "GET" and func in self._public and pattern.fullmatch(raw_path)
                   for verb, pattern, func in self._routes)  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------------

    def _user(self, login: str, kind: str | None = None) -> _User:
        user = self._users.get(login.lower())
        if user is None:
            kind = kind or ("Bot" if login.endswith("[bot]") else "User")
            user = self._users[login.lower()] = _User(login, next(self._user_ids), kind)
        return user

    def _git(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return git(self.bare, *args, **kwargs)

    def _ref_sha(self, branch: str) -> str | None:
        proc = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
        return proc.stdout.strip() or None

    def _all_refs(self) -> dict[str, str]:
        out = self._git("for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/heads").stdout
        return {name: sha for sha, _, name in (line.partition(" ") for line in out.splitlines())}

    def _refs(self, ctx: _Ctx) -> dict[str, str]:
        if ctx._refs is None:  # one for-each-ref per request instead of one rev-parse per listed pull
            ctx._refs = self._all_refs()
        return ctx._refs

    def _obj(self, ctx: _Ctx) -> dict[str, Any]:
        if ctx.body is None:
            return {}
        if not isinstance(ctx.body, dict):
            raise _err(400, "Body should be a JSON object")
        return ctx.body

    def _issue(self, number: str | int, pull: bool = False) -> _Issue:
        issue = self._issues.get(int(number))
        if issue is None or (pull and issue.pull is None):
            raise _not_found()
        return issue

    def _pull_issue(self, number: str | int) -> _Issue:
        return self._issue(number, pull=True)

    def _already_exists(self, branch: str) -> ApiError:
        return _invalid("PullRequest", "custom", message=f"A pull request already exists for {self.owner}:{branch}.")

    def _check_open_allowed(self, ctx: _Ctx, issue: _Issue, base: str | None = None) -> None:
        """Opening (or reopening) a pull: its head must exist and no other open pull may share head and base."""
        pr = issue.pull
        if pr is None:
            return
        if pr.merged_at is not None:
            raise _invalid("PullRequest", "custom", message="state cannot be changed. The pull request was merged.")
        if pr.head not in self._refs(ctx):
            raise _invalid("PullRequest", "custom", message="state cannot be changed. The branch was deleted.")
        for other in self._issues.values():
            if other is not issue and other.pull and other.state == "open" and \
                    (other.pull.head, other.pull.base) == (pr.head, base or pr.base):  # fmt: skip
                raise self._already_exists(pr.head)

    def _page(self, ctx: _Ctx, items: list[Any], render: Callable[[Any], Any]) -> tuple[int, Any, dict[str, str]]:
        """Slice ``items`` by page/per_page and add GitHub's Link header (prev, next, last, first)."""
        per_page = min(100, max(1, _int(ctx.query.get("per_page"), self.per_page_default)))
        page = max(1, _int(ctx.query.get("page"), 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(p: int, rel: str) -> str:
            return f'<{ctx.api}{ctx.path}?{urlencode({**ctx.query, "page": str(p)})}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        return 200, [render(item) for item in chunk], ({"Link": ", ".join(links)} if links else {})

    def _sort(self, ctx: _Ctx, issues: list[_Issue], pulls: bool) -> list[_Issue]:
        sort = ctx.query.get("sort", "created")
        keys: dict[str, Callable[[_Issue], Any]] = {
            "created": lambda i: (i.created, i.number), "updated": lambda i: (i.updated, i.number),
            "comments": lambda i: (self._comment_count(i), i.number), "long-running": lambda i: (i.created, i.number),
        }  # fmt: skip
        keys["popularity"] = keys["comments"]
        if sort not in keys:
            raise _invalid("Issue" if not pulls else "PullRequest", "invalid", "sort")
        # Pulls default to desc only for sort=created (GitHub's documented quirk); issues always default to desc.
        default = "desc" if (sort == "created" or not pulls) else "asc"
        return sorted(issues, key=keys[sort], reverse=ctx.query.get("direction", default) == "desc")

    def _comment_count(self, issue: _Issue) -> int:
        return sum(1 for c in self._comments.values() if c.issue == issue.number)

    def _commits(self, *rev_args: str) -> list[dict[str, Any]]:
        fmt = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%B%x1e"
        out = self._git("log", f"--format={fmt}", *rev_args).stdout
        keys = ("sha", "parents", "an", "ae", "ad", "cn", "ce", "cd", "tree", "message")
        return [dict(zip(keys, rec.strip("\n").split("\x00"))) for rec in out.split("\x1e") if rec.strip()]

    def _merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base``, or None on conflict (git >= 2.38)."""
        proc = self._git("merge-tree", "--write-tree", "--no-messages", base, head, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"git merge-tree failed: {proc.stderr.strip()}")
        return proc.stdout.split("\n", 1)[0].strip() if proc.returncode == 0 else None

    def _label_key(self, name: str) -> str:
        return name.lower()  # GitHub looks labels up case-insensitively

    def _sorted_labels(self) -> list[_Label]:
        return sorted(self._labels.values(), key=lambda lb: lb.name.lower())

    def _ensure_labels(self, names: Any) -> list[str]:
        if isinstance(names, dict):
            names = names.get("labels", [])
        if not isinstance(names, list):
            raise _invalid("Label", "invalid", "labels")
        keys = []
        for item in names:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                raise _invalid("Label", "invalid", "name")
            key = self._label_key(name)
            if key not in self._labels:  # adding an unknown label creates it, as GitHub does
                self._labels[key] = _Label(next(self._ids), name, "ededed", None)
            if key not in keys:
                keys.append(key)
        return keys

    def _close(self, issue: _Issue, login: str, reason: str = "completed") -> None:
        now = _now()
        issue.state, issue.closed_at, issue.closed_by, issue.updated = "closed", now, login, now
        issue.state_reason = None if issue.pull else reason

    # -- rendering ---------------------------------------------------------------------------------

    def _user_json(self, ctx: _Ctx, login: str) -> dict[str, Any]:
        user = self._user(login)
        return {"login": user.login, "id": user.id, "node_id": _node(user.type, user.id),
                "avatar_url": f"{self.web_url}/avatars/u/{user.id}", "gravatar_id": "",
                "url": f"{ctx.api}/users/{user.login}", "html_url": f"{self.web_url}/{user.login}",
                "type": user.type, "site_admin": False}  # fmt: skip

    def _repo_json(self, ctx: _Ctx, repo: _Repo | None = None) -> dict[str, Any]:
        r = repo or self._main_repo()
        url, html = f"{ctx.api}/repos/{r.full_name}", f"{self.web_url}/{r.full_name}"
        push = self._can_push(ctx.login, r)
        return {"id": r.id, "node_id": _node("Repository", r.id), "name": r.name,
                "full_name": r.full_name, "private": r.private, "owner": self._user_json(ctx, r.owner),
                "html_url": html, "description": None, "fork": False, "url": url,
                "pulls_url": url + "/pulls{/number}", "issues_url": url + "/issues{/number}",
                "labels_url": url + "/labels{/name}", "branches_url": url + "/branches{/branch}",
                # No git transport over HTTP here: clone/push straight against the bare repository.
                "clone_url": r.bare.resolve().as_uri(), "git_url": r.bare.resolve().as_uri(),
                "ssh_url": str(r.bare.resolve()), "default_branch": r.default_branch,
                "visibility": "private" if r.private else "public", "archived": False, "disabled": False,
                "created_at": _iso(r.created), "updated_at": _iso(r.created), "pushed_at": _iso(r.created),
                "allow_merge_commit": self.merge_methods["merge"], "allow_squash_merge": self.merge_methods["squash"],
                "allow_rebase_merge": self.merge_methods["rebase"],
                "delete_branch_on_merge": False,
                "permissions": {"admin": False, "maintain": push, "push": push, "triage": push,
                                "pull": True}}  # fmt: skip

    def _label_json(self, ctx: _Ctx, key: str) -> dict[str, Any]:
        lb = self._labels[key]
        return {"id": lb.id, "node_id": _node("Label", lb.id),
                "url": f"{ctx.api}/repos/{self.full_name}/labels/{quote(lb.name, safe='')}",
                "name": lb.name, "color": lb.color, "default": False, "description": lb.description}  # fmt: skip

    def _association(self, login: str) -> str:
        return "COLLABORATOR" if login in self.collaborators else "NONE"

    def _issue_json(self, ctx: _Ctx, issue: _Issue) -> dict[str, Any]:
        url = f"{ctx.api}/repos/{self.full_name}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        data: dict[str, Any] = {
            "id": issue.id, "node_id": _node("Issue", issue.id), "url": url,
            "repository_url": f"{ctx.api}/repos/{self.full_name}", "labels_url": url + "/labels{/name}",
            "comments_url": url + "/comments", "events_url": url + "/events",
            "html_url": f"{self.web_url}/{self.full_name}/{kind}/{issue.number}", "number": issue.number,
            "state": issue.state, "state_reason": issue.state_reason, "title": issue.title, "body": issue.body,
            "user": self._user_json(ctx, issue.user), "labels": [self._label_json(ctx, k) for k in issue.labels],
            "assignee": None, "assignees": [], "milestone": None, "locked": False, "active_lock_reason": None,
            "comments": self._comment_count(issue), "created_at": _iso(issue.created),
            "updated_at": _iso(issue.updated), "closed_at": _iso(issue.closed_at),
            "closed_by": self._user_json(ctx, issue.closed_by) if issue.closed_by else None,
            "author_association": self._association(issue.user),
        }  # fmt: skip
        if issue.pull is not None:
            pull_url = f"{ctx.api}/repos/{self.full_name}/pulls/{issue.number}"
            html = data["html_url"]
            data["draft"] = issue.pull.draft
            data["pull_request"] = {"url": pull_url, "html_url": html, "diff_url": html + ".diff",
                                    "patch_url": html + ".patch", "merged_at": _iso(issue.pull.merged_at)}  # fmt: skip
        return data

    def _branch_side(self, ctx: _Ctx, ref: str, sha: str) -> dict[str, Any]:
        return {"label": f"{self.owner}:{ref}", "ref": ref, "sha": sha, "user": self._user_json(ctx, self.owner),
                "repo": self._repo_json(ctx)}  # fmt: skip

    def _pull_json(self, ctx: _Ctx, issue: _Issue, full: bool = True) -> dict[str, Any]:
        pr = issue.pull
        assert pr is not None
        if issue.state == "open":  # open pulls follow their branches live; closed ones keep their last shas
            refs = self._refs(ctx)
            pr.head_sha, pr.base_sha = refs.get(pr.head, pr.head_sha), refs.get(pr.base, pr.base_sha)
        url = f"{ctx.api}/repos/{self.full_name}/pulls/{issue.number}"
        issue_url = f"{ctx.api}/repos/{self.full_name}/issues/{issue.number}"
        html = f"{self.web_url}/{self.full_name}/pull/{issue.number}"
        statuses = f"{ctx.api}/repos/{self.full_name}/statuses/{pr.head_sha}"
        data: dict[str, Any] = {
            "url": url, "id": pr.id, "node_id": _node("PullRequest", pr.id), "html_url": html,
            "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue_url,
            "commits_url": url + "/commits", "review_comments_url": url + "/comments",
            "review_comment_url": f"{ctx.api}/repos/{self.full_name}/pulls/comments{{/number}}",
            "comments_url": issue_url + "/comments", "statuses_url": statuses,
            "number": issue.number, "state": issue.state, "locked": False, "title": issue.title,
            "user": self._user_json(ctx, issue.user), "body": issue.body,
            "labels": [self._label_json(ctx, k) for k in issue.labels], "milestone": None,
            "active_lock_reason": None, "created_at": _iso(issue.created), "updated_at": _iso(issue.updated),
            "closed_at": _iso(issue.closed_at), "merged_at": _iso(pr.merged_at),
            "merge_commit_sha": pr.merge_commit_sha, "assignee": None, "assignees": [],
            "requested_reviewers": [self._user_json(ctx, r) for r in pr.reviewers],
            "requested_teams": [self._team_json(ctx, t) for t in pr.teams],
            "head": self._branch_side(ctx, pr.head, pr.head_sha), "base": self._branch_side(ctx, pr.base, pr.base_sha),
            "_links": {"self": {"href": url}, "html": {"href": html}, "issue": {"href": issue_url},
                       "comments": {"href": issue_url + "/comments"}, "review_comments": {"href": url + "/comments"},
                       "review_comment": {"href": f"{ctx.api}/repos/{self.full_name}/pulls/comments{{/number}}"},
                       "commits": {"href": url + "/commits"}, "statuses": {"href": statuses}},
            "author_association": self._association(issue.user), "auto_merge": None, "draft": pr.draft,
        }  # fmt: skip
        if full:  # only the single-pull endpoints compute mergeability and diff stats, as on GitHub
            mergeable: bool | None = None
            state = "unknown"
            if issue.state == "open" and pr.head in self._refs(ctx) and pr.base in self._refs(ctx):
                mergeable = self._merge_tree(pr.base_sha, pr.head_sha) is not None
                state = "draft" if pr.draft else ("clean" if mergeable else "dirty")
                if state == "clean":
                    state = self._protection_state(pr.base, pr.base_sha, pr.head_sha)
            span = f"{pr.base_sha}..{pr.head_sha}"
            stats = self._git("diff", "--numstat", f"{pr.base_sha}...{pr.head_sha}", check=False).stdout.splitlines()
            nums = [line.split("\t") for line in stats]
            data.update({
                "merged": pr.merged_at is not None, "mergeable": mergeable, "rebaseable": mergeable,
                "mergeable_state": state, "merged_by": self._user_json(ctx, pr.merged_by) if pr.merged_by else None,
                "comments": self._comment_count(issue), "review_comments": 0,
                "maintainer_can_modify": pr.maintainer_can_modify,
                "commits": int(self._git("rev-list", "--count", span, check=False).stdout.strip() or 0),
                "additions": sum(int(a) for a, *_ in nums if a.isdigit()),
                "deletions": sum(int(d) for _, d, *_ in nums if d.isdigit()), "changed_files": len(nums),
            })  # fmt: skip
        return data

    def _team_json(self, ctx: _Ctx, slug: str) -> dict[str, Any]:
        tid = 100 + sum(map(ord, slug))  # stable without a team registry: teams are not modelled beyond their slug
        return {"id": tid, "node_id": _node("Team", tid), "name": slug, "slug": slug, "description": None,
                "privacy": "closed", "permission": "push", "url": f"{ctx.api}/teams/{tid}",
                "html_url": f"{self.web_url}/orgs/{self.owner}/teams/{slug}"}  # fmt: skip

    def _commit_json(self, ctx: _Ctx, c: dict[str, Any]) -> dict[str, Any]:
        api, web = f"{ctx.api}/repos/{self.full_name}", f"{self.web_url}/{self.full_name}"
        sha = c["sha"]
        return {"sha": sha, "node_id": _node("Commit", int(sha[:7], 16)), "url": f"{api}/commits/{sha}",
                "html_url": f"{web}/commit/{sha}", "comments_url": f"{api}/commits/{sha}/comments",
                "commit": {"url": f"{api}/git/commits/{sha}", "message": c["message"].rstrip("\n"),
                           "author": {"name": c["an"], "email": c["ae"], "date": c["ad"]},
                           "committer": {"name": c["cn"], "email": c["ce"], "date": c["cd"]},
                           "tree": {"sha": c["tree"], "url": f"{api}/git/trees/{c['tree']}"}, "comment_count": 0,
                           "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                            "payload": None}},
                # Commit authors are git identities, not accounts: GitHub gives null when the email maps to no user.
                "author": None, "committer": None,
                "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{web}/commit/{p}"}
                            for p in c["parents"].split()]}  # fmt: skip

    def _comment_json(self, ctx: _Ctx, c: _Comment) -> dict[str, Any]:
        issue = self._issues[c.issue]
        kind = "pull" if issue.pull else "issues"
        return {"id": c.id, "node_id": _node("IssueComment", c.id),
                "url": f"{ctx.api}/repos/{self.full_name}/issues/comments/{c.id}",
                "html_url": f"{self.web_url}/{self.full_name}/{kind}/{c.issue}#issuecomment-{c.id}",
                "issue_url": f"{ctx.api}/repos/{self.full_name}/issues/{c.issue}", "body": c.body,
                "user": self._user_json(ctx, c.user), "created_at": _iso(c.created), "updated_at": _iso(c.updated),
                "author_association": self._association(c.user), "performed_via_github_app": None}  # fmt: skip

    # -- merge safety: statuses, check runs, reviews, protection -------------------------------------

    def set_status(self, sha: str, context: str, state: str, description: str = "") -> None:
        """A commit status (``success``, ``failure``, ``error``, ``pending``), as CI posts one."""
        with self._lock:
            self._statuses.setdefault(sha, []).insert(0, {"context": context, "state": state,
                                                          "description": description, "id": next(self._ids)})

    def add_check_run(self, sha: str, name: str, status: str = "completed", conclusion: str | None = "success") -> None:
        with self._lock:
            runs = [r for r in self._check_runs.get(sha, []) if r["name"] != name]
            runs.append({"name": name, "status": status, "conclusion": conclusion, "id": next(self._ids)})
            self._check_runs[sha] = runs

    def add_review(self, number: int, login: str, state: str) -> None:
        """A review (``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED``, ``DISMISSED``), newest last."""
        with self._lock:
            self._reviews.setdefault(number, []).append({"login": login, "state": state, "id": next(self._ids)})

    def protect(self, branch: str, contexts: list[str], *, strict: bool = False) -> None:
        with self._lock:
            self._protection[branch] = {"contexts": list(contexts), "strict": strict}

    def _check_states(self, sha: str) -> dict[str, str]:
        """Every reported check of ``sha`` by name: success, failure, pending (latest status per context, and each
        check run's conclusion; neutral and skipped count as success)."""
        states: dict[str, str] = {}
        for status in reversed(self._statuses.get(sha, [])):
            states[status["context"]] = {"success": "success", "pending": "pending"}.get(status["state"], "failure")
        for run in self._check_runs.get(sha, []):
            if run["status"] != "completed":
                states[run["name"]] = "pending"
            else:
                states[run["name"]] = "success" if run["conclusion"] in ("success", "neutral", "skipped") else "failure"
        return states

    def _unmet_required(self, branch: str, sha: str) -> list[str]:
        required = self._protection.get(branch, {}).get("contexts", [])
        states = self._check_states(sha)
        return [c for c in required if states.get(c) != "success"]

    def _protection_state(self, branch: str, base_sha: str, head_sha: str) -> str:
        protection = self._protection.get(branch)
        if not protection:
            states = self._check_states(head_sha)
            return "unstable" if any(s != "success" for s in states.values()) else "clean"
        if protection.get("strict") and self._git("merge-base", "--is-ancestor", base_sha, head_sha,
                                                  check=False).returncode != 0:
            return "behind"
        return "blocked" if self._unmet_required(branch, head_sha) else "clean"

    def _get_commit(self, ctx: _Ctx, ref: str) -> tuple[int, Any]:
        sha = self._refs(ctx).get(ref, ref)
        found = self._commits("-1", sha) if self._git("cat-file", "-e", f"{sha}^{{commit}}",
                                                      check=False).returncode == 0 else []
        if not found:
            raise _err(422, f"No commit found for SHA: {ref}")
        return 200, self._commit_json(ctx, found[0])

    def _combined_status(self, ctx: _Ctx, ref: str) -> tuple[int, Any]:
        sha = self._refs(ctx).get(ref, ref)
        latest: dict[str, dict[str, Any]] = {}
        for status in self._statuses.get(sha, []):
            latest.setdefault(status["context"], status)
        states = [s["state"] for s in latest.values()]
        state = "failure" if any(s in ("failure", "error") for s in states) else (
            "pending" if not states or "pending" in states else "success")
        items = [{"url": f"{ctx.api}/repos/{self.full_name}/statuses/{sha}", "id": s["id"], "state": s["state"],
                  "description": s["description"], "context": s["context"], "target_url": None,
                  "created_at": _iso(self.created), "updated_at": _iso(self.created)} for s in latest.values()]
        return 200, {"state": state, "statuses": items, "sha": sha, "total_count": len(items),
                     "commit_url": f"{ctx.api}/repos/{self.full_name}/commits/{sha}",
                     "url": f"{ctx.api}/repos/{self.full_name}/commits/{sha}/status"}

    def _list_check_runs(self, ctx: _Ctx, ref: str) -> tuple[int, Any, dict[str, str]]:
        sha = self._refs(ctx).get(ref, ref)
        runs = [{"id": r["id"], "name": r["name"], "head_sha": sha, "status": r["status"],
                 "conclusion": r["conclusion"], "url": f"{ctx.api}/repos/{self.full_name}/check-runs/{r['id']}",
                 "html_url": None, "details_url": None, "started_at": _iso(self.created),
                 "completed_at": _iso(self.created) if r["status"] == "completed" else None,
                 "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
                 "app": None, "pull_requests": []} for r in self._check_runs.get(sha, [])]
        _status, page, headers = self._page(ctx, runs, lambda r: r)
        return 200, {"total_count": len(runs), "check_runs": page}, headers

    def _list_reviews(self, ctx: _Ctx, number: str) -> tuple[int, Any, dict[str, str]]:
        self._pull_issue(number)
        reviews = [{"id": r["id"], "node_id": _node("Review", r["id"]), "user": self._user_json(ctx, r["login"]),
                    "body": "", "state": r["state"], "commit_id": None, "submitted_at": _iso(self.created),
                    "html_url": None, "pull_request_url": None, "author_association": "COLLABORATOR"}
                   for r in self._reviews.get(int(number), [])]
        return self._page(ctx, reviews, lambda r: r)

    def _get_protection(self, ctx: _Ctx, name: str) -> tuple[int, Any]:
        if not self.protection_readable:
            raise _err(403, "Resource not accessible by integration")
        protection = self._protection.get(name)
        if protection is None:
            raise _err(404, "Branch not protected")
        url = f"{ctx.api}/repos/{self.full_name}/branches/{quote(name)}/protection"
        contexts = protection["contexts"]
        return 200, {"url": url, "required_status_checks": {
            "url": url + "/required_status_checks", "strict": protection["strict"], "contexts": contexts,
            "checks": [{"context": c, "app_id": None} for c in contexts], "contexts_url": url + "/contexts"}}

    # -- users, repo, branches, refs ---------------------------------------------------------------

    def _get_user(self, ctx: _Ctx) -> tuple[int, Any]:
        return 200, {**self._user_json(ctx, ctx.login), "name": ctx.login, "email": None,
                     "created_at": _iso(self.created), "updated_at": _iso(self.created)}  # fmt: skip

    def _get_repo(self, ctx: _Ctx) -> tuple[int, Any]:
        return 200, self._repo_json(ctx, ctx.repo)

    def _branch_json(self, ctx: _Ctx, name: str, sha: str) -> dict[str, Any]:
        url = f"{ctx.api}/repos/{self.full_name}/branches/{quote(name)}"
        return {"name": name, "commit": self._commit_json(ctx, self._commits("-1", sha)[0]),
                "_links": {"self": url, "html": f"{self.web_url}/{self.full_name}/tree/{name}"},
                "protected": False, "protection_url": url + "/protection",
                "protection": {"enabled": False, "required_status_checks": {"enforcement_level": "off",
                                                                            "contexts": [], "checks": []}}}  # fmt: skip

    def _get_branch(self, ctx: _Ctx, name: str) -> tuple[int, Any]:
        sha = self._refs(ctx).get(name)
        if sha is None:
            raise _err(404, "Branch not found")
        return 200, self._branch_json(ctx, name, sha)

    def _get_ref(self, ctx: _Ctx, ref: str) -> tuple[int, Any]:
        sha = self._refs(ctx).get(ref.removeprefix("heads/"))
        if sha is None:
            raise _not_found()
        api = f"{ctx.api}/repos/{self.full_name}/git"
        return 200, {"ref": f"refs/{ref}", "node_id": _node("Ref", int(sha[:7], 16)), "url": f"{api}/refs/{quote(ref)}",
                     "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"}}

    def _delete_ref(self, ctx: _Ctx, ref: str) -> tuple[int, Any]:
        branch = ref.removeprefix("heads/")
        if self._ref_sha(branch) is None:
            raise _err(422, "Reference does not exist")
        self._git("update-ref", "-d", f"refs/heads/{branch}")
        for issue in self._issues.values():  # GitHub closes open pulls whose head branch is deleted
            if issue.pull and issue.state == "open" and issue.pull.head == branch:
                self._close(issue, ctx.login)
        return 204, None

    # -- pulls -------------------------------------------------------------------------------------

    def _list_pulls(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("PullRequest", "invalid", "state")
        head, base = ctx.query.get("head"), ctx.query.get("base")
        owner, _, branch = head.rpartition(":") if head else ("", "", "")
        pulls = [i for i in self._issues.values() if i.pull is not None and state in ("all", i.state)
                 and (not head or (i.pull.head == branch and owner.lower() in ("", self.owner.lower())))
                 and (not base or i.pull.base == base)]  # fmt: skip
        return self._page(ctx, self._sort(ctx, pulls, pulls=True), lambda i: self._pull_json(ctx, i, full=False))

    def _create_pull(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        body = self._obj(ctx)
        title, head, base = _str(body, "title"), _str(body, "head"), _str(body, "base")
        for name, value in (("title", title), ("head", head), ("base", base)):
            if not value:
                raise _invalid("PullRequest", "missing_field", name)
        owner, _, branch = head.rpartition(":")
        refs = self._refs(ctx)
        if base not in refs:
            raise _invalid("PullRequest", "invalid", "base")
        if owner.lower() not in ("", self.owner.lower()) or branch not in refs:
            raise _invalid("PullRequest", "invalid", "head")
        for other in self._issues.values():
            if other.pull and other.state == "open" and (other.pull.head, other.pull.base) == (branch, base):
                raise self._already_exists(branch)
        if self._git("rev-list", "--count", f"{refs[base]}..{refs[branch]}").stdout.strip() == "0":
            raise _invalid("PullRequest", "custom", message=f"No commits between {base} and {branch}")
        now = _now()
        number = next(self._numbers)
        pull = _Pull(next(self._ids), branch, base, refs[branch], refs[base], bool(body.get("draft", False)),
                     bool(body.get("maintainer_can_modify", False)))  # fmt: skip
        issue = _Issue(number, next(self._ids), title, _str(body, "body"), ctx.login, now, now, pull=pull)
        self._issues[number] = issue
        data = self._pull_json(ctx, issue)
        return 201, data, {"Location": data["url"]}

    def _get_pull(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        return 200, self._pull_json(ctx, self._pull_issue(number))

    def _edit_pull(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        issue = self._pull_issue(number)
        pr = issue.pull
        assert pr is not None
        body = self._obj(ctx)
        state, base = _str(body, "state"), _str(body, "base")
        if state not in (None, "open", "closed"):
            raise _invalid("PullRequest", "invalid", "state")
        if base is not None and base not in self._refs(ctx):
            raise _invalid("PullRequest", "invalid", "base")
        if state == "open" and issue.state == "closed":
            self._check_open_allowed(ctx, issue, base)
        if "title" in body:
            issue.title = _str(body, "title") or issue.title
        if "body" in body:
            issue.body = _str(body, "body")
        if base is not None:
            pr.base = base
        if "maintainer_can_modify" in body:
            pr.maintainer_can_modify = bool(body["maintainer_can_modify"])
        if state == "closed" and issue.state == "open":
            self._close(issue, ctx.login)
        elif state == "open" and issue.state == "closed":
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
        issue.updated = _now()
        return 200, self._pull_json(ctx, issue)

    def _pull_commits(self, ctx: _Ctx, number: str) -> tuple[int, Any, dict[str, str]]:
        issue = self._pull_issue(number)
        self._pull_json(ctx, issue, full=False)  # refreshes the live head/base shas of an open pull
        pr = issue.pull
        assert pr is not None
        commits = self._commits("--reverse", "--topo-order", f"{pr.base_sha}..{pr.head_sha}")
        return self._page(ctx, commits[:250], lambda c: self._commit_json(ctx, c))  # GitHub caps at 250

    def _is_merged(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        pr = self._pull_issue(number).pull
        if pr is None or pr.merged_at is None:
            raise _not_found()
        return 204, None

    def _merge(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        issue = self._pull_issue(number)
        pr = issue.pull
        assert pr is not None
        body = self._obj(ctx)
        method = _str(body, "merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise _invalid("PullRequest", "invalid", "merge_method")
        if issue.state != "open":
            raise _err(405, "Pull Request is not mergeable")
        if pr.draft:
            raise _err(405, "Pull Request is still a draft")
        refs = self._refs(ctx)
        head, base = refs.get(pr.head), refs.get(pr.base)
        if head is None or base is None:
            raise _err(405, "Pull Request is not mergeable")
        if body.get("sha") and body["sha"] != head:
            raise _err(409, "Head branch was modified. Review and try the merge again.")
        if not self.merge_methods.get(method, False):
            raise _err(405, {"merge": "Merge commits are not allowed on this repository.",
                             "squash": "Squash merges are not allowed on this repository.",
                             "rebase": "Rebase merges are not allowed on this repository."}[method])
        missing = self._unmet_required(pr.base, head)
        if missing:  # what GitHub answers when protection requires a check that has not passed
            raise _err(405, f"Required status check \"{missing[0]}\" is expected.")
        if self._protection.get(pr.base, {}).get("strict") and \
                self._git("merge-base", "--is-ancestor", base, head, check=False).returncode != 0:
            raise _err(405, "Head branch is out of date. Review and try the merge again.")
        title, message = _str(body, "commit_title"), _str(body, "commit_message")
        if method == "rebase":
            # Deviation: only the fast-forward case of "rebase and merge" (no commit rewriting).
            if self._git("merge-base", "--is-ancestor", base, head, check=False).returncode != 0:
                raise _err(405, "This branch can't be rebased")
            new = head
        else:
            tree = self._merge_tree(base, head)
            if tree is None:
                raise _err(405, "Pull Request is not mergeable")
            if method == "merge":
                parents = [base, head]
                title = title or f"Merge pull request #{issue.number} from {self.owner}/{pr.head}"
                message = issue.title if message is None else message
            else:
                parents = [base]
                title = title or f"{issue.title} (#{issue.number})"
                if message is None:  # GitHub's default squash message lists the squashed commits
                    squashed = self._commits("--reverse", f"{base}..{head}")
                    message = "\n\n".join(f"* {c['message'].strip()}" for c in squashed)
            user = self._user(ctx.login)
            # Authored by the merging user's noreply identity, committed by "GitHub", as web merges are.
            noreply = f"{user.id}+{user.login}@users.noreply.github.com"
            env = {"GIT_AUTHOR_NAME": user.login, "GIT_AUTHOR_EMAIL": noreply,
                   "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}  # fmt: skip
            text = title + (f"\n\n{message}" if message else "")
            args = [a for p in parents for a in ("-p", p)]
            new = self._git("commit-tree", tree, *args, input=text, env=env).stdout.strip()
        # Compare-and-swap: a push to base since we read it must not be overwritten.
        if self._git("update-ref", f"refs/heads/{pr.base}", new, base, check=False).returncode != 0:
            raise _err(409, "Base branch was modified. Review and try the merge again.")
        self._close(issue, ctx.login)
        pr.merged_at, pr.merged_by, pr.merge_commit_sha = issue.closed_at, ctx.login, new
        pr.head_sha, pr.base_sha = head, base
        return 200, {"sha": new, "merged": True, "message": "Pull Request successfully merged"}

    def _request_reviewers(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        issue = self._pull_issue(number)
        pr = issue.pull
        assert pr is not None
        body = self._obj(ctx)
        users, teams = body.get("reviewers") or [], body.get("team_reviewers") or []
        if not isinstance(users, list) or not isinstance(teams, list) or \
                not all(isinstance(x, str) for x in users + teams):  # fmt: skip
            raise _invalid("PullRequest", "invalid", "reviewers")
        if any(u.lower() == issue.user.lower() for u in users):
            raise _invalid("PullRequest", "custom", message="Review cannot be requested from pull request author.")
        known = {c.lower(): c for c in self.collaborators}
        if any(u.lower() not in known for u in users):
            raise _err(422, "Reviews may only be requested from collaborators. One or more of the users or teams you "
                            f"specified is not a collaborator of the {self.full_name} repository.")  # fmt: skip
        pr.reviewers += [known[u.lower()] for u in users if known[u.lower()] not in pr.reviewers]
        pr.teams += [t for t in teams if t not in pr.teams]
        issue.updated = _now()
        return 201, self._pull_json(ctx, issue, full=False)

    # -- issues and comments -----------------------------------------------------------------------

    def _list_issues(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("Issue", "invalid", "state")
        wanted = [self._label_key(x) for x in ctx.query.get("labels", "").split(",") if x.strip()]
        creator = ctx.query.get("creator")
        since = ctx.query.get("since")  # ISO 8601; GitHub compares with updated_at
        issues = [i for i in self._issues.values() if state in ("all", i.state) and all(k in i.labels for k in wanted)
                  and (not creator or i.user.lower() == creator.lower())
                  and (not since or (_iso(i.updated) or "") >= _iso(_since(since)))]  # fmt: skip
        return self._page(ctx, self._sort(ctx, issues, pulls=False), lambda i: self._issue_json(ctx, i))

    def _create_issue(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        body = self._obj(ctx)
        title = body.get("title")
        if title is None:
            raise _err(422, "Invalid request.\n\n\"title\" wasn't supplied.")
        if not isinstance(title, (str, int)):
            detail = f"For 'properties/title', {json.dumps(title)} is not a string or integer."
            raise _err(422, f"Invalid request.\n\n{detail}")
        labels = self._ensure_labels(body.get("labels", []))
        now = _now()
        number = next(self._numbers)
        issue = _Issue(number, next(self._ids), str(title), _str(body, "body"), ctx.login, now, now, labels)
        self._issues[number] = issue
        data = self._issue_json(ctx, issue)
        return 201, data, {"Location": data["url"]}

    def _get_issue(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        return 200, self._issue_json(ctx, self._issue(number))

    def _edit_issue(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        issue = self._issue(number)
        body = self._obj(ctx)
        state, reason = _str(body, "state"), _str(body, "state_reason")
        if state not in (None, "open", "closed"):
            raise _invalid("Issue", "invalid", "state")
        if state == "open" and issue.state == "closed":
            self._check_open_allowed(ctx, issue)  # reopening a pull through its issue has the pull's rules
        if "title" in body:
            issue.title = _str(body, "title") or issue.title
        if "body" in body:
            issue.body = _str(body, "body")
        if "labels" in body:
            issue.labels = self._ensure_labels(body["labels"] or [])
        if state == "closed" and issue.state == "open":
            self._close(issue, ctx.login, reason or "completed")
        elif state == "open" and issue.state == "closed":
            issue.state, issue.closed_at, issue.closed_by, issue.state_reason = "open", None, None, "reopened"
        issue.updated = _now()
        return 200, self._issue_json(ctx, issue)

    def _list_comments(self, ctx: _Ctx, number: str) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(number)
        since = ctx.query.get("since")
        comments = [c for c in self._comments.values() if c.issue == issue.number
                    and (not since or (_iso(c.updated) or "") >= since)]  # fmt: skip
        return self._page(ctx, comments, lambda c: self._comment_json(ctx, c))

    def _create_comment(self, ctx: _Ctx, number: str) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(number)
        text = _str(self._obj(ctx), "body")
        if not text:
            raise _invalid("IssueComment", "missing_field", "body")
        now = _now()
        comment = _Comment(next(self._ids), issue.number, text, ctx.login, now, now)
        self._comments[comment.id] = comment
        issue.updated = now
        data = self._comment_json(ctx, comment)
        return 201, data, {"Location": data["url"]}

    def _comment(self, cid: str) -> _Comment:
        comment = self._comments.get(int(cid))
        if comment is None:
            raise _not_found()
        return comment

    def _edit_comment(self, ctx: _Ctx, cid: str) -> tuple[int, Any]:
        comment = self._comment(cid)
        text = _str(self._obj(ctx), "body")
        if not text:
            raise _invalid("IssueComment", "missing_field", "body")
        comment.body, comment.updated = text, _now()
        return 200, self._comment_json(ctx, comment)

    # -- labels ------------------------------------------------------------------------------------

    def _issue_labels_json(self, ctx: _Ctx, issue: _Issue) -> list[dict[str, Any]]:
        return [self._label_json(ctx, k) for k in issue.labels]

    def _get_issue_labels(self, ctx: _Ctx, number: str) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(number)
        return self._page(ctx, issue.labels, lambda k: self._label_json(ctx, k))

    def _add_issue_labels(self, ctx: _Ctx, number: str) -> tuple[int, Any]:
        issue = self._issue(number)
        issue.labels += [k for k in self._ensure_labels(ctx.body or []) if k not in issue.labels]
        issue.updated = _now()
        return 200, self._issue_labels_json(ctx, issue)

    def _remove_issue_label(self, ctx: _Ctx, number: str, name: str) -> tuple[int, Any]:
        issue = self._issue(number)
        key = self._label_key(name)
        if key not in issue.labels:
            raise _err(404, "Label does not exist")
        issue.labels.remove(key)
        issue.updated = _now()
        return 200, self._issue_labels_json(ctx, issue)

    def _list_labels(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        return self._page(ctx, [self._label_key(lb.name) for lb in self._sorted_labels()],
                          lambda k: self._label_json(ctx, k))  # fmt: skip

    def _label_fields(self, body: dict[str, Any], color_default: str | None) -> tuple[str | None, str | None]:
        color = (_str(body, "color") or color_default or "").removeprefix("#") or None
        if color is not None and not re.fullmatch(r"[0-9a-fA-F]{6}", color):
            raise _invalid("Label", "invalid", "color")
        return (color.lower() if color else None), _str(body, "description")

    def _create_label(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        body = self._obj(ctx)
        name = _str(body, "name")
        if not name:
            raise _invalid("Label", "missing_field", "name")
        if self._label_key(name) in self._labels:
            raise _invalid("Label", "already_exists", "name")
        color, description = self._label_fields(body, "ededed")
        self._labels[self._label_key(name)] = _Label(next(self._ids), name, color or "ededed", description)
        data = self._label_json(ctx, self._label_key(name))
        return 201, data, {"Location": data["url"]}

    def _get_label(self, ctx: _Ctx, name: str) -> tuple[int, Any]:
        if self._label_key(name) not in self._labels:
            raise _not_found()
        return 200, self._label_json(ctx, self._label_key(name))

    # -- GraphQL: draft state ----------------------------------------------------------------------

    def _graphql(self, ctx: _Ctx) -> tuple[int, Any]:
        """POST /graphql: the convertPullRequestToDraft and markPullRequestReadyForReview mutations.

        GitHub answers GraphQL errors with status 200: a document it cannot parse or validate gets only
        ``errors`` (and changes nothing); a mutation that fails at run time gets ``null`` under its key in
        ``data`` and an ``errors`` entry with a ``type`` (NOT_FOUND, FORBIDDEN) and a ``path``.
        """
        body = ctx.body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables are invalid JSON."}]}
        try:
            kind, fields = _GqlParser(body["query"]).document()
            if kind != "mutation":
                raise _GraphQLError(f"{_SERVED}, not queries", locations=fields[0].locations)
            inputs = [self._gql_input(f, variables) for f in fields]  # all validated before any runs
        except _GraphQLError as exc:
            return 200, {"errors": [exc.entry]}
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for f, given in zip(fields, inputs):
            try:
                data[f.key] = self._gql_set_draft(ctx, f, given)
            except _GraphQLError as exc:
                data[f.key] = None
                errors.append({**exc.entry, "path": [f.key], "locations": f.locations})
        return 200, {"data": data, **({"errors": errors} if errors else {})}

    def _gql_input(self, f: _GqlField, variables: dict[str, Any]) -> dict[str, Any]:
        """Check one top-level mutation field (name, its ``input``, the selection); return the input object."""
        if f.name not in _MUTATIONS:
            raise _GraphQLError(f"Field '{f.name}' doesn't exist on type 'Mutation' ({_SERVED})", path=[f.key],
                                locations=f.locations,
                                extensions={"code": "undefinedField", "typeName": "Mutation", "fieldName": f.name})
        input_type = f"{f.name[0].upper()}{f.name[1:]}Input"
        extra = sorted(set(f.args) - {"input"})
        if extra:
            raise _GraphQLError(f"Field '{f.name}' doesn't accept argument '{extra[0]}'", path=[f.key],
                                locations=f.locations)  # fmt: skip
        if "input" not in f.args:
            raise _GraphQLError(f"Field '{f.name}' is missing required arguments: input", path=[f.key],
                                locations=f.locations)  # fmt: skip
        given = f.args["input"]
        if isinstance(given, tuple):  # ("$", name): a variable
            if given[1] not in variables:
                raise _GraphQLError(f"Variable ${given[1]} of type {input_type}! was provided invalid value",
                                    locations=f.locations)  # fmt: skip
            given = variables[given[1]]
        if not isinstance(given, dict) or not isinstance(given.get("pullRequestId"), str) or \
                set(given) - {"pullRequestId", "clientMutationId"} or \
                not isinstance(given.get("clientMutationId", ""), (str, type(None))):  # fmt: skip
            raise _GraphQLError(f"Argument 'input' on Field '{f.name}' has an invalid value ({json.dumps(given)}). "
                                f"Expected type '{input_type}!'.", path=[f.key], locations=f.locations)  # fmt: skip
        if f.selections is None:
            raise _GraphQLError(f"Field must have selections (field '{f.name}' returns {input_type[:-5]}Payload but "
                                f"has no selections. Did you mean '{f.name} {{ ... }}'?)", path=[f.key],
                                locations=f.locations)  # fmt: skip
        _gql_check(f"{input_type[:-5]}Payload", f.selections, [f.key])
        return given

    def _gql_set_draft(self, ctx: _Ctx, f: _GqlField, given: dict[str, Any]) -> dict[str, Any]:
        """Run one mutation: find the pull by node id, flip its draft state, answer the selected fields."""
        node = given["pullRequestId"]
        issue = next((i for i in self._issues.values() if i.pull and _node("PullRequest", i.pull.id) == node), None)
        if issue is None or issue.pull is None:
            raise _GraphQLError(f"Could not resolve to a node with the global id of '{node}'.", type="NOT_FOUND")
        draft, what = _MUTATIONS[f.name]
        # Who may change it: its author and users with push access.
        if ctx.login != issue.user and not self._can_push(ctx.login, self._main_repo()):
            raise _GraphQLError(f"{ctx.login} does not have permission to {what.format(node)}.", type="FORBIDDEN")
        if issue.pull.draft != draft:
            issue.pull.draft, issue.updated = draft, _now()
        payload_type = f"{f.name[0].upper()}{f.name[1:]}Payload"
        assert f.selections is not None
        return self._gql_render(ctx, payload_type, f.selections, issue, given.get("clientMutationId"))

    def _gql_render(self, ctx: _Ctx, type_name: str, fields: list[_GqlField], issue: _Issue,
                    client_id: str | None) -> dict[str, Any]:  # fmt: skip
        pr = issue.pull
        assert pr is not None
        out: dict[str, Any] = {}
        for f in fields:
            if f.name == "__typename":
                out[f.key] = type_name
            elif f.name == "clientMutationId":
                out[f.key] = client_id
            elif f.name == "pullRequest":
                assert f.selections is not None
                out[f.key] = self._gql_render(ctx, "PullRequest", f.selections, issue, client_id)
            else:  # a PullRequest scalar
                state = "MERGED" if pr.merged_at is not None else issue.state.upper()
                out[f.key] = {"id": _node("PullRequest", pr.id), "number": issue.number, "isDraft": pr.draft,
                              "title": issue.title, "state": state,
                              "url": f"{self.web_url}/{self.full_name}/pull/{issue.number}"}[f.name]  # fmt: skip
        return out

    # -- served repositories (main and added) ------------------------------------------------------

    def _main_repo(self) -> _Repo:
        # Built on each use: tests may point the main repository's attributes elsewhere after start().
        return _Repo(self.full_name, self.bare, self.default_branch, self.repo_id, self.created, self._main_releases)

    def _served(self, full_name: str) -> _Repo | None:
        key = full_name.lower()
        return self._main_repo() if key == self.full_name.lower() else self._extra.get(key)

    def _repo_named(self, full_name: str) -> _Repo:
        repo = self._served(full_name)
        if repo is None:
            raise KeyError(f"{full_name} is not served (add_repo first)")
        return repo

    def _can_push(self, login: str, repo: _Repo) -> bool:
        return bool(login) and login in (self.collaborators if repo.collaborators is None else repo.collaborators)

    def _rev(self, repo: _Repo, rev: str, kind: str = "commit") -> str | None:
        """The sha of ``rev`` peeled to ``kind`` in ``repo``, or None (never an option: no leading "-")."""
        if not rev or rev.startswith("-"):
            return None
        proc = git(repo.bare, "rev-parse", "--verify", "--quiet", f"{rev}^{{{kind}}}", check=False)
        return proc.stdout.strip() or None

    # -- releases ----------------------------------------------------------------------------------

    def _sorted_releases(self, repo: _Repo, drafts: bool) -> list[_Release]:
        # Newest first, as GitHub lists them (by creation; the id breaks ties within one second).
        kept = [r for r in repo.releases.values() if drafts or not r.draft]
        return sorted(kept, key=lambda r: (r.created, r.id), reverse=True)

    def _tag_release(self, repo: _Repo, release: _Release) -> None:
        """Publishing creates the tag at the target when it does not exist yet, as GitHub does."""
        if self._rev(repo, f"refs/tags/{release.tag}") is not None:
            return
        sha = self._rev(repo, release.target)
        if sha is None:
            raise _invalid("Release", "invalid", "target_commitish")
        git(repo.bare, "update-ref", f"refs/tags/{release.tag}", sha)

    def _check_release(self, repo: _Repo, tag: Any, target: Any, draft: bool, exclude: int | None = None) -> None:
        if not isinstance(tag, str) or not tag.strip():
            raise _invalid("Release", "missing_field", "tag_name")
        if tag.startswith("-") or git(None, "check-ref-format", f"refs/tags/{tag}", check=False).returncode != 0:
            raise _invalid("Release", "invalid", "tag_name")
        if any(r.tag == tag and r.id != exclude and not r.draft for r in repo.releases.values()) and not draft:
            raise _invalid("Release", "already_exists", "tag_name")
        tagged = self._rev(repo, f"refs/tags/{tag}") is not None
        if not isinstance(target, str) or (not tagged and self._rev(repo, target) is None):
            raise _invalid("Release", "invalid", "target_commitish")

    def _new_release(self, repo: _Repo, tag: Any, target: Any, name: str | None, body: str | None, draft: bool,
                     prerelease: bool, author: str) -> _Release:  # fmt: skip
        self._check_release(repo, tag, target, draft)
        now = _now()
        release = _Release(next(self._ids), tag, target, name, body, draft, prerelease, author, now,
                           None if draft else now)  # fmt: skip
        if not draft:
            self._tag_release(repo, release)
        repo.releases[release.id] = release
        return release

    def _release_json(self, ctx: _Ctx, repo: _Repo, r: _Release) -> dict[str, Any]:
        api, web = f"{ctx.api}/repos/{repo.full_name}", f"{self.web_url}/{repo.full_name}"
        url = f"{api}/releases/{r.id}"
        # A draft has no tag yet: GitHub links it under a made-up "untagged-..." name.
        shown = f"untagged-{uuid.uuid5(uuid.NAMESPACE_OID, str(r.id)).hex[:20]}" if r.draft else r.tag
        return {"url": url, "html_url": f"{web}/releases/tag/{quote(shown, safe='')}",
                "assets_url": url + "/assets",
                "upload_url": f"{self.web_url}/uploads/repos/{repo.full_name}/releases/{r.id}/assets{{?name,label}}",
                "tarball_url": None if r.draft else f"{api}/tarball/{quote(r.tag, safe='')}",
                "zipball_url": None if r.draft else f"{api}/zipball/{quote(r.tag, safe='')}",
                "id": r.id, "node_id": _node("Release", r.id), "tag_name": r.tag, "target_commitish": r.target,
                "name": r.name, "body": r.body, "draft": r.draft, "prerelease": r.prerelease,
                "created_at": _iso(r.created), "published_at": _iso(r.published),
                "author": self._user_json(ctx, r.author), "assets": []}  # fmt: skip

    def _release(self, ctx: _Ctx, rid: str) -> _Release:
        assert ctx.repo is not None
        release = ctx.repo.releases.get(int(rid))
        if release is None or (release.draft and not self._can_push(ctx.login, ctx.repo)):
            raise _not_found()  # drafts are visible to users with push access only
        return release

    def _list_releases(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        repo = ctx.repo
        assert repo is not None
        releases = self._sorted_releases(repo, drafts=self._can_push(ctx.login, repo))
        return self._page(ctx, releases, lambda r: self._release_json(ctx, repo, r))

    def _latest_release(self, ctx: _Ctx) -> tuple[int, Any]:
        assert ctx.repo is not None
        finals = [r for r in self._sorted_releases(ctx.repo, drafts=False) if not r.prerelease]
        if not finals:
            raise _not_found()
        return 200, self._release_json(ctx, ctx.repo, finals[0])

    def _release_by_tag(self, ctx: _Ctx, tag: str) -> tuple[int, Any]:
        assert ctx.repo is not None
        # "Get a published release with the specified tag": drafts are never found this way.
        found = next((r for r in self._sorted_releases(ctx.repo, drafts=False) if r.tag == tag), None)
        if found is None:
            raise _not_found()
        return 200, self._release_json(ctx, ctx.repo, found)

    def _get_release(self, ctx: _Ctx, rid: str) -> tuple[int, Any]:
        assert ctx.repo is not None
        return 200, self._release_json(ctx, ctx.repo, self._release(ctx, rid))

    def _write_allowed(self, ctx: _Ctx) -> _Repo:
        assert ctx.repo is not None
        if not self._can_push(ctx.login, ctx.repo):
            raise _err(403, "Resource not accessible by personal access token")
        return ctx.repo

    def _create_release(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        repo = self._write_allowed(ctx)
        body = self._obj(ctx)
        target = body.get("target_commitish") or repo.default_branch
        release = self._new_release(repo, body.get("tag_name"), target, _str(body, "name"), _str(body, "body"),
                                    bool(body.get("draft", False)), bool(body.get("prerelease", False)),
                                    ctx.login)  # fmt: skip
        data = self._release_json(ctx, repo, release)
        return 201, data, {"Location": data["url"]}

    def _edit_release(self, ctx: _Ctx, rid: str) -> tuple[int, Any]:
        repo = self._write_allowed(ctx)
        release = self._release(ctx, rid)
        body = self._obj(ctx)
        tag = body.get("tag_name", release.tag)
        target = body.get("target_commitish", release.target)
        draft = bool(body.get("draft", release.draft))
        self._check_release(repo, tag, target, draft, exclude=release.id)
        release.tag, release.target, release.draft = tag, target, draft
        if "name" in body:
            release.name = _str(body, "name")
        if "body" in body:
            release.body = _str(body, "body")
        if "prerelease" in body:
            release.prerelease = bool(body["prerelease"])
        if not draft:
            self._tag_release(repo, release)
            release.published = release.published or _now()  # publishing a draft
        return 200, self._release_json(ctx, repo, release)

    def _delete_release(self, ctx: _Ctx, rid: str) -> tuple[int, Any]:
        repo = self._write_allowed(ctx)
        del repo.releases[self._release(ctx, rid).id]  # the tag stays, as on GitHub
        return 204, None

    # -- contents and trees ------------------------------------------------------------------------

    def _content_links(self, ctx: _Ctx, repo: _Repo, ref: str, path: str, kind: str, sha: str) -> dict[str, Any]:
        api, web = f"{ctx.api}/repos/{repo.full_name}", f"{self.web_url}/{repo.full_name}"
        url = f"{api}/contents/{quote(path)}?{urlencode({'ref': ref})}"
        git_url = html = None  # a submodule's objects live in another repository
        if kind != "submodule":
            git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
            html = f"{web}/{'tree' if kind == 'dir' else 'blob'}/{quote(ref)}/{quote(path)}"
        # download_url names where raw.githubusercontent.com would serve the file; the stand-in does not serve it.
        download = f"{self.web_url}/raw/{repo.full_name}/{quote(ref)}/{quote(path)}" if kind in ("file", "symlink") \
            else None  # fmt: skip
        return {"url": url, "git_url": git_url, "html_url": html, "download_url": download,
                "_links": {"self": url, "git": git_url, "html": html}}  # fmt: skip

    def _content_entry(self, ctx: _Ctx, repo: _Repo, ref: str, mode: str, otype: str, sha: str, size: str,
                       path: str) -> dict[str, Any]:  # fmt: skip
        # GitHub's documented quirk: directory listings call submodules "file".
        kind = {"tree": "dir", "commit": "file"}.get(otype, "symlink" if mode == "120000" else "file")
        return {"type": kind, "size": int(size) if size.isdigit() else 0, "name": path.rpartition("/")[2],
                "path": path, "sha": sha, **self._content_links(ctx, repo, ref, path, kind, sha)}  # fmt: skip

    def _ls_tree(self, repo: _Repo, *args: str) -> list[tuple[str, str, str, str, str]]:
        """(mode, type, sha, size, path) rows of ``git ls-tree -l -z``; pathspecs taken literally."""
        out = git(repo.bare, "ls-tree", "-l", "-z", *args, env={"GIT_LITERAL_PATHSPECS": "1"}).stdout
        rows = []
        for record in out.split("\0"):
            if record:
                meta, _, path = record.partition("\t")
                mode, otype, sha, size = meta.split()
                rows.append((mode, otype, sha, size, path))
        return rows

    def _get_contents(self, ctx: _Ctx, path: str = "") -> tuple[int, Any]:
        repo = ctx.repo
        assert repo is not None
        explicit = ctx.query.get("ref")
        ref = explicit or repo.default_branch
        commit = self._rev(repo, ref)
        if commit is None:
            raise _err(404, f"No commit found for the ref {ref}" if explicit else "This repository is empty.")
        path = "/".join(p for p in path.split("/") if p)
        if not path:
            rows = self._ls_tree(repo, commit)
            return 200, [self._content_entry(ctx, repo, ref, *row) for row in rows]
        if ".." in path.split("/"):
            raise _not_found()
        found = self._ls_tree(repo, "--full-tree", commit, "--", path)
        if len(found) != 1 or found[0][4] != path:
            raise _not_found()
        mode, otype, sha, size, _ = found[0]
        if otype == "tree":
            rows = self._ls_tree(repo, sha)
            return 200, [self._content_entry(ctx, repo, ref, m, t, s, z, f"{path}/{name}") for m, t, s, z, name in rows]
        if otype == "commit":
            entry = {**self._content_entry(ctx, repo, ref, mode, otype, sha, size, path), "type": "submodule"}
            return 200, {**entry, **self._content_links(ctx, repo, ref, path, "submodule", sha),
                         "submodule_git_url": None}  # fmt: skip
        if mode == "120000":  # a symlink to a file in the repository answers with that file
            target = _git_bytes(repo.bare, "cat-file", "blob", sha).decode(errors="replace")
            joined = "/".join([*path.split("/")[:-1], target]) if not target.startswith("/") else ""
            resolved = _collapse(joined)
            rows = self._ls_tree(repo, "--full-tree", commit, "--", resolved) if resolved else []
            if len(rows) == 1 and rows[0][1] == "blob" and rows[0][0] != "120000" and rows[0][4] == resolved:
                mode, otype, sha, size, path = rows[0]
            else:
                entry = self._content_entry(ctx, repo, ref, mode, otype, sha, size, path)
                return 200, {**entry, "target": target}
        return 200, self._file_json(ctx, repo, ref, mode, otype, sha, size, path)

    def _file_json(self, ctx: _Ctx, repo: _Repo, ref: str, mode: str, otype: str, sha: str, size: str,
                   path: str) -> dict[str, Any]:  # fmt: skip
        entry = {**self._content_entry(ctx, repo, ref, mode, otype, sha, size, path), "type": "file"}
        if entry["size"] > 1024 * 1024:  # 1-100 MB: GitHub leaves the content out ("encoding": "none")
            return {**entry, "encoding": "none", "content": ""}
        data = base64.b64encode(_git_bytes(repo.bare, "cat-file", "blob", sha)).decode()
        wrapped = "".join(data[i : i + 60] + "\n" for i in range(0, len(data), 60))  # GitHub wraps at 60
        return {**entry, "encoding": "base64", "content": wrapped}

    def _list_tags(self, ctx: _Ctx) -> tuple[int, Any, dict[str, str]]:
        """``GET /repos/{o}/{r}/tags``: the bare repository's tags, each with the commit it points to (an annotated
        tag peeled), newest name first as GitHub lists them, paginated."""
        repo = ctx.repo
        assert repo is not None
        out = git(repo.bare, "for-each-ref", "--sort=-refname", "--format=%(refname:strip=2)\t%(*objectname)\t%(objectname)",
                  "refs/tags", check=False).stdout
        rows = []
        for line in out.splitlines():
            name, peeled, sha = line.split("\t")
            rows.append((name, peeled or sha))
        api = f"{ctx.api}/repos/{repo.full_name}"

        def render(row: tuple[str, str]) -> dict[str, Any]:
            name, sha = row
            return {"name": name, "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
                    "zipball_url": f"{api}/zipball/refs/tags/{name}", "tarball_url": f"{api}/tarball/refs/tags/{name}",
                    "node_id": "REF_" + sha[:12]}

        return self._page(ctx, rows, render)

    def _get_tree(self, ctx: _Ctx, ref: str) -> tuple[int, Any]:
        repo = ctx.repo
        assert repo is not None
        tree = self._rev(repo, ref, "tree")
        if tree is None:
            raise _not_found()
        # GitHub recurses for any value of "recursive"; without it only the top level is listed.
        rows = self._ls_tree(repo, *(["-r", "-t"] if "recursive" in ctx.query else []), tree)
        api = f"{ctx.api}/repos/{repo.full_name}/git"
        entries = []
        for mode, otype, sha, size, path in rows:
            entry: dict[str, Any] = {"path": path, "mode": mode, "type": otype, "sha": sha}
            if otype == "blob":
                entry.update(size=int(size), url=f"{api}/blobs/{sha}")
            elif otype == "tree":
                entry["url"] = f"{api}/trees/{sha}"
            entries.append(entry)
        return 200, {"sha": tree, "url": f"{api}/trees/{tree}", "tree": entries, "truncated": False}
