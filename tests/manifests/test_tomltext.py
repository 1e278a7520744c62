"""The TOML position scanner: complete on whatever a TOML writer produces, exact for plain strings."""

from __future__ import annotations

import datetime
import re
from typing import Any, Iterator

import tomlkit
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.manifests.tomltext import KeyPath, key_path_text, locate_values, toml_kind

_KEYS = st.text(alphabet="ab-_.é \"'", min_size=1, max_size=4)
_SCALARS = st.one_of(
    st.text(max_size=8),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(_KEYS, children, max_size=3),
        st.lists(st.dictionaries(_KEYS, children, min_size=1, max_size=2), min_size=1, max_size=2),
    ),
    max_leaves=12,
)
_PLAIN = re.compile(r"[^\"\\'\x00-\x1f\x7f]*")  # written as-is in any string literal form


def _leaves(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,))
    else:
        yield path, value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4), st.booleans())
def test_every_value_a_toml_writer_produces_is_located(data: dict[str, Any], crlf: bool) -> None:
    text = tomlkit.dumps(data)
    if crlf:
        text = text.replace("\n", "\r\n")
    parsed = tomllib.loads(text)
    positions = locate_values(text)
    assert positions.complete, text
    for path, value in _leaves(parsed):
        assert path in positions.values, (key_path_text(path), text)
        where = positions.values[path]
        if isinstance(value, str) and _PLAIN.fullmatch(value):
            assert where.content is not None
            assert text[where.content[0]:where.content[1]] == value


def test_non_ascii_letters_are_not_bare_keys() -> None:
    # "é" is not a TOML bare-key character: a quoted key that holds one is still found whole
    text = '"é-key" = "v"\n[t]\n"a.b" = 1\n'
    assert set(locate_values(text).values) == {("é-key",), ("t",), ("t", "a.b")}


def test_toml_kind_names_each_type() -> None:
    assert [toml_kind(v) for v in (True, 1, 1.5, "s", [], {}, datetime.date(2024, 1, 1))] == [
        "a boolean", "an integer", "a float", "a string", "an array", "a table", "a date or time"]
