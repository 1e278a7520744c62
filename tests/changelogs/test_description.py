"""The description as a changelog (PKG-INFO of the new sdist, else the index JSON) and reading core metadata."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest
from jobs.changelogs.description import DescriptionSource
from jobs.changelogs.metadata import description, parse_pkg_info, project_urls, read_pkg_info
from jobs.changelogs.sdist import SdistCache, SdistSource
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from jobs.models import ChangelogOrigin
from tests.support.distbuild import build_sdist
from tests.support.indexserver import StaticIndex

README_WITH_HISTORY = """\
# Acme

Frobs widgets.

## Release history

### 2.0.0 (2024-06-01)

- **Breaking:** `frob()` takes a widget.

### 1.5.0 (2024-02-01)

- Faster frobbing.
"""

README_ONLY = "# Acme\n\nFrobs widgets. See the docs.\n"


def client_for(index: StaticIndex) -> IndexClient:
    return IndexClient(IndexLocation(index.url, (), "test"), cache_dir=None, timeout=5.0, retries=1,
                       backoff=0.01, workers=2)


REQUEST = ChangelogRequest("acme", Version("1.5.0"), Version("2.0.0"))


def test_the_description_comes_from_the_new_versions_pkg_info(static_index, tmp_path) -> None:
    static_index.add(build_sdist(tmp_path, "acme", "1.5.0", description=README_ONLY))
    static_index.add(build_sdist(tmp_path, "acme", "2.0.0", description=README_WITH_HISTORY))
    with client_for(static_index) as client:
        [found] = DescriptionSource(client, client.project("acme")).fetch(REQUEST)
    assert found.origin == ChangelogOrigin("description", url=static_index.file_url("acme-2.0.0.tar.gz"),
                                           path="description")
    assert found.texts == {"description.md": README_WITH_HISTORY}
    # the sdist told all there is: no JSON request
    assert [r.path for r in static_index.requests if not r.path.startswith("/simple/")] == [
        "/files/acme-2.0.0.tar.gz"]


def test_a_description_without_release_headings_is_no_changelog(static_index, tmp_path) -> None:
    static_index.add(build_sdist(tmp_path, "acme", "2.0.0", description=README_ONLY))
    with client_for(static_index) as client:
        assert DescriptionSource(client, client.project("acme")).fetch(REQUEST) == []


def test_sdist_and_description_sources_share_one_download(static_index, tmp_path) -> None:
    static_index.add(build_sdist(tmp_path, "acme", "2.0.0", description=README_WITH_HISTORY,
                                 extra_files={"CHANGES.md": README_WITH_HISTORY}))
    with client_for(static_index) as client:
        page = client.project("acme")
        cache = SdistCache(client)
        assert SdistSource(client, page, cache=cache).fetch(REQUEST)
        assert DescriptionSource(client, page, cache=cache).fetch(REQUEST)
    assert [r.path for r in static_index.requests if r.path.startswith("/files/")] == ["/files/acme-2.0.0.tar.gz"]


def _serve_json(index: StaticIndex, version: str, text: str) -> None:
    doc = {"info": {"name": "acme", "version": version, "description": text,
                    "description_content_type": "text/markdown",
                    "release_url": f"https://pypi.example/project/acme/{version}/"}}
    index.fail("/pypi/acme/json", 200, body=json.dumps(doc), headers={"Content-Type": "application/json"})


def test_a_wheel_only_release_falls_back_to_the_json_of_the_newest_release(static_index, make_dists) -> None:
    for path in make_dists("acme", ["1.5.0", "2.0.0"], sdist=False):
        static_index.add(path)
    _serve_json(static_index, "2.0.0", README_WITH_HISTORY.replace("\n", "\r\n"))
    with client_for(static_index) as client:
        [found] = DescriptionSource(client, client.project("acme")).fetch(REQUEST)
    assert found.origin == ChangelogOrigin("description", url="https://pypi.example/project/acme/2.0.0/",
                                           path="description")
    assert found.texts == {"description.md": README_WITH_HISTORY}


def test_the_json_of_another_release_is_not_used(static_index, make_dists) -> None:
    for path in make_dists("acme", ["1.5.0", "2.0.0", "2.1.0"], sdist=False):
        static_index.add(path)
    _serve_json(static_index, "2.1.0", README_WITH_HISTORY)
    with client_for(static_index) as client:
        assert DescriptionSource(client, client.project("acme")).fetch(REQUEST) == []


def test_no_sdist_and_no_json_api_is_no_changelog(static_index, make_dists) -> None:
    for path in make_dists("acme", ["2.0.0"], sdist=False):
        static_index.add(path)
    with client_for(static_index) as client:
        assert DescriptionSource(client, client.project("acme")).fetch(REQUEST) == []
    assert static_index.requests[-1].path == "/pypi/acme/json" and static_index.requests[-1].status == 404


# -- core metadata ------------------------------------------------------------------------------------


PKG_INFO = (
    "Metadata-Version: 2.1\r\nName: acme\r\nVersion: 2.0.0\r\nHome-page: https://acme.example\r\n"
    "Project-URL: Changelog, https://acme.example/changes\r\nProject-URL: Source Code,https://git.example/acme\r\n"
    "Project-URL: broken-without-url\r\nDescription-Content-Type: text/markdown\r\n\r\n# Acme\r\n\r\nBody.\r\n"
)


def test_project_urls_and_description_from_pkg_info() -> None:
    msg = parse_pkg_info(PKG_INFO.encode())
    assert project_urls(msg) == {"Changelog": "https://acme.example/changes", "Source Code": "https://git.example/acme",
                                 "Homepage": "https://acme.example"}
    assert description(msg) == "# Acme\n\nBody.\n"


def test_a_legacy_description_header_is_unfolded() -> None:
    text = ("Metadata-Version: 1.1\nName: old\nVersion: 0.9\nHome-page: UNKNOWN\nDescription: Old\n        ===\n"
            "        \n        1.0\n       |---\n")
    msg = parse_pkg_info(text)
    assert description(msg) == "Old\n===\n\n1.0\n---"
    assert project_urls(msg) == {}


def test_pkg_info_is_read_from_tar_and_zip_sdists(tmp_path) -> None:
    tar = build_sdist(tmp_path, "acme", "2.0.0", description=README_WITH_HISTORY)
    msg = read_pkg_info(tar.read_bytes())
    assert msg is not None and msg["Version"] == "2.0.0" and description(msg) == README_WITH_HISTORY
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("acme-2.0.0/PKG-INFO", PKG_INFO)
        zf.writestr("acme-2.0.0/src/acme.egg-info/PKG-INFO", "Name: wrong\n")
    msg = read_pkg_info(buf.getvalue())
    assert msg is not None and msg["Name"] == "acme"
    assert read_pkg_info(b"not an archive") is None


def test_an_sdist_without_pkg_info(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("acme-2.0.0/setup.py", "")
    assert read_pkg_info(buf.getvalue()) is None
