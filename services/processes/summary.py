"""What a person reads first on a process page: where the process is now, its latest movement and how long ago,
and, when it is not at this vara, whom to talk to. Built from the page's payload; no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from services.processes.timeline import PageMovement, days
from utils.dates import COURT_TIMEZONE
from utils.text import fold

DEGREE_PLACES = {
    "G1": "Na 1ª instância (vara)",
    "G2": "No Tribunal de Justiça (2º grau, julgamento de recurso)",
    "JE": "No Juizado Especial",
    "TR": "Na Turma Recursal (recurso de Juizado)",
}
# 2º grau and Turma Recursal judgements are acórdãos, not sentenças.
APPEAL_DEGREES = ("G2", "TR")
JUDGEMENT_LABEL = "Acórdão (julgamento do Tribunal)"
JUDGEMENT_EXPLANATION = (
    "O Tribunal julgou o recurso (acórdão). “Provido” quer dizer que o recurso foi aceito; “não provido”, que foi "
    "recusado; “provido em parte”, que foi aceito só em parte. Quando há mais de um recurso, cada um tem o seu "
    "resultado, por isso podem aparecer dois no mesmo minuto. Isso não diz, sozinho, quem ganhou: converse com "
    "seu advogado ou com a Defensoria Pública sobre os próximos passos e os prazos.")


@dataclass(frozen=True)
class Summary:
    degree: str
    place: str  # "No Tribunal de Justiça (2º grau…)"
    judging_body: str | None
    at_this_unit: bool | None  # None when the source did not name the judging body
    latest: PageMovement | None
    latest_label: str | None
    latest_explanation: str | None
    ago: str | None  # "há 3 dias"


# Plain words for movements the category table leaves in "outros" (TPU codes newer than the table), by the official
# name DataJud sends. Each says what the name means, never what it implies for the parties.
OTHER_EXPLANATIONS = {
    "processo devolvido a secretaria": "O processo saiu do gabinete e voltou para a secretaria, que vai cumprir o "
                                       "que foi decidido ou despachado.",
    "expedida/certificada": "A secretaria expediu ou certificou um documento, como uma intimação ou uma certidão.",
    "para julgamento de merito": "O processo foi encaminhado para o julgamento do mérito (a questão principal).",
    "adiado": "Um julgamento ou uma audiência que estava marcado foi adiado.",
    "pedido de inclusao": "Foi pedida a inclusão do processo na pauta de uma sessão de julgamento.",
    "merito": "Registro ligado ao julgamento do mérito (a questão principal) do processo ou do recurso.",
}


def official_name(name: str, complements) -> str:
    """The official name with its complements, a complement that repeats the name shown once:
    "Petição" + "Petição (outras)" is "Petição (outras)", not "Petição (Petição (outras))"."""
    parts = [part for part in complements or () if part]
    if len(parts) == 1 and fold(parts[0]).startswith(fold(name)):
        return parts[0]
    return f"{name} ({'; '.join(parts)})" if parts else name


def is_this_unit(judging_body: str | None) -> bool | None:
    """Whether a judging body's name is the 2ª Vara Cível de Cariacica, however the source spells it."""
    if not judging_body:
        return None
    name = fold(judging_body)
    return bool(re.search(r"(?<!\d)2\S*\s*vara\s+civel", name)) and "cariacica" in name


def movement_label(degree: str, movement: PageMovement) -> tuple[str, str]:
    """The category label and explanation a movement shows: a 2º grau judgement is an acórdão."""
    if degree in APPEAL_DEGREES and movement.category == "sentenca":
        return JUDGEMENT_LABEL, JUDGEMENT_EXPLANATION
    if movement.category == "outros":
        plain = OTHER_EXPLANATIONS.get(fold(movement.name).strip())
        if plain:
            return movement.label, plain
    return movement.label, movement.explanation


def ago(moment: datetime, now: datetime) -> str:
    """"hoje", "ontem", "há 5 dias", "há 3 meses", "há 2 anos", by the court's calendar."""
    then: date = moment.astimezone(COURT_TIMEZONE).date()
    today: date = now.astimezone(COURT_TIMEZONE).date()
    elapsed = (today - then).days
    if elapsed <= 0:
        return "hoje"
    if elapsed == 1:
        return "ontem"
    if elapsed < 60:
        return f"há {elapsed} dias"
    if elapsed < 730:
        return f"há {elapsed // 30} meses"
    return f"há {elapsed // 365} anos"


def summarize(instances, now: datetime | None = None) -> Summary | None:
    """The summary of the instance with the most recent movement (where the process is now)."""
    now = now or datetime.now(COURT_TIMEZONE)
    best = None
    for instance in instances:
        grouped = days(instance)
        latest = grouped[0][1][0] if grouped and grouped[0][1] else None
        key = latest.at if latest else None
        if best is None or (key is not None and (best[1] is None or key > best[1])):
            best = (instance, key, latest)
    if best is None:
        return None
    instance, _, latest = best
    degree = instance.get("degree") or ""
    body = (instance.get("judging_body") or {}).get("name")
    label, explanation = movement_label(degree, latest) if latest else (None, None)
    return Summary(degree=degree, place=DEGREE_PLACES.get(degree, degree), judging_body=body,
                   at_this_unit=is_this_unit(body), latest=latest, latest_label=label,
                   latest_explanation=explanation, ago=ago(latest.at, now) if latest else None)


def by_year(grouped):
    """`days(instance)` grouped by year, newest first: [(year, [(day, movements)…], count)]."""
    years: list = []
    for day, items in grouped:
        if not years or years[-1][0] != day.year:
            years.append((day.year, [], 0))
        year, bucket, count = years[-1]
        bucket.append((day, items))
        years[-1] = (year, bucket, count + len(items))
    return years
