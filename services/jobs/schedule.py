"""The one list of periodic jobs, and the slots that make each run once per interval for the whole deployment.

A periodic job is one line in PERIODIC: a name, the function ("module:function", imported when it runs), its
queue, its interval (seconds or the name of a setting), the setting that turns it off, its timeout and retries,
and the jobs that must run after it (`followed_by`, enqueued by the run once it has succeeded).

Time is cut into slots of one interval each, counted from the Unix epoch: slot = floor(now / interval). Whoever
claims a slot first enqueues the run (services.jobs.engine.enqueue_periodic: with Redis the claim is the enqueue of
the slot's one job id, atomic; a file under flock without it); every other scheduler of the deployment sees the
slot taken and does nothing. A restart inside a slot therefore never runs the job twice, and a deployment that
was down for a whole slot simply runs at the next one.
"""
from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str                               # "module:function", a plain function of JSON-ready arguments
    queue: str                              # "high", "default" or "low"
    interval: str | int                     # seconds, or the name of a setting holding them
    description: str                        # pt-BR: what the panel shows
    enabled: str | None = None              # the name of a boolean setting that turns the job off
    timeout_s: int = 600
    retry: tuple[int, tuple[int, ...]] | None = (3, (30, 120, 600))  # (max retries, waits between them)
    followed_by: tuple[tuple[str, str], ...] = ()  # ("module:function", queue) enqueued when this run succeeds

    def interval_s(self, config) -> int:
        return int(config[self.interval] if isinstance(self.interval, str) else self.interval)

    def is_enabled(self, config) -> bool:
        return bool(config[self.enabled]) if self.enabled else True

    def slot(self, config, now: float) -> int:
        return math.floor(now / self.interval_s(config))

    def next_run(self, config, now: float) -> float:
        """When the next slot starts (epoch seconds): the earliest a scheduler enqueues the next run."""
        return (self.slot(config, now) + 1) * self.interval_s(config)


PERIODIC: tuple[Periodic, ...] = (
    Periodic("sync", "services.jobs.tasks:sync_followed", "default", "SYNC_INTERVAL_S",
             "Atualização dos processos acompanhados", enabled="SYNC_ENABLED", timeout_s=1800, retry=None,
             followed_by=(("services.email_follows.notices:send_notices", "default"),)),
    Periodic("retention", "services.jobs.tasks:remove_unused_processes", "low", "JOBS_RETENTION_INTERVAL_S",
             "Remoção de processos sem acompanhamento nem leitura", timeout_s=1800),
    Periodic("chat-cleanup", "services.jobs.tasks:chat_cleanup", "low", "JOBS_CHAT_CLEANUP_INTERVAL_S",
             "Limpeza das conversas do assistente além da retenção", timeout_s=600),
    # Hourly, so an unconfirmed request is gone within 49 h of being made (the privacy notice promises 48 h).
    Periodic("email-follows-cleanup", "services.email_follows.notices:cleanup", "low", 3600,
             "Avisos por e-mail: pedidos não confirmados, processos parados há 2 anos, endereços sem uso",
             timeout_s=600),
    Periodic("monitoring-sample", "services.jobs.tasks:monitoring_sample", "high", "MONITORING_SAMPLE_INTERVAL_S",
             "Amostra do painel e avaliação dos alertas", enabled="MONITORING_COLLECTOR", timeout_s=60, retry=None),
)
QUEUES = ("high", "default", "low")  # in the order a worker takes them


def by_name(name: str) -> Periodic:
    for job in PERIODIC:
        if job.name == name:
            return job
    raise KeyError(name)


def resolve(reference: str | Callable) -> Callable:
    """The function a "module:function" reference names (a callable is returned as it is)."""
    if callable(reference):
        return reference
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def reference(func: str | Callable) -> str:
    """The "module:function" reference of a module-level function: what a job stores instead of the function."""
    if isinstance(func, str):
        return func if ":" in func else "{}:{}".format(*func.rsplit(".", 1))
    if "." in func.__qualname__ or func.__module__ == "__main__":
        raise ValueError(f"a job must be a module-level function, got {func.__qualname__}")
    return f"{func.__module__}:{func.__qualname__}"
