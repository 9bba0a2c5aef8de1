"""What every request goes through: request ID, timing, security headers and one JSON access line."""
from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid

from flask import abort, current_app, g, request, session

from utils.json_log import current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("portal.access")


def request_id_from(incoming: str | None) -> str:
    """Keep a well-formed incoming request ID; otherwise make a new one."""
    if incoming and _VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def truncate_address(address: str | None) -> str | None:
    """The client's network, not the client: IPv4 to /24, IPv6 to /48."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _begin_request():
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    current_request_id.set(g.request_id)
    g.started = time.perf_counter()
    # Refuse an announced oversized body before routing or reading it (Flask would only check on read).
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        abort(413)


def security_headers(production: bool) -> dict[str, str]:
    """The headers Flask-Talisman does not set (it sets CSP, frame, nosniff, referrer, permissions)."""
    headers = {
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Permitted-Cross-Domain-Policies": "none",
        # No product or version: gunicorn would say "gunicorn", the dev server its versions.
        "Server": "portal",
    }
    if production:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def _finish_response(response, extra_headers):
    request_id = g.get("request_id") or request_id_from(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    for name, value in extra_headers.items():
        response.headers[name] = value
    response.headers.pop("X-Powered-By", None)
    if session.modified:
        # The only session data is short-lived form security; it ends after PERMANENT_SESSION_LIFETIME.
        session.permanent = True
    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    rule = request.url_rule.rule if request.url_rule else None
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "route": rule,
            "path": None if rule else request.path[:200],
            "status": response.status_code,
            "duration_ms": duration_ms,
            "client": truncate_address(request.remote_addr),
            "request_id": request_id,
        },
    )
    return response


def init_app(app, production: bool) -> None:
    """Register the pipeline; call it before any other extension adds request hooks."""
    extra_headers = security_headers(production)
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
    app.after_request(lambda response: _finish_response(response, extra_headers))
    # A worker thread serves many requests: forget this one's ID once it is done.
    app.teardown_request(lambda exc: current_request_id.set(None))
