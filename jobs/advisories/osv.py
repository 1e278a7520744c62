"""OSV: ``POST /v1/querybatch`` for every (name, version) pair of a scan (chunks of the API's limit, following
``next_page_token``), then ``GET /v1/vulns/{id}`` for each advisory found, cached on disk by id and ``modified``.

Withdrawn advisories are ignored. Any failure is an ``AdvisoryError`` naming the request: the caller then says
that vulnerabilities were not checked, never that none were found.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

import requests
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jobs.errors import NightcrewError
from jobs.models import Advisory

BATCH_LIMIT = 1000  # queries per querybatch request, the API's own limit
SEVERITIES = ("LOW", "MODERATE", "HIGH", "CRITICAL")


class AdvisoryError(NightcrewError):
    """The advisory database could not answer (network, 5xx after retries, malformed reply)."""


def osv_url(configured: str) -> str:
    return (os.environ.get("NIGHTCREW_OSV_URL") or configured).rstrip("/")


class OsvClient:
    def __init__(self, url: str, *, cache_dir: Path | None = None, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 0.3, workers: int = 8) -> None:
        self.url = url.rstrip("/")
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.workers = workers
        self.requests = 0
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0, backoff_factor=backoff,
                      status_forcelist=(429, 500, 502, 503, 504), allowed_methods={"GET", "POST"},
                      raise_on_status=False, respect_retry_after_header=False)
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=workers))
        self.session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=workers))
        self.session.headers["User-Agent"] = "nightcrew (advisory check)"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OsvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        where = f"{method} {self.url}{path}"
        self.requests += 1
        try:
            response = self.session.request(method, self.url + path, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = "no answer in time" if isinstance(exc, requests.Timeout) else type(exc).__name__
            raise AdvisoryError(f"advisory database unreachable ({reason})", where) from None
        if response.status_code != 200:
            raise AdvisoryError(f"HTTP {response.status_code}", where)
        try:
            return response.json()
        except ValueError:
            raise AdvisoryError("the reply is not valid JSON", where) from None

    def query(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
        """(name, version) -> {advisory id: modified} for every pair, in batches, all pages."""
        found: dict[tuple[str, str], dict[str, str]] = {pair: {} for pair in pairs}
        pending = [(pair, None) for pair in dict.fromkeys(pairs)]
        while pending:
            chunk, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
            queries = []
            for (name, version), token in chunk:
                query: dict[str, Any] = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
                if token:
                    query["page_token"] = token
                queries.append(query)
            data = self._call("POST", "/v1/querybatch", {"queries": queries})
            results = data.get("results") if isinstance(data, dict) else None
            if not isinstance(results, list) or len(results) != len(chunk):
                raise AdvisoryError("the reply does not answer every query", f"POST {self.url}/v1/querybatch")
            for (pair, _token), result in zip(chunk, results):
                if not isinstance(result, dict):
                    continue
                for vuln in result.get("vulns") or []:
                    if isinstance(vuln, dict) and isinstance(vuln.get("id"), str):
                        found[pair][vuln["id"]] = str(vuln.get("modified", ""))
                token = result.get("next_page_token")
                if isinstance(token, str) and token:
                    pending.append((pair, token))
        return found

    def details(self, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
        """id -> the full OSV record, from the disk cache when its ``modified`` matches, else fetched."""
        records: dict[str, dict[str, Any]] = {}
        todo = []
        for vuln_id, modified in ids.items():
            cached = self._cached(vuln_id)
            if cached is not None and cached.get("modified") == modified and modified:
                records[vuln_id] = cached
            else:
                todo.append(vuln_id)

        def fetch(vuln_id: str) -> tuple[str, Any]:
            return vuln_id, self._call("GET", f"/v1/vulns/{quote(vuln_id, safe='')}")

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo) or 1))) as pool:
            for vuln_id, record in pool.map(fetch, todo):
                if not isinstance(record, dict) or record.get("id") != vuln_id:
                    raise AdvisoryError("the reply is not the advisory asked for", f"GET {self.url}/v1/vulns/{vuln_id}")
                records[vuln_id] = record
                self._store(vuln_id, record)
        return records

    # -- cache ---------------------------------------------------------------------------------

    def _path(self, vuln_id: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (quote(vuln_id, safe="") + ".json")

    def _cached(self, vuln_id: str) -> dict[str, Any] | None:
        path = self._path(vuln_id)
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            return None

    def _store(self, vuln_id: str, record: dict[str, Any]) -> None:
        path = self._path(vuln_id)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a request next time


# -- reading records --------------------------------------------------------------------------------


def _events(record: dict[str, Any], name: str) -> Iterable[tuple[list[dict[str, str]], list[str]]]:
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if package.get("ecosystem") != "PyPI" or canonicalize_name(str(package.get("name", ""))) != name:
            continue
        ranges = [r.get("events") or [] for r in affected.get("ranges") or [] if r.get("type") == "ECOSYSTEM"]
        yield (ranges, [str(v) for v in affected.get("versions") or []])


def _v(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(record: dict[str, Any], name: str, version: Version) -> bool:
    """Whether an OSV record names ``version`` of ``name`` as affected (explicit versions or ECOSYSTEM ranges)."""
    name = canonicalize_name(name)
    for ranges, versions in _events(record, name):
        if any(_v(v) == version for v in versions):
            return True
        for events in ranges:
            inside = False
            for event in events:
                if "introduced" in event:
                    start = event["introduced"]
                    inside = start == "0" or (_v(start) is not None and version >= _v(start))  # type: ignore[operator]
                elif "fixed" in event and inside and _v(event["fixed"]) is not None and version >= _v(event["fixed"]):  # type: ignore[operator]
                    inside = False
                elif "last_affected" in event and inside and _v(event["last_affected"]) is not None \
                        and version > _v(event["last_affected"]):  # type: ignore[operator]
                    inside = False
            if inside:
                return True
    return False


def _severity(record: dict[str, Any]) -> str:
    specific = record.get("database_specific") or {}
    value = str(specific.get("severity") or "").upper()
    if value == "MEDIUM":
        value = "MODERATE"
    if value in SEVERITIES:
        return value
    for entry in record.get("severity") or []:  # a CVSS vector alone: its base score's band
        score = _cvss_band(str(entry.get("score", "")))
        if score:
            return score
    return "UNKNOWN"


def _cvss_band(vector: str) -> str | None:
    try:
        from cvss import CVSS3  # optional; without it a vector alone is UNKNOWN
    except ImportError:
        return None
    try:
        score = CVSS3(vector).scores()[0]
    except Exception:  # noqa: BLE001 - a malformed vector is no severity
        return None
    return "CRITICAL" if score >= 9 else "HIGH" if score >= 7 else "MODERATE" if score >= 4 else "LOW"


def to_advisory(record: dict[str, Any], name: str) -> Advisory:
    fixed = []
    for ranges, _versions in _events(record, canonicalize_name(name)):
        for events in ranges:
            fixed += [e["fixed"] for e in events if "fixed" in e]
    url = next((r.get("url") for r in record.get("references") or [] if r.get("type") == "ADVISORY" and r.get("url")),
               None) or f"https://osv.dev/vulnerability/{record['id']}"
    summary = " ".join(str(record.get("summary") or record.get("details") or "").split())[:300]
    return Advisory(id=str(record["id"]), aliases=tuple(str(a) for a in record.get("aliases") or []),
                    summary=summary, severity=_severity(record), fixed=tuple(dict.fromkeys(fixed)), url=str(url),
                    modified=str(record.get("modified", "")))


def fix_version(records: Sequence[dict[str, Any]], name: str, current: Version,
                releases: Iterable[Version]) -> Version | None:
    """The lowest release newer than ``current`` that none of ``records`` affects (finals before pre-releases), or
    None when no release fixes them all."""
    later = sorted(v for v in releases if v > current)
    for candidates in ([v for v in later if not v.is_prerelease], [v for v in later if v.is_prerelease]):
        for version in candidates:
            if not any(affects(r, name, version) for r in records):
                return version
    return None
