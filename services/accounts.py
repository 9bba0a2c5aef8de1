"""Staff and admin accounts: creation, password checks with lockout, disabling.

Passwords are stored as scrypt hashes (Werkzeug's default KDF). A failed login never says whether the
user exists: an unknown name costs the same hash work and gets the same answer and the same lockout.
"""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import LoginThrottle, User, utcnow

log = logging.getLogger("portal.accounts")

ROLES = ("admin", "staff")
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 12
# Checked against when the name is unknown, so both answers take one scrypt verification.
_DUMMY_HASH = generate_password_hash("not-a-real-password-only-for-timing")


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is for the operator (CLI)."""


class LoginRefused(Exception):
    def __init__(self, locked: bool):
        super().__init__("locked" if locked else "invalid")
        self.locked = locked


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise AccountError("the password must not start or end with spaces")


def find(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def create(username: str, role: str, password: str) -> User:
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise AccountError("the username must be 3-64 characters: letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"the role must be one of: {', '.join(ROLES)}")
    validate_password(password)
    if find(name) is not None:
        raise AccountError(f"a user named {name!r} already exists")
    user = User(username=name, role=role, password_hash=generate_password_hash(password))
    db.session.add(user)
    db.session.commit()
    log.info("user created", extra={"username": name, "role": role})
    return user


def set_password(username: str, password: str) -> User:
    user = _existing(username)
    validate_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1  # sessions opened with the old password end
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user


def disable(username: str) -> User:
    user = _existing(username)
    user.active = False
    user.session_version += 1
    db.session.commit()
    return user


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def end_sessions(user: User) -> None:
    """Bump the session version: every cookie signed with the old one is refused (logout replay)."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    db.session.commit()


def authenticate(username: str, password: str) -> User:
    """The user whose password this is, or LoginRefused (locked or invalid, never "unknown")."""
    config = current_app.config
    limit, lock_for = config["LOGIN_MAX_FAILURES"], timedelta(seconds=config["LOGIN_LOCKOUT_S"])
    name = normalise_username(username)
    user = find(name) if USERNAME_PATTERN.match(name) else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        _count_unknown_failure(name, limit, lock_for)
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        check_password_hash(_DUMMY_HASH, password or "")
        raise LoginRefused(locked=True)
    # The hash is always checked, so a disabled account answers as slowly as any other (no enumeration by time).
    password_matches = check_password_hash(user.password_hash, password or "")
    if not user.active or not password_matches:
        failures = user.failed_logins + 1
        locked_until = now + lock_for if failures >= limit else None
        db.session.execute(update(User).where(User.id == user.id).values(
            failed_logins=0 if locked_until else failures, locked_until=locked_until))
        db.session.commit()
        if locked_until:
            log.warning("account locked after repeated failed logins", extra={"username": name})
        raise LoginRefused(locked=locked_until is not None)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    db.session.commit()
    return user


def _count_unknown_failure(name: str, limit: int, lock_for: timedelta):
    """Unknown names lock out exactly like real ones, counted in the database so every worker sees the same count
    (with a per-process count, failures spread over the workers would never reach the limit)."""
    digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
    now = utcnow()
    row = db.session.get(LoginThrottle, digest) or LoginThrottle(name_digest=digest, failures=0)
    if row.locked_until is not None and row.locked_until > now:
        locked = True
    else:
        row.failures += 1
        locked = row.failures >= limit
        row.failures, row.locked_until = (0, now + lock_for) if locked else (row.failures, None)
    row.updated_at = now
    db.session.add(row)
    # Counts older than a lockout period say nothing any more: they go, so the table stays small.
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < now - 2 * lock_for))
    db.session.commit()
    raise LoginRefused(locked=locked)


def _existing(username: str) -> User:
    user = find(username)
    if user is None:
        raise AccountError(f"no user named {normalise_username(username)!r}")
    return user


