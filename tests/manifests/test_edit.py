"""Corpus tests for splicing updates into manifests: exact bytes out, refusals, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from packaging.version import Version

from jobs.errors import NightcrewError
from jobs.manifests.edit import EditError, apply, edit_text, write
from jobs.manifests.pyproject import PyprojectFormat
from jobs.manifests.requirements import RequirementsFormat
from jobs.models import Dependency, FileEdit, Update


def corpus(root: Path, name: str, content: bytes) -> dict[tuple[str, str], Dependency]:
    """Write one manifest and parse it with its real parser; dependencies by (section, name)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    fmt = PyprojectFormat() if name.endswith(".toml") else RequirementsFormat()
    result = fmt.parse(root, [path])
    return {(d.section, d.name): d for d in result.dependencies}


def up(dep: Dependency, new: str, spec: str | None, hashes: tuple[str, ...] = ()) -> Update:
    return Update(dependency=dep, old=dep.pinned_version, new=Version(new), kind="major", new_specifier=spec,
                  hashes=hashes)


def one(root: Path, updates: list[Update]) -> bytes:
    """Apply, check exactly one file changed and ``before`` is the file on disk, return ``after`` as bytes."""
    (edit,) = apply(root, updates)
    assert edit.before.encode() == (root / edit.file).read_bytes()
    return edit.after.encode()


R = "requirements"


# --------------------------------------------------------------------------- requirements files


def test_pins_ranges_markers_extras_and_comments_in_one_file(tmp_path: Path) -> None:
    text = (
        b"# top comment\n"
        b"Django[bcrypt,argon2] >= 4.2, <5 ; python_version>\"3.8\"  # web\n"
        b"requests==2.31.0\n"
        b"\n"
        b"attrs (>=22.1)\n"
        b"six~=1.15\t# tabbed comment\n"
        b"-i https://example.com/simple\n"
    )
    deps = corpus(tmp_path, "requirements.txt", text)
    updates = [
        up(deps[R, "django"], "5.1", ">= 4.2, <6"),
        up(deps[R, "requests"], "2.32.3", "==2.32.3"),
        up(deps[R, "attrs"], "23.1", ">=23.1"),
        up(deps[R, "six"], "1.16", None),
    ]
    assert one(tmp_path, updates) == (
        b"# top comment\n"
        b"Django[bcrypt,argon2] >= 4.2, <6 ; python_version>\"3.8\"  # web\n"
        b"requests==2.32.3\n"
        b"\n"
        b"attrs (>=23.1)\n"
        b"six~=1.15\t# tabbed comment\n"
        b"-i https://example.com/simple\n"
    )


def test_crlf_and_missing_final_newline_are_kept(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1.0\r\nb>=1,<2\r\nc==3.0")
    updates = [up(deps[R, "a"], "1.1", "==1.1"), up(deps[R, "c"], "3.1", "==3.1")]
    assert one(tmp_path, updates) == b"a==1.1\r\nb>=1,<2\r\nc==3.1"


def test_continuation_hashes_three_old_become_two_new_and_later_lines_still_verify(tmp_path: Path) -> None:
    text = (
        b"foo==1.0 \\\n"
        b"    --hash=sha256:aaa \\\n"
        b"    --hash=sha256:bbb \\\n"
        b"    --hash=sha256:ccc\n"
        b"bar==2.0 --hash=sha256:ddd\n"
    )
    deps = corpus(tmp_path, "requirements.txt", text)
    assert deps[R, "foo"].hashes == ("sha256:aaa", "sha256:bbb", "sha256:ccc")
    updates = [up(deps[R, "foo"], "1.1", "==1.1", ("sha256:eee", "sha256:fff"))]
    assert one(tmp_path, updates) == (
        b"foo==1.1 \\\n"
        b"    --hash=sha256:eee \\\n"
        b"    --hash=sha256:fff\n"
        b"bar==2.0 --hash=sha256:ddd\n"
    )


def test_crlf_continuation_hashes_and_a_second_update_below(tmp_path: Path) -> None:
    text = b"foo==1.0 \\\r\n  --hash=sha256:aa \\\r\n  --hash=sha256:bb\r\nbar==2.0 --hash=sha256:cc\r\n"
    deps = corpus(tmp_path, "requirements.txt", text)
    updates = [
        up(deps[R, "foo"], "1.1", "==1.1", ("sha256:11", "sha256:22", "sha256:33")),
        up(deps[R, "bar"], "2.1", "==2.1", ("sha256:44",)),
    ]
    assert one(tmp_path, updates) == (
        b"foo==1.1 \\\r\n  --hash=sha256:11 \\\r\n  --hash=sha256:22 \\\r\n  --hash=sha256:33\r\n"
        b"bar==2.1 --hash=sha256:44\r\n"
    )


def test_single_hash_on_the_requirement_line_stays_on_that_line(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"bar==2.0 --hash=sha256:ddd  # pinned\n")
    updates = [up(deps[R, "bar"], "2.1", "==2.1", ("sha256:eee", "sha512:fff"))]
    assert one(tmp_path, updates) == b"bar==2.1 --hash=sha256:eee --hash=sha512:fff  # pinned\n"


def test_single_hash_on_a_continuation_line_gives_each_new_hash_its_own_line(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"bar==2.0 \\\n    --hash sha256:ddd\n")
    updates = [up(deps[R, "bar"], "2.1", "==2.1", ("sha256:eee", "sha256:fff"))]
    assert one(tmp_path, updates) == b"bar==2.1 \\\n    --hash sha256:eee \\\n    --hash sha256:fff\n"


def test_empty_specifier_inserts_right_after_name_and_extras(tmp_path: Path) -> None:
    text = b"requests\nhttpx[http2] ; python_version >= '3.9'\nrich  # no pin yet\nflask"
    deps = corpus(tmp_path, "requirements.txt", text)
    updates = [
        up(deps[R, "requests"], "2.32.3", "==2.32.3"),
        up(deps[R, "httpx"], "0.27", "==0.27"),
        up(deps[R, "rich"], "13.7", ">=13.7"),
        up(deps[R, "flask"], "3.0", "==3.0"),
    ]
    assert one(tmp_path, updates) == (
        b"requests==2.32.3\nhttpx[http2]==0.27 ; python_version >= '3.9'\nrich>=13.7  # no pin yet\nflask==3.0"
    )


def test_constraints_file_reached_through_an_include_is_edited(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"-c constraints.txt\nfoo\n")
    (tmp_path / "constraints.txt").write_bytes(b"foo==1.0\n")
    result = RequirementsFormat().parse(tmp_path, [tmp_path / "requirements.txt"])
    (pinned,) = [d for d in result.dependencies if d.section == "constraints"]
    (edit,) = apply(tmp_path, [up(pinned, "1.1", "==1.1")])
    assert (edit.file, edit.after) == ("constraints.txt", "foo==1.1\n")


def test_update_without_new_specifier_changes_nothing(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a>=1\n")
    assert apply(tmp_path, [up(deps[R, "a"], "2.0", None)]) == ()
    assert apply(tmp_path, []) == ()


# --------------------------------------------------------------------------- pyproject.toml

PYPROJECT = b"""\
[build-system]
requires = ["setuptools>=61.0", 'wheel']

[project]
name = "demo"
dependencies = [
    'Django[bcrypt] >= 4.2, <5; python_version > "3.8"',  # literal string
    "requests",
    "attrs (>=22.1)",
    "rich ; python_version >= '3.9'",
]

[project.optional-dependencies]
test = ['pytest>=8', "coverage[toml]==7.4.1"]

[dependency-groups]
dev = ["ruff==0.4.0", {include-group = "lint"}]
lint = ["mypy>=1.8,<2"]
"""


def test_pep621_arrays_literal_strings_groups_and_build_system(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "pyproject.toml", PYPROJECT)
    updates = [
        up(deps["build-system.requires", "setuptools"], "70.0", ">=70.0"),
        up(deps["build-system.requires", "wheel"], "0.43", "==0.43"),
        up(deps["project.dependencies", "django"], "5.1", ">= 4.2, <6"),
        up(deps["project.dependencies", "requests"], "2.32.3", "==2.32.3"),
        up(deps["project.dependencies", "attrs"], "23.1", ">=23.1"),
        up(deps["project.dependencies", "rich"], "13.7", ">=13.7"),
        up(deps["project.optional-dependencies.test", "pytest"], "8.2", ">=8.2"),
        up(deps["project.optional-dependencies.test", "coverage"], "7.5", "==7.5"),
        up(deps["dependency-groups.dev", "ruff"], "0.5.0", "==0.5.0"),
        up(deps["dependency-groups.lint", "mypy"], "2.0", ">=1.8,<3"),
    ]
    assert one(tmp_path, updates).decode() == """\
[build-system]
requires = ["setuptools>=70.0", 'wheel==0.43']

[project]
name = "demo"
dependencies = [
    'Django[bcrypt] >= 4.2, <6; python_version > "3.8"',  # literal string
    "requests==2.32.3",
    "attrs (>=23.1)",
    "rich>=13.7 ; python_version >= '3.9'",
]

[project.optional-dependencies]
test = ['pytest>=8.2', "coverage[toml]==7.5"]

[dependency-groups]
dev = ["ruff==0.5.0", {include-group = "lint"}]
lint = ["mypy>=1.8,<3"]
"""


POETRY = b"""\
[tool.poetry.dependencies]
python = "^3.9"
requests = "^2.28"   # caret
flask = { version = "~2.2.0", extras = ["async"] }
anything = "*"
blank = ""
numpy = [
    { version = "1.24.4", python = "<3.9" },
    { version = "^1.26", python = ">=3.9" },
]

[tool.poetry.group.dev.dependencies]
pytest = '>= 7.0, < 8.0'
"""


def test_poetry_string_table_and_multiple_constraint_forms(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "pyproject.toml", POETRY.replace(b"\n", b"\r\n"))
    main, dev = "tool.poetry.dependencies", "tool.poetry.group.dev.dependencies"
    numpy = [d for (section, name), d in deps.items() if name == "numpy"]
    assert len(numpy) == 1  # keyed by name: the second table wins
    updates = [
        up(deps[main, "requests"], "3.1", ">=2.28,<4.0"),
        up(deps[main, "flask"], "2.3.1", "~2.3.0"),
        up(deps[main, "anything"], "1.0", "1.0"),
        up(deps[main, "blank"], "0.5", "0.5"),
        up(numpy[0], "2.0.1", "^2.0"),
        up(deps[dev, "pytest"], "8.2", ">= 7.0, < 9.0"),
    ]
    expected = POETRY.replace(b'"^2.28"', b'">=2.28,<4.0"').replace(b'"~2.2.0"', b'"~2.3.0"')
    expected = expected.replace(b'"*"', b'"1.0"').replace(b'""', b'"0.5"').replace(b'"^1.26"', b'"^2.0"')
    expected = expected.replace(b"'>= 7.0, < 8.0'", b"'>= 7.0, < 9.0'")
    assert one(tmp_path, updates) == expected.replace(b"\n", b"\r\n")


def test_multiline_basic_string_and_bom_are_kept(tmp_path: Path) -> None:
    text = '\ufeff[project]\ndependencies = ["""\nattrs>=22""", "six"]\n'.encode()
    deps = corpus(tmp_path, "pyproject.toml", text)
    updates = [up(deps["project.dependencies", "attrs"], "23.1", ">=23.1")]
    assert one(tmp_path, updates) == '\ufeff[project]\ndependencies = ["""\nattrs>=23.1""", "six"]\n'.encode()


# --------------------------------------------------------------------------- refusals


def refuse(root: Path, updates: list[Update], *message: str) -> EditError:
    with pytest.raises(EditError) as caught:
        apply(root, updates)
    error = caught.value
    assert isinstance(error, NightcrewError)
    for part in message:
        assert part in str(error)
    return error


def test_span_none_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1\nfoo>=1.0,\\\n<2\n")
    assert deps[R, "foo"].span is None
    error = refuse(tmp_path, [up(deps[R, "foo"], "2.1", ">=1.0,<3")], "requirements.txt:2: cannot edit: ", "'foo'")
    assert error.where == "requirements.txt:2"


def test_escaped_toml_string_has_no_span_and_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "pyproject.toml", b'[project]\ndependencies = ["attrs\\u003e=22"]\n')
    refuse(tmp_path, [up(deps["project.dependencies", "attrs"], "23", ">=23")], "pyproject.toml:2: cannot edit:")


def test_hashes_without_new_hashes_are_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"foo==1.0 --hash=sha256:aaa\n")
    refuse(tmp_path, [up(deps[R, "foo"], "1.1", "==1.1")], "requirements.txt:1", "new hashes are needed")


def test_invalid_new_hash_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"foo==1.0 --hash=sha256:aaa\n")
    refuse(tmp_path, [up(deps[R, "foo"], "1.1", "==1.1", ("md5:abc",))], "invalid new hash 'md5:abc'")


def test_other_options_between_hashes_are_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"foo==1.0 --hash=sha256:aa --no-binary :all: --hash=sha256:bb\n")
    refuse(tmp_path, [up(deps[R, "foo"], "1.1", "==1.1", ("sha256:cc",))], "other options sit between")


@pytest.mark.parametrize(("text", "spec", "kind"), [
    (b"[project]\ndependencies = ['attrs>=22']\n", "==23'", "literal"),
    (b'[project]\ndependencies = ["attrs>=22"]\n', '==23"', "basic"),
    (b'[project]\ndependencies = ["attrs>=22"]\n', "==23\\", "basic"),
])
def test_text_needing_toml_escapes_is_refused(tmp_path: Path, text: bytes, spec: str, kind: str) -> None:
    deps = corpus(tmp_path, "pyproject.toml", text)
    refuse(tmp_path, [up(deps["project.dependencies", "attrs"], "23", spec)],
           "pyproject.toml:2", f"would need escaping in a TOML {kind} string")


def test_control_characters_are_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1\n")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2\nb==1")], "control character")


def test_text_that_reads_back_differently_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1\nb==1\n")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2 #x")], "requirements.txt:1", "reads back as '==2'")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2 --pre")], "requirements.txt:1", "reads back as '==2'")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2 -r x.txt")], "requirements.txt")


def test_constraint_that_does_not_admit_the_new_version_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a>=1,<2\n")
    refuse(tmp_path, [up(deps[R, "a"], "2.1", ">=1,<2.1")], "does not admit 2.1")


def test_invalid_specifier_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "pyproject.toml", b'[project]\ndependencies = ["attrs>=22"]\n')
    refuse(tmp_path, [up(deps["project.dependencies", "attrs"], "23", "~=23")], "pyproject.toml")


def test_two_updates_of_one_dependency_are_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1\n")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2"), up(deps[R, "a"], "3", "==3")], "two updates change the same text")


def test_file_changed_since_parse_is_refused(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1\n")
    (tmp_path / "requirements.txt").write_bytes(b"a>=1\n")
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2")], "no longer has '==1'")
    (tmp_path / "requirements.txt").write_bytes(b"a==1.5\n")  # same text at the span, but another version
    refuse(tmp_path, [up(deps[R, "a"], "2", "==2")], "requirements.txt:1", "changed since it was parsed")


def test_edit_text_returns_the_text_unchanged_for_no_updates() -> None:
    assert edit_text("requirements.txt", "a==1\n", []) == "a==1\n"


# --------------------------------------------------------------------------- writing


def test_write_is_atomic_and_keeps_crlf_and_mode(tmp_path: Path) -> None:
    deps = corpus(tmp_path, "requirements.txt", b"a==1.0\r\nb==2.0\r\n")
    path = tmp_path / "requirements.txt"
    os.chmod(path, 0o640)
    edits = apply(tmp_path, [up(deps[R, "a"], "1.1", "==1.1")])
    write(tmp_path, edits)
    assert path.read_bytes() == b"a==1.1\r\nb==2.0\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt"]  # no temp file left


def test_write_refuses_a_file_changed_since_the_edit(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes(b"a==1.5\n")
    with pytest.raises(EditError, match="changed since the edit was made"):
        write(tmp_path, [FileEdit("r.txt", "a==1\n", "a==2\n")])
    assert (tmp_path / "r.txt").read_bytes() == b"a==1.5\n"


def test_write_goes_through_a_symlink_inside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"a==1\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write(tmp_path, [FileEdit("link.txt", "a==1\n", "a==2\n")])
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_bytes() == b"a==2\n"


def test_write_refuses_a_symlink_leaving_the_repository(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"a==1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "r.txt").symlink_to(outside)
    with pytest.raises(EditError, match="outside the repository"):
        write(repo, [FileEdit("r.txt", "a==1\n", "a==2\n")])
    assert outside.read_bytes() == b"a==1\n"


def test_a_version_that_came_from_an_env_var_is_never_written_back(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINNED_SECRET", "1.4.2")
    text = b"foo==${PINNED_SECRET}\nbar[${PINNED_SECRET}]==1.0\n"
    deps = corpus(tmp_path, "requirements.txt", text)
    with pytest.raises(EditError, match="no known position"):
        apply(tmp_path, [up(deps[R, "foo"], "2.0", "==2.0")])
    # the expansion sits outside bar's specifier: that edit is exact and keeps the reference as written
    assert one(tmp_path, [up(deps[R, "bar"], "2.0", "==2.0")]) == b"foo==${PINNED_SECRET}\nbar[${PINNED_SECRET}]==2.0\n"
