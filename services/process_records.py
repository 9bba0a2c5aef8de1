"""The process domain model, and DataJud search responses turned into it.

Every provider produces `ProcessRecord`s; the rest of the app never sees an upstream payload except as `raw`.
The DataJud parser survives every quirk listed in ../shared/fixtures/README.md: several hits per number, absent,
unsorted or duplicated movements, ISO dates with any fraction and the compact `YYYYMMDDhhmmss` form, nested or
empty `assuntos`, string-or-number codes, complement labels taken from `nome` only.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

# A date without a zone is the court's wall-clock time; TJES (like DataJud's compact form) keeps Brasília time.
COURT_TIMEZONE = ZoneInfo("America/Sao_Paulo")
DEGREE_ORDER = ("G1", "G2", "JE", "TR")


# Requests sent to a provider by the current context (the sync job counts them against its daily budget).
_upstream_requests: ContextVar[list[int] | None] = ContextVar("upstream_requests", default=None)


def note_upstream_request() -> None:
    """Providers call this once per request actually sent (not for calls an open breaker refused)."""
    counter = _upstream_requests.get()
    if counter is not None:
        counter[0] += 1


def send_counted(dependency, method: str, url: str, **kwargs):
    """`dependency.request(...)`, noted as sent unless an open breaker or the portal's own rate limit refused it."""
    from services.resilience import BreakerOpen, ClientRateLimited, DependencyUnavailable

    try:
        response = dependency.request(method, url, **kwargs)
    except (BreakerOpen, ClientRateLimited):
        raise  # nothing was sent
    except DependencyUnavailable:
        note_upstream_request()
        raise
    note_upstream_request()
    return response


@contextmanager
def counting_upstream_requests() -> Iterator[list[int]]:
    """`with counting_upstream_requests() as sent:` — `sent[0]` is the requests this context sent."""
    counter = [0]
    token = _upstream_requests.set(counter)
    try:
        yield counter
    finally:
        _upstream_requests.reset(token)


class MalformedResponse(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CodeName:
    code: int | None
    name: str


@dataclass(frozen=True)
class Movement:
    at: datetime  # aware, UTC
    code: int | None
    name: str
    complements: tuple[str, ...]
    position: int  # index in the upstream list: the tie-breaker for equal timestamps


# Names that make a process a matter of family law or of children whatever the source says about secrecy:
# sources mislabel (court_product.md §5 (iii)), and hiding too much is the cheaper mistake.
_RESTRICTED_MARKERS = re.compile(
    r"\bfamili|\balimentos\b|\bguarda\b|\beca\b|\bcrianca|\badolescen|\binfancia|\bdivorcio|\buniao estavel"
    r"|\bpaternidade|\b(?:investigacao|reconhecimento|negatoria) de maternidade|\binterdicao|\bcuratela|\badocao"
    r"|\bviolencia domestica|\bmaria da penha|\bmedidas? protetivas?|\bato infracional|\bregulamentacao de visitas"
)


@dataclass(frozen=True)
class ProcessRecord:
    cnj: str  # 20 digits
    source_id: str  # DataJud hit `_id` / `id`: one record per instance, never keyed by the number alone
    degree: str  # G1, G2, JE, TR… as the source spells it
    process_class: CodeName | None
    subjects: tuple[CodeName, ...]
    judging_body: CodeName | None
    filed_at: datetime | None  # for an appeal (G2), the appeal's own date, not the original filing
    updated_at: datetime | None  # the source's dataHoraUltimaAtualizacao: shown so people know how old it is
    secrecy_level: int
    system: str | None
    movements: tuple[Movement, ...]  # newest first, as the source sent them (duplicates included)
    raw: dict = field(repr=False, compare=False)

    @property
    def restricted(self) -> bool:
        if self.secrecy_level > 0:
            return True
        names = [item.name for item in (self.process_class, self.judging_body, *self.subjects) if item]
        return any(_RESTRICTED_MARKERS.search(_fold(name)) for name in names)


def parse_datajud_search(payload: Any, cnj: str) -> list[ProcessRecord]:
    """One record per hit of `cnj` in a DataJud `_search` response, ordered G1, G2, JE, TR, then others.

    Hits of another number are ignored; raises `MalformedResponse` when `payload` is not a search response.
    """
    wanted = _digits(cnj)
    if len(wanted) != 20:
        raise ValueError("expected the 20 digits of a CNJ number")
    if not isinstance(payload, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(payload).__name__}")
    if "error" in payload:
        raise MalformedResponse(f"search error: {_error_reason(payload['error'])}")
    hits = payload.get("hits")
    hits = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(hits, list):
        raise MalformedResponse("no hits.hits list in the response")

    records: dict[str, ProcessRecord] = {}
    for index, hit in enumerate(hits):
        source = hit.get("_source") if isinstance(hit, dict) else None
        if not isinstance(source, dict) or _number_of(source) != wanted:
            continue
        record = _record(hit, source, wanted, index)
        records.setdefault(record.source_id, record)  # the same document twice is one instance
    return sorted(records.values(), key=_degree_rank)


def parse_movement(item: Any, position: int) -> Movement | None:
    """A DataJud `movimentos[]` item, or None when it has no usable date (it could not be placed in time)."""
    if not isinstance(item, dict):
        return None
    at = parse_datetime(item.get("dataHora"))
    if at is None:
        return None
    return Movement(at=at, code=_code(item.get("codigo")), name=_text(item.get("nome")) or "",
                    complements=_complements(item.get("complementosTabelados")), position=position)


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?")


def parse_datetime(value: Any) -> datetime | None:
    """Any date form DataJud sends, as an aware UTC datetime; None when there is none or it is not a date.

    ISO 8601 with no fraction or a fraction of any length (nanoseconds are cut to microseconds), with `Z`, an offset
    or no zone; the compact `YYYYMMDD[hhmmss]`; epoch milliseconds. No zone means the court's local time.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_number(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if match := _COMPACT.fullmatch(text):
            year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
            return _aware(datetime(year, month, day, hour, minute, second), None)
        if match := _ISO.fullmatch(text):
            year, month, day, hour, minute, second = (int(part or 0) for part in match.groups()[:6])
            micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
            naive = datetime(year, month, day, hour, minute, second, micro)
            return _aware(naive, match.group(8))
    except ValueError:  # a month 13 or a day 32 is not a date
        return None
    return None


def _record(hit: dict, source: dict, cnj: str, index: int) -> ProcessRecord:
    degree = (_text(source.get("grau")) or "").upper()
    source_id = _text(hit.get("_id")) or _text(source.get("id")) or f"{degree or 'NA'}_{cnj}_{index}"
    return ProcessRecord(
        cnj=cnj,
        source_id=source_id,
        degree=degree,
        process_class=_code_name(source.get("classe")),
        subjects=_subjects(source.get("assuntos")),
        judging_body=_code_name(source.get("orgaoJulgador")),
        filed_at=parse_datetime(source.get("dataAjuizamento")),
        updated_at=parse_datetime(source.get("dataHoraUltimaAtualizacao")),
        secrecy_level=_secrecy_level(source.get("nivelSigilo")),
        system=_system(source.get("sistema")),
        movements=_movements(source.get("movimentos")),
        raw=hit,
    )


def _movements(items: Any) -> tuple[Movement, ...]:
    if not isinstance(items, list):
        return ()
    parsed = [movement for position, item in enumerate(items) if (movement := parse_movement(item, position))]
    # The source's order means nothing; a later position wins a tie, as the later record of the same instant.
    return tuple(sorted(parsed, key=lambda m: (m.at, m.position), reverse=True))


def _complements(items: Any) -> tuple[str, ...]:
    """Human labels only: `nome` ("para decisão"); `descricao` is a variable name ("tipo_de_conclusao")."""
    if not isinstance(items, list):
        return ()
    labels = []
    for item in items:
        if not isinstance(item, dict):
            continue
        label = _text(item.get("nome"))
        if label is None and isinstance(item.get("valor"), str) and not item["valor"].strip().isdigit():
            label = _text(item["valor"])  # a free-text complement carries its words in `valor`
        if label:
            labels.append(label)
    return tuple(labels)


def _subjects(value: Any) -> tuple[CodeName, ...]:
    found: list[CodeName] = []

    def walk(item: Any, depth: int) -> None:
        if isinstance(item, dict):
            subject = _code_name(item)
            if subject and subject not in found:
                found.append(subject)
        elif isinstance(item, list) and depth < 4:  # a list of lists seen; deeper would be garbage
            for inner in item:
                walk(inner, depth + 1)

    walk(value, 0)
    return tuple(found)


def _code_name(value: Any) -> CodeName | None:
    if not isinstance(value, dict):
        return None
    code, name = _code(value.get("codigo")), _text(value.get("nome"))
    if code is None and name is None:
        return None
    return CodeName(code=code, name=name or "")


def _system(value: Any) -> str | None:
    if not isinstance(value, dict) or _code(value.get("codigo")) == -1:
        return None  # TJES sends -1 "Inválido": the source does not know, and neither do we
    return _text(value.get("nome"))


def _secrecy_level(value: Any) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(str(value).strip()))
    except ValueError:
        return 1  # an unreadable level is treated as secret: privacy fails closed


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _digits(value: str) -> str:
    return "".join(ch for ch in value if "0" <= ch <= "9")


def _number_of(source: dict) -> str:
    number = source.get("numeroProcesso")
    if isinstance(number, int) and not isinstance(number, bool):
        return f"{number:020d}"  # a number sent as JSON integer has lost its leading zeros
    return _digits(number) if isinstance(number, str) else ""


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _degree_rank(record: ProcessRecord) -> tuple[int, str, str]:
    rank = DEGREE_ORDER.index(record.degree) if record.degree in DEGREE_ORDER else len(DEGREE_ORDER)
    return rank, record.degree, record.source_id


def _aware(naive: datetime, zone: str | None) -> datetime:
    if zone is None:
        return naive.replace(tzinfo=COURT_TIMEZONE).astimezone(UTC)
    if zone.upper() == "Z":
        return naive.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return naive.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)


def _from_number(value: float) -> datetime | None:
    # 14 digits is the compact form sent as a number; 13 is epoch milliseconds, 10 epoch seconds.
    if isinstance(value, int) and len(str(value)) in (8, 14):
        return parse_datetime(str(value))
    try:
        seconds = value / 1000 if abs(value) >= 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _error_reason(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or "unknown")[:200]
    return str(error)[:200]
