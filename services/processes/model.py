"""The neutral process model: what every provider (DataJud, Escavador) turns its answers into.

The rest of the portal never sees a provider's payload except as `raw`. One `ProcessRecord` is one instance
(grau) of a process; its movements are `SourceMovement`s as the provider reported them. The stored shape is
`models.ProcessInstance` / `models.Movement`; the timeline's is `timeline.TimelineItem`; the page's is
`lookup.PageMovement`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from utils.text import fold

DEGREE_ORDER = ("G1", "G2", "JE", "TR")


@dataclass(frozen=True)
class CodeName:
    code: int | None
    name: str


@dataclass(frozen=True)
class SourceMovement:
    at: datetime  # aware, UTC
    code: int | None
    name: str
    complements: tuple[str, ...]
    position: int  # index in the provider list: the tie-breaker for equal timestamps


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
    movements: tuple[SourceMovement, ...]  # newest first, as the source sent them (duplicates included)
    raw: dict = field(repr=False, compare=False)

    @property
    def restricted(self) -> bool:
        if self.secrecy_level > 0:
            return True
        names = [item.name for item in (self.process_class, self.judging_body, *self.subjects) if item]
        return any(_RESTRICTED_MARKERS.search(fold(name)) for name in names)



def degree_rank(record: ProcessRecord) -> tuple[int, str, str]:
    rank = DEGREE_ORDER.index(record.degree) if record.degree in DEGREE_ORDER else len(DEGREE_ORDER)
    return rank, record.degree, record.source_id

