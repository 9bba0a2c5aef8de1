"""What the lookup promises its callers: the process payload, the lookup's result and its failures.

`ProcessPayload` is the API's JSON shape (/api/v1/openapi.json) as a value; `as_json()` gives the document, and
templates read it by attribute. `FetchOutcome` is what one question to the provider came to; it travels between
workers through the single flight, so it turns into JSON and back. Cache entries, single flight and timeouts are
the lookup's business: nothing here mentions them, and no caller ever handles them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

PROVIDER_LABELS = {"datajud": "DataJud", "escavador": "Escavador"}


def provider_label(name: str) -> str:
    """How people read a provider's name: "DataJud", "Escavador"."""
    return PROVIDER_LABELS.get(name, name)


@dataclass(frozen=True)
class ProcessPayload:
    cnj: str  # formatted NNNNNNN-DD.AAAA.J.TR.OOOO
    stale: bool
    stale_reason: str | None  # for people: why the copy is old
    fetched_at: str  # ISO, UTC: when the provider last answered for it
    source: str  # the provider's name: "datajud" | "escavador"
    restricted: bool  # secrecy or a family matter: nothing but the number is shown
    instances: tuple[dict, ...]  # one per grau, in the API's instance shape

    @property
    def source_label(self) -> str:
        return provider_label(self.source)

    def as_stale(self, reason: str) -> ProcessPayload:
        return dataclasses.replace(self, stale=True, stale_reason=reason)

    def as_json(self) -> dict:
        return {"cnj": self.cnj, "stale": self.stale, "stale_reason": self.stale_reason,
                "fetched_at": self.fetched_at, "source": self.source, "restricted": self.restricted,
                "instances": list(self.instances)}

    @classmethod
    def from_json(cls, document: dict) -> ProcessPayload:
        return cls(cnj=document["cnj"], stale=document["stale"], stale_reason=document["stale_reason"],
                   fetched_at=document["fetched_at"], source=document["source"], restricted=document["restricted"],
                   instances=tuple(document["instances"]))


@dataclass(frozen=True)
class LookupResult:
    payload: ProcessPayload
    reached_provider: bool  # the provider was asked: the lookup counts against the client's rate limit


class FetchStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


class Unavailability(StrEnum):
    """Why the provider gave no answer: refused before sending (the first three) or failed."""

    BREAKER_OPEN = "breaker_open"
    RATE_LIMITED = "rate_limited"  # the portal's own limit of calls to the provider
    BULKHEAD_FULL = "bulkhead_full"  # this worker already has its share of calls waiting on the provider
    FAILED = "failed"

    @property
    def nothing_sent(self) -> bool:
        return self is not Unavailability.FAILED


@dataclass(frozen=True)
class FetchOutcome:
    status: FetchStatus
    payload: ProcessPayload | None = None  # when found
    kind: Unavailability | None = None  # when unavailable
    error: str | None = None  # for logs and staff
    reason: str | None = None  # for people, naming the provider
    retry_after_s: float = 0.0

    @classmethod
    def found(cls, payload: ProcessPayload) -> FetchOutcome:
        return cls(FetchStatus.FOUND, payload=payload)

    @classmethod
    def not_found(cls) -> FetchOutcome:
        return cls(FetchStatus.NOT_FOUND)

    @classmethod
    def unavailable(cls, kind: Unavailability, error: str, reason: str, retry_after_s: float) -> FetchOutcome:
        return cls(FetchStatus.UNAVAILABLE, kind=kind, error=error, reason=reason, retry_after_s=retry_after_s)

    def as_json(self) -> dict:
        return {"status": self.status.value, "payload": self.payload.as_json() if self.payload else None,
                "kind": self.kind.value if self.kind else None, "error": self.error, "reason": self.reason,
                "retry_after_s": self.retry_after_s}

    @classmethod
    def from_json(cls, document: dict) -> FetchOutcome:
        payload = document.get("payload")
        kind = document.get("kind")
        return cls(FetchStatus(document["status"]), payload=ProcessPayload.from_json(payload) if payload else None,
                   kind=Unavailability(kind) if kind else None, error=document.get("error"),
                   reason=document.get("reason"), retry_after_s=document.get("retry_after_s") or 0.0)


class ProcessNotFound(Exception):
    """The provider has no public record of this number (or it is restricted, or not yet sent to it)."""

    def __init__(self, number: str, provider_name: str, reached_provider: bool):
        super().__init__(number)
        self.number = number
        self.provider_label = provider_label(provider_name)
        self.reached_provider = reached_provider  # a "not found" the provider gave counts against the rate limit

    @property
    def message(self) -> str:
        """What a person reads (pt-BR), naming the provider that was asked."""
        return (f"Processo não encontrado no {self.provider_label}. Ele pode não existir, estar em segredo de "
                f"justiça ou ainda não ter sido enviado pelo tribunal ao {self.provider_label}. Confira o número.")


class ProcessUnavailable(Exception):
    """The provider cannot answer now and nothing is stored for this number."""

    def __init__(self, reason: str, retry_after_s: float):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
