"""A loopback stand-in for OpenAI's chat-completions API: scripted replies, bearer auth, 429/5xx/slow/bad faults."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from .loopback import Fault, LoopbackHandler, LoopbackServer

__all__ = ["OpenAIStandIn", "ChatRequest", "ScriptedReply", "DEFAULT_KEY", "DEFAULT_MODEL"]

DEFAULT_KEY = "sk-nightcrew-standin-key-0000"
DEFAULT_MODEL = "standin-chat-1"
_JSON = "application/json"
_COMPLETIONS = "/v1/chat/completions"
_MODELS = "/v1/models"


@dataclass(frozen=True)
class ChatRequest:
    """One answered request. ``body`` is the parsed request JSON (None when it was not JSON); ``headers`` have the
    names lower-cased and the Authorization value masked, so a test that prints the log never prints a key."""

    method: str
    path: str
    status: int
    authorized: bool
    body: Any
    headers: dict[str, str]
    duration: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def content(self, role: str) -> str:
        """The text of every message with ``role``, joined (string and text-part contents alike)."""
        texts: list[str] = []
        for message in self.messages:
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [p.get("text", "") for p in content if isinstance(p, dict)]
        return "\n".join(texts)


@dataclass(frozen=True)
class ScriptedReply:
    """One queued assistant reply; ``usage`` None means token counts estimated from the texts."""

    content: str | None
    model: str | None = None
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None


def _tokens(text: str) -> int:
    # Roughly what a BPE tokenizer gives for English prose; tests only need stable, plausible numbers.
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _error(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """OpenAI's error body shape."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


def _masked(key: str) -> str:
    # OpenAI echoes a wrong key with all but its ends masked; never echo it whole.
    return f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 10 else "***"


class _Handler(LoopbackHandler):
    server_version = "nightcrew-OpenAIStandIn/1.0"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.monotonic()
        app = cast(OpenAIStandIn, self.server.app)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = unquote(urlsplit(self.path).path).rstrip("/")
        status, headers, body, parsed, authorized = app._respond(self.command, path, self.headers.get("Authorization"),
                                                                 raw)  # fmt: skip
        shown = {k.lower(): ("Bearer ***" if k.lower() == "authorization" else v) for k, v in self.headers.items()}
        # Log before answering: a client may look at the log the moment it has its response.
        app._log(ChatRequest(self.command, path, status, authorized, parsed, shown, time.monotonic() - started))
        self.send_response(status)
        for key, value in {"Content-Type": _JSON, **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a timeout test)


class OpenAIStandIn(LoopbackServer[ChatRequest]):
    """OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1:0.

    Requests need ``Authorization: Bearer <api_key>``. Each completion takes the next reply queued with
    ``reply()``; with none queued it answers 500 with ``x-should-retry: false`` (a test forgot to script one),
    unless ``default_reply`` is set. Faults (``rate_limit``, ``fail``, ``delay``, ``malformed``) apply to the
    next requests before any reply is taken, so ``rate_limit(); reply(x)`` means "429, then x".
    """

    handler_class = _Handler

    def __init__(self, *, api_key: str = DEFAULT_KEY, model: str = DEFAULT_MODEL) -> None:
        super().__init__()
        self.api_key = api_key
        self.model = model
        self.default_reply: str | None = None
        self._replies: deque[ScriptedReply] = deque()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What an OpenAI client is given as ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> list[ChatRequest]:
        """Logged chat-completion requests (every attempt, retries included), oldest first."""
        return [r for r in self.requests if r.path == _COMPLETIONS]

    # -- script ----------------------------------------------------------------------------------

    def reply(self, content: str | dict[str, Any] | None, *, model: str | None = None, finish_reason: str = "stop",
              usage: tuple[int, int] | None = None) -> None:  # fmt: skip
        """Queue one reply; a dict is sent as its JSON text. ``usage`` is (prompt_tokens, completion_tokens)."""
        text = json.dumps(content) if isinstance(content, dict) else content
        with self._lock:
            self._replies.append(ScriptedReply(text, model, finish_reason, usage))

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._replies)

    def rate_limit(self, times: int | None = 1, *, retry_after: str | float | None = "0.01") -> None:
        """Answer the next ``times`` completions with 429, OpenAI's rate-limit body and a ``retry-after`` header."""
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        body = _error("Rate limit reached for requests (injected). Please try again shortly.", "requests",
                      "rate_limit_exceeded")  # fmt: skip
        self._add_fault(Fault("fail", times, 429, body, headers), _COMPLETIONS)

    def fail(self, status: int = 500, times: int | None = 1, *, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` completions (None: all, until ``clear_faults``) with ``status``, OpenAI-style."""
        body = _error("The server had an error while processing your request (injected).", "server_error", None)
        self._add_fault(Fault("fail", times, status, body, dict(headers or {})), _COMPLETIONS)

    def delay(self, seconds: float, times: int | None = 1) -> None:
        """Hold the next ``times`` completions for ``seconds`` before answering (to provoke client timeouts)."""
        self._add_fault(Fault("delay", times, seconds=seconds), _COMPLETIONS)

    def malformed(self, times: int | None = 1, body: bytes = b'{"id": "chatcmpl-broken", "choices": [{"mess') -> None:
        """Answer the next ``times`` completions 200 with a body that is not valid JSON (a cut-off reply)."""
        self._add_fault(Fault("fail", times, 200, body, {"Content-Type": _JSON}), _COMPLETIONS)

    # -- HTTP ------------------------------------------------------------------------------------

    def _respond(self, method: str, path: str, authorization: str | None,
                 raw: bytes) -> tuple[int, dict[str, str], bytes, Any, bool]:  # fmt: skip
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        scheme, _, key = (authorization or "").partition(" ")
        authorized = scheme.lower() == "bearer" and key.strip() == self.api_key
        if not authorized:
            message = ("You didn't provide an API key." if not key.strip()
                       else f"Incorrect API key provided: {_masked(key.strip())}.")  # fmt: skip
            return 401, {}, _error(message, "invalid_request_error", "invalid_api_key"), parsed, False

        if path == _MODELS and method == "GET":
            model = {"id": self.model, "object": "model", "created": 1_700_000_000, "owned_by": "nightcrew-standin"}
            return 200, {}, json.dumps({"object": "list", "data": [model]}).encode(), parsed, True
        if path != _COMPLETIONS:
            return 404, {}, _error(f"Invalid URL ({method} {path})", "invalid_request_error", None), parsed, True
        if method != "POST":
            return 405, {}, _error(f"Method {method} not allowed", "invalid_request_error", None), parsed, True

        fault = self._hold(self._take_faults((_COMPLETIONS, "*")))
        if fault is not None:
            return fault.status, fault.headers, fault.body, parsed, True
        if not isinstance(parsed, dict):
            return 400, {}, _error("We could not parse the JSON body of your request.", "invalid_request_error",
                                   None), parsed, True  # fmt: skip
        if not isinstance(parsed.get("model"), str) or not parsed["model"]:
            return 400, {}, _error("you must provide a model parameter", "invalid_request_error", None,
                                   "model"), parsed, True  # fmt: skip
        if not isinstance(parsed.get("messages"), list) or not parsed["messages"]:
            return 400, {}, _error("'messages' must be a non-empty array", "invalid_request_error", None,
                                   "messages"), parsed, True  # fmt: skip

        with self._lock:
            scripted = self._replies.popleft() if self._replies else None
        if scripted is None and self.default_reply is None:
            # x-should-retry: false, so a forgotten reply fails the test at once instead of after backoffs
            return 500, {"x-should-retry": "false"}, _error("stand-in: no reply scripted", "server_error",
                                                            None), parsed, True  # fmt: skip
        scripted = scripted or ScriptedReply(self.default_reply)
        prompt_text = "\n".join(str(m.get("content") or "") for m in parsed["messages"] if isinstance(m, dict))
        prompt_tokens, completion_tokens = scripted.usage or (_tokens(prompt_text), _tokens(scripted.content or ""))
        completion = {
            "id": f"chatcmpl-standin{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": scripted.model or parsed["model"],
            "system_fingerprint": "fp_standin",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": scripted.content, "refusal": None},
                "logprobs": None,
                "finish_reason": scripted.finish_reason,
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }  # fmt: skip
        headers = {"x-request-id": f"req_standin{len(self.requests):06d}"}
        return 200, headers, json.dumps(completion).encode(), parsed, True
