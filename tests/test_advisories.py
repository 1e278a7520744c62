"""Known vulnerabilities in the scan: one batched OSV request (all pages), details per advisory (cached by id and
modification time), the lowest fixing release, withdrawn advisories ignored, and a gate that fails closed when
the database cannot answer; against the OSV stand-in over HTTP on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.version import Version

from jobs.advisories import AdvisoryError, OsvClient, affects, fix_version
from jobs.cli import cli
from tests.support.osv_server import OsvStandIn, advisory

VERSIONS = ("1.26.5", "1.26.17", "1.26.18", "2.0.5", "2.0.7", "2.2.0")
LOW_FIX = advisory("GHSA-v845-jxx5-vc9f", "urllib3", fixed=["1.26.17", "2.0.6"], aliases=("CVE-2023-43804",),
                   severity="HIGH", summary="Cookie header not stripped on cross-origin redirects")
HIGH_FIX = advisory("GHSA-g4mx-q9vg-27p4", "urllib3", fixed=["1.26.18", "2.0.7"], aliases=("CVE-2023-45803",),
                    severity="MODERATE", summary="Request body not stripped after redirect")
WITHDRAWN = advisory("GHSA-xxxx-xxxx-xxxx", "urllib3", fixed=["2.2.0"], withdrawn="2025-01-01T00:00:00Z")
OTHER = advisory("PYSEC-2024-1", "requests", fixed=["2.32.0"], severity=None,
                 cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")


def repo_with(tmp_path: Path, static_index, requirements: str, extra: str = "") -> Path:
    from tests.support.distbuild import build_wheel

    for version in VERSIONS:
        static_index.add(build_wheel(tmp_path / "dists", "urllib3", version))
    for version in ("2.31.0", "2.32.0"):
        static_index.add(build_wheel(tmp_path / "dists", "requests", version))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text(requirements)
    (repo / "nightcrew.toml").write_text(f'[index]\nurl = "{static_index.url}"\ncache_dir = "{(tmp_path / "c").as_posix()}"\n'
                                         "retries = 1\nbackoff = 0.01\n" + extra)
    return repo


def scan(repo: Path, *args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["scan", "--repo", str(repo), "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_the_scan_lists_advisories_and_the_lowest_fixing_release(osv: OsvStandIn, static_index, tmp_path) -> None:
    for record in (LOW_FIX, HIGH_FIX, WITHDRAWN, OTHER):
        osv.add(record)
    repo = repo_with(tmp_path, static_index, "urllib3==1.26.5\nrequests==2.32.0\n")
    code, data, err = scan(repo)
    assert code == 0, err
    assert data["vulnerabilities_checked"] is True and data["summary"]["vulnerable"] == 1
    rows = {d["name"]: d for d in data["dependencies"]}
    urllib3 = rows["urllib3"]
    assert [a["id"] for a in urllib3["advisories"]] == ["GHSA-g4mx-q9vg-27p4", "GHSA-v845-jxx5-vc9f"]
    assert urllib3["advisories"][1] == {
        "id": "GHSA-v845-jxx5-vc9f", "aliases": ["CVE-2023-43804"], "severity": "HIGH",
        "summary": "Cookie header not stripped on cross-origin redirects", "fixed": ["1.26.17", "2.0.6"],
        "url": "https://github.com/advisories/GHSA-v845-jxx5-vc9f"}
    assert urllib3["fix_version"] == "1.26.18"  # the lowest that fixes both, not the latest
    assert rows["requests"]["advisories"] == [] and rows["requests"]["fix_version"] is None
    posts = [r for r in osv.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].queries == 2  # one batched round trip for the whole scan
    assert sorted(r.path for r in osv.requests if r.method == "GET") == [
        "/v1/vulns/GHSA-g4mx-q9vg-27p4", "/v1/vulns/GHSA-v845-jxx5-vc9f", "/v1/vulns/GHSA-xxxx-xxxx-xxxx"]
    # the details are cached by id and modification time: the next scan asks only the batch again
    osv.reset_log()
    scan(repo)
    assert [r.method for r in osv.requests] == ["POST"]


def test_every_page_of_a_query_is_read(tmp_path: Path) -> None:
    with OsvStandIn(page_size=1) as server:
        for record in (LOW_FIX, HIGH_FIX):
            server.add(record)
        with OsvClient(server.url) as client:
            found = client.query([("urllib3", "1.26.5")])
    assert sorted(found[("urllib3", "1.26.5")]) == ["GHSA-g4mx-q9vg-27p4", "GHSA-v845-jxx5-vc9f"]
    assert [r.queries for r in server.requests] == [1, 1]  # the second with the page token


def test_batches_keep_to_the_api_limit() -> None:
    with OsvStandIn() as server:
        with OsvClient(server.url) as client:
            found = client.query([(f"pkg{n}", "1.0") for n in range(2500)])
    assert len(found) == 2500 and [r.queries for r in server.requests] == [1000, 1000, 500]


@pytest.mark.parametrize("fault", ["5xx", "malformed", "slow"])
def test_no_data_is_never_none_found_and_the_gate_fails_closed(osv: OsvStandIn, static_index, tmp_path,
                                                               fault: str) -> None:
    osv.add(LOW_FIX)
    repo = repo_with(tmp_path, static_index, "urllib3==1.26.5\n", "\n[security]\ntimeout = 0.5\n")
    if fault == "5xx":
        osv.fail(503, times=None)
    elif fault == "malformed":
        osv.malformed(times=None)
    else:
        osv.slow(2.0)
    code, data, err = scan(repo, "--fail-on-vulnerable")
    assert code == 3
    assert data["vulnerabilities_checked"] is False
    assert data["dependencies"][0]["advisories"] == []
    [line] = [line for line in err.splitlines() if "vulnerabilities not checked" in line]
    assert "/v1/querybatch" in line and "\n" not in line


def test_fail_on_vulnerable_by_severity(osv: OsvStandIn, static_index, tmp_path) -> None:
    osv.add(HIGH_FIX)  # MODERATE
    repo = repo_with(tmp_path, static_index, "urllib3==1.26.17\n")
    assert scan(repo, "--fail-on-vulnerable")[0] == 1
    assert scan(repo, "--fail-on-vulnerable", "--min-severity", "high")[0] == 0
    clean = repo_with(tmp_path / "clean", static_index, "urllib3==2.2.0\n")
    assert scan(clean, "--fail-on-vulnerable")[0] == 0


def test_affected_ranges_and_fix_versions() -> None:
    record = advisory("X", "pkg", introduced="1.0", fixed=["1.4.2", "2.1.1"])
    versions = [Version(v) for v in ("0.9", "1.0", "1.4.1", "1.4.2", "2.0", "2.1.0", "2.1.1", "3.0rc1")]
    assert [str(v) for v in versions if affects(record, "PKG", v)] == ["1.0", "1.4.1", "2.0", "2.1.0"]
    assert fix_version([record], "pkg", Version("1.0"), versions) == Version("1.4.2")
    last = advisory("Y", "pkg", introduced="0", last_affected="2.1.0")
    assert fix_version([last], "pkg", Version("1.0"), versions) == Version("2.1.1")
    assert fix_version([advisory("Z", "pkg")], "pkg", Version("1.0"), versions) is None  # nothing fixes it


def test_a_client_error_names_the_request() -> None:
    with OsvStandIn() as server:
        server.fail(500, times=None)
        url = server.url
        with OsvClient(url, retries=0) as client, pytest.raises(AdvisoryError) as caught:
            client.query([("pkg", "1.0")])
    assert str(caught.value) == f"POST {url}/v1/querybatch: HTTP 500"


def test_a_cvss_vector_alone_gives_the_severity_band() -> None:
    from jobs.advisories import to_advisory

    assert to_advisory(OTHER, "requests").severity == "CRITICAL"  # CVSS 3.1 base score 9.8
    assert to_advisory(advisory("Q", "pkg", severity="medium"), "pkg").severity == "MODERATE"
    assert to_advisory(advisory("R", "pkg", severity=None), "pkg").severity == "UNKNOWN"
