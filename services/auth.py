"""Who is logged in, and what they may do: Flask-Login sessions with a per-user session version.

The session cookie carries "<user id>:<session version>". Logout, a password change and disabling bump
the version, so a cookie copied before logout is refused afterwards. Admin actions also need a
"fresh" login (younger than LOGIN_FRESH_S); older sessions are asked for the password again.
"""
from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from flask import current_app, request, session
from flask_login import current_user, login_user, logout_user

from extensions import db, login_manager
from models import User
from services import accounts

AUTH_AT_KEY = "auth_at"
# Responses under these prefixes are personal or operational: never stored by a browser or proxy.
PRIVATE_PREFIXES = ("/admin", "/equipe", "/api/v1/monitoring", "/metrics")


def init_app(app) -> None:
    # Flask-Login's own context processor loads the user (reading the session) for every template;
    # the proxy below is lazy, so public pages that never mention the user stay session-free.
    login_manager.init_app(app, add_context_processor=False)
    app.context_processor(lambda: {"current_user": current_user})
    # Flask-Login's remember-cookie hook reads the session on every response, which marks it accessed
    # and makes Flask add `Vary: Cookie` everywhere. The portal has no "remember me", so it goes.
    remember_hook = type(login_manager)._update_remember_cookie
    hooks = app.after_request_funcs.get(None, [])
    app.after_request_funcs[None] = [hook for hook in hooks if getattr(hook, "__func__", None) is not remember_hook]
    login_manager.user_loader(_load_user)
    login_manager.session_protection = None  # the session version does this job, without hashing the UA
    app.after_request(_no_store_for_private)


def _load_user(token: str) -> User | None:
    user_id, _, version = (token or "").partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def start_session(user: User) -> None:
    """Log in with a new session: whatever the visitor's session held before is dropped."""
    session.clear()
    login_user(user)
    session[AUTH_AT_KEY] = int(time.time())


def confirm_password() -> None:
    """The password was asked again: the login counts as fresh from now."""
    session[AUTH_AT_KEY] = int(time.time())


def end_session() -> None:
    if current_user.is_authenticated:
        accounts.end_sessions(current_user)
    logout_user()
    session.clear()


def is_fresh() -> bool:
    authenticated_at = session.get(AUTH_AT_KEY)
    return isinstance(authenticated_at, int) and \
        time.time() - authenticated_at < current_app.config["LOGIN_FRESH_S"]


def has_role(*roles: str) -> bool:
    return current_user.is_authenticated and current_user.role in roles


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this portal: never an absolute URL or a scheme-relative one (open redirect).

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so "/\t/evil.example" and
    "/\\evil.example" lead off-site: any control character, whitespace or backslash refuses the target (and a
    CR/LF could otherwise split the Location header).
    """
    # The decoded form is judged too: a redirect target percent-decoded once more must still be a local path.
    for form in (target, unquote(target or "")):
        if not form or not form.startswith("/") or form.startswith("//"):
            return default
        path = form.split("?", 1)[0]
        if "\\" in path or any(ch.isspace() for ch in path) or any(ord(ch) < 32 or ord(ch) == 127 for ch in form):
            return default
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return default
    return target


def _no_store_for_private(response):
    if request.path.startswith(PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response
