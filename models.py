"""The portal's tables. Schema changes go through Flask-Migrate (migrations/)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from extensions import db
from utils.dates import as_utc, utcnow

__all__ = ["Alert", "AuditEntry", "ChatMessage", "ChatSession", "EmailDelivery", "EmailFollow", "EmailSubscriber",
           "FollowedProcess", "LoginThrottle", "Movement", "PageFeedback", "ProcessInstance", "SyncRun", "User",
           "UtcDateTime", "utcnow"]


class UtcDateTime(TypeDecorator):
    """A timestamp that always comes back aware and in UTC.

    PostgreSQL keeps the zone; SQLite drops it and hands back naive values. Everything the portal writes is UTC,
    so a naive value read back is UTC: one place says so instead of every reader.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return as_utc(value) if value is not None else None

    def process_result_value(self, value, dialect):
        return as_utc(value) if value is not None else None


class PageFeedback(db.Model):
    """One answer to "Esta página foi útil?": no IP, no cookie, the comment masked before it is stored."""

    __tablename__ = "page_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class ProcessInstance(db.Model):
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
    filed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    secrecy_level: Mapped[int] = mapped_column(Integer, default=0)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    upstream_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_sync_status: Mapped[str] = mapped_column(String(20), default="ok")
    last_sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_accessed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)

    movements: Mapped[list[Movement]] = relationship(
        back_populates="process", cascade="all, delete-orphan", order_by="Movement.position")


class Movement(db.Model):
    """One movement of one instance, in the order the provider sent it (duplicates included, as received)."""

    __tablename__ = "movements"
    __table_args__ = (Index("ix_movements_process_position", "process_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    complements: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer)

    process: Mapped[ProcessInstance] = relationship(back_populates="movements")


class User(db.Model):
    """A member of the court's staff or an admin. Passwords are stored as scrypt hashes only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))  # "admin" | "staff"
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped at logout, password change and disabling: every session signed with an older value is refused.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    # Flask-Login's user protocol. The id it keeps in the session carries the session version.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class LoginThrottle(db.Model):
    """Failed logins under a name no account has, shared by every worker (a real account keeps its own count).

    Keyed by a digest of the typed name: what someone typed in the user field may be personal data.
    """

    __tablename__ = "login_throttle"

    name_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class AuditEntry(db.Model):
    """Who did what, when, from where: every staff and admin action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)  # network, truncated to /24 or /48


class FollowedProcess(db.Model):
    """A number the court's staff follow: the sync job keeps it fresh and retention never removes it."""

    __tablename__ = "followed_processes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cnj: Mapped[str] = mapped_column(String(20), unique=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SyncRun(db.Model):
    """One run of the background sync of followed processes, for the dashboard."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    trigger: Mapped[str] = mapped_column(String(20))  # "scheduler" | "cli"
    status: Mapped[str] = mapped_column(String(20))  # "running" | "ok" | "partial" | "skipped" | "failed"
    checked: Mapped[int] = mapped_column(Integer, default=0)
    refreshed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    upstream_calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ChatSession(db.Model):
    """One conversation with the assistant; its id is a random UUID kept in the visitor's cookie."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="ChatMessage.id")


class ChatMessage(db.Model):
    """One turn of a conversation. The text is masked (CPF, CNPJ, e-mail, phone, RG) before it is written."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # "user" | "assistant"
    text: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(12), nullable=True)  # process | llm | retrieval | fallback
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    sources: Mapped[list] = mapped_column(JSON, default=list)  # [{"title", "url"}]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    helpful: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # the citizen's rating of an answer

    session: Mapped[ChatSession] = relationship(back_populates="messages")


class Alert(db.Model):
    """A condition the health rules raised; at most one unresolved alert per condition for the whole server."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("uq_alerts_active_condition", "condition", unique=True,
              postgresql_where=text("resolved_at IS NULL"), sqlite_where=text("resolved_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    condition: Mapped[str] = mapped_column(String(64))  # e.g. "cpu", "breaker_open:datajud", "datajud_401"
    severity: Mapped[str] = mapped_column(String(10))  # "warning" | "error" | "critical"
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a username, or "auto"


class EmailSubscriber(db.Model):
    """An e-mail address a citizen gave to follow processes; kept only for these notices.

    The digest (HMAC-SHA256 with the app's secret) is what lookups and limits use; the address itself is read only
    to send. The row goes when its last follow goes.
    """

    __tablename__ = "email_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    address_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # A permanent SMTP refusal or a recorded bounce: nothing more is sent to this address.
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)

    follows: Mapped[list[EmailFollow]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True)


class EmailFollow(db.Model):
    """One process one address follows: consent when asked, confirmation by the single-use link."""

    __tablename__ = "email_follows"
    __table_args__ = (UniqueConstraint("subscriber_id", "cnj"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("email_subscribers.id", ondelete="CASCADE"), index=True)
    cnj: Mapped[str] = mapped_column(String(20), index=True)
    consent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    consent_version: Mapped[str] = mapped_column(String(20))
    # The confirmation link's single-use part; cleared once used.
    nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The newest movement date already told to this address (or present at confirmation).
    notified_through: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_notice_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Set when the follow is ending (no movement for years): its last notice goes, then the row.
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    subscriber: Mapped[EmailSubscriber] = relationship(back_populates="follows")


class EmailDelivery(db.Model):
    """One message to send or sent: no address here, so counts survive the address's removal.

    The digest is kept a short while for the daily limit of confirmation mails, then cleared.
    """

    __tablename__ = "email_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # "confirm" | "notice" | "farewell"
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | failed | refused
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="SET NULL"), nullable=True, index=True)
    follow_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_follows.id", ondelete="SET NULL"), nullable=True, index=True)
    address_digest: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    cnj: Mapped[str | None] = mapped_column(String(20), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)
