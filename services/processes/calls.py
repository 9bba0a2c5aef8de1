"""Requests a provider actually sent, counted for whoever asks (the sync job spends a daily budget of them).

A request is one logical call to a provider, its retries included; a call that an open breaker, a full bulkhead or
the portal's own rate limit refused sent nothing and is not counted.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Requests sent to a provider by the current context (the sync job counts them against its daily budget).
_provider_requests: ContextVar[list[int] | None] = ContextVar("provider_requests", default=None)


def note_provider_request() -> None:
    """Providers call this once per request actually sent (not for calls an open breaker refused)."""
    counter = _provider_requests.get()
    if counter is not None:
        counter[0] += 1


def send_counted(dependency, method: str, url: str, **kwargs):
    """`dependency.request(...)`, noted as sent unless an open breaker, a full bulkhead or the portal's own rate
    limit refused it."""
    from services.resilience import BreakerOpen, BulkheadFull, ClientRateLimited, DependencyUnavailable

    try:
        response = dependency.request(method, url, **kwargs)
    except (BreakerOpen, BulkheadFull, ClientRateLimited):
        raise  # nothing was sent
    except DependencyUnavailable:
        note_provider_request()
        raise
    note_provider_request()
    return response


@contextmanager
def counting_provider_requests() -> Iterator[list[int]]:
    """`with counting_provider_requests() as sent:` — `sent[0]` is the requests this context sent."""
    counter = [0]
    token = _provider_requests.set(counter)
    try:
        yield counter
    finally:
        _provider_requests.reset(token)

