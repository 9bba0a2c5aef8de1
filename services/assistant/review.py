"""What the admins read to improve the content: the questions the assistant could not answer (the fallback) or
whose answer the citizen marked as not helpful (chat_messages.helpful), and the answers to "Esta página foi útil?"
(services/feedback.py), both already masked when stored and masked again here.

Read-only queries over chat_messages (a user message is stored just before its answer, same session, next id)
and page_feedback. Only what the retention left (CHAT_RETENTION_DAYS, FEEDBACK_RETENTION_DAYS).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from extensions import db
from models import ChatMessage, PageFeedback
from services.search.text import normalised_question
from utils.masking import mask

LIMIT = 200


@dataclass(frozen=True)
class Unanswered:
    question: str  # masked, as last asked
    count: int  # how many times this question (same words) got the fallback or a "não ajudou"
    last_at: datetime
    not_found: int = 0  # of them, answered with the fallback
    not_helpful: int = 0  # of them, marked "não ajudou"


@dataclass(frozen=True)
class PageVotes:
    page: str
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class Comment:
    page: str
    helpful: bool
    text: str
    at: datetime


def unanswered(limit: int = LIMIT) -> list[Unanswered]:
    """The questions answered with the fallback or marked "não ajudou", grouped by their words, most recently
    asked first."""
    question = aliased(ChatMessage)
    rows = db.session.execute(
        select(question.text, question.created_at, ChatMessage.path, ChatMessage.helpful)
        .join(ChatMessage, (ChatMessage.session_id == question.session_id) & (ChatMessage.id == question.id + 1))
        .where(question.role == "user", ChatMessage.role == "assistant",
               (ChatMessage.path == "fallback") | ChatMessage.helpful.is_(False))
        .order_by(question.id.desc()).limit(limit * 5)).all()
    groups: dict[str, dict] = {}
    for text, at, path, helpful in rows:
        key = normalised_question(text) or text.strip().lower()
        # Newest first: the first one seen is the last asked.
        group = groups.setdefault(key, {"question": mask(text), "count": 0, "last_at": at, "not_found": 0,
                                        "not_helpful": 0})
        group["count"] += 1
        group["not_found"] += path == "fallback"
        group["not_helpful"] += helpful is False
    return [Unanswered(**group) for group in list(groups.values())[:limit]]


def page_votes() -> list[PageVotes]:
    """Per page: how many said the page helped and how many said it did not, most answered first."""
    helpful = func.sum(case((PageFeedback.helpful.is_(True), 1), else_=0))
    not_helpful = func.sum(case((PageFeedback.helpful.is_(False), 1), else_=0))
    rows = db.session.execute(select(PageFeedback.page, helpful, not_helpful).group_by(PageFeedback.page)
                              .order_by(func.count().desc(), PageFeedback.page)).all()
    return [PageVotes(page, int(yes or 0), int(no or 0)) for page, yes, no in rows]


def comments(limit: int = LIMIT) -> list[Comment]:
    """The comments left with the page answers, masked, newest first."""
    rows = db.session.execute(select(PageFeedback).where(PageFeedback.comment.is_not(None))
                              .order_by(PageFeedback.created_at.desc(), PageFeedback.id.desc()).limit(limit)).scalars()
    return [Comment(row.page, row.helpful, mask(row.comment), row.created_at) for row in rows]
