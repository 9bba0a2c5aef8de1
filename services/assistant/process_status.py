"""The process path: a CNJ number in the message → the process's status from `processes.lookup`.

The answer says what the last movements mean in plain language, how fresh the data is and where the
full timeline is; a restricted process shows its number and nothing else. An invalid number gets the
validator's own message. Answers here hold process data: they are never cached by the assistant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from services import processes
from services.processes import timeline
from utils import cnj
from utils.dates import COURT_TIMEZONE

LAST_MOVEMENTS = 3
# The formatted number, 20 bare digits, or a looser run of digits and separators that may be a mistyped number.
_FORMATTED = re.compile(r"(?<!\d)\d{7}-\d{2}\.\d{4}\.\d\.\d{2}\.\d{4}(?!\d)")
_BARE = re.compile(r"(?<!\d)\d{20}(?!\d)")
_LOOSE = re.compile(r"(?<![\d])\d[\d.\-/ ]{14,30}\d(?![\d])")
_DEGREE_NAMES = {"G1": "1º grau", "G2": "2º grau (Tribunal)", "JE": "Juizado Especial", "TR": "Turma Recursal"}
# What a judgement's outcome means, in general terms (the movement's name or complements carry the word).
_OUTCOMES = (
    (re.compile(r"\bn[aã]o[ -]provi|\bdesprovid|\bnegad[oa] provimento", re.I),
     "“não provido” quer dizer que o recurso foi negado: a decisão recorrida continua valendo"),
    (re.compile(r"\bem parte\b|\bparcialmente\b", re.I),
     "“em parte” (ou “parcialmente”) quer dizer que só uma parte do pedido ou do recurso foi aceita"),
    (re.compile(r"(?<!não )(?<!nao )(?<!des)\bprovid[oa]|\bdad[oa] provimento", re.I),
     "“provido” quer dizer que o recurso foi aceito: a decisão recorrida foi mudada, no todo ou na parte pedida"),
    (re.compile(r"\bimproced", re.I), "“improcedente” quer dizer que o pedido de quem entrou com a ação foi negado"),
    (re.compile(r"(?<!im)\bproced[eê]n", re.I),
     "“procedente” quer dizer que o pedido de quem entrou com a ação foi aceito"),
    (re.compile(r"\bhomolog", re.I), "“homologado” quer dizer que o juiz aprovou um acordo ou um pedido das partes"),
    (re.compile(r"\bextin", re.I), "“extinto” quer dizer que o processo foi encerrado, com ou sem decisão do pedido"),
)
_HELP = ("Para entender o que isso significa no seu caso, fale com o seu advogado ou com a Defensoria Pública "
         "(telefone 129). Este assistente não dá orientação jurídica.")


@dataclass(frozen=True)
class ProcessAnswer:
    text: str
    sources: list[dict]


def find_number(text: str) -> str | None:
    """The part of the message that is (or looks like) a CNJ number, or None."""
    for pattern in (_FORMATTED, _BARE):
        match = pattern.search(text)
        if match:
            return match.group(0)
    for match in _LOOSE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group(0))
        if 18 <= digits <= 22:
            return match.group(0).strip()
    return None


def _when(iso: str | None) -> str:
    if not iso:
        return "data não informada"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(COURT_TIMEZONE)
    return moment.strftime("%d/%m/%Y")


def _moment(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(COURT_TIMEZONE)
    return moment.strftime("%d/%m/%Y às %H:%M")


def _described(label: str) -> str:
    """The provider as a citizen may not know it: "DataJud, a base pública do CNJ"."""
    return "DataJud, a base pública do CNJ" if label == "DataJud" else label


def _recent(movements: list[dict]) -> list[dict]:
    """The last LAST_MOVEMENTS movements, and every other one that shares the moment of the last shown: a group
    of acts recorded together is never cut in the middle."""
    shown = list(movements[:LAST_MOVEMENTS])
    for movement in movements[LAST_MOVEMENTS:]:
        if movement.get("date") != shown[-1].get("date"):
            break
        shown.append(movement)
    return shown


def _outcomes(movements: list[dict]) -> list[str]:
    """Plain-language meanings of the judgement outcomes the shown movements name (each meaning once)."""
    found = []
    for movement in movements:
        text = " ".join([movement.get("name") or "", *(movement.get("complements") or [])])
        for pattern, meaning in _OUTCOMES:
            if pattern.search(text) and meaning not in found:
                found.append(meaning)
                break
    return found


def answer(typed: str) -> ProcessAnswer:
    """The status of the process numbered `typed` (any common spelling), as plain text with its link."""
    try:
        result = processes.lookup(typed)
    except cnj.InvalidCnj as exc:
        return ProcessAnswer(f"{exc.message} Confira o número e envie de novo.",
                             [{"title": "Consulta de processos", "url": "/consulta"}])
    except processes.ProcessNotFound as exc:
        return ProcessAnswer(
            f"Não encontrei esse processo no {_described(exc.provider_label)}. Ele pode não existir, estar em segredo "
            f"de justiça ou ainda não ter sido enviado pelo tribunal ao {exc.provider_label}. Confira o número; se "
            "estiver certo, pergunte pelo Balcão Virtual do TJES.",
            [{"title": "Consulta de processos", "url": "/consulta"},
             {"title": "Balcão Virtual do TJES", "url": "https://www.tjes.jus.br/balcao-virtual/"}])
    except processes.ProcessUnavailable:
        label = processes.provider_label(processes.provider().NAME)
        return ProcessAnswer(
            f"Não consegui consultar esse processo agora: a fonte dos dados ({_described(label)}) não está "
            "respondendo. Tente de novo em alguns minutos ou use a consulta pública do PJe no portal do TJES.",
            [{"title": "Consulta de processos", "url": "/consulta"}])
    payload = result.payload
    number = payload.cnj
    link = {"title": f"Processo {number}", "url": f"/processos/{number}"}
    if payload.restricted:
        return ProcessAnswer(
            f"O processo {number} está em segredo de justiça. Por isso, este portal não mostra nenhum dado dele. "
            "Só as partes e os seus advogados podem consultá-lo.", [link])
    lines = [f"Processo {number} (TJES). Consultado em {_moment(payload.fetched_at)} no "
             f"{_described(payload.source_label)}."]
    if payload.stale:
        reason = payload.stale_reason or "a fonte está indisponível"
        lines.append(f"Atenção: estes são os últimos dados guardados; {reason}.")
    for instance in payload.instances:
        degree = _DEGREE_NAMES.get(instance.get("degree"), instance.get("degree") or "instância não informada")
        klass = (instance.get("class") or {}).get("name") or "classe não informada"
        body = (instance.get("judging_body") or {}).get("name")
        lines.append("")
        lines.append(f"{degree}: {klass}" + (f", {body}" if body else "") + ".")
        movements = instance.get("movements") or []
        if not movements:
            lines.append("Nenhuma movimentação registrada nesta instância.")
            continue
        if instance.get("updated_at"):
            lines.append(f"Última atualização na fonte: {_moment(instance['updated_at'])}.")
        shown = _recent(movements)
        lines.append("Últimas movimentações:")
        for movement in shown:
            label = timeline.category_label(movement["category"])
            lines.append(f"• {_when(movement['date'])} — {label}: {movement['name']}.")
        latest = movements[0]["category"]
        lines.append(f"O que isso quer dizer: {timeline.explanation(latest)}")
        outcomes = _outcomes(shown)
        if outcomes:
            lines.append("Sobre o resultado: " + "; ".join(outcomes) + ". O que isso muda no seu caso, pergunte ao "
                         "seu advogado ou à Defensoria Pública.")
    lines.append("")
    lines.append(f"A linha do tempo completa está na página do processo. {_HELP}")
    lines.append("Para receber um aviso por e-mail quando este processo tiver novidade, use o link "
                 "“Receber avisos por e-mail” abaixo.")
    follow = {"title": "Receber avisos por e-mail", "url": f"/processos/{number}/avisos"}
    return ProcessAnswer("\n".join(lines), [link, follow])
