"""The one way the portal calls another service over HTTP: `Dependency.request()`.

Per dependency: a bulkhead (a cap on the calls running at once in this process, refused past it), one
pooled httpx.Client with explicit timeouts, a circuit breaker consulted on every attempt, one retry layer
(tenacity) with a budget and a deadline, a client-side rate limit, the request ID sent as X-Request-ID,
and one JSON log line per attempt.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from services.monitoring import metrics
from services.resilience.breaker import BreakerConfig, BreakerOpen, CircuitBreaker
from services.resilience.bulkhead import Bulkhead, BulkheadFull
from services.resilience.errors import ClientRateLimited, DependencyFailed, MalformedResponse
from services.resilience.ratelimit import TokenBucket
from services.resilience.retry import Retryable, RetryBudget, RetryPolicy, parse_retry_after, retrying
from utils.json_log import current_request_id
from utils.masking import mask

log = logging.getLogger("portal.outbound")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
FAILURE_STATUSES = frozenset({408, 429})  # plus every 5xx; any other answer means the upstream works
MAX_RATE_LIMIT_WAIT_S = 1.0


@dataclass(frozen=True)
class DependencySettings:
    base_url: str
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    rate_per_min: float | None = None
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retry_budget_percent: float = 0.2
    max_concurrent: int = 4  # the bulkhead: calls running at once in one process
    bulkhead_wait_s: float = 0.25  # how long a call past the cap waits for a slot before it is refused


@dataclass
class CallRecord:
    """The last outcomes, for the service registry and the dashboard."""

    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error: str | None = None
    calls: int = 0
    failures: int = 0
    retries: int = 0


class Dependency:
    def __init__(self, name: str, settings: DependencySettings, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 limiter: TokenBucket | None = None):
        self.name = name
        self.settings = settings
        self.breaker = CircuitBreaker(name, settings.breaker, clock=clock)
        self.budget = RetryBudget(percent=settings.retry_budget_percent)
        self.limiter = limiter or (TokenBucket(settings.rate_per_min) if settings.rate_per_min else None)
        self.record = CallRecord()
        self.bulkhead = Bulkhead(name, settings.max_concurrent, retry_after_s=settings.retry.deadline_s,
                                 max_wait_s=settings.bulkhead_wait_s)
        self._sleep = sleep
        self.client = httpx.Client(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, idempotent: bool | None = None,
                validate: Callable[[httpx.Response], None] | None = None, **kwargs) -> httpx.Response:
        """Send one logical request; return the upstream's answer unless it counts as a failure.

        Failures (timeouts, connection errors, 408, 429, 5xx, a body `validate` rejects) are retried
        when the request is idempotent, then raised as DependencyFailed. An open breaker raises
        BreakerOpen at once, a full bulkhead BulkheadFull (neither sends anything nor counts as a
        failure). 4xx answers such as 404 are returned: the upstream works.
        `idempotent=True` marks a POST that only reads (DataJud's _search).
        """
        try:
            with self.bulkhead.slot():
                return self._request(method, url, idempotent, validate, kwargs)
        except BulkheadFull:
            log.info("outbound call rejected by full bulkhead", extra={
                "dependency": self.name, "max_concurrent": self.bulkhead.max_concurrent})
            raise

    def _request(self, method, url, idempotent, validate, kwargs) -> httpx.Response:
        method = method.upper()
        may_retry = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        started = time.monotonic()
        deadline = started + self.settings.retry.deadline_s
        self._take_rate_token(deadline)
        self.budget.record_call()
        self.record.calls += 1
        policy = self.settings.retry if may_retry else RetryPolicy(max_attempts=1,
                                                                   deadline_s=self.settings.retry.deadline_s)
        attempt_number = 0
        try:
            for attempt in retrying(policy, self.budget, self._log_retry, sleep=self._sleep):
                with attempt:
                    attempt_number += 1
                    return self._attempt(method, url, attempt_number, deadline, validate, kwargs)
        except BreakerOpen as rejected:
            log.info("outbound call rejected by open breaker", extra={
                "dependency": self.name, "attempt": attempt_number, "retry_after_s": round(rejected.retry_after_s, 1)})
            raise
        except Retryable as failure:
            self.record.failures += 1
            self.record.last_error, self.record.last_error_at = failure.reason, time.time()
            raise DependencyFailed(self.name, failure.reason, failure.retry_after_s, failure.status) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _take_rate_token(self, deadline: float) -> None:
        if self.limiter is None:
            return
        wait = self.limiter.take()
        if wait > 0:
            if wait > MAX_RATE_LIMIT_WAIT_S or time.monotonic() + wait >= deadline:
                raise ClientRateLimited(self.name, "portal rate limit for this dependency reached", wait)
            self._sleep(wait)

    def _attempt(self, method, url, attempt, deadline, validate, kwargs) -> httpx.Response:
        permit = self.breaker.acquire()  # BreakerOpen propagates: never retried
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            permit.failure()
            raise Retryable("deadline reached before the attempt")
        timeout = httpx.Timeout(min(self.settings.read_timeout_s, remaining),
                                connect=min(self.settings.connect_timeout_s, remaining))
        kwargs = dict(kwargs)  # each attempt starts from the caller's arguments
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = current_request_id.get()
        if request_id:
            headers["X-Request-ID"] = request_id
        started = time.perf_counter()
        status = None
        try:
            response = self.client.request(method, url, headers=headers, timeout=timeout, **kwargs)
            status = response.status_code
            if status in FAILURE_STATUSES or status >= 500:
                raise Retryable(f"HTTP {status}", status, parse_retry_after(response.headers))
            if validate is not None and 200 <= status < 300:
                try:
                    validate(response)
                except MalformedResponse as exc:
                    raise Retryable(f"malformed body: {exc}", status) from None
        except Retryable as failure:
            permit.failure()
            self._log_attempt(method, url, attempt, status, started, failure.reason)
            raise
        except httpx.TimeoutException as exc:
            permit.failure()
            self._log_attempt(method, url, attempt, None, started, f"timeout ({type(exc).__name__})")
            raise Retryable(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            permit.failure()
            self._log_attempt(method, url, attempt, None, started, f"connection error ({type(exc).__name__})")
            raise Retryable(f"connection error ({type(exc).__name__})") from None
        permit.success()
        self.record.last_success_at = time.time()
        self._log_attempt(method, url, attempt, status, started, None)
        return response

    def _log_attempt(self, method, url, attempt, status, started, error) -> None:
        metrics.dependency_attempt(self.name, time.perf_counter() - started,
                                   None if error is None else metrics.failure_class(error))
        if status == 401:  # an answer, so not a failure here; but the key was refused (an alert)
            metrics.dependency_unauthorized(self.name)
        log.info("outbound call", extra={
            "dependency": self.name, "http_method": method, "url": mask(str(url).split("?", 1)[0]),
            "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "attempt": attempt, "breaker": self.breaker.state.value, "error": error})

    def _log_retry(self, state) -> None:
        self.record.retries += 1
        metrics.dependency_retry(self.name)
        error = state.outcome.exception()
        log.warning("retrying outbound call", extra={
            "dependency": self.name, "attempt": state.attempt_number + 1,
            "delay_ms": round((state.upcoming_sleep or 0) * 1000), "reason": getattr(error, "reason", str(error))})


__all__ = ["BreakerOpen", "BulkheadFull", "Dependency", "DependencySettings"]
