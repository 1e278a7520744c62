"""The one way nightcrew talks to a language model: text in, text out, through the gate, errors as one line."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

from jobs.config import LLMSettings
from jobs.errors import NightcrewError
from jobs.tools.gate import Gate
from jobs.tools.redact import redact

log = logging.getLogger(__name__)

# The audit keeps the prompt and the reply; cap each so one huge changelog cannot bloat the audit file.
AUDIT_TEXT_LIMIT = 100_000


class LLMError(NightcrewError):
    """The model could not be asked or did not answer usably (timeout, 429 after retries, 5xx, connection,
    malformed reply, missing key). One line, never carrying the key."""


@dataclass(frozen=True)
class Reply:
    """The model's text and what the call cost; token counts are None when the endpoint reports no usage."""

    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None = None


class LLM:
    """A chat-completions client for one configured model. ``complete`` sends a system prompt and one user
    message of data, and nothing else: no tools, no functions, no images, no streaming.

    The key comes from the variable named by ``settings.api_key_env``; the endpoint from ``settings.base_url``,
    else ``OPENAI_BASE_URL``, else the openai client's default. Timeouts are per attempt: a call takes at most
    about ``(retries + 1) * timeout`` plus the client's backoff (0.5 s, 1 s, ...; a server's retry-after wins).
    """

    def __init__(self, settings: LLMSettings, gate: Gate, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        if not settings.model:
            raise LLMError("no model configured", "llm.model")
        key = env.get(settings.api_key_env, "")
        if not key:
            raise LLMError(f"no API key: the variable {settings.api_key_env} is empty or not set", "llm.api_key_env")
        self.settings = settings
        self.model = settings.model
        self._gate = gate
        self._secrets = (key,)
        base_url = settings.base_url or env.get("OPENAI_BASE_URL") or None
        # None lets the client pick its own default endpoint: nightcrew never names a host itself.
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=settings.timeout,
                                     max_retries=settings.retries)  # fmt: skip
        self.endpoint = redact(str(self._client.base_url), self._secrets)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, system: str, data: str, *, purpose: str) -> Reply:
        """Ask once (the client retries 429/5xx/timeouts itself); ``purpose`` names the call in the audit.

        Raises ``LLMError`` on any failure, and ``jobs.tools.Denied`` if the policy refuses ``llm.call``.
        """
        messages = [{"role": "system", "content": system}, {"role": "user", "content": data}]

        def call() -> Reply:
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    # max_completion_tokens, not the deprecated max_tokens: reasoning models reject the latter,
                    # and compatible servers that do not know it ignore it. No temperature for the same reason.
                    max_completion_tokens=self.settings.max_output_tokens,
                )
            except openai.APIError as exc:
                raise self._error(exc) from None
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # The client parses the body itself; a cut-off or non-JSON body surfaces here.
                raise LLMError(f"malformed reply: {type(exc).__name__}", self.endpoint) from None
            return self._reply(response)

        def audit(reply: Reply) -> dict[str, Any]:
            return {
                "model": reply.model,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "finish_reason": reply.finish_reason,
                "endpoint": self.endpoint,
                "prompt": {"system": self._scrub(system), "data": self._scrub(data)},
                "response": self._scrub(reply.text),
            }

        return self._gate.run("llm.call", purpose, call, inputs={"model": self.model, "messages": messages},
                              extra=audit)  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        # The gate redacts with its own secrets too; the key is scrubbed here in case the gate was not told it.
        text = redact(text, self._secrets)
        return text if len(text) <= AUDIT_TEXT_LIMIT else text[:AUDIT_TEXT_LIMIT] + f"... [{len(text)} chars]"

    def _reply(self, response: Any) -> Reply:
        # Without strict validation the client builds partial objects from odd bodies: check every field we use.
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise LLMError("malformed reply: no choices", self.endpoint)
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str) or not text.strip():
            refusal = getattr(message, "refusal", None)
            reason = "the model refused" if refusal else "no text in the reply"
            raise LLMError(f"malformed reply: {reason}", self.endpoint)
        usage = getattr(response, "usage", None)
        model = getattr(response, "model", None)
        finish = getattr(choices[0], "finish_reason", None)
        return Reply(
            text=text,
            model=model if isinstance(model, str) and model else self.model,
            prompt_tokens=_count(getattr(usage, "prompt_tokens", None)),
            completion_tokens=_count(getattr(usage, "completion_tokens", None)),
            finish_reason=finish if isinstance(finish, str) else None,
        )

    def _error(self, exc: openai.APIError) -> LLMError:
        tries = f"after {self.settings.retries} retries" if self.settings.retries else "no retries"
        if isinstance(exc, openai.APITimeoutError):
            message = f"no reply within {self.settings.timeout:g}s ({tries})"
        elif isinstance(exc, openai.APIConnectionError):
            message = f"cannot connect ({tries})"
        elif isinstance(exc, openai.APIStatusError):
            detail = _server_message(exc.body) or exc.response.reason_phrase
            message = f"HTTP {exc.status_code}"
            if isinstance(exc, openai.RateLimitError):
                message += f" rate limited ({tries})"
            elif isinstance(exc, openai.AuthenticationError):
                message += f" authentication failed (check {self.settings.api_key_env})"
            elif exc.status_code >= 500:
                message += f" ({tries})"
            if detail:
                message += f": {detail}"
        elif isinstance(exc, openai.APIResponseValidationError):
            message = "malformed reply"
        else:
            message = f"request failed: {type(exc).__name__}"
        message = " ".join(redact(message, self._secrets).split())  # one line, whatever the server sent
        log.debug("llm.call failed: %s", message)
        return LLMError(message[:300], self.endpoint)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _server_message(body: object) -> str | None:
    """The ``error.message`` of OpenAI's error body (or a bare ``message``), shortened."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str) and message.strip():
            return message.strip()[:200]
    return None


def build_llm(settings: LLMSettings, gate: Gate, environ: Mapping[str, str] | None = None) -> LLM | None:
    """The configured model, or None when ``[llm] enabled`` is false (the default). Raises ``LLMError`` when it
    is enabled but has no model or key: the caller reports that and carries on without a summary."""
    if not settings.enabled:
        return None
    return LLM(settings, gate, environ)
