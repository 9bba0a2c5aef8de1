"""Alert rules with hysteresis, one active alert per condition, and the health score."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from extensions import db
from models import Alert
from services.monitoring import alerts, health_score
from services.monitoring.health_score import Component

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _active(condition):
    return db.session.scalars(select(Alert).where(Alert.condition == condition, Alert.resolved_at.is_(None))).all()


def test_raise_at_threshold_follow_severity_and_clear_with_hysteresis(app):
    config = {**app.config, "ALERT_CPU_PERCENT": (80.0, 90.0, 95.0), "ALERT_CLEAR_MARGIN_PERCENT": 10.0,
              "ALERT_CLEAR_AFTER_S": 120}
    with app.app_context():
        assert alerts.evaluate({"cpu": 79.9}, config, T0) == {}
        assert alerts.evaluate({"cpu": 80.0}, config, T0) == {"cpu": "raised"}
        assert alerts.evaluate({"cpu": 96.0}, config, T0 + timedelta(seconds=30)) == {"cpu": "updated"}
        [alert] = _active("cpu")
        assert alert.severity == "critical" and "96%" in alert.message
        # Below the threshold but above threshold - margin (72): the alert holds and its clock restarts.
        alerts.evaluate({"cpu": 75.0}, config, T0 + timedelta(seconds=60))
        assert alerts.evaluate({"cpu": 70.0}, config, T0 + timedelta(seconds=120)) == {}
        assert _active("cpu")  # only 60 s clear so far
        assert alerts.evaluate({"cpu": 70.0}, config, T0 + timedelta(seconds=181)) == {"cpu": "cleared"}
        assert not _active("cpu")
        assert db.session.scalars(select(Alert)).one().resolved_by == "auto"


def test_one_active_alert_per_condition_even_when_two_collectors_race(app):
    with app.app_context():
        alerts.evaluate({"datajud_401": 1.0}, app.config, T0)
        # A second writer that did not see the first row: the partial unique index refuses it.
        db.session.add(Alert(condition="datajud_401", severity="critical", message="x", raised_at=T0, updated_at=T0))
        try:
            db.session.commit()
            raced = False
        except Exception:
            db.session.rollback()
            raced = True
        assert raced
        for _ in range(3):
            alerts.evaluate({"datajud_401": 1.0, "breaker_open:datajud": 1.0}, app.config, T0)
        assert len(_active("datajud_401")) == 1 and _active("datajud_401")[0].severity == "critical"
        assert "DATAJUD_API_KEY" in _active("datajud_401")[0].message
        assert len(_active("breaker_open:datajud")) == 1


def test_lower_is_worse_rules_and_no_data(app):
    config = {**app.config, "ALERT_CACHE_HIT_RATE_PERCENT": (50.0, 25.0, 10.0)}
    with app.app_context():
        assert alerts.evaluate({"cache_hit_rate": None}, config, T0) == {}
        assert alerts.evaluate({"cache_hit_rate": 20.0}, config, T0) == {"cache_hit_rate": "raised"}
        assert _active("cache_hit_rate")[0].severity == "error"
        assert alerts.levels({"cache_hit_rate": 60.0, "cpu": 99.0}, app.config) == {"cache_hit_rate": "ok",
                                                                                     "cpu": "critical"}


def test_admin_resolution(app):
    with app.app_context():
        alerts.evaluate({"disk": 99.0}, app.config, T0)
        alert = _active("disk")[0]
        assert alerts.resolve(alert.id, "maria").resolved_by == "maria"
        assert alerts.resolve(999_999, "maria") is None
        assert not _active("disk")


def test_health_score_mapping():
    db_ok = Component("database", "healthy", essential=True)
    dependencies = [Component("datajud", "healthy"), Component("openai", "healthy"), Component("redis", "healthy")]
    assert health_score.score([db_ok, *dependencies]) == 100
    one_down = [db_ok, Component("datajud", "down"), *dependencies[1:]]
    assert health_score.score(one_down) == 75
    all_down = [db_ok, *(Component(c.name, "down") for c in dependencies)]
    for parts in (one_down, all_down, [db_ok, Component("datajud", "down"), Component("openai", "degraded")]):
        assert 60 <= health_score.score(parts) <= 80
    db_down = [Component("database", "down", essential=True), *dependencies]
    assert health_score.score(db_down) <= 40
    assert health_score.score([db_ok], ["critical", "critical", "error"]) == 70  # capped at 30
    assert health_score.score([db_ok], ["warning"]) == 95
    assert health_score.label(100) == "healthy" and health_score.label(75) == "degraded"
    assert health_score.label(40) == "critical"
