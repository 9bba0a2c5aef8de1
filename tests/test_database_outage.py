"""The database down: a 503 "temporariamente indisponível" with Retry-After, never a 500, nothing half-written.

A fresh app points at a PostgreSQL port where nothing listens (the real stop and restart is the chaos
suite's, bench/chaos.py: tests never stop the machine's PostgreSQL).
"""
import json

import pytest
from sqlalchemy.exc import OperationalError

from extensions import db
from models import PageFeedback
from tests.conftest import csrf_token_from, free_port


@pytest.fixture
def down_app(make_app):
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    return make_app({"DATABASE_URL": closed, "DB_CONNECT_TIMEOUT": "1", "DB_POOL_TIMEOUT": "1"}, migrate=False)


def test_a_form_post_with_the_database_down_is_a_503_page_in_portuguese(down_app):
    client = down_app.test_client()
    form = client.get("/avaliar/servicos")
    assert form.status_code == 200  # the form itself needs no database
    response = client.post("/avaliar/servicos", data={"csrf_token": csrf_token_from(form.get_data(as_text=True)),
                                                      "helpful": "sim"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 10  # the feedback limiter may push it later, never sooner
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "temporariamente indisponível" in page and "Nada do que você enviou" in page
    assert "Traceback" not in page and "psycopg" not in page


def test_an_api_call_with_the_database_down_is_the_documented_json_503(down_app):
    client = down_app.test_client()
    response = client.get("/api/v1/processos/0022783-22.2017.8.08.0024")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 10  # the lookup limiter may push it later, never sooner
    body = response.get_json()
    assert body["error"]["code"] == "service_unavailable" and body["request_id"]
    assert "temporariamente indisponível" in body["error"]["message"]


def test_readiness_fails_and_public_pages_still_answer(down_app):
    client = down_app.test_client()
    assert client.get("/health/ready").status_code == 503
    assert client.get("/").status_code == 200
    assert client.get("/health/live").status_code == 200


def test_a_connection_lost_mid_write_leaves_nothing_half_written(make_app, log_lines):
    app = make_app(WTF_CSRF_ENABLED=False)

    def half_write():
        db.session.add(PageFeedback(page="servicos", helpful=True, comment="primeira metade"))
        db.session.flush()  # the row is written inside the transaction
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    app.add_url_rule("/__teste/escrita-pela-metade", "half_write", half_write, methods=["POST"])
    client = app.test_client()
    response = client.post("/__teste/escrita-pela-metade")
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    with app.app_context():
        assert db.session.execute(db.select(PageFeedback)).scalars().all() == []
    lines = [line for line in log_lines() if line["message"] == "database unavailable: answered 503"]
    assert lines and lines[0]["error"] == "Exception"
    assert not [line for line in log_lines() if line["message"] == "unhandled error"]


def test_other_database_errors_stay_500s_with_their_trace_logged(make_app, log_lines):
    from sqlalchemy.exc import IntegrityError

    app = make_app()

    def broken():
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    app.add_url_rule("/__teste/bug", "bug", broken)
    response = app.test_client().get("/__teste/bug")
    assert response.status_code == 500  # a bug, not an outage: it must stay visible
    assert any(line["message"] == "unhandled error" for line in log_lines())


@pytest.mark.postgres
def test_the_first_request_after_a_restart_is_served(make_app, postgres_url):
    """Every pooled connection killed (what a restart does to them): the pool's pre-ping replaces them."""
    import psycopg

    app = make_app({"DATABASE_URL": postgres_url}, READY_CACHE_SECONDS=0)
    client = app.test_client()
    token = csrf_token_from(client.get("/avaliar/servicos").get_data(as_text=True))
    assert client.post("/avaliar/servicos", data={"csrf_token": token, "helpful": "sim"}).status_code == 303
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    token = csrf_token_from(client.get("/avaliar/servicos").get_data(as_text=True))
    assert client.post("/avaliar/servicos", data={"csrf_token": token, "helpful": "nao"}).status_code == 303
    assert json.loads(client.get("/health/ready").get_data())["status"] in ("pass", "warn")
    with app.app_context():
        assert len(db.session.execute(db.select(PageFeedback)).scalars().all()) == 2


def test_a_session_left_broken_by_a_lost_connection_is_a_503_with_its_trace_logged(make_app, log_lines):
    from sqlalchemy.exc import PendingRollbackError

    app = make_app()

    def forgot_the_rollback():
        raise PendingRollbackError("Can't reconnect until invalid transaction is rolled back")

    app.add_url_rule("/__teste/sem-rollback", "no_rollback", forgot_the_rollback)
    response = app.test_client().get("/__teste/sem-rollback")
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    assert any(line["message"] == "session used after a failed transaction without a rollback" for line in log_lines())


@pytest.mark.postgres
def test_a_connection_dropped_under_a_finished_request_is_discarded_not_a_500(make_app, postgres_url, log_lines):
    """The database restarting while a request still holds its transaction: the close's rollback fails."""
    import psycopg
    from sqlalchemy import text

    app = make_app({"DATABASE_URL": postgres_url})

    def read_then_lose_the_connection():
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # a transaction is open
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        return "lido"

    app.add_url_rule("/__teste/conexao-perdida", "lost", read_then_lose_the_connection)
    client = app.test_client()
    response = client.get("/__teste/conexao-perdida")
    assert response.status_code == 200 and response.get_data(as_text=True) == "lido"
    assert any(line["message"] == "database connection lost at the end of a request; discarded"
               for line in log_lines())
    token = csrf_token_from(client.get("/avaliar/servicos").get_data(as_text=True))
    assert client.post("/avaliar/servicos", data={"csrf_token": token, "helpful": "sim"}).status_code == 303
