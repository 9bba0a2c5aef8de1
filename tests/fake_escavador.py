"""A fake Escavador API v2: a real HTTP server on loopback serving process and movement fixtures.

Routes (under `{url}/api/v2`): `GET processos/numero_cnj/{numero}` and `GET processos/numero_cnj/{numero}/movimentacoes`
(`?limit=`, then cursor links in `links.next`, `page_size` items a page at most). Numbers are accepted masked or as
20 digits. Unknown numbers answer 404 as Escavador does. Modes for every request: ok, 401, 402, 429 (Retry-After),
500, 503, html (200 with an HTML page), slow (answers after `delay`), hold (waits until `release()`).
`fail_next(mode, n)` applies a mode to the next n requests only; `fail_movement_page` fails one page with a 500;
`next_base` makes the cursor links point elsewhere. Counts requests and keeps their paths and headers.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.fake_dependency import LoopbackFake, QuietHandler
from utils import cnj

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PREFIX = "/api/v2/processos/numero_cnj/"


def load_fixtures(folder: Path = FIXTURES) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """(processes, movements) keyed by the 20 digits, from `escavador_processo_*.json` / `escavador_movimentacoes_*`."""
    processes, movements = {}, {}
    for path in sorted(folder.glob("escavador_processo_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        processes[cnj.parse(data["numero_cnj"])] = data
    for path in sorted(folder.glob("escavador_movimentacoes_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        movements[cnj.parse(data["numero_cnj"])] = data["items"]
    return processes, movements


def minimal_process(number: str, degree: int = 1) -> dict:
    """A small but complete TJES process for `number` (20 digits), for tests that need many numbers."""
    return {"numero_cnj": cnj.format(number), "titulo_polo_ativo": "Fulano de Tal", "titulo_polo_passivo": "Beltrano",
            "ano_inicio": int(number[9:13]), "data_inicio": "2024-01-10", "quantidade_movimentacoes": 1,
            "data_ultima_verificacao": "2024-09-01T10:00:00+00:00",
            "fontes": [{"id": int(number[:7]) + 1, "processo_fonte_id": int(number[:9]), "tipo": "TRIBUNAL",
                        "sigla": "TJES", "grau": degree, "grau_formatado": "Primeiro Grau", "sistema": "PJE",
                        "segredo_justica": False,
                        "capa": {"classe": "PROCEDIMENTO COMUM CÍVEL", "assunto": "COBRANÇA",
                                 "assuntos_normalizados": [], "orgao_julgador": "CARIACICA - 2ª VARA CÍVEL",
                                 "data_distribuicao": "2024-01-10"},
                        "envolvidos": [{"nome": "Fulano de Tal", "polo": "ATIVO", "cpf": "12345678909"}]}]}


class FakeEscavador(LoopbackFake):
    def __init__(self, processes: dict[str, dict] | None = None, movements: dict[str, list[dict]] | None = None):
        if processes is None:
            processes, movements = load_fixtures()
        self.processes = processes
        self.movements = movements or {}
        self.mode = "ok"
        self.delay = 0.0
        self.retry_after = "0"
        self.page_size = 100
        self.fail_movement_page: int | None = None  # 1-based
        self.next_base: str | None = None
        self.count = 0
        self.paths: list[str] = []
        self.last_headers: dict[str, str] = {}
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.holding = threading.Event()  # set while a request waits in "hold"
        self.port = self._start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/api/v2"

    def set(self, mode: str, delay: float = 0.0) -> None:
        with self._lock:
            self.mode, self.delay = mode, delay
            if mode == "hold":
                self._release.clear()

    def fail_next(self, mode: str, times: int = 1) -> None:
        with self._lock:
            self._pending.extend([mode] * times)

    def release(self) -> None:
        self._release.set()

    def add(self, process: dict, movements: list[dict] | None = None) -> None:
        number = cnj.parse(process["numero_cnj"])
        self.processes[number] = process
        if movements is not None:
            self.movements[number] = movements

    def requested_numbers(self) -> list[str]:
        """The 20-digit numbers whose process route was asked for, in order."""
        return [cnj.parse(path[len(PREFIX):]) for path in self.paths
                if path.startswith(PREFIX) and "/movimentacoes" not in path]

    # -- answers -----------------------------------------------------------------------------------
    def _route(self, path: str, query: dict) -> tuple[int, dict]:
        if not path.startswith(PREFIX):
            return 404, {"error": "NotFound", "message": "Rota não encontrada"}
        rest = path[len(PREFIX):]
        number_text, _, tail = rest.partition("/")
        try:
            number = cnj.parse(number_text)
        except ValueError:
            return 422, {"error": "UnprocessableEntity", "message": "Número CNJ inválido"}
        if number not in self.processes:
            return 404, {"error": "NotFound", "message": "Processo não encontrado"}
        if not tail:
            return 200, self.processes[number]
        if tail != "movimentacoes":
            return 404, {"error": "NotFound", "message": "Rota não encontrada"}
        items = self.movements.get(number, [])
        size = min(int((query.get("limit") or ["100"])[0]), self.page_size)
        start = int((query.get("cursor") or ["0"])[0])
        page = start // size + 1
        if self.fail_movement_page == page:
            return 500, {"error": "InternalServerError"}
        body = {"items": items[start:start + size], "links": {"next": None}, "paginator": {"per_page": size}}
        if start + size < len(items):
            base = self.next_base or self.base_url
            body["links"]["next"] = f"{base}/processos/numero_cnj/{cnj.format(number)}/movimentacoes" \
                                    f"?cursor={start + size}&limit={size}"
        return 200, body

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - http.server names its handlers so
                parts = urlsplit(self.path)
                with fake._lock:
                    fake.count += 1
                    fake.paths.append(parts.path)
                    fake.last_headers = {k.lower(): v for k, v in self.headers.items()}
                    mode = fake._pending.pop(0) if fake._pending else fake.mode
                    delay = fake.delay
                if mode == "hold":
                    fake.holding.set()
                    fake._release.wait(10)
                elif delay:
                    fake._release.wait(delay)
                canned = {
                    "401": (401, {"error": "Unauthenticated."}),
                    "402": (402, {"error": "PaymentRequired", "message": "Você não possui saldo em crédito"}),
                    "429": (429, {"error": "TooManyRequests"}),
                    "500": (500, {"error": "InternalServerError"}),
                    "503": (503, {"error": "ServiceUnavailable"}),
                }
                extra = {}
                if mode in canned:
                    status, payload = canned[mode]
                    body = json.dumps(payload).encode()
                    if mode == "429":
                        extra["Retry-After"] = fake.retry_after
                elif mode == "html":
                    status, body = 200, b"<html><body>Manutencao</body></html>"
                else:
                    status, payload = fake._route(parts.path, parse_qs(parts.query))
                    body = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if mode == "html" else "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
