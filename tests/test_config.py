"""Configuration: defaults, overlay, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs import config
from jobs.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load_without_a_file(tmp_path: Path) -> None:
    loaded = config.load(repo=tmp_path)
    assert loaded.source is None
    assert loaded.manifests.requirements == ("requirements*.txt", "requirements/*.txt")
    assert loaded.index.workers == 16


def test_repo_file_overlays_defaults_key_by_key(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[index]\nworkers = 4\nurl = "http://127.0.0.1:1/simple/"\n')
    loaded = config.load(repo=tmp_path)
    assert loaded.index.workers == 4
    assert loaded.index.timeout == 15.0  # untouched default
    assert loaded.source == str(tmp_path / "nightcrew.toml")


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path / "nightcrew.toml", "[index]\nworker = 4\n")
    with pytest.raises(ConfigError) as caught:
        config.load(repo=tmp_path)
    assert str(caught.value) == f"{path}:2: unknown key 'index.worker'"


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", "[indx]\nurl = ''\n")
    with pytest.raises(ConfigError, match="unknown key 'indx'"):
        config.load(repo=tmp_path)


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[index]\nworkers = "16"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(repo=tmp_path)
    message = str(caught.value)
    assert "'index.workers'" in message and "'16'" in message and "nightcrew.toml" in message


def test_wrong_item_type_in_array_names_the_index(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[manifests]\nrequirements = ["a.txt", 3]\n')
    with pytest.raises(ConfigError, match=r"'manifests\.requirements\[1\]'"):
        config.load(repo=tmp_path)


def test_unknown_manifest_format_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[manifests]\nformats = ["pipfile"]\n')
    with pytest.raises(ConfigError, match="unknown format 'pipfile'"):
        config.load(repo=tmp_path)


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "custom.toml", "[index]\nworkers = 4\nurl = \n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value).startswith(f"{path}:3: invalid TOML")


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        config.load(tmp_path / "nope.toml")


def test_out_of_range_value_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", "[index]\nworkers = 0\n")
    with pytest.raises(ConfigError, match="'index.workers'"):
        config.load(repo=tmp_path)


def test_every_default_key_is_documented_with_a_comment() -> None:
    from jobs.resources import default_config_path

    lines = default_config_path().read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            # the comment block right above the key (several keys may share one block, documented together)
            above = number - 1
            while above >= 0 and "=" in lines[above] and not lines[above].lstrip().startswith("#"):
                above -= 1
            assert above >= 0 and lines[above].lstrip().startswith("#"), f"undocumented key: {line}"
            key = line.split("=", 1)[0].strip()
            block = []
            while above >= 0 and lines[above].lstrip().startswith("#"):
                block.append(lines[above])
                above -= 1
            assert block, f"undocumented key: {key}"


def test_wrong_type_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "nightcrew.toml", '[manifests]\nformats = ["requirements"]\n\n[index]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(repo=tmp_path)
    assert str(caught.value).startswith(f"{path}:5: 'index.timeout'")


def test_every_known_section_round_trips_from_the_defaults() -> None:
    loaded = config.load()
    assert loaded.forge.kind == "local" and loaded.updates.kinds == ("patch", "minor")
    assert loaded.tests.command == "python -m pytest" and loaded.updates.on_test_failure == "draft"


def test_group_and_ignore_tables_are_validated(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[[updates.groups]]\nname = "p"\npatterns = ["*"]\nkinds = ["tiny"]\n')
    with pytest.raises(ConfigError, match=r"'updates\.groups\[0\]\.kinds\[0\]'"):
        config.load(repo=tmp_path)
    write(tmp_path / "nightcrew.toml", '[[updates.ignore]]\npackage = "x"\nversions = ">=5 foo"\n')
    with pytest.raises(ConfigError, match="not a PEP 440 specifier"):
        config.load(repo=tmp_path)


def test_index_url_must_be_http_or_file(tmp_path: Path) -> None:
    write(tmp_path / "nightcrew.toml", '[index]\nurl = "ftp://user:pw@127.0.0.1/simple"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(repo=tmp_path)
    assert "not an http(s) or file URL" in str(caught.value) and "pw" not in str(caught.value)
