"""One JSON object per log line, every record masked, the request ID on every line of a request.

Every record of the process goes through the root logger's single handler, with one formatter
(`MaskingJsonFormatter`) and one filter (`RequestIdFilter`). json.dumps escapes CR, LF and quotes,
so nothing a client sends can split or break a line.
"""
from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from utils.masking import mask

HANDLER_NAME = "portal-json"
# The request being served; a context variable so work the request hands to a thread
# (run under contextvars.copy_context()) logs under the same ID.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
# Fields the portal itself writes and that hold no free text (request IDs that look like personal
# data are refused at the door, see utils.request_middleware).
_UNMASKED_FIELDS = frozenset({"time", "level", "logger", "status", "duration_ms", "method", "request_id", "client"})


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request ID of the request being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


class MaskingJsonFormatter(JsonFormatter):
    """JSON lines with UTC timestamps; every free-text value is passed through `mask`."""

    def __init__(self):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data):
        for key, value in log_data.items():
            if isinstance(value, str) and key not in _UNMASKED_FIELDS:
                log_data[key] = mask(value)
        if "time" in log_data:
            log_data["time"] = log_data["time"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return log_data


def build_handler(log_file: str | None, max_bytes: int, backup_count: int) -> logging.Handler:
    """A size-rotated file when `log_file` is set (safe with several worker processes), else stdout."""
    if log_file:
        from concurrent_log_handler import ConcurrentRotatingFileHandler

        handler = ConcurrentRotatingFileHandler(log_file, maxBytes=max_bytes, backupCount=backup_count,
                                                encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(MaskingJsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure(level: str, log_file: str | None, max_bytes: int, backup_count: int) -> None:
    """Install the JSON handler on the root logger, replacing one installed earlier by this function."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(build_handler(log_file, max_bytes, backup_count))
    root.setLevel(level)
    # The portal writes its own access line per request; the dev server's would repeat it unmasked.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The resilience layer writes one line per outbound attempt; httpx's own would repeat it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
