"""The PEP 508 pieces shared by the requirements and pyproject parsers, and the two parsers agreeing on them."""

from __future__ import annotations

import json

import pytest
from packaging.requirements import Requirement

from jobs.manifests import pyproject, requirements
from jobs.manifests.pep508 import first_line, link_names, link_reason, specifier_span
from jobs.models import Dependency


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("foo>=1", ">=1"),
        ("foo >= 1.0 , < 2", ">= 1.0 , < 2"),
        ("Foo.Bar [x, y] ( >=1 , <2 ) ; python_version > '3'", ">=1 , <2"),
        ("foo ==1.0;os_name=='nt'", "==1.0"),
        ("  foo~=1.4", "~=1.4"),
    ],
)
def test_specifier_span_is_the_specifier_as_written(text: str, written: str) -> None:
    span = specifier_span(text, Requirement(text))
    assert span is not None and text[span[0]:span[1]] == written


@pytest.mark.parametrize(("text", "at"), [("foo", 3), ("foo[x]", 6), ("foo [x] ; os_name == 'nt'", 7), ("foo ;os_name=='nt'", 3)])
def test_specifier_span_of_an_unversioned_requirement_is_empty_after_name_and_extras(text: str, at: int) -> None:
    assert specifier_span(text, Requirement(text)) == (at, at)


def test_specifier_span_of_a_url_requirement_is_none() -> None:
    assert specifier_span("foo @ https://example.com/foo-1.0.tar.gz", Requirement("foo @ https://example.com/f.zip")) is None


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("git+https://example.com/x.git", "VCS requirement"),
        ("git://example.com/x.git", "VCS requirement"),
        ("svn://example.com/x", "VCS requirement"),
        ("hg+ssh://example.com/x", "VCS requirement"),
        ("bzr+lp:x", "VCS requirement"),
        ("https://example.com/x-1.0.tar.gz", "direct URL requirement"),
        ("ftp://example.com/x-1.0.tar.gz", "direct URL requirement"),
        ("file:///srv/x", "local path requirement"),
        ("./x", "local path requirement"),
        ("C:\\wheels\\x-1.0-py3-none-any.whl", "local path requirement"),
    ],
)
def test_link_reason(link: str, reason: str) -> None:
    assert link_reason(link) == reason
    assert link_reason(link, editable=True) == "editable requirement"


@pytest.mark.parametrize(
    ("link", "name", "names"),
    [
        ("https://example.com/x.zip", "Named.Pkg", ("named-pkg", "Named.Pkg")),
        ("git+https://u:p@example.com/x.git#egg=Egg_Name[extra]", None, ("egg-name", "Egg_Name")),
        ("https://u:p@example.com/Some_Pkg-2.0-py3-none-any.whl", None, ("some-pkg", "Some_Pkg")),
        ("git+https://u:p@example.com/org/Repo.git@v1", None, ("repo", "git+https://u:***@example.com/org/Repo.git@v1")),
        ("https://example.com/foo-bar-1.0-beta.tgz", None, ("foo-bar", "https://example.com/foo-bar-1.0-beta.tgz")),
        ("https://example.com/Pkg%20Dir/", None, ("https://example.com/Pkg%20Dir/",) * 2),  # no valid name in it
        (".", None, (".", ".")),
    ],
)
def test_link_names(link: str, name: str | None, names: tuple[str, str]) -> None:
    assert link_names(link, name) == names


def test_link_names_redacts_given_secrets() -> None:
    assert link_names("https://example.com/s3cr3t-value/x.whl", secrets=["s3cr3t-value"]) == (
        "x", "https://example.com/***/x.whl")


def test_first_line_drops_the_caret_diagram() -> None:
    with pytest.raises(Exception) as info:
        Requirement("foo ; os_name ==")
    assert first_line(info.value) == str(info.value).splitlines()[0] != str(info.value)


AGREED = [
    "Django[bcrypt] >= 4.2, <5 ; python_version > '3.8'",
    "Flask (>=2.0,<3)",
    "requests",
    "httpx[http2] ; python_version >= '3.9'",
    "pkg @ git+https://example.com/pkg.git@v1",
    "pkg @ git://example.com/pkg.git",
    "local @ file:///srv/local",
    "remote @ https://example.com/remote-1.0.tar.gz ; sys_platform == 'linux'",
]


@pytest.mark.parametrize("text", AGREED)
def test_requirements_and_pyproject_parsers_agree_on_a_pep508_string(text: str) -> None:
    from_requirements = _one(requirements.parse_text(text + "\n", "requirements.txt").dependencies)
    toml = f"[project]\ndependencies = [{json.dumps(text)}]\n"
    from_pyproject = _one(pyproject.parse_text(toml, "pyproject.toml").dependencies)
    fields = ("name", "raw_name", "specifier", "pep440", "extras", "marker", "skipped_reason")
    assert [getattr(from_requirements, f) for f in fields] == [getattr(from_pyproject, f) for f in fields]
    # the spans differ only by where the string sits in each file
    if from_requirements.span is None:
        assert from_pyproject.span is None
    else:
        assert from_pyproject.span is not None
        offset = toml.index(text)
        assert (from_pyproject.span.start - offset, from_pyproject.span.end - offset) == (
            from_requirements.span.start, from_requirements.span.end)


def _one(deps: tuple[Dependency, ...]) -> Dependency:
    (dep,) = deps
    return dep
