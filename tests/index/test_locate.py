"""Where the index address comes from, in order, and that credentials never show."""

from __future__ import annotations

from jobs.index.locate import locate, redact_url

PIP_DEFAULT_PATH = "/simple"


def test_config_wins_and_ignores_environment() -> None:
    where = locate("http://127.0.0.1:9/simple/", ("http://127.0.0.1:8/simple/",),
                   environ={"PIP_INDEX_URL": "http://127.0.0.1:7/simple/", "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:6/"},
                   pip_config={"index-url": "http://127.0.0.1:5/simple/"})
    assert where.url == "http://127.0.0.1:9/simple/"
    assert where.extra_urls == ("http://127.0.0.1:8/simple/",)
    assert where.origin == "config"


def test_requirements_file_index_beats_environment_as_in_pip() -> None:
    where = locate("", (), "http://127.0.0.1:4/simple/", ("http://127.0.0.1:3/simple/",),
                   environ={"PIP_INDEX_URL": "http://127.0.0.1:7/simple/"}, pip_config={})
    assert (where.url, where.origin) == ("http://127.0.0.1:4/simple/", "requirements file")
    assert where.extra_urls == ("http://127.0.0.1:3/simple/",)


def test_pip_index_url_then_pip_configuration_then_pip_default() -> None:
    env = locate("", environ={"PIP_INDEX_URL": "http://127.0.0.1:7/simple/"}, pip_config={})
    assert env.origin == "PIP_INDEX_URL"
    conf = locate("", environ={}, pip_config={"index-url": "http://127.0.0.1:5/simple/",
                                              "extra-index-url": "http://127.0.0.1:2/a http://127.0.0.1:2/b"})
    assert (conf.url, conf.origin) == ("http://127.0.0.1:5/simple/", "pip configuration")
    assert conf.extra_urls == ("http://127.0.0.1:2/a", "http://127.0.0.1:2/b")
    default = locate("", environ={}, pip_config={})
    assert default.origin == "pip default"
    assert default.url.startswith("https://") and default.url.rstrip("/").endswith(PIP_DEFAULT_PATH)


def test_environment_extra_index_urls_are_split_on_whitespace() -> None:
    where = locate("", environ={"PIP_INDEX_URL": "http://127.0.0.1:7/simple/",
                                "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:1/x  http://127.0.0.1:1/y"}, pip_config={})
    assert where.extra_urls == ("http://127.0.0.1:1/x", "http://127.0.0.1:1/y")


def test_redact_url_hides_password_and_bare_tokens() -> None:
    assert redact_url("https://user:s3cret@127.0.0.1:8080/simple/") == "https://user:***@127.0.0.1:8080/simple/"
    assert redact_url("https://tok3n@127.0.0.1/simple/") == "https://***@127.0.0.1/simple/"
    assert redact_url("https://127.0.0.1/simple/") == "https://127.0.0.1/simple/"


def test_requirements_file_index_url_expands_env_vars_like_pip() -> None:
    where = locate("", (), "https://bot:${INDEX_TOKEN}@127.0.0.1/simple/", ("https://127.0.0.1/${MISSING}/",),
                   environ={"INDEX_TOKEN": "t0k"}, pip_config={})
    assert where.url == "https://bot:t0k@127.0.0.1/simple/"
    assert where.extra_urls == ("https://127.0.0.1/${MISSING}/",)
