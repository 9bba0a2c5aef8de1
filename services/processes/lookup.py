"""The process lookup: cache → database → provider, and still an answer when the provider is down.

`lookup(text, force_refresh=False)` (DESIGN.md, "The process lookup"):
1. the number is parsed and must be TJES's (utils.cnj raises InvalidCnj with the person's message);
2. a fresh cache entry (PROCESS_CACHE_TTL) answers at once;
3. a stored row younger than PROCESS_DB_TTL answers and refills the cache;
4. otherwise one call per number at a time (single flight across workers) goes to the provider
   through the resilience layer: found → one transaction replaces the stored instances; not found → a
   negative cache entry (PROCESS_NEGATIVE_TTL); failed → the stored copy of any age, marked stale
   with the reason, or ProcessUnavailable when nothing is stored.
The answer is the API's JSON shape (see `routes_api.py` and /api/v1/openapi.json).

The provider is DataJud (services.processes.datajud), or Escavador (services.processes.escavador) when ESCAVADOR_API_KEY
is set; both give `fetch(cnj) -> list[ProcessRecord]`. `refresh(cnj)` is the same single-flight fetch
without the cache and store in front, for the sync job (services.processes.sync).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import Movement, ProcessInstance, utcnow
from services import cache as cache_service
from services.cache import CacheLoadTimeout
from services.processes import datajud, escavador, timeline
from services.processes.model import ProcessRecord, SourceMovement
from services.resilience import BreakerOpen, BulkheadFull, ClientRateLimited, DependencyUnavailable
from utils import cnj
from utils.dates import COURT_TIMEZONE, as_utc

log = logging.getLogger("portal.processes")
CACHE_NS = "processes"
MISSING_NS = "processes-missing"
FETCH_NS = "processes-fetch"  # the single-flight rendezvous: lives only seconds
# How long a finished fetch's outcome stays for the callers that were waiting on it (they poll every few ms).
# Longer would let a caller arriving after the fetch reuse its outcome, past the cache's own TTL.
FETCH_RENDEZVOUS_S = 1
STALE_RETRY_MIN_S, STALE_RETRY_MAX_S = 30, 300
# After its retry time an outage copy stays in the cache this long, served while one caller re-asks the source.
STALE_COPY_KEEP_S = 3600
READ_NOTED_NS = "processes-read"
READ_NOTE_INTERVAL_S = 3600


class ProcessNotFound(Exception):
    """DataJud has no public record of this number (or it is restricted, or not yet sent)."""


class ProcessUnavailable(Exception):
    """The source is down and nothing is stored for this number."""

    def __init__(self, reason: str, retry_after_s: float):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LookupResult:
    payload: dict
    reached_upstream: bool


def provider():
    """The provider module in use: Escavador when its key is set, else DataJud (the default)."""
    return escavador if current_app.config.get("ESCAVADOR_API_KEY") else datajud


class _RefreshGate:
    """Which numbers this process is asking the source about right now (one caller each)."""

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


def lookup(text: str, force_refresh: bool = False) -> LookupResult:
    number = cnj.parse(text)
    cache = cache_service.current()
    config = current_app.config
    entry = None
    if not force_refresh:
        entry = cache.get(CACHE_NS, number)
        if entry is not None and entry.fresh:
            _note_read(number)
            return LookupResult(entry.value, reached_upstream=False)
        if cache.get(MISSING_NS, number) is not None:
            raise ProcessNotFound(number)
        stored = _stored_payload(number, valid_only=True)
        if stored is not None:
            cache.set(CACHE_NS, number, stored, ttl=config["PROCESS_CACHE_TTL"])
            _note_read(number)
            return LookupResult(stored, reached_upstream=False)
    if not _refresh_gate.begin(number):
        # Another caller in this process is asking the source (the single flight spans the workers): give
        # the last copy at once rather than queue behind a source that may take seconds to answer or fail.
        copy = _copy_while_refreshing(number, entry) if not force_refresh else None
        if copy is not None:
            return LookupResult(copy, reached_upstream=False)
        return _ask_source(number, cache)
    try:
        return _ask_source(number, cache)
    finally:
        _refresh_gate.end(number)


def _copy_while_refreshing(number: str, entry) -> dict | None:
    if entry is not None and entry.value.get("stale"):
        return entry.value  # an outage copy: already says why it is old
    stored = _stored_payload(number, valid_only=False)
    if stored is not None:
        stored["stale"] = True
        stored["stale_reason"] = "a atualização pela fonte ainda está em andamento"
    return stored


def _ask_source(number: str, cache) -> LookupResult:
    outcome = _fetch_once(number)
    if outcome["status"] == "found":
        return LookupResult(outcome["payload"], reached_upstream=True)
    if outcome["status"] == "not_found":
        raise ProcessNotFound(number)
    stored = _stored_payload(number, valid_only=False)
    if stored is None:
        raise ProcessUnavailable(outcome["reason"], outcome["retry_after_s"])
    stored["stale"] = True
    stored["stale_reason"] = outcome["reason"]
    # Serve this stale answer from the cache until the source is worth asking again, so an outage
    # costs each number one upstream attempt per interval, not one per visitor.
    retry_in = min(max(outcome["retry_after_s"], STALE_RETRY_MIN_S), STALE_RETRY_MAX_S)
    cache.set(CACHE_NS, number, stored, ttl=int(retry_in), stale_ttl=STALE_COPY_KEEP_S)
    return LookupResult(stored, reached_upstream=True)


def refresh(text: str) -> dict:
    """Ask the provider now (single flight with any concurrent lookup) and store what it says.

    Returns the outcome: `{"status": "found" | "not_found" | "unavailable", ...}`; an unavailable one has
    `kind` ("breaker_open", "rate_limited" or "failed"), `error` (for logs) and `reason` (for people).
    """
    return _fetch_once(cnj.parse(text))


def _fetch_once(number: str) -> dict:
    source = provider()
    try:
        return cache_service.current().get_or_load(
            FETCH_NS, number, lambda: _fetch_and_store(number, source), ttl=FETCH_RENDEZVOUS_S,
            deadline_s=source.fetch_deadline_s() + 2).value
    except CacheLoadTimeout:
        # Another worker is still asking the source: answer as the source being slow, never as an error page.
        return {"status": "unavailable", "kind": "failed", "error": "waited too long for another worker's fetch",
                "reason": f"a fonte ({source.LABEL}) está demorando a responder", "retry_after_s": 30}


def _note_read(number: str) -> None:
    """Keep `last_accessed_at` true enough for retention (days), writing at most once an hour per number."""
    cache = cache_service.current()
    if cache.get(READ_NOTED_NS, number) is not None:
        return
    try:
        db.session.execute(update(ProcessInstance).where(ProcessInstance.cnj == number)
                           .values(last_accessed_at=utcnow()))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not record a read of a stored process")
        return
    cache.set(READ_NOTED_NS, number, True, ttl=READ_NOTE_INTERVAL_S)


def _fetch_and_store(number: str, source) -> dict:
    """The single-flight loader: never raises, so every waiter gets the same outcome."""
    config = current_app.config
    try:
        records = source.fetch(number)
    except DependencyUnavailable as exc:
        log.warning("process source unavailable", extra={"dependency": exc.name, "reason": exc.reason})
        kind = "breaker_open" if isinstance(exc, BreakerOpen) else \
            "rate_limited" if isinstance(exc, ClientRateLimited | BulkheadFull) else "failed"
        _note_failure(number, exc.reason)
        return {"status": "unavailable", "kind": kind, "error": exc.reason, "reason": _reason_for_people(exc, source),
                "retry_after_s": round(exc.retry_after_s or 60, 1)}
    cache = cache_service.current()
    if not records:
        _forget(number)
        cache.set(MISSING_NS, number, True, ttl=config["PROCESS_NEGATIVE_TTL"])
        cache.delete(CACHE_NS, number)
        return {"status": "not_found"}
    rows = _store(number, records, source.NAME)
    payload = _payload(number, rows)
    cache.set(CACHE_NS, number, payload, ttl=config["PROCESS_CACHE_TTL"])
    cache.delete(MISSING_NS, number)
    return {"status": "found", "payload": payload}


def _reason_for_people(exc: DependencyUnavailable, source) -> str:
    if exc.status in (401, 402):
        return f"a fonte ({source.LABEL}) recusou o acesso do portal; a equipe técnica foi avisada"
    if isinstance(exc, BulkheadFull):  # other lookups are waiting on it already: this one does not queue
        return f"a fonte ({source.LABEL}) está demorando a responder"
    return f"a fonte ({source.LABEL}) está indisponível no momento"


def _note_failure(number: str, error: str) -> None:
    """Mark the stored instances of `number` (if any) with the failed attempt, for staff and the dashboard."""
    try:
        db.session.execute(update(ProcessInstance).where(ProcessInstance.cnj == number)
                           .values(last_sync_status="error", last_sync_error=error[:500]))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not record a failed fetch of a stored process")


def _store(number: str, records: list[ProcessRecord], source: str) -> list[ProcessInstance]:
    """Replace the stored instances of `number` in one transaction; on failure keep the old data."""
    now = utcnow()
    valid_until = now + timedelta(seconds=current_app.config["PROCESS_DB_TTL"])
    try:
        existing = {(row.source, row.source_id): row for row in
                    db.session.execute(select(ProcessInstance).where(ProcessInstance.cnj == number)).scalars()}
        rows = []
        for record in records:
            row = existing.pop((source, record.source_id), None) or ProcessInstance(
                cnj=number, source=source, source_id=record.source_id)
            _fill(row, record, now, valid_until)
            db.session.add(row)
            rows.append(row)
        for gone in existing.values():  # an instance the source no longer lists, or another provider's
            db.session.delete(gone)
        db.session.commit()
        return rows
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not store a fetched process; serving it without storing")
        return [_fill(ProcessInstance(cnj=number, source=source, source_id=r.source_id), r, now, valid_until)
                for r in records]


def _fill(row: ProcessInstance, record: ProcessRecord, now: datetime, valid_until: datetime) -> ProcessInstance:
    row.degree = record.degree
    row.class_code = record.process_class.code if record.process_class else None
    row.class_name = record.process_class.name if record.process_class else None
    row.subjects = [{"code": s.code, "name": s.name} for s in record.subjects]
    row.judging_body_code = record.judging_body.code if record.judging_body else None
    row.judging_body_name = record.judging_body.name if record.judging_body else None
    row.filed_at = record.filed_at
    row.secrecy_level = record.secrecy_level
    row.restricted = record.restricted
    row.upstream_updated_at = record.updated_at
    row.fetched_at = now
    row.valid_until = valid_until
    row.last_sync_status = "ok"
    row.last_sync_error = None
    row.last_accessed_at = now
    row.raw = record.raw
    row.movements = [Movement(at=m.at, code=m.code, name=m.name, complements=list(m.complements), position=m.position)
                     for m in record.movements]
    return row


def _forget(number: str) -> None:
    try:
        db.session.execute(delete(ProcessInstance).where(ProcessInstance.cnj == number))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not remove a process the source no longer lists")


def _stored_payload(number: str, valid_only: bool) -> dict | None:
    rows = list(db.session.execute(select(ProcessInstance).where(ProcessInstance.cnj == number)).scalars())
    if not rows:
        return None
    if valid_only and min(as_utc(row.valid_until) for row in rows) <= utcnow():
        return None
    return _payload(number, rows)



def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


_DEGREE_ORDER = {"G1": 0, "JE": 1, "G2": 2, "TR": 3}


def _payload(number: str, rows: list[ProcessInstance]) -> dict:
    rows = sorted(rows, key=lambda row: (_DEGREE_ORDER.get(row.degree, 9), row.degree, row.source_id))
    restricted = any(row.restricted for row in rows)
    return {
        "cnj": cnj.format(number),
        "stale": False,
        "stale_reason": None,
        "fetched_at": _iso(min(as_utc(row.fetched_at) for row in rows)),
        "source": rows[0].source,
        "restricted": restricted,
        # A restricted process shows its number and nothing else, whatever else the source sent.
        "instances": [] if restricted else [_instance(row) for row in rows],
    }


def _instance(row: ProcessInstance) -> dict:
    records = [SourceMovement(at=as_utc(m.at), code=m.code, name=m.name, complements=tuple(m.complements),
                              position=m.position) for m in row.movements]
    movements = [{"date": item.date.astimezone(UTC).isoformat().replace("+00:00", "Z"), "code": item.code,
                  "name": item.name, "complements": list(item.complements), "category": item.category}
                 for day in timeline.build_timeline(records) for item in day.items]
    return {
        "degree": row.degree,
        "class": {"code": row.class_code, "name": row.class_name},
        "subjects": row.subjects,
        "judging_body": {"code": row.judging_body_code, "name": row.judging_body_name},
        "filed_at": _iso(row.filed_at),
        "updated_at": _iso(row.upstream_updated_at),
        "movements": movements,
    }


@dataclass(frozen=True)
class PageMovement:
    at: datetime  # in the court's time zone
    name: str
    complements: list[str]
    category: str
    label: str
    explanation: str


def days(instance: dict) -> list[tuple[datetime, list[PageMovement]]]:
    """An instance's movements for the page: by the court's calendar day, newest first."""
    grouped: dict = {}
    for movement in instance["movements"]:
        local = datetime.fromisoformat(movement["date"].replace("Z", "+00:00")).astimezone(COURT_TIMEZONE)
        grouped.setdefault(local.date(), []).append(PageMovement(
            local, movement["name"], movement["complements"], movement["category"],
            timeline.category_label(movement["category"]), timeline.explanation(movement["category"])))
    return list(grouped.items())
