"""Ask the index for project pages: a bounded pool, retries with backoff, an on-disk cache revalidated each run."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
import urllib3.exceptions
from cachecontrol import CacheControlAdapter
from cachecontrol.caches.file_cache import FileCache
from cachecontrol.heuristics import BaseHeuristic
from packaging.utils import canonicalize_name
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jobs import __version__
from jobs.errors import PackageIndexError
from jobs.index.locate import IndexLocation, redact_url
from jobs.index.pages import ACCEPT, PageError, parse_page
from jobs.models import DistributionFile, ProjectPage

RETRY_STATUSES = (500, 502, 503, 504)


@dataclass
class RequestStats:
    """What the client sent and received, for the run summary and the benchmark."""

    sent: int = 0
    not_modified: int = 0
    cache_hits: int = 0
    bytes_downloaded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "not_modified": self.not_modified,
            "cache_hits": self.cache_hits,
            "bytes_downloaded": self.bytes_downloaded,
        }


class _KeepToRevalidate(BaseHeuristic):
    """Store pages that carry only ``Last-Modified`` (or ``max-age=0``), so the next run can revalidate them.

    CacheControl keeps a response only with an ETag or a positive max-age. Every request here asks for
    revalidation anyway (``max-age=0``), so marking such a page fresh for a second never serves stale data.
    """

    def update_headers(self, response):  # type: ignore[no-untyped-def]
        headers = response.headers
        control = headers.get("cache-control", "").lower()
        if "etag" in headers or "no-store" in control or "last-modified" not in headers:
            return {}
        if "max-age" in control and "max-age=0" not in control.replace(" ", ""):
            return {}
        return {"cache-control": "max-age=1"}

    def warning(self, response):  # type: ignore[no-untyped-def]
        return None


class _CountingAdapter(CacheControlAdapter):
    """CacheControl's adapter, counting what really went over the network."""

    def __init__(self, stats: RequestStats, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.stats = stats

    def build_response(self, request, response, from_cache=False, cacheable_methods=None):  # type: ignore[override]
        if not from_cache:
            self.stats.add(sent=1, not_modified=int(response.status == 304))
        return super().build_response(request, response, from_cache, cacheable_methods)


class IndexClient:
    """A client for one main index and its extra indexes.

    Every page request carries ``Cache-Control: max-age=0`` (as pip does), so a cached page is always
    revalidated with ``If-None-Match`` / ``If-Modified-Since`` and an unchanged page costs a 304, not a download.
    """

    def __init__(
        self,
        location: IndexLocation,
        *,
        cache_dir: Path | None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        workers: int = 16,
    ) -> None:
        self.location = location
        self.timeout = timeout
        self.retries = retries
        self.workers = workers
        self.stats = RequestStats()
        self.cache_dir = cache_dir
        retry = Retry(
            total=retries, connect=retries, read=retries, status=retries, other=0,
            backoff_factor=backoff, status_forcelist=RETRY_STATUSES, allowed_methods={"GET"},
            raise_on_status=False,
            # a Retry-After of an hour must not stall the nightly run: our own capped backoff decides
            respect_retry_after_header=False,
        )
        cache = FileCache(str(cache_dir)) if cache_dir else None
        adapter_args: dict[str, object] = {"max_retries": retry, "pool_connections": 4, "pool_maxsize": workers,
                                           "heuristic": _KeepToRevalidate()}
        if cache is not None:
            adapter_args["cache"] = cache
        adapter = _CountingAdapter(self.stats, **adapter_args)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"nightcrew/{__version__}"
        self.session.hooks["response"].append(self._count_body)
        # Distribution files go through a plain adapter: CacheControl would buffer and store every archive
        # a second time, and the byte-counting hook would read a streamed body whole before the size cap.
        # download() keeps its own cache, keyed by the file's sha256.
        self._download_session = requests.Session()
        plain = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=workers)
        self._download_session.mount("http://", plain)
        self._download_session.mount("https://", plain)
        self._download_session.headers["User-Agent"] = self.session.headers["User-Agent"]

    def _count_body(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if getattr(response, "from_cache", False):
            self.stats.add(cache_hits=1)
        else:
            self.stats.add(bytes_downloaded=len(response.content))

    def close(self) -> None:
        self.session.close()
        self._download_session.close()

    def __enter__(self) -> "IndexClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def index_urls(self) -> tuple[str, ...]:
        return (self.location.url, *self.location.extra_urls)

    def page_url(self, index_url: str, name: str) -> str:
        return urljoin(index_url.rstrip("/") + "/", canonicalize_name(name) + "/")

    def _fetch(self, url: str) -> tuple[DistributionFile, ...] | None:
        """The files on one index page; None when the index does not know the project (404)."""
        shown = redact_url(url)
        scheme = urlsplit(url).scheme
        if scheme == "file":
            return self._fetch_file(url)
        if scheme not in ("http", "https"):
            raise PackageIndexError(f"unsupported index URL scheme {scheme!r}", shown)
        response = self._get(url, ACCEPT)
        if response is None:
            return None
        try:
            return parse_page(response.content, response.headers.get("Content-Type", ""), response.url)
        except PageError as exc:
            raise PackageIndexError(str(exc), f"GET {shown}") from None

    def _get(self, url: str, accept: str) -> requests.Response | None:
        """One cached, revalidated GET; None on 404, ``PackageIndexError`` (naming the request) on any other failure."""
        shown = f"GET {redact_url(url)}"
        try:
            response = self.session.get(
                url, headers={"Accept": accept, "Cache-Control": "max-age=0"}, timeout=(self.timeout, self.timeout)
            )
        except requests.exceptions.RequestException as exc:
            raise PackageIndexError(self._describe(exc), shown) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            message = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
            if response.status_code in RETRY_STATUSES:
                message += f", {self._gave_up}"
            raise PackageIndexError(message, shown)
        return response

    @property
    def _gave_up(self) -> str:
        return f"gave up after {self.retries} {'retry' if self.retries == 1 else 'retries'}"

    def _describe(self, exc: requests.exceptions.RequestException) -> str:
        """One line for a failed request, without the URL (the caller names it, redacted)."""
        text = str(exc).lower()
        if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text or "timeout" in text:
            return f"timed out after {self.timeout:g}s, {self._gave_up}"
        if isinstance(exc, requests.exceptions.RetryError) or "too many" in text:
            return f"server error, {self._gave_up}"
        if isinstance(exc, requests.exceptions.ConnectionError):
            return f"connection failed, {self._gave_up}"
        return f"request failed ({type(exc).__name__})"

    def _fetch_file(self, url: str) -> tuple[DistributionFile, ...] | None:
        """A PEP 503 index on the local file system (pip accepts ``file:`` index URLs)."""
        path = Path(url2pathname(urlsplit(url).path))
        page = path / "index.html" if path.is_dir() else path
        if not page.is_file():
            return None
        try:
            return parse_page(page.read_bytes(), "text/html", page.as_uri())
        except PageError as exc:
            raise PackageIndexError(str(exc), url) from None

    def project(self, name: str) -> ProjectPage:
        """Every file every configured index lists for ``name``, merged; raises ``PackageIndexError``."""
        files: list[DistributionFile] = []
        found_on: list[str] = []
        for index_url in self.index_urls:
            url = self.page_url(index_url, name)
            listed = self._fetch(url)
            if listed is not None:
                found_on.append(url)
                files.extend(listed)
        if not found_on:
            where = f"GET {redact_url(self.page_url(self.location.url, name))}"
            raise PackageIndexError("not found on the index (HTTP 404)", where)
        return ProjectPage(name=canonicalize_name(name), url=redact_url(found_on[0]), files=tuple(files))

    def projects(
        self, names: Iterable[str], on_done: Callable[[str], None] | None = None
    ) -> dict[str, ProjectPage | PackageIndexError]:
        """Pages for many projects at once, at most ``workers`` requests in flight; failures are values."""
        unique = list(dict.fromkeys(canonicalize_name(n) for n in names))
        results: dict[str, ProjectPage | PackageIndexError] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="index") as pool:
            futures = {pool.submit(self.project, name): name for name in unique}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    results[name] = future.result()
                except PackageIndexError as exc:
                    results[name] = exc
                except Exception as exc:  # one odd answer must not end the whole scan
                    where = f"GET {redact_url(self.page_url(self.location.url, name))}"
                    results[name] = PackageIndexError(f"unreadable answer ({type(exc).__name__})", where)
                if on_done:
                    on_done(name)
        return results

    # -- distribution files and JSON metadata ------------------------------------------------------

    def download(self, file: DistributionFile, *, max_bytes: int) -> bytes:
        """The bytes of one distribution file, streamed and capped at ``max_bytes``, checked against the
        page's sha256 when it lists one, and kept on disk (by sha256, else by URL) so later runs read it there.

        Raises ``PackageIndexError`` (one line, naming the request) for a failed or oversized download or a
        hash mismatch.
        """
        shown = f"GET {redact_url(file.url)}"
        expected = dict(file.hashes).get("sha256", "").lower() or None
        cached = self._download_path(file.url, expected)
        if cached is not None and cached.is_file():
            data = self._read_cached(cached, expected, max_bytes, shown)
            if data is not None:
                self.stats.add(cache_hits=1)
                return data
        scheme = urlsplit(file.url).scheme
        if scheme == "file":
            data = self._read_local(file.url, max_bytes, shown)
        elif scheme in ("http", "https"):
            data = self._stream(file.url, max_bytes, shown)
        else:
            raise PackageIndexError(f"unsupported file URL scheme {scheme!r}", shown)
        if expected is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise PackageIndexError(f"sha256 mismatch: the index lists {expected}, the file has {actual}", shown)
        if cached is not None:
            self._store(cached, data)
        return data

    def _download_path(self, url: str, sha256: str | None) -> Path | None:
        if self.cache_dir is None:
            return None
        folder = Path(self.cache_dir) / "downloads"
        if sha256 is not None and all(c in "0123456789abcdef" for c in sha256) and len(sha256) == 64:
            return folder / f"sha256-{sha256}"
        # Files on an index never change under the same URL (PyPI refuses re-uploads), so the URL is a key.
        return folder / f"url-{hashlib.sha256(url.split('#', 1)[0].encode()).hexdigest()}"

    def _read_cached(self, path: Path, expected: str | None, max_bytes: int, shown: str) -> bytes | None:
        """A cached file, or None when it is unreadable or damaged (then it is downloaded again)."""
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise PackageIndexError(f"larger than {max_bytes} bytes", shown)
            data = path.read_bytes()
        except OSError:
            return None
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            return None
        return data

    def _store(self, path: Path, data: bytes) -> None:
        # Written to a temporary name and renamed, so a crash or a parallel run never leaves half a file.
        # An unwritable cache only costs a download next time.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass

    def _stream(self, url: str, max_bytes: int, shown: str) -> bytes:
        # As pip does: ask for the bytes as stored (no transfer gzip) and read them raw, so a server that
        # labels a .tar.gz "Content-Encoding: gzip" cannot make us unpack it and fail the hash check.
        try:
            response = self._download_session.get(
                url, headers={"Accept-Encoding": "identity"}, stream=True, timeout=(self.timeout, self.timeout)
            )
        except requests.exceptions.RequestException as exc:
            raise PackageIndexError(self._describe(exc), shown) from None
        self.stats.add(sent=1)
        with response:
            if response.status_code != 200:
                message = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                if response.status_code in RETRY_STATUSES:
                    message += f", {self._gave_up}"
                raise PackageIndexError(message, shown)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PackageIndexError(f"larger than {max_bytes} bytes ({declared} bytes)", shown)
            chunks: list[bytes] = []
            total = 0
            try:
                for chunk in response.raw.stream(64 * 1024, decode_content=False):
                    total += len(chunk)
                    self.stats.add(bytes_downloaded=len(chunk))
                    if total > max_bytes:
                        raise PackageIndexError(f"larger than {max_bytes} bytes", shown)
                    chunks.append(chunk)
            except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as exc:
                if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                    raise PackageIndexError(f"timed out after {self.timeout:g}s while reading", shown) from None
                raise PackageIndexError(f"download interrupted ({type(exc).__name__})", shown) from None
        return b"".join(chunks)

    def _read_local(self, url: str, max_bytes: int, shown: str) -> bytes:
        path = Path(url2pathname(urlsplit(url).path))
        try:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise PackageIndexError(f"cannot read the file ({exc.strerror or type(exc).__name__})", shown) from None
        if len(data) > max_bytes:
            raise PackageIndexError(f"larger than {max_bytes} bytes", shown)
        return data

    def provenance(self, file: DistributionFile) -> dict[str, object] | None:
        """The PEP 740 provenance object of ``file`` (None when the index lists none, or has none: 404)."""
        if not file.provenance:
            return None
        return self._get_json(file.provenance, "application/vnd.pypi.integrity.v1+json, application/json;q=0.5")

    def _get_json(self, url: str, accept: str) -> dict[str, object] | None:
        """A JSON object from the index (None on 404); ``PackageIndexError`` when it is not one."""
        shown = f"GET {redact_url(url)}"
        response = self._get(url, accept)
        if response is None:
            return None
        try:
            data = json.loads(response.content)
        except ValueError:
            raise PackageIndexError("not a JSON answer", shown) from None
        if not isinstance(data, dict):
            raise PackageIndexError("not a JSON object", shown)
        return data

    def json_url(self, name: str) -> str | None:
        """Where the index would serve ``name``'s JSON metadata (PyPI's ``/pypi/<name>/json``); None when
        the index URL does not end in ``/simple/``, as then there is no known place to look."""
        url = self.location.url
        if not url.endswith("/"):
            url += "/"
        if not url.endswith("/simple/") or urlsplit(url).scheme not in ("http", "https"):
            return None
        return f"{url[: -len('simple/')]}pypi/{canonicalize_name(name)}/json"

    def project_json(self, name: str) -> dict[str, object] | None:
        """The main index's JSON metadata for ``name`` (it describes only the newest release), or None when
        the index has no JSON API or does not know the project (404); other failures raise ``PackageIndexError``."""
        url = self.json_url(name)
        if url is None:
            return None
        data = self._get_json(url, "application/json")
        return data
