"""Composing the assistant's answers from the court's content: the matched FAQ entry, the guarded situations,
the urgent ones (fastest real channel first), the channels to reach a person and the honest "não encontrei".

Every answer opens with an answer, never with a section title; a refusal never quotes an FAQ answer that begins
"Sim."/"Não." (it would read as a verdict on the person's case). Phones and links come only from content/.
"""
from __future__ import annotations

import re
from datetime import datetime

from markupsafe import Markup, escape

from services import content
from services.assistant import guardrails
from services.search import Index, Passage
from utils.dates import COURT_TIMEZONE, utcnow

MAX_PASSAGE_ANSWER_CHARS = 1200
# TJES first-degree public service: 9h to 18h on weekdays (the unit's "horario" note); the plantão starts at 18h.
OFFICE_OPENS, OFFICE_CLOSES = 9, 18
_VERDICT = re.compile(r"^\s*(sim|n[aã]o)\s*[.,:;!]\s*", re.I)
SOCIAL_INTENTS = ("saudacao", "agradecimento", "sobre-o-assistente", "falar-com-humano")


def faq_passage(index: Index, intent: str) -> Passage | None:
    return index.by_key(intent)


def shorten(text: str, limit: int = MAX_PASSAGE_ANSWER_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for stop in ("\n\n", "\n", ". "):
        if cut.rfind(stop) > limit // 2:
            return cut[:cut.rfind(stop) + (1 if stop == ". " else 0)].rstrip() + "\n…"
    return cut.rsplit(" ", 1)[0] + " …"


def without_verdict(text: str) -> str:
    """An FAQ answer without a leading "Sim."/"Não." (for quoting it after a refusal)."""
    stripped = _VERDICT.sub("", text, count=1)
    return stripped[:1].upper() + stripped[1:] if stripped != text else text


def sources(passages: list[Passage], limit: int = 5) -> list[dict]:
    """The passages' portal pages first, then the official links they hold; never a non-official link."""
    result, seen = [], set()
    candidates = [(passage.title, passage.url) for passage in passages] + \
        [(link.title, link.url) for passage in passages for link in passage.links]
    for title, url in candidates:
        if url not in seen and guardrails.official_url(url) and len(result) < limit:
            seen.add(url)
            result.append({"title": title, "url": url})
    return result


def fact(key: str) -> content.Fact | None:
    return next((item for item in content.current().unit.facts if item.key == key and item.confirmed), None)


def channels() -> str:
    lines = []
    balcao, ouvidoria = fact("balcao_virtual"), fact("ouvidoria")
    if balcao:
        lines.append(f"• Balcão Virtual do TJES (atendimento por vídeo com a secretaria da vara): {balcao.value}")
    if ouvidoria:
        lines.append(f"• {ouvidoria.label}: {ouvidoria.value}")
    catalog = content.current().unit.catalog_url
    lines.append(f"• Telefones e endereços das unidades: catálogo da Ouvidoria do TJES, {catalog}")
    return "\n".join(lines)


def channel_sources() -> list[dict]:
    result = [{"title": "Contato", "url": "/contato"}]
    balcao = fact("balcao_virtual")
    if balcao:
        result.append({"title": "Balcão Virtual do TJES", "url": balcao.value})
    return result


def not_found(override: bool) -> str:
    lead = "Não posso mudar as minhas regras nem mostrar as minhas instruções. " if override else ""
    return (f"{lead}Não encontrei essa informação no conteúdo deste portal, e não vou arriscar uma resposta. "
            "Tente perguntar com outras palavras, ou fale com a secretaria da vara:\n" + channels())


def from_entry(passage: Passage) -> str:
    """The FAQ entry's answer: its first sentence answers (no title in front)."""
    return shorten(passage.text)


# --- urgency -------------------------------------------------------------------------------------------------

def office_open(moment: datetime | None = None) -> bool:
    """The court's public service hours: weekdays, 9h to 18h, court time."""
    local = (moment or utcnow()).astimezone(COURT_TIMEZONE)
    return local.weekday() < 5 and OFFICE_OPENS <= local.hour < OFFICE_CLOSES


def fastest_channel(moment: datetime | None = None) -> str:
    """The fastest real channel for a pressing situation, now: a lawyer or the Defensoria today, then the plantão
    (outside office hours) or the Balcão Virtual (during them). Phones and addresses only from content/."""
    defensoria, balcao, plantao = fact("defensoria"), fact("balcao_virtual"), fact("plantao")
    text = ("É urgente: fale hoje com o seu advogado ou, se não tiver advogado, com a Defensoria Pública"
            + (f" ({defensoria.value})" if defensoria else "") + ".")
    if office_open(moment):
        text += (" A vara está em horário de atendimento: fale agora com a secretaria pelo Balcão Virtual do TJES"
                 + (f" ({balcao.value})" if balcao else "") + ".")
    else:
        text += (" Fora do horário de atendimento, um pedido urgente vai ao plantão judiciário"
                 + (f": {plantao.value} ({plantao.source_url})" if plantao else "") + ".")
    return text


def urgent_violence(index: Index, asks_advice: bool = False) -> tuple[str, list[Passage]]:
    """Violence or danger: 190/180 first, then the plantão and the topic's answer."""
    text = ("Se você ou alguém está em perigo agora, ligue 190 (Polícia Militar). Em caso de violência contra a "
            "mulher, ligue 180 (Central de Atendimento à Mulher).")
    if asks_advice:
        text += " Este assistente não dá orientação jurídica sobre o seu caso: procure um advogado ou a Defensoria."
    used = [p for p in (faq_passage(index, "plantao-e-urgencia"), faq_passage(index, "emergencia-violencia")) if p]
    for passage in used:
        text += "\n\n" + shorten(passage.text, 700)
    return text, used


def pressing(index: Index, intent: str, moment: datetime | None = None) -> tuple[str, list[Passage]]:
    """An eviction, a blocked account or a hearing today/tomorrow: the fastest channel, then the topic."""
    passage = faq_passage(index, intent)
    text = fastest_channel(moment) + (" Este assistente não dá orientação jurídica sobre o seu caso; veja abaixo como "
                                      "isso funciona em geral.")
    if passage:
        text += "\n\n" + shorten(passage.text, 900)
    plantao = faq_passage(index, "plantao-e-urgencia")
    return text, [p for p in (passage, plantao) if p]


REFUSAL = "Não dou orientação jurídica sobre o seu caso nem prevejo resultados: quem orienta é o seu advogado ou a " \
    "Defensoria Pública."


URGENT_INTENTS = ("emergencia-violencia", "plantao-e-urgencia", "despejo", "bloqueio-de-conta", "audiencia")


def without_verdicts(text: str) -> str:
    """Every paragraph without a leading "Sim."/"Não." (an answer that also refuses advice must not read as one)."""
    return "\n".join(without_verdict(line) for line in text.split("\n"))


def with_refusal(reply: tuple[str, list[dict], str, str], asks_advice: bool) -> tuple[str, list[dict], str, str]:
    """A question that also asks for advice or a prediction, answered on another path (a payment, a person, a
    process number, an urgency, a topic), still says plainly that no advice is given — after the urgent first
    paragraph (or first sentence), before anything else otherwise — and quotes no leading "Sim."/"Não."."""
    text, used, path, intent = reply
    if not asks_advice:
        return reply
    if "orientação jurídica" not in text.lower():
        sentences = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)
        if intent in URGENT_INTENTS and "\n\n" in text:
            first, rest = text.split("\n\n", 1)
            text = f"{first}\n\n{REFUSAL}\n\n{rest}"
        elif intent in URGENT_INTENTS and len(sentences) == 2:
            text = f"{sentences[0]}\n\n{REFUSAL}\n\n{sentences[1]}"
        else:
            text = f"{REFUSAL}\n\n{text}"
    return without_verdicts(text), used, path, intent


# --- guarded situations ------------------------------------------------------------------------------------

def person_search(index: Index) -> tuple[str, list[dict]]:
    follow = faq_passage(index, "sem-numero-do-processo") or faq_passage(index, "acompanhar-processo")
    text = ("Este assistente não pesquisa pessoas por nome, CPF ou CNPJ e não mostra dados pessoais das partes. "
            "A consulta de processos deste portal é feita só pelo número do processo (número CNJ, com 20 "
            "dígitos).\n\nSe você é parte no processo e não tem o número, peça ajuda à secretaria pelo Balcão "
            "Virtual do TJES. Não envie CPF nem outros dados pessoais nesta conversa.")
    return text, [{"title": "Consulta de processos", "url": "/consulta"}, *sources([follow] if follow else [])]


def payment(index: Index, intent: str) -> tuple[str, list[dict]]:
    first = faq_passage(index, intent)
    other = faq_passage(index, "custas-e-guias" if intent != "custas-e-guias" else "golpe-falsa-intimacao")
    text = ("Este assistente, o portal e a vara não enviam links de pagamento, não cobram por mensagem e não "
            "pedem PIX.")
    used = [p for p in (first, other) if p]
    for passage in used:
        text += "\n\n" + shorten(passage.text, 800)
    return text, sources(used)


def restricted(index: Index) -> tuple[str, list[dict]]:
    secret = faq_passage(index, "segredo-de-justica")
    text = "Este assistente não informa nada sobre processos em segredo de justiça."
    if secret:
        text += "\n\n" + without_verdict(secret.text)
    return text, sources([secret] if secret else [])


def advice(index: Index, topic: str | None) -> tuple[str, list[dict]]:
    """Legal advice or a prediction: say so, point to help, and explain the topic in general terms, if any —
    without a leading "Sim."/"Não." that would read as an answer about the person's case."""
    guide = faq_passage(index, "orientacao-juridica")
    text = ("Não posso dar orientação jurídica sobre o seu caso nem prever o resultado de um processo. Quem pode "
            "orientar é o seu advogado ou a Defensoria Pública.")
    used = [guide] if guide else []
    if guide:
        text += "\n\n" + without_verdict(guide.text)
    term = faq_passage(index, topic) if topic and topic not in ("orientacao-juridica", "preciso-de-advogado") \
        else None
    if term:
        text += f"\n\nEm termos gerais, sobre o assunto da pergunta:\n{shorten(without_verdict(term.text), 700)}"
        used.append(term)
    return text, sources(used)


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")


def linked(text: str) -> Markup:
    """An answer for the page: escaped, every official address in it a link (the same rule as the sources)."""
    parts, last = [], 0
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group(0).rstrip(".,;:")
        if not guardrails.official_url(url):
            continue
        parts += [escape(text[last:match.start()]), Markup('<a href="{0}">{0}</a>').format(url)]
        last = match.start() + len(url)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
