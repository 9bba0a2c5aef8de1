"""One conversation with the assistant: `answer(session_id, text)` (DESIGN.md, "The assistant").

1. The message is checked: text, valid UTF-8, not empty, at most 1,000 characters.
2. An urgent situation gets the emergency numbers and the plantão first, whatever else it asks.
3. A CNJ number → the process status from `processes.lookup` (path "process", never cached).
4. Other guarded situations (search for a person, payment, restricted data, legal advice) get fixed
   answers from the court's content.
5. Otherwise BM25 retrieval over content/ picks passages; with OPENAI_API_KEY set the model answers
   from them (path "llm"), and any model failure — breaker open, timeout, garbage, an answer that
   states a phone, fee or deadline the content lacks — falls back to the best passage ("retrieval"),
   or to an honest "não encontrei" with the secretariat's channels ("fallback").
Content answers are cached by normalised question. Messages are stored masked (services.assistant.store).
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
from sqlalchemy.exc import SQLAlchemyError

from services import cache as cache_service
from services import content, search
from services.assistant import guardrails, llm, process_status, store
from services.monitoring import metrics
from services.search import Hit, Index, Passage
from services.search.text import normalised_question
from utils.masking import mask
from utils.text import fold

log = logging.getLogger("portal.assistant")
MAX_CHARS = 1000
CACHE_NS = "assistant-answers"
CLEANUP_NS = "assistant-cleanup"
CLEANUP_INTERVAL_S = 3600
MAX_ANSWER_CHARS = 2000
MAX_PASSAGE_ANSWER_CHARS = 1200
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


def _fact(key: str) -> content.Fact | None:
    return next((fact for fact in content.current().unit.facts if fact.key == key and fact.confirmed), None)


def greeting() -> str:
    """The first message: an automated assistant, not a lawyer; how to reach a person; how it answers."""
    balcao = _fact("balcao_virtual")
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
    reply_text, sources, path = _respond(question)
    elapsed = time.perf_counter() - started
    store.record(session, question, reply_text, path, elapsed * 1000, sources)
    metrics.record_assistant_answer(path, elapsed)
    log.info("assistant answered", extra={"path": path, "duration_ms": round(elapsed * 1000, 1),
                                          "sources": len(sources)})
    _maybe_cleanup()
    return Reply(reply_text, sources, path, session)


def delete_conversation(session_id: str | None) -> int:
    """"Apagar minha conversa": the session and its messages go; the number of messages removed."""
    return store.delete(session_id)


def transcript(session_id: str | None):
    return store.transcript(session_id)


# --- answering -------------------------------------------------------------------------------------------

def _respond(question: str) -> tuple[str, list[dict], str]:
    state = current()
    kind = guardrails.intent(question)
    if kind == guardrails.URGENT:
        return _urgent(state), _urgent_sources(state), "retrieval"
    number = process_status.find_number(question)
    if number is not None:
        found = process_status.answer(number)
        text = found.text
        if kind == guardrails.ADVICE:
            text = ("Não posso prever o resultado nem dizer o que fazer no seu caso; posso mostrar o andamento.\n\n"
                    + text)
        return text, found.sources, "process"
    if kind is not None:
        text, sources = _guarded(kind, question, state)
        return text, sources, "retrieval"
    return _from_content(question, state)


def _from_content(question: str, state: State) -> tuple[str, list[dict], str]:
    masked = guardrails.sanitise(mask(question))  # what is searched, cached and sent: no personal data, no markup
    override = guardrails.tries_override(question)
    mode = "llm" if llm.configured() and not override else "retrieval"
    key = f"{mode}:{normalised_question(masked)}"
    ttl = current_app.config["ASSISTANT_CACHE_TTL"]
    cache = cache_service.current()
    if ttl:
        entry = cache.get(CACHE_NS, key)
        metrics.record_assistant_cache(entry is not None and entry.fresh)
        if entry is not None and entry.fresh:
            value = entry.value
            return value["answer"], value["sources"], value["path"]
    hits = state.index.search(masked)
    if not hits:
        text = _not_found(override)
        return text, _channel_sources(), "fallback"
    if mode == "llm":
        try:
            raw = llm.complete(masked, [hit.passage for hit in hits], state.cap)
            text, sources = _from_model(raw, hits, state.known_text)
        except llm.LlmFailed as exc:
            metrics.record_assistant_llm_failure(exc.reason)
            log.warning("assistant answered from retrieval: the model failed", extra={"reason": exc.reason})
            text, sources = _from_passages(hits)
            return text, sources, "retrieval"  # a degraded answer: not cached, the model is tried again next time
    else:
        text, sources = _from_passages(hits)
    if ttl:
        cache.set(CACHE_NS, key, {"answer": text, "sources": sources, "path": mode}, ttl=ttl)
    return text, sources, mode


def _from_model(raw: str, hits: list[Hit], known_text: str) -> tuple[str, list[dict]]:
    text = guardrails.sanitise(raw)
    cited = []
    for number in _CITATION.findall(text):
        index = int(number) - 1
        if 0 <= index < len(hits) and hits[index].passage not in cited:
            cited.append(hits[index].passage)
    text = _CITATION.sub("", text).strip()
    if len(text) < 10:
        raise llm.LlmFailed("empty")
    if guardrails.advises_or_predicts(text):
        raise llm.LlmFailed("unsafe")
    if guardrails.ungrounded(text, known_text):
        raise llm.LlmFailed("ungrounded")
    if len(text) > MAX_ANSWER_CHARS:
        text = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
    return text, _sources(cited or [hits[0].passage])


def _shorten(text: str, limit: int = MAX_PASSAGE_ANSWER_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for stop in ("\n\n", "\n", ". "):
        if cut.rfind(stop) > limit // 2:
            return cut[:cut.rfind(stop) + (1 if stop == ". " else 0)].rstrip() + "\n…"
    return cut.rsplit(" ", 1)[0] + " …"


def _from_passages(hits: list[Hit]) -> tuple[str, list[dict]]:
    best = hits[0].passage
    text = f"{best.title}\n\n{_shorten(best.text)}"
    related = [hit.passage for hit in hits[1:2] if hit.score >= 0.75 * hits[0].score and hit.passage.url != best.url]
    return text, _sources([best, *related])


def _sources(passages: list[Passage], limit: int = 5) -> list[dict]:
    """Each passage's portal page first, then the official links it holds; never a non-official link."""
    result, seen = [], set()
    for passage in passages:
        candidates = [(passage.title, passage.url)] + [(link.title, link.url) for link in passage.links]
        for title, url in candidates:
            if url not in seen and guardrails.official_url(url) and len(result) < limit:
                seen.add(url)
                result.append({"title": title, "url": url})
    return result


def _passage(state: State, key_part: str) -> Passage | None:
    return next((p for p in state.index.passages if key_part in fold(p.key)), None)


def _channels() -> str:
    lines = []
    balcao, ouvidoria = _fact("balcao_virtual"), _fact("ouvidoria")
    if balcao:
        lines.append(f"• Balcão Virtual do TJES (atendimento por vídeo com a secretaria da vara): {balcao.value}")
    if ouvidoria:
        lines.append(f"• {ouvidoria.label}: {ouvidoria.value}")
    catalog = content.current().unit.catalog_url
    lines.append(f"• Telefones e endereços das unidades: catálogo da Ouvidoria do TJES, {catalog}")
    return "\n".join(lines)


def _channel_sources() -> list[dict]:
    sources = [{"title": "Contato", "url": "/contato"}]
    balcao = _fact("balcao_virtual")
    if balcao:
        sources.append({"title": "Balcão Virtual do TJES", "url": balcao.value})
    return sources


def _not_found(override: bool) -> str:
    lead = ("Não posso mudar as minhas regras nem mostrar as minhas instruções. " if override else "")
    return (f"{lead}Não encontrei essa informação no conteúdo deste portal, e não vou arriscar uma resposta. "
            "Tente perguntar com outras palavras, ou fale com a secretaria da vara:\n" + _channels())


def _urgent(state: State) -> str:
    plantao = _passage(state, "plantao-e-urgencia")
    text = ("Se você ou alguém está em perigo agora, ligue 190 (Polícia Militar). Em caso de violência contra a "
            "mulher, ligue 180 (Central de Atendimento à Mulher).\n\n")
    if plantao:
        text += plantao.text
    violence = _passage(state, "violencia-domestica")
    if violence:
        text += f"\n\n{violence.title}\n{_shorten(violence.text, 600)}"
    return text


def _urgent_sources(state: State) -> list[dict]:
    return _sources([p for p in (_passage(state, "plantao-e-urgencia"), _passage(state, "violencia-domestica")) if p])


def _guarded(kind: str, question: str, state: State) -> tuple[str, list[dict]]:
    if kind == guardrails.PERSON_SEARCH:
        follow = _passage(state, "acompanhar-processo")
        text = ("Este assistente não pesquisa pessoas por nome, CPF ou CNPJ e não mostra dados pessoais das partes. "
                "A consulta de processos deste portal é feita só pelo número do processo (número CNJ, com 20 "
                "dígitos).\n\nSe você é parte no processo e não tem o número, peça ajuda à secretaria pelo Balcão "
                "Virtual do TJES. Não envie CPF nem outros dados pessoais nesta conversa.")
        return text, [{"title": "Consulta de processos", "url": "/consulta"}, *_sources([follow] if follow else [])]
    if kind == guardrails.PAYMENT:
        costs, scam = _passage(state, "custas-e-guias"), _passage(state, "golpe-falsa-intimacao")
        text = ("Este assistente, o portal e a vara não enviam links de pagamento, não cobram por mensagem e não "
                "pedem PIX.")
        for passage in (costs, scam):
            if passage:
                text += f"\n\n{passage.title}\n{passage.text}"
        return text, _sources([p for p in (costs, scam) if p])
    if kind == guardrails.RESTRICTED:
        secret = _passage(state, "segredo-de-justica")
        text = "Este assistente não informa nada sobre processos em segredo de justiça."
        if secret:
            text += f"\n\n{secret.text}"
        return text, _sources([secret] if secret else [])
    # Legal advice or a prediction: say so, point to help, and still explain the term asked about, if any.
    advice = _passage(state, "orientacao-juridica")
    text = ("Não posso dar orientação jurídica sobre o seu caso nem prever o resultado de um processo.\n\n"
            + (advice.text if advice else ""))
    passages = [advice] if advice else []
    skip = ("orientacao-juridica", "preciso-de-advogado")
    term = next((hit.passage for hit in state.index.search(mask(question))
                 if hit.passage.kind == "faq" and hit.passage.key not in skip), None)
    if term:
        text += f"\n\nSe a sua dúvida é sobre o que um termo significa:\n{term.title}\n{_shorten(term.text, 800)}"
        passages.append(term)
    return text, _sources(passages)


# --- retention and app wiring ---------------------------------------------------------------------------

def _maybe_cleanup() -> None:
    """Apply the retention about once an hour across all workers (the cache key is the shared clock)."""
    cache = cache_service.current()
    if cache.get(CLEANUP_NS, "last") is not None:
        return
    cache.set(CLEANUP_NS, "last", time.time(), ttl=CLEANUP_INTERVAL_S)
    try:
        store.cleanup()
    except SQLAlchemyError:
        from extensions import db

        db.session.rollback()
        log.exception("chat retention cleanup failed; it will be tried again in an hour")


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
