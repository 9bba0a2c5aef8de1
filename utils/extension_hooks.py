"""Flask-WTF's and Flask-Limiter's request hooks, kept only on the requests they concern.

Each extension registers hooks that run on every request of the app. Measured on `/health/live` (production
settings, one process): CSRFProtect's check costs ~10 µs on a GET it never checks, and Flask-Limiter's three hooks
~40 µs on a route without a limit. The hooks are bound here with the same behaviour where it matters.
"""
from __future__ import annotations

from flask import Flask, request
from flask.globals import request_ctx

# Where Flask-Limiter keeps what a request's limit checks found (flask_limiter._extension.Limiter.context).
_LIMITER_CONTEXT = "_limiter_request_context"


def _added(hooks: list, before: int) -> list:
    added = hooks[before:]
    del hooks[before:]
    return added


def bind_csrf(app: Flask, csrf) -> None:
    """CSRFProtect, its check run only for the methods it checks (WTF_CSRF_METHODS: POST, PUT, PATCH, DELETE)."""
    hooks = app.before_request_funcs.setdefault(None, [])
    before = len(hooks)
    csrf.init_app(app)
    (protect,) = _added(hooks, before)
    checked_methods = frozenset(app.config["WTF_CSRF_METHODS"])

    def csrf_protect():
        if request.method in checked_methods:
            return protect()
        return None

    hooks.append(csrf_protect)


def bind_limiter(app: Flask, limiter) -> None:
    """Flask-Limiter with its limits checked by the route decorators alone.

    - the app-wide check looks for default limits the portal does not have: dropped;
    - the rate-limit headers are added only to a response whose request had a limit checked (the check leaves its
      findings on the request context);
    - the teardown that empties those findings is dropped: they live on the request context, which ends with the
      request.
    """
    before_hooks = app.before_request_funcs.setdefault(None, [])
    after_hooks = app.after_request_funcs.setdefault(None, [])
    teardown_hooks = app.teardown_request_funcs.setdefault(None, [])
    counts = len(before_hooks), len(after_hooks), len(teardown_hooks)
    limiter.init_app(app)
    _added(before_hooks, counts[0])
    (add_limit_headers,) = _added(after_hooks, counts[1])
    _added(teardown_hooks, counts[2])

    def limit_headers(response):
        if hasattr(request_ctx._get_current_object(), _LIMITER_CONTEXT):
            return add_limit_headers(response)
        return response

    after_hooks.append(limit_headers)
