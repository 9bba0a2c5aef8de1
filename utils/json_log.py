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
import functools
import logging
import logging.handlers
import os
import sys
import threading
import time
from contextvars import ContextVar
from typing import NamedTuple

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
access_logger = logging.getLogger(ACCESS_LOGGER)
_root = logging.getLogger()


class AccessEntry(NamedTuple):
    """One request's access line, as the request leaves it: raw values, turned into a line by the formatters."""

    created: float            # time.time() when the request was answered
    method: str
    route: str | None         # the URL rule template; None when no rule matched
    path_info: str | None     # the WSGI PATH_INFO, kept only when no rule matched (the route says it otherwise)
    status: int
    seconds: float
    client: str | None        # already truncated to its network (utils.request_middleware.truncate_address)
    request_id: str | None

    def fields(self) -> dict:
        # PEP 3333 hands PATH_INFO over as latin-1 code points: decoded as Werkzeug's request.path is.
        path = ("/" + self.path_info.encode("latin-1", "replace").decode("utf-8", "replace").lstrip("/"))[:200] \
            if self.path_info is not None else None
        return {"method": self.method, "route": self.route, "path": path, "status": self.status,
                "duration_ms": round(self.seconds * 1000, 2), "client": self.client}


@functools.lru_cache(maxsize=4)  # a batch of access lines falls within a second or two
def _second_stamp(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _access_fields(record: logging.LogRecord) -> dict:
    values = record.__dict__
    return {field: values.get(field) for field in ACCESS_FIELDS}


def log_access(entry: AccessEntry) -> None:
    """Write one request's access line.

    A serving process whose log goes only to the portal's writer thread hands the entry to it as it is: no
    LogRecord, no handler chain on the request's path (~9 µs of a ~80 µs `/health/live`, measured in one process).
    Anywhere else (tests, CLI, another handler listening) it is an ordinary record of the `portal.access` logger.
    """
    if _writer.takes_entries():
        _writer.pending.append(entry)  # deque.append is atomic: many request threads, one reader
    elif access_logger.isEnabledFor(logging.INFO):
        access_logger.info("request", extra={**entry.fields(), "request_id": entry.request_id})


class MaskingJsonFormatter(OrjsonFormatter):
    """JSON lines with UTC timestamps; every free-text value is passed through `mask`.

    Encoded by orjson (~0.3 µs a line where json.dumps took ~4). An access line (one per request, its fields
    known) is built directly rather than by python-json-logger's walk over the record's attributes: the same JSON
    object, ~14 µs a line before, ~3 after.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER and not record.exc_info and not record.exc_text \
                and record.getMessage() == "request":
            return self.format_access(record.created, getattr(record, "request_id", None), _access_fields(record))
        return super().format(record)

    def format_access(self, created: float, request_id: str | None, fields: dict) -> str:
        line = {"level": "INFO", "logger": ACCESS_LOGGER, "message": "request", "request_id": request_id}
        for field, value in fields.items():
            line[field] = mask(value) if isinstance(value, str) and field not in _UNMASKED_FIELDS else value
        line["time"] = f"{_second_stamp(int(created))}.{int(created * 1000) % 1000:03d}Z"
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
        if record.name == ACCESS_LOGGER and record.getMessage() == "request":
            line = self.format_access(record.created, None, _access_fields(record))
        else:
            line = f"{record.levelname} {record.name}: {mask(record.getMessage())}"
        if record.exc_info:
            line += "\n" + mask(self.formatException(record.exc_info))
        return line

    def format_access(self, created: float, request_id: str | None, fields: dict) -> str:
        return (f"{fields['status']} {fields['method']} {mask(str(fields['route'] or fields['path'] or '-'))} "
                f"{fields['duration_ms']} ms")


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
        self.pending: collections.deque[logging.LogRecord | AccessEntry] = collections.deque()
        self.handler: logging.Handler | None = None
        self.front: logging.Handler | None = None  # the root logger's handler that hands records over
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.writing = threading.Lock()
        self.pid: int | None = None
        # Whether this process's writer thread runs: a flag, because os.getpid() is a system call (~2 % of a
        # worker's time at full load when asked on every request); a forked child clears it.
        self.runs_here = False
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.runs_here = False

    def takes_entries(self) -> bool:
        """Whether an access entry may skip `logging`: this process's writer runs, and the access logger's records
        would reach it alone (the root logger's one handler, nothing on the access logger itself)."""
        handlers = _root.handlers
        return (self.runs_here and len(handlers) == 1 and handlers[0] is self.front
                and access_logger.isEnabledFor(logging.INFO) and not access_logger.handlers
                and not access_logger.filters and access_logger.propagate)

    def start(self, handler: logging.Handler) -> None:
        self.stop()
        self.handler, self.pending, self.stopping = handler, collections.deque(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self.thread.start()
        self.pid = os.getpid()
        self.runs_here = True

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
                    if type(record) is AccessEntry:
                        lines.append(handler.formatter.format_access(record.created, record.request_id,
                                                                     record.fields()))
                    else:
                        lines.append(handler.format(record))
                except Exception:
                    handler.handleError(record if isinstance(record, logging.LogRecord)
                                        else logging.makeLogRecord({"name": ACCESS_LOGGER, "msg": "request"}))
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
        self.thread = self.handler = self.front = None
        self.runs_here = False


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
    root = _root
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    _writer.stop()
    target = build_handler(log_file, readable)
    if deferred:
        _writer.start(target)
        handler: logging.Handler = _DeferredHandler(_writer)
        _writer.front = handler
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
