"""A fake OpenAI-compatible chat server: a real HTTP server on loopback for the assistant's tests.

POST /v1/chat/completions answers like the OpenAI API. Modes:
- "quote": answers with the first sentence of passage [1] of the prompt, citing [1] (a model that stays grounded);
- "html": the same, plus HTML, a script and a link to a foreign domain (to see the portal sanitise it);
- "invent": states a phone number and a fee the content does not hold;
- "500", "garbage" (200 with an HTML body), "empty" (no choices), "slow" (answers after `delay` seconds).
Keeps every request body received and counts them.
"""
from __future__ import annotations

import json
import re
import threading

from tests.fake_dependency import LoopbackFake, QuietHandler

_FIRST_PASSAGE = re.compile(r"\[1\] [^\n]*\n(?P<text>[^\n]+)")


def grounded_answer(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    match = _FIRST_PASSAGE.search(prompt)
    sentence = match.group("text").split(". ")[0].strip(" .") if match else "Não encontrei essa informação"
    return f"{sentence}. [1]"


class FakeOpenAI(LoopbackFake):
    def __init__(self):
        self.mode = "quote"
        self.delay = 0.0
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.port = self._start()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def set(self, mode: str, delay: float = 0.0) -> None:
        with self._lock:
            self.mode, self.delay = mode, delay

    def _reply(self, body: dict, mode: str) -> tuple[int, bytes, str]:
        if mode == "500":
            return 500, b'{"error": {"message": "internal", "type": "server_error"}}', "application/json"
        if mode == "garbage":
            return 200, b"<html>not json</html>", "text/html"
        if mode == "empty":
            return 200, b'{"id": "x", "choices": []}', "application/json"
        text = grounded_answer(body)
        if mode == "html":
            text = (f"<b>{text}</b> <img src=x onerror=alert(1)> Veja http://evil.example/phish e "
                    "[clique aqui](https://pagamento.example.com/pix) <script>alert(2)</script>")
        elif mode == "invent":
            text = "Ligue para (27) 3333-4444 e pague a taxa de R$ 150,00 em 5 dias. [1]"
        payload = {"id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model"),
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text}}]}
        return 200, json.dumps(payload).encode(), "application/json"

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server names its handlers so
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    mode, delay = fake.mode, fake.delay
                if delay:
                    fake._release.wait(delay)
                if not self.path.endswith("/chat/completions"):
                    status, data, ctype = 404, b'{"error": {"message": "no route"}}', "application/json"
                else:
                    status, data, ctype = fake._reply(body, mode)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its deadline passed)

        return Handler
