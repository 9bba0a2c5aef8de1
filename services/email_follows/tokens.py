"""The links inside e-mails, signed with the app's secret (itsdangerous), each kind with its own salt.

- confirmation: a follow id and its single-use nonce (also kept in the database), valid for 48 hours;
- unsubscribe: one follow, bound to its address's digest so a reused id cannot be cancelled by an old link;
- unsubscribe all: an address's digest. Both unsubscribe links never expire: they must work in an old message.
"""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

CONFIRM_MAX_AGE_S = 48 * 3600
_CONFIRM_SALT = "email-follows-confirm"
_UNSUBSCRIBE_SALT = "email-follows-unsubscribe"
_UNSUBSCRIBE_ALL_SALT = "email-follows-unsubscribe-all"


class TokenInvalid(Exception):
    """A link that was altered, cut short, or signed with another secret."""


class TokenExpired(TokenInvalid):
    """A confirmation link older than 48 hours."""


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def confirmation(follow_id: int, nonce: str) -> str:
    return URLSafeTimedSerializer(_secret(), salt=_CONFIRM_SALT).dumps([follow_id, nonce])


def read_confirmation(token: str) -> tuple[int, str]:
    try:
        follow_id, nonce = URLSafeTimedSerializer(_secret(), salt=_CONFIRM_SALT).loads(
            token, max_age=CONFIRM_MAX_AGE_S)
    except SignatureExpired:
        raise TokenExpired() from None
    except (BadData, TypeError, ValueError):
        raise TokenInvalid() from None
    if not isinstance(follow_id, int) or not isinstance(nonce, str):
        raise TokenInvalid()
    return follow_id, nonce


def unsubscribe(follow_id: int, address_digest: str) -> str:
    return URLSafeSerializer(_secret(), salt=_UNSUBSCRIBE_SALT).dumps([follow_id, address_digest[:16]])


def read_unsubscribe(token: str) -> tuple[int, str]:
    try:
        follow_id, digest_start = URLSafeSerializer(_secret(), salt=_UNSUBSCRIBE_SALT).loads(token)
    except (BadData, TypeError, ValueError):
        raise TokenInvalid() from None
    if not isinstance(follow_id, int) or not isinstance(digest_start, str):
        raise TokenInvalid()
    return follow_id, digest_start


def unsubscribe_all(address_digest: str) -> str:
    return URLSafeSerializer(_secret(), salt=_UNSUBSCRIBE_ALL_SALT).dumps(address_digest)


def read_unsubscribe_all(token: str) -> str:
    try:
        value = URLSafeSerializer(_secret(), salt=_UNSUBSCRIBE_ALL_SALT).loads(token)
    except (BadData, TypeError, ValueError):
        raise TokenInvalid() from None
    if not isinstance(value, str):
        raise TokenInvalid()
    return value
