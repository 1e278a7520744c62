"""Prove the test helpers are real: pip accepts the dists, and the indexes speak the simple API properly."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from packaging.utils import parse_wheel_filename

from tests.support.distbuild import (
    _record_hash,
    build_sdist,
    build_wheel,
    file_hashes,
    read_metadata,
)
from tests.support.indexserver import HTML_V1, JSON_V1, PypiserverIndex, StaticIndex, negotiate

PIP_ACCEPT = f"{JSON_V1}, {HTML_V1}; q=0.1, text/html; q=0.01"  # what pip sends


@pytest.fixture
def http() -> Iterator[requests.Session]:
    # trust_env=False: no proxy from the environment may see loopback traffic.
    with requests.Session() as session:
        session.trust_env = False
        yield session


# -- distbuild -------------------------------------------------------------------------------------


def test_wheel_is_well_formed(tmp_path: Path) -> None:
    whl = build_wheel(
        tmp_path, "Foo.Bar-baz", "1.0.0rc1", requires_python=">=3.8", requires_dist=["requests>=2", "idna"]
    )
    assert whl.name == "foo_bar_baz-1.0.0rc1-py3-none-any.whl"
    name, version, _build, tags = parse_wheel_filename(whl.name)
    assert (name, str(version)) == ("foo-bar-baz", "1.0.0rc1")
    assert {str(t) for t in tags} == {"py3-none-any"}
    with zipfile.ZipFile(whl) as zf:
        names = zf.namelist()
        assert "foo_bar_baz/__init__.py" in names
        assert '__version__ = "1.0.0rc1"' in zf.read("foo_bar_baz/__init__.py").decode()
        meta = zf.read("foo_bar_baz-1.0.0rc1.dist-info/METADATA").decode()
        assert "Metadata-Version: 2.1\n" in meta and "Requires-Python: >=3.8\n" in meta
        assert meta.count("Requires-Dist: ") == 2
        assert "Tag: py3-none-any" in zf.read("foo_bar_baz-1.0.0rc1.dist-info/WHEEL").decode()
        rows = list(csv.reader(io.StringIO(zf.read("foo_bar_baz-1.0.0rc1.dist-info/RECORD").decode())))
        recorded = {row[0]: row for row in rows}
        assert set(recorded) == set(names)
        for arcname, (_, digest, size) in recorded.items():
            if arcname.endswith("RECORD"):
                assert digest == size == ""
                continue
            data = zf.read(arcname)
            assert digest == _record_hash(data) and int(size) == len(data)
    # Reproducible: identical input, identical bytes (stable hashes for the benchmark).
    again = build_wheel(
        tmp_path / "again", "Foo.Bar-baz", "1.0.0rc1", requires_python=">=3.8", requires_dist=["requests>=2", "idna"]
    )
    assert file_hashes(again) == file_hashes(whl)
    assert file_hashes(whl)["sha256"] == hashlib.sha256(whl.read_bytes()).hexdigest()


def test_sdist_layout_and_pkg_info(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path,
        "alpha",
        "2.0.0",
        requires_python=">=3.9",
        description="# alpha\n\nLong description.",
        extra_files={"CHANGELOG.md": "## 2.0.0\n- big change\n"},
    )
    assert sdist.name == "alpha-2.0.0.tar.gz"
    with tarfile.open(sdist) as tf:
        files = {m.name for m in tf.getmembers() if m.isfile()}
        assert files == {
            "alpha-2.0.0/PKG-INFO",
            "alpha-2.0.0/pyproject.toml",
            "alpha-2.0.0/CHANGELOG.md",
            "alpha-2.0.0/alpha/__init__.py",
        }
        pyproject = tomllib.loads(tf.extractfile("alpha-2.0.0/pyproject.toml").read().decode())  # type: ignore[union-attr]
        changelog = tf.extractfile("alpha-2.0.0/CHANGELOG.md").read().decode()  # type: ignore[union-attr]
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert pyproject["project"] == {"name": "alpha", "version": "2.0.0", "requires-python": ">=3.9"}
    assert changelog.startswith("## 2.0.0")
    meta = read_metadata(sdist)
    assert meta is not None
    assert (meta["Name"], meta["Version"], meta["Requires-Python"]) == ("alpha", "2.0.0", ">=3.9")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload() == "# alpha\n\nLong description.\n"


# -- StaticIndex -----------------------------------------------------------------------------------


def test_pip_installs_from_static_index(tmp_path: Path, static_index: StaticIndex) -> None:
    """The one slow test: real pip resolves through the index (JSON, relative URLs, hashes, yanked, requires-python)."""
    dists = tmp_path / "dists"
    static_index.add(build_wheel(dists, "alpha", "1.0.0", requires_dist=["beta>=1"]))
    static_index.add(build_wheel(dists, "alpha", "2.0.0"), yanked="broken release")
    static_index.add(build_wheel(dists, "alpha", "3.0.0", requires_python=">=4"))
    static_index.add(build_wheel(dists, "beta", "1.0"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # pip runs from outside via --python: seconds faster
    py = env_dir / "bin" / "python"
    # --isolated ignores pip config files and PIP_* variables (this machine sets extra indexes).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and not k.lower().endswith("_proxy")}
    cmd = [
        sys.executable, "-m", "pip", "--isolated", "--python", str(py), "install",
        "--index-url", static_index.url, "--no-cache-dir", "--disable-pip-version-check",
        "--timeout", "10", "--retries", "0", "alpha",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = subprocess.run(
        [str(py), "-c", "import alpha, beta; print(alpha.__version__, beta.__version__)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # 2.0.0 is yanked and 3.0.0 needs Python 4, so pip must settle on 1.0.0 (and pull in beta).
    assert out.stdout.split() == ["1.0.0", "1.0"], out.stderr
    pages = [r for r in static_index.requests if r.path.startswith("/simple/")]
    assert pages and all(r.accept and JSON_V1 in r.accept for r in pages)
    assert {r.path for r in static_index.requests if r.path.startswith("/files/")} == {
        "/files/alpha-1.0.0-py3-none-any.whl",
        "/files/beta-1.0-py3-none-any.whl",
    }


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, JSON_V1),
        (JSON_V1, JSON_V1),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        (HTML_V1, HTML_V1),
        ("text/html", "text/html"),
        (f"{JSON_V1}; q=0.2, text/html; q=0.9", "text/html"),
        ("*/*", "text/html"),
        ("application/*", HTML_V1),
        (None, "text/html"),
        ("application/xml", None),
        (f"{JSON_V1}; q=0, text/plain", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_pages_are_negotiated(tmp_path: Path, static_index: StaticIndex, http: requests.Session) -> None:
    static_index.add(build_wheel(tmp_path, "Foo_Bar", "1.0", requires_python=">=3.8"))
    static_index.add(build_sdist(tmp_path, "Foo_Bar", "1.1"))
    url = static_index.project_url("foo-bar")

    r = http.get(url, headers={"Accept": PIP_ACCEPT}, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == JSON_V1
    doc = r.json()
    assert doc["meta"] == {"api-version": "1.1"} and doc["name"] == "foo-bar"
    assert doc["versions"] == ["1.0", "1.1"]
    assert [f["filename"] for f in doc["files"]] == ["foo_bar-1.0-py3-none-any.whl", "foo_bar-1.1.tar.gz"]
    assert doc["files"][0]["requires-python"] == ">=3.8"  # read from the wheel's METADATA
    assert "requires-python" not in doc["files"][1]

    r = http.get(url, headers={"Accept": "text/html"}, timeout=5)
    assert r.headers["Content-Type"] == "text/html; charset=utf-8" and "<a href=" in r.text
    assert http.get(url, headers={"Accept": HTML_V1}, timeout=5).headers["Content-Type"] == HTML_V1
    assert http.get(url, headers={"Accept": "application/xml"}, timeout=5).status_code == 406

    root = http.get(static_index.url, headers={"Accept": JSON_V1}, timeout=5).json()
    assert root["projects"] == [{"name": "Foo_Bar"}]
    assert 'href="foo-bar/"' in http.get(static_index.url, timeout=5).text


def test_html_only_index_ignores_accept(tmp_path: Path, http: requests.Session) -> None:
    with StaticIndex(json=False) as index:
        index.add(build_wheel(tmp_path, "alpha", "1.0"))
        r = http.get(index.project_url("alpha"), headers={"Accept": JSON_V1}, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")


def test_conditional_requests(tmp_path: Path, static_index: StaticIndex, http: requests.Session) -> None:
    whl = build_wheel(tmp_path, "alpha", "1.0")
    static_index.add(whl)
    url = static_index.project_url("alpha")
    first = http.get(url, headers={"Accept": JSON_V1}, timeout=5)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "max-age=600, public"

    by_etag = http.get(url, headers={"Accept": JSON_V1, "If-None-Match": etag}, timeout=5)
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["ETag"] == etag
    by_date = http.get(url, headers={"Accept": JSON_V1, "If-Modified-Since": last_modified}, timeout=5)
    assert by_date.status_code == 304 and by_date.content == b""
    # The HTML representation has its own validator.
    assert http.get(url, headers={"Accept": "text/html", "If-None-Match": etag}, timeout=5).status_code == 200

    # A changed page is a 200 again, by ETag and by date, even within the same second.
    static_index.add(build_wheel(tmp_path, "alpha", "1.1"))
    changed = http.get(url, headers={"Accept": JSON_V1, "If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert http.get(url, headers={"Accept": JSON_V1, "If-Modified-Since": last_modified}, timeout=5).status_code == 200
    static_index.remove("alpha", "alpha-1.1-py3-none-any.whl")
    assert [f["filename"] for f in http.get(url, headers={"Accept": JSON_V1}, timeout=5).json()["files"]] == [whl.name]

    file_url = static_index.file_url(whl.name)
    got = http.get(file_url, timeout=5)
    assert got.content == whl.read_bytes() and got.headers["Cache-Control"] == "max-age=600, public"
    assert http.get(file_url, headers={"If-None-Match": got.headers["ETag"]}, timeout=5).status_code == 304

    flags = [(r.status, r.conditional) for r in static_index.requests if r.path == "/simple/alpha/"]
    assert flags[:3] == [(200, False), (304, True), (304, True)]
    static_index.reset_log()
    assert static_index.requests == []


@pytest.mark.parametrize("absolute", [False, True])
def test_file_urls_resolve(tmp_path: Path, http: requests.Session, absolute: bool) -> None:
    whl = build_wheel(tmp_path, "alpha", "1.0+local.1")  # '+' must survive URL quoting
    with StaticIndex(absolute_urls=absolute) as index:
        index.add(whl)
        page = http.get(index.project_url("alpha"), headers={"Accept": JSON_V1}, timeout=5)
        entry = page.json()["files"][0]
        assert entry["url"].startswith("http://127.0.0.1:") is absolute
        assert entry["size"] == whl.stat().st_size
        data = http.get(urljoin(page.url, entry["url"]), timeout=5).content
        assert hashlib.sha256(data).hexdigest() == entry["hashes"]["sha256"] == file_hashes(whl)["sha256"]

        html_page = http.get(index.project_url("alpha"), headers={"Accept": "text/html"}, timeout=5)
        href = re.search(r'href="([^"]+)"', html_page.text)[1]  # type: ignore[index]
        link, _, fragment = urljoin(html_page.url, href).partition("#")
        assert fragment == f"sha256={entry['hashes']['sha256']}"
        assert http.get(link, timeout=5).content == whl.read_bytes()


def test_yanked_and_requires_python_in_both_forms(static_index: StaticIndex, http: requests.Session) -> None:
    static_index.add_file_entry("gamma", "gamma-1.0.tar.gz", yanked=True, requires_python=">=3.8", sha256="ab" * 32)
    static_index.add_file_entry("gamma", "gamma-1.1.tar.gz", yanked="bad <build>")
    static_index.add_file_entry("gamma", "gamma-2.0.tar.gz", url="https://files.example/gamma-2.0.tar.gz")
    url = static_index.project_url("gamma")

    files = http.get(url, headers={"Accept": JSON_V1}, timeout=5).json()["files"]
    assert [(f["yanked"], f.get("requires-python")) for f in files] == [
        (True, ">=3.8"),
        ("bad <build>", None),
        (False, None),
    ]
    assert files[0]["hashes"] == {"sha256": "ab" * 32} and files[1]["hashes"] == {}
    assert files[2]["url"] == "https://files.example/gamma-2.0.tar.gz"

    text = http.get(url, headers={"Accept": "text/html"}, timeout=5).text
    assert 'data-requires-python="&gt;=3.8" data-yanked=""' in text
    assert 'data-yanked="bad &lt;build&gt;"' in text
    assert text.count("data-yanked") == 2
    # Page-only entries have no bytes behind them.
    assert http.get(static_index.file_url("gamma-1.0.tar.gz"), timeout=5).status_code == 404


def test_redirects_and_not_found(tmp_path: Path, static_index: StaticIndex, http: requests.Session) -> None:
    static_index.add(build_wheel(tmp_path, "foo-bar", "1.0"))
    for path in ("simple/Foo_Bar/", "simple/foo-bar", "simple/Foo.Bar"):
        r = http.get(static_index.base_url + path, allow_redirects=False, timeout=5)
        assert (r.status_code, r.headers["Location"]) == (301, "/simple/foo-bar/"), path
    assert http.get(static_index.base_url + "simple/Foo_Bar", timeout=5).url == static_index.project_url("foo-bar")
    missing = http.get(static_index.project_url("nope"), timeout=5)
    assert missing.status_code == 404 and "nope" in missing.text
    static_index.remove_project("foo-bar")
    assert http.get(static_index.project_url("foo-bar"), timeout=5).status_code == 404


def test_fault_injection(tmp_path: Path, static_index: StaticIndex, http: requests.Session) -> None:
    static_index.add(build_wheel(tmp_path, "alpha", "1.0"))
    url = static_index.project_url("alpha")
    static_index.fail("alpha", status=503, times=2, body="down for maintenance")
    first = http.get(url, timeout=5)
    assert (first.status_code, first.text) == (503, "down for maintenance")
    assert http.get(url, timeout=5).status_code == 503
    assert http.get(url, timeout=5).status_code == 200

    static_index.fail("/files/alpha-1.0-py3-none-any.whl", status=429, headers={"Retry-After": "1"})
    throttled = http.get(static_index.file_url("alpha-1.0-py3-none-any.whl"), timeout=5)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"

    static_index.delay("alpha", 1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(url, timeout=0.2)
    assert http.get(url, timeout=5).status_code == 200  # the delay was used up


def test_basic_auth(tmp_path: Path, http: requests.Session) -> None:
    with StaticIndex(auth=("user", "secret")) as index:
        index.add(build_wheel(tmp_path, "alpha", "1.0"))
        denied = http.get(index.project_url("alpha"), timeout=5)
        assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic ")
        assert http.get(index.project_url("alpha"), auth=("user", "wrong"), timeout=5).status_code == 401
        assert http.get(index.project_url("alpha"), auth=("user", "secret"), timeout=5).status_code == 200
        assert http.get(index.file_url("alpha-1.0-py3-none-any.whl"), timeout=5).status_code == 401
        assert [r.authorization for r in index.requests[:3]] == [False, True, True]


# -- pypiserver ------------------------------------------------------------------------------------


def test_pypiserver_serves_built_projects(pypiserver_index: PypiserverIndex, http: requests.Session) -> None:
    idx = pypiserver_index
    page = http.get(idx.url + "alpha/", timeout=5)
    assert page.status_code == 200
    listed = set(re.findall(r">([^<]+\.(?:whl|tar\.gz))</a>", page.text))
    built = {p.name for p in idx.files if p.name.startswith("alpha")}
    assert listed == built and len(built) == 8
    href = re.search(r'href="([^"]+\.whl)#sha256=([0-9a-f]{64})"', page.text)
    assert href is not None
    data = http.get(urljoin(page.url, href[1]), timeout=5).content
    assert hashlib.sha256(data).hexdigest() == href[2]
    assert "beta/" in http.get(idx.url, timeout=5).text
    # Quirks nightcrew must cope with: HTML whatever Accept says, no validators on pages.
    json_asked = http.get(idx.url + "alpha/", headers={"Accept": JSON_V1}, timeout=5)
    assert json_asked.headers["Content-Type"].startswith("text/html")
    assert "ETag" not in json_asked.headers and "data-requires-python" not in json_asked.text


def test_stop_closes_pooled_connections(tmp_path: Path, http: requests.Session) -> None:
    index = StaticIndex().start()
    index.add(build_wheel(tmp_path, "alpha", "1.0"))
    url = index.project_url("alpha")
    assert http.get(url, timeout=5).status_code == 200  # leaves a keep-alive connection in the pool
    index.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url, timeout=5)
