"""The process lookup: cache → database → provider, and still an answer when the provider is down.

`lookup(text, force_refresh=False)` (DESIGN.md, "The process lookup"):
1. the number is parsed and must be TJES's (utils.cnj raises InvalidCnj with the person's message);
2. a fresh cache entry (PROCESS_CACHE_TTL) answers at once;
3. a stored row younger than PROCESS_DB_TTL answers and refills the cache;
4. otherwise one call per number at a time (single flight across workers) goes to the provider
   through the resilience layer: found → one transaction replaces the stored instances; not found → a
   negative cache entry (PROCESS_NEGATIVE_TTL); failed → the stored copy of any age, marked stale
   with the reason, or ProcessUnavailable when nothing is stored.
The answer is a `LookupResult` whose `ProcessPayload` is the API's JSON shape (services.processes.contract);
the only exceptions a caller sees are InvalidCnj, ProcessNotFound and ProcessUnavailable.

The provider is DataJud (services.processes.datajud), or Escavador (services.processes.escavador) when ESCAVADOR_API_KEY
is set; both give `fetch(cnj) -> list[ProcessRecord]`. `refresh(cnj)` is the same single-flight fetch
without the cache and store in front, for the sync job (services.processes.sync).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import current_app

from services import cache as cache_service
from services import resilience
from services.cache import CacheLoadTimeout
from services.processes import datajud, escavador, store
from services.processes.contract import (
    FetchOutcome,
    FetchStatus,
    LookupResult,
    ProcessNotFound,
    ProcessPayload,
    ProcessUnavailable,
    Unavailability,
)
from services.resilience import BreakerOpen, BulkheadFull, ClientRateLimited, DependencyUnavailable
from services.resilience.breaker import State
from utils import cnj

log = logging.getLogger("portal.processes")
CACHE_NS = "processes"
MISSING_NS = "processes-missing"
FETCH_NS = "processes-fetch"  # the single-flight rendezvous: lives only seconds
# How long a finished fetch's outcome stays for the callers that were waiting on it (they poll every few ms).
# Longer would let a caller arriving after the fetch reuse its outcome, past the cache's own TTL.
FETCH_RENDEZVOUS_S = 1
STALE_RETRY_MIN_S, STALE_RETRY_MAX_S = 30, 300
# After its retry time an outage copy stays in the cache this long, served while one caller re-asks the provider.
STALE_COPY_KEEP_S = 3600
REFRESHING_REASON = "a atualização pela fonte ainda está em andamento"


def provider():
    """The provider module in use: Escavador when its key is set, else DataJud (the default)."""
    return escavador if current_app.config.get("ESCAVADOR_API_KEY") else datajud


class _RefreshGate:
    """Which numbers this process is asking the provider about right now (one caller each)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._numbers: set[str] = set()

    def begin(self, number: str) -> bool:
        with self._lock:
            if number in self._numbers:
                return False
            self._numbers.add(number)
            return True

    def end(self, number: str) -> None:
        with self._lock:
            self._numbers.discard(number)


_refresh_gate = _RefreshGate()


def lookup(text: str, force_refresh: bool = False,
           before_provider: Callable[[], None] | None = None) -> LookupResult:
    """The process numbered `text`. `before_provider` is called only when the provider may be asked (the caller's
    rate limit: answers from the cache or the stored copy never call it); whatever it raises ends the lookup. The
    result's `reached_provider` (or ProcessNotFound's) says whether the provider answered this lookup."""
    number = cnj.parse(text)
    cache = cache_service.current()
    config = current_app.config
    cached = None
    if not force_refresh:
        held = cache.recent(CACHE_NS, number)  # this process decoded it less than a second ago
        if held is not None:
            store.note_read(number)
            return LookupResult(held, reached_provider=False)
        entry = cache.get(CACHE_NS, number)
        cached = ProcessPayload.from_json(entry.value) if entry is not None else None
        if cached is not None and entry.fresh:
            cache.remember(CACHE_NS, number, cached)
            store.note_read(number)
            return LookupResult(cached, reached_provider=False)
        if cache.get(MISSING_NS, number) is not None:
            raise ProcessNotFound(number, provider().NAME, reached_provider=False)
        stored = store.stored_payload(number, valid_only=True)
        if stored is not None:
            cache.set(CACHE_NS, number, stored.as_json(), ttl=config["PROCESS_CACHE_TTL"])
            store.note_read(number)
            return LookupResult(stored, reached_provider=False)
    if not _refresh_gate.begin(number):
        # Another caller in this process is asking the provider (the single flight spans the workers): give
        # the last copy at once rather than queue behind a provider that may take seconds to answer or fail.
        copy = _copy_while_refreshing(number, cached) if not force_refresh else None
        if copy is not None:
            return LookupResult(copy, reached_provider=False)
        _spend(before_provider)
        return _ask_provider(number, cache)
    try:
        _spend(before_provider)
        return _ask_provider(number, cache)
    finally:
        _refresh_gate.end(number)


def _spend(before_provider: Callable[[], None] | None) -> None:
    """Let the caller refuse the provider call (its budget), unless the breaker will refuse it (nothing is sent)."""
    if before_provider is None:
        return
    if resilience.dependency(provider().NAME).breaker.state in (State.OPEN, State.FORCED_OPEN):
        return
    before_provider()


def _copy_while_refreshing(number: str, cached: ProcessPayload | None) -> ProcessPayload | None:
    if cached is not None and cached.stale:
        return cached  # an outage copy: already says why it is old
    stored = store.stored_payload(number, valid_only=False)
    return stored.as_stale(REFRESHING_REASON) if stored is not None else None


def _ask_provider(number: str, cache) -> LookupResult:
    outcome = _fetch_once(number)
    if outcome.status is FetchStatus.FOUND:
        return LookupResult(outcome.payload, reached_provider=True)
    if outcome.status is FetchStatus.NOT_FOUND:
        raise ProcessNotFound(number, provider().NAME, reached_provider=True)
    stored = store.stored_payload(number, valid_only=False)
    if stored is None:
        raise ProcessUnavailable(outcome.reason, outcome.retry_after_s)
    stale = stored.as_stale(outcome.reason)
    # Serve this stale answer from the cache until the provider is worth asking again, so an outage
    # costs each number one provider attempt per interval, not one per visitor.
    retry_in = min(max(outcome.retry_after_s, STALE_RETRY_MIN_S), STALE_RETRY_MAX_S)
    cache.set(CACHE_NS, number, stale.as_json(), ttl=int(retry_in), stale_ttl=STALE_COPY_KEEP_S)
    return LookupResult(stale, reached_provider=not outcome.kind.nothing_sent)


def refresh(text: str) -> FetchOutcome:
    """Ask the provider now (single flight with any concurrent lookup) and store what it says."""
    return _fetch_once(cnj.parse(text))


def _fetch_once(number: str) -> FetchOutcome:
    source = provider()
    try:
        document = cache_service.current().get_or_load(
            FETCH_NS, number, lambda: _fetch_and_store(number, source).as_json(), ttl=FETCH_RENDEZVOUS_S,
            deadline_s=source.fetch_deadline_s() + 2).value
    except CacheLoadTimeout:
        # Another worker is still asking the provider: answer as the provider being slow, never as an error page.
        return FetchOutcome.unavailable(Unavailability.FAILED, "waited too long for another worker's fetch",
                                        f"a fonte ({source.LABEL}) está demorando a responder", 30)
    return FetchOutcome.from_json(document)


def _fetch_and_store(number: str, source) -> FetchOutcome:
    """The single-flight loader: never raises, so every waiter gets the same outcome."""
    config = current_app.config
    try:
        records = source.fetch(number)
    except DependencyUnavailable as exc:
        log.warning("provider unavailable", extra={"dependency": exc.name, "reason": exc.reason})
        store.note_failure(number, exc.reason)
        return FetchOutcome.unavailable(_unavailability(exc), exc.reason, _reason_for_people(exc, source),
                                        round(exc.retry_after_s or 60, 1))
    cache = cache_service.current()
    if not records:
        store.forget(number)
        cache.set(MISSING_NS, number, True, ttl=config["PROCESS_NEGATIVE_TTL"])
        cache.delete(CACHE_NS, number)
        return FetchOutcome.not_found()
    payload = store.payload(number, store.replace(number, records, source.NAME))
    cache.set(CACHE_NS, number, payload.as_json(), ttl=config["PROCESS_CACHE_TTL"])
    cache.delete(MISSING_NS, number)
    return FetchOutcome.found(payload)


def _unavailability(exc: DependencyUnavailable) -> Unavailability:
    if isinstance(exc, BreakerOpen):
        return Unavailability.BREAKER_OPEN
    if isinstance(exc, BulkheadFull):
        return Unavailability.BULKHEAD_FULL
    if isinstance(exc, ClientRateLimited):
        return Unavailability.RATE_LIMITED
    return Unavailability.FAILED


def _reason_for_people(exc: DependencyUnavailable, source) -> str:
    if exc.status in (401, 402):
        return f"a fonte ({source.LABEL}) recusou o acesso do portal; a equipe técnica foi avisada"
    if isinstance(exc, BulkheadFull):  # other lookups are waiting on it already: this one does not queue
        return f"a fonte ({source.LABEL}) está demorando a responder"
    return f"a fonte ({source.LABEL}) está indisponível no momento"
