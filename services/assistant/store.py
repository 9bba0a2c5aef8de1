"""Conversations in the database: sessions (a random UUID) and their messages, masked before they are written.

Retention: messages and sessions idle for more than CHAT_RETENTION_DAYS are removed by `cleanup()`, which
`flask assistant cleanup` runs and the assistant also runs itself about once an hour. "Apagar minha
conversa" is `delete(session_id)`. A database failure never costs the person their answer: it is
logged and the conversation simply is not kept.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import ChatMessage, ChatSession, utcnow
from utils.masking import mask

log = logging.getLogger("portal.assistant")
TRANSCRIPT_LIMIT = 50


def valid_id(session_id) -> bool:
    """A canonical random UUID string (what this module hands out)."""
    if not isinstance(session_id, str) or len(session_id) != 36:
        return False
    try:
        return str(uuid.UUID(session_id)) == session_id
    except ValueError:
        return False


def open_session(session_id: str | None) -> str:
    """The id of a stored session: the given one when it exists, else a new random one."""
    try:
        if session_id and valid_id(session_id):
            session = db.session.get(ChatSession, session_id)
            if session is not None:
                return session.id
        new = ChatSession(id=str(uuid.uuid4()))
        db.session.add(new)
        db.session.commit()
        return new.id
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not open a chat session; answering without keeping the conversation")
        return session_id if session_id and valid_id(session_id) else str(uuid.uuid4())


def record(session_id: str, question: str, answer: str, path: str, latency_ms: float, sources: list[dict]) -> None:
    """Keep one exchange, with personal data masked before it reaches the database."""
    try:
        session = db.session.get(ChatSession, session_id)
        if session is None:
            session = ChatSession(id=session_id)
            db.session.add(session)
        now = utcnow()
        session.last_activity_at = now
        db.session.add(ChatMessage(session_id=session_id, role="user", text=mask(question), created_at=now))
        db.session.add(ChatMessage(session_id=session_id, role="assistant", text=mask(answer), path=path,
                                   latency_ms=round(latency_ms, 1), created_at=now,
                                   sources=[{"title": mask(s["title"]), "url": s["url"]} for s in sources]))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not store a chat exchange")


def rate(session_id: str | None, helpful: bool) -> bool:
    """Keep the citizen's rating of the session's last answer; False when there is no stored answer to rate."""
    if not session_id or not valid_id(session_id):
        return False
    try:
        last = db.session.execute(select(ChatMessage).where(ChatMessage.session_id == session_id,
                                                            ChatMessage.role == "assistant")
                                  .order_by(ChatMessage.id.desc()).limit(1)).scalar_one_or_none()
        if last is None:
            return False
        last.helpful = helpful
        db.session.commit()
        return True
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not store a chat rating")
        return False


def transcript(session_id: str | None) -> list[ChatMessage]:
    """The session's last messages, oldest first (already masked)."""
    if not session_id or not valid_id(session_id):
        return []
    try:
        rows = db.session.execute(select(ChatMessage).where(ChatMessage.session_id == session_id)
                                  .order_by(ChatMessage.id.desc()).limit(TRANSCRIPT_LIMIT)).scalars().all()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not read a chat transcript")
        return []
    return list(reversed(rows))


def delete(session_id: str | None) -> int:
    """Remove a session and all its messages; the number of messages removed."""
    if not session_id or not valid_id(session_id):
        return 0
    removed = db.session.execute(sql_delete(ChatMessage).where(ChatMessage.session_id == session_id)).rowcount
    db.session.execute(sql_delete(ChatSession).where(ChatSession.id == session_id))
    db.session.commit()
    return removed or 0


def cleanup(now: datetime | None = None) -> tuple[int, int]:
    """Remove messages older than the retention and sessions idle for longer; (messages, sessions) removed."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["CHAT_RETENTION_DAYS"])
    messages = db.session.execute(sql_delete(ChatMessage).where(ChatMessage.created_at < cutoff)).rowcount
    stale_sessions = select(ChatSession.id).where(ChatSession.last_activity_at < cutoff)
    db.session.execute(sql_delete(ChatMessage).where(ChatMessage.session_id.in_(stale_sessions)))
    sessions = db.session.execute(sql_delete(ChatSession).where(ChatSession.last_activity_at < cutoff)).rowcount
    db.session.commit()
    log.info("chat retention applied", extra={"messages_removed": messages, "sessions_removed": sessions,
                                               "retention_days": current_app.config["CHAT_RETENTION_DAYS"]})
    return messages or 0, sessions or 0
