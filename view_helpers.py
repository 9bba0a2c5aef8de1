"""What the HTTP layer shares: role guards for whole blueprints, whole-page caching, the lookup's rate limit.

Restricted blueprints guard themselves: `guard(bp, "admin")` checks every request to the blueprint before its view
runs, so a view added later is protected by default. A view opts out with `@public` (login, logout, the public
health summary), asks for other roles with `@roles("admin", "staff")`, or for a recent password with `@fresh`.
The route-inventory test walks the URL map and checks that every restricted rule belongs to a guarded blueprint.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, url_for
from flask.globals import request_ctx
from flask_login import current_user
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

import errors
from extensions import limiter
from services import auth, processes
from services import cache as cache_service
from utils import cnj
from utils.json_log import current_request_id
from utils.request_middleware import client_key

log = logging.getLogger("portal.ratelimit")


# -- role guards ---------------------------------------------------------------------------------------------
def guard(blueprint, *roles: str) -> None:
    """Admit to `blueprint` only logged-in users with one of `roles` (admins always), view markers aside."""
    default = frozenset(roles) | {"admin"}
    blueprint.guarded_roles = default

    @blueprint.before_request
    def _check_role():
        view = current_app.view_functions.get(request.endpoint)
        if view is None or getattr(view, "public", False):
            return None
        allowed = getattr(view, "allowed_roles", default)
        return _refusal(allowed, fresh=getattr(view, "requires_fresh", False))


def public(view):
    """This view of a guarded blueprint is open to anyone (it still sees `current_user`)."""
    view.public = True
    return view


def roles(*names: str):
    """This view admits these roles instead of its blueprint's (admins always)."""
    def mark(view):
        view.allowed_roles = frozenset(names) | {"admin"}
        return view

    return mark


def fresh(view):
    """This view also needs a password typed within LOGIN_FRESH_S (admin actions)."""
    view.requires_fresh = True
    return view


def _refusal(allowed: frozenset[str], fresh: bool):
    if not current_user.is_authenticated:
        if errors.wants_json():
            return errors.api_error(401, "authentication_required", "Entre com seu usuário para usar este recurso.")
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if current_user.role not in allowed:
        if errors.wants_json():
            return errors.api_error(403, "forbidden", "Seu usuário não tem permissão para este recurso.")
        return errors.render_error(403)
    if fresh and not auth.is_fresh():
        if errors.wants_json():
            return errors.api_error(401, "reauthentication_required",
                                    "Por segurança, confirme sua senha antes desta ação.")
        return redirect(url_for("admin.reauthenticate", next=request.full_path.rstrip("?")))
    return None


# -- the process lookup's rate limit ------------------------------------------------------------------------
# Checked only when a lookup is about to ask the provider (`processes.lookup(..., before_provider=...)`): a stored
# answer costs the limiter nothing, and a "not found" the provider gave counts like any other answer.
_LOOKUP_SCOPE = "lookup"
_fallback_limiter = MovingWindowRateLimiter(MemoryStorage())  # this process's own while the shared storage fails


def _on_lookup_limit(operation):
    """`operation(strategy, limit, key)` on the shared limiter, or on this process's own while its storage fails
    (Redis down: per-process limits, as Flask-Limiter does; see services.redis_connection)."""
    limit, key = parse_limit(current_app.config["LOOKUP_RATE_LIMIT"]), client_key()
    try:
        return operation(limiter.limiter, limit, key)
    except LookupLimitReached:
        raise
    except Exception as exc:
        log.warning("lookup limit kept per process: its storage failed", extra={"reason": type(exc).__name__})
        return operation(_fallback_limiter, limit, key)


def _refuse_if_spent(strategy, limit, key) -> None:
    if not strategy.test(limit, _LOOKUP_SCOPE, key):
        reset = strategy.get_window_stats(limit, _LOOKUP_SCOPE, key).reset_time
        raise LookupLimitReached(max(1, math.ceil(reset - time.time())))


def check_lookup_budget() -> None:
    """Before a lookup asks the provider: 429 with Retry-After when this client's LOOKUP_RATE_LIMIT is spent."""
    _on_lookup_limit(_refuse_if_spent)


def charge_lookup(reached_provider: bool) -> None:
    """After a lookup: one provider call charged to this client when the provider answered it (found or not)."""
    if reached_provider:
        _on_lookup_limit(lambda strategy, limit, key: strategy.hit(limit, _LOOKUP_SCOPE, key))


def lookup_for_page(numero: str):
    """A public page's lookup: `(result, None)`, or `(None, response)` with the page that says why not — a bad number
    (400), one the provider does not know (404) or a provider out of reach (503 with Retry-After)."""
    typed = numero[:100]
    try:
        result = processes.lookup(numero, before_provider=check_lookup_budget)
    except cnj.InvalidCnj as exc:
        return None, (render_template("public/lookup.html", typed=typed, error=exc.message), 400)
    except processes.ProcessNotFound as exc:
        charge_lookup(exc.reached_provider)
        return None, (render_template("public/lookup.html", typed=typed, error=exc.message), 404)
    except processes.ProcessUnavailable as exc:
        retry_after = max(1, round(exc.retry_after_s))
        html = render_template("public/process_unavailable.html", typed=typed, retry_after=retry_after,
                               request_id=current_request_id.get())
        return None, (html, 503, {"Retry-After": str(retry_after)})
    charge_lookup(result.reached_provider)
    return result, None


class LookupLimitReached(TooManyRequests):
    def __init__(self, retry_after_s: int):
        super().__init__(retry_after=retry_after_s)


# A staff "atualizar agora" always asks the provider: it always counts.
limit_refreshes = limiter.limit(lambda: current_app.config["LOOKUP_RATE_LIMIT"])


# -- whole pages cached -----------------------------------------------------------------------------------------
def _page_key() -> str:
    return request.path + "?" + urlencode(sorted(request.args.items(multi=True)))


def _session_touched() -> bool:
    # Since Flask 3.1 reading `flask.session` (even `.accessed`) marks the session accessed, so look at
    # the request context's session object the way Flask's own process_response does. Unknown → touched.
    opened = getattr(request_ctx._get_current_object(), "_session", None)
    return opened is None or getattr(opened, "accessed", True) or getattr(opened, "modified", True)


def _shareable(response) -> bool:
    """A response that is the same for everyone: 200, no cookie, no session use, not private."""
    control = response.cache_control
    return (response.status_code == 200 and not response.is_streamed and "Set-Cookie" not in response.headers
            and not (control.private or control.no_store or control.no_cache) and not _session_touched())


def cached_page(namespace: str = "pages", ttl: int = 300):
    """Cache a GET view's 200 body and content type, keyed by path and sorted query string.

    For pages that are the same for every visitor. Nothing is served from or stored in the cache
    when the request carries the session cookie, and nothing is stored when the view touched the
    session (a CSRF token, a logged-in user), set a cookie, or marked the response private/no-store.
    """
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if request.method not in ("GET", "HEAD") or current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
                return view(*args, **kwargs)
            store, key = cache_service.current(), _page_key()
            held = store.held(namespace, key, lambda page: (page["body"].encode(), page["content_type"]))
            if held is not None:
                return current_app.response_class(held[0], content_type=held[1])
            response = current_app.make_response(view(*args, **kwargs))
            if _shareable(response):
                try:
                    body = response.get_data(as_text=True)
                except UnicodeDecodeError:
                    return response
                store.set(namespace, key, {"body": body, "content_type": response.content_type}, ttl=ttl)
            return response

        return wrapper

    return decorate
