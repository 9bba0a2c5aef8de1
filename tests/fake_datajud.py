"""A fake DataJud: an Elasticsearch-style `_search` server on loopback, serving fixture documents.

Documents (each a DataJud `_source`, or a whole `_search` envelope) are grouped by numeroProcesso.
Modes: ok, 503, 429, 401, 400 (ES error body), html (200 with an HTML page), truncated (200 with
half a JSON body), slow (answers after `delay`). Counts `_search` requests.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.fake_dependency import LoopbackFake, QuietHandler


def load_documents(*folders: Path) -> dict[str, list[dict]]:
    documents: dict[str, list[dict]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            hits = data["hits"]["hits"] if isinstance(data, dict) and "hits" in data else [{"_source": data}]
            for hit in hits:
                source = hit.get("_source", {})
                number = source.get("numeroProcesso")
                if number:
                    hit = {"_index": "api_publica_tjes", "_id": hit.get("_id") or source.get("id"), **hit}
                    known = documents.setdefault(number, [])
                    if all(existing.get("_id") != hit["_id"] for existing in known):
                        known.append(hit)
    return documents


class FakeDataJud(LoopbackFake):
    def __init__(self, documents: dict[str, list[dict]]):
        self.documents = documents
        self.mode = "ok"
        self.delay = 0.0
        self.count = 0
        self.last_headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.port = self._start()
        self.url = f"http://127.0.0.1:{self.port}"

    def set(self, mode: str, delay: float = 0.0) -> None:
        with self._lock:
            self.mode, self.delay = mode, delay

    def _answer(self, body: dict) -> tuple[int, bytes, str, dict]:
        number = str(body.get("query", {}).get("match", {}).get("numeroProcesso", ""))
        hits = self.documents.get(number, [])
        envelope = {"took": 5, "timed_out": False, "hits": {"total": {"value": len(hits), "relation": "eq"},
                                                             "hits": hits}}
        return 200, json.dumps(envelope).encode(), "application/json", {}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server names its handlers so
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.count += 1
                    fake.last_headers = {k.lower(): v for k, v in self.headers.items()}
                    mode, delay = fake.mode, fake.delay
                if delay:
                    fake._release.wait(delay)
                canned = {
                    "503": (503, b"<html>Service Unavailable</html>", "text/html", {}),
                    "429": (429, b'{"error": "too many"}', "application/json", {"Retry-After": "1"}),
                    "401": (401, b'{"error": {"type": "security_exception", "reason": "unable to find apikey"}}',
                            "application/json", {}),
                    "400": (400, b'{"error": {"type": "parsing_exception", "reason": "bad query"}, "status": 400}',
                            "application/json", {}),
                    "html": (200, b"<html><body>Manutencao programada</body></html>", "text/html", {}),
                    "truncated": (200, b'{"took": 5, "hits": {"total": {"value": 1}, "hits": [{"_sour',
                                  "application/json", {}),
                }
                if mode in canned:
                    status, body, ctype, extra = canned[mode]
                elif not self.path.endswith("/api_publica_tjes/_search"):
                    status, body, ctype, extra = 404, b'{"error": "no such index"}', "application/json", {}
                else:
                    status, body, ctype, extra = fake._answer(json.loads(raw or b"{}"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
