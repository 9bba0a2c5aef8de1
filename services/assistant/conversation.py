"""One conversation with the assistant: `answer(session_id, text)` (DESIGN.md, "The assistant").

1. The message is checked: text, valid UTF-8, not empty, at most 1,000 characters.
2. Violence or danger gets 190/180 and the plantão first, whatever else it asks.
3. A CNJ number → the process status from `processes.lookup` (path "process", intent "status-processo", never
   cached).
4. The question's intent (the FAQ entry it asks for) is matched by services.search.intents over the entries'
   examples and text, after the colloquial normaliser. A pressing situation (eviction, blocked account, hearing
   today/tomorrow) gets the fastest real channel first, then its topic; other guarded situations (a person, a
   payment, restricted data, legal advice) get their fixed answers from the content (services.assistant.compose).
5. Otherwise the matched entry answers; with OPENAI_API_KEY set the model answers from it and related passages
   (path "llm"), and any model failure — breaker open, timeout, garbage, an answer that states a phone, fee or
   deadline the content lacks — falls back to the entry ("retrieval"). No intent → an honest "não encontrei" with
   the secretariat's channels ("fallback").
Model answers are cached by intent and normalised question. Messages are stored masked (services.assistant.store).
"""
from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import AppGroup

from services import cache as cache_service
from services import content, search
from services.assistant import compose, guardrails, llm, process_status, store
from services.monitoring import metrics
from services.search import Index, Passage
from services.search.text import normalised_question
from utils.masking import mask

log = logging.getLogger("portal.assistant")
MAX_CHARS = 1000
CACHE_NS = "assistant-answers"
MAX_ANSWER_CHARS = 2000
PATHS = ("process", "llm", "retrieval", "fallback")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CITATION = re.compile(r"\s?\[(\d{1,2})\]")


class InvalidMessage(ValueError):
    """A message the assistant cannot take; `message` tells the person why, in pt-BR."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Reply:
    answer: str
    sources: list[dict]
    path: str  # "process" | "llm" | "retrieval" | "fallback"
    session_id: str
    intent: str = "fallback"  # the FAQ entry id it answered, "status-processo" or "fallback"


@dataclass
class State:
    index: Index
    cap: llm.ConcurrencyCap
    known_text: str  # everything the content says: what an answer may state


def validate(text) -> str:
    """The question to answer, trimmed; raises InvalidMessage."""
    if not isinstance(text, str):
        raise InvalidMessage("invalid_message", "Envie a sua pergunta como texto.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage("invalid_encoding", "A mensagem tem caracteres que não puderam ser lidos. "
                                                 "Escreva a pergunta de novo.") from None
    if "\ufffd" in text:
        raise InvalidMessage("invalid_encoding", "A mensagem tem caracteres que não puderam ser lidos. "
                                                 "Escreva a pergunta de novo.")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text)).strip()
    if not text:
        raise InvalidMessage("empty_message", "Escreva a sua pergunta antes de enviar.")
    if len(text) > MAX_CHARS:
        raise InvalidMessage("message_too_long", f"A mensagem tem {len(text):,} caracteres e o limite é 1.000. "
                                                 "Escreva uma pergunta mais curta.".replace(",", "."))
    return text


def current() -> State:
    return current_app.extensions["assistant"]


def greeting() -> str:
    """The first message: an automated assistant, not a lawyer; how to reach a person; how it answers."""
    balcao = compose.fact("balcao_virtual")
    days = current_app.config["CHAT_RETENTION_DAYS"]
    how = ("Uso um modelo de linguagem que responde só com base no conteúdo deste portal; as suas mensagens "
           "são enviadas a ele com CPF, e-mail e telefone mascarados." if llm.configured() else
           "Neste momento respondo só com buscas no conteúdo deste portal, sem inteligência artificial generativa.")
    return (f"Olá! Sou o assistente virtual automático do portal da {content.current().unit.name}. "
            "Não sou advogado nem servidor da vara e não dou orientação jurídica. Posso explicar serviços e termos "
            "do processo e mostrar o andamento de um processo pelo número CNJ.\n\n"
            "Para falar com uma pessoa, use o Balcão Virtual do TJES, atendimento por vídeo com a secretaria da vara"
            + (f": {balcao.value}" if balcao else "") + ".\n\n"
            f"{how} Não escreva dados pessoais, como CPF. A conversa fica guardada por até {days} dias, com dados "
            "pessoais mascarados, e você pode apagá-la quando quiser.")


def answer(session_id: str | None, text) -> Reply:
    """Answer one message of a conversation; raises InvalidMessage (nothing is stored then)."""
    question = validate(text)
    started = time.perf_counter()
    session = store.open_session(session_id)
    reply_text, sources, path, intent = compose.with_refusal(_respond(question), _asks_advice(question))
    elapsed = time.perf_counter() - started
    store.record(session, question, reply_text, path, elapsed * 1000, sources)
    metrics.record_assistant_answer(path, elapsed)
    log.info("assistant answered", extra={"path": path, "intent": intent, "duration_ms": round(elapsed * 1000, 1),
                                          "sources": len(sources)})
    return Reply(reply_text, sources, path, session, intent)


def delete_conversation(session_id: str | None) -> int:
    """"Apagar minha conversa": the session and its messages go; the number of messages removed."""
    return store.delete(session_id)


def transcript(session_id: str | None):
    return store.transcript(session_id)


# --- answering -------------------------------------------------------------------------------------------

def _asks_advice(question: str) -> bool:
    prepared = current().index.prepare(question)
    return guardrails.ADVICE in (guardrails.advice_asked(question), guardrails.advice_asked(prepared))


def _respond(question: str) -> tuple[str, list[dict], str, str]:
    """(answer, sources, path, intent) for a valid question."""
    state = current()
    index = state.index
    prepared = index.prepare(question)
    kind = guardrails.intent(question) or guardrails.intent(prepared)
    if kind == guardrails.URGENT:
        text, used = compose.urgent_violence(index, guardrails.ADVICE in (guardrails.advice_asked(question),
                                                                          guardrails.advice_asked(prepared)))
        violent = guardrails.violent(question) or guardrails.violent(prepared)
        return text, compose.sources(used), "retrieval", "emergencia-violencia" if violent else "plantao-e-urgencia"
    number = process_status.find_number(question)
    if number is not None:
        found = process_status.answer(number)
        text = found.text
        if kind == guardrails.ADVICE:
            text = ("Não dou orientação jurídica: não posso prever o resultado nem dizer o que fazer no seu caso; "
                    "posso mostrar o andamento.\n\n" + text)
        return text, found.sources, "process", "status-processo"
    match = index.intents.match(index.prepare(mask(question)))
    topic = match.intent if match else None
    if topic == "emergencia-violencia" and kind in (None, guardrails.ADVICE):
        # Violence or danger in words the guardrail does not list: still 190/180 first.
        text, used = compose.urgent_violence(index, kind == guardrails.ADVICE)
        return text, compose.sources(used), "retrieval", topic
    urgent_topic = guardrails.pressing(question) or guardrails.pressing(prepared)
    if urgent_topic and kind in (None, guardrails.ADVICE):
        text, used = compose.pressing(index, urgent_topic)
        return text, compose.sources(used), "retrieval", urgent_topic
    if kind == guardrails.PERSON_SEARCH or topic == "busca-por-pessoa":
        return (*compose.person_search(index), "retrieval", "busca-por-pessoa")
    if kind == guardrails.PAYMENT:
        # Money words: the no-payment notice first, then the money topic asked about (a scam when unclear).
        intent = topic if topic in ("custas-e-guias", "golpe-falsa-intimacao", "receber-dinheiro-alvara",
                                    "cumprimento-de-sentenca") else "golpe-falsa-intimacao"
        return (*compose.payment(index, intent), "retrieval", intent)
    if kind == guardrails.RESTRICTED:
        return (*compose.restricted(index), "retrieval", "segredo-de-justica")
    if kind == guardrails.ADVICE or topic == "orientacao-juridica":
        return (*compose.advice(index, topic), "retrieval", "orientacao-juridica")
    if guardrails.other_court(question) or guardrails.tries_override(question):
        topic = None  # another state's court, or an attempt to change the rules: "não encontrei"
    return _from_content(question, topic, state)


def _from_content(question: str, intent: str | None, state: State) -> tuple[str, list[dict], str, str]:
    """The matched intent's FAQ answer, through the model when one is configured; "não encontrei" without one."""
    override = guardrails.tries_override(question)
    passage = compose.faq_passage(state.index, intent) if intent else None
    if passage is None:
        return compose.not_found(override), compose.channel_sources(), "fallback", "fallback"
    if intent in compose.SOCIAL_INTENTS or not llm.configured() or override:
        return compose.from_entry(passage), compose.sources([passage]), "retrieval", intent
    masked = guardrails.sanitise(mask(question))  # what is cached and sent: no personal data, no markup
    key = f"llm:{intent}:{normalised_question(masked)}"
    ttl = current_app.config["ASSISTANT_CACHE_TTL"]
    cache = cache_service.current()
    if ttl:
        entry = cache.get(CACHE_NS, key)
        metrics.record_assistant_cache(entry is not None and entry.fresh)
        if entry is not None and entry.fresh:
            value = entry.value
            return value["answer"], value["sources"], value["path"], intent
    # The privacy notice's sections go to the model only for a privacy question.
    related = [hit.passage for hit in state.index.search(masked, k=3) if hit.passage.key != passage.key and
               (intent == "privacidade" or not hit.passage.key.startswith("privacidade"))]
    passages = [passage, *related[:2]]
    try:
        raw = llm.complete(masked, passages, state.cap)
        text, sources = _from_model(raw, passages, state.known_text)
    except llm.LlmFailed as exc:
        metrics.record_assistant_llm_failure(exc.reason)
        log.warning("assistant answered from retrieval: the model failed", extra={"reason": exc.reason})
        # A degraded answer: not cached, the model is tried again next time.
        return compose.from_entry(passage), compose.sources([passage]), "retrieval", intent
    if ttl:
        cache.set(CACHE_NS, key, {"answer": text, "sources": sources, "path": "llm"}, ttl=ttl)
    return text, sources, "llm", intent


def _from_model(raw: str, passages: list[Passage], known_text: str) -> tuple[str, list[dict]]:
    text = guardrails.sanitise(raw)
    cited = []
    for number in _CITATION.findall(text):
        index = int(number) - 1
        if 0 <= index < len(passages) and passages[index] not in cited:
            cited.append(passages[index])
    text = _CITATION.sub("", text).strip()
    if len(text) < 10:
        raise llm.LlmFailed("empty")
    if guardrails.advises_or_predicts(text):
        raise llm.LlmFailed("unsafe")
    if guardrails.ungrounded(text, known_text):
        raise llm.LlmFailed("ungrounded")
    if len(text) > MAX_ANSWER_CHARS:
        text = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
    return text, compose.sources(cited or [passages[0]])


# --- retention (the hourly chat-cleanup job, services/jobs/schedule.py) and app wiring ---------------

cli = AppGroup("assistant", help="The citizens' assistant.")


@cli.command("cleanup")
def cleanup_command():
    """Remove conversations older than CHAT_RETENTION_DAYS."""
    messages, sessions = store.cleanup()
    click.echo(f"Removed {messages} messages and {sessions} sessions older than "
               f"{current_app.config['CHAT_RETENTION_DAYS']} days.")


def _known_text(loaded: content.Content, index: Index) -> str:
    parts = [p.title + "\n" + p.text for p in index.passages]
    for fact in loaded.unit.facts:
        parts += [fact.label, fact.value or "", fact.note or ""]
    return "\n".join(parts)


def init_app(app) -> None:
    loaded = app.extensions["content"]
    index = search.current(app)
    cap = llm.ConcurrencyCap(app.config["ASSISTANT_LLM_CONCURRENCY"])
    app.extensions["assistant"] = State(index=index, cap=cap, known_text=_known_text(loaded, index))
