"""Asking, confirming and cancelling: the citizen's side of the e-mail follows.

Answers never tell whether an address is known: asking to follow gives the same outcome whether the address is new,
waiting for confirmation, already following, at its limit or marked as failing (only the first two get a message).
The only refusals are about the request itself: no consent, a bad address or number, a restricted process, and the
daily limit of confirmation mails to one address.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import EmailDelivery, EmailFollow, EmailSubscriber, Movement, ProcessInstance, utcnow
from services import processes
from services.email_follows import addresses, consent, outbox, tokens
from utils import cnj

log = logging.getLogger("portal.email_follows")


class ConsentMissing(Exception):
    message = "Para receber os avisos, marque a caixa que autoriza guardar o seu e-mail para este fim."


class RestrictedProcess(Exception):
    message = ("Este processo tem acesso restrito (segredo de justiça ou Direito de Família): por lei, o portal não "
               "envia avisos sobre ele. Acompanhe-o com o seu advogado ou a Defensoria Pública.")


class TooManyConfirmations(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.message = (f"Este endereço já recebeu {limit} mensagens de confirmação nas últimas 24 horas, o limite. "
                        "Procure essas mensagens na caixa de entrada e no lixo eletrônico (spam), ou tente de novo "
                        "amanhã.")


class TooManyFollows(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        processes_ = "processo" if limit == 1 else "processos"
        self.message = (f"Este e-mail já acompanha {limit} {processes_}, o limite por endereço. Para acompanhar este, "
                        "cancele antes os avisos de outro processo (há um link em cada aviso).")


class LinkUsed(Exception):
    message = ("Este link de confirmação já foi usado ou foi substituído por um pedido mais novo. Se você pediu os "
               "avisos de novo, use o link da mensagem mais recente.")


@dataclass(frozen=True)
class Confirmed:
    number: str  # formatted
    unsubscribe_url: str


def subscribe(number_text: str, address_text: str, consented: bool, before_provider=None) -> str:
    """Ask to follow a process: the formatted number on success (a confirmation goes out when one is due).

    Raises cnj.InvalidCnj, addresses.InvalidAddress, ConsentMissing, processes.ProcessNotFound/ProcessUnavailable,
    RestrictedProcess or TooManyConfirmations.
    """
    number = cnj.parse(number_text)
    address = addresses.normalize(address_text)
    if not consented:
        raise ConsentMissing()
    result = processes.lookup(number, before_provider=before_provider)
    if result.payload.restricted:
        raise RestrictedProcess()
    digest = addresses.digest(address)
    limit = current_app.config["EMAIL_FOLLOWS_CONFIRMATIONS_PER_DAY"]
    now = utcnow()
    asked_today = db.session.execute(
        select(func.count()).select_from(EmailDelivery).where(
            EmailDelivery.kind == "confirm", EmailDelivery.address_digest == digest,
            EmailDelivery.created_at > now - timedelta(days=1))).scalar()
    if asked_today >= limit:
        log.info("confirmation limit reached", extra={"to": addresses.masked(address)})
        raise TooManyConfirmations(limit)
    delivery_id = _record_request(number, address, digest, now)
    if delivery_id is not None:
        outbox.dispatch([delivery_id])
    return cnj.format(number)


def _record_request(number: str, address: str, digest: str, now: datetime) -> int | None:
    """The follow (pending) and its confirmation delivery; None when nothing is to be sent."""
    for attempt in range(2):
        try:
            return _record_request_once(number, address, digest, now)
        except IntegrityError:  # two requests for one new address at once: the other created it
            db.session.rollback()
            if attempt:
                raise
    return None


def _record_request_once(number: str, address: str, digest: str, now: datetime) -> int | None:
    subscriber = db.session.execute(select(EmailSubscriber).where(EmailSubscriber.address_digest == digest)
                                    ).scalar_one_or_none()
    if subscriber is None:
        subscriber = EmailSubscriber(address=address, address_digest=digest, created_at=now)
        db.session.add(subscriber)
        db.session.flush()
    elif subscriber.failed_at is not None:
        log.info("follow asked for a failing address: nothing sent", extra={"to": addresses.masked(address)})
        return None
    follow = db.session.execute(select(EmailFollow).where(EmailFollow.subscriber_id == subscriber.id,
                                                          EmailFollow.cnj == number)).scalar_one_or_none()
    if follow is not None and follow.confirmed_at is not None:
        db.session.commit()
        return None
    if follow is None:
        others = db.session.execute(select(func.count()).select_from(EmailFollow)
                                    .where(EmailFollow.subscriber_id == subscriber.id)).scalar()
        if others >= current_app.config["EMAIL_FOLLOWS_MAX_PER_ADDRESS"]:
            log.info("follow limit reached: nothing sent", extra={"to": addresses.masked(address)})
            db.session.commit()
            return None
        follow = EmailFollow(subscriber_id=subscriber.id, cnj=number)
        db.session.add(follow)
    # A new request replaces the older link: only the newest confirmation mail works.
    follow.consent_at, follow.consent_version, follow.nonce = now, consent.VERSION, secrets.token_urlsafe(24)
    db.session.flush()
    delivery = EmailDelivery(kind="confirm", subscriber_id=subscriber.id, follow_id=follow.id,
                             address_digest=digest, cnj=number, payload={}, created_at=now)
    db.session.add(delivery)
    db.session.commit()
    return delivery.id


def latest_movement_at(number: str) -> datetime | None:
    return db.session.execute(select(func.max(Movement.at)).join(ProcessInstance)
                              .where(ProcessInstance.cnj == number)).scalar()


def confirm(token: str) -> Confirmed:
    """Use a confirmation link: the follow is on from now, for movements newer than the ones already there.

    Raises tokens.TokenInvalid / TokenExpired, LinkUsed or TooManyFollows.
    """
    follow_id, nonce = tokens.read_confirmation(token)
    follow = db.session.get(EmailFollow, follow_id)
    if follow is None or not follow.nonce or not secrets.compare_digest(follow.nonce, nonce):
        raise LinkUsed()
    if follow.consent_at < utcnow() - timedelta(seconds=tokens.CONFIRM_MAX_AGE_S):
        raise tokens.TokenExpired()
    limit = current_app.config["EMAIL_FOLLOWS_MAX_PER_ADDRESS"]
    confirmed = db.session.execute(select(func.count()).select_from(EmailFollow).where(
        EmailFollow.subscriber_id == follow.subscriber_id, EmailFollow.confirmed_at.is_not(None))).scalar()
    if confirmed >= limit:
        subscriber_id = follow.subscriber_id
        db.session.delete(follow)
        db.session.flush()
        outbox.remove_if_unused(subscriber_id)
        db.session.commit()
        raise TooManyFollows(limit)
    now = utcnow()
    follow.confirmed_at, follow.nonce = now, None
    follow.notified_through = latest_movement_at(follow.cnj)
    subscriber = db.session.get(EmailSubscriber, follow.subscriber_id)
    subscriber.confirmed_at = subscriber.confirmed_at or now
    db.session.commit()
    log.info("follow confirmed", extra={"follow": follow.id, "to": addresses.masked(subscriber.address)})
    from services.email_follows.mailer import link

    return Confirmed(number=cnj.format(follow.cnj),
                     unsubscribe_url=link("email_follows.unsubscribe",
                                          token=tokens.unsubscribe(follow.id, subscriber.address_digest)))


def unsubscribe(token: str) -> str | None:
    """Cancel one follow now (and the address, if it was its last); the formatted number, or None if gone already.

    Raises tokens.TokenInvalid for a link that is not ours.
    """
    follow_id, digest_start = tokens.read_unsubscribe(token)
    follow = db.session.get(EmailFollow, follow_id)
    if follow is None:
        return None
    subscriber = db.session.get(EmailSubscriber, follow.subscriber_id)
    if not subscriber.address_digest.startswith(digest_start):
        return None
    number = follow.cnj
    db.session.delete(follow)
    db.session.flush()
    gone = outbox.remove_if_unused(subscriber.id)
    db.session.commit()
    log.info("follow cancelled", extra={"follow": follow_id, "address_removed": gone})
    return cnj.format(number)


def unsubscribe_all(token: str) -> int:
    """Cancel every follow of one address and remove the address now; how many follows went."""
    digest = tokens.read_unsubscribe_all(token)
    subscriber = db.session.execute(select(EmailSubscriber).where(EmailSubscriber.address_digest == digest)
                                    ).scalar_one_or_none()
    if subscriber is None:
        return 0
    count = db.session.execute(select(func.count()).select_from(EmailFollow)
                               .where(EmailFollow.subscriber_id == subscriber.id)).scalar()
    db.session.execute(delete(EmailFollow).where(EmailFollow.subscriber_id == subscriber.id))
    db.session.execute(delete(EmailSubscriber).where(EmailSubscriber.id == subscriber.id))
    db.session.commit()
    log.info("every follow of an address cancelled", extra={"follows": count})
    return count
