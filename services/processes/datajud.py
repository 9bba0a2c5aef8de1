"""CNJ's DataJud public API as a provider: `fetch(cnj) -> list[ProcessRecord]` (empty = not found), and its parser.

Every call goes through the resilience layer (breaker, retries, deadline). Zero hits means "not
found, or restricted, or not yet sent by the court": DataJud answers all three the same way. A 401
means CNJ rotated the public key: logged as an alert for admins, shown to citizens as the source
being unavailable, never as "not found".
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import current_app

from services import resilience
from services.processes.calls import send_counted
from services.processes.model import CodeName, ProcessRecord, SourceMovement, degree_rank
from services.resilience import DependencyUnavailable, MalformedResponse
from utils.dates import parse_datetime

log = logging.getLogger("portal.datajud")
NAME = "datajud"
LABEL = "DataJud"
SEARCH_PATH = "/api_publica_tjes/_search"


def _json_with_hits(response) -> None:
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponse("the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("hits"), dict):
        raise MalformedResponse("no hits object")


def fetch_deadline_s() -> float:
    """The longest a fetch may take: one search call, retries included."""
    return current_app.config["DEPENDENCIES"][NAME]["deadline_s"]


def fetch(cnj: str) -> list[ProcessRecord]:
    """The instances DataJud holds for a 20-digit TJES number; raises DependencyUnavailable."""
    response = send_counted(
        resilience.dependency(NAME), "POST", SEARCH_PATH,
        json={"query": {"match": {"numeroProcesso": cnj}}, "size": 10},
        headers={"Authorization": f"APIKey {current_app.config['DATAJUD_API_KEY']}"},
        idempotent=True,  # a search: safe to repeat
        validate=_json_with_hits,
    )
    if response.status_code == 401:
        log.error("DataJud refused the API key (HTTP 401): update DATAJUD_API_KEY from the DataJud wiki",
                  extra={"alert": "datajud_api_key"})
        raise DependencyUnavailable(NAME, "API key refused (401)", status=401)
    if response.status_code != 200:
        raise DependencyUnavailable(NAME, f"unexpected HTTP {response.status_code}", status=response.status_code)
    try:
        return parse_datajud_search(response.json(), cnj)
    except UnusablePayload as exc:
        raise DependencyUnavailable(NAME, f"unusable answer: {exc}") from None


# --- The parser of DataJud's `_search` answers ------------------------------------------------------------------
# It survives every quirk listed in ../shared/fixtures/README.md: several hits per number, absent, unsorted or
# duplicated movements, ISO dates with any fraction and the compact `YYYYMMDDhhmmss` form, nested or empty
# `assuntos`, string-or-number codes, complement labels taken from `nome` only.


class UnusablePayload(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason



def parse_datajud_search(payload: Any, cnj: str) -> list[ProcessRecord]:
    """One record per hit of `cnj` in a DataJud `_search` response, ordered G1, G2, JE, TR, then others.

    Hits of another number are ignored; raises `UnusablePayload` when `payload` is not a search response.
    """
    wanted = _digits(cnj)
    if len(wanted) != 20:
        raise ValueError("expected the 20 digits of a CNJ number")
    if not isinstance(payload, dict):
        raise UnusablePayload(f"expected a JSON object, got {type(payload).__name__}")
    if "error" in payload:
        raise UnusablePayload(f"search error: {_error_reason(payload['error'])}")
    hits = payload.get("hits")
    hits = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(hits, list):
        raise UnusablePayload("no hits.hits list in the response")

    records: dict[str, ProcessRecord] = {}
    for index, hit in enumerate(hits):
        source = hit.get("_source") if isinstance(hit, dict) else None
        if not isinstance(source, dict) or _number_of(source) != wanted:
            continue
        record = _record(hit, source, wanted, index)
        records.setdefault(record.source_id, record)  # the same document twice is one instance
    return sorted(records.values(), key=degree_rank)


def parse_movement(item: Any, position: int) -> SourceMovement | None:
    """A DataJud `movimentos[]` item, or None when it has no usable date (it could not be placed in time)."""
    if not isinstance(item, dict):
        return None
    at = parse_datetime(item.get("dataHora"))
    if at is None:
        return None
    return SourceMovement(at=at, code=_code(item.get("codigo")), name=_text(item.get("nome")) or "",
                    complements=_complements(item.get("complementosTabelados")), position=position)



def _record(hit: dict, source: dict, cnj: str, index: int) -> ProcessRecord:
    degree = (_text(source.get("grau")) or "").upper()
    source_id = _text(hit.get("_id")) or _text(source.get("id")) or f"{degree or 'NA'}_{cnj}_{index}"
    return ProcessRecord(
        cnj=cnj,
        source_id=source_id,
        degree=degree,
        process_class=_code_name(source.get("classe")),
        subjects=_subjects(source.get("assuntos")),
        judging_body=_code_name(source.get("orgaoJulgador")),
        filed_at=parse_datetime(source.get("dataAjuizamento")),
        updated_at=parse_datetime(source.get("dataHoraUltimaAtualizacao")),
        secrecy_level=_secrecy_level(source.get("nivelSigilo")),
        system=_system(source.get("sistema")),
        movements=_movements(source.get("movimentos")),
        raw=hit,
    )


def _movements(items: Any) -> tuple[SourceMovement, ...]:
    if not isinstance(items, list):
        return ()
    parsed = [movement for position, item in enumerate(items) if (movement := parse_movement(item, position))]
    # The source's order means nothing; a later position wins a tie, as the later record of the same instant.
    return tuple(sorted(parsed, key=lambda m: (m.at, m.position), reverse=True))


def _complements(items: Any) -> tuple[str, ...]:
    """Human labels only: `nome` ("para decisão"); `descricao` is a variable name ("tipo_de_conclusao")."""
    if not isinstance(items, list):
        return ()
    labels = []
    for item in items:
        if not isinstance(item, dict):
            continue
        label = _text(item.get("nome"))
        if label is None and isinstance(item.get("valor"), str) and not item["valor"].strip().isdigit():
            label = _text(item["valor"])  # a free-text complement carries its words in `valor`
        if label:
            labels.append(label)
    return tuple(labels)


def _subjects(value: Any) -> tuple[CodeName, ...]:
    found: list[CodeName] = []

    def walk(item: Any, depth: int) -> None:
        if isinstance(item, dict):
            subject = _code_name(item)
            if subject and subject not in found:
                found.append(subject)
        elif isinstance(item, list) and depth < 4:  # a list of lists seen; deeper would be garbage
            for inner in item:
                walk(inner, depth + 1)

    walk(value, 0)
    return tuple(found)


def _code_name(value: Any) -> CodeName | None:
    if not isinstance(value, dict):
        return None
    code, name = _code(value.get("codigo")), _text(value.get("nome"))
    if code is None and name is None:
        return None
    return CodeName(code=code, name=name or "")


def _system(value: Any) -> str | None:
    if not isinstance(value, dict) or _code(value.get("codigo")) == -1:
        return None  # TJES sends -1 "Inválido": the source does not know, and neither do we
    return _text(value.get("nome"))


def _secrecy_level(value: Any) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(str(value).strip()))
    except ValueError:
        return 1  # an unreadable level is treated as secret: privacy fails closed


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _digits(value: str) -> str:
    return "".join(ch for ch in value if "0" <= ch <= "9")


def _number_of(source: dict) -> str:
    number = source.get("numeroProcesso")
    if isinstance(number, int) and not isinstance(number, bool):
        return f"{number:020d}"  # a number sent as JSON integer has lost its leading zeros
    return _digits(number) if isinstance(number, str) else ""


def _error_reason(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or "unknown")[:200]
    return str(error)[:200]

