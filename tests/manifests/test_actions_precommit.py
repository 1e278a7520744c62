"""The GitHub Actions and pre-commit formats: what is read, with spans on the text as written, and what is skipped
with its reason; the new pin text at the pin's depth."""

from __future__ import annotations

from packaging.version import Version

from jobs.manifests import actions, edit, precommit
from jobs.manifests.pins import at_depth, new_pin_text
from jobs.models import DistributionFile, ProjectPage, Update

SHA_A = "a" * 40
SHA_B = "b" * 40


def text_at(text: str, dep) -> str:  # type: ignore[no-untyped-def]
    return text[dep.span.start:dep.span.end]


def composite(*lines: str) -> str:
    """A composite action whose steps are ``lines`` (each ``- uses: ...``)."""
    return "runs:\n  using: composite\n  steps:\n" + "".join(f"    {line}\n" for line in lines)


def test_workflow_uses_every_shape() -> None:
    text = (
        "jobs:\r\n"
        "  call:\r\n"
        "    uses: octo/flows/.github/workflows/release.yml@v2.3.0\r\n"
        "  build:\r\n"
        "    steps:\r\n"
        f"      - uses: actions/checkout@{SHA_A} # tag=v4.1.0\r\n"
        "      - {uses: 'actions/setup-python@v5', with: {python-version: '3.12'}}\r\n"
        "      - uses: Actions/Cache/restore@v4.0.2\r\n"
        f"      - uses: octo/nocomment@{SHA_A}\r\n"
        "      - uses: octo/branch@main\r\n"
        "      - uses: ./local\r\n"
        "      - uses: docker://ghcr.io/octo/tool:1\r\n"
        "      - uses: not-a-ref\r\n"
    )
    parsed = actions.parse_text(text, "wf.yml")
    deps = {d.raw_name: d for d in parsed.dependencies}
    assert parsed.problems == ()
    flow = deps["octo/flows/.github/workflows/release.yml"]
    assert (flow.name, flow.pep440, flow.line, text_at(text, flow)) == ("octo/flows", "==2.3.0", 3, "v2.3.0")
    checkout = deps["actions/checkout"]
    assert text_at(text, checkout) == f"{SHA_A} # tag=v4.1.0" == checkout.specifier and checkout.pep440 == "==4.1.0"
    python = deps["actions/setup-python"]
    # a quoted ref's span takes its closing quote: where a SHA pin's version comment would go
    assert (text_at(text, python), python.section, python.pep440) == ("v5'", "uses (quoted)", "==5")
    cache = deps["Actions/Cache/restore"]
    assert (cache.name, cache.source) == ("actions/cache", "Actions/Cache")  # one repository, one release
    reasons = {d.raw_name: d.skipped_reason for d in parsed.dependencies if d.skipped_reason}
    assert reasons == {
        "octo/nocomment": "pinned to a commit without a version comment (# vX.Y.Z)",
        "octo/branch": "ref 'main' is not a version tag (a branch or a short SHA)",
        "./local": "a local action: nothing to update",
        "docker://ghcr.io/octo/tool:1": "a Docker image: not updated by nightcrew",
        "not-a-ref": "not owner/repo@ref",
    }


def test_invalid_yaml_is_one_problem_with_its_line() -> None:
    parsed = actions.parse_text("jobs:\n  a:\n    steps: [\n", ".github/workflows/x.yml")
    assert parsed.dependencies == ()
    [problem] = parsed.problems
    assert problem.file == ".github/workflows/x.yml" and problem.line == 4 and "invalid YAML" in problem.message
    [problem] = precommit.parse_text("- just a list\n", ".pre-commit-config.yaml").problems
    assert problem.message == "no 'repos' list: not a pre-commit config"


def test_pre_commit_remote_repos_only() -> None:
    text = (
        "ci:\n  autoupdate_schedule: monthly\n"
        "repos:\n"
        "- repo: https://github.com/astral-sh/ruff-pre-commit\n"
        "  rev: 'v0.6.9'\n"
        "  hooks: [{id: ruff}]\n"
        "- repo: git@gitlab.com:group/sub/hooks.git\n"
        "  rev: 1.2.0\n"
        "- repo: local\n  hooks: []\n"
        "- repo: meta\n  hooks: []\n"
        "- repo: https://github.com/octo/norev\n"
    )
    deps = precommit.parse_text(text, ".pre-commit-config.yaml").dependencies
    assert [(d.name, d.source, d.line, d.skipped_reason) for d in deps] == [
        ("astral-sh/ruff-pre-commit", "https://github.com/astral-sh/ruff-pre-commit", 5, None),
        ("gitlab-com/sub/hooks", "git@gitlab.com:group/sub/hooks.git", 8, None),  # never a GitHub name
        ("octo/norev", "https://github.com/octo/norev", 13, "no 'rev'"),
    ]
    assert text_at(text, deps[0]) == "v0.6.9'" and text_at(text, deps[1]) == "1.2.0"


def page(*tags: tuple[str, str]) -> ProjectPage:
    return ProjectPage("x", "u", tuple(DistributionFile(t, sha, Version(t)) for t, sha in tags))


TAGS = page(("v4", SHA_B), ("v4.1.0", SHA_A), ("4.2.0", SHA_B), ("v4.2.0", SHA_B), ("v5", SHA_B), ("v5.0.0", SHA_B))


def test_pins_keep_their_depth_and_style() -> None:
    text = composite("- uses: o/a@v4", "- uses: o/a@v4.1.0", f"- uses: o/a@{SHA_A}   # v4.1.0 (latest)")
    major, minor, sha = actions.parse_text(text, "w.yml").dependencies
    assert sorted(str(v) for v in at_depth(major, TAGS).versions()) == ["4", "5"]
    assert [f.filename for f in at_depth(minor, TAGS).files] == ["v4.1.0", "v4.2.0", "v5.0.0"]
    assert new_pin_text(major, Version("5"), TAGS) == "v5"
    assert new_pin_text(minor, Version("4.2.0"), TAGS) == "v4.2.0"
    assert new_pin_text(sha, Version("4.2.0"), TAGS) == f"{SHA_B}   # v4.2.0"
    assert new_pin_text(minor, Version("4.2.0"), TAGS, to_sha=True) == f"{SHA_B} # v4.2.0"
    quoted = actions.parse_text(composite('- uses: "o/a@v4.1.0"'), "w.yml").dependencies[0]
    assert new_pin_text(quoted, Version("4.2.0"), TAGS) == 'v4.2.0"'
    assert new_pin_text(quoted, Version("4.2.0"), TAGS, to_sha=True) == f'{SHA_B}" # v4.2.0'  # comment after quotes


def test_edits_are_verified_by_reparsing() -> None:
    text = composite("- uses: o/a@v4.1.0  # pinned", f"- uses: o/a@{SHA_A} # v4.1.0", "- uses: o/b@v1")
    tag, sha, other = actions.parse_text(text, "w.yml").dependencies
    new = Version("4.2.0")
    after = edit.edit_text("w.yml", text, [Update(tag, Version("4.1.0"), new, "minor", "v4.2.0"),
                                           Update(sha, Version("4.1.0"), new, "minor", f"{SHA_B} # v4.2.0")])
    assert after == text.replace("@v4.1.0", "@v4.2.0").replace(f"{SHA_A} # v4.1.0", f"{SHA_B} # v4.2.0")
    # a new text that would read back as another version is refused
    try:
        edit.edit_text("w.yml", text, [Update(sha, Version("4.1.0"), new, "minor", f"{SHA_B} # v4.1.0")])
    except edit.EditError as exc:
        assert "does not admit 4.2.0" in str(exc)
    else:
        raise AssertionError("an edit whose comment names the old tag was accepted")
    del other


def test_yaml_shapes_people_write() -> None:
    """Anchors and aliases (an alias may even hold itself), quoted SHA pins, pre-commit's frozen comments, and
    ``uses`` keys that are data."""
    looping = "x: &a\n  - *a\njobs:\n  j:\n    steps:\n      - uses: o/a@v1.0.0\n"
    [dep] = actions.parse_text(looping, "w.yml").dependencies
    assert dep.name == "o/a"
    anchored = ("x-steps: &c {uses: actions/checkout@v4.1.0}\njobs:\n  a:\n    steps: [*c]\n"
                "  b:\n    steps: [*c]\n    env: {uses: not/an-action@v1}\n")
    deps = actions.parse_text(anchored, "w.yml").dependencies
    assert [(d.name, d.line) for d in deps] == [("actions/checkout", 1)]  # one place, edited once
    quoted = f"runs:\n  steps:\n    - uses: 'o/a@{SHA_A}' # v4.1.0\n"
    [dep] = actions.parse_text(quoted, "w.yml").dependencies
    assert dep.pep440 == "==4.1.0" and text_at(quoted, dep) == f"{SHA_A}' # v4.1.0"
    new = new_pin_text(dep, Version("4.2.0"), TAGS)
    assert new == f"{SHA_B}' # v4.2.0"
    after = edit.edit_text("w.yml", quoted, [Update(dep, Version("4.1.0"), Version("4.2.0"), "minor", new)])
    assert after == quoted.replace(f"{SHA_A}' # v4.1.0", f"{SHA_B}' # v4.2.0")
    frozen = f"repos:\n- repo: https://github.com/o/hooks\n  rev: {SHA_A}  # frozen: v1.2.3\n"
    [dep] = precommit.parse_text(frozen, ".pre-commit-config.yaml").dependencies
    assert (dep.pep440, dep.skipped_reason) == ("==1.2.3", None)


def test_a_sha_that_is_not_its_comments_tag_is_not_trusted() -> None:
    from jobs.manifests.pins import sha_mismatch

    text = composite(f"- uses: o/a@{SHA_B} # v4.1.0", f"- uses: o/a@{SHA_A} # v4.1.0", f"- uses: o/a@{SHA_A} # v4")
    wrong, right, moving = actions.parse_text(text, "w.yml").dependencies
    assert "is not tag v4.1.0" in (sha_mismatch(wrong, TAGS) or "")
    assert sha_mismatch(right, TAGS) is None
    assert sha_mismatch(moving, TAGS) is None  # v4 moves by design


def test_names_compare_as_package_names_do() -> None:
    from jobs.planner import matches

    [dep] = actions.parse_text(composite("- uses: Owner/My_Repo.py@v1.0.0"), "w.yml").dependencies
    assert dep.name == "owner/my-repo-py" and dep.source == "Owner/My_Repo.py"
    assert matches(dep.name, "owner/my_repo.py") and matches(dep.name, "Owner/*")


def test_uv_workspace_globs_stay_inside_one_folder_name() -> None:
    from jobs.lockfiles.uv import _members

    files = ["pyproject.toml", "packages/a/pyproject.toml", "packages/a/examples/demo/pyproject.toml",
             "packages/b/pyproject.toml", "libs/x/y/pyproject.toml"]
    assert _members("pyproject.toml", {"members": ["./packages/*", "libs/**"], "exclude": ["packages/b"]}, files) == (
        "libs/x/y/pyproject.toml", "packages/a/pyproject.toml")


def test_version_comments_people_write_and_pins_marked_to_stay() -> None:
    """Shapes found in 70 real workflow and pre-commit files: ratchet's and renovate's comments, the action's own
    ref in the comment, punctuation after the tag, a tag pin's comment kept in step, opt-out markers."""
    text = composite(f"- uses: o/a@{SHA_A} # ratchet:o/a@v4.1.0", f"- uses: o/a@{SHA_A} # renovate: tag=v4.1.0",
                     f"- uses: o/a@{SHA_A} # o/a@v4.1.0", f"- uses: o/a@{SHA_A} # v4.1.0, pinned",
                     "- uses: o/a@v4.1.0 # v4.1.0", "- uses: 'o/a@v0' # ratchet:exclude",
                     f"- uses: o/a@{SHA_A} # 2024-02-01")
    deps = actions.parse_text(text, "w.yml").dependencies
    assert [d.pep440 for d in deps[:5]] == ["==4.1.0"] * 5
    assert all(d.skipped_reason is None for d in deps[:5])
    assert deps[5].skipped_reason == "marked ratchet:exclude in its comment: not updated"
    assert deps[6].skipped_reason == "its comment '2024-02-01' names no version tag"
    tag_with_comment = deps[4]
    new = new_pin_text(tag_with_comment, Version("4.2.0"), TAGS)
    assert new == "v4.2.0 # v4.2.0"
    after = edit.edit_text("w.yml", text, [Update(tag_with_comment, Version("4.1.0"), Version("4.2.0"), "minor", new)])
    assert "- uses: o/a@v4.2.0 # v4.2.0\n" in after and after.count("v4.2.0") == 2
    frozen = "repos:\n- repo: https://github.com/o/hooks\n  rev: v4.1.0  # frozen: v4.1.0\n"
    [hook] = precommit.parse_text(frozen, ".pre-commit-config.yaml").dependencies
    assert new_pin_text(hook, Version("4.2.0"), TAGS) == "v4.2.0  # frozen: v4.2.0"


def test_a_failing_tag_listing_is_one_line_without_the_urls_credentials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from jobs.errors import PackageIndexError
    from jobs.index.tags import ls_remote

    url = f"file://hooks-bot:s3cret-token@localhost{(tmp_path / 'missing').as_posix()}"
    with pytest.raises(PackageIndexError) as caught:
        ls_remote(url, timeout=30)
    message = str(caught.value)
    assert message.startswith("git ls-remote --tags ") and "\n" not in message
    assert "s3cret-token" not in message and "hooks-bot" not in message
