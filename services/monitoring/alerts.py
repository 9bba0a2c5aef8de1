"""Alert rules with hysteresis, kept in the `alerts` table: one unresolved alert per condition per server.

Each rule compares a reading with three configured thresholds (warning, error, critical). An alert is
raised as soon as a reading reaches the warning threshold, and its severity follows the reading up
and down while it stays active. It clears itself only when the reading has stayed on the safe side
of the threshold minus a margin (ALERT_CLEAR_MARGIN_PERCENT of it) for ALERT_CLEAR_AFTER_S: a value
hovering around the threshold neither floods nor flaps. `updated_at` is the last time the condition
was not clear, so the rule needs no memory of its own and survives a change of collector.

Rules run in the monitoring sample (the periodic job "monitoring-sample", services.monitoring.collector), and the
background jobs' own rules also whenever an admin reads the jobs panel (with no worker alive no sample runs to
raise that alert); the partial unique index of migration 0004 makes a second concurrent insert fail, so even a
race keeps one active alert.
An admin may resolve an alert by hand; if the condition still holds, the next evaluation raises it anew.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from extensions import db
from models import Alert
from utils.dates import as_utc

log = logging.getLogger("portal.alerts")
SEVERITIES = ("warning", "error", "critical")


@dataclass(frozen=True)
class Rule:
    condition: str
    thresholds: tuple[float, float, float]  # warning, error, critical
    higher_is_worse: bool
    message: str  # pt-BR; formatted with value and threshold


def rules_from_config(config) -> dict[str, Rule]:
    """The threshold rules; readings of other conditions (breakers, DataJud 401) use `fixed` severities."""
    specs = [
        ("cpu", "ALERT_CPU_PERCENT", True, "Uso de CPU em {value:.0f}% (limite {threshold:.0f}%)."),
        ("memory", "ALERT_MEMORY_PERCENT", True, "Uso de memória em {value:.0f}% (limite {threshold:.0f}%)."),
        ("disk", "ALERT_DISK_PERCENT", True,
         "O disco que guarda os dados do portal está {value:.0f}% ocupado (limite {threshold:.0f}%)."),
        ("error_rate", "ALERT_ERROR_RATE_PERCENT", True,
         "{value:.1f}% das requisições terminaram em erro do servidor (HTTP 5xx; limite {threshold:g}%)."),
        ("p95_latency", "ALERT_P95_LATENCY_MS", True,
         "Latência p95 das respostas em {value:.0f} ms (limite {threshold:.0f} ms)."),
        ("cache_hit_rate", "ALERT_CACHE_HIT_RATE_PERCENT", False,
         "Taxa de acerto do cache em {value:.0f}% (mínimo esperado {threshold:.0f}%)."),
        ("sync_failures", "ALERT_SYNC_FAILURES", True,
         "A sincronização dos processos acompanhados falhou {value:.0f} vez(es) seguida(s)."),
    ]
    return {name: Rule(name, tuple(config[key]), worse, message) for name, key, worse, message in specs}


SERVICE_LABELS = {"redis": "Redis", "datajud": "DataJud", "escavador": "Escavador", "openai": "OpenAI"}
# Conditions that are on or off; the reading is 1 (on) or 0 (off).
FIXED = {
    "breaker_open": ("error", "O disjuntor de {name} está aberto: as chamadas a esse serviço estão suspensas."),
    "breaker_forced_open": ("warning", "O disjuntor de {name} foi aberto por um administrador."),
    "component_down": ("error", "O {name} não responde: o portal segue funcionando com o cache na memória de cada "
                                "processo, sem dividir disjuntores e limites entre os processos."),
    "jobs_no_worker": ("critical", "Nenhum worker de tarefas em segundo plano está ativo: a sincronização, os "
                                   "e-mails e as limpezas estão parados. Inicie `make worker` (ou o serviço "
                                   "portal-worker)."),
    "jobs_queue_stalled": ("error", "A fila de tarefas {name} tem um trabalho esperando há mais de dois intervalos: "
                                    "os workers não dão conta ou estão parados."),
    "jobs_failed": ("warning", "Há tarefas em segundo plano da fila {name} que falharam nas últimas 24 horas; "
                               "veja o erro no painel."),
    "datajud_401": ("critical", "O DataJud recusou a chave de API (HTTP 401): atualize DATAJUD_API_KEY com a chave "
                                "pública publicada na wiki do DataJud."),
}


def level(value: float, rule: Rule) -> str | None:
    """The severity a reading reaches, or None below the warning threshold."""
    reached = None
    for severity, threshold in zip(SEVERITIES, rule.thresholds, strict=True):
        if (value >= threshold) if rule.higher_is_worse else (value <= threshold):
            reached = severity
    return reached


def is_clear(value: float, rule: Rule, margin_percent: float) -> bool:
    """True when the reading is past the warning threshold minus the margin, on the safe side."""
    warning = rule.thresholds[0]
    margin = abs(warning) * margin_percent / 100
    return value < warning - margin if rule.higher_is_worse else value > warning + margin


def _now() -> datetime:
    return datetime.now(UTC)



def _active(condition: str) -> Alert | None:
    return db.session.scalars(select(Alert).where(Alert.condition == condition, Alert.resolved_at.is_(None))).first()


def _raise(condition: str, severity: str, message: str, value: float | None, threshold: float | None,
           now: datetime) -> str | None:
    """Insert or update the active alert of `condition`; returns "raised", "updated" or None."""
    alert = _active(condition)
    if alert is None:
        db.session.add(Alert(condition=condition, severity=severity, message=message, value=value,
                             threshold=threshold, raised_at=now, updated_at=now))
        try:
            db.session.commit()
        except IntegrityError:  # another collector raised it a moment ago: one alert is the point
            db.session.rollback()
            return None
        log.warning("alert raised", extra={"condition": condition, "severity": severity, "value": value})
        return "raised"
    changed = alert.severity != severity
    alert.severity, alert.message, alert.value, alert.threshold, alert.updated_at = \
        severity, message, value, threshold, now
    db.session.commit()
    if changed:
        log.warning("alert severity changed", extra={"condition": condition, "severity": severity, "value": value})
    return "updated"


def _hold(condition: str, now: datetime) -> None:
    """The reading is between the clear level and the threshold: the alert stays, its clock restarts."""
    alert = _active(condition)
    if alert is not None:
        alert.updated_at = now
        db.session.commit()


def _clear_if_due(condition: str, now: datetime, clear_after_s: float, value: float | None) -> bool:
    alert = _active(condition)
    if alert is None or (now - as_utc(alert.updated_at)).total_seconds() < clear_after_s:
        return False
    alert.resolved_at, alert.resolved_by, alert.value = now, "auto", value
    db.session.commit()
    log.info("alert cleared", extra={"condition": condition})
    return True


def evaluate(readings: dict[str, float | None], config, now: datetime | None = None) -> dict[str, str]:
    """Apply every rule to the readings and update the alerts table; returns what changed per condition.

    `readings` maps a condition to its value, None meaning "no data" (nothing changes). Threshold rules
    use their names ("cpu", "error_rate"…); fixed ones use "breaker_open:<dependency>", "datajud_401"…
    with 1 for on and 0 for off.
    """
    now = now or _now()
    rules = rules_from_config(config)
    margin, clear_after = config["ALERT_CLEAR_MARGIN_PERCENT"], config["ALERT_CLEAR_AFTER_S"]
    changes: dict[str, str] = {}
    try:
        for condition, value in readings.items():
            if value is None:
                continue
            kind, _, name = condition.partition(":")
            if kind in FIXED:
                severity, template = FIXED[kind]
                if value >= 1:
                    outcome = _raise(condition, severity, template.format(name=SERVICE_LABELS.get(name, name)),
                                     value, 1.0, now)
                else:
                    outcome = "cleared" if _clear_if_due(condition, now, clear_after, value) else None
            elif condition in rules:
                rule = rules[condition]
                severity = level(value, rule)
                if severity is not None:
                    threshold = rule.thresholds[SEVERITIES.index(severity)]
                    outcome = _raise(condition, severity, rule.message.format(value=value, threshold=threshold),
                                     round(value, 3), threshold, now)
                elif is_clear(value, rule, margin):
                    outcome = "cleared" if _clear_if_due(condition, now, clear_after, value) else None
                else:
                    _hold(condition, now)
                    outcome = None
            else:
                continue
            if outcome:
                changes[condition] = outcome
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("alerts not evaluated: database unavailable", extra={"reason": type(exc).__name__})
    return changes


def active() -> list[Alert]:
    """Unresolved alerts, the most severe first, then the newest."""
    alerts = db.session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all()
    return sorted(alerts, key=lambda a: (-SEVERITIES.index(a.severity) if a.severity in SEVERITIES else 0,
                                         -as_utc(a.raised_at).timestamp()))


def recent(limit: int = 50) -> list[Alert]:
    return list(db.session.scalars(select(Alert).order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)))


def resolve(alert_id: int, username: str) -> Alert | None:
    """Mark an alert resolved by an admin; None when it does not exist. Resolving twice changes nothing."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        return None
    if alert.resolved_at is None:
        alert.resolved_at, alert.resolved_by = _now(), username[:64]
        db.session.commit()
        log.info("alert resolved by an admin", extra={"condition": alert.condition, "actor": username})
    return alert


def to_json(alert: Alert) -> dict:
    def stamp(moment):
        return as_utc(moment).isoformat() if moment else None

    return {"id": alert.id, "condition": alert.condition, "severity": alert.severity, "message": alert.message,
            "value": alert.value, "threshold": alert.threshold, "raised_at": stamp(alert.raised_at),
            "updated_at": stamp(alert.updated_at), "resolved_at": stamp(alert.resolved_at),
            "resolved_by": alert.resolved_by}


def levels(readings: dict[str, float | None], config) -> dict[str, str]:
    """Each threshold reading's level ("ok", "warning", "error", "critical"), for the health score."""
    rules = rules_from_config(config)
    return {name: level(value, rules[name]) or "ok" for name, value in readings.items()
            if name in rules and value is not None}
