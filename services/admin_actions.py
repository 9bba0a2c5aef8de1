"""What an admin may do from the dashboard: each action validated, carried out, audited, and described in pt-BR.

The dashboard's HTML forms and the monitoring API both call these, so the two paths cannot drift.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from services import audit, cache, resilience
from services.monitoring import alerts

BREAKER_ACTIONS = {"reset": "fechado (reiniciado)", "force_open": "aberto à força", "disable": "desativado"}


class ActionRefused(ValueError):
    """The request cannot be carried out as asked; the message says why, in pt-BR."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request"):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass(frozen=True)
class Outcome:
    message: str
    details: dict = field(default_factory=dict)


def clear_cache(namespace: str, pattern: str = "") -> Outcome:
    namespace, pattern = (namespace or "").strip(), (pattern or "").strip()
    store = cache.current()
    try:
        if pattern:
            removed = store.invalidate_pattern(namespace, pattern)
        else:
            store.invalidate_namespace(namespace)
            removed = None
    except ValueError:
        raise ActionRefused("Informe um namespace de cache válido (letras, números, ponto, hífen ou sublinhado).",
                            code="invalid_namespace") from None
    audit.record("cache.clear", target=namespace, pattern=pattern or None, removed=removed)
    if pattern:
        message = f"Cache “{namespace}”: {removed} entrada(s) com o padrão “{pattern}” removida(s)."
    else:
        message = f"Cache “{namespace}” limpo em todos os processos do servidor."
    return Outcome(message, {"namespace": namespace, "pattern": pattern or None, "removed": removed})


def breaker(name: str, action: str) -> Outcome:
    if name not in current_app.config["DEPENDENCIES"] or action not in BREAKER_ACTIONS:
        raise ActionRefused("Serviço ou ação desconhecidos.", status=404, code="not_found")
    registry = resilience.current()
    registry.admin(name, action)
    audit.record(f"breaker.{action}", target=name)
    state = registry.dependency(name).breaker.state.value
    shared = registry.redis_client is not None
    reach = "em todos os processos (via Redis)" if shared else "neste processo (sem Redis, cada processo decide só)"
    return Outcome(f"Disjuntor de {name} {BREAKER_ACTIONS[action]} {reach}.",
                   {"dependency": name, "action": action, "state": state, "shared": shared})


MAX_ROW_ID = 2**31 - 1  # the id column's range: a larger number names no alert (and overflows the database)


def resolve_alert(alert_id: int, username: str) -> Outcome:
    if not 1 <= alert_id <= MAX_ROW_ID:
        raise ActionRefused("Alerta não encontrado ou já resolvido.", status=404, code="not_found")
    alert = alerts.resolve(alert_id, username)
    if alert is None:
        raise ActionRefused("Alerta não encontrado ou já resolvido.", status=404, code="not_found")
    audit.record("alert.resolve", target=alert.condition, alert_id=alert.id)
    return Outcome(f"Alerta “{alert.message}” marcado como resolvido.", {"alert": alerts.to_json(alert)})
