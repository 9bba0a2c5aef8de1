"""Processes: a TJES process looked up by its CNJ number, kept fresh, and shown in plain language.

This package owns the whole process capability:
- `lookup` — `lookup(cnj)` = cache ▶ database ▶ provider, stale-if-error, single flight; `refresh(cnj)` for the sync;
- `model` — the neutral domain model every provider produces (`ProcessRecord`, `RecordedMovement`, `CodeName`);
- `datajud` — CNJ's DataJud client and the parser of its search responses (the default provider);
- `escavador` — Escavador's API v2 client and parser (the provider when `ESCAVADOR_API_KEY` is set);
- `timeline` — movement codes walked up CNJ's movement table to plain-language categories;
- `follows` — the staff's follow list; `sync` — the background refresh of followed processes and retention.
"""
from services.processes.lookup import (
    CACHE_NS,
    FETCH_NS,
    LookupResult,
    ProcessNotFound,
    ProcessUnavailable,
    days,
    lookup,
    provider,
    refresh,
)

__all__ = ["CACHE_NS", "FETCH_NS", "LookupResult", "ProcessNotFound", "ProcessUnavailable", "days", "lookup",
           "provider", "refresh"]
