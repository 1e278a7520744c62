"""Discovery's rules on the shapes found in the file listings of 23 well-known Python repositories (each path
below stands for a class seen there, not for one project): what is the project's own and what is not."""

from __future__ import annotations

from pathlib import Path

from jobs.manifests.discover import discover, repository_files

REQ = "requests==2.31.0\n"
PYPROJECT = '[project]\nname = "x"\nversion = "1"\ndependencies = ["requests"]\n'

OWN = {
    "requirements.txt": REQ,
    "requirements/extras/redis.txt": REQ,  # nested requirement folders
    "requirements.d/lint.txt": "-r ../requirements.txt\nruff==0.6.0\n",
    "doc/en/requirements.txt": "sphinx>=7  # docs\n",
    "doc/build/requirements.txt": REQ,  # "build" is left to .gitignore
    "constraints.txt": REQ,
    "homeassistant/package_constraints.txt": REQ,
    ".github/workflows/data/requirements.txt": REQ,  # CI configuration is the project's own
    ".travis/requirements-latest.txt": REQ,
    "tests/requirements.txt": REQ,  # the test suite's own
    "tests/requirements/py3.txt": REQ,
    "testing/plugins_integration/requirements.txt": "pytest-mock\npytest-django==4.9\n",  # named by tox.ini
    "providers/amazon/pyproject.toml": PYPROJECT,  # a workspace member
    "examples/tutorial/requirements.txt": REQ,
}
NOT_OWN = {
    "tests/fixtures/requirements.txt": REQ,
    "tests/data/packages/pyproject.toml": PYPROJECT,
    "test/ecosystem/flask/pyproject.toml": PYPROJECT,  # test input: no automation names it
    "tests/demo_pkg_inline/pyproject.toml": PYPROJECT,
    "scrapy/templates/project/pyproject.toml": PYPROJECT,
    "airflow/config_templates/requirements.txt": "{% if extras %}apache-airflow{% endif %}\n",
    "tests/test_requirements.txt": ">>> from pip import req\n>>> req.parse('x')\n",  # a doctest, by its name
    "src/pip/_vendor/vendor.txt": REQ,
    "oldenv/requirements.txt": REQ,
    "oldenv/pyvenv.cfg": "home = /usr/bin\n",
    ".tox/py312/requirements.txt": REQ,
    "node_modules/pkg/requirements.txt": REQ,
}


def test_own_manifests_and_test_input(tmp_path: Path) -> None:
    files = {**OWN, **NOT_OWN, "tox.ini": "[testenv:plugins]\ndeps = -rtesting/plugins_integration/requirements.txt\n",
             "pyproject.toml": PYPROJECT}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    listing = repository_files(tmp_path)
    found = {p.relative_to(tmp_path).as_posix() for fmt in ("requirements", "pyproject")
             for p in discover(tmp_path, fmt, listing)}
    assert found == set(OWN) | {"pyproject.toml"}, (sorted(found - set(OWN)), sorted(set(OWN) - found))


def test_files_found_elsewhere_never_redirect_the_index(tmp_path: Path) -> None:
    """nightcrew reads one index per run: the top-level files' --index-url wins, as pip run at the top would read
    them; a file found deeper that names another index is reported (its credentials masked), never obeyed."""
    from jobs.manifests.requirements import RequirementsFormat

    (tmp_path / "ci").mkdir()
    (tmp_path / "requirements.txt").write_text("--index-url https://mirror.example/simple\nrequests==2.31.0\n")
    (tmp_path / "ci" / "requirements-ci.txt").write_text(
        "--index-url https://user:s3cret@private.example/simple\nrequests==2.31.0\n")
    parsed = RequirementsFormat().parse(tmp_path, [tmp_path / "ci" / "requirements-ci.txt",
                                                   tmp_path / "requirements.txt"])
    assert parsed.index_url == "https://mirror.example/simple"
    [problem] = parsed.problems
    assert problem.file == "ci/requirements-ci.txt" and "nightcrew reads one index per run" in problem.message
    assert "s3cret" not in problem.message
