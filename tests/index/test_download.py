"""Distribution file downloads and JSON metadata against a real loopback index: caps, hashes, the disk cache."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.version import Version

from jobs.errors import PackageIndexError
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from jobs.models import DistributionFile
from tests.support.distbuild import build_sdist
from tests.support.indexserver import StaticIndex


def client_for(url: str, cache: Path | None) -> IndexClient:
    return IndexClient(IndexLocation(url, (), "test"), cache_dir=cache, timeout=5.0, retries=1, backoff=0.01,
                       workers=2)


def file_requests(index: StaticIndex) -> list[str]:
    return [r.path for r in index.requests if r.path.startswith("/files/")]


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    return build_sdist(tmp_path / "dists", "acme", "1.0.0", extra_files={"README.md": "x" * 5000})


def listed(index: StaticIndex, path: Path, client: IndexClient) -> DistributionFile:
    """The file as the client reads it from the project page (relative URL resolved, sha256 listed)."""
    index.add(path)
    return next(f for f in client.project("acme").files if f.filename == path.name)


def test_download_returns_the_file_and_a_second_run_reads_the_cache(static_index, sdist, tmp_path) -> None:
    cache = tmp_path / "cache"
    with client_for(static_index.url, cache) as first:
        file = listed(static_index, sdist, first)
        assert dict(file.hashes)["sha256"] == hashlib.sha256(sdist.read_bytes()).hexdigest()
        assert first.download(file, max_bytes=1 << 20) == sdist.read_bytes()
    assert file_requests(static_index) == [f"/files/{sdist.name}"]
    assert first.stats.bytes_downloaded >= sdist.stat().st_size
    static_index.reset_log()
    with client_for(static_index.url, cache) as second:
        assert second.download(file, max_bytes=1 << 20) == sdist.read_bytes()
    assert static_index.requests == []
    assert second.stats.cache_hits == 1 and second.stats.sent == 0


def test_without_a_listed_hash_the_cache_is_keyed_by_url(static_index, sdist, tmp_path) -> None:
    static_index.add(sdist)
    file = DistributionFile(sdist.name, static_index.file_url(sdist.name), Version("1.0.0"))
    for _run in range(2):
        with client_for(static_index.url, tmp_path / "cache") as client:
            assert client.download(file, max_bytes=1 << 20) == sdist.read_bytes()
    assert file_requests(static_index) == [f"/files/{sdist.name}"]


def test_a_damaged_cache_entry_is_downloaded_again(static_index, sdist, tmp_path) -> None:
    with client_for(static_index.url, tmp_path / "cache") as client:
        file = listed(static_index, sdist, client)
        client.download(file, max_bytes=1 << 20)
        [stored] = (tmp_path / "cache" / "downloads").iterdir()
        stored.write_bytes(b"garbage")
        assert client.download(file, max_bytes=1 << 20) == sdist.read_bytes()
    assert len(file_requests(static_index)) == 2


def test_a_file_over_the_cap_is_refused_in_one_line(static_index, sdist, tmp_path) -> None:
    size = sdist.stat().st_size
    with client_for(static_index.url, tmp_path / "cache") as client:
        file = listed(static_index, sdist, client)
        with pytest.raises(PackageIndexError) as caught:
            client.download(file, max_bytes=size - 1)
        assert client.download(file, max_bytes=size) == sdist.read_bytes()  # exactly the cap is fine
    message = str(caught.value)
    assert "\n" not in message
    assert f"larger than {size - 1} bytes" in message
    assert f"GET {static_index.file_url(sdist.name)}" in message
    assert not any(p.name.startswith(".part-") for p in (tmp_path / "cache" / "downloads").iterdir())


class _Endless(BaseHTTPRequestHandler):
    """Streams chunks without a Content-Length, for as long as the client keeps reading (at most 64 MiB)."""

    protocol_version = "HTTP/1.1"
    sent = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(1024):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                type(self).sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up at its cap, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_cap_holds_while_streaming_without_a_length(tmp_path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/big-1.0.tar.gz"
        with client_for(f"http://127.0.0.1:{server.server_address[1]}/simple/", tmp_path / "cache") as client:
            with pytest.raises(PackageIndexError, match="larger than 200000 bytes"):
                client.download(DistributionFile("big-1.0.tar.gz", url, Version("1.0")), max_bytes=200_000)
            assert client.stats.bytes_downloaded < 400_000
    finally:
        server.shutdown()
        server.server_close()
    assert _Endless.sent < 32 * 1024 * 1024  # stopped long before the end


def test_a_cached_file_over_the_cap_is_refused_too(static_index, sdist, tmp_path) -> None:
    with client_for(static_index.url, tmp_path / "cache") as client:
        file = listed(static_index, sdist, client)
        client.download(file, max_bytes=1 << 20)
        with pytest.raises(PackageIndexError, match="larger than 100 bytes"):
            client.download(file, max_bytes=100)


def test_a_sha256_mismatch_is_an_error_and_nothing_is_cached(static_index, sdist, tmp_path) -> None:
    static_index.add(sdist)
    wrong = "0" * 64
    file = DistributionFile(sdist.name, static_index.file_url(sdist.name), Version("1.0.0"),
                            hashes=(("sha256", wrong),))
    with client_for(static_index.url, tmp_path / "cache") as client:
        with pytest.raises(PackageIndexError) as caught:
            client.download(file, max_bytes=1 << 20)
    message = str(caught.value)
    assert "sha256 mismatch" in message and wrong in message and "\n" not in message
    assert not (tmp_path / "cache" / "downloads").exists() or not any((tmp_path / "cache" / "downloads").iterdir())


def test_a_missing_file_and_credentials_in_the_url(tmp_path) -> None:
    with StaticIndex(auth=("bot", "s3cret")) as index:
        url = index.file_url("gone-1.0.tar.gz").replace("http://", "http://bot:s3cret@")
        file = DistributionFile("gone-1.0.tar.gz", url, Version("1.0"))
        with client_for(index.url, None) as client:
            with pytest.raises(PackageIndexError) as caught:
                client.download(file, max_bytes=1000)
        assert index.requests[-1].authorization  # the URL's credentials were sent
    message = str(caught.value)
    assert "HTTP 404" in message and "s3cret" not in message and "bot:***@" in message


def test_a_server_error_is_retried_then_reported(static_index, sdist, tmp_path) -> None:
    with client_for(static_index.url, None) as client:
        file = listed(static_index, sdist, client)
        static_index.fail(f"/files/{sdist.name}", 503, times=1)
        assert client.download(file, max_bytes=1 << 20) == sdist.read_bytes()  # one retry was enough
        static_index.fail(f"/files/{sdist.name}", 503, times=None)
        with pytest.raises(PackageIndexError, match="HTTP 503.*gave up after 1 retry"):
            client.download(file, max_bytes=1 << 20)


def test_without_a_cache_folder_nothing_is_written(static_index, sdist, tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with client_for(static_index.url, None) as client:
        file = listed(static_index, sdist, client)
        assert client.download(file, max_bytes=1 << 20) == sdist.read_bytes()
    assert list(work.iterdir()) == []


def test_a_file_url_is_read_from_disk(sdist, tmp_path) -> None:
    file = DistributionFile(sdist.name, sdist.as_uri(), Version("1.0.0"),
                            hashes=(("sha256", hashlib.sha256(sdist.read_bytes()).hexdigest()),))
    with client_for((tmp_path / "index").as_uri(), None) as client:
        assert client.download(file, max_bytes=1 << 20) == sdist.read_bytes()
        with pytest.raises(PackageIndexError, match="larger than 10 bytes"):
            client.download(file, max_bytes=10)


# -- JSON metadata ------------------------------------------------------------------------------------


def test_project_json_is_none_on_a_server_without_a_json_api(static_index, sdist, tmp_path) -> None:
    static_index.add(sdist)
    with client_for(static_index.url, tmp_path / "cache") as client:
        assert client.json_url("Acme") == f"{static_index.base_url}pypi/acme/json"
        assert client.project_json("Acme") is None
    assert [r.path for r in static_index.requests] == ["/pypi/acme/json"]


def test_project_json_is_read_where_the_index_serves_it(static_index, tmp_path) -> None:
    doc = {"info": {"name": "acme", "version": "1.2.0", "description": "text"}, "releases": {}}
    static_index.fail("/pypi/acme/json", 200, body=json.dumps(doc), headers={"Content-Type": "application/json"})
    with client_for(static_index.url, tmp_path / "cache") as client:
        assert client.project_json("acme") == doc


def test_project_json_failures_are_one_line_errors(static_index, tmp_path) -> None:
    with client_for(static_index.url, None) as client:
        static_index.fail("/pypi/acme/json", 500, times=None)
        with pytest.raises(PackageIndexError, match=r"pypi/acme/json: HTTP 500"):
            client.project_json("acme")
        static_index.clear_faults()
        static_index.fail("/pypi/acme/json", 200, body="<html>no</html>", headers={"Content-Type": "text/html"})
        with pytest.raises(PackageIndexError, match="not a JSON answer"):
            client.project_json("acme")


@pytest.mark.parametrize("url", ["https://example.org/repo/", "https://example.org/simple-index/"])
def test_project_json_needs_an_index_url_ending_in_simple(url) -> None:
    with client_for(url, None) as client:
        assert client.json_url("acme") is None
        assert client.project_json("acme") is None
