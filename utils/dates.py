"""Dates of the court: its time zone, UTC-aware values, ISO text and the pt-BR display form.

Everything the portal stores is UTC; the court (and DataJud's zoneless dates) keep Brasília time.
A leaf: imports nothing of the app.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

COURT_TIMEZONE = ZoneInfo("America/Sao_Paulo")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC (how the portal writes every value)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_z(moment: datetime | None) -> str | None:
    """`2026-03-12T14:05:00Z`, or None."""
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def parse_iso(text: str) -> datetime:
    """An ISO 8601 text (a trailing `Z` allowed) as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def court_day(moment: datetime) -> date:
    """The court's calendar day of an instant."""
    return as_utc(moment).astimezone(COURT_TIMEZONE).date()


def format_court_moment(value) -> str:
    """An ISO text, a datetime or unix seconds (UTC) as the court's local "dd/mm/aaaa às hh:mm"; "—" for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):  # unix seconds, as the monitoring figures carry them
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = as_utc(value) if isinstance(value, datetime) else parse_iso(str(value))
    return moment.astimezone(COURT_TIMEZONE).strftime("%d/%m/%Y às %H:%M")


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?")


def parse_datetime(value: Any) -> datetime | None:
    """Any date form DataJud sends, as an aware UTC datetime; None when there is none or it is not a date.

    ISO 8601 with no fraction or a fraction of any length (nanoseconds are cut to microseconds), with `Z`, an offset
    or no zone; the compact `YYYYMMDD[hhmmss]`; epoch milliseconds. No zone means the court's local time.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_number(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if match := _COMPACT.fullmatch(text):
            year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
            return _aware(datetime(year, month, day, hour, minute, second), None)
        if match := _ISO.fullmatch(text):
            year, month, day, hour, minute, second = (int(part or 0) for part in match.groups()[:6])
            micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
            naive = datetime(year, month, day, hour, minute, second, micro)
            return _aware(naive, match.group(8))
    except ValueError:  # a month 13 or a day 32 is not a date
        return None
    return None



def _aware(naive: datetime, zone: str | None) -> datetime:
    if zone is None:
        return naive.replace(tzinfo=COURT_TIMEZONE).astimezone(UTC)
    if zone.upper() == "Z":
        return naive.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return naive.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)


def _from_number(value: float) -> datetime | None:
    # 14 digits is the compact form sent as a number; 13 is epoch milliseconds, 10 epoch seconds.
    if isinstance(value, int) and len(str(value)) in (8, 14):
        return parse_datetime(str(value))
    try:
        seconds = value / 1000 if abs(value) >= 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None

