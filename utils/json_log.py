"""One JSON object per log line, every record masked, the request ID on every line of a request.

Every record of the process goes through the root logger's single handler, with one formatter
(`MaskingJsonFormatter`) and one filter (`RequestIdFilter`). json.dumps escapes CR, LF and quotes,
so nothing a client sends can split or break a line. In a serving process the request thread only queues
the record; one writer thread formats and writes it (`configure(deferred=True)`). A LOG_FILE is appended to
by every worker (one short write per line) and reopened when the platform's logrotate moves it; nothing here
rotates. A developer's console (`make run`) gets a short readable line per request instead of JSON.
"""
from __future__ import annotations

import atexit
import copy
import logging
import logging.handlers
import os
import queue
import sys
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener

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


class ConsoleFormatter(logging.Formatter):
    """Development (`make run`): one short readable line per request, the other records as `LEVEL logger: message`.

    Values are masked as in the JSON lines: a developer's console is a log too.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "portal.access":
            path = getattr(record, "route", None) or getattr(record, "path", None) or "-"
            line = (f"{getattr(record, 'status', '-')} {getattr(record, 'method', '-')} {mask(str(path))} "
                    f"{getattr(record, 'duration_ms', '-')} ms")
        else:
            line = f"{record.levelname} {record.name}: {mask(record.getMessage())}"
        if record.exc_info:
            line += "\n" + mask(self.formatException(record.exc_info))
        return line


class _DeferredQueueHandler(QueueHandler):
    """Hands records to the writer thread as they are: formatting and masking happen there, off the request."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def build_handler(log_file: str | None, readable: bool = False) -> logging.Handler:
    """Where lines are written: `log_file` (appended, reopened when the platform's logrotate moves it), else stdout;
    JSON, or the short readable form for a developer's console."""
    handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8") if log_file \
        else logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter() if readable else MaskingJsonFormatter())
    return handler


class _Writer:
    """The process's one log writer thread; restarted after a fork (a forked child inherits no threads)."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.listener: QueueListener | None = None
        self.pid: int | None = None

    def start(self, handler: logging.Handler) -> None:
        self.stop()
        self.queue = queue.Queue()
        self.listener = QueueListener(self.queue, handler, respect_handler_level=False)
        self.listener.start()
        self.pid = os.getpid()

    def stop(self) -> None:
        if self.listener is not None and self.pid == os.getpid():
            self.listener.stop()  # writes what is queued first
            for handler in self.listener.handlers:
                handler.close()
        self.listener = None


_writer = _Writer()
atexit.register(_writer.stop)


def flush() -> None:
    """Wait until every record handed to the writer thread is written."""
    if _writer.listener is not None and _writer.pid == os.getpid():
        _writer.queue.join()


def configure(level: str, log_file: str | None, readable: bool = False, deferred: bool = False) -> None:
    """Install the portal's handler on the root logger, replacing one installed earlier by this function.

    `deferred` (serving processes): the request thread only queues the record; one thread per process formats,
    masks and writes it. Otherwise (tests, CLI commands) records are written as they are logged.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    _writer.stop()
    target = build_handler(log_file, readable)
    if deferred:
        _writer.start(target)
        handler: logging.Handler = _DeferredQueueHandler(_writer.queue)
    else:
        handler = target
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())  # in the request's own thread: the ID is a context variable
    root.addHandler(handler)
    root.setLevel(level)
    # The portal writes its own access line per request; the dev server's would repeat it unmasked.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The resilience layer writes one line per outbound attempt; httpx's own would repeat it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
