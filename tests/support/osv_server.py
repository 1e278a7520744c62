"""An OSV API stand-in on loopback: ``POST /v1/querybatch`` and ``GET /v1/vulns/{id}`` with the real request and
response shapes (OSV schema 1.x), pagination tokens, and injected faults (5xx, slow replies, malformed JSON).

Advisories are added with ``add`` in OSV's own shape; the stand-in decides which apply to a (name, version)
query from their ``affected`` ranges (ECOSYSTEM ranges with introduced / fixed / last_affected events, and
explicit ``versions`` lists), as the real service does. ``page_size`` makes a query's vulns come in pages: the
answer then carries ``next_page_token`` and the client must ask again with ``page_token``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tests.support.loopback import Fault, LoopbackHandler, LoopbackServer

BATCH_LIMIT = 1000  # the real API refuses more queries per batch


@dataclass(frozen=True)
class OsvRequest:
    method: str
    path: str
    queries: int  # how many queries a querybatch carried (0 for a GET)
    status: int


def _affected(record: dict[str, Any], name: str, version: str) -> bool:
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package.get("name", "")) != canonicalize_name(name):
            continue
        if version in affected.get("versions", []):
            return True
        for found in affected.get("ranges", []):
            if found.get("type") != "ECOSYSTEM":
                continue
            inside = False
            for event in found.get("events", []):
                if "introduced" in event:
                    start = event["introduced"]
                    inside = start == "0" or wanted >= Version(start)
                elif "fixed" in event and inside and wanted >= Version(event["fixed"]):
                    inside = False
                elif "last_affected" in event and inside and wanted > Version(event["last_affected"]):
                    inside = False
            if inside:
                return True
    return False


class _Handler(LoopbackHandler):
    server: Any

    def _send_json(self, status: int, data: Any, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(data).encode()
        self.reply(status, {"Content-Type": "application/json"}, body)

    def do_POST(self) -> None:  # noqa: N802
        app: OsvStandIn = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        fault = app._hold(app._take_faults([self.path, "*"]))
        if fault is not None:
            app._log(OsvRequest("POST", self.path, 0, fault.status))
            self.reply(fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body)
            return
        if self.path != "/v1/querybatch":
            self._send_json(404, {"code": 5, "message": "Not Found"})
            return
        try:
            queries = json.loads(raw)["queries"]
        except (ValueError, KeyError, TypeError):
            self._send_json(400, {"code": 3, "message": "Invalid query."})
            return
        if len(queries) > BATCH_LIMIT:
            app._log(OsvRequest("POST", self.path, len(queries), 400))
            self._send_json(400, {"code": 3, "message": f"Too many queries: {len(queries)} > {BATCH_LIMIT}"})
            return
        app._log(OsvRequest("POST", self.path, len(queries), 200))
        self._send_json(200, {"results": [app._answer(q) for q in queries]})

    def do_GET(self) -> None:  # noqa: N802
        app: OsvStandIn = self.server.app
        fault = app._hold(app._take_faults([self.path, "*"]))
        if fault is not None:
            app._log(OsvRequest("GET", self.path, 0, fault.status))
            self.reply(fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body)
            return
        prefix = "/v1/vulns/"
        record = app.records.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
        status = 200 if record is not None else 404
        app._log(OsvRequest("GET", self.path, 0, status))
        if record is None:
            self._send_json(404, {"code": 5, "message": "Bug not found."})
        else:
            self._send_json(200, record)


class OsvStandIn(LoopbackServer[OsvRequest]):
    handler_class = _Handler

    def __init__(self, *, page_size: int = 0) -> None:
        super().__init__()
        self.records: dict[str, dict[str, Any]] = {}
        self.page_size = page_size  # 0: every vuln of a query in one answer

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/")

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.records[record["id"]] = record

    def _answer(self, query: dict[str, Any]) -> dict[str, Any]:
        package = query.get("package", {})
        name, version = package.get("name", ""), query.get("version", "")
        with self._lock:
            found = [r for r in self.records.values() if _affected(r, name, version)]
        found.sort(key=lambda r: r["id"])
        start = int(query.get("page_token") or 0)
        size = self.page_size or len(found) or 1
        page = found[start:start + size]
        answer: dict[str, Any] = {}
        if page:
            answer["vulns"] = [{"id": r["id"], "modified": r["modified"]} for r in page]
        if start + size < len(found):
            answer["next_page_token"] = str(start + size)
        return answer

    # -- faults ----------------------------------------------------------------------------------

    def fail(self, status: int = 503, *, times: int | None = 1, path: str = "*", body: bytes = b"") -> None:
        self._add_fault(Fault("fail", times, status, body or b'{"code": 14, "message": "unavailable"}'), path)

    def malformed(self, *, times: int | None = 1, path: str = "*") -> None:
        self._add_fault(Fault("fail", times, 200, b'{"results": [ {"vulns": [ {"id": '), path)

    def slow(self, seconds: float, *, times: int | None = None, path: str = "*") -> None:
        self._add_fault(Fault("delay", times, seconds=seconds), path)


def advisory(id: str, package: str, *, fixed: list[str] | None = None, introduced: str = "0",
             last_affected: str | None = None, aliases: tuple[str, ...] = (), severity: str | None = "HIGH",
             summary: str = "", withdrawn: str | None = None, modified: str = "2026-01-01T00:00:00Z",
             cvss: str | None = None) -> dict[str, Any]:
    """An OSV record in the shape the real database serves for a PyPI advisory (GHSA or PYSEC)."""
    # one range per fixed branch, as GHSA records have them: [introduced, fixed) then [X.0, fixed) of the next major
    ranges = []
    for number, fix in enumerate(fixed or []):
        start = introduced if number == 0 else f"{Version(fix).major}.0"
        ranges.append({"type": "ECOSYSTEM", "events": [{"introduced": start}, {"fixed": fix}]})
    if last_affected or not fixed:
        events: list[dict[str, str]] = [{"introduced": introduced}]
        if last_affected:
            events.append({"last_affected": last_affected})
        ranges.append({"type": "ECOSYSTEM", "events": events})
    record: dict[str, Any] = {
        "schema_version": "1.6.0", "id": id, "modified": modified, "published": "2025-06-01T00:00:00Z",
        "aliases": list(aliases), "summary": summary or f"A vulnerability in {package}",
        "details": "Details of the flaw.",
        "affected": [{"package": {"ecosystem": "PyPI", "name": package, "purl": f"pkg:pypi/{package}"},
                      "ranges": ranges}],
        "references": [{"type": "ADVISORY", "url": f"https://github.com/advisories/{id}"}],
        "database_specific": {"severity": severity} if severity else {},
    }
    if cvss:
        record["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    if withdrawn:
        record["withdrawn"] = withdrawn
    return record
