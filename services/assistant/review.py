"""What the admins read to improve the content: the questions the assistant could not answer (the fallback) and the
answers to "Esta página foi útil?" (services/feedback.py), both already masked when stored and masked again here.

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
    count: int  # how many times this question (same words) got the fallback
    last_at: datetime


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
    """The questions answered with the fallback, grouped by their words, most recently asked first."""
    question = aliased(ChatMessage)
    rows = db.session.execute(
        select(question.text, question.created_at)
        .join(ChatMessage, (ChatMessage.session_id == question.session_id) & (ChatMessage.id == question.id + 1))
        .where(question.role == "user", ChatMessage.role == "assistant", ChatMessage.path == "fallback")
        .order_by(question.id.desc()).limit(limit * 5)).all()
    groups: dict[str, list] = {}
    for text, at in rows:
        key = normalised_question(text) or text.strip().lower()
        if key in groups:
            groups[key][1] += 1
        else:
            groups[key] = [mask(text), 1, at]  # newest first: the first seen is the last asked
    return [Unanswered(text, count, at) for text, count, at in list(groups.values())[:limit]]


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
