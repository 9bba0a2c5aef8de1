"""The serving processes' log writer: request threads append, one thread formats and writes whole lines."""
import contextlib
import json
import logging
import os
import threading

import pytest

from utils import json_log


@pytest.fixture
def deferred_log(tmp_path):
    path = tmp_path / "portal.log"
    json_log.configure("INFO", str(path), deferred=True)
    yield path
    json_log.configure("INFO", None)  # back to a direct handler; stops the writer thread


def lines(path):
    json_log.flush()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lines_from_many_threads_arrive_whole_and_masked(deferred_log):
    log = logging.getLogger("portal.test")

    def write(thread):
        for n in range(200):
            log.info("line %s from %s, CPF 123.456.789-09", n, thread)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = lines(deferred_log)
    assert len(written) == 1600
    assert all("123.456.789-09" not in line["message"] for line in written)
    for t in range(8):  # each thread's lines in the order it wrote them
        own = [line["message"] for line in written if line["message"].split(" from ")[1].startswith(f"{t},")]
        assert own == [f"line {n} from {t}, CPF ***.***.***-**" for n in range(200)]


def test_the_message_is_fixed_when_logged_and_the_traceback_kept(deferred_log):
    values = ["first"]
    logging.getLogger("portal.test").info("value %s", values)
    values.append("changed after the call")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("portal.test").exception("failed")
    written = lines(deferred_log)
    assert written[0]["message"] == "value ['first']"
    assert "ValueError: boom" in written[1]["exc_info"]


def test_lines_are_written_without_a_flush(deferred_log):
    logging.getLogger("portal.test").info("soon")
    for _ in range(100):
        if deferred_log.exists() and "soon" in deferred_log.read_text(encoding="utf-8"):
            return
        threading.Event().wait(0.05)
    pytest.fail("the writer thread did not write within 5 s")


def test_a_rotated_file_is_reopened(deferred_log):
    log = logging.getLogger("portal.test")
    log.info("before rotation")
    json_log.flush()
    os.rename(deferred_log, str(deferred_log) + ".1")  # what logrotate does
    log.info("after rotation")
    assert [line["message"] for line in lines(deferred_log)] == ["after rotation"]


def _entry(**changes):
    entry = json_log.AccessEntry(created=1_764_806_400.25, method="GET", route=None,
                                 path_info="/nao-existe/123.456.789-09/\xc3\xa7", status=404, seconds=0.0123456,
                                 client="127.0.0.0/24", request_id="req-entry-check")
    return entry._replace(**changes)


@contextlib.contextmanager
def portal_handler_alone():
    """The root logger as a serving process has it: the portal's handler only (pytest adds capture handlers as each
    test's call begins, so this is entered inside the test)."""
    root = logging.getLogger()
    others = [handler for handler in root.handlers if handler.get_name() != json_log.HANDLER_NAME]
    for handler in others:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in others:
            root.addHandler(handler)


def test_an_access_entry_skips_logging_and_is_written_as_the_logged_line(deferred_log, tmp_path):
    with portal_handler_alone():
        assert json_log._writer.takes_entries()
        json_log.log_access(_entry())
    (handed,) = lines(deferred_log)

    direct = tmp_path / "direct.log"
    json_log.configure("INFO", str(direct))  # the same entry through `logging`, as tests and commands write it
    with portal_handler_alone():
        assert not json_log._writer.takes_entries()
        json_log.log_access(_entry())
    (logged,) = lines(direct)
    assert handed.pop("time") == "2025-12-04T00:00:00.250Z"  # when the request was answered, not when written
    logged.pop("time")  # a logged line is stamped as it is logged
    assert handed == logged
    assert handed["path"] == "/nao-existe/***.***.***-**/ç" and handed["route"] is None
    assert handed["status"] == 404 and handed["duration_ms"] == 12.35 and handed["request_id"] == "req-entry-check"
    assert handed["logger"] == "portal.access"


def test_an_access_entry_goes_through_logging_while_another_handler_listens(deferred_log):
    seen = []
    listener = logging.Handler()
    listener.emit = seen.append
    logging.getLogger("portal.access").addHandler(listener)
    try:
        with portal_handler_alone():
            assert not json_log._writer.takes_entries()
            json_log.log_access(_entry(route="/processos/<numero>", path_info=None, status=200))
    finally:
        logging.getLogger("portal.access").removeHandler(listener)
    assert [record.route for record in seen] == ["/processos/<numero>"]
    assert lines(deferred_log)[0]["route"] == "/processos/<numero>"


def test_a_developer_console_shows_an_access_entry_as_its_short_line(tmp_path):
    path = tmp_path / "console.log"
    json_log.configure("INFO", str(path), readable=True, deferred=True)
    try:
        with portal_handler_alone():
            json_log.log_access(_entry())
        json_log.flush()
        assert path.read_text(encoding="utf-8").splitlines() == ["404 GET /nao-existe/***.***.***-**/ç 12.35 ms"]
    finally:
        json_log.configure("INFO", None)


def test_a_served_request_reaches_the_file_through_the_writer_thread(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "served.log"
    json_log.configure("INFO", str(path), deferred=True)  # as a serving process has it
    try:
        with portal_handler_alone():
            assert json_log._writer.takes_entries()
            app.test_client().get("/a/b/fulano@example.com", headers={"X-Request-ID": "req-served-check"})
        (line,) = [entry for entry in lines(path) if entry["logger"] == "portal.access"]
    finally:
        json_log.configure("INFO", None)
    assert line["request_id"] == "req-served-check" and line["status"] == 404 and line["route"] is None
    assert line["path"] == "/a/b/***@***" and line["client"] == "127.0.0.0/24" and line["method"] == "GET"
