"""The LLM client against the OpenAI-compatible stand-in over HTTP: text only, gated, audited, failures as LLMError."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from jobs.config import LLMSettings
from jobs.llm import LLM, LLMError, build_llm
from jobs.tools.gate import Gate
from tests.support.openai_server import OpenAIStandIn

SECRET = "sk-nightcrew-TEST-SECRET-4f9a2c"


def llm_settings(server: OpenAIStandIn | None, **overrides: object) -> LLMSettings:
    values: dict[str, object] = dict(enabled=True, model="standin-chat-1",
                                     base_url=server.base_url if server else "", api_key_env="OPENAI_API_KEY",
                                     timeout=2.0, retries=0, max_output_tokens=600)  # fmt: skip
    values.update(overrides)
    return LLMSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def keyed(openai_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> OpenAIStandIn:
    """The stand-in, accepting SECRET, which is also what OPENAI_API_KEY holds."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    openai_server.api_key = SECRET
    return openai_server


def gate(tmp_path: Path) -> Gate:
    # No secrets given to the gate on purpose: the client must keep the key out of the audit by itself.
    return Gate(run_id="run-1", job="test", audit_path=tmp_path / "audit.jsonl")


def test_complete_sends_text_only_and_audits_model_and_tokens(keyed: OpenAIStandIn, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)  # the openai and HTTP libraries' debug logs too
    keyed.reply('{"points": []}', usage=(120, 7))
    g = gate(tmp_path)
    with LLM(llm_settings(keyed), g) as llm:
        reply = llm.complete("SYSTEM TEXT", "DATA TEXT", purpose="unit test")
    assert (reply.text, reply.model, reply.prompt_tokens, reply.completion_tokens) == (
        '{"points": []}', "standin-chat-1", 120, 7)
    [request] = keyed.completions
    assert request.authorized and request.headers["authorization"] == "Bearer ***"
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.content("system") == "SYSTEM TEXT" and request.content("user") == "DATA TEXT"
    assert not {"tools", "tool_choice", "functions", "function_call"} & set(request.body)
    assert request.body["max_completion_tokens"] == 600 and request.body["model"] == "standin-chat-1"
    [record] = [r for r in g.records if r.action == "llm.call"]
    assert (record.outcome, record.target) == ("ok", "unit test")
    assert record.extra is not None
    assert {k: record.extra[k] for k in ("model", "prompt_tokens", "completion_tokens")} == {
        "model": "standin-chat-1", "prompt_tokens": 120, "completion_tokens": 7}
    assert record.extra["prompt"] == {"system": "SYSTEM TEXT", "data": "DATA TEXT"}
    assert record.extra["response"] == '{"points": []}'
    audit = (tmp_path / "audit.jsonl").read_text()
    assert json.loads(audit)["extra"]["model"] == "standin-chat-1"
    for place in (audit, caplog.text, json.dumps(request.body), json.dumps(request.headers)):
        assert SECRET not in place


def test_base_url_comes_from_openai_base_url_when_config_is_empty(keyed: OpenAIStandIn, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_BASE_URL", keyed.base_url)
    keyed.reply("hello")
    with LLM(llm_settings(None), gate(tmp_path)) as llm:
        assert llm.complete("s", "d", purpose="p").text == "hello"
    assert len(keyed.completions) == 1


def test_key_variable_is_configurable(keyed: OpenAIStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("NIGHTCREW_LLM_KEY", SECRET)
    keyed.reply("ok")
    with LLM(llm_settings(keyed, api_key_env="NIGHTCREW_LLM_KEY"), gate(tmp_path)) as llm:
        assert llm.complete("s", "d", purpose="p").text == "ok"


def test_missing_key_or_model_is_one_line_error_and_no_request(keyed: OpenAIStandIn, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LLMError, match="OPENAI_API_KEY is empty or not set"):
        LLM(llm_settings(keyed), gate(tmp_path))
    with pytest.raises(LLMError, match="no model configured"):
        LLM(llm_settings(keyed, model=""), gate(tmp_path), environ={"OPENAI_API_KEY": SECRET})
    assert keyed.requests == []


def test_disabled_builds_nothing(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    assert build_llm(llm_settings(keyed, enabled=False), gate(tmp_path)) is None
    assert isinstance(build_llm(llm_settings(keyed), gate(tmp_path)), LLM)
    assert keyed.requests == []


def test_429_is_retried_by_the_client_after_retry_after(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.rate_limit(times=1, retry_after="0.01")
    keyed.reply("after the wait")
    with LLM(llm_settings(keyed, retries=1), gate(tmp_path)) as llm:
        assert llm.complete("s", "d", purpose="p").text == "after the wait"
    assert [r.status for r in keyed.completions] == [429, 200]


def test_429_after_all_retries_is_llm_error(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.rate_limit(times=None, retry_after="0.01")
    with LLM(llm_settings(keyed, retries=2), gate(tmp_path)) as llm, pytest.raises(LLMError) as err:
        llm.complete("s", "d", purpose="p")
    assert "HTTP 429 rate limited (after 2 retries)" in str(err.value)
    assert len(keyed.completions) == 3


def test_persistent_500_is_one_line_error_audited_without_key(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.fail(500, times=None)
    g = gate(tmp_path)
    with LLM(llm_settings(keyed, retries=1), g) as llm, pytest.raises(LLMError) as err:
        llm.complete("s", "d", purpose="p")
    message = str(err.value)
    assert "HTTP 500" in message and "\n" not in message and SECRET not in message
    assert message.startswith(keyed.base_url)  # where: the endpoint
    assert len(keyed.completions) == 2  # one retry
    [record] = g.records
    assert (record.action, record.outcome) == ("llm.call", "error") and "HTTP 500" in (record.detail or "")
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


def test_slow_reply_times_out_within_the_bound(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.delay(5.0)
    keyed.reply("too late")
    started = time.monotonic()
    with LLM(llm_settings(keyed, timeout=0.3, retries=0), gate(tmp_path)) as llm, pytest.raises(LLMError) as err:
        llm.complete("s", "d", purpose="p")
    assert time.monotonic() - started < 2.0
    assert "no reply within 0.3s (no retries)" in str(err.value)


@pytest.mark.parametrize("body", [b'{"id": "chatcmpl-1", "choices": [{"mess', b"<html>oops</html>", b'{"foo": 1}',
                                  b'{"choices": []}'])  # fmt: skip
def test_malformed_reply_is_llm_error(keyed: OpenAIStandIn, tmp_path: Path, body: bytes) -> None:
    keyed.malformed(body=body)
    with LLM(llm_settings(keyed), gate(tmp_path)) as llm, pytest.raises(LLMError, match="malformed reply"):
        llm.complete("s", "d", purpose="p")


def test_empty_content_is_llm_error(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.reply(None)
    with LLM(llm_settings(keyed), gate(tmp_path)) as llm, pytest.raises(LLMError, match="no text in the reply"):
        llm.complete("s", "d", purpose="p")


def test_wrong_key_is_authentication_error_without_the_key(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    keyed.api_key = "sk-the-server-wants-another-key"
    with LLM(llm_settings(keyed, retries=2), gate(tmp_path)) as llm, pytest.raises(LLMError) as err:
        llm.complete("s", "d", purpose="p")
    assert "HTTP 401 authentication failed (check OPENAI_API_KEY)" in str(err.value)
    assert SECRET not in str(err.value)
    assert len(keyed.completions) == 1  # 401 is not retried


def test_connection_refused_is_llm_error(keyed: OpenAIStandIn, tmp_path: Path) -> None:
    url = keyed.base_url
    keyed.stop()
    with LLM(llm_settings(None, base_url=url), gate(tmp_path)) as llm, pytest.raises(LLMError, match="cannot connect"):
        llm.complete("s", "d", purpose="p")


def test_models_endpoint_lists_the_model(keyed: OpenAIStandIn) -> None:
    import openai

    client = openai.OpenAI(api_key=SECRET, base_url=keyed.base_url, max_retries=0)
    assert [m.id for m in client.models.list()] == ["standin-chat-1"]
    client.close()
