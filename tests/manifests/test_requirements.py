"""Corpus tests for the pip requirements-file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.manifests.requirements import RequirementsFormat
from jobs.models import Dependency, ParsedManifests, Span
from tests.support.spans import assert_spans

FMT = RequirementsFormat()


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def parse(root: Path, files: dict[str, str | bytes], roots: list[str] | None = None) -> ParsedManifests:
    """Write the corpus, parse the given roots (default: the first file), and check every span."""
    write(root, files)
    result = FMT.parse(root, [root / name for name in (roots or [next(iter(files))])])
    assert_spans(root, result)
    return result


def by_name(result: ParsedManifests) -> dict[str, Dependency]:
    return {dep.name: dep for dep in result.dependencies}


def deps_hashes(result: ParsedManifests) -> dict[str, tuple[str, ...]]:
    return {dep.name: dep.hashes for dep in result.dependencies if dep.hashes}


def problems(result: ParsedManifests) -> list[str]:
    return [str(p) for p in result.problems]


def test_each_operator_specifier_is_kept_as_written_with_its_span(tmp_path: Path) -> None:
    text = (
        "a==1.0\nb===1.0-custom\nc~=1.4.2\nd!=1.5\ne>=2\nf<=3\ng<4\nh>5\n"
        "i==1.*\nj>=1.0,<2.0\nk >= 1.0 , != 1.3 , < 2\n"
    )
    result = parse(tmp_path, {"requirements.txt": text})
    got = {d.name: (d.specifier, d.line) for d in result.dependencies}
    assert got == {
        "a": ("==1.0", 1), "b": ("===1.0-custom", 2), "c": ("~=1.4.2", 3), "d": ("!=1.5", 4),
        "e": (">=2", 5), "f": ("<=3", 6), "g": ("<4", 7), "h": (">5", 8), "i": ("==1.*", 9),
        "j": (">=1.0,<2.0", 10), "k": (">= 1.0 , != 1.3 , < 2", 11),
    }
    assert by_name(result)["a"].span == Span(1, 6)
    assert by_name(result)["a"].pep440 == "==1.0"
    assert result.problems == ()


def test_name_is_pep503_normalized_and_raw_name_kept(tmp_path: Path) -> None:
    result = parse(tmp_path, {"requirements.txt": "Foo_Bar.Baz==1.0\n"})
    (dep,) = result.dependencies
    assert (dep.name, dep.raw_name, dep.section, dep.file) == ("foo-bar-baz", "Foo_Bar.Baz", "requirements", "requirements.txt")


def test_extras_marker_and_hash_around_a_spaced_range(tmp_path: Path) -> None:
    line = 'Django[bcrypt,argon2] >= 4.2, <5 ; python_version>"3.8" --hash=sha256:abc\n'
    (dep,) = parse(tmp_path, {"requirements.txt": line}).dependencies
    assert dep.specifier == ">= 4.2, <5"
    assert dep.span == Span(line.index(">="), line.index(" ;"))
    assert dep.extras == ("argon2", "bcrypt")
    assert dep.marker == 'python_version > "3.8"'
    assert dep.hashes == ("sha256:abc",)


def test_unpinned_requirement_gets_empty_span_right_after_name_and_extras(tmp_path: Path) -> None:
    text = "requests\nhttpx[http2] ; python_version >= '3.9'\n"
    deps = by_name(parse(tmp_path, {"requirements.txt": text}))
    assert deps["requests"].specifier == ""
    assert deps["requests"].span == Span(8, 8)
    assert deps["httpx"].span == Span(text.index(" ;"), text.index(" ;"))
    assert deps["httpx"].marker == 'python_version >= "3.9"'


def test_parenthesized_specifier_span_excludes_the_parentheses(tmp_path: Path) -> None:
    (dep,) = parse(tmp_path, {"requirements.txt": "foo ( >=1.0, <2 )\n"}).dependencies
    assert dep.specifier == ">=1.0, <2"
    assert dep.span == Span(6, 15)


def test_comments_blank_lines_and_hash_inside_url_fragment(tmp_path: Path) -> None:
    text = (
        "# whole-line comment\n\n   \n  # indented comment\n"
        "foo==1.0  # inline comment ==2.0\n"
        "bar>=2#not-a-comment-without-space\n"
        "git+https://example.com/x.git#egg=xpkg\n"
    )
    result = parse(tmp_path, {"requirements.txt": text})
    assert [(d.name, d.specifier, d.line) for d in result.dependencies] == [("foo", "==1.0", 5), ("xpkg", "", 7)]
    assert problems(result) == [
        "requirements.txt:6: invalid requirement 'bar>=2#not-a-comment-without-space': "
        "Expected comma (within version specifier), semicolon (after version specifier) or end"
    ]
    assert by_name(result)["xpkg"].skipped_reason == "VCS requirement"


def test_continuations_join_lines_and_hashes_on_continuation_lines(tmp_path: Path) -> None:
    text = (
        "first==1\n"
        "foo==1.0 \\\n"
        "    --hash=sha256:aaa \\\n"
        "    --hash=sha512:bbb\n"
        "bar \\\n"
        "  >=2.0\n"
        "split>=1,\\\n"
        "<2\n"
        "last==3\n"
    )
    deps = by_name(parse(tmp_path, {"requirements.txt": text}))
    assert (deps["foo"].line, deps["foo"].specifier, deps["foo"].hashes) == (2, "==1.0", ("sha256:aaa", "sha512:bbb"))
    assert (deps["bar"].line, deps["bar"].specifier) == (5, ">=2.0")
    assert deps["bar"].span == Span(text.index(">=2.0"), text.index(">=2.0") + 5)
    # a specifier cut by a continuation cannot be one span: the joined text is kept, span is None
    assert (deps["split"].line, deps["split"].specifier, deps["split"].span) == (7, ">=1,<2", None)
    assert deps["last"].line == 9


def test_crlf_file_spans_count_carriage_returns(tmp_path: Path) -> None:
    text = "# pinned\r\nfoo==1.0\r\nbar>=2 \\\r\n  --hash=sha256:ccc\r\nbaz~=3.1\r\n"
    deps = by_name(parse(tmp_path, {"requirements.txt": text}))
    assert deps["foo"].span == Span(13, 18)
    assert (deps["bar"].line, deps["bar"].hashes) == (3, ("sha256:ccc",))
    assert (deps["baz"].line, deps["baz"].span) == (5, Span(text.index("~=3.1"), text.index("~=3.1") + 5))


def test_backslash_on_the_last_line_still_yields_the_requirement(tmp_path: Path) -> None:
    deps = parse(tmp_path, {"requirements.txt": "a==1\nfoo==1.0 \\"}).dependencies
    assert [(d.name, d.specifier, d.line, d.span) for d in deps][1] == ("foo", "==1.0", 2, Span(8, 13))


def test_comment_ending_in_backslash_does_not_continue(tmp_path: Path) -> None:
    deps = parse(tmp_path, {"requirements.txt": "# note \\\nfoo==1\n"}).dependencies
    assert [(d.name, d.line) for d in deps] == [("foo", 2)]


def test_utf8_bom_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    (dep,) = parse(tmp_path, {"requirements.txt": "\ufefffoo==1\n"}).dependencies
    assert (dep.name, dep.span) == ("foo", Span(4, 7))


def test_includes_resolve_relative_to_including_file_in_every_spelling(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "-r reqs/base.txt\n-rreqs/dev.txt\n--requirement=reqs/test.txt\n-c reqs/constraints.txt\n",
        "reqs/base.txt": "-r ../shared/common.txt\nbase==1\n",
        "reqs/dev.txt": "dev==1\n",
        "reqs/test.txt": "test==1\n",
        "reqs/constraints.txt": "--constraint=more.txt\nurllib3<3\n",
        "reqs/more.txt": "idna==3.7\n",
        "shared/common.txt": "common==1\n",
    }
    result = parse(tmp_path, files)
    assert result.files == (
        "requirements.txt", "reqs/base.txt", "shared/common.txt", "reqs/dev.txt", "reqs/test.txt",
        "reqs/constraints.txt", "reqs/more.txt",
    )
    assert [(d.name, d.file, d.line, d.section) for d in result.dependencies] == [
        ("common", "shared/common.txt", 1, "requirements"),
        ("base", "reqs/base.txt", 2, "requirements"),
        ("dev", "reqs/dev.txt", 1, "requirements"),
        ("test", "reqs/test.txt", 1, "requirements"),
        ("idna", "reqs/more.txt", 1, "constraints"),
        ("urllib3", "reqs/constraints.txt", 2, "constraints"),
    ]
    assert result.problems == ()


def test_file_included_twice_and_found_by_glob_is_parsed_once(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "-r requirements-common.txt\n-r ./requirements-common.txt\n",
        "requirements-common.txt": "six==1.16\n",
        "requirements-dev.txt": "-r requirements-common.txt\npytest\n",
    }
    write(tmp_path, files)
    paths = FMT.find(tmp_path, ["requirements*.txt", "requirements/*.txt"])
    assert [p.name for p in paths] == ["requirements-common.txt", "requirements-dev.txt", "requirements.txt"]
    result = FMT.parse(tmp_path, paths)
    assert result.files == ("requirements-common.txt", "requirements-dev.txt", "requirements.txt")
    assert [d.name for d in result.dependencies] == ["six", "pytest"]


def test_constraints_file_found_by_glob_before_its_includer_is_still_constraints(tmp_path: Path) -> None:
    files = {"requirements/a-constraints.txt": "six<2\n", "requirements/base.txt": "-c a-constraints.txt\nsix\n"}
    write(tmp_path, files)
    result = FMT.parse(tmp_path, FMT.find(tmp_path, ["requirements/*.txt"]))
    assert [(d.file, d.section) for d in result.dependencies] == [
        ("requirements/a-constraints.txt", "constraints"),
        ("requirements/base.txt", "requirements"),
    ]


def test_include_cycle_is_a_problem_naming_the_chain(tmp_path: Path) -> None:
    files = {"a.txt": "x==1\n-r b.txt\n", "b.txt": "\n-r a.txt\ny==2\n", "self.txt": "-r self.txt\n"}
    result = parse(tmp_path, files, roots=["a.txt", "self.txt"])
    assert problems(result) == [
        "b.txt:2: include cycle: a.txt -> b.txt -> a.txt",
        "self.txt:1: include cycle: self.txt -> self.txt",
    ]
    assert [d.name for d in result.dependencies] == ["x", "y"]


def test_missing_and_remote_includes_are_problems_at_the_including_line(tmp_path: Path) -> None:
    text = "ok==1\n-r sub/missing.txt\n-c https://example.com/constraints.txt\nafter==2\n"
    result = parse(tmp_path, {"requirements.txt": text})
    assert problems(result) == [
        "requirements.txt:2: included file not found: sub/missing.txt",
        "requirements.txt:3: remote includes are not followed: https://example.com/constraints.txt",
    ]
    assert [d.name for d in result.dependencies] == ["ok", "after"]
    assert result.files == ("requirements.txt",)


def test_index_options_last_index_wins_extras_ordered_and_deduplicated(tmp_path: Path) -> None:
    files = {
        "requirements.txt": (
            "-i https://first.example/simple\n"
            "--extra-index-url https://extra1.example/simple\n"
            "--extra-index-url=https://extra2.example/simple\n"
            "-r more.txt\n"
        ),
        "more.txt": (
            "--index-url=https://second.example/simple\n"
            "--extra-index-url https://extra1.example/simple\n"
            "--no-index\n-f ./wheels\n--find-links=https://x.example/links\n--trusted-host x.example\n"
            "--pre\n--prefer-binary\n--require-hashes\n--only-binary :all:\n--no-binary=lxml\n"
            "--use-feature truststore\n--config-settings editable_mode=compat\n--global-option=--quiet\n"
            "pkg==1 --config-settings key=value --global-option --x\n"
        ),
    }
    result = parse(tmp_path, files)
    assert result.index_url == "https://second.example/simple"  # pip: each --index-url replaces the last
    assert result.extra_index_urls == ("https://extra1.example/simple", "https://extra2.example/simple")
    assert result.problems == ()
    assert [(d.name, d.specifier) for d in result.dependencies] == [("pkg", "==1")]


def test_unknown_option_is_one_problem_and_parsing_continues(tmp_path: Path) -> None:
    text = "--frobnicate\nfoo==1 --bogus\n--pre stray\nbar==2\n"
    result = parse(tmp_path, {"requirements.txt": text})
    assert problems(result) == [
        "requirements.txt:1: unknown option: --frobnicate",
        "requirements.txt:2: unknown option: --bogus",
        "requirements.txt:3: unexpected argument after options: stray",
    ]
    assert [d.name for d in result.dependencies] == ["bar"]


def test_bad_hash_and_orphan_hash_are_problems(tmp_path: Path) -> None:
    text = "foo==1 --hash=md5:abc\n--hash=sha256:abc\nbar==2\n"
    result = parse(tmp_path, {"requirements.txt": text})
    assert problems(result) == [
        "requirements.txt:1: --hash must be sha256/sha384/sha512:<hex digest>, got 'md5:abc'",
        "requirements.txt:2: --hash without a requirement is ignored",
    ]
    assert [d.name for d in result.dependencies] == ["bar"]


def test_url_vcs_editable_and_path_lines_are_skipped_with_a_reason(tmp_path: Path) -> None:
    text = (
        "-e git+https://github.com/org/Proj.git@v1#egg=My_Proj\n"
        "--editable .\n"
        "-e ./local[dev]\n"
        "named @ https://example.com/named-1.0.tar.gz ; python_version >= '3.9'\n"
        "vcsnamed[extra] @ git+ssh://git@github.com/org/vcs.git@main\n"
        "https://example.com/dist/Some_Pkg-2.0-py3-none-any.whl\n"
        "https://example.com/archive.zip; sys_platform == 'linux'\n"
        "git+https://github.com/org/anon.git\n"
        "./pkg\n.\n../sibling\nfile:///opt/wheels/thing.tar.gz\ndist/thing-1.0.tar.gz\n"
        "localnamed @ file:///opt/localnamed\n"
        "hashed @ https://example.com/hashed-1.0.tar.gz --hash=sha256:ddd\n"
    )
    result = parse(tmp_path, {"requirements.txt": text})
    got = [(d.name, d.raw_name, d.skipped_reason, d.span, d.specifier, d.line) for d in result.dependencies]
    assert got == [
        ("my-proj", "My_Proj", "editable requirement", None, "", 1),
        (".", ".", "editable requirement", None, "", 2),  # nothing to name it by: the path as written
        ("local", "./local[dev]", "editable requirement", None, "", 3),
        ("named", "named", "direct URL requirement", None, "", 4),
        ("vcsnamed", "vcsnamed", "VCS requirement", None, "", 5),
        ("some-pkg", "Some_Pkg", "direct URL requirement", None, "", 6),
        ("archive", "https://example.com/archive.zip", "direct URL requirement", None, "", 7),
        ("anon", "git+https://github.com/org/anon.git", "VCS requirement", None, "", 8),
        ("pkg", "./pkg", "local path requirement", None, "", 9),
        (".", ".", "local path requirement", None, "", 10),
        ("sibling", "../sibling", "local path requirement", None, "", 11),
        ("thing", "file:///opt/wheels/thing.tar.gz", "local path requirement", None, "", 12),
        ("thing", "dist/thing-1.0.tar.gz", "local path requirement", None, "", 13),
        ("localnamed", "localnamed", "local path requirement", None, "", 14),
        ("hashed", "hashed", "direct URL requirement", None, "", 15),
    ]
    assert deps_hashes(result) == {"hashed": ("sha256:ddd",)}
    deps = by_name(result)
    assert deps["named"].marker == 'python_version >= "3.9"'
    assert deps["vcsnamed"].extras == ("extra",)
    assert deps["archive"].marker == 'sys_platform == "linux"'
    assert all(d.pep440 is None for d in result.dependencies)
    assert result.problems == ()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("foo==", "invalid requirement 'foo==': Expected semicolon (after name with no version specifier) or end"),
        ("foo>=1.0,,", "invalid requirement 'foo>=1.0,,': Expected comma (within version specifier), "
                       "semicolon (after version specifier) or end"),
        ("===", "invalid requirement '===': Expected package name at the start of dependency specifier"),
        ("foo bar", "invalid requirement 'foo bar': Expected semicolon (after name with no version specifier) or end"),
        ("foo==1 ; python_version >>> '3'", "invalid requirement \"foo==1 ; python_version >>> '3'\": "
                                            "Expected a marker variable or quoted string"),
        ("-e", "-e option requires 1 argument"),
    ],
)
def test_malformed_line_is_a_problem_and_neighbours_are_kept(tmp_path: Path, bad: str, message: str) -> None:
    result = parse(tmp_path, {"requirements.txt": f"before==1\n{bad}\nafter==2\n"})
    assert problems(result) == [f"requirements.txt:2: {message}"]
    assert [(d.name, d.line) for d in result.dependencies] == [("before", 1), ("after", 3)]


def test_unset_env_vars_are_left_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("USER", "TOKEN", "FOO_VERSION"):
        monkeypatch.delenv(name, raising=False)
    text = "--index-url https://${USER}:${TOKEN}@pypi.example/simple\nfoo==${FOO_VERSION}\nbar==1\n"
    result = parse(tmp_path, {"requirements.txt": text})
    assert result.index_url == "https://${USER}:${TOKEN}@pypi.example/simple"
    assert problems(result) == [
        "requirements.txt:2: invalid requirement 'foo==${FOO_VERSION}': "
        "Expected semicolon (after name with no version specifier) or end"
    ]
    assert [d.name for d in result.dependencies] == ["bar"]


def test_non_utf8_file_is_one_problem_and_other_files_still_parsed(tmp_path: Path) -> None:
    files = {"requirements-latin1.txt": "caf\xe9==1\n".encode("latin-1"), "requirements.txt": "ok==1\n"}
    result = parse(tmp_path, files, roots=["requirements-latin1.txt", "requirements.txt"])
    assert problems(result) == ["requirements-latin1.txt: not valid UTF-8 (byte 0xe9 at offset 3)"]
    assert result.files == ("requirements.txt",)
    assert [d.name for d in result.dependencies] == ["ok"]


def test_included_non_utf8_file_is_a_problem_for_that_file(tmp_path: Path) -> None:
    files = {"requirements.txt": "-r bad.txt\nok==1\n", "bad.txt": b"\xff\xfe==1\n"}
    result = parse(tmp_path, files)
    assert problems(result) == ["bad.txt: not valid UTF-8 (byte 0xff at offset 0)"]
    assert [d.name for d in result.dependencies] == ["ok"]


# --------------------------------------------------------------------------- credentials never echoed

SECRET = "tok3n"


def assert_no_secret(result: ParsedManifests, secret: str = SECRET) -> None:
    for problem in result.problems:
        assert secret not in str(problem), problem
    for dep in result.dependencies:
        assert secret not in f"{dep.name} {dep.raw_name} {dep.specifier} {dep.marker}", dep


def test_url_requirement_without_a_name_gets_a_name_and_a_redacted_raw_name(tmp_path: Path) -> None:
    text = (
        "git+https://ci:tok3n@example.invalid/org/X_Tool.git\n"
        "git+https://tok3n@example.invalid/org/other.git@v1.2#subdirectory=libs/Sub.Pkg\n"
        "https://ci:tok3n@example.invalid/dist/legacy-pkg-1.0.tar.bz2\n"
        "-e git+ssh://ci:tok3n@example.invalid/org/edit.git\n"
    )
    result = parse(tmp_path, {"requirements.txt": text})
    assert [(d.name, d.raw_name, d.skipped_reason, d.pep440) for d in result.dependencies] == [
        ("x-tool", "git+https://ci:***@example.invalid/org/X_Tool.git", "VCS requirement", None),
        ("sub-pkg", "git+https://***@example.invalid/org/other.git@v1.2#subdirectory=libs/Sub.Pkg",
         "VCS requirement", None),
        ("legacy-pkg", "https://ci:***@example.invalid/dist/legacy-pkg-1.0.tar.bz2", "direct URL requirement", None),
        ("edit", "git+ssh://ci:***@example.invalid/org/edit.git", "editable requirement", None),
    ]
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-r https://ci:tok3n@example.invalid/r.txt", "remote includes are not followed: https://ci:***@example.invalid/r.txt"),
        ("-c https://tok3n@example.invalid/c.txt", "remote includes are not followed: https://***@example.invalid/c.txt"),
        ("--index-url 'https://ci:tok3n@example.invalid/simple", "cannot split options \"--index-url 'https://ci:***@"
                                                                   "example.invalid/simple\": No closing quotation"),
        ("x @ https://ci:tok3n@example.invalid/x.whl ;; bad", "invalid requirement 'x @ https://ci:***@example.invalid/"
                                                               "x.whl ;; bad': Expected a marker variable or quoted string"),
        ("--pre https://ci:tok3n@example.invalid/stray", "unexpected argument after options: "
                                                           "https://ci:***@example.invalid/stray"),
    ],
)
def test_problems_never_quote_url_credentials(tmp_path: Path, line: str, message: str) -> None:
    result = parse(tmp_path, {"requirements.txt": f"{line}\nok==1\n"})
    assert problems(result) == [f"requirements.txt:1: {message}"]
    assert_no_secret(result)


# --------------------------------------------------------------------------- ${VAR}, as pip expands it


def test_env_vars_are_expanded_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOO_VERSION", "1.4.2")
    monkeypatch.setenv("PKG_EXTRA", "socks")
    monkeypatch.setenv("REQ_DIR", "reqs")
    monkeypatch.setenv("EMPTY_VAR", "")
    files = {
        "requirements.txt": (
            "foo==${FOO_VERSION}\n"
            "requests[${PKG_EXTRA}] >= 2.31 ; python_version >= '3.8'\n"
            "-r ${REQ_DIR}/more.txt\n"
            "bar${EMPTY_VAR}==1\n"
            "lower==${foo_version}\n"
        ),
        "reqs/more.txt": "baz~=3.0\n",
    }
    result = parse(tmp_path, files)
    deps = by_name(result)
    # the expansion made the specifier: no span, so an edit can never write the value back into the file
    assert (deps["foo"].specifier, deps["foo"].pep440, deps["foo"].span) == ("==1.4.2", "==1.4.2", None)
    # expanded extras, untouched specifier: the span still points at the text in the file
    text = files["requirements.txt"]
    assert deps["requests"].extras == ("socks",)
    assert deps["requests"].span == Span(text.index(">= 2.31"), text.index(">= 2.31") + len(">= 2.31"))
    assert deps["baz"].file == "reqs/more.txt"
    # pip leaves empty and lower-case variables as written
    assert problems(result) == [
        "requirements.txt:4: invalid requirement 'bar${EMPTY_VAR}==1': "
        "Expected semicolon (after name with no version specifier) or end",
        "requirements.txt:5: invalid requirement 'lower==${foo_version}': "
        "Expected semicolon (after name with no version specifier) or end",
    ]


def test_expanded_name_before_an_unpinned_spot_has_no_span(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKG_NAME", "requests")
    (dep,) = parse(tmp_path, {"requirements.txt": "${PKG_NAME}\n"}).dependencies
    assert (dep.name, dep.specifier, dep.span) == ("requests", "", None)


def test_expanded_index_url_and_secret_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEX_AUTH", "bot:hunter2secret")
    monkeypatch.setenv("PIN", "hunter2secret")
    text = "--index-url https://${INDEX_AUTH}@pypi.example/simple\nqux==${PIN}\nhttps://pypi.example/${PIN}/x.whl\n"
    result = parse(tmp_path, {"requirements.txt": text})
    assert result.index_url == "https://bot:hunter2secret@pypi.example/simple"  # as pip would use it
    assert problems(result) == [
        "requirements.txt:2: invalid requirement 'qux==***': "
        "Expected semicolon (after name with no version specifier) or end"
    ]
    (dep,) = result.dependencies
    assert (dep.name, dep.raw_name) == ("x", "https://pypi.example/***/x.whl")
    assert_no_secret(result, "hunter2secret")


def test_invalid_marker_message_is_one_line(tmp_path: Path) -> None:
    result = parse(tmp_path, {"requirements.txt": "https://example.com/x.zip; os_name ==\n"})
    (problem,) = problems(result)
    assert "\n" not in problem and problem.startswith("requirements.txt:1: invalid requirement")
