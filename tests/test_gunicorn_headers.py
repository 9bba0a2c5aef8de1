"""gunicorn.conf.py checks the portal's constant security headers once per worker instead of on every response:
every other header line is still checked, a changed one is checked again, and a served response carries each
security header once."""
from __future__ import annotations

import runpy

import gunicorn.http.wsgi
import httpx
import pytest
from gunicorn.http.errors import InvalidResponseHeader, InvalidResponseHeaderName

from tests.conftest import CLOSED_URL, ROOT, gunicorn_portal
from tests.test_pipeline import assert_security_headers
from utils.request_middleware import security_headers


@pytest.fixture
def checked_once(monkeypatch, tmp_path):
    """gunicorn's Response with the config's check installed; the config's effects on this process (the metrics
    directory, the server's name, the check) are put back after the test."""
    response_class = gunicorn.http.wsgi.Response
    monkeypatch.setattr(response_class, "process_headers", response_class.process_headers)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setattr(gunicorn.http.wsgi, "SERVER", gunicorn.http.wsgi.SERVER)  # the config renames the server
    config["_check_constant_headers_once"]()

    def process(headers):
        response = response_class.__new__(response_class)
        response.headers, response.response_length, response.upgrade = [], None, False
        response.process_headers(headers)
        return response
    return process


def test_constant_headers_pass_and_every_other_line_is_still_checked(checked_once):
    constant = security_headers(True)
    app_lines = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "12"), ("Connection", "close")]
    response = checked_once(app_lines + constant + [("X-Request-ID", "abc12345")])
    assert sorted(response.headers) == sorted(app_lines[:2] + constant + [("X-Request-ID", "abc12345")])
    assert response.response_length == 12  # gunicorn still reads what it needs from the app's lines
    with pytest.raises(InvalidResponseHeader):
        checked_once([*constant, ("X-Request-ID", "abc\r\nSet-Cookie: x=1")])
    with pytest.raises(InvalidResponseHeaderName):
        checked_once([*constant, ("Bad Name", "1")])
    changed = [("Content-Security-Policy", "default-src 'self'\x01")]  # not the constant line: checked as any
    with pytest.raises(InvalidResponseHeader):
        checked_once(constant[1:] + changed)
    listed = checked_once([["X-Listed", "1"], *constant])  # a line given as a list is checked by gunicorn alone
    assert ("X-Listed", "1") in listed.headers and len(listed.headers) == len(constant) + 1


def test_a_response_served_by_gunicorn_carries_each_security_header_once(tmp_path, sqlite_template):
    with (gunicorn_portal(tmp_path, sqlite_template, workers=1, threads=2, DATAJUD_BASE_URL=CLOSED_URL,
                          SYNC_ENABLED="false", MONITORING_COLLECTOR="false") as base,
          httpx.Client(base_url=base, timeout=10) as client):
        for path in ("/health/live", "/", "/nao-existe"):
            response = client.get(path)
            assert_security_headers(response)
            names = [name.lower() for name, _ in response.headers.multi_items()]
            for name, _ in security_headers(True):
                if name in response.headers:
                    assert names.count(name.lower()) == 1, (path, name)
            assert names.count("server") == 1
