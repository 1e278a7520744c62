"""Tests for Poetry tables in pyproject.toml and Poetry constraints converted to PEP 440."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from jobs.manifests.poetry import PoetryConstraintError, UnsupportedConstraint, python_marker, to_pep440
from jobs.manifests.pyproject import PyprojectFormat
from jobs.models import Dependency, ParsedManifests


def parse_text(root: Path, text: str, crlf: bool = False) -> ParsedManifests:
    if crlf:
        text = text.replace("\n", "\r\n")
    (root / "pyproject.toml").write_bytes(text.encode("utf-8"))
    result = PyprojectFormat().parse(root, [root / "pyproject.toml"])
    raw = open(root / "pyproject.toml", encoding="utf-8", newline="").read()
    for dep in result.dependencies:
        if dep.span is not None:
            assert raw[dep.span.start : dep.span.end] == dep.specifier, dep
            assert raw.count("\n", 0, dep.span.start) + 1 == dep.line, dep
    return result


def rows(result: ParsedManifests) -> list[tuple[str, str, str | None, str, int]]:
    return [(d.name, d.specifier, d.pep440, d.section, d.line) for d in result.dependencies]


def only(result: ParsedManifests, name: str) -> Dependency:
    (dep,) = [d for d in result.dependencies if d.name == name]
    return dep


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^1.2", ">=1.2,<2.0"),
        ("^1", ">=1,<2"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0", ">=0.0,<0.1"),
        ("^0", ">=0,<1"),
        ("^2.0.0rc1", ">=2.0.0rc1,<3.0.0"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1", ">=1,<2"),
        ("~0.0.5", ">=0.0.5,<0.1.0"),
        ("~=1.2", "~=1.2"),
        ("~= 1.2.3", "~=1.2.3"),
    ],
)
def test_caret_and_tilde_convert_per_poetry_docs(poetry: str, pep440: str) -> None:
    assert to_pep440(poetry) == pep440


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("*", ""),
        ("", ""),
        ("1.2.*", "==1.2.*"),
        ("1.*", "==1.*"),
        ("1.2.3", "==1.2.3"),
        ("==1.2.3", "==1.2.3"),
        ("=1.2.3", "==1.2.3"),
        (">= 1.2, < 2.0", ">=1.2,<2.0"),
        (">=1.2 <2.0", ">=1.2,<2.0"),
        (">=1.2,<2.0,!=1.5", ">=1.2,<2.0,!=1.5"),
        ("^1.2, !=1.4.1", ">=1.2,<2.0,!=1.4.1"),
        ("  ^1.0  ", ">=1.0,<2.0"),
    ],
)
def test_wildcards_bare_versions_and_comparison_lists_convert(poetry: str, pep440: str) -> None:
    assert to_pep440(poetry) == pep440
    SpecifierSet(pep440)


@pytest.mark.parametrize("constraint", ["^1.0 || ^2.0", ">=1,<2 | >=3"])
def test_or_constraints_are_unsupported(constraint: str) -> None:
    with pytest.raises(UnsupportedConstraint, match="'\\|\\|' constraints are not supported"):
        to_pep440(constraint)


@pytest.mark.parametrize("constraint", ["^banana", "~x.y", ">=", "1.2.3 - 2.0", ">=1.2.*.4", "latest"])
def test_invalid_constraints_raise(constraint: str) -> None:
    with pytest.raises(PoetryConstraintError):
        to_pep440(constraint)


@pytest.mark.parametrize(
    ("python", "marker"),
    [
        ("^3.8", 'python_version >= "3.8" and python_version < "4.0"'),
        (">=3.9", 'python_version >= "3.9"'),
        ("<3.10", 'python_version < "3.10"'),
        ("~3.8.1", 'python_full_version >= "3.8.1" and python_full_version < "3.9.0"'),
        ("*", None),
        ("3.8.*", None),
        ("~=3.8", None),
        ("^3.8 || ^3.10", None),
        (">=3.13b1", None),
    ],
)
def test_python_key_becomes_a_marker_only_when_simple(python: str, marker: str | None) -> None:
    assert python_marker(python) == marker


POETRY = """\
[tool.poetry]
name = "demo"

[tool.poetry.dependencies]
python = "^3.9"
requests = "^2.28"
Flask = { version = "~2.3", extras = ["dotenv", "async"] }
numpy = {version = ">= 1.24, < 2.0", markers = "platform_machine == 'x86_64'", python = ">=3.10"}
attrs = '*'
six = "1.16.0"
pydantic = { version = "2.*", allow-prereleases = true, optional = true, source = "internal" }
mylib = { git = "https://github.com/me/mylib.git", branch = "main" }
locallib = { path = "../locallib", develop = true }
wheel-dep = { url = "https://example.com/wheel_dep-1.0-py3-none-any.whl" }
either = "^1.0 || ^2.0"
foo = [
    { version = "<=1.9", python = ">=3.6,<3.8" },
    { version = "^2.0", python = ">=3.8" },
]

[tool.poetry.dependencies.Big-Table]
version = "^0.2.3"
extras = ["x"]

[tool.poetry.dev-dependencies]
pytest = "^8.0"

[tool.poetry.group.docs.dependencies]
sphinx = ">=7,<8"

[tool.poetry.group.lint]
optional = true
[tool.poetry.group.lint.dependencies]
ruff = "~0.3"
"""


def test_poetry_main_dev_and_group_tables_are_read_with_sections_and_lines(tmp_path: Path) -> None:
    result = parse_text(tmp_path, POETRY)
    main = "tool.poetry.dependencies"
    assert rows(result) == [
        ("requests", "^2.28", ">=2.28,<3.0", main, 6),
        ("flask", "~2.3", ">=2.3,<2.4", main, 7),
        ("numpy", ">= 1.24, < 2.0", ">=1.24,<2.0", main, 8),
        ("attrs", "*", "", main, 9),
        ("six", "1.16.0", "==1.16.0", main, 10),
        ("pydantic", "2.*", "==2.*", main, 11),
        ("mylib", "", None, main, 12),
        ("locallib", "", None, main, 13),
        ("wheel-dep", "", None, main, 14),
        ("either", "^1.0 || ^2.0", None, main, 15),
        ("foo", "<=1.9", "<=1.9", main, 17),
        ("foo", "^2.0", ">=2.0,<3.0", main, 18),
        ("big-table", "^0.2.3", ">=0.2.3,<0.3.0", main, 22),
        ("pytest", "^8.0", ">=8.0,<9.0", "tool.poetry.dev-dependencies", 26),
        ("sphinx", ">=7,<8", ">=7,<8", "tool.poetry.group.docs.dependencies", 29),
        ("ruff", "~0.3", ">=0.3,<0.4", "tool.poetry.group.lint.dependencies", 34),
    ]
    assert result.problems == ()


def test_python_key_sets_requires_python_and_is_not_a_dependency(tmp_path: Path) -> None:
    result = parse_text(tmp_path, POETRY)
    assert result.requires_python == ">=3.9,<4.0"
    assert "python" not in {d.name for d in result.dependencies}


def test_project_requires_python_wins_over_poetry_python(tmp_path: Path) -> None:
    text = '[project]\nrequires-python = ">=3.11"\n[tool.poetry.dependencies]\npython = "^3.9"\n'
    assert parse_text(tmp_path, text).requires_python == ">=3.11"


def test_table_forms_keep_extras_and_markers(tmp_path: Path) -> None:
    result = parse_text(tmp_path, POETRY)
    flask = only(result, "flask")
    assert (flask.raw_name, flask.extras, flask.marker) == ("Flask", ("async", "dotenv"), None)
    numpy = only(result, "numpy")
    assert numpy.marker == 'platform_machine == "x86_64" and python_version >= "3.10"'
    big = only(result, "big-table")
    assert (big.raw_name, big.extras) == ("Big-Table", ("x",))


def test_multiple_constraints_give_one_dependency_per_entry_with_python_markers(tmp_path: Path) -> None:
    foo = [d for d in parse_text(tmp_path, POETRY).dependencies if d.name == "foo"]
    assert [d.marker for d in foo] == [
        'python_version >= "3.6" and python_version < "3.8"',
        'python_version >= "3.8"',
    ]


def test_git_path_and_url_dependencies_are_reported_as_skipped(tmp_path: Path) -> None:
    result = parse_text(tmp_path, POETRY)
    reasons = {d.name: d.skipped_reason for d in result.dependencies if d.skipped_reason}
    assert reasons == {
        "mylib": "VCS requirement",
        "locallib": "local path requirement",
        "wheel-dep": "direct URL requirement",
        "either": "'||' constraints are not supported",
    }
    assert only(result, "mylib").span is None


def test_or_constraint_is_still_reported_with_its_span(tmp_path: Path) -> None:
    either = only(parse_text(tmp_path, POETRY), "either")
    assert either.span is not None and either.pep440 is None


def test_every_poetry_version_literal_has_a_span(tmp_path: Path) -> None:
    result = parse_text(tmp_path, POETRY)
    versioned = [d for d in result.dependencies if d.specifier]
    assert versioned and all(d.span is not None for d in versioned)


def test_crlf_poetry_file_has_same_lines_and_exact_spans(tmp_path: Path) -> None:
    lf = rows(parse_text(tmp_path, POETRY))
    assert rows(parse_text(tmp_path, POETRY, crlf=True)) == lf


def test_whitespace_around_a_constraint_is_not_part_of_the_span(tmp_path: Path) -> None:
    dep = only(parse_text(tmp_path, '[tool.poetry.dependencies]\nx = "  ^1.0 "\n'), "x")
    assert (dep.specifier, dep.pep440) == ("^1.0", ">=1.0,<2.0")


def test_escaped_constraint_has_the_line_but_no_span(tmp_path: Path) -> None:
    dep = only(parse_text(tmp_path, '[tool.poetry.dependencies]\n\nx = "\\u005e1.0"\n'), "x")
    assert (dep.specifier, dep.pep440, dep.line, dep.span) == ("^1.0", ">=1.0,<2.0", 3, None)


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        ('[tool.poetry.dependencies]\nx = "^banana"\n', 2, "tool.poetry.dependencies.x:"),
        ("[tool.poetry.dependencies]\nx = 3\n", 2, "tool.poetry.dependencies.x:"),
        ('[tool.poetry.dependencies]\nx = {version = 1, extras = ["a"]}\n', 2, "tool.poetry.dependencies.x:"),
        ('[tool.poetry.dependencies]\nx = {version = "^1", extras = "a"}\n', 2, "tool.poetry.dependencies.x.extras:"),
        ('[tool.poetry.dependencies]\nx = {version = "^1", markers = 1}\n', 2, "tool.poetry.dependencies.x.markers"),
        ('[tool.poetry.dependencies]\nx = {version = "^1", markers = "no"}\n', 2, "tool.poetry.dependencies.x.markers"),
        ('[tool.poetry.dependencies]\nx = [\n  {version="^1"},\n  {version=2},\n]\n', 4, "tool.poetry.dependencies.x[1]"),
        ('[tool.poetry]\ndependencies = ["a"]\n', 2, "tool.poetry.dependencies:"),
        ('[tool.poetry.dependencies]\npython = "^3.8 || ^3.10"\n', 2, "tool.poetry.dependencies.python:"),
        ('[tool.poetry.group]\ndocs = "x"\n', 2, "tool.poetry.group.docs:"),
    ],
)
def test_bad_poetry_values_are_problems_naming_line_and_key_path(
    tmp_path: Path, text: str, line: int, where: str
) -> None:
    (problem,) = parse_text(tmp_path, text).problems
    assert (problem.file, problem.line) == ("pyproject.toml", line)
    assert problem.message.startswith(where)


def test_problem_in_one_poetry_dependency_keeps_the_others(tmp_path: Path) -> None:
    result = parse_text(tmp_path, '[tool.poetry.dependencies]\na = "^1"\nb = "^nope"\nc = "~2.1"\n')
    assert [d.name for d in result.dependencies] == ["a", "c"]
    assert [p.line for p in result.problems] == [3]


def test_single_quoted_poetry_literals_and_inline_table_on_several_keys(tmp_path: Path) -> None:
    text = "[tool.poetry.dependencies]\nx = {version='^1.2', extras=['b','a']}\ny = { path = 'y', version = '^9' }\n"
    result = parse_text(tmp_path, text)
    assert rows(result) == [
        ("x", "^1.2", ">=1.2,<2.0", "tool.poetry.dependencies", 2),
        ("y", "", None, "tool.poetry.dependencies", 3),
    ]
    assert only(result, "x").extras == ("a", "b")


ENRICHED = """\
[project]
dependencies = ["requests>=2.13", "tomli (>=2.0.1,<3.0.0) ; python_version < '3.11'"]
[project.optional-dependencies]
socks = ["PySocks>=1.7"]

[tool.poetry.dependencies]
requests = { source = "private" }
tomli = { allow-prereleases = true }
pysocks = { source = "private" }
extra-only = { source = "private", markers = "sys_platform == 'linux'" }
vendored = { file = "vendor/vendored-1.0.tar.gz" }
"""


def test_poetry2_tables_that_only_add_details_are_not_problems_nor_duplicates(tmp_path: Path) -> None:
    result = parse_text(tmp_path, ENRICHED)
    assert result.problems == ()
    assert [(d.name, d.section) for d in result.dependencies if d.name in ("requests", "tomli", "pysocks")] == [
        ("requests", "project.dependencies"),
        ("tomli", "project.dependencies"),
        ("pysocks", "project.optional-dependencies.socks"),
    ]


def test_poetry_table_without_version_for_a_package_project_lacks_is_any_version(tmp_path: Path) -> None:
    result = parse_text(tmp_path, ENRICHED)
    extra = only(result, "extra-only")
    assert (extra.specifier, extra.pep440, extra.span, extra.skipped_reason) == ("", "", None, None)
    assert (extra.section, extra.line, extra.marker) == ("tool.poetry.dependencies", 10, 'sys_platform == "linux"')
    assert only(result, "vendored").skipped_reason == "local path requirement"


def test_poetry_only_project_table_without_version_is_any_version(tmp_path: Path) -> None:
    result = parse_text(tmp_path, '[tool.poetry.group.dev.dependencies]\nx = {allow-prereleases = true}\n')
    assert rows(result) == [("x", "", "", "tool.poetry.group.dev.dependencies", 2)]
    assert result.problems == ()


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('[tool.poetry.dependencies]\nx = {version = "^1", markers = "os_name =="}\n',
         "tool.poetry.dependencies.x.markers: invalid marker 'os_name ==': "),
        ('[tool.poetry.dependencies]\nx = ">=1.2.*"\n',
         "tool.poetry.dependencies.x: invalid version constraint '>=1.2.*': "),
    ],
)
def test_problems_from_packaging_errors_are_one_line(tmp_path: Path, text: str, start: str) -> None:
    (problem,) = parse_text(tmp_path, text).problems
    assert problem.message.startswith(start)
    assert "\n" not in problem.message
