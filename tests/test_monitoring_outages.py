"""What the dashboard shows when a dependency stops: the right card changes and exactly one alert is raised."""
import socket

import pytest

from extensions import db
from models import Alert
from tests.fake_datajud import FakeDataJud
from utils import cnj


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def admin_of(login):
    def build(app):
        client = app.test_client()
        login(client, app)
        return client
    return build


def active_alerts(app):
    with app.app_context():
        # The machine's own figures (a busy CI box may cross the CPU threshold) are not this test's subject.
        return [alert.condition for alert in db.session.query(Alert).filter(Alert.resolved_at.is_(None))
                if alert.condition not in ("cpu", "memory", "disk")]


def test_redis_down_turns_its_card_red_and_raises_one_alert(make_app, admin_of):
    app = make_app({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    admin = admin_of(app)
    summary = admin.get("/api/v1/monitoring/metrics")
    assert summary.status_code == 200
    redis = next(c for c in summary.json["health"]["components"] if c["name"] == "redis")
    assert redis["status"] == "down" and summary.json["health"]["score"] < 100
    page = admin.get("/admin/dashboard").get_data(as_text=True)
    assert 'card--down" data-state="down">\n      <h3>Redis' in page
    collector = app.extensions["monitoring"]
    for _ in range(3):
        collector.run_once()
    assert active_alerts(app) == ["component_down:redis"]


def test_datajud_down_turns_its_card_red_and_raises_one_alert(make_app, admin_of):
    fake = FakeDataJud({})
    fake.set("503")
    try:
        app = make_app({"DATAJUD_BASE_URL": fake.url, "DATAJUD_READ_TIMEOUT_S": "1", "DATAJUD_DEADLINE_S": "2"})
        admin = admin_of(app)
        citizen = app.test_client()
        for sequence in range(1, 9):  # distinct valid numbers: each one a real call until the breaker opens
            number = f"{sequence:07d}-{cnj.check_digits(sequence, 2020, 8, 8, 24)}.2020.8.08.0024"
            assert citizen.get(f"/api/v1/processos/{number}").status_code == 503
        datajud = next(d for d in admin.get("/api/v1/monitoring/metrics").json["dependencies"]
                       if d["name"] == "datajud")
        assert datajud["status"] == "down" and datajud["breaker"] == "open"
        collector = app.extensions["monitoring"]
        for _ in range(3):
            collector.run_once()
        assert active_alerts(app) == ["breaker_open:datajud"]
    finally:
        fake.stop()


def test_without_redis_every_worker_reads_the_history_the_sampler_wrote(app, tmp_path):
    from services.monitoring import collector
    from services.monitoring.history import FileHistory

    first = collector.Collector(app, FileHistory(str(tmp_path / "h.json"), 3))
    second = collector.Collector(app, FileHistory(str(tmp_path / "h.json"), 3))
    # Both stand for workers of one server: whichever takes the sample (the schedule picks one), both read it.
    leader, reader = first, second
    for moment in range(5):
        leader.history.append({"time": float(moment), "cpu": 10.0 + moment, "memory": None})
    assert reader.history.series("cpu") == [[2.0, 12.0], [3.0, 13.0], [4.0, 14.0]]  # the last 3 kept
    assert reader.history.series("memory") == [] and reader.history.latest()["cpu"] == 14.0
