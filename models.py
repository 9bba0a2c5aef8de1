"""The portal's tables. Schema changes go through Flask-Migrate (migrations/)."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class PageFeedback(db.Model):
    """One answer to "Esta página foi útil?": no IP, no cookie, the comment masked before it is stored."""

    __tablename__ = "page_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Process(db.Model):
    """One instance (grau) of a process as a provider returned it; a CNJ number may have several."""

    __tablename__ = "processes"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cnj: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20))  # "datajud" | "escavador"
    source_id: Mapped[str] = mapped_column(String(120))
    degree: Mapped[str] = mapped_column(String(10))
    class_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    class_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subjects: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "name"}]
    judging_body_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    judging_body_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    secrecy_level: Mapped[int] = mapped_column(Integer, default=0)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    upstream_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_sync_status: Mapped[str] = mapped_column(String(20), default="ok")
    last_sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    followed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    last_accessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)

    movements: Mapped[list[Movement]] = relationship(
        back_populates="process", cascade="all, delete-orphan", order_by="Movement.position")


class Movement(db.Model):
    """One movement of one instance, in the order the provider sent it (duplicates included, as received)."""

    __tablename__ = "movements"
    __table_args__ = (Index("ix_movements_process_position", "process_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    complements: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer)

    process: Mapped[Process] = relationship(back_populates="movements")
