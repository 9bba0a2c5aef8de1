"""CNJ's DataJud public API as a provider: `fetch(cnj) -> list[ProcessRecord]` (empty = not found).

Every call goes through the resilience layer (breaker, retries, deadline). Zero hits means "not
found, or restricted, or not yet sent by the court": DataJud answers all three the same way. A 401
means CNJ rotated the public key: logged as an alert for admins, shown to citizens as the source
being unavailable, never as "not found".
"""
from __future__ import annotations

import json
import logging

from flask import current_app

from services import resilience
from services.process_records import MalformedResponse as UnusablePayload
from services.process_records import ProcessRecord, parse_datajud_search, send_counted
from services.resilience import DependencyUnavailable, MalformedResponse

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
