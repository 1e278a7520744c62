"""The index client against real loopback servers: negotiation, cache revalidation, retries, timeouts, credentials."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from jobs.errors import PackageIndexError
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from tests.support.indexserver import StaticIndex


def client_for(url: str, cache: Path | None, *extra: str, timeout: float = 5.0, retries: int = 2) -> IndexClient:
    return IndexClient(IndexLocation(url, tuple(extra), "config"), cache_dir=cache, timeout=timeout,
                       retries=retries, backoff=0.01, workers=4)


def page_requests(index: StaticIndex) -> list:
    return [r for r in index.requests if r.path.startswith("/simple/")]


def test_json_page_files_have_versions_hashes_and_absolute_urls(static_index: StaticIndex, make_dists, tmp_path) -> None:
    for path in make_dists("alpha", ["1.0.0", "1.1.0"]):
        static_index.add(path)
    with client_for(static_index.url, tmp_path / "cache") as client:
        page = client.project("Alpha")
    assert sorted({str(f.version) for f in page.files}) == ["1.0.0", "1.1.0"]
    assert {f.filename.split(".")[-1] for f in page.files} == {"whl", "gz"}
    assert all(dict(f.hashes).get("sha256") for f in page.files)
    # the server lists relative URLs; the client resolved them against the page URL, and they download
    wheel = next(f for f in page.files if f.filename.endswith(".whl"))
    assert wheel.url == static_index.file_url(wheel.filename)
    assert requests.get(wheel.url, timeout=5).content[:2] == b"PK"
    assert "application/vnd.pypi.simple.v1+json" in page_requests(static_index)[0].accept


def test_html_only_index_is_read_with_yanked_and_requires_python(tmp_path) -> None:
    with StaticIndex(json=False) as index:
        index.add_file_entry("beta", "beta-1.0.tar.gz")
        index.add_file_entry("beta", "beta-1.1.tar.gz", yanked="broken build", requires_python=">=3.8,<4")
        with client_for(index.url, tmp_path / "cache") as client:
            files = {f.filename: f for f in client.project("beta").files}
    assert files["beta-1.1.tar.gz"].yanked is True
    assert files["beta-1.1.tar.gz"].yanked_reason == "broken build"
    assert files["beta-1.1.tar.gz"].requires_python == ">=3.8,<4"
    assert files["beta-1.0.tar.gz"].yanked is False


def test_second_run_revalidates_and_downloads_nothing_unchanged(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("gamma", "gamma-1.0.tar.gz")
    cache = tmp_path / "cache"
    with client_for(static_index.url, cache) as first:
        first.project("gamma")
    assert first.stats.bytes_downloaded > 0
    static_index.reset_log()
    with client_for(static_index.url, cache) as second:
        assert [str(f.version) for f in second.project("gamma").files] == ["1.0"]
    seen = page_requests(static_index)
    assert [(r.status, r.conditional) for r in seen] == [(304, True)]
    assert second.stats.as_dict() == {"sent": 1, "not_modified": 1, "cache_hits": 1, "bytes_downloaded": 0}


def test_changed_page_is_downloaded_again(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("gamma", "gamma-1.0.tar.gz")
    cache = tmp_path / "cache"
    with client_for(static_index.url, cache) as first:
        first.project("gamma")
    static_index.add_file_entry("gamma", "gamma-1.1.tar.gz")
    with client_for(static_index.url, cache) as second:
        versions = sorted(str(f.version) for f in second.project("gamma").files)
    assert versions == ["1.0", "1.1"]
    assert page_requests(static_index)[-1].status == 200


def test_server_error_once_is_retried(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("delta", "delta-2.0.tar.gz")
    static_index.fail("delta", status=503, times=1)
    with client_for(static_index.url, tmp_path / "cache") as client:
        assert [str(f.version) for f in client.project("delta").files] == ["2.0"]
    assert [r.status for r in page_requests(static_index)] == [503, 200]


def test_persistent_server_error_names_the_request(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("delta", "delta-2.0.tar.gz")
    static_index.fail("delta", status=502, times=None)
    with client_for(static_index.url, tmp_path / "cache", retries=2) as client:
        with pytest.raises(PackageIndexError) as caught:
            client.project("delta")
    assert str(caught.value).startswith(f"GET {static_index.url}delta/: ")
    assert str(caught.value).endswith("HTTP 502 Bad Gateway, gave up after 2 retries")
    assert len(page_requests(static_index)) == 3  # first try + 2 retries


def test_timeout_is_retried_then_reported(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("slow", "slow-1.0.tar.gz")
    static_index.delay("slow", 2.0, times=None)
    with client_for(static_index.url, tmp_path / "cache", timeout=0.3, retries=1) as client:
        with pytest.raises(PackageIndexError, match="timed out after 0.3s, gave up after 1 retry"):
            client.project("slow")
    # the first try and one retry really reached the server (it logs once its delay is over)
    deadline = time.monotonic() + 10
    while len(page_requests(static_index)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(page_requests(static_index)) == 2


def test_unknown_project_is_not_found(static_index: StaticIndex, tmp_path) -> None:
    with client_for(static_index.url, tmp_path / "cache") as client:
        with pytest.raises(PackageIndexError, match=r"not found on the index \(HTTP 404\)"):
            client.project("no-such-thing")


def test_credentials_in_url_are_sent_but_never_shown(tmp_path) -> None:
    with StaticIndex(auth=("bot", "s3cret-token")) as index:
        index.add_file_entry("eps", "eps-1.0.tar.gz")
        authed = index.url.replace("http://", "http://bot:s3cret-token@")
        with client_for(authed, tmp_path / "cache") as client:
            assert client.project("eps").files
            with pytest.raises(PackageIndexError) as caught:
                client.project("missing")
        assert all(r.authorization for r in page_requests(index))
    assert "s3cret-token" not in str(caught.value)
    assert "bot:***@" in str(caught.value)


def test_credentials_from_netrc(tmp_path, monkeypatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bot password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with StaticIndex(auth=("bot", "from-netrc")) as index:
        index.add_file_entry("eps", "eps-1.0.tar.gz")
        with client_for(index.url, tmp_path / "cache") as client:
            assert [f.filename for f in client.project("eps").files] == ["eps-1.0.tar.gz"]


def test_extra_index_releases_are_merged(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("zeta", "zeta-1.0.tar.gz")
    with StaticIndex() as extra:
        extra.add_file_entry("zeta", "zeta-1.5.tar.gz")
        extra.add_file_entry("only-extra", "only_extra-0.1.tar.gz")
        with client_for(static_index.url, tmp_path / "cache", extra.url) as client:
            assert sorted(str(f.version) for f in client.project("zeta").files) == ["1.0", "1.5"]
            assert [str(f.version) for f in client.project("only-extra").files] == ["0.1"]


def test_many_projects_at_once_keep_failures_as_values(static_index: StaticIndex, tmp_path) -> None:
    for n in range(20):
        static_index.add_file_entry(f"pkg{n}", f"pkg{n}-1.{n}.tar.gz")
    static_index.fail("pkg3", status=500, times=None)
    done: list[str] = []
    with client_for(static_index.url, tmp_path / "cache", retries=1) as client:
        results = client.projects([f"pkg{n}" for n in range(20)] + ["unknown-one"], on_done=done.append)
    assert len(results) == 21 and len(done) == 21
    assert isinstance(results["pkg3"], PackageIndexError)
    assert isinstance(results["unknown-one"], PackageIndexError)
    assert str(results["pkg7"].files[0].version) == "1.7"


def test_pypiserver_html_index_is_read(pypiserver_index, tmp_path) -> None:
    with client_for(pypiserver_index.url, tmp_path / "cache") as client:
        versions = sorted({str(f.version) for f in client.project("alpha").files})
    assert versions == ["1.0.0", "1.1.0", "2.0.0", "2.1.0rc1"]


def test_page_with_only_last_modified_is_revalidated_not_downloaded(static_index: StaticIndex, tmp_path) -> None:
    static_index.cache_headers = ("Last-Modified",)
    static_index.add_file_entry("lm", "lm-1.0.tar.gz")
    cache = tmp_path / "cache"
    for _ in range(2):
        with client_for(static_index.url, cache) as client:
            assert [str(f.version) for f in client.project("lm").files] == ["1.0"]
    seen = [(r.status, r.conditional) for r in page_requests(static_index)]
    assert seen == [(200, False), (304, True)]


def test_retry_after_header_does_not_stall_the_run(static_index: StaticIndex, tmp_path) -> None:
    static_index.add_file_entry("ra", "ra-1.0.tar.gz")
    static_index.fail("ra", status=503, times=1, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with client_for(static_index.url, tmp_path / "cache") as client:
        assert client.project("ra").files
    assert time.monotonic() - started < 5
    assert [r.status for r in page_requests(static_index)] == [503, 200]
