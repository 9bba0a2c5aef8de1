"""One JSON object per log line, every record masked, the request ID on every line of a request.

Every record of the process goes through the root logger's single handler, with one formatter
(`MaskingJsonFormatter`) and one filter (`RequestIdFilter`). orjson escapes CR, LF and quotes,
so nothing a client sends can split or break a line. In a serving process the request thread only appends
the record to a deque; one writer thread formats what has gathered and writes it (`configure(deferred=True)`).
A LOG_FILE is appended to by every worker (whole lines, one write per batch) and reopened when the platform's
logrotate moves it; nothing here rotates. A developer's console (`make run`) gets a short readable line per
request instead of JSON.
"""
from __future__ import annotations

import atexit
import collections
import logging
import logging.handlers
import os
import sys
import threading
import time
from contextvars import ContextVar

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

from utils.masking import mask

HANDLER_NAME = "portal-json"
# The request being served; a context variable so work the request hands to a thread
# (run under contextvars.copy_context()) logs under the same ID.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
# Fields the portal itself writes and that hold no free text (request IDs that look like personal
# data are refused at the door, see utils.request_middleware).
_UNMASKED_FIELDS = frozenset({"time", "level", "logger", "status", "duration_ms", "method", "request_id", "client",
                              "route"})  # a route is a URL rule template of the code; the `path` field is masked


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request ID of the request being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


ACCESS_LOGGER = "portal.access"
# The fields of an access line, in the order they are written (utils/request_middleware.py logs them).
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")


class MaskingJsonFormatter(OrjsonFormatter):
    """JSON lines with UTC timestamps; every free-text value is passed through `mask`.

    Encoded by orjson (~0.3 µs a line where json.dumps took ~4). An access line (one per request, its fields
    known) is built directly rather than by python-json-logger's walk over the record's attributes: the same JSON
    object, ~14 µs a line before, ~3 after.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER and not record.exc_info and not record.exc_text:
            return self._access_line(record)
        return super().format(record)

    def _access_line(self, record: logging.LogRecord) -> str:
        values = record.__dict__
        line = {"level": record.levelname, "logger": record.name, "message": mask(record.getMessage()),
                "request_id": values.get("request_id")}
        for field in ACCESS_FIELDS:
            value = values.get(field)
            line[field] = mask(value) if isinstance(value, str) and field not in _UNMASKED_FIELDS else value
        created = record.created
        line["time"] = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
                        + f".{int(created * 1000) % 1000:03d}Z")
        return orjson.dumps(line, default=str).decode()

    def __init__(self):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
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


class _DeferredHandler(logging.Handler):
    """Hands records to the writer thread: a deque append, no lock and no wake-up on the request's path.

    The message is resolved here (its arguments may change after the call); formatting and masking happen in
    the writer thread.
    """

    def __init__(self, writer: _Writer):
        super().__init__()
        self.writer = writer

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.writer.pending.append(record)  # deque.append is atomic: many request threads, one reader
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


def build_handler(log_file: str | None, readable: bool = False) -> logging.Handler:
    """Where lines are written: `log_file` (appended, reopened when the platform's logrotate moves it), else stdout;
    JSON, or the short readable form for a developer's console."""
    handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8") if log_file \
        else logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter() if readable else MaskingJsonFormatter())
    return handler


class _Writer:
    """The process's one log writer thread: every WRITE_INTERVAL_S it formats what has gathered and writes it in
    one write. Restarted after a fork (a forked child inherits no threads).

    One write per batch rather than per line: the file is shared by every worker in append mode, and a batch of
    whole lines in one write(2) never interleaves with another worker's. Measured on `/health/live` (production
    settings, one process): a queue.Queue and QueueListener woke the writer once per line, ~25 µs of CPU a request.
    """

    WRITE_INTERVAL_S = 0.05

    def __init__(self):
        self.pending: collections.deque[logging.LogRecord] = collections.deque()
        self.handler: logging.Handler | None = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.writing = threading.Lock()
        self.pid: int | None = None

    def start(self, handler: logging.Handler) -> None:
        self.stop()
        self.handler, self.pending, self.stopping = handler, collections.deque(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self.thread.start()
        self.pid = os.getpid()

    def _run(self) -> None:
        while not self.stopping.wait(self.WRITE_INTERVAL_S):
            self.write_pending()
        self.write_pending()

    def write_pending(self) -> None:
        with self.writing:
            handler, records = self.handler, []
            while self.pending:
                records.append(self.pending.popleft())
            if not records or handler is None:
                return
            lines = []
            for record in records:
                try:
                    lines.append(handler.format(record))
                except Exception:
                    handler.handleError(record)
            try:
                if isinstance(handler, logging.handlers.WatchedFileHandler):
                    handler.reopenIfNeeded()  # the platform's logrotate moved the file
                with handler.lock:
                    handler.stream.write("\n".join(lines) + "\n")
                    handler.stream.flush()
            except Exception:
                handler.handleError(records[-1])

    def stop(self) -> None:
        if self.thread is not None and self.pid == os.getpid():
            self.stopping.set()
            self.thread.join(timeout=5)  # writes what is pending first
            self.handler.close()
        self.thread = self.handler = None


_writer = _Writer()
atexit.register(_writer.stop)


def flush() -> None:
    """Write every record handed to the writer thread now."""
    if _writer.thread is not None and _writer.pid == os.getpid():
        _writer.write_pending()


def configure(level: str, log_file: str | None, readable: bool = False, deferred: bool = False) -> None:
    """Install the portal's handler on the root logger, replacing one installed earlier by this function.

    `deferred` (serving processes): the request thread only appends the record; one thread per process formats,
    masks and writes what has gathered, every 50 ms. Otherwise (tests, CLI commands) records are written as they
    are logged.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    _writer.stop()
    target = build_handler(log_file, readable)
    if deferred:
        _writer.start(target)
        handler: logging.Handler = _DeferredHandler(_writer)
    else:
        handler = target
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())  # in the request's own thread: the ID is a context variable
    root.addHandler(handler)
    root.setLevel(level)
    # No line names a thread, a process or a source line: LogRecord need not look them up (the logging HOWTO's
    # "Optimization" section; ~8 µs a record).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    # The portal writes its own access line per request; the dev server's would repeat it unmasked.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The resilience layer writes one line per outbound attempt; httpx's own would repeat it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
