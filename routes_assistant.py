"""The assistant's page (/assistente, works without JavaScript) and its JSON API (POST /api/v1/chat)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import ValidationError, validate_csrf

from errors import api_error
from extensions import csrf, limiter
from services import assistant
from services.assistant import compose, store
from services.assistant.guardrails import official_url

bp = Blueprint("assistant", __name__)
COOKIE = "assistente_sessao"


def assistant_limit() -> str:
    return current_app.config["ASSISTANT_RATE_LIMIT"]


# One budget per client for the page and the API together.
limit = limiter.shared_limit(assistant_limit, scope="assistant")


def _with_cookie(response, session_id: str):
    config = current_app.config
    response.set_cookie(COOKIE, session_id, max_age=config["CHAT_RETENTION_DAYS"] * 86400, httponly=True,
                        samesite="Lax", secure=config["SESSION_COOKIE_SECURE"], path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def _cookie_session() -> str | None:
    value = request.cookies.get(COOKIE)
    return value if store.valid_id(value) else None


def _messages(session_id: str | None) -> list[dict]:
    return [{"role": row.role, "text": row.text, "path": row.path,
             "html": compose.linked(row.text) if row.role == "assistant" else None,
             "sources": [s for s in (row.sources or []) if official_url(str(s.get("url", "")))]}
            for row in assistant.transcript(session_id)]


def _page(status: int = 200, typed: str = "", error: str | None = None, notice: str | None = None,
          session_id: str | None = None, fallback: assistant.Reply | None = None):
    messages = _messages(session_id)
    if fallback is not None and not messages:  # the conversation could not be stored: still show the answer
        messages = [{"role": "user", "text": typed, "path": None, "sources": []},
                    {"role": "assistant", "text": fallback.answer, "path": fallback.path,
                     "html": compose.linked(fallback.answer), "sources": fallback.sources}]
        typed = ""
    html = render_template("public/assistente.html", greeting=assistant.greeting(), messages=messages, typed=typed,
                           error=error, notice=notice, session_id=session_id or "",
                           max_chars=assistant.MAX_CHARS)
    response = current_app.make_response((html, status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/assistente")
def page():
    notice = ("A sua conversa foi apagada." if request.args.get("apagada") == "1" else
              "Obrigado pela avaliação." if request.args.get("avaliada") == "1" else None)
    return _page(session_id=_cookie_session(), notice=notice)


@bp.post("/assistente")
@limit
def ask():
    """The plain form post: the whole page comes back with the answer (no JavaScript needed)."""
    typed = request.form.get("mensagem", "")
    session_id = _cookie_session()
    try:
        reply = assistant.answer(session_id, typed)
    except assistant.InvalidMessage as exc:
        return _page(400, typed=typed[: assistant.MAX_CHARS * 2], error=exc.message, session_id=session_id)
    return _with_cookie(_page(session_id=reply.session_id, typed=typed, fallback=reply), reply.session_id)


@bp.post("/assistente/avaliar")
@limit
def rate_page():
    """"Esta resposta ajudou?" under the last answer: sim or não, kept with that answer (a plain form post)."""
    choice = request.form.get("util", "")
    session_id = _cookie_session()
    if choice not in ("sim", "nao"):
        return _page(400, error="Escolha “Sim” ou “Não” para avaliar a resposta.", session_id=session_id)
    if not store.rate(session_id, choice == "sim"):
        return _page(400, error="Não há resposta para avaliar nesta conversa.", session_id=session_id)
    return redirect(url_for("assistant.page", avaliada="1"), code=303)


@bp.post("/assistente/apagar")
def delete_page():
    assistant.delete_conversation(_cookie_session())
    response = redirect(url_for("assistant.page", apagada="1"), code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _browser_csrf_failed():
    """Browser calls (they send Origin, or hold the portal's session cookie) must send the page's token in
    X-CSRFToken; plain API clients, which have no browser session a forged request could ride on, need none."""
    if "Origin" not in request.headers and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return api_error(400, "csrf_failed", "Token de segurança ausente ou expirado. Recarregue a página e "
                                             "envie de novo.")
    return None


def _json_body():
    raw = request.get_data(cache=True)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, api_error(400, "invalid_encoding", "A mensagem não está em UTF-8 válido.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, api_error(400, "invalid_json", 'Envie um objeto JSON: {"message": "sua pergunta", '
                                                    '"session_id": null}.')
    return body, None


@bp.post("/api/v1/chat")
@csrf.exempt
@limit
def chat():
    """{"message": str, "session_id": str|null} → {"answer", "sources", "path", "intent", "session_id"}."""
    failed = _browser_csrf_failed()
    if failed is not None:
        return failed
    body, failed = _json_body()
    if failed is not None:
        return failed
    session_id = body.get("session_id")
    if session_id is not None and not store.valid_id(session_id):
        return api_error(400, "invalid_session", "session_id deve ser o identificador recebido numa resposta "
                                                 "anterior, ou null para começar uma conversa.")
    if "message" not in body:
        return api_error(400, "invalid_message", 'Falta o campo "message" com a sua pergunta.')
    try:
        reply = assistant.answer(session_id, body["message"])
    except assistant.InvalidMessage as exc:
        return api_error(400, exc.code, exc.message)
    response = jsonify(answer=reply.answer, sources=reply.sources, path=reply.path, intent=reply.intent,
                       session_id=reply.session_id)
    return _with_cookie(response, reply.session_id)


@bp.delete("/api/v1/chat/<session_id>")
@csrf.exempt
@limit
def delete_chat(session_id):
    """"Apagar minha conversa" for API clients: 204, also when nothing was stored."""
    failed = _browser_csrf_failed()
    if failed is not None:
        return failed
    if not store.valid_id(session_id):
        return api_error(400, "invalid_session", "Identificador de conversa inválido.")
    assistant.delete_conversation(session_id)
    response = current_app.make_response(("", 204))
    response.delete_cookie(COOKIE, path="/")
    return response
