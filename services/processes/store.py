"""The stored copies of processes: written when a provider answers, read by the lookup, kept for retention.

One number may have several `ProcessInstance` rows (one per grau and provider); a refresh replaces them all in one
transaction, and a failed write keeps the old copy. `payload(number)` builds the API's shape from the rows; the
timeline (categories, duplicates collapsed) is computed here, once per stored version, not per request.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import Movement, ProcessInstance, utcnow
from services import cache as cache_service
from services.processes import timeline
from services.processes.contract import ProcessPayload
from services.processes.model import ProcessRecord, SourceMovement
from utils import cnj
from utils.dates import iso_z

log = logging.getLogger("portal.processes")
READ_NOTED_NS = "processes-read"
READ_NOTE_INTERVAL_S = 3600
_DEGREE_ORDER = {"G1": 0, "JE": 1, "G2": 2, "TR": 3}


def note_read(number: str) -> None:
    """Keep `last_accessed_at` true enough for retention (days), writing at most once an hour per number."""
    cache = cache_service.current()
    if cache.held(READ_NOTED_NS, number):
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


def note_failure(number: str, error: str) -> None:
    """Mark the stored instances of `number` (if any) with the failed attempt, for staff and the dashboard."""
    try:
        db.session.execute(update(ProcessInstance).where(ProcessInstance.cnj == number)
                           .values(last_sync_status="error", last_sync_error=error[:500]))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not record a failed fetch of a stored process")


def replace(number: str, records: list[ProcessRecord], source: str) -> list[ProcessInstance]:
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


def forget(number: str) -> None:
    try:
        db.session.execute(delete(ProcessInstance).where(ProcessInstance.cnj == number))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not remove a process the source no longer lists")


def stored_payload(number: str, valid_only: bool) -> ProcessPayload | None:
    """The stored copy of `number`, or None; with `valid_only`, None once any instance is past its validity."""
    rows = list(db.session.execute(select(ProcessInstance).where(ProcessInstance.cnj == number)).scalars())
    if not rows:
        return None
    if valid_only and min(row.valid_until for row in rows) <= utcnow():
        return None
    return payload(number, rows)




_DEGREE_ORDER = {"G1": 0, "JE": 1, "G2": 2, "TR": 3}


def payload(number: str, rows: list[ProcessInstance]) -> ProcessPayload:
    rows = sorted(rows, key=lambda row: (_DEGREE_ORDER.get(row.degree, 9), row.degree, row.source_id))
    restricted = any(row.restricted for row in rows)
    return ProcessPayload(
        cnj=cnj.format(number),
        stale=False,
        stale_reason=None,
        fetched_at=iso_z(min(row.fetched_at for row in rows)),
        source=rows[0].source,
        restricted=restricted,
        # A restricted process shows its number and nothing else, whatever else the provider sent.
        instances=() if restricted else tuple(_instance(row) for row in rows),
    )


def _instance(row: ProcessInstance) -> dict:
    records = [SourceMovement(at=m.at, code=m.code, name=m.name, complements=tuple(m.complements),
                              position=m.position) for m in row.movements]
    movements = [{"date": iso_z(item.date), "code": item.code,
                  "name": item.name, "complements": list(item.complements), "category": item.category}
                 for day in timeline.build_timeline(records) for item in day.items]
    return {
        "degree": row.degree,
        "class": {"code": row.class_code, "name": row.class_name},
        "subjects": row.subjects,
        "judging_body": {"code": row.judging_body_code, "name": row.judging_body_name},
        "filed_at": iso_z(row.filed_at),
        "updated_at": iso_z(row.upstream_updated_at),
        "movements": movements,
    }
