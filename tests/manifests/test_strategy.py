"""Table-driven tests for the range strategies: new constraint text in the dependency's own syntax."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from jobs.manifests.poetry import to_pep440
from jobs.manifests.strategy import is_poetry, new_specifier
from jobs.models import Dependency

PEP = "requirements"
POETRY = "tool.poetry.dependencies"


def dep(specifier: str, section: str = PEP) -> Dependency:
    return Dependency(name="demo", raw_name="demo", specifier=specifier, file="f", line=1, section=section)


def admits(text: str, new: str, poetry: bool) -> bool:
    return SpecifierSet(to_pep440(text) if poetry else text).contains(Version(new), prereleases=True)


PEP440_CASES = [
    # pin
    ("==1.2.3", "1.5.0", "pin", "==1.5.0"),
    ("===1.0-custom", "2.0", "pin", "===2.0"),
    ("== 1.2", "1.5", "pin", "== 1.5"),
    (">=1.2,<2", "1.5", "pin", "==1.5"),
    ("==1.2.*", "1.5", "pin", "==1.5"),
    ("", "1.0", "pin", "==1.0"),
    ("==1.5", "1.5", "pin", None),
    ("==1.0", "1!2.0", "pin", "==1!2.0"),
    ("==1.0", "2.0rc1", "pin", "==2.0rc1"),
    # bump
    (">=1.2", "2.0.1", "bump", ">=2.0.1"),
    (">=1.2,<2", "1.5", "bump", ">=1.5,<2"),
    (">=1.2,<2", "2.1", "bump", ">=2.1,<3"),
    ("<2,>=1.0", "2.0", "bump", "<3,>=2.0"),
    (">= 1.2, < 2", "1.5", "bump", ">= 1.5, < 2"),
    (">1.2", "1.5", "bump", ">=1.5"),
    ("~=1.2", "1.5.3", "bump", "~=1.5"),
    ("~=1.2.3", "1.5", "bump", "~=1.5.0"),
    ("~=1.2", "2.0.1", "bump", "~=2.0"),
    ("~=1.2", "2.0rc1", "bump", "~=2.0rc1"),
    ("~=1.2.0", "2.0.0rc1", "bump", "~=2.0.0rc1"),
    ("==1.2.*", "1.5.2", "bump", "==1.5.*"),
    ("==1.*", "2.0rc1", "bump", "==2.*"),
    ("==1.2.3", "1.5.0", "bump", "==1.5.0"),
    (">=1.0,!=1.5", "1.5", "bump", ">=1.5"),
    (">=1.5", "1.5", "bump", None),
    ("<2", "1.5", "bump", None),
    ("", "1.5", "bump", None),
    # widen
    ("<2", "2.3", "widen", "<3"),
    ("<2.0", "2.3", "widen", "<3.0"),
    ("<1.5", "1.5.2", "widen", "<1.6"),
    (">=1.0,<2.0", "3.1", "widen", ">=1.0,<4.0"),
    ("<2", "2.0rc1", "widen", "<3"),
    ("<2.0.dev0", "2.1", "widen", "<3.0.dev0"),
    ("<1!2.0", "1!2.5", "widen", "<1!3.0"),
    ("<=2.0", "2.1.3", "widen", "<=2.1.3"),
    ("<=2", "3.0.0", "widen", "<=3"),
    (">1.0,<=1.4", "1.4.1", "widen", ">1.0,<=1.4.1"),
    (">=1.0,!=2.0", "2.0", "widen", ">=1.0"),
    ("!=2.0,>=1.0", "2.0", "widen", ">=1.0"),
    (">=1.0, !=1.5.*, <2", "1.5.1", "widen", ">=1.0, <2"),
    ("~=1.2", "2.1", "widen", ">=1.2,<3.0"),
    ("~=1.2.3", "1.5.1", "widen", ">=1.2.3,<1.6.0"),
    ("~= 1.2", "2.1", "widen", ">= 1.2, < 3.0"),
    ("==1.2.*", "2.0", "widen", ">=1.2,<2.1"),
    ("==1.2.3", "1.5", "widen", "==1.5"),
    (">=1.0,<2", "1.5", "widen", None),
    ("", "1.5", "widen", None),
    # auto
    ("==1.2.3", "1.5", "auto", "==1.5"),
    ("===1.2.3", "1.5", "auto", "===1.5"),
    ("==1.5", "1.5", "auto", None),
    (">=1.0,<2", "1.5", "auto", None),
    (">=1.0", "5.0", "auto", None),
    ("", "1.0", "auto", None),
    (">= 1.2, < 2", "2.5", "auto", ">= 1.2, < 3"),
    ("~=1.2", "2.0", "auto", ">=1.2,<3.0"),
    (">1.0,<=1.4", "1.5", "auto", ">1.0,<=1.5"),
    ("!=1.5", "1.5", "auto", ""),
    (">=1.0,<2", "2.0b1", "auto", ">=1.0,<3"),
    ("<2,>=1", "1!1.0", "auto", "<1!2,>=1"),
]


@pytest.mark.parametrize(("written", "new", "strategy", "expected"), PEP440_CASES)
def test_pep440_strategies(written: str, new: str, strategy: str, expected: str | None) -> None:
    got = new_specifier(dep(written), Version(new), strategy)
    assert got == expected
    if got is not None:
        assert admits(got, new, poetry=False)


POETRY_CASES = [
    ("1.2.3", "1.5", "pin", "1.5"),
    ("^1.2", "1.5", "pin", "1.5"),
    ("*", "1.5", "pin", "1.5"),
    ("", "1.5", "pin", "1.5"),
    ("==1.2.3", "1.5", "pin", "==1.5"),
    ("1.0 || 2.0", "3.0", "pin", "3.0"),
    ("^1.2", "1.5", "bump", "^1.5"),
    ("~1.2.3", "1.5.0", "bump", "~1.5.0"),
    ("^1.2", "2.1", "bump", "^2.1"),
    ("^0.2", "0.3.1", "bump", "^0.3"),
    ("~1", "2.3", "bump", "~2"),
    (">=1.2 <2", "1.5", "bump", ">=1.5 <2"),
    ("1.2.*", "1.5.1", "bump", "1.5.*"),
    ("1.2.3", "1.5", "bump", "1.5"),
    ("*", "1.5", "bump", None),
    ("^1.2", "2.1", "widen", ">=1.2,<3.0"),
    ("1.2.3", "1.5", "widen", "1.5"),
    ("=1.2.3", "1.5", "auto", "=1.5"),
    ("1.2.3", "1.5", "auto", "1.5"),
    ("^1.2", "1.5", "auto", None),
    ("^1.2", "2.1", "auto", ">=1.2,<3.0"),
    ("^1.2", "2.0.0b1", "auto", ">=1.2,<3.0"),
    ("^0.2.3", "0.3.0", "auto", ">=0.2.3,<0.4.0"),
    ("~1.2.3", "1.3.1", "auto", ">=1.2.3,<1.4.0"),
    ("~1.2", "1.3.1", "auto", ">=1.2,<1.4"),
    (">= 1.2, < 2.0", "2.1", "auto", ">= 1.2, < 3.0"),
    (">=1.2 <2.0", "2.1", "auto", ">=1.2 <3.0"),
    ("1.2.*", "2.0", "auto", ">=1.2,<2.1"),
    ("~=1.2", "2.0", "auto", ">=1.2,<3.0"),
    ("*", "1.5", "auto", None),
    ("", "1.5", "auto", None),
]


@pytest.mark.parametrize(("written", "new", "strategy", "expected"), POETRY_CASES)
def test_poetry_strategies_keep_poetry_syntax(written: str, new: str, strategy: str, expected: str | None) -> None:
    got = new_specifier(dep(written, POETRY), Version(new), strategy)
    assert got == expected
    if got is not None:
        assert admits(got, new, poetry=True)


@pytest.mark.parametrize("section", ["tool.poetry.dependencies", "tool.poetry.dev-dependencies",
                                     "tool.poetry.group.test.dependencies"])
def test_every_poetry_section_uses_poetry_syntax(section: str) -> None:
    assert is_poetry(dep("", section))
    assert new_specifier(dep("^1.0", section), Version("2.0")) == ">=1.0,<3.0"


@pytest.mark.parametrize("section", ["requirements", "constraints", "project.dependencies", "build-system.requires",
                                     "dependency-groups.dev", "project.optional-dependencies.tool.poetry"])
def test_other_sections_use_pep440(section: str) -> None:
    assert not is_poetry(dep("", section))
    assert new_specifier(dep("", section), Version("2.0"), "pin") == "==2.0"


REFUSALS = [
    ("~=1", PEP, "2", "auto", "invalid version constraint"),
    ("~=1", PEP, "2", "pin", "invalid version constraint"),
    (">=2.0", PEP, "1.5", "widen", "below the lower bound >=2.0"),
    (">=2.0,<3", PEP, "1.5", "auto", "below the lower bound >=2.0"),
    ("~=2.0", PEP, "1.5", "widen", "below the lower bound ~=2.0"),
    (">1.5", PEP, "1.5", "auto", "below the lower bound >1.5"),
    ("^2.0", POETRY, "1.5", "auto", "below the lower bound ^2.0"),
    (">=1.0", PEP, "2.0", "sideways", "unknown range strategy"),
    ("1.0 || 2.0", POETRY, "3.0", "auto", "'||' constraint"),
    ("^x", POETRY, "3.0", "pin", "invalid version constraint"),
]


@pytest.mark.parametrize(("written", "section", "new", "strategy", "message"), REFUSALS)
def test_refusals_raise_value_error_with_a_clear_message(
    written: str, section: str, new: str, strategy: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("|", r"\|").replace("^", r"\^")):
        new_specifier(dep(written, section), Version(new), strategy)


def test_default_strategy_is_auto() -> None:
    assert new_specifier(dep(">=1,<2"), Version("2.1")) == ">=1,<3"
    assert new_specifier(dep(">=1,<2"), Version("1.9")) is None
