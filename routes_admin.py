"""Login, logout and the admin pages. Every response here is `Cache-Control: no-store` (services/auth.py)."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

import errors
from extensions import limiter
from forms import LoginForm, ReauthenticateForm
from services import accounts, admin_actions, audit, auth, cache
from services.monitoring import dashboard as dashboard_service
from services.monitoring import diagnostics
from utils.masking import mask
from view_helpers import fresh, guard, public, roles

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard(bp, "admin")
log = logging.getLogger("portal.auth")

INVALID_LOGIN = "Usuário ou senha incorretos. Confira e tente de novo."
LOCKED_LOGIN = ("Muitas tentativas sem sucesso. Por segurança, o acesso está bloqueado por {minutes} minutos; "
                "tente de novo depois ou fale com o administrador do portal.")
AUDIT_PAGE_SIZE = 50


def _client_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    return "login-account:" + accounts.normalise_username(request.form.get("username", ""))[:64]


def _home_for(user) -> str:
    return url_for("admin.dashboard") if user.role == "admin" else url_for("staff.followed")


def _locked_message() -> str:
    return LOCKED_LOGIN.format(minutes=max(1, current_app.config["LOGIN_LOCKOUT_S"] // 60))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_client_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(auth.safe_next(request.args.get("next"), _home_for(current_user)))
    form = LoginForm()
    refusal = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.username.data, form.password.data)
        except accounts.LoginRefused as exc:
            refusal = _locked_message() if exc.locked else INVALID_LOGIN
            log.warning("login refused", extra={"username": mask(accounts.normalise_username(form.username.data)),
                                                "locked": exc.locked})
        else:
            auth.start_session(user)
            audit.record("login")
            return redirect(auth.safe_next(request.args.get("next"), _home_for(user)))
    status = 401 if refusal else 400 if form.errors else 200
    return render_template("admin/login.html", form=form, refusal=refusal,
                           logged_out=request.args.get("saiu") == "1"), status


@bp.post("/logout")
@public
def logout():
    # CSRF-protected like every POST: a third-party page cannot log a clerk out.
    if current_user.is_authenticated:
        audit.record("logout")
    auth.end_session()
    return redirect(url_for("admin.login", saiu="1"))


@bp.route("/reautenticar", methods=["GET", "POST"])
@roles("admin", "staff")
def reauthenticate():
    form = ReauthenticateForm()
    refusal = None
    if form.validate_on_submit():
        try:
            accounts.authenticate(current_user.username, form.password.data)
        except accounts.LoginRefused as exc:
            if exc.locked:
                auth.end_session()
                return redirect(url_for("admin.login"))
            refusal = "Senha incorreta. Confira e tente de novo."
        else:
            auth.confirm_password()
            audit.record("reauthenticate")
            return redirect(auth.safe_next(request.args.get("next"), _home_for(current_user)))
    status = 401 if refusal else 400 if form.errors else 200
    return render_template("admin/reauthenticate.html", form=form, refusal=refusal), status


@bp.get("/")
def index():
    return redirect(url_for("admin.dashboard"))


@bp.get("/auditoria")
def audit_log():
    page = request.args.get("pagina", "1")
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and few of them (int() refuses thousands).
    page = int(page) if page.isascii() and page.isdecimal() and len(page) <= 5 and 0 < int(page) <= 10_000 else 1
    action = request.args.get("acao", "").strip()[:64] or None
    entries = audit.recent(limit=AUDIT_PAGE_SIZE + 1, offset=(page - 1) * AUDIT_PAGE_SIZE, action=action)
    return render_template("admin/audit.html", entries=entries[:AUDIT_PAGE_SIZE], page=page, action=action,
                           has_next=len(entries) > AUDIT_PAGE_SIZE)


@bp.get("/perguntas-e-avaliacoes")
def questions_and_feedback():
    """What to improve: questions the assistant could not answer, and the "Esta página foi útil?" answers."""
    from services.assistant import review

    return render_template("admin/questions_feedback.html", unanswered=review.unanswered(),
                           votes=review.page_votes(), comments=review.comments())


@bp.get("/dashboard")
def dashboard():
    """The whole server's figures, rendered for a browser without JavaScript; the script refreshes them."""
    return render_template("admin/dashboard.html", summary=dashboard_service.summary(),
                           namespaces=sorted(cache.current().stats()),
                           breaker_actions=admin_actions.BREAKER_ACTIONS)


# Each action: a first POST without `confirmado` shows what it will do; the confirmed POST does it.
ACTIONS = {
    "cache": "Limpar o cache “{namespace}”{pattern_text}",
    "disjuntor": "Disjuntor de {dependency}: {action_label}",
    "alerta": "Marcar o alerta {alert_id} como resolvido",
}


@bp.post("/acoes/<kind>")
@fresh
def action(kind):
    if kind not in ACTIONS:
        return errors.render_error(404)
    form = request.form
    # "operacao", not "action": a form field named "action" would shadow form.action in the browser's DOM.
    fields = {key: form.get(key, "").strip()[:200] for key in ("namespace", "pattern", "dependency", "operacao",
                                                              "alert_id")}
    if form.get("confirmado") != "sim":
        description = ACTIONS[kind].format(
            pattern_text=f" (padrão “{fields['pattern']}”)" if fields["pattern"] else "",
            action_label=admin_actions.BREAKER_ACTIONS.get(fields["operacao"], fields["operacao"]), **fields)
        return render_template("admin/confirm.html", kind=kind, fields=fields, description=description)
    try:
        if kind == "cache":
            outcome = admin_actions.clear_cache(fields["namespace"], fields["pattern"])
        elif kind == "disjuntor":
            outcome = admin_actions.breaker(fields["dependency"], fields["operacao"])
        else:
            if not fields["alert_id"].isdigit():
                raise admin_actions.ActionRefused("Alerta não encontrado.", status=404)
            outcome = admin_actions.resolve_alert(int(fields["alert_id"]), current_user.username)
    except admin_actions.ActionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.dashboard"), code=303)
    flash(outcome.message, "success")
    return redirect(url_for("admin.dashboard"), code=303)


@bp.get("/diagnostico")
def diagnostics_page():
    checks = diagnostics.run()
    audit.record("diagnostics.run", overall=diagnostics.overall(checks))
    return render_template("admin/diagnostics.html", checks=checks, overall=diagnostics.overall(checks))
