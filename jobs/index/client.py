"""Ask the index for project pages: a bounded pool, retries with backoff, an on-disk cache revalidated each run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
from cachecontrol import CacheControlAdapter
from cachecontrol.caches.file_cache import FileCache
from cachecontrol.heuristics import BaseHeuristic
from packaging.utils import canonicalize_name
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

    def _count_body(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if getattr(response, "from_cache", False):
            self.stats.add(cache_hits=1)
        else:
            self.stats.add(bytes_downloaded=len(response.content))

    def close(self) -> None:
        self.session.close()

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
        try:
            response = self.session.get(
                url, headers={"Accept": ACCEPT, "Cache-Control": "max-age=0"}, timeout=(self.timeout, self.timeout)
            )
        except requests.exceptions.RequestException as exc:
            raise PackageIndexError(self._describe(exc), f"GET {shown}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            message = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
            if response.status_code in RETRY_STATUSES:
                message += f", {self._gave_up}"
            raise PackageIndexError(message, f"GET {shown}")
        try:
            return parse_page(response.content, response.headers.get("Content-Type", ""), response.url)
        except PageError as exc:
            raise PackageIndexError(str(exc), f"GET {shown}") from None

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
