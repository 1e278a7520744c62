"""Shared fixtures: real loopback package indexes (StaticIndex, pypiserver) and fast real dist builders."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

# `tests.support` must import the same way however pytest was launched (plain `pytest` does not put the
# project root on sys.path, `python -m pytest` does).
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.support.distbuild import build_dists  # noqa: E402
from tests.support.indexserver import PypiserverError, PypiserverIndex, StaticIndex, start_pypiserver  # noqa: E402

MakeDists = Callable[..., list[Path]]


@pytest.fixture
def static_index() -> Iterator[StaticIndex]:
    """A started StaticIndex on 127.0.0.1, empty; stopped after the test."""
    index = StaticIndex()
    index.start()
    try:
        yield index
    finally:
        index.stop()


@pytest.fixture
def make_dists(tmp_path_factory: pytest.TempPathFactory) -> MakeDists:
    """``make_dists(name, versions, *, wheel=True, sdist=True, requires_python=None, requires_dist=(), dest=None)``.

    Builds real wheel+sdist files for each version into a fresh temp dir (or ``dest``) and returns their paths.
    """

    def make(
        name: str,
        versions: Sequence[str],
        *,
        wheel: bool = True,
        sdist: bool = True,
        requires_python: str | None = None,
        requires_dist: Sequence[str] = (),
        dest: Path | None = None,
    ) -> list[Path]:
        target = dest if dest is not None else tmp_path_factory.mktemp("dists")
        return build_dists(
            target,
            name,
            versions,
            wheel=wheel,
            sdist=sdist,
            requires_python=requires_python,
            requires_dist=requires_dist,
        )

    return make


PYPISERVER_PROJECTS: dict[str, tuple[str, ...]] = {
    "alpha": ("1.0.0", "1.1.0", "2.0.0", "2.1.0rc1"),
    "beta": ("0.9", "1.0"),
}


@pytest.fixture(scope="session")
def pypiserver_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiserverIndex]:
    """The real pypiserver (HTML-only, PEP 503) serving PYPISERVER_PROJECTS as wheels and sdists on loopback."""
    if importlib.util.find_spec("pypiserver") is None:
        pytest.skip("pypiserver is not installed (pip install 'nightcrew[test]')")
    pkg_dir = tmp_path_factory.mktemp("pypiserver-packages")
    files: list[Path] = []
    for name, versions in PYPISERVER_PROJECTS.items():
        files += build_dists(pkg_dir, name, versions)
    log_path = tmp_path_factory.mktemp("pypiserver-log") / "server.log"
    try:
        server = start_pypiserver(pkg_dir, log_path, files=files, timeout=20.0)
    except PypiserverError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


# -- GitHub REST stand-in ---------------------------------------------------------------------------
from tests.support.github_server import GitHubStandIn, seed_bare_repo  # noqa: E402


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubStandIn]:
    """A started GitHubStandIn for acme/widgets over a fresh bare repo (``.bare``) whose ``main`` has one commit."""
    bare = tmp_path / "widgets.git"
    seed_bare_repo(bare)
    server = GitHubStandIn(bare)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- OpenAI-compatible stand-in ---------------------------------------------------------------------
from tests.support.openai_server import OpenAIStandIn  # noqa: E402


@pytest.fixture
def openai_server() -> Iterator[OpenAIStandIn]:
    """A started OpenAIStandIn (``base_url`` ``http://127.0.0.1:PORT/v1``, key ``api_key``) with no replies queued."""
    server = OpenAIStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def quiet_advisory_database() -> Iterator[None]:
    """Nothing in the tests reaches beyond loopback: every scan asks an empty OSV stand-in unless a test serves
    its own (``osv`` fixture)."""
    import os

    from tests.support.osv_server import OsvStandIn

    server = OsvStandIn().start()
    before = os.environ.get("NIGHTCREW_OSV_URL")
    os.environ["NIGHTCREW_OSV_URL"] = server.url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NIGHTCREW_OSV_URL", None)
        else:
            os.environ["NIGHTCREW_OSV_URL"] = before
        server.stop()


@pytest.fixture
def osv(monkeypatch: pytest.MonkeyPatch) -> Iterator["OsvStandIn"]:  # noqa: F821
    """An OSV stand-in of the test's own, which every scan of the test asks."""
    from tests.support.osv_server import OsvStandIn

    with OsvStandIn() as server:
        monkeypatch.setenv("NIGHTCREW_OSV_URL", server.url)
        yield server


@pytest.fixture(autouse=True)
def own_uv_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """uv (the test runner's installer when it is on PATH, and a lock tool) keeps one cache per test: loopback
    indexes come and go on reused ports, serving other files under the same names."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path_factory.mktemp("uv-cache")))
