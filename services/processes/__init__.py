"""Processes: a TJES process looked up by its CNJ number, kept fresh, and shown in plain language.

This package owns the whole process capability:
- `lookup` — `lookup(cnj)` = cache ▶ stored copy ▶ provider, stale-if-error, single flight; `refresh(cnj)` for the sync;
- `contract` — what callers get: `ProcessPayload` (the API's shape), `LookupResult`, `FetchOutcome`, the errors;
- `store` — the stored copies (`models.ProcessInstance`, one per grau) and the payload built from them;
- `model` — the neutral model every provider produces (`ProcessRecord`, `SourceMovement`, `CodeName`);
- `datajud` — CNJ's DataJud client and the parser of its search answers (the default provider);
- `escavador` — Escavador's API v2 client and parser (the provider when `ESCAVADOR_API_KEY` is set);
- `calls` — the requests a provider actually sent, counted for the sync's daily budget;
- `timeline` — movement codes walked up CNJ's movement table to plain-language categories, and the page's days;
- `summary` — what the process page says first: where the process is now, its latest movement, how long ago;
- `follows` — the staff's follow list; `sync` — the background refresh of followed processes, and retention.
"""
from services.processes.contract import (
    FetchOutcome,
    FetchStatus,
    LookupResult,
    ProcessNotFound,
    ProcessPayload,
    ProcessUnavailable,
    Unavailability,
    provider_label,
)
from services.processes.lookup import CACHE_NS, FETCH_NS, lookup, provider, refresh
from services.processes.summary import by_year, movement_label, official_name, summarize
from services.processes.timeline import days

__all__ = ["CACHE_NS", "FETCH_NS", "FetchOutcome", "FetchStatus", "LookupResult", "ProcessNotFound",
           "ProcessPayload", "ProcessUnavailable", "Unavailability", "by_year", "days", "lookup", "movement_label",
           "official_name", "provider", "provider_label", "refresh", "summarize"]
