"""A loopback HTTP server that plays an LLM provider badly: hangs, HTML pages, odd JSON.

The providers' real SDKs talk real HTTP to it (base_url http://127.0.0.1:PORT), so what is
tested is what a user's run does against a broken gateway, up to the socket.

    with LoopbackProvider() as server:
        server.answer(200, b"<html>...", "text/html")   # or server.hang()
        ... base_url=server.url ...
        server.requests        # the request bodies it saw (parsed JSON)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackProvider:
    """A threaded HTTP server on 127.0.0.1 answering every POST the same configured way."""

    def __init__(self):
        self.status = 200
        self.body = b""
        self.content_type: str | None = "application/json"
        self.hanging = False
        self.requests: list[dict] = []
        self.arrived: list[float] = []  # time.monotonic() of each request's arrival
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                server.arrived.append(time.monotonic())
                try:
                    server.requests.append(json.loads(raw))
                except ValueError:
                    server.requests.append({"raw": raw.decode("utf-8", "replace")})
                if server.hanging:
                    # Headers never come: the SDK waits on its read timeout, then retries.
                    server._release.wait(60)
                    return
                self.send_response(server.status)
                if server.content_type is not None:
                    self.send_header("content-type", server.content_type)
                self.send_header("content-length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, status: int, body: bytes | dict, content_type: str | None = "application/json") -> None:
        """Answer every request with `body` (a dict is sent as JSON)."""
        self.hanging = False
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.content_type = content_type

    def hang(self) -> None:
        """Accept every request and never answer it."""
        self.hanging = True

    def __enter__(self) -> LoopbackProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
