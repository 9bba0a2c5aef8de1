"""Deliveries: each message is a row (`EmailDelivery`, no address in it) and `deliver(id)` sends it once.

`deliver` is the job function: module-level, idempotent (a delivery already sent, refused or cancelled is left
alone), and given an id, not an object. A transient failure leaves the row pending with its attempt counted;
`deliver_job` raises then, so a job queue retries it, and `retry_pending` sends what is still pending with a growing
wait (1, 2, 4, 8… minutes) when no queue does. A permanent refusal marks the address: nothing more is sent to it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from extensions import db
from models import EmailDelivery, EmailFollow, EmailSubscriber, utcnow
from services.email_follows import addresses, mailer

log = logging.getLogger("portal.email_follows")

FINAL = ("sent", "failed", "refused", "cancelled")


class SendDeferred(Exception):
    """A delivery failed for now and will be tried again (raised by `deliver_job` so a queue retries it)."""


# Waits between a queue's tries of one send (RQ mode); attempts are capped by EMAIL_FOLLOWS_SEND_ATTEMPTS.
RETRY_WAITS_S = [60, 300, 900, 3600]


def dispatch(delivery_ids: list[int]) -> None:
    """Hand these deliveries to the job queue ("high"); in eager mode (tests) they run in the caller at once, and
    a transient failure is left to `retry_pending` instead of being retried back to back."""
    from services import jobs

    eager = jobs.mode() == "eager"
    for delivery_id in delivery_ids:
        jobs.enqueue(deliver_job, delivery_id, queue="high", timeout=120,
                     retry=None if eager else jobs.Retry(max=len(RETRY_WAITS_S), interval=RETRY_WAITS_S),
                     description=f"e-mail delivery {delivery_id}")


def deliver_job(delivery_id: int) -> str:
    """The queue's entry point: like `deliver`, but a transient failure raises so the queue retries it."""
    status = deliver(delivery_id)
    if status == "pending":
        raise SendDeferred(f"delivery {delivery_id} deferred")
    return status


def deliver(delivery_id: int) -> str:
    """Send one delivery if it is still due; returns its status afterwards."""
    row = db.session.get(EmailDelivery, delivery_id)
    if row is None:
        return "missing"
    if row.status in FINAL:
        return row.status
    subscriber = db.session.get(EmailSubscriber, row.subscriber_id) if row.subscriber_id else None
    follow = db.session.get(EmailFollow, row.follow_id) if row.follow_id else None
    reason = _why_not(row, subscriber, follow)
    if reason:
        return _close(row, "cancelled", reason, follow)
    message = _compose(row, subscriber, follow)
    row.attempts += 1
    try:
        where = mailer.transmit(message, f"{utcnow():%Y%m%dT%H%M%S}-{row.id}-{row.kind}")
    except mailer.PermanentFailure as exc:
        subscriber.failed_at, subscriber.failure_reason = utcnow(), str(exc)[:255]
        log.warning("mail refused for good: address marked", extra={
            "delivery": row.id, "kind": row.kind, "to": addresses.masked(subscriber.address), "error": str(exc)})
        return _close(row, "refused", str(exc), follow)
    except mailer.TransientFailure as exc:
        row.error = str(exc)[:255]
        final = row.attempts >= current_app.config["EMAIL_FOLLOWS_SEND_ATTEMPTS"]
        log.warning("mail not sent", extra={"delivery": row.id, "kind": row.kind, "attempt": row.attempts,
                                            "to": addresses.masked(subscriber.address), "error": str(exc),
                                            "final": final})
        if final:
            return _close(row, "failed", str(exc), follow)
        db.session.commit()
        return "pending"
    row.sent_at = utcnow()
    log.info("mail sent", extra={"delivery": row.id, "kind": row.kind, "to": addresses.masked(subscriber.address),
                                 "via": "smtp" if where == "smtp" else "outbox"})
    return _close(row, "sent", None, follow)


def _why_not(row: EmailDelivery, subscriber: EmailSubscriber | None, follow: EmailFollow | None) -> str | None:
    if subscriber is None or follow is None:
        return "the address or the follow was removed"
    if subscriber.failed_at is not None:
        return "the address is marked as failing"
    if row.kind == "confirm" and (follow.confirmed_at is not None or not follow.nonce):
        return "already confirmed"
    if row.kind != "confirm" and follow.confirmed_at is None:
        return "never to an unconfirmed address"
    return None


def _compose(row: EmailDelivery, subscriber: EmailSubscriber, follow: EmailFollow):
    if row.kind == "confirm":
        return mailer.confirmation(subscriber.address, follow.cnj, follow.id, follow.nonce)
    build = mailer.notice if row.kind == "notice" else mailer.farewell
    return build(subscriber.address, subscriber.address_digest, follow.cnj, follow.id, row.payload or {})


def _close(row: EmailDelivery, status: str, error: str | None, follow: EmailFollow | None) -> str:
    row.status = status
    row.error = error[:255] if error else None
    if row.kind == "farewell" and follow is not None:
        # The last notice is out (or cannot go): the follow ends now, and the address with its last follow.
        subscriber_id = follow.subscriber_id
        db.session.delete(follow)
        db.session.flush()
        remove_if_unused(subscriber_id)
    db.session.commit()
    return status


def remove_if_unused(subscriber_id: int) -> bool:
    """Delete the address when no follow of it remains; True when it went."""
    left = db.session.execute(select(func.count()).select_from(EmailFollow)
                              .where(EmailFollow.subscriber_id == subscriber_id)).scalar()
    if left:
        return False
    db.session.execute(delete(EmailSubscriber).where(EmailSubscriber.id == subscriber_id))
    return True


def retry_pending(now=None) -> int:
    """Send the pending deliveries whose wait is over (1, 2, 4, … minutes after each attempt); returns how many."""
    now = now or utcnow()
    rows = db.session.execute(select(EmailDelivery.id, EmailDelivery.attempts, EmailDelivery.created_at)
                              .where(EmailDelivery.status == "pending")
                              .order_by(EmailDelivery.id).limit(500)).all()
    due = [row.id for row in rows
           if row.attempts == 0 or row.created_at + timedelta(minutes=2 ** row.attempts - 1) <= now]
    dispatch(due)
    return len(due)


def record_bounce(address_text: str, reason: str = "bounce recorded") -> bool:
    """A bounce (a delivery status notification) for this address: mark it, so nothing more is sent to it.

    True when the address was known. Marked addresses are removed by the cleanup after 30 days."""
    digest = addresses.digest(addresses.normalize(address_text))
    subscriber = db.session.execute(select(EmailSubscriber).where(EmailSubscriber.address_digest == digest)
                                    ).scalar_one_or_none()
    if subscriber is None:
        return False
    if subscriber.failed_at is None:
        subscriber.failed_at, subscriber.failure_reason = utcnow(), reason[:255]
    db.session.execute(EmailDelivery.__table__.update().where(
        EmailDelivery.subscriber_id == subscriber.id, EmailDelivery.status == "pending").values(
        status="cancelled", error="the address bounced"))
    db.session.commit()
    log.warning("bounce recorded: address marked", extra={"to": addresses.masked(subscriber.address)})
    return True
