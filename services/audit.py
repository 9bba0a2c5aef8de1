"""The audit log: who did what, when, from where, with the request ID — every staff and admin action."""
from __future__ import annotations

import logging

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import AuditEntry
from utils.json_log import current_request_id
from utils.masking import mask
from utils.request_middleware import truncate_address

log = logging.getLogger("portal.audit")


def record(action: str, target: str | None = None, actor: str | None = None, **details) -> None:
    """Write one entry. The action is already done: a failure to audit is logged, never undoes it."""
    in_request = has_request_context()
    user = current_user if in_request and current_user.is_authenticated else None
    entry = AuditEntry(
        actor_id=user.id if user else None,
        actor_name=actor or (user.username if user else "anonymous"),
        action=action,
        target=mask(target)[:255] if target else None,
        details={key: mask(value) if isinstance(value, str) else value for key, value in details.items()},
        request_id=current_request_id.get() if in_request else None,
        client=truncate_address(request.remote_addr) if in_request else None,
    )
    try:
        db.session.add(entry)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not write an audit entry", extra={"action": action})
        return
    log.info("audit", extra={"action": action, "actor": entry.actor_name, "target": entry.target})


def recent(limit: int = 100, offset: int = 0, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query.offset(offset).limit(limit)))
