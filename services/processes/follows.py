"""The staff's follow list: which processes the court keeps fresh, and how each one is going."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import FollowedProcess, Movement, ProcessInstance, utcnow
from services.processes import timeline
from utils import cnj
from utils.dates import COURT_TIMEZONE, as_utc

MAX_NUMBERS_PER_PASTE = 50


@dataclass(frozen=True)
class Verdict:
    line: str
    number: str | None  # the formatted CNJ number, when the line held one
    outcome: str  # "added" | "already" | "repeated" | "invalid"
    message: str


@dataclass(frozen=True)
class FollowedRow:
    number: str  # formatted
    added_at: datetime
    class_name: str | None
    judging_body: str | None
    last_movement_at: datetime | None
    last_movement_name: str | None
    last_movement_plain: str | None
    idle_days: int | None  # "parado há N dias": days since the last movement
    fetched_at: datetime | None
    sync_status: str | None
    sync_error: str | None
    restricted: bool


class TooManyNumbers(ValueError):
    pass


def pasted_items(text: str | None) -> list[str]:
    """The numbers of a paste, in order: one or more per line, separated by ";", "," or spaces.

    A piece of a line that holds no CNJ-shaped number is kept whole, so that it gets its own verdict."""
    items = []
    for line in (text or "").splitlines():
        for chunk in re.split(r"[;,]", line):
            chunk = chunk.strip()
            if not chunk:
                continue
            items.extend(cnj.find_all(chunk) or [chunk])
    return items


def follow_many(text: str, user_id: int | None, _attempt: int = 0) -> list[Verdict]:
    """One verdict per number (several per line allowed); all valid new numbers are added in one transaction."""
    lines = pasted_items(text)
    if len(lines) > MAX_NUMBERS_PER_PASTE:
        raise TooManyNumbers(f"Cole até {MAX_NUMBERS_PER_PASTE} números por vez; foram {len(lines)}. "
                             "Nenhum número foi adicionado.")
    already = set(db.session.scalars(select(FollowedProcess.cnj)))
    verdicts, seen = [], set()
    for line in lines:
        shown = line[:60]
        try:
            number = cnj.parse(line)
        except cnj.InvalidCnj as exc:
            verdicts.append(Verdict(shown, None, "invalid", exc.message))
            continue
        formatted = cnj.format(number)
        if number in seen:
            verdicts.append(Verdict(shown, formatted, "repeated", "Repetido nesta lista; considerado uma vez."))
        elif number in already:
            verdicts.append(Verdict(shown, formatted, "already", "Já estava na lista de acompanhamento."))
        else:
            db.session.add(FollowedProcess(cnj=number, added_by_id=user_id))
            verdicts.append(Verdict(shown, formatted, "added",
                                    "Adicionado. Os dados são atualizados pela sincronização automática."))
        seen.add(number)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone else added one of these numbers at the same moment: keep theirs, report it as already there.
        db.session.rollback()
        if _attempt >= 2:
            raise
        return follow_many(text, user_id, _attempt + 1)
    return verdicts


def unfollow(text: str) -> str:
    """Remove a number from the list; returns the formatted number. Its stored data then ages out normally."""
    number = cnj.parse(text)
    removed = db.session.execute(delete(FollowedProcess).where(FollowedProcess.cnj == number)).rowcount
    db.session.commit()
    if not removed:
        raise LookupError(number)
    return cnj.format(number)


def is_followed(number: str) -> bool:
    return db.session.scalar(select(FollowedProcess.id).where(FollowedProcess.cnj == number)) is not None


def followed_rows(now: datetime | None = None) -> list[FollowedRow]:
    now = now or utcnow()
    latest = (
        select(ProcessInstance.cnj.label("cnj"), Movement.at.label("at"), Movement.code.label("code"),
               Movement.name.label("name"),
               func.row_number().over(partition_by=ProcessInstance.cnj,
                                      order_by=(Movement.at.desc(), Movement.position.desc())).label("rank"))
        .join(Movement, Movement.process_id == ProcessInstance.id)
        .subquery()
    )
    last_movements = {row.cnj: row for row in db.session.execute(
        select(latest.c.cnj, latest.c.at, latest.c.code, latest.c.name).where(latest.c.rank == 1))}
    instances: dict[str, list[ProcessInstance]] = {}
    followed = select(ProcessInstance).join(FollowedProcess, FollowedProcess.cnj == ProcessInstance.cnj)
    for process in db.session.scalars(followed):
        instances.setdefault(process.cnj, []).append(process)
    rows = []
    for follow in db.session.scalars(select(FollowedProcess).order_by(FollowedProcess.added_at.desc(),
                                                                     FollowedProcess.id.desc())):
        stored = sorted(instances.get(follow.cnj, []), key=lambda p: p.degree)
        last = last_movements.get(follow.cnj)
        restricted = any(p.restricted for p in stored)
        last_at = as_utc(last.at) if last and not restricted else None
        rows.append(FollowedRow(
            number=cnj.format(follow.cnj),
            added_at=as_utc(follow.added_at),
            class_name=None if restricted else next((p.class_name for p in stored if p.class_name), None),
            judging_body=None if restricted else next((p.judging_body_name for p in stored if p.judging_body_name),
                                                      None),
            last_movement_at=last_at,
            last_movement_name=last.name if last_at else None,
            last_movement_plain=timeline.category_label(timeline.category_of(last.code)) if last_at else None,
            idle_days=(now - last_at).days if last_at else None,
            fetched_at=max((as_utc(p.fetched_at) for p in stored), default=None),
            sync_status=_worst_status(stored),
            sync_error=next((p.last_sync_error for p in stored if p.last_sync_error), None),
            restricted=restricted,
        ))
    return rows


def csv_export(rows: list[FollowedRow]) -> str:
    """Semicolon-separated with a BOM: what Excel in pt-BR opens correctly by double-click."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["processo", "classe", "orgao_julgador", "ultima_movimentacao_data", "ultima_movimentacao",
                     "categoria", "parado_ha_dias", "consultado_em", "situacao_sincronizacao", "acompanhado_desde"])
    for row in rows:
        writer.writerow([
            row.number, _safe_cell(row.class_name), _safe_cell(row.judging_body),
            _local(row.last_movement_at), _safe_cell(row.last_movement_name), row.last_movement_plain or "",
            "" if row.idle_days is None else row.idle_days, _local(row.fetched_at), row.sync_status or "",
            _local(row.added_at),
        ])
    return "\ufeff" + out.getvalue()


def _safe_cell(value: str | None) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell may not start with = + - @ or a tab."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(COURT_TIMEZONE).strftime("%d/%m/%Y %H:%M")


def _worst_status(stored: list[ProcessInstance]) -> str | None:
    if not stored:
        return None
    statuses = {p.last_sync_status for p in stored}
    return next((s for s in ("error", "not_found", "stale") if s in statuses), stored[0].last_sync_status)


def refresh_for_staff(number: str) -> dict:
    """A staff "atualizar agora", as a job on the high queue: ask the provider now, store the answer, and say how it
    went in JSON (the view turns it into the message)."""
    from services import processes

    try:
        result = processes.lookup(number, force_refresh=True)
    except processes.ProcessNotFound as exc:
        return {"status": "not_found", "number": cnj.format(exc.number), "provider": exc.provider_label}
    except processes.ProcessUnavailable:
        return {"status": "unavailable", "number": cnj.format(number)}
    return {"status": "stale" if result.payload.stale else "ok", "number": result.payload.cnj}
