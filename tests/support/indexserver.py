"""A real loopback simple-repository server (PEP 503 HTML, PEP 691 JSON) with caching, auth and fault injection."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import html
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from .distbuild import file_hashes, normalize_name, read_metadata
from .loopback import Fault, LoopbackHandler, LoopbackServer

__all__ = [
    "StaticIndex",
    "RequestRecord",
    "FileEntry",
    "PypiserverIndex",
    "PypiserverError",
    "start_pypiserver",
    "negotiate",
    "JSON_V1",
    "HTML_V1",
    "TEXT_HTML",
]

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
_LATEST = {"application/vnd.pypi.simple.latest+json": JSON_V1, "application/vnd.pypi.simple.latest+html": HTML_V1}
# Tie-break order when q-values are equal: HTML first, as PyPI (Warehouse) does, so `*/*` gets HTML.
_PREFERENCE = (TEXT_HTML, HTML_V1, JSON_V1)
_API_VERSION = "1.1"
_CACHE_CONTROL = "max-age=600, public"


@dataclass(frozen=True)
class RequestRecord:
    """One answered request, as the server saw it."""

    method: str
    path: str
    query: str
    status: int
    bytes_sent: int
    conditional: bool
    accept: str | None
    authorization: bool
    user_agent: str | None
    headers: dict[str, str]
    duration: float


@dataclass
class FileEntry:
    """One file listed on a project page; ``path`` is None for page-only entries."""

    project: str
    filename: str
    path: Path | None
    url: str | None
    yanked: bool | str
    requires_python: str | None
    sha256: str | None
    size: int | None
    version: str | None
    upload_time: datetime | None
    added: float
    provenance: dict[str, Any] | None = None  # PEP 740: served at /integrity/<project>/<version>/<file>/provenance


@dataclass
class _Project:
    display_name: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    last_modified: int = 0
    served: bool = False


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in header.split(","):
        bits = [b.strip() for b in part.split(";")]
        media = bits[0].lower()
        if not media:
            continue
        q = 1.0
        for param in bits[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        ranges.append((_LATEST.get(media, media), q))
    return ranges


def negotiate(accept: str | None, available: tuple[str, ...] = _PREFERENCE) -> str | None:
    """Pick the response media type for an Accept header (RFC 9110 specificity and q-values); None -> 406."""
    if accept is None or not accept.strip():
        return available[0]
    ranges = _parse_accept(accept)
    best: tuple[float, int] | None = None
    choice: str | None = None
    for rank, offer in enumerate(available):
        otype, _, osub = offer.partition("/")
        # The most specific matching range decides the offer's q-value.
        specificity, q = -1, 0.0
        for media, mq in ranges:
            mtype, _, msub = media.partition("/")
            if media == offer:
                spec = 2
            elif mtype == otype and msub == "*":
                spec = 1
            elif media == "*/*":
                spec = 0
            else:
                continue
            if spec > specificity:
                specificity, q = spec, mq
        if specificity < 0 or q <= 0:
            continue
        key = (q, -rank)
        if best is None or key > best:
            best, choice = key, offer
    return choice


def _version_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _version_key(v: str) -> tuple[int, Any]:
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, v)


class _Handler(LoopbackHandler):
    server_version = "nightcrew-StaticIndex/1.0"

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, *, head: bool) -> None:
        started = time.monotonic()
        index = cast(StaticIndex, self.server.app)
        split = urlsplit(self.path)
        path = unquote(split.path)
        status, headers, body = index._respond(self, path, split.query)
        # Log before answering: a client may look at the log the moment it has its response.
        planned = len(body) if not head and status != 304 else 0
        index._log(
            RequestRecord(
                method=self.command,
                path=path,
                query=split.query,
                status=status,
                bytes_sent=planned,
                conditional=bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since")),
                accept=self.headers.get("Accept"),
                authorization=self.headers.get("Authorization") is not None,
                user_agent=self.headers.get("User-Agent"),
                headers={k: v for k, v in self.headers.items()},
                duration=time.monotonic() - started,
            )
        )
        self.reply(status, headers, body, head=head)


def provenance(repository: str, workflow: str = "release.yml", *, kind: str = "GitHub",
               environment: str | None = "pypi") -> dict[str, Any]:
    """A provenance object as the index serves it (PEP 740): one attestation bundle by a Trusted Publisher."""
    publisher: dict[str, Any] = {"kind": kind, "repository": repository, "workflow": workflow}
    if environment:
        publisher["environment"] = environment
    return {"version": 1, "attestation_bundles": [{"publisher": publisher, "attestations": [{
        "version": 1, "verification_material": {"certificate": "MIIC...", "transparency_entries": [{}]},
        "envelope": {"statement": "eyJfdHlwZSI6...", "signature": "MEUCIQ..."}}]}]}


class StaticIndex(LoopbackServer[RequestRecord]):
    """Simple-repository server on 127.0.0.1:0, serving pages from added dists or page-only entries.

    ``json=False`` imitates an old HTML-only server: the Accept header is ignored and text/html is
    always returned (never 406), as pypiserver does. Pages use relative file URLs unless
    ``absolute_urls=True``.
    """

    handler_class = _Handler

    def __init__(
        self,
        *,
        json: bool = True,
        absolute_urls: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.json = json
        self.absolute_urls = absolute_urls
        self.auth = auth
        self._projects: dict[str, _Project] = {}
        self._files: dict[str, FileEntry] = {}  # filename -> entry with a real file
        self._root_modified = int(time.time())
        self._root_served = False
        self._render_cache: dict[tuple[str, str], tuple[bytes, str, int]] = {}
        # which caching headers pages and files carry; a test may narrow this to imitate other servers
        self.cache_headers: tuple[str, ...] = ("ETag", "Last-Modified", "Cache-Control")

    # -- urls (start/stop/port/base_url come from LoopbackServer) --------------------------------

    @property
    def url(self) -> str:
        """The index URL clients are given: ``http://127.0.0.1:PORT/simple/``."""
        return self.base_url + "simple/"

    def project_url(self, project: str) -> str:
        return f"{self.url}{normalize_name(project)}/"

    def file_url(self, filename: str) -> str:
        return f"{self.base_url}files/{quote(filename)}"

    # -- content ---------------------------------------------------------------------------------

    def add(
        self,
        path: Path | str,
        *,
        yanked: bool | str = False,
        requires_python: str | None = None,
        upload_time: datetime | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> FileEntry:
        """List a real dist file and serve it at ``/files/<filename>`` (and its PEP 740 provenance object, if given).

        Project name and Requires-Python come from the file's metadata; an explicit ``requires_python``
        wins (pass ``""`` to list none).
        """
        path = Path(path)
        meta = read_metadata(path)
        name = meta.get("Name") if meta is not None else None
        if not name:
            name = _name_from_filename(path.name)
        if requires_python is None and meta is not None:
            requires_python = meta.get("Requires-Python")
        entry = FileEntry(
            project=normalize_name(name),
            filename=path.name,
            path=path,
            url=None,
            yanked=yanked,
            requires_python=requires_python or None,
            sha256=file_hashes(path)["sha256"],
            size=path.stat().st_size,
            version=(meta.get("Version") if meta is not None else None) or _version_of(path.name),
            upload_time=upload_time,
            added=time.time(),
            provenance=provenance,
        )
        with self._lock:
            self._files[path.name] = entry
            self._put(name, entry)
        return entry

    def add_file_entry(
        self,
        project: str,
        filename: str,
        *,
        url: str | None = None,
        yanked: bool | str = False,
        requires_python: str | None = None,
        sha256: str | None = None,
        size: int = 0,
        version: str | None = None,
        upload_time: datetime | None = None,
    ) -> FileEntry:
        """List a file on ``project``'s page without any real file behind it (downloads 404)."""
        entry = FileEntry(
            project=normalize_name(project),
            filename=filename,
            path=None,
            url=url,
            yanked=yanked,
            requires_python=requires_python or None,
            sha256=sha256,
            size=size,
            version=version or _version_of(filename),
            upload_time=upload_time,
            added=time.time(),
        )
        with self._lock:
            self._put(project, entry)
        return entry

    def remove(self, project: str, filename: str) -> None:
        """Drop one file from a project page (and stop serving it); the project stays, possibly empty."""
        key = normalize_name(project)
        with self._lock:
            proj = self._projects.get(key)
            if proj is None or filename not in proj.files:
                raise KeyError(f"{filename} is not listed for {project}")
            entry = proj.files.pop(filename)
            if entry.path is not None and self._files.get(filename) is entry:
                del self._files[filename]
            self._touch_project(key)

    def remove_project(self, project: str) -> None:
        """Drop a whole project: its page then answers 404."""
        key = normalize_name(project)
        with self._lock:
            proj = self._projects.pop(key)
            for filename, entry in proj.files.items():
                if entry.path is not None and self._files.get(filename) is entry:
                    del self._files[filename]
            self._drop_cache(key)
            self._touch_root()

    def projects(self) -> list[str]:
        with self._lock:
            return sorted(self._projects)

    def entries(self, project: str) -> list[FileEntry]:
        with self._lock:
            proj = self._projects.get(normalize_name(project))
            return list(proj.files.values()) if proj else []

    def _put(self, display_name: str, entry: FileEntry) -> None:
        proj = self._projects.get(entry.project)
        if proj is None:
            proj = self._projects[entry.project] = _Project(display_name=display_name)
            self._touch_root()
        proj.files[entry.filename] = entry  # same filename again replaces it (e.g. to yank it)
        self._touch_project(entry.project)

    @staticmethod
    def _next_modified(previous: int, served: bool) -> int:
        # Last-Modified has one-second resolution; if the old page was already served in this same
        # second, move the stamp forward so If-Modified-Since cannot wrongly answer 304.
        now = int(time.time())
        return previous + 1 if served and now <= previous else max(now, previous)

    def _touch_project(self, key: str) -> None:
        proj = self._projects[key]
        proj.last_modified = self._next_modified(proj.last_modified, proj.served)
        proj.served = False
        self._drop_cache(key)

    def _touch_root(self) -> None:
        self._root_modified = self._next_modified(self._root_modified, self._root_served)
        self._root_served = False
        self._drop_cache("")

    def _drop_cache(self, key: str) -> None:
        for k in [k for k in self._render_cache if k[0] == key]:
            del self._render_cache[k]

    # -- faults (clear_faults, requests and reset_log come from LoopbackServer) ------------------

    def fail(
        self,
        path_or_project: str,
        status: int = 503,
        times: int | None = 1,
        body: str = "Service Unavailable (injected)\n",
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests (None: all, until ``clear_faults``) to it get ``status``.

        Target: a path (``/files/x.whl``), a URL, a project name (its ``/simple/<name>/`` page), or ``*``.
        """
        fault = Fault("fail", times, status, body.encode(), dict(headers or {}))
        self._add_fault(fault, self._target(path_or_project))

    def delay(self, path_or_project: str, seconds: float, times: int | None = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` requests to it (to provoke client timeouts)."""
        self._add_fault(Fault("delay", times, seconds=seconds), self._target(path_or_project))

    @staticmethod
    def _target(path_or_project: str) -> str:
        if path_or_project == "*":
            return "*"
        if "://" in path_or_project:
            return unquote(urlsplit(path_or_project).path)
        if "/" in path_or_project:
            return path_or_project
        return f"/simple/{normalize_name(path_or_project)}/"

    # -- HTTP ------------------------------------------------------------------------------------

    def _respond(self, handler: _Handler, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        fault = self._hold(self._take_faults((path, "*")))  # faults on the path before those on "*"
        if fault is not None:
            return fault.status, {"Content-Type": "text/plain; charset=utf-8", **fault.headers}, fault.body

        if self.auth is not None and not self._authorized(handler.headers.get("Authorization")):
            return (
                401,
                {"WWW-Authenticate": 'Basic realm="nightcrew-test-index"', "Content-Type": "text/plain; charset=utf-8"},
                b"Unauthorized\n",
            )

        if path in ("/simple", "/simple/"):
            if path == "/simple":
                return self._redirect("/simple/", query)
            return self._page(handler, "", query)
        if path.startswith("/simple/"):
            rest = path[len("/simple/") :]
            name = rest.rstrip("/")
            if not name or "/" in name:
                return _not_found(path)
            normalized = normalize_name(name)
            if name != normalized or not rest.endswith("/"):
                return self._redirect(f"/simple/{quote(normalized)}/", query)
            return self._page(handler, normalized, query)
        if path.startswith("/files/"):
            return self._file(handler, path[len("/files/") :])
        if path.startswith("/integrity/") and path.endswith("/provenance"):
            parts = path.split("/")
            filename = parts[4] if len(parts) == 6 else ""
            with self._lock:
                entry = next((e for proj in self._projects.values() for e in proj.files.values()
                              if e.filename == filename and e.provenance is not None), None)
            if entry is None:
                return _not_found(path)
            return 200, {"Content-Type": "application/vnd.pypi.integrity.v1+json"}, json.dumps(entry.provenance).encode()
        return _not_found(path)

    def _authorized(self, header: str | None) -> bool:
        assert self.auth is not None
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == self.auth

    @staticmethod
    def _redirect(location: str, query: str) -> tuple[int, dict[str, str], bytes]:
        if query:
            location += "?" + query
        body = f"Moved to {location}\n".encode()
        return 301, {"Location": location, "Content-Type": "text/plain; charset=utf-8"}, body

    def _page(self, handler: _Handler, key: str, query: str) -> tuple[int, dict[str, str], bytes]:
        if self.json:
            # PEP 691 lets clients pick the format with ?format= as well as with Accept.
            fmt = parse_qs(query).get("format", [None])[0]
            media = negotiate(fmt or handler.headers.get("Accept"))
            if media is None:
                body = ("Not Acceptable; available: " + ", ".join(_PREFERENCE) + "\n").encode()
                return 406, {"Content-Type": "text/plain; charset=utf-8", "Vary": "Accept"}, body
        else:
            media = TEXT_HTML
        with self._lock:
            if key and key not in self._projects:
                return _not_found(f"/simple/{key}/", what=key)
            cached = self._render_cache.get((key, media))
            if cached is None:
                body = self._render(key, media)
                last_modified = self._projects[key].last_modified if key else self._root_modified
                cached = (body, '"' + hashlib.sha256(body).hexdigest()[:40] + '"', last_modified)
                self._render_cache[(key, media)] = cached
            if key:
                self._projects[key].served = True
            else:
                self._root_served = True
        body, etag, last_modified = cached
        content_type = TEXT_HTML + "; charset=utf-8" if media == TEXT_HTML else media
        headers = {"Content-Type": content_type}
        if self.json:
            headers["Vary"] = "Accept"
        return self._cacheable(handler, body, etag, last_modified, headers)

    def _file(self, handler: _Handler, filename: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            entry = self._files.get(filename)
        if entry is None or entry.path is None:
            return _not_found(f"/files/{filename}", what=filename)
        try:
            body = entry.path.read_bytes()
        except OSError:
            return _not_found(f"/files/{filename}", what=filename)
        etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        ctype = "application/zip" if filename.endswith((".whl", ".zip")) else "application/octet-stream"
        if filename.endswith((".tar.gz", ".tgz")):
            ctype = "application/x-tar"
        return self._cacheable(handler, body, etag, int(entry.added), {"Content-Type": ctype})

    def _cacheable(
        self,
        handler: _Handler, body: bytes, etag: str, last_modified: int, extra: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            **extra,
            "ETag": etag,
            "Last-Modified": _http_date(last_modified),
            "Cache-Control": _CACHE_CONTROL,
        }
        # Servers differ in which validators they send; a test may drop some (e.g. only Last-Modified).
        headers = {k: v for k, v in headers.items() if k not in ("ETag", "Last-Modified", "Cache-Control")
                   or k in self.cache_headers}
        inm = handler.headers.get("If-None-Match") if "ETag" in self.cache_headers else None
        ims = handler.headers.get("If-Modified-Since")
        if inm is not None:
            # RFC 9110: If-None-Match uses weak comparison and, when present, If-Modified-Since is ignored.
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            if "*" in tags or etag in tags:
                return 304, {k: v for k, v in headers.items() if k != "Content-Type"}, b""
        elif ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                since = None
            if since is not None:
                if since.tzinfo is None:
                    since = since.replace(tzinfo=timezone.utc)
                if last_modified <= since.timestamp():
                    return 304, {k: v for k, v in headers.items() if k != "Content-Type"}, b""
        return 200, headers, body

    # -- rendering -------------------------------------------------------------------------------

    def _file_href(self, entry: FileEntry) -> str:
        if entry.url is not None:
            return entry.url
        if self.absolute_urls:
            return self.file_url(entry.filename)
        return f"../../files/{quote(entry.filename)}"

    def _render(self, key: str, media: str) -> bytes:
        if not key:
            names = [self._projects[k].display_name for k in sorted(self._projects)]
            if media == JSON_V1:
                doc = {"meta": {"api-version": _API_VERSION}, "projects": [{"name": n} for n in names]}
                return json.dumps(doc).encode()
            links = "\n".join(
                f'    <a href="{html.escape(quote(normalize_name(n)))}/">{html.escape(n)}</a><br/>' for n in names
            )
            return _html_doc("Simple index", links)

        proj = self._projects[key]
        entries = sorted(proj.files.values(), key=lambda e: (_version_key(e.version or ""), e.filename))
        if media == JSON_V1:
            files = []
            for e in entries:
                item: dict[str, Any] = {
                    "filename": e.filename,
                    "url": self._file_href(e),
                    "hashes": {"sha256": e.sha256} if e.sha256 else {},
                }
                if e.requires_python:
                    item["requires-python"] = e.requires_python
                item["yanked"] = e.yanked
                if e.size is not None:
                    item["size"] = e.size
                if e.upload_time is not None:
                    item["upload-time"] = _iso(e.upload_time)
                if e.provenance is not None:
                    item["provenance"] = f"/integrity/{quote(key)}/{quote(e.version or '')}/{quote(e.filename)}/provenance"
                files.append(item)
            versions = sorted({e.version for e in entries if e.version}, key=_version_key)
            doc = {
                "meta": {"api-version": _API_VERSION},
                "name": key,
                "files": files,
                "versions": versions,
            }
            return json.dumps(doc).encode()
        lines = []
        for e in entries:
            href = self._file_href(e)
            if e.sha256:
                href += f"#sha256={e.sha256}"
            attrs = f'href="{html.escape(href)}"'
            if e.requires_python:
                attrs += f' data-requires-python="{html.escape(e.requires_python)}"'
            if e.yanked is not False:
                reason = "" if e.yanked is True else str(e.yanked)
                attrs += f' data-yanked="{html.escape(reason)}"'
            lines.append(f"    <a {attrs}>{html.escape(e.filename)}</a><br/>")
        return _html_doc(f"Links for {proj.display_name}", "\n".join(lines))


def _html_doc(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    ).encode("utf-8")


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _not_found(path: str, what: str | None = None) -> tuple[int, dict[str, str], bytes]:
    return 404, {"Content-Type": "text/plain; charset=utf-8"}, f"Not Found ({what or path} does not exist)\n".encode()


def _name_from_filename(filename: str) -> str:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return filename.split("-", 1)[0]


# -- pypiserver ------------------------------------------------------------------------------------


class PypiserverError(RuntimeError):
    """pypiserver did not come up; the message carries its output."""


@dataclass
class PypiserverIndex:
    """A running real pypiserver subprocess serving ``dir`` (PEP 503 HTML only)."""

    url: str
    base_url: str
    dir: Path
    files: list[Path]
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _loopback_status(url: str, timeout: float) -> int:
    # An empty ProxyHandler ignores *_proxy environment variables: loopback traffic stays loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as resp:
        return int(resp.status)


def start_pypiserver(
    pkg_dir: Path, log_path: Path, *, files: list[Path] | None = None, timeout: float = 20.0
) -> PypiserverIndex:
    """Start ``python -m pypiserver run`` on a free 127.0.0.1 port and wait (bounded) until /simple/ answers."""
    last_output = ""
    for _attempt in range(3):  # the probed free port can be taken before pypiserver binds it; retry then
        port = _free_port()
        cmd = [
            sys.executable, "-m", "pypiserver", "run",
            "-p", str(port), "-i", "127.0.0.1",
            "-a", ".", "-P", ".",  # no authentication at all
            "--disable-fallback",  # otherwise unknown projects redirect to the public index
            "--server", "wsgiref",  # stdlib server: no optional dependency needed
            str(pkg_dir),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        base_url = f"http://127.0.0.1:{port}/"
        server = PypiserverIndex(
            url=base_url + "simple/", base_url=base_url, dir=Path(pkg_dir), files=list(files or []),
            process=proc, log_path=Path(log_path),
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _loopback_status(server.url, timeout=1.0) == 200:
                    return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        server.stop()
        last_output = server.output()[-4000:]
        if "Address already in use" not in last_output:
            raise PypiserverError(
                f"pypiserver did not answer {server.url} within {timeout}s (exit code {proc.returncode}); "
                f"output:\n{last_output}"
            )
    raise PypiserverError(f"pypiserver could not bind a free loopback port; output:\n{last_output}")
