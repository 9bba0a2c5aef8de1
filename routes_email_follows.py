"""Citizens' e-mail follows: the form on a process, the confirmation, and the unsubscribe links (RFC 8058)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from extensions import csrf, limiter
from services import email_follows, processes
from utils import cnj
from view_helpers import lookup_for_page

bp = Blueprint("email_follows", __name__)


class SubscribeForm(FlaskForm):
    # The service checks the address and the consent and says what is wrong in pt-BR; the form only carries them.
    email = StringField("Seu e-mail", validators=[Length(max=320)])
    consent = BooleanField("Li e concordo com o texto acima.")


class ConfirmForm(FlaskForm):
    """A button: the link in the e-mail only opens this page, so a mail scanner's visit confirms nothing."""


def _rate_limit() -> str:
    return current_app.config["EMAIL_FOLLOWS_RATE_LIMIT"]


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(form, number: str, status: int = 200, error: str | None = None, headers=None):
    html = render_template("email_follows/subscribe.html", form=form, number=number, error=error,
                           consent_text=email_follows.CONSENT_TEXT, consent_version=email_follows.CONSENT_VERSION,
                           mail_configured=email_follows.configured())
    return html, status, headers or {}


def _lookup_problem(numero: str):
    """The process page's own answers for a number that cannot be followed: bad, unknown or unreachable."""
    result, problem = lookup_for_page(numero)
    if problem:
        return problem
    if result.payload.restricted:
        return render_template("email_follows/restricted.html", number=result.payload.cnj,
                               message=email_follows.RestrictedProcess.message), 403
    return result.payload.cnj


@bp.route("/processos/<numero>/avisos", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"])
def subscribe(numero):
    """The form: an address and the consent; the same answer page whatever the address is."""
    found = _lookup_problem(numero)
    if not isinstance(found, str):
        return found
    form = SubscribeForm()
    if request.method == "GET":
        return _form_page(form, found)
    if not form.validate_on_submit():
        message = "O formulário expirou. Confira os dados e envie de novo." if "csrf_token" in form.errors else (
            "Confira o e-mail digitado.")
        return _form_page(form, found, 400, message)
    try:
        number = email_follows.subscribe(found, form.email.data, bool(form.consent.data))
    except (email_follows.InvalidAddress, email_follows.ConsentMissing) as exc:
        return _form_page(form, found, 400, exc.message)
    except email_follows.RestrictedProcess as exc:
        return render_template("email_follows/restricted.html", number=found, message=exc.message), 403
    except email_follows.TooManyConfirmations as exc:
        return _form_page(form, found, 429, exc.message, {"Retry-After": "86400"})
    except (processes.ProcessNotFound, processes.ProcessUnavailable):  # the source changed its answer meanwhile
        problem = _lookup_problem(numero)
        if isinstance(problem, str):
            return _form_page(form, found, 503, "Não foi possível consultar o processo agora. Tente de novo em "
                                                "alguns minutos.", {"Retry-After": "60"})
        return problem
    return redirect(url_for("email_follows.received", processo=number), code=303)


@bp.get("/avisos/pedido-recebido")
def received():
    typed = request.args.get("processo", "")
    try:
        number = cnj.format(cnj.parse(typed))
    except cnj.InvalidCnj:
        number = None
    return render_template("email_follows/received.html", number=number,
                           mail_configured=email_follows.configured())


def _link_problem(kind: str, status: int, message: str | None = None):
    return _no_store(current_app.make_response(
        (render_template("email_follows/link_problem.html", kind=kind, message=message), status)))


@bp.route("/avisos/confirmar/<token>", methods=["GET", "POST"])
def confirm(token):
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            done = email_follows.confirm(token)
        except email_follows.TokenExpired:
            return _link_problem("expired", 410)
        except email_follows.TokenInvalid:
            return _link_problem("invalid", 400)
        except email_follows.LinkUsed as exc:
            return _link_problem("used", 409, exc.message)
        except email_follows.TooManyFollows as exc:
            return _link_problem("limit", 409, exc.message)
        return _no_store(current_app.make_response(render_template("email_follows/confirmed.html", done=done)))
    try:  # a link that cannot work says so now, before the button
        email_follows.check_confirmation(token)
    except email_follows.TokenExpired:
        return _link_problem("expired", 410)
    except email_follows.TokenInvalid:
        return _link_problem("invalid", 400)
    status = 400 if request.method == "POST" else 200
    return _no_store(current_app.make_response(
        (render_template("email_follows/confirm.html", form=form, token=token, expired_form=status == 400), status)))


@bp.route("/avisos/cancelar/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail program's one-click POST carries no token; the signed link is the credential
def unsubscribe(token):
    """GET shows a button (a link scanner must not unsubscribe anyone); POST cancels at once, no questions."""
    if request.method == "GET":
        try:
            email_follows.check_unsubscribe(token)
        except email_follows.TokenInvalid:
            return _link_problem("invalid", 400)
        return _no_store(current_app.make_response(render_template("email_follows/unsubscribe.html", token=token)))
    try:
        number = email_follows.unsubscribe(token)
    except email_follows.TokenInvalid:
        return _link_problem("invalid", 400)
    return _no_store(current_app.make_response(render_template("email_follows/unsubscribed.html", number=number)))


@bp.route("/avisos/cancelar-todos/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed link is the credential, as above
def unsubscribe_all(token):
    if request.method == "GET":
        try:
            email_follows.check_unsubscribe_all(token)
        except email_follows.TokenInvalid:
            return _link_problem("invalid", 400)
        return _no_store(current_app.make_response(
            render_template("email_follows/unsubscribe_all.html", token=token)))
    try:
        email_follows.unsubscribe_all(token)
    except email_follows.TokenInvalid:
        return _link_problem("invalid", 400)
    return _no_store(current_app.make_response(render_template("email_follows/unsubscribed.html", number=None,
                                                               everything=True)))
