"""What every request goes through: request ID, timing, security headers, metrics and one JSON access line.

One WSGI layer (`Pipeline`) wraps the app: it names the request, adds the headers as the response starts, and once
the app has answered counts the request and hands its access line over. Inside Flask a single hook
(`_begin_request`) refuses what must not be routed and leaves the matched route for the pipeline.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import random
import re
import time
from typing import Protocol
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import RequestRedirect

from utils.json_log import AccessEntry, current_request_id, log_access
from utils.masking import mask

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_from(incoming: str | None) -> str:
    """Keep a well-formed incoming request ID; otherwise make a new one.

    An ID shaped like personal data (a CPF fits the allowed characters) is replaced too, so the ID
    can be logged as it is and still match the one the client holds.
    """
    if incoming and _VALID_REQUEST_ID.fullmatch(incoming) and mask(incoming) == incoming:
        return incoming
    # An ID correlates log lines; it guards nothing, so it needs no system entropy: os.urandom (uuid4) cost ~30 µs
    # a request on this machine, the process's Mersenne Twister (reseeded in each forked worker) well under 1 µs.
    return f"{random.getrandbits(128):032x}"


def parse_address(address: str | None):
    """The client's IP address (an IPv4-mapped IPv6 address as IPv4), or None when it is not one."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip


@functools.lru_cache(maxsize=4096)  # clients come back: parsing an address is most of the access line's cost
def truncate_address(address: str | None) -> str | None:
    """The client's network, not the client: IPv4 to /24, IPv6 to /48."""
    ip = parse_address(address)
    if ip is None:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_key() -> str:
    """The rate-limit key of the client: its address after ProxyFix, an IPv6 client by its /64
    (one household or host gets many addresses of the same /64)."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def log_rate_limit_breach(request_limit) -> None:
    """Flask-Limiter's breach callback: one line with the client's network, the route and the limit."""
    logging.getLogger("portal.ratelimit").warning("rate limit exceeded", extra={
        "client": truncate_address(request.remote_addr),
        "route": request.url_rule.rule if request.url_rule else None, "limit": str(request_limit.limit)})


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"\d{1,5}")
INVALID_HOST_KEY = "portal.invalid_host"
REQUEST_ID_KEY = "portal.request_id"
ROUTE_KEY = "portal.route"  # the matched URL rule template (None: no rule), once `_begin_request` has run


@functools.lru_cache(maxsize=256)  # a server sees few Hosts: judge each once, not per request
def valid_host(host: str) -> bool:
    """A Host header Werkzeug can route on: a DNS name (labels of 1–63 letters, digits or hyphens, punycode that
    decodes), an IPv4 address or a bracketed IPv6 one, with an optional port up to 65535."""
    name, port = host, None
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return False
        port = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return False
    else:
        if ":" in host:
            name, port = host.rsplit(":", 1)
        labels = name.rstrip(".").split(".")
        if not name or len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            return False
        try:
            name.encode("ascii").decode("idna")
        except UnicodeError:
            return False
    return port is None or (_PORT.fullmatch(port) is not None and int(port) <= 65535)


class Pipeline:
    """WSGI middleware in front of Flask: the request ID, the headers every response carries, and once the app has
    answered, the request's metrics and access line.

    A Host that is not a host name ("a..b", a 64-letter label, broken punycode) makes Werkzeug fail before the
    portal can answer, as a bare 500 with no log line: such a request is routed under a neutral name instead and
    refused with the portal's 400 page (see `_begin_request`).

    The security headers and the request ID are appended to the header list as the response starts: the same
    lines on every response, so there is nothing to compute per request, and Werkzeug's `Headers.extend` (a
    validation per header, ~25 µs a response) is skipped. Counting and logging here rather than in Flask's
    after_request and teardown hooks: every request is seen (one whose after_request failed too), timed from
    its arrival until the app has answered (its context pushed and popped, session and teardown included),
    through plain WSGI values rather than the context proxies (~10 µs less a request on `/health/live`, measured
    in one process). A streamed body would be sent after that: no route streams one today.
    """

    def __init__(self, wsgi_app, static_headers: list[tuple[str, str]]):
        self.wsgi_app = wsgi_app
        self.static_headers = static_headers
        # No product or version in a Server line. gunicorn writes its own, made to say "portal" by gunicorn.conf.py:
        # a second one would repeat it. Any other server (the development server, a test client) gets the app's.
        self.named_headers = [*static_headers, ("Server", "portal")]

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        host = environ.get("HTTP_HOST")
        if host is not None and not valid_host(host):
            environ = {**environ, "HTTP_HOST": "localhost", INVALID_HOST_KEY: True}
        request_id = environ[REQUEST_ID_KEY] = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        named = current_request_id.set(request_id)
        server = environ.get("SERVER_SOFTWARE")
        static = self.static_headers if server and server.startswith("gunicorn") else self.named_headers
        added = [*static, (REQUEST_ID_HEADER, request_id)]
        answered = []

        def start_with_headers(status, headers, exc_info=None):
            write = start_response(status, headers + added, exc_info)
            answered.append(status)  # what the server accepted: a refused header list raises instead
            return write

        try:
            return self.wsgi_app(environ, start_with_headers)
        finally:
            # A worker thread serves many requests: forget this one's ID once it is answered.
            current_request_id.reset(named)
            try:
                _answered(environ, _status_code(answered[-1]) if answered else 500, time.perf_counter() - started,
                          request_id)
            except Exception:  # bookkeeping never takes an answered request down
                logging.getLogger("portal.pipeline").exception("request bookkeeping failed")


def _status_code(status: str) -> int:
    code = status.partition(" ")[0]
    return int(code) if code.isdigit() else 500


def _answered(environ, status: int, seconds: float, request_id: str) -> None:
    method = environ.get("REQUEST_METHOD", "").upper()  # as Werkzeug's request.method: one series per method
    routed = ROUTE_KEY in environ
    rule = environ.get(ROUTE_KEY)
    if _observer is not None:
        _observer.finished(rule, method, status, seconds, routed)
    log_access(AccessEntry(time.time(), method, rule, None if rule else environ.get("PATH_INFO", ""), status,
                           seconds, truncate_address(environ.get("REMOTE_ADDR")), request_id))


class RequestObserver(Protocol):
    """Receives every request's route template (None when unrouted), kept apart so utils import no service.

    `started` when the request was routed; `finished` once it is answered, `ended` True when `started` was called
    for it (it is no longer in flight)."""

    def started(self, route: str | None) -> None: ...
    def finished(self, route: str | None, method: str, status: int, seconds: float, ended: bool) -> None: ...


_observer: RequestObserver | None = None


def _begin_request():
    req = request._get_current_object()  # one lookup through the context proxy: this runs on every request
    environ = req.environ
    # Routing has run already: url_rule is known here. The pipeline reads it once the request is answered, and
    # counts the request out of flight only when it was counted in.
    rule = req.url_rule.rule if req.url_rule is not None else None
    if _observer is not None:
        _observer.started(rule)
    environ[ROUTE_KEY] = rule
    if INVALID_HOST_KEY in environ:
        abort(400)
    if isinstance(req.routing_exception, RequestRedirect):
        # Werkzeug's own redirect (a missing or doubled slash) is built from the client's Host, in its Location
        # and its body: answer with the path alone.
        target = urlsplit(req.routing_exception.new_url)
        return redirect(target.path + (f"?{target.query}" if target.query else ""), req.routing_exception.code)
    # Refuse an announced oversized body before routing or reading it (Flask would only check on read).
    if "CONTENT_LENGTH" in environ and req.content_length:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit and req.content_length > limit:
            abort(413)


CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'",
    "connect-src 'self'", "form-action 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
])
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "camera", "microphone", "geolocation", "payment", "usb", "interest-cohort", "browsing-topics"))


def security_headers(production: bool) -> list[tuple[str, str]]:
    """The headers every response carries, computed once.

    Written here rather than by Flask-Talisman: Talisman rebuilds the policy on every response
    (per-view options this portal does not use), which measured ~80 µs of a ~230 µs request.
    Scripts and styles are files under static/, so no per-response nonce is needed.
    """
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("X-Permitted-Cross-Domain-Policies", "none"),
    ]
    if production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


class BoundedJSONProvider(DefaultJSONProvider):
    """JSON nested deeper than the parser's recursion limit is invalid JSON (a 400), not a crash (a 500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class ExpiringSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions that always expire: the only session data is short-lived form security.

    Done here rather than in an after_request hook, which would read the session through the proxy,
    mark it accessed and make Flask add `Vary: Cookie` to every response (defeating HTTP caches).
    """

    def open_session(self, app, request):
        # Most requests (every anonymous page) carry no session cookie: an empty session then, without building
        # the signing serializer Flask makes first (~20 µs a request).
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not (session or session.modified or session.accessed):
            # Flask would do nothing here either, after reading seven cookie settings from the config (~2 µs).
            return
        if session.modified:
            session.permanent = True  # cookie lifetime = PERMANENT_SESSION_LIFETIME (2 h)
        super().save_session(app, session, response)


def init_app(app, production: bool, observer: RequestObserver | None = None) -> None:
    """Register the pipeline; call it before any other extension adds request hooks.

    `observer` (the metrics service) is told when each request is routed and when it is answered. It is
    process-wide, as the metrics it feeds are: the last app built sets it.
    """
    global _observer
    _observer = observer
    app.session_interface = ExpiringSessionInterface()
    app.wsgi_app = Pipeline(app.wsgi_app, security_headers(production))
    app.json = BoundedJSONProvider(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
