"""Answers to "Esta página foi útil?", kept without personal data for FEEDBACK_RETENTION_DAYS."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from extensions import db
from models import PageFeedback, utcnow
from utils.masking import mask


def record(page: str, helpful: bool, comment: str | None) -> None:
    """Store one answer, masked, and drop the answers past their retention in the same transaction."""
    comment = (comment or "").strip()
    db.session.add(PageFeedback(page=page, helpful=helpful, comment=mask(comment) if comment else None))
    cutoff = utcnow() - timedelta(days=current_app.config["FEEDBACK_RETENTION_DAYS"])
    db.session.execute(delete(PageFeedback).where(PageFeedback.created_at < cutoff))
    db.session.commit()
