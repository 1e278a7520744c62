"""Plumbing shared by the loopback test servers: threaded HTTP/1.1 on 127.0.0.1:0, fault injection, request log."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

__all__ = ["LoopbackServer", "LoopbackHandler", "Fault"]

RecordT = TypeVar("RecordT")


@dataclass
class Fault:
    """One injected fault: ``fail`` answers ``status`` instead, ``delay`` holds the request for ``seconds``."""

    kind: str  # "fail" or "delay"
    remaining: int | None  # requests it still applies to; None: until clear_faults
    status: int = 503
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck (delayed) handler must never block stop()
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs when a client opens many connections
    app: LoopbackServer[Any]  # the object whose handlers this server runs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def close_connections(self) -> None:
        # Keep-alive handler threads outlive shutdown(); cut their sockets so a stopped server really
        # stops answering pooled connections.
        with self.connections_lock:
            conns, self.connections = list(self.connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close the socket mid-response; that is expected, not a test failure.
        pass


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive request handler that registers its connection with the server; subclasses add ``do_*``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real servers offer, so clients can pool connections
    timeout = 30  # idle keep-alive connections end eventually
    # Headers and body go out as two writes; with Nagle on, the client's delayed ACK adds ~40 ms per
    # keep-alive request, which would make a benchmark measure the test server instead of the client.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, headers: dict[str, str], body: bytes, *, head: bool = False) -> None:
        """Send one response; a 304 carries no Content-Length and no body, a HEAD answer no body."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head and status != 304:
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client went away (a timeout test)


class LoopbackServer(Generic[RecordT]):
    """A server on 127.0.0.1:0 run by a daemon thread, with fault injection and a log of answered requests.

    Subclasses set ``handler_class``; its handlers reach this object as ``self.server.app``. ``_lock``
    guards the faults, the log and whatever state the subclass keeps.
    """

    handler_class: type[LoopbackHandler]

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: dict[str, list[Fault]] = {}  # target -> pending faults, oldest first
        self._requests: list[RecordT] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), self.handler_class)
        server.app = self
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes delayed handlers so they finish promptly
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``"""
        return f"http://127.0.0.1:{self.port}/"

    # -- faults ----------------------------------------------------------------------------------

    def _add_fault(self, fault: Fault, target: str = "*") -> None:
        with self._lock:
            self._faults.setdefault(target, []).append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_faults(
        self, targets: Iterable[str] = ("*",), matches: Callable[[Any], bool] | None = None
    ) -> list[Fault]:
        """The faults that apply to one request: the oldest matching one of each kind, looking at ``targets`` in order.

        Each taken fault uses up one of its ``remaining`` requests and is dropped when none are left.
        """
        taken: list[Fault] = []
        with self._lock:
            for target in targets:
                pending = self._faults.get(target, [])
                for fault in list(pending):
                    if matches is not None and not matches(fault):
                        continue
                    if any(t.kind == fault.kind for t in taken):
                        continue  # one fault of each kind per request
                    taken.append(fault)
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            pending.remove(fault)
        return taken

    def _hold(self, faults: Iterable[Fault]) -> Fault | None:
        """Sleep out the delay faults (stop() cuts them short); return the fail fault, if any."""
        faults = list(faults)
        for fault in faults:
            if fault.kind == "delay":
                self._stopping.wait(fault.seconds)
        return next((f for f in faults if f.kind == "fail"), None)

    # -- request log -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordT]:
        """Snapshot of answered requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset_log(self) -> None:
        with self._lock:
            self._requests.clear()

    def _log(self, record: RecordT) -> None:
        with self._lock:
            self._requests.append(record)
