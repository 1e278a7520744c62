"""Tests for the pyproject.toml manifest format: PEP 621, PEP 735, build-system, positions, problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.manifests import get, tomltext
from jobs.manifests.pyproject import UNLOCATED, PyprojectFormat, parse_text
from jobs.manifests.tomltext import locate_values
from jobs.models import Dependency, ParsedManifests
from tests.support.spans import assert_spans


def write(root: Path, text: str, name: str = "pyproject.toml", crlf: bool = False) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    return path


def parse(root: Path, *paths: Path) -> ParsedManifests:
    fmt = PyprojectFormat()
    result = fmt.parse(root, list(paths) or fmt.find(root, []))
    assert_spans(root, result)
    return result


def by_name(result: ParsedManifests) -> dict[str, Dependency]:
    return {dep.name: dep for dep in result.dependencies}


PEP621 = """\
[build-system]
requires = ["setuptools>=61.0", 'wheel']
build-backend = "setuptools.build_meta"

[project]
name = "demo"
requires-python = ">=3.9"
dependencies = [
    "Django[bcrypt] >= 4.2, <5; python_version > '3.8'",
    "requests",  # no version: "fake>=1" [brackets] in a comment
    'Flask (>=2.0,<3)',
    "pkg @ git+https://example.com/pkg.git@v1",
    "local @ file:///srv/local",
    "remote @ https://example.com/remote-1.0.tar.gz",
    "zope.interface[security,docs]~=5.4 ; sys_platform == 'linux'",
]

[project.optional-dependencies]
test = ["pytest>=8", "coverage[toml]==7.4.1"]
"docs-extra" = [
    "Sphinx>=7",
]
"""


def test_format_is_registered_under_pyproject() -> None:
    assert isinstance(get("pyproject"), PyprojectFormat)
    assert PyprojectFormat.name == "pyproject"


def test_find_uses_default_glob_and_given_globs(tmp_path: Path) -> None:
    root_file = write(tmp_path, "")
    nested = write(tmp_path, "", "pkg/pyproject.toml")
    fmt = PyprojectFormat()
    assert fmt.find(tmp_path, []) == [root_file]
    assert fmt.find(tmp_path, ["**/pyproject.toml"]) == sorted([root_file, nested])


def test_pep621_dependencies_have_names_specifiers_as_written_and_pep440(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    deps = by_name(parse(tmp_path))
    django = deps["django"]
    assert (django.raw_name, django.specifier, django.pep440) == ("Django", ">= 4.2, <5", "<5,>=4.2")
    assert django.extras == ("bcrypt",)
    assert django.marker == 'python_version > "3.8"'
    assert (django.section, django.line, django.file) == ("project.dependencies", 9, "pyproject.toml")
    flask = deps["flask"]
    assert (flask.specifier, flask.pep440, flask.line) == (">=2.0,<3", "<3,>=2.0", 11)
    zope = deps["zope-interface"]
    assert (zope.raw_name, zope.specifier, zope.extras) == ("zope.interface", "~=5.4", ("docs", "security"))
    assert zope.marker == 'sys_platform == "linux"'


def test_requirement_without_version_gets_empty_span_after_its_name(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    text = (tmp_path / "pyproject.toml").read_text()
    requests = by_name(parse(tmp_path))["requests"]
    assert (requests.specifier, requests.pep440, requests.line) == ("", "", 10)
    assert requests.span is not None and requests.span.start == requests.span.end
    assert text[: requests.span.start].endswith('"requests')


def test_url_vcs_and_file_requirements_are_reported_with_a_skip_reason(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    deps = by_name(parse(tmp_path))
    assert deps["pkg"].skipped_reason == "VCS requirement"
    assert deps["local"].skipped_reason == "local path requirement"
    assert deps["remote"].skipped_reason == "direct URL requirement"
    assert [deps[n].line for n in ("pkg", "local", "remote")] == [12, 13, 14]
    assert all(deps[n].span is None and deps[n].specifier == "" for n in ("pkg", "local", "remote"))
    assert all(deps[n].pep440 is None for n in ("pkg", "local", "remote"))


def test_optional_dependencies_are_sectioned_by_extra(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    deps = by_name(parse(tmp_path))
    assert deps["pytest"].section == "project.optional-dependencies.test"
    assert (deps["coverage"].specifier, deps["coverage"].extras, deps["coverage"].line) == ("==7.4.1", ("toml",), 19)
    assert (deps["sphinx"].section, deps["sphinx"].line) == ("project.optional-dependencies.docs-extra", 21)


def test_build_system_requires_and_requires_python(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    result = parse(tmp_path)
    build = [d for d in result.dependencies if d.section == "build-system.requires"]
    assert [(d.name, d.specifier, d.line) for d in build] == [("setuptools", ">=61.0", 2), ("wheel", "", 2)]
    assert result.requires_python == ">=3.9"
    assert result.files == ("pyproject.toml",)
    assert result.problems == ()


def test_dependencies_are_reported_in_document_section_order(tmp_path: Path) -> None:
    write(tmp_path, PEP621)
    sections = [d.section for d in parse(tmp_path).dependencies]
    assert sections[0] == "project.dependencies"
    assert sections[-1] == "build-system.requires"


GROUPS = """\
[dependency-groups]
test = ["pytest>=8", "coverage"]
Typing = ["mypy==1.8.0"]
dev = [
    {include-group = "test"},
    { include-group = "typing" },
    "ruff>=0.3",
]
"""


def test_dependency_groups_report_each_requirement_once_where_written(tmp_path: Path) -> None:
    write(tmp_path, GROUPS)
    result = parse(tmp_path)
    rows = [(d.name, d.section, d.specifier, d.line) for d in result.dependencies]
    assert rows == [
        ("pytest", "dependency-groups.test", ">=8", 2),
        ("coverage", "dependency-groups.test", "", 2),
        ("mypy", "dependency-groups.Typing", "==1.8.0", 3),
        ("ruff", "dependency-groups.dev", ">=0.3", 7),
    ]
    assert result.problems == ()


def test_unknown_include_group_is_a_problem_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, '[dependency-groups]\ndev = [\n  "ruff",\n  {include-group = "lint"},\n]\n')
    result = parse(tmp_path)
    assert [d.name for d in result.dependencies] == ["ruff"]
    (problem,) = result.problems
    assert (problem.file, problem.line) == ("pyproject.toml", 4)
    assert "dependency-groups.dev[1]" in problem.message and "'lint'" in problem.message


def test_include_group_cycle_is_one_problem_naming_the_cycle(tmp_path: Path) -> None:
    text = (
        "[dependency-groups]\n"
        'a = ["x", {include-group = "b"}]\n'
        'b = [{include-group = "c"}]\n'
        'c = [{include-group = "a"}, "y"]\n'
    )
    write(tmp_path, text)
    result = parse(tmp_path)
    assert [d.name for d in result.dependencies] == ["x", "y"]
    (problem,) = result.problems
    assert problem.line == 4
    assert "cycle: a -> b -> c -> a" in problem.message


def test_group_including_itself_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, '[dependency-groups]\nself = [{include-group = "self"}]\n')
    (problem,) = parse(tmp_path).problems
    assert problem.line == 2 and "cycle: self -> self" in problem.message


def test_include_table_with_other_keys_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, '[dependency-groups]\na = []\nb = [{include-group = "a", extra = 1}]\n')
    (problem,) = parse(tmp_path).problems
    assert problem.line == 3 and problem.message.startswith("dependency-groups.b[0]:")


def test_crlf_file_spans_and_lines_are_exact(tmp_path: Path) -> None:
    write(tmp_path, PEP621 + GROUPS, crlf=True)
    result = parse(tmp_path)
    text = open(tmp_path / "pyproject.toml", encoding="utf-8", newline="").read()
    assert "\r\n" in text
    deps = by_name(result)
    assert deps["django"].line == 9 and deps["ruff"].line == 29
    span = deps["django"].span
    assert span is not None and text[span.start : span.end] == ">= 4.2, <5"


def test_literal_strings_and_multiline_literal_strings_are_located(tmp_path: Path) -> None:
    text = "[project]\ndependencies = [\n  'attrs>=23',\n  '''cattrs ==23.2''',\n  \"\"\"\nrich>=13\"\"\",\n]\n"
    write(tmp_path, text)
    deps = by_name(parse(tmp_path))
    assert (deps["attrs"].specifier, deps["attrs"].line) == (">=23", 3)
    assert (deps["cattrs"].specifier, deps["cattrs"].line) == ("==23.2", 4)
    assert (deps["rich"].specifier, deps["rich"].line) == (">=13", 6)
    assert all(dep.span is not None for dep in deps.values())


def test_escaped_string_has_no_span_but_the_right_line(tmp_path: Path) -> None:
    write(tmp_path, '[project]\ndependencies = [\n  "ok==1",\n  "\\u0061ttrs>=23",\n  "tail==2",\n]\n')
    deps = by_name(parse(tmp_path))
    assert (deps["attrs"].specifier, deps["attrs"].pep440, deps["attrs"].line, deps["attrs"].span) == (
        ">=23",
        ">=23",
        4,
        None,
    )
    assert deps["tail"].span is not None and deps["tail"].line == 5


def test_dotted_keys_and_arrays_of_tables_do_not_confuse_positions(tmp_path: Path) -> None:
    text = (
        'project.name = "x"\n'
        'project.dependencies = ["a==1"]\n'
        "[[tool.thing]]\n"
        'dependencies = ["not-a-dep==9"]\n'
        "[[tool.thing]]\n"
        "[tool.thing.sub]\n"
        'x = "#]["\n'
        "[project.optional-dependencies]\n"
        "# a comment with ' and \" and [\n"
        'extra = [ "b>=2" , "c<3",]\n'
    )
    write(tmp_path, text)
    result = parse(tmp_path)
    assert [(d.name, d.section, d.line) for d in result.dependencies] == [
        ("a", "project.dependencies", 2),
        ("b", "project.optional-dependencies.extra", 10),
        ("c", "project.optional-dependencies.extra", 10),
    ]
    assert all(d.span is not None for d in result.dependencies)


def test_locator_records_nested_paths() -> None:
    text = '[a]\nb = [{c = "v"}, 2]\n[[t]]\n[[t]]\nd.e = \'w\'\n'
    positions = locate_values(text)
    assert positions.complete
    found = positions.values
    start, end = found[("a", "b", 0, "c")].content or (0, 0)
    assert text[start:end] == "v"
    assert found[("t", 1, "d", "e")].line == 5


def test_invalid_toml_is_one_problem_with_the_parser_line_and_other_files_still_parse(tmp_path: Path) -> None:
    bad = write(tmp_path, '[project]\nname = "x"\ndependencies = [\n  "a",\n  b,\n]\n', "bad/pyproject.toml")
    good = write(tmp_path, '[project]\ndependencies = ["ok==1"]\n')
    result = parse(tmp_path, bad, good)
    (problem,) = result.problems
    assert (problem.file, problem.line) == ("bad/pyproject.toml", 5)
    assert problem.message.startswith("invalid TOML: ")
    assert "at line" not in problem.message
    assert [d.name for d in result.dependencies] == ["ok"]
    assert result.files == ("bad/pyproject.toml", "pyproject.toml")


def test_invalid_toml_at_end_of_file_points_at_the_last_line(tmp_path: Path) -> None:
    write(tmp_path, '[project]\ndependencies = [\n  "a",\n')
    (problem,) = parse(tmp_path).problems
    assert problem.line == 3


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(b"[project]\nname = '\xff'\n")
    (problem,) = parse(tmp_path, path).problems
    assert problem.file == "pyproject.toml" and "cannot read" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        ('[project]\ndependencies = "requests"\n', 2, "project.dependencies:"),
        ('[project]\ndependencies = [\n  "a",\n  "b",\n  3,\n]\n', 5, "project.dependencies[2]:"),
        ('[project]\noptional-dependencies = ["x"]\n', 2, "project.optional-dependencies:"),
        ('[project.optional-dependencies]\ntest = "pytest"\n', 2, "project.optional-dependencies.test:"),
        ("[build-system]\nrequires = [\n  1,\n]\n", 3, "build-system.requires[0]:"),
        ('[dependency-groups]\ndev = "ruff"\n', 2, "dependency-groups.dev:"),
        ('dependency-groups = ["x"]\n', 1, "dependency-groups:"),
        ("[project]\nrequires-python = 3\n", 2, "project.requires-python:"),
        ('[project]\nrequires-python = ">>3"\n', 2, "project.requires-python:"),
    ],
)
def test_wrong_shapes_are_problems_naming_line_and_key_path(tmp_path: Path, text: str, line: int, where: str) -> None:
    write(tmp_path, text)
    (problem,) = parse(tmp_path).problems
    assert problem.line == line
    assert problem.message.startswith(where)
    assert str(problem).startswith(f"pyproject.toml:{line}: ")


def test_invalid_requirement_string_is_a_problem_and_the_rest_are_kept(tmp_path: Path) -> None:
    write(tmp_path, '[project]\ndependencies = [\n  "good==1",\n  "bad name ===",\n  "also-good",\n]\n')
    result = parse(tmp_path)
    assert [d.name for d in result.dependencies] == ["good", "also-good"]
    (problem,) = result.problems
    assert problem.line == 4 and problem.message.startswith("project.dependencies[1]: invalid requirement")


def test_byte_order_mark_is_tolerated_and_offsets_count_it(tmp_path: Path) -> None:
    write(tmp_path, '\ufeff[project]\ndependencies = ["a>=1"]\n')
    (dep,) = parse(tmp_path).dependencies
    assert dep.line == 2 and dep.span is not None


def test_requires_python_comes_from_the_shallowest_file(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nrequires-python = ">=3.11"\n', "a/pyproject.toml")
    write(tmp_path, '[project]\nrequires-python = ">=3.10"\n')
    fmt = PyprojectFormat()
    result = parse(tmp_path, *fmt.find(tmp_path, ["**/pyproject.toml"]))
    assert result.requires_python == ">=3.10"


def test_sections_use_keys_as_written_and_problems_quote_odd_keys(tmp_path: Path) -> None:
    write(tmp_path, '[project.optional-dependencies]\n"docs extra" = ["a==1", 2]\n')
    result = parse(tmp_path)
    assert [d.section for d in result.dependencies] == ["project.optional-dependencies.docs extra"]
    (problem,) = result.problems
    assert problem.message.startswith('project.optional-dependencies."docs extra"[1]:')


def test_invalid_requirement_is_one_line_and_never_quotes_credentials(tmp_path: Path) -> None:
    text = '[project]\ndependencies = [\n  "x @ https://ci:tok3n@example.invalid/x.whl ; python_version >>> \'3\'",\n]\n'
    write(tmp_path, text)
    (problem,) = parse(tmp_path).problems
    assert problem.message == (
        "project.dependencies[0]: invalid requirement \"x @ https://ci:***@example.invalid/x.whl ; "
        "python_version >>> '3'\": Expected a marker variable or quoted string"
    )


def test_git_scheme_url_is_a_vcs_requirement(tmp_path: Path) -> None:
    write(tmp_path, '[project]\ndependencies = ["x @ git://example.invalid/x.git", "y @ svn://example.invalid/y"]\n')
    assert [d.skipped_reason for d in parse(tmp_path).dependencies] == ["VCS requirement", "VCS requirement"]


def test_positions_that_cannot_be_located_are_one_problem_not_a_silent_line_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop_after_first_table(self: tomltext._Locator, pos: int, table: tomltext.KeyPath) -> int:
        if table != ("project",):
            raise ValueError("the walk and the parser disagree")
        return original(self, pos, table)

    original = tomltext._Locator.key_value
    monkeypatch.setattr(tomltext._Locator, "key_value", stop_after_first_table)
    text = '[project]\ndependencies = ["a==1"]\n\n[dependency-groups]\ndev = ["b==2"]\n'
    result = parse_text(text, "pyproject.toml")
    assert [p.message for p in result.problems] == [UNLOCATED]
    a, b = result.dependencies
    assert (a.line, a.span is not None) == (2, True)  # found before the walk stopped: exact
    assert (b.line, b.span) == (4, None)  # after it: its table's line, and said to be approximate
