"""The 0–100 health score of the dashboard: a pure function of component statuses and metric levels.

The rules, applied in this order (all figures are constants of this module):

1. Start at 100.
2. Each *dependency or auxiliary* component (DataJud, Escavador, OpenAI, Redis — the portal keeps serving
   without them, from stored data, retrieval or the memory cache):
   down → the first costs 25 points and each further one 5; degraded → 10 each. Together they cost
   at most 40, so dependency trouble alone keeps the score within 60–80 once anything is down
   (one down = 75, all down = 60).
3. Each metric at a threshold level (CPU, memory, disk, error rate, p95 latency, cache hit rate, sync
   failures, as judged by services.monitoring.alerts against the configured thresholds): warning 5, error 10,
   critical 20; together at most 30.
4. An *essential* component (the database) degraded costs 20; down caps the score at 40, whatever the rest.
5. The result is clamped to 0–100 and rounded to a whole number.

So: everything healthy = 100; the database down ≤ 40; one dependency down and nothing else wrong = 75.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEPENDENCY_FIRST_DOWN = 25
DEPENDENCY_FURTHER_DOWN = 5
DEPENDENCY_DEGRADED = 10
DEPENDENCY_MAX = 40
LEVEL_PENALTY = {"ok": 0, "warning": 5, "error": 10, "critical": 20}
LEVELS_MAX = 30
ESSENTIAL_DEGRADED = 20
ESSENTIAL_DOWN_CAP = 40


@dataclass(frozen=True)
class Component:
    name: str
    status: str  # "healthy" | "degraded" | "down"
    essential: bool = False


def score(components: Iterable[Component], levels: Iterable[str] = ()) -> int:
    """The health score; `levels` are the threshold levels of the metrics ("ok", "warning", "error", "critical")."""
    components = list(components)
    dependency_down = sum(1 for c in components if not c.essential and c.status == "down")
    dependency_degraded = sum(1 for c in components if not c.essential and c.status == "degraded")
    dependency = dependency_degraded * DEPENDENCY_DEGRADED
    if dependency_down:
        dependency += DEPENDENCY_FIRST_DOWN + (dependency_down - 1) * DEPENDENCY_FURTHER_DOWN
    penalty = min(dependency, DEPENDENCY_MAX) + min(sum(LEVEL_PENALTY.get(level, 0) for level in levels), LEVELS_MAX)
    penalty += ESSENTIAL_DEGRADED * sum(1 for c in components if c.essential and c.status == "degraded")
    result = max(0, min(100, 100 - penalty))
    if any(c.essential and c.status == "down" for c in components):
        result = min(result, ESSENTIAL_DOWN_CAP)
    return round(result)


def label(value: int) -> str:
    """How the dashboard names a score: "healthy" (≥ 90), "degraded" (≥ 60) or "critical"."""
    return "healthy" if value >= 90 else "degraded" if value >= 60 else "critical"
