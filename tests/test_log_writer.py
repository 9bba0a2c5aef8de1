"""The serving processes' log writer: request threads append, one thread formats and writes whole lines."""
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
