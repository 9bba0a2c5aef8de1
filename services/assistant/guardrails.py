"""What the assistant must never do (research/court_product.md §2.1), as checks on the question and the answer.

Question side: `intent(text)` names a situation that gets a fixed, safe answer whatever path would
otherwise answer — an urgent situation, a search for a person, a payment, restricted data, legal advice
or a prediction — and `tries_override(text)` spots a message that tries to change the rules.
Answer side: `sanitise(text)` strips HTML and every link that is not this portal's or an official
domain's; `ungrounded(answer, known)` lists the phones, amounts, e-mails and deadlines an answer states
that the court's content does not hold (a model answer with any of them is not used).
Pure functions.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from utils.text import fold

OFFICIAL_SUFFIXES = (".jus.br", ".gov.br", ".def.br")
OFFICIAL_HOSTS = ("jus.br", "gov.br", "def.br")

URGENT = "urgent"
PERSON_SEARCH = "person_search"
PAYMENT = "payment"
RESTRICTED = "restricted"
ADVICE = "advice"

_URGENT = re.compile(
    r"\b(me bat\w*|bateu em mim|me agred\w*|agredi\w*|agress\w*|violencia|ameac\w*|espanc\w*|estupr\w*|abusad\w*|"
    r"abuso sexual|medida protetiva|socorro|corro risco|risco de vida|em perigo|tentou me matar|vai me matar|"
    r"quer me matar|me matar|sequestr\w*|carcere|me bateu|bateu n[ao] (minha|meu)|apanh(ei|o|ando|ar)|"
    r"maria da penha|me persegu\w*|perseguindo|me machuc\w*|me empurr\w*|me enforc\w*|"
    r"(tenho|to|estou|sinto|com) (muito )?medo (dele|dela|do meu|da minha|de morrer|de apanhar|de voltar))\b")
_LIMINAR = re.compile(r"\b(liminar|tutela de urgencia|habeas corpus)\b")
_OFF_HOURS = re.compile(r"\b(agora|hoje|urgente|urgencia|fora do (horario|expediente)|fim de semana|sabado|domingo|"
                        r"feriado|madrugada|noite|plantao)\b")
_PERSON = re.compile(
    r"\b(pelo|por|com o|usando o|a partir do) (cpf|cnpj|rg|nome)\b|\b(cpf|cnpj) (de|da|do|dele|dela)\b|"
    r"\bnome d[aoe] (pessoa|parte|reu|re|autor|autora|fulano|alguem)\b|"
    r"\b(consultar|pesquisar|buscar|procurar|descobrir|achar|encontrar|ver) (\w+ )?(uma )?(pessoa|alguem|fulano)\b|"
    r"\b(alguem|fulano|ele|ela|[a-z]+ tem) (tem )?processo (contra|na justica)\b|"
    r"\bprocesso(s)? (\w+ )?(no|em) nome (de|da|do)\b|"
    r"\b(vizinh\w*|ex|irma\w*|irmao|prim[oa]|amig[oa]|cunhad[oa]|sogr[oa]|patrao|chefe|marido|esposa|namorad[oa]|"
    r"colega|fulano)\b.{0,40}\b(sendo processad\w*|foi processad\w*|tem processo|responde a processo)\b|"
    r"\bprocesso(s)? (\w+ ){0,3}(d[aoe]|contra|em nome d[aoe]) (minha |meu |uma |um |o |a )?"
    r"(vizinh\w*|ex|irma\w*|irmao|prim[oa]|amig[oa]|mae|pai|tia|tio|cunhad[oa]|sogr[oa]|patrao|chefe|marido|"
    r"esposa|mulher|namorad[oa]|colega|pessoa|empresa|fulano|outra pessoa)\b")
_CAPITALISED_NAME = re.compile(
    r"\b(?:contra|de|do|da|sobre)\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:\s+(?:d[aeo]s?\s+)?[A-ZÀ-Ý][a-zà-ÿ]+)+")
_CPF_OR_CNPJ = re.compile(r"(?<![\d.])(\d{3}\.?\d{3}\.?\d{3}-?\d{2}|\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2})(?![\d.])")
_ABOUT_CASES = re.compile(
    r"\b(process\w*|acao|acoes|consult\w*|pesquis\w*|busc\w*|procur\w*|tem o|tem a)\b")
_PAYMENT = re.compile(
    r"\b(pix|chave pix|link (de|para|pra|do) pag\w*|"
    r"(manda|mande|mandar|envia|envie|enviar|passa|passe) (o |a |um |uma )?"
    r"(link|boleto|chave|codigo de barras|qr ?code)|"
    r"pagar (por|via|pelo|no|com) (link|pix|cartao|whatsapp)|"
    r"(me )?cobrar|deposit\w*|transferencia bancaria)\b")
_RESTRICTED = re.compile(
    r"\b(ver|consultar|acessar|ler|abrir|mostrar|mostre|saber) .{0,40}(segredo de justica|sigilo\w*|sigilos\w*)\b|"
    r"\bprocesso(s)? (sigilos\w*|em segredo)\b.{0,30}\b(de|da|do) (outra|outro|minha|meu)\b")
# "Tenho direito à justiça gratuita / à Defensoria?" asks who a public service is for (the gratuidade and
# Defensoria entries answer it); "tenho direito a indenização / a receber?" asks for a verdict on one's case.
_SERVICE_RIGHT = (r"(?!\s+(a |ao |a uma |de )?(justica gratuita|gratuidade|defensoria|advogado (gratuito|de graca|"
                  r"dativo)|assistencia (judiciaria|juridica)|atendimento|acessibilidade|libras|interprete|"
                  r"balcao|prioridade|segunda via|certidao))")
_ADVICE = re.compile(
    r"\b(vou|vai|vamos|irei|iremos) (ganhar|perder|conseguir|vencer)\b|"
    r"\b(e|seria|sera) melhor (eu|a gente)\b|\bo melhor (a fazer|caminho|pra mim|para mim)\b|"
    r"\bcompensa\b|\b(voce|vc|tu) acha (que|q)\b|\bse (fosse|fossi) (voce|vc)\b|\bno meu lugar\b|"
    r"\b(eu )?deveria (aceitar|assinar|recorrer|processar|pagar|sair|desistir|fazer|entrar|contestar|esperar)\b|"
    r"\bposso (parar de|deixar de|nao) pagar\b|\be certo que (eu )?(vou|ganho|perco|recebo|consigo)\b|"
    r"\bqual (e )?(a )?(minha )?chance\b|\bme ajud\w* (a |com )?(escrever|fazer|redigir|montar) "
    r"(a |uma |minha |o |meu )?(peticao|defesa|contestacao|recurso|acao|processo)\b|"
    r"\b(o|a) (juiz|juiza) (vai|ira|deve) (me )?(conceder|liberar|favorecer|acreditar|absolver|deferir|"
    r"indeferir|aprovar|reconhecer|mandar)\b|"
    r"\b(o|a) (juiz|juiza|justica) (vai|ira) (me )?(dar|decidir|julgar|aceitar|negar|mandar|ficar|condenar)\b|"
    r"\b(da|de) (pra|para) ganhar\b|\b(vai|vou) dar certo\b|"
    r"\b(teria|tenho|terei|tem) (algum )?direito\b" + _SERVICE_RIGHT + r"|"
    r"\b(aceito|assino|recorro|desisto|contesto|pago|concordo) ou nao\b|\b(e|seria) melhor (eu )?"
    r"(aceitar|fazer|recorrer|desistir|contestar|assinar|pagar|esperar|processar|entrar)\b|"
    r"\b(na sua|qual a sua|qual sua) opiniao\b|\bo que (voce|vc) (acha|faria|me aconselha|recomenda)\b|"
    r"\b(me aconselh\w*|me orient\w* sobre o meu|compensa (eu )?(processar|recorrer|aceitar|entrar))\b|"
    r"\b(eu )?(ganho|perco) (a causa|o processo|a acao|essa acao|esse processo)\b|"
    r"\bsera que (eu )?(ganho|perco|consigo|vou)\b|\b(tenho|tem) chances?\b|"
    r"\b(posso|consigo) (ganhar|perder) (a causa|o processo|a acao)\b|"
    r"\b(chance|chances|probabilidade) (de|do|da|que)\b|"
    r"\bminhas? chances?\b|"
    r"(?<!quanto )(?<!quando )(?<!onde )(?<!como )\b(eu )?devo (recorrer|aceitar|assinar|fazer|entrar|processar|"
    r"pagar|desistir|contestar|"
    r"responder|ir|fechar|concordar|pedir)\b|\bo que (eu )?(devo|tenho que|preciso) fazer\b|\bvale a pena\b|"
    r"\bo juiz vai (decidir|dar|julgar|aceitar|negar|mandar|me dar)\b|\b(tenho|terei) direito\b" + _SERVICE_RIGHT + r"|"
    r"\bquanto (de \w+ )?(\w+ ){0,3}(eu )?(vou|consigo|posso|irei) (receber|ganhar)\b|"
    r"\bquanto tempo (falta|vai demorar|demora|leva) (para|pra|pro|ate) "
    r"(o juiz|a juiza|juiz|juiza|sair|meu|minha|o meu|a minha|"
    r"decidir|julgar)\b|\bquando (vai sair|sai|o juiz vai)\b|\b(qual|quanto) (e |sera )?(o )?valor (da|de) "
    r"(minha|meu) (indenizacao|causa|acao)\b|\b(escrev\w*|faz\w*|redig\w*|elabor\w*) (a |uma |minha )?(peticao|defesa|"
    r"contestacao|recurso|inicial)\b|\bquem (tem razao|esta certo|vai ganhar)\b|\bcomo (eu )?(ganho|venco)\b")
_OVERRIDE = re.compile(
    r"\b(ignor\w*|esquec\w*|desconsider\w*|desobedec\w*|burl\w*) (\w+ ){0,3}(instruc\w*|regras?|orientac\w*|"
    r"prompt|comandos?|restric\w*)\b|\b(mostre|mostra|revele|revela|diga|qual e|repita) (\w+ ){0,2}(prompt|"
    r"instrucoes (do sistema|iniciais|internas))\b|\bsystem prompt\b|\bvoce agora e\b|\ba partir de agora (voce|vc)\b|"
    r"\bfinja (ser|que)\b|\bmodo (desenvolvedor|dan|admin\w*)\b|\bjailbreak\b|\bignore (all|previous)\b")


def intent(text: str) -> str | None:
    """The guarded situation the question is about, most important first, or None."""
    folded = fold(text)
    if _URGENT.search(folded) or (_LIMINAR.search(folded) and _OFF_HOURS.search(folded)):
        return URGENT
    if (_CPF_OR_CNPJ.search(text) and _ABOUT_CASES.search(folded)) or _PERSON.search(folded) or \
            (_CAPITALISED_NAME.search(text) and re.search(r"\bprocess", folded)):
        return PERSON_SEARCH
    if _PAYMENT.search(folded):
        return PAYMENT
    if _RESTRICTED.search(folded):
        return RESTRICTED
    if _ADVICE.search(folded):
        return ADVICE
    return None


# An eviction is pressing when it is near or ordered: a date close by, an officer, an order, a notice with days.
_SOON = re.compile(r"\b(hoje|hj|amanha|agora|ja|urgente|urgencia|daqui a pouco|bateu|bateram|chegou|chegaram|"
                   r"mandado|ordem|oficial|intimad\w*|vou ser|vao me|querem me|(semana|mes) que vem|"
                   r"(\d+|um|uma|dois|duas|tres|cinco|dez|quinze) (dias?|semanas?) (para|pra|pro) "
                   r"(sair|desocupar|entregar)|"
                   r"esta na porta|na minha porta|essa semana|esta semana|socorro)\b|!!")
_EVICTION = re.compile(r"\b(despej\w*|despeij\w*|desocupa\w*|reintegracao de posse|"
                       r"troca\w* a fechadura|(poe|por|colocar|jogar|bota\w*) (as |minhas )?(minhas )?coisas? na rua|"
                       r"(tirar|tira|expulsar) (a gente|nos|eu|minha familia) (de casa|da casa))")
_BLOCKED = re.compile(r"\b(bloque\w*|penhor\w*|congel\w*|sisbajud|sequestr\w*) .{0,40}"
                      r"\b(conta|salario|dinheiro|poupanca|pix|aposentadoria|beneficio)|"
                      r"\b(conta|salario|poupanca|aposentadoria)\b.{0,30}\b(bloque\w*|penhor\w*|congel\w*)")
_HEARING = re.compile(r"\baudiencia\b")
_HEARING_SOON = re.compile(r"\b(hoje|hj|amanha|agora|daqui a pouco|daqui a \d+ ?(h|hora|horas|min|minutos))\b")


_ELSEWHERE = re.compile(
    r"\b(sao paulo|rio de janeiro|minas gerais|bahia|parana|santa catarina|rio grande do sul|rio grande do norte|"
    r"goias|pernambuco|ceara|amazonas|maranhao|piaui|paraiba|alagoas|sergipe|mato grosso|tocantins|"
    r"rondonia|roraima|amapa|acre|distrito federal|brasilia|campinas|belo horizonte|curitiba|porto alegre|"
    r"salvador|recife|fortaleza|manaus|goiania|florianopolis|sp|rj|mg|ba|pr|sc|rs|df)\b")
_COURT_WORDS = re.compile(r"\b(forum|tribunal|vara|juizado|cartorio|tj\w*|comarca|justica)\b")


def other_court(text: str) -> bool:
    """A question about a court outside Espírito Santo: the portal holds only this court's content."""
    folded = fold(text)
    return bool(_ELSEWHERE.search(folded) and _COURT_WORDS.search(folded))


def violent(text: str) -> bool:
    """Violence, threats or danger (the URGENT kind without the after-hours liminar)."""
    return bool(_URGENT.search(fold(text)))


def pressing(text: str) -> str | None:
    """An eviction about to happen, a blocked account or salary, a hearing today or tomorrow: the intent id
    whose answer follows the fastest real channel, or None. Checked after `intent`'s URGENT (violence first)."""
    folded = fold(text)
    if _EVICTION.search(folded) and _SOON.search(folded + (" !!" if "!!" in text else "")):
        return "despejo"
    if _BLOCKED.search(folded):
        return "bloqueio-de-conta"
    if _HEARING.search(folded) and _HEARING_SOON.search(folded):
        return "audiencia"
    return None


def advice_asked(text: str) -> str | None:
    """ADVICE when the message asks for advice or a prediction, whatever else it is about."""
    return ADVICE if _ADVICE.search(fold(text)) else None


def tries_override(text: str) -> bool:
    """A message that tries to change the assistant's rules (prompt injection)."""
    return bool(_OVERRIDE.search(fold(text)))


# --- answers -------------------------------------------------------------------------------------------

_SCRIPT = re.compile(r"(?is)<(script|style|iframe|object|embed|noscript|template)\b.*?(</\1\s*>|$)")
_TAG = re.compile(r"(?s)<[^>]{0,500}>")
_MD_LINK = re.compile(r"!?\[([^\]]{0,300})\]\(([^)\s]{0,500})\)")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"')\]]+")
_MD_MARKS = re.compile(r"(\*\*|__|`+|^#{1,6}\s+)", re.M)


def official_url(url: str) -> bool:
    """A link the assistant may show: this portal (a path) or an official domain (*.jus.br, *.gov.br, *.def.br)."""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return True
    parts = urlsplit(url if "://" in url else "https://" + url)
    host = (parts.hostname or "").lower().rstrip(".")
    return parts.scheme in ("http", "https") and (host in OFFICIAL_HOSTS or host.endswith(OFFICIAL_SUFFIXES))


def sanitise(text: str) -> str:
    """Plain text with no HTML, no Markdown link syntax and no link outside the portal and official domains."""
    text = html.unescape(_SCRIPT.sub(" ", text))
    text = _TAG.sub(" ", text).replace("<", "‹").replace(">", "›")
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if official_url(m.group(2)) else m.group(1), text)
    text = _URL.sub(lambda m: m.group(0) if official_url(m.group(0).rstrip(".,;:")) else "[link removido]", text)
    text = _MD_MARKS.sub("", text)
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_PHONE = re.compile(r"(?<![\d.,/-])(?:\+?55\s?)?(?:\(?\d{2}\)?\s?)?\d{4,5}[\s-]?\d{4}(?![\d.,/-])|"
                    r"\b0800[\s-]?\d{3}[\s-]?\d{4}\b|(?<![\d.,/-])1[0-9]{2}(?![\d.,/-])")
_MONEY = re.compile(r"(?i)R\$\s?[\d.,]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DEADLINE = re.compile(r"(?i)\b(\d{1,3})\s+(dias?|horas?|meses|m[eê]s|anos?|semanas?)\b")
_DIGITS = re.compile(r"\D")


def ungrounded(answer: str, known_text: str) -> list[str]:
    """Phones, amounts, e-mails and deadlines the answer states that `known_text` (the content) lacks."""
    known_digits = {_DIGITS.sub("", m.group(0)) for m in _PHONE.finditer(known_text)} | \
        {_DIGITS.sub("", m.group(0)) for m in _MONEY.finditer(known_text)}
    known_folded = fold(known_text)
    found = []
    for match in list(_PHONE.finditer(answer)) + list(_MONEY.finditer(answer)):
        digits = _DIGITS.sub("", match.group(0))
        if digits and digits not in known_digits:
            found.append(match.group(0))
    found += [m.group(0) for m in _EMAIL.finditer(answer) if m.group(0).lower() not in known_text.lower()]
    found += [m.group(0) for m in _DEADLINE.finditer(answer) if fold(" ".join(m.group(0).split())) not in known_folded]
    return found


_PREDICTION = re.compile(
    r"\b(voce|vc) (vai|ira|deve|devera) (ganhar|perder|vencer|conseguir)\b|\b(suas|as suas) chances\b|"
    r"\bprovavelmente (o juiz|a juiza|vai|ira|voce)\b|\bo juiz (vai|ira) (decidir|julgar|dar|aceitar|negar) a seu\b|"
    r"\b(recomendo|aconselho|sugiro) que (voce|vc)\b|"
    r"\b(voce|vc) deve (entrar com|processar|recorrer|aceitar|assinar)\b|"
    r"(?<!nao )(?<!nunca )\b(informe|digite|envie|mande|passe|me diga|me informe) (o )?(seu )?cpf\b")


def advises_or_predicts(answer: str) -> bool:
    """The answer predicts an outcome, advises on a case or asks for a CPF."""
    return bool(_PREDICTION.search(fold(answer)))
