"""Escavador's API v2 as a provider: `fetch(cnj) -> list[ProcessRecord]` (empty = not found).

Used instead of DataJud when ESCAVADOR_API_KEY is set (services.processes picks the provider). Two
routes, both `GET` with `Authorization: Bearer <key>`:
- `processos/numero_cnj/{NNNNNNN-DD.AAAA.J.TR.OOOO}`: the process, with one `fontes[]` entry per
  source Escavador crawled (court systems per instance, official gazettes);
- `processos/numero_cnj/{…}/movimentacoes?limit=100`: its movements, newest first, paginated by a
  cursor: follow `links.next` until it is absent. The next link must stay under ESCAVADOR_BASE_URL
  (the key is never sent elsewhere) and the number of pages is bounded.

Every request goes through `resilience.dependency("escavador")`: its own breaker, retries, deadline
and the published limit of 500 requests a minute (shared by all workers through Redis). A fetch is
all or nothing: a failed movement page fails the fetch, so a refresh never replaces stored movements
with a partial list.

What reaches the domain model: one record per court-system source (`fontes[].tipo == "TRIBUNAL"`) of
TJES, with class, subjects, judging body, dates, secrecy and the movements of that source. Parties
(`envolvidos`, `titulo_polo_*`), the claim value and gazette publications (free text full of names)
never do: the pages render the domain model, and parties are never shown publicly. Court-system
movement texts name parties too ("Decorrido prazo de FULANO"): every name the payload lists as a party
or lawyer is replaced by "(parte)", and CPF, CNPJ, e-mail and phone numbers are masked. The whole
provider answer is kept in `raw` for the record.
"""
from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from services import resilience
from services.processes.calls import send_counted
from services.processes.model import CodeName, ProcessRecord, SourceMovement
from services.resilience import DependencyUnavailable, MalformedResponse
from utils import cnj as cnj_numbers
from utils.dates import parse_datetime
from utils.masking import mask
from utils.text import fold_each

log = logging.getLogger("portal.escavador")
NAME = "escavador"
LABEL = "Escavador"
PAGE_SIZE = 100
MAX_MOVEMENT_PAGES = 20  # 2,000 movements: beyond any process of a civil court
MAX_NAME_CHARS = 255  # movements.name is VARCHAR(255)
COURT = "TJES"
PARTY = "(parte)"  # what a party's name becomes in a movement's text


def fetch_deadline_s() -> float:
    """The longest a fetch may take: the process, then the movement pages, within twice one call's deadline."""
    return 2 * current_app.config["DEPENDENCIES"][NAME]["deadline_s"]


def fetch(cnj: str) -> list[ProcessRecord]:
    """The TJES instances Escavador holds for a 20-digit number; raises DependencyUnavailable."""
    started = time.monotonic()
    path = f"processos/numero_cnj/{cnj_numbers.format(cnj)}"
    process = _get(path, _json_object)
    if process is None:
        return []
    items = _movements(f"{path}/movimentacoes", started)
    return parse_process(process, items, cnj)


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {current_app.config['ESCAVADOR_API_KEY']}",
            "X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}


def _get(url: str, validate, params: dict | None = None) -> Any:
    """One GET through the resilience layer; the decoded body, or None for a 404."""
    response = send_counted(resilience.dependency(NAME), "GET", url, params=params, headers=_headers(),
                            validate=validate)
    status = response.status_code
    if status == 404:
        return None
    if status == 401:
        log.error("Escavador refused the API key (HTTP 401): check ESCAVADOR_API_KEY",
                  extra={"alert": "escavador_api_key"})
        raise DependencyUnavailable(NAME, "API key refused (401)", status=401)
    if status == 402:
        log.error("Escavador has no credits left (HTTP 402): top up the account or unset ESCAVADOR_API_KEY",
                  extra={"alert": "escavador_credits"})
        raise DependencyUnavailable(NAME, "no credits left (402)", status=402)
    if status != 200:
        raise DependencyUnavailable(NAME, f"unexpected HTTP {status}", status=status)
    return response.json()


def _movements(path: str, started: float) -> list[dict]:
    """Every movement, following `links.next`; raises DependencyUnavailable rather than return part of them."""
    base = current_app.config["DEPENDENCIES"][NAME]["base_url"]
    budget = fetch_deadline_s()
    items: list[dict] = []
    url, params, seen = path, {"limit": PAGE_SIZE}, set()
    for _ in range(MAX_MOVEMENT_PAGES):
        if time.monotonic() - started > budget:
            raise DependencyUnavailable(NAME, "movement pages took longer than the fetch deadline")
        page = _get(url, _json_page, params)
        if page is None:
            return items  # the process exists but Escavador lists no movements for it
        items.extend(item for item in page["items"] if isinstance(item, dict))
        following = (page.get("links") or {}).get("next") if isinstance(page.get("links"), dict) else None
        if not following:
            return items
        if not isinstance(following, str) or not _under(following, base) or following in seen:
            raise DependencyUnavailable(NAME, "unusable next-page link in the movements")
        seen.add(following)
        url, params = following, None  # the cursor link carries its own query
    raise DependencyUnavailable(NAME, f"more than {MAX_MOVEMENT_PAGES} pages of movements")


def _under(url: str, base: str) -> bool:
    link, root = urlsplit(url), urlsplit(base)
    return (link.scheme, link.netloc) == (root.scheme, root.netloc) and \
        link.path.startswith(root.path.rstrip("/") + "/")


def _json_object(response) -> None:
    if response.status_code != 200:
        return
    payload = _decoded(response)
    if not isinstance(payload, dict) or not isinstance(payload.get("fontes", []), list):
        raise MalformedResponse("not a process object")


def _json_page(response) -> None:
    if response.status_code != 200:
        return
    payload = _decoded(response)
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise MalformedResponse("no items list")


def _decoded(response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponse("the body is not JSON") from None


# -- parsing ------------------------------------------------------------------------------------------

def parse_process(process: dict, movements: list[dict], cnj: str) -> list[ProcessRecord]:
    """One record per TJES court-system source of `process`, each with its own movements, G1 first."""
    fontes = [f for f in process.get("fontes") or [] if isinstance(f, dict) and _is_court_source(f)]
    if not fontes:
        return []
    buckets: dict[int, list[tuple[int, dict]]] = {index: [] for index in range(len(fontes))}
    for index, item in enumerate(movements):
        owner = _owner(item, fontes)
        if owner is not None:
            buckets[owner].append((index, item))
    header = {key: value for key, value in process.items() if key != "fontes"}
    names = _party_names(process)
    records = [_record(fonte, buckets[index], header, cnj, len(movements), names)
               for index, fonte in enumerate(fontes)]
    return sorted(records, key=lambda r: (_DEGREE_RANK.get(r.degree, 9), r.degree, r.source_id))


_DEGREE_RANK = {"G1": 0, "G2": 1, "JE": 2, "TR": 3}


def _is_court_source(fonte: dict) -> bool:
    if str(fonte.get("tipo") or "").upper() != "TRIBUNAL":
        return False  # gazettes (DIARIO) carry publications, not the instance's record
    sigla = fonte.get("sigla") or (fonte.get("tribunal") or {}).get("sigla")
    return not sigla or str(sigla).upper() == COURT


def _owner(item: dict, fontes: list[dict]) -> int | None:
    source = item.get("fonte") if isinstance(item.get("fonte"), dict) else {}
    if str(source.get("tipo") or "TRIBUNAL").upper() != "TRIBUNAL":
        return None  # a gazette publication: free text naming the parties
    source_id = source.get("fonte_id", source.get("id"))
    for index, fonte in enumerate(fontes):
        if source_id is not None and source_id == fonte.get("id"):
            return index
    for index, fonte in enumerate(fontes):
        if source.get("grau") is not None and source.get("grau") == fonte.get("grau"):
            return index
    return 0 if len(fontes) == 1 else None


def _record(fonte: dict, items: list[tuple[int, dict]], header: dict, cnj: str, total: int,
            names: re.Pattern | None) -> ProcessRecord:
    capa = fonte.get("capa") if isinstance(fonte.get("capa"), dict) else {}
    # Escavador lists movements newest first; `position` breaks ties the DataJud way (higher = later).
    parsed = [m for index, item in items if (m := _movement(item, total - 1 - index, names))]
    source_id = fonte.get("processo_fonte_id") or fonte.get("id") or f"{fonte.get('grau')}"
    return ProcessRecord(
        cnj=cnj,
        source_id=f"{NAME}:{source_id}",
        degree=_degree(fonte),
        process_class=_named(capa.get("classe")),
        subjects=_subjects(capa),
        judging_body=_named(capa.get("orgao_julgador")),
        filed_at=parse_datetime(capa.get("data_distribuicao") or fonte.get("data_inicio")),
        updated_at=parse_datetime(fonte.get("data_ultima_verificacao") or header.get("data_ultima_verificacao")),
        secrecy_level=1 if fonte.get("segredo_justica") else 0,
        system=_text(fonte.get("sistema")),
        movements=tuple(sorted(parsed, key=lambda m: (m.at, m.position), reverse=True)),
        raw={"processo": header, "fonte": fonte, "movimentacoes": [item for _, item in items]},
    )


def _degree(fonte: dict) -> str:
    label = (_text(fonte.get("grau_formatado")) or _text(fonte.get("descricao")) or "").casefold()
    if "recursal" in label:
        return "TR"
    if "juizado" in label:
        return "JE"
    grau = fonte.get("grau")
    return f"G{grau}" if isinstance(grau, int) and not isinstance(grau, bool) and grau > 0 else "NA"


def _subjects(capa: dict) -> tuple[CodeName, ...]:
    # Escavador's `assuntos_normalizados[].id` is its own id, not a TPU code: keep the names only.
    names = [_text(item.get("nome")) for item in capa.get("assuntos_normalizados") or [] if isinstance(item, dict)]
    names = [name for name in names if name] or [name for name in [_text(capa.get("assunto"))] if name]
    return tuple(CodeName(code=None, name=name) for name in dict.fromkeys(names))


def _movement(item: dict, position: int, names: re.Pattern | None) -> SourceMovement | None:
    at = parse_datetime(item.get("data"))
    text = _text(item.get("conteudo"))
    if at is None or not text:
        return None
    name = _scrub(" ".join(text.split()), names)
    if len(name) > MAX_NAME_CHARS:
        name = name[:MAX_NAME_CHARS - 1].rstrip() + "…"
    return SourceMovement(at=at, code=None, name=name, complements=(), position=position)


_SUFFIXES = re.compile(r"\s+e\s+outros?\s*$", re.IGNORECASE)
_NOT_A_NAME = {"segredo de justica", "sigiloso", "nao informado", "desconhecido"}
MIN_NAME_CHARS = 4


def _party_names(process: dict) -> re.Pattern | None:
    """One pattern matching every party and lawyer name in the payload, longest first, accents and case ignored."""
    found = {process.get("titulo_polo_ativo"), process.get("titulo_polo_passivo")}
    for fonte in process.get("fontes") or []:
        for person in (fonte.get("envolvidos") or []) if isinstance(fonte, dict) else []:
            if isinstance(person, dict):
                found.add(person.get("nome"))
                found.update(lawyer.get("nome") for lawyer in person.get("advogados") or []
                             if isinstance(lawyer, dict))
    folded = {" ".join(fold_each(_SUFFIXES.sub("", name)).split()) for name in found if isinstance(name, str)}
    folded = sorted((name for name in folded if len(name) >= MIN_NAME_CHARS and name not in _NOT_A_NAME),
                    key=len, reverse=True)
    if not folded:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(word) for word in name.split()) for name in folded)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _scrub(text: str, names: re.Pattern | None) -> str:
    if names is not None:
        folded = fold_each(text)  # same length as `text`: spans found in it apply to the original
        pieces, last = [], 0
        for match in names.finditer(folded):
            pieces += [text[last:match.start()], PARTY]
            last = match.end()
        text = "".join(pieces) + text[last:]
    return mask(text)



def _named(value: Any) -> CodeName | None:
    name = _text(value)
    return CodeName(code=None, name=name) if name else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
