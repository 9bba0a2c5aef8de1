"""Every error as a pt-BR page with the request ID and a way forward, or as JSON under /api/.

JSON shape: {"error": {"code": "...", "message": "..."}, "request_id": "..."}.
A stack trace never reaches the client; unexpected errors are logged with theirs. A database that cannot be
reached (down, restarting, pool exhausted) is not a bug: the transaction is rolled back and the person gets
a 503 "temporariamente indisponível" with Retry-After, never a 500.
"""
from __future__ import annotations

import logging

from flask import jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from extensions import db
from utils.json_log import current_request_id

log = logging.getLogger("portal.errors")

# status -> (machine code, page title, what happened, what to do next)
MESSAGES = {
    400: ("bad_request", "Pedido inválido",
          "Não conseguimos entender o pedido enviado.", "Confira os dados digitados e tente de novo."),
    403: ("forbidden", "Acesso não permitido",
          "Você não tem permissão para ver esta página.", "Se precisa deste acesso, fale com a secretaria da vara."),
    404: ("not_found", "Página não encontrada",
          "O endereço digitado não existe ou mudou de lugar.",
          "Confira o endereço, use a busca ou volte para a página inicial."),
    405: ("method_not_allowed", "Ação não permitida",
          "Esta página não aceita esse tipo de pedido.", "Volte à página anterior e use os botões e formulários dela."),
    413: ("payload_too_large", "Envio grande demais",
          "O conteúdo enviado passa do limite de 16 MB.", "Envie um conteúdo menor."),
    429: ("too_many_requests", "Muitos pedidos em pouco tempo",
          "Recebemos muitos pedidos seus em pouco tempo.", "Aguarde um minuto e tente de novo."),
    500: ("internal_error", "Erro no portal",
          "Algo deu errado do nosso lado. O problema foi registrado.",
          "Tente de novo em alguns minutos. Se continuar, informe o código do atendimento abaixo."),
    503: ("service_unavailable", "Serviço indisponível no momento",
          "Um serviço de que esta página depende não está respondendo.", "Tente de novo em alguns minutos."),
}
DATABASE_MESSAGE = ("service_unavailable", "Portal temporariamente indisponível",
                    "O portal está temporariamente indisponível e não conseguiu registrar nem consultar os seus "
                    "dados agora. Nada do que você enviou neste momento foi gravado.",
                    "Tente de novo em alguns instantes.")
DATABASE_RETRY_AFTER_S = 10  # a PostgreSQL restart or failover takes seconds
CSRF_MESSAGE = ("csrf_failed", "O formulário expirou",
                "Por segurança, o formulário vale por tempo limitado e este já não vale mais.",
                "Volte à página, recarregue o formulário e envie de novo.")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, message=None, headers=None):
    code, title, what, next_step = message or MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    if wants_json():
        response = jsonify(error={"code": code, "message": f"{what} {next_step}"}, request_id=current_request_id.get())
    else:
        response = make_response(render_template("errors/error.html", status=status, title=title, what=what,
                                                  next_step=next_step, request_id=current_request_id.get()))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error(status: int, code: str, message: str, retry_after: float | None = None, **details):
    """A JSON error of the documented shape, for a view that knows more than the status code."""
    response = jsonify(error={"code": code, "message": message, **details}, request_id=current_request_id.get())
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


def handle_http_exception(exc: HTTPException):
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    return render_error(exc.code or 500, headers=headers)


def handle_csrf_error(exc: CSRFError):
    log.info("form rejected: %s", exc.description)
    return render_error(400, CSRF_MESSAGE)


def database_unreachable(exc: Exception) -> bool:
    """A lost or refused connection, a server shutting down or starting up, a pool with no connection to give,
    or a session still holding the transaction such a loss broke (code that caught it without a rollback)."""
    if isinstance(exc, PoolTimeout | PendingRollbackError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def handle_database_error(exc: Exception):
    if not database_unreachable(exc):
        return handle_unexpected(exc)
    _rollback()  # nothing half-written: whatever this request had begun is discarded
    if isinstance(exc, PendingRollbackError):  # the outage is real, but so is the missing rollback: keep its trace
        log.error("session used after a failed transaction without a rollback",
                  exc_info=(type(exc), exc, exc.__traceback__))
    log.warning("database unavailable: answered 503", extra={
        "error": type(getattr(exc, "orig", None) or exc).__name__, "method": request.method})
    return render_error(503, DATABASE_MESSAGE, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def release_session(_exc=None) -> None:
    """At the end of every request, in place of Flask-SQLAlchemy's own teardown: hand the connection back. When the
    database dropped it meanwhile (a restart under a finished request), the rollback of the close fails; the
    connection is discarded instead, where that failure would otherwise escape the app as a bare 500."""
    if not db.session.registry.has():  # this request never opened a session (most pages read caches only)
        return
    try:
        db.session.remove()
    except DBAPIError as exc:
        log.warning("database connection lost at the end of a request; discarded", extra={
            "error": type(exc.orig or exc).__name__})
        try:
            db.session().invalidate()  # the session itself: the scoped proxy does not offer it
        finally:
            db.session.remove()


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception as exc:  # the connection is gone; the session is reset by the request's teardown anyway
        log.debug("rollback after a database error failed", extra={"error": type(exc).__name__})


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if database_unreachable(exc):  # raised inside another handler's reach (e.g. wrapped as InternalServerError)
        return handle_database_error(exc)
    # A failed transaction must not poison the next request served by this session.
    _rollback()
    log.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    return render_error(500)


def init_app(app) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeout, handle_database_error)
    app.register_error_handler(PendingRollbackError, handle_database_error)
    # Flask-SQLAlchemy's teardown would remove the session a second time (~3 µs a request, even when none was made).
    app.teardown_appcontext_funcs.remove(db._teardown_session)
    app.teardown_appcontext(release_session)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
