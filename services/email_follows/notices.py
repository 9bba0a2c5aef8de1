"""After a sync: notices of new movements; daily: the cleanup; for the sync and the dashboard: numbers and counts."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from extensions import db
from models import EmailDelivery, EmailFollow, EmailSubscriber, Movement, ProcessInstance, utcnow
from services.email_follows import outbox, tokens
from utils.dates import iso_z

log = logging.getLogger("portal.email_follows")

NOTICE_INTERVAL = timedelta(days=1)  # at most one notice per process per address in any 24 hours
MOVEMENTS_PER_NOTICE = 20  # the newest ones; the notice says how many there were
FAILED_ADDRESS_KEEP = timedelta(days=30)  # a marked address is kept this long so nothing is sent to it
DIGEST_KEEP = timedelta(days=2)  # deliveries keep the address's digest for the daily limit, then forget it
DELIVERY_KEEP = timedelta(days=365)  # delivery rows (no address) for the dashboard's counts


def _active_follows():
    return (select(EmailFollow).join(EmailSubscriber)
            .where(EmailFollow.confirmed_at.is_not(None), EmailFollow.ended_at.is_(None),
                   EmailSubscriber.failed_at.is_(None)))


def followed_numbers_select():
    """The same numbers as a SELECT of one column `cnj`, to compose into the sync's queries (selection, retention)."""
    return _active_follows().with_only_columns(EmailFollow.cnj).distinct()


def followed_numbers() -> list[str]:
    """The CNJ numbers (20 digits) at least one confirmed citizen follows: the sync keeps them fresh."""
    return list(db.session.execute(followed_numbers_select().order_by(EmailFollow.cnj)).scalars())


def _process_state() -> dict[str, tuple]:
    """Per stored number: (newest movement date, restricted, fetched at, provider) for the numbers citizens follow."""
    followed = followed_numbers_select()
    newest = (select(ProcessInstance.cnj, func.max(Movement.at))
              .join(Movement, Movement.process_id == ProcessInstance.id, isouter=True)
              .where(ProcessInstance.cnj.in_(followed)).group_by(ProcessInstance.cnj))
    flags = (select(ProcessInstance.cnj, func.min(ProcessInstance.fetched_at),
                    func.count().filter(ProcessInstance.restricted.is_(True)), func.min(ProcessInstance.source))
             .where(ProcessInstance.cnj.in_(followed)).group_by(ProcessInstance.cnj))
    latest = dict(db.session.execute(newest).all())
    return {number: (latest.get(number), bool(restricted_rows), fetched, source)
            for number, fetched, restricted_rows, source in db.session.execute(flags).all()}


def _new_movements(number: str, after) -> tuple[list[dict], int]:
    query = (select(Movement.at, Movement.code, Movement.name, Movement.complements, ProcessInstance.degree)
             .join(ProcessInstance)
             .where(ProcessInstance.cnj == number, Movement.at > after).order_by(Movement.at.desc(), Movement.id))
    seen, unique = set(), []
    for row in db.session.execute(query).all():
        key = (row.at, row.code, row.name, tuple(row.complements or ()))
        if key not in seen:
            seen.add(key)
            unique.append({"at": iso_z(row.at), "code": row.code, "name": row.name,
                           "complements": list(row.complements or []), "degree": row.degree})
    return unique[:MOVEMENTS_PER_NOTICE], len(unique)


def send_notices(now=None) -> int:
    """One notice per confirmed follow whose process moved since its last notice (at most one a day); how many."""
    now = now or utcnow()
    states = _process_state()
    created = []
    for follow in db.session.execute(_active_follows().order_by(EmailFollow.id)).scalars():
        newest, restricted, fetched, source = states.get(follow.cnj, (None, False, None, None))
        if newest is None or restricted:
            continue
        if follow.notified_through is not None and newest <= follow.notified_through:
            continue
        if follow.last_notice_at is not None and follow.last_notice_at > now - NOTICE_INTERVAL:
            continue
        if follow.notified_through is None:
            # Confirmed before anything was stored: the movements already there are not news.
            follow.notified_through = newest
            continue
        movements, total = _new_movements(follow.cnj, follow.notified_through)
        follow.notified_through, follow.last_notice_at = newest, now
        if not movements:
            continue
        delivery = EmailDelivery(kind="notice", subscriber_id=follow.subscriber_id, follow_id=follow.id,
                                 cnj=follow.cnj, created_at=now,
                                 payload={"movements": movements, "total": total, "fetched_at": iso_z(fetched),
                                          "source": source})
        db.session.add(delivery)
        created.append(delivery)
    db.session.commit()
    ids = [delivery.id for delivery in created]
    outbox.dispatch(ids)
    if ids:
        log.info("notices of new movements", extra={"notices": len(ids)})
    return len(ids)


def cleanup(now=None) -> dict:
    """The daily clean-up: unconfirmed requests after 48 h, idle follows (with a last notice), unused addresses,
    marked addresses after 30 days, old digests and deliveries; pending deliveries get another try."""
    now = now or utcnow()
    config = current_app.config
    counts = {"unconfirmed": db.session.execute(delete(EmailFollow).where(
        EmailFollow.confirmed_at.is_(None),
        EmailFollow.consent_at < now - timedelta(seconds=tokens.CONFIRM_MAX_AGE_S))).rowcount}
    counts["farewells"] = _end_idle_follows(now, timedelta(days=config["EMAIL_FOLLOWS_IDLE_DAYS"]))
    # An ended follow whose last notice never went (a week of trying) goes anyway.
    counts["ended"] = db.session.execute(delete(EmailFollow).where(
        EmailFollow.ended_at < now - timedelta(days=7))).rowcount
    counts["failed_addresses"] = db.session.execute(delete(EmailSubscriber).where(
        EmailSubscriber.failed_at < now - FAILED_ADDRESS_KEEP)).rowcount
    unused = select(EmailFollow.id).where(EmailFollow.subscriber_id == EmailSubscriber.id).exists()
    counts["addresses"] = db.session.execute(delete(EmailSubscriber).where(~unused)).rowcount
    db.session.execute(update(EmailDelivery).where(EmailDelivery.created_at < now - DIGEST_KEEP,
                                                   EmailDelivery.address_digest.is_not(None))
                       .values(address_digest=None))
    counts["deliveries"] = db.session.execute(delete(EmailDelivery).where(
        EmailDelivery.created_at < now - DELIVERY_KEEP)).rowcount
    db.session.commit()
    counts["retried"] = outbox.retry_pending(now)
    log.info("e-mail follows cleaned up", extra=counts)
    return counts


def _end_idle_follows(now, idle) -> int:
    newest = dict(db.session.execute(
        select(ProcessInstance.cnj, func.max(Movement.at))
        .join(Movement, Movement.process_id == ProcessInstance.id, isouter=True)
        .where(ProcessInstance.cnj.in_(followed_numbers_select()))
        .group_by(ProcessInstance.cnj)).all())
    created = []
    for follow in db.session.execute(_active_follows().order_by(EmailFollow.id)).scalars():
        if follow.cnj not in newest:
            continue  # nothing stored: the sync has not fetched it; no judgement on idleness
        last = newest[follow.cnj]
        since = max(moment for moment in (last, follow.confirmed_at) if moment is not None)
        if since >= now - idle:
            continue
        follow.ended_at = now
        delivery = EmailDelivery(kind="farewell", subscriber_id=follow.subscriber_id, follow_id=follow.id,
                                 cnj=follow.cnj, created_at=now,
                                 payload={"last_movement_at": iso_z(last), "years": round(idle.days / 365)})
        db.session.add(delivery)
        created.append(delivery)
    db.session.commit()
    outbox.dispatch([delivery.id for delivery in created])
    return len(created)


def counts() -> dict:
    """Figures for the dashboard, never an address: subscribers, follows, notices sent, failures."""
    def scalar(query):
        return db.session.execute(query).scalar() or 0

    sent = select(func.count()).select_from(EmailDelivery).where(EmailDelivery.status == "sent")
    return {
        "subscribers": scalar(select(func.count(func.distinct(EmailFollow.subscriber_id)))
                              .where(EmailFollow.confirmed_at.is_not(None))),
        "follows": scalar(select(func.count()).select_from(EmailFollow).where(EmailFollow.confirmed_at.is_not(None))),
        "pending_confirmations": scalar(select(func.count()).select_from(EmailFollow)
                                        .where(EmailFollow.confirmed_at.is_(None))),
        "notices_sent": scalar(sent.where(EmailDelivery.kind.in_(("notice", "farewell")))),
        "confirmations_sent": scalar(sent.where(EmailDelivery.kind == "confirm")),
        "failures": scalar(select(func.count()).select_from(EmailDelivery)
                           .where(EmailDelivery.status.in_(("failed", "refused")))),
        "pending_deliveries": scalar(select(func.count()).select_from(EmailDelivery)
                                     .where(EmailDelivery.status == "pending")),
        "marked_addresses": scalar(select(func.count()).select_from(EmailSubscriber)
                                   .where(EmailSubscriber.failed_at.is_not(None))),
    }
