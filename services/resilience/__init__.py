"""The resilience layer: every outbound call of the portal goes through a `Dependency` made here.

`init_app(app)` reads the settings once; `dependency(name)` gives the guarded client of one dependency
(DataJud, Escavador, OpenAI), built on first use. `statuses()` is the service registry the
dashboard and /health/ready read: healthy, degraded or down, with the last error and its time.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from services import redis_connection
from services.resilience.breaker import BreakerConfig, BreakerOpen, CircuitBreaker, State
from services.resilience.bulkhead import BulkheadFull
from services.resilience.errors import ClientRateLimited, DependencyFailed, DependencyUnavailable, MalformedResponse
from services.resilience.http import Dependency, DependencySettings
from services.resilience.ratelimit import SharedTokenBucket
from services.resilience.retry import RetryPolicy

log = logging.getLogger("portal.resilience")
RECENT_ERROR_S = 300  # an error this recent, after the last success, makes a dependency "degraded"

__all__ = [
    "BreakerOpen",
    "BulkheadFull",
    "ClientRateLimited",
    "Dependency",
    "DependencyFailed",
    "DependencyUnavailable",
    "MalformedResponse",
    "Resilience",
    "ServiceStatus",
    "current",
    "dependency",
    "init_app",
]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    status: str  # "healthy" | "degraded" | "down"
    breaker: str
    last_error: str | None
    last_error_at: float | None
    last_success_at: float | None
    retry_after_s: float


class Resilience:
    def __init__(self, settings: dict[str, DependencySettings], shared=None, redis_client=None,
                 key_prefix: str = "portal:v1:"):
        self._settings = settings
        self._shared = shared
        self._redis = redis_client
        self._prefix = key_prefix
        self._dependencies: dict[str, Dependency] = {}
        self._probes: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def dependency(self, name: str, transport=None) -> Dependency:
        existing = self._dependencies.get(name)
        if existing is not None:
            return existing
        with self._lock:
            if name not in self._dependencies:
                settings = self._settings[name]
                limiter = None
                if settings.rate_per_min and self._redis is not None:
                    limiter = SharedTokenBucket(settings.rate_per_min, self._redis, f"{self._prefix}ratelimit:{name}")
                dep = Dependency(name, settings, transport=transport, limiter=limiter)
                if self._shared is not None:
                    self._shared.attach(dep.breaker)
                self._dependencies[name] = dep
            return self._dependencies[name]

    def register_probe(self, name: str, probe: Callable[[], None]) -> None:
        """A cheap check of the dependency, run on demand by the dashboard and diagnostics."""
        self._probes[name] = probe

    def probe(self, name: str) -> str | None:
        """Run the registered probe; None when it passed, else the reason."""
        probe = self._probes.get(name)
        if probe is None:
            return "no probe registered"
        try:
            probe()
        except DependencyUnavailable as exc:
            return exc.reason
        return None

    def has_probe(self, name: str) -> bool:
        return name in self._probes

    @property
    def redis_client(self):
        """The Redis client the layer shares state through (None without REDIS_URL)."""
        return self._redis

    def breakers(self) -> dict[str, CircuitBreaker]:
        return {name: dep.breaker for name, dep in self._dependencies.items()}

    def statuses(self) -> list[ServiceStatus]:
        result = []
        for name, dep in sorted(self._dependencies.items()):
            state = dep.breaker.state
            record = dep.record
            recent_error = record.last_error_at is not None and time.time() - record.last_error_at < RECENT_ERROR_S \
                and (record.last_success_at or 0) < record.last_error_at
            if state in (State.OPEN, State.FORCED_OPEN):
                status = "down"
            elif state == State.HALF_OPEN or recent_error:
                status = "degraded"
            else:
                status = "healthy"
            result.append(ServiceStatus(name, status, state.value, record.last_error, record.last_error_at,
                                        record.last_success_at, round(dep.breaker.retry_after_s(), 3)))
        return result

    def admin(self, name: str, action: str) -> None:
        """Reset, force open or disable one breaker, in every worker when Redis is shared."""
        breaker = self.dependency(name).breaker
        {"reset": breaker.reset, "force_open": breaker.force_open, "disable": breaker.disable}[action]()
        if self._shared is not None:
            try:
                self._shared.command(name, action)
            except Exception as exc:
                log.warning("breaker action applied to this worker only", extra={"dependency": name,
                                                                                 "reason": type(exc).__name__})

    def close(self) -> None:
        if self._shared is not None:
            self._shared.stop()
        for dep in self._dependencies.values():
            dep.close()


def settings_from_config(config) -> dict[str, DependencySettings]:
    breaker_defaults = config["BREAKER"]
    result = {}
    for name, spec in config["DEPENDENCIES"].items():
        breaker = BreakerConfig(**{**breaker_defaults, "open_s": spec["breaker_open_s"],
                                   "slow_call_s": spec["slow_call_s"],
                                   "half_open_max_wait_s": spec["read_timeout_s"] + spec["connect_timeout_s"]})
        retry = RetryPolicy(max_attempts=config["RETRY_MAX_ATTEMPTS"], deadline_s=spec["deadline_s"])
        result[name] = DependencySettings(
            base_url=spec["base_url"], connect_timeout_s=spec["connect_timeout_s"],
            read_timeout_s=spec["read_timeout_s"], rate_per_min=spec["rate_per_min"], breaker=breaker, retry=retry,
            retry_budget_percent=config["RETRY_BUDGET_PERCENT"] / 100, max_concurrent=spec["max_concurrent"])
    return result




# The default probe of each dependency: one cheap request with the portal's credentials. Any answer but
# a failure (timeout, connection error, 408/429/5xx) or a 401 means the dependency works for us.
PROBE_REQUESTS = {
    "datajud": ("POST", "/api_publica_tjes/_search", "DATAJUD_API_KEY", "APIKey {}", {"size": 0}),
    "escavador": ("GET", "/", "ESCAVADOR_API_KEY", "Bearer {}", None),
    "openai": ("GET", "/models", "OPENAI_API_KEY", "Bearer {}", None),
}


def _http_probe(registry: Resilience, name: str, config) -> Callable[[], None]:
    method, path, key_setting, scheme, body = PROBE_REQUESTS[name]

    def probe() -> None:
        key = config.get(key_setting)
        headers = {"Authorization": scheme.format(key)} if key else {}
        kwargs = {"json": body} if body is not None else {}
        response = registry.dependency(name).request(method, path, headers=headers, idempotent=True, **kwargs)
        if response.status_code == 401:
            raise DependencyUnavailable(name, "API key refused (401)", status=401)

    return probe


def init_app(app) -> None:
    shared = None
    redis_client = redis_connection.client(app)
    if redis_client is not None:
        from services.resilience.shared import SharedBreakers

        shared = SharedBreakers(redis_client, app.config["CACHE_KEY_PREFIX"])
    registry = Resilience(settings_from_config(app.config), shared, redis_client, app.config["CACHE_KEY_PREFIX"])
    for name in PROBE_REQUESTS:
        if name in app.config["DEPENDENCIES"]:
            registry.register_probe(name, _http_probe(registry, name, app.config))
    app.extensions["resilience"] = registry


def current() -> Resilience:
    return current_app.extensions["resilience"]


def dependency(name: str) -> Dependency:
    return current().dependency(name)
