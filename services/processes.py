"""The process lookup: cache → database → provider, and still an answer when the provider is down.

`lookup(text, force_refresh=False)` (DESIGN.md, "The process lookup"):
1. the number is parsed and must be TJES's (utils.cnj raises InvalidCnj with the person's message);
2. a fresh cache entry (PROCESS_CACHE_TTL) answers at once;
3. a stored row younger than PROCESS_DB_TTL answers and refills the cache;
4. otherwise one call per number at a time (single flight across workers) goes to DataJud through
   the resilience layer: found → one transaction replaces the stored instances; not found → a
   negative cache entry (PROCESS_NEGATIVE_TTL); failed → the stored copy of any age, marked stale
   with the reason, or ProcessUnavailable when nothing is stored.
The answer is the API's JSON shape (see `routes_api.py` and /api/v1/openapi.json).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import Movement, Process, utcnow
from services import cache as cache_service
from services import datajud, timeline
from services.process_records import COURT_TIMEZONE, ProcessRecord
from services.resilience import DependencyUnavailable
from utils import cnj

log = logging.getLogger("portal.processes")
CACHE_NS = "processes"
MISSING_NS = "processes-missing"
FETCH_NS = "processes-fetch"  # the single-flight rendezvous: lives only seconds
FETCH_RENDEZVOUS_S = 5
STALE_RETRY_MIN_S, STALE_RETRY_MAX_S = 30, 300
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


def lookup(text: str, force_refresh: bool = False) -> LookupResult:
    number = cnj.parse(text)
    cache = cache_service.current()
    config = current_app.config
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
    deadline = config["DEPENDENCIES"]["datajud"]["deadline_s"] + 2
    outcome = cache.get_or_load(FETCH_NS, number, lambda: _fetch_and_store(number), ttl=FETCH_RENDEZVOUS_S,
                                deadline_s=deadline).value
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
    cache.set(CACHE_NS, number, stored, ttl=int(retry_in))
    return LookupResult(stored, reached_upstream=True)


def _note_read(number: str) -> None:
    """Keep `last_accessed_at` true enough for retention (days), writing at most once an hour per number."""
    cache = cache_service.current()
    if cache.get(READ_NOTED_NS, number) is not None:
        return
    try:
        db.session.execute(update(Process).where(Process.cnj == number).values(last_accessed_at=utcnow()))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not record a read of a stored process")
        return
    cache.set(READ_NOTED_NS, number, True, ttl=READ_NOTE_INTERVAL_S)


def _fetch_and_store(number: str) -> dict:
    """The single-flight loader: never raises, so every waiter gets the same outcome."""
    config = current_app.config
    try:
        records = datajud.fetch(number)
    except DependencyUnavailable as exc:
        log.warning("process source unavailable", extra={"dependency": exc.name, "reason": exc.reason})
        return {"status": "unavailable", "reason": _reason_for_people(exc),
                "retry_after_s": round(exc.retry_after_s or 60, 1)}
    cache = cache_service.current()
    if not records:
        _forget(number)
        cache.set(MISSING_NS, number, True, ttl=config["PROCESS_NEGATIVE_TTL"])
        cache.delete(CACHE_NS, number)
        return {"status": "not_found"}
    rows = _store(number, records)
    payload = _payload(number, rows)
    cache.set(CACHE_NS, number, payload, ttl=config["PROCESS_CACHE_TTL"])
    cache.delete(MISSING_NS, number)
    return {"status": "found", "payload": payload}


def _reason_for_people(exc: DependencyUnavailable) -> str:
    if exc.status == 401:
        return "a fonte (DataJud) recusou o acesso do portal; a equipe técnica foi avisada"
    return "a fonte (DataJud) está indisponível no momento"


def _store(number: str, records: list[ProcessRecord]) -> list[Process]:
    """Replace the stored instances of `number` in one transaction; on failure keep the old data."""
    now = utcnow()
    valid_until = now + timedelta(seconds=current_app.config["PROCESS_DB_TTL"])
    try:
        existing = {(row.source, row.source_id): row for row in
                    db.session.execute(select(Process).where(Process.cnj == number)).scalars()}
        rows = []
        for record in records:
            row = existing.pop((datajud.NAME, record.source_id), None) or Process(
                cnj=number, source=datajud.NAME, source_id=record.source_id)
            _fill(row, record, now, valid_until)
            db.session.add(row)
            rows.append(row)
        for gone in existing.values():  # an instance the source no longer lists
            db.session.delete(gone)
        db.session.commit()
        return rows
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not store a fetched process; serving it without storing")
        return [_fill(Process(cnj=number, source=datajud.NAME, source_id=r.source_id), r, now, valid_until)
                for r in records]


def _fill(row: Process, record: ProcessRecord, now: datetime, valid_until: datetime) -> Process:
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
        db.session.execute(delete(Process).where(Process.cnj == number))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not remove a process the source no longer lists")


def _stored_payload(number: str, valid_only: bool) -> dict | None:
    rows = list(db.session.execute(select(Process).where(Process.cnj == number)).scalars())
    if not rows:
        return None
    if valid_only and min(_aware(row.valid_until) for row in rows) <= utcnow():
        return None
    return _payload(number, rows)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat().replace("+00:00", "Z") if moment else None


_DEGREE_ORDER = {"G1": 0, "JE": 1, "G2": 2, "TR": 3}


def _payload(number: str, rows: list[Process]) -> dict:
    rows = sorted(rows, key=lambda row: (_DEGREE_ORDER.get(row.degree, 9), row.degree, row.source_id))
    restricted = any(row.restricted for row in rows)
    return {
        "cnj": cnj.format(number),
        "stale": False,
        "stale_reason": None,
        "fetched_at": _iso(min(_aware(row.fetched_at) for row in rows)),
        "source": rows[0].source,
        "restricted": restricted,
        # A restricted process shows its number and nothing else, whatever else the source sent.
        "instances": [] if restricted else [_instance(row) for row in rows],
    }


def _instance(row: Process) -> dict:
    from services.process_records import Movement as RecordMovement

    records = [RecordMovement(at=_aware(m.at), code=m.code, name=m.name, complements=tuple(m.complements),
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
