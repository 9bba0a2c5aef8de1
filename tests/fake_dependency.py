"""A fake dependency that is a real HTTP server on loopback, for the resilience and provider tests.

Modes: ok, 500, 503, 429 (with Retry-After), 404, malformed (200 with an HTML body), slow (answers
after `delay` seconds), reset (drops the connection). It counts the requests it receives and keeps
the last request's headers. `stop()` closes the port (connection refused).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """The fakes' request handler: keep-alive, no Nagle (headers and body go out as two writes: no 40 ms
    delayed-ACK stall), and no access lines on stderr."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

class LoopbackFake:
    """A fake's server: threaded HTTP on a free loopback port. Subclasses set `_release` (an Event that
    parks "slow" requests) and `_handler()` before calling `_start()`."""

    def _start(self) -> int:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self._server.server_address[1]

    def release(self) -> None:
        """Let every request parked in "slow" (or "hold") answer now, and later ones at once."""
        self._release.set()

    def stop(self) -> None:
        self._release.set()  # wake any request parked in "slow" or "hold"
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class FakeDependency(LoopbackFake):
    def __init__(self):
        self.mode = "ok"
        self.delay = 0.0
        self.retry_after = "1"
        self.count = 0
        self.last_headers: dict[str, str] = {}
        self.body = {"ok": True}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.port = self._start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with fake._lock:
                    fake.count += 1
                    fake.last_headers = {k.lower(): v for k, v in self.headers.items()}
                    mode, delay = fake.mode, fake.delay
                if delay:
                    fake._release.wait(delay)
                if mode == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, body, ctype, extra = {
                    "ok": (200, json.dumps(fake.body).encode(), "application/json", {}),
                    "slow": (200, json.dumps(fake.body).encode(), "application/json", {}),
                    "404": (404, b'{"error": "not found"}', "application/json", {}),
                    "500": (500, b"<html>erro</html>", "text/html", {}),
                    "503": (503, b"<html>indisponivel</html>", "text/html", {}),
                    "429": (429, b'{"error": "too many"}', "application/json", {"Retry-After": fake.retry_after}),
                    "malformed": (200, b"<html>Manutencao programada</html>", "text/html", {}),
                }[mode]
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve  # noqa: N815 - BaseHTTPRequestHandler's naming

        return Handler

    def set(self, mode: str, delay: float = 0.0) -> None:
        with self._lock:
            self.mode, self.delay = mode, delay

    def reset_count(self) -> None:
        with self._lock:
            self.count = 0
