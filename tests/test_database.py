"""The database layer on SQLite and on a real PostgreSQL: migrations, slow queries, lost connections."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from extensions import db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrations.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrations.db"
    return request.getfixturevalue("empty_postgres_url")


def test_migrations_upgrade_and_downgrade_cleanly(make_app, empty_database_url):
    app = make_app({"DATABASE_URL": empty_database_url}, migrate=False)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"page_feedback", "alembic_version"} <= tables
        indexes = {index["name"] for index in inspect(db.engine).get_indexes("page_feedback")}
        assert {"ix_page_feedback_page", "ix_page_feedback_created_at"} <= indexes
        downgrade(revision="base")
        assert "page_feedback" not in set(inspect(db.engine).get_table_names())
        upgrade()
        assert "page_feedback" in set(inspect(db.engine).get_table_names())


def test_ready_and_feedback_work_on_each_database(make_app, database_url):
    app = make_app({"DATABASE_URL": database_url})
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200


def test_slow_queries_are_logged_with_the_request_id(make_app, log_lines, database_url):
    app = make_app({"DATABASE_URL": database_url, "SLOW_QUERY_MS": "0"}, READY_CACHE_SECONDS=0)
    response = app.test_client().get("/health/ready", headers={"X-Request-ID": "req-slow-query-1"})
    assert response.status_code == 200
    slow = [line for line in log_lines() if line["message"] == "slow query"]
    assert any(line["request_id"] == "req-slow-query-1" and "alembic_version" in line["statement"] for line in slow)


def test_fast_queries_are_not_logged(make_app, log_lines):
    app = make_app(READY_CACHE_SECONDS=0)
    app.test_client().get("/health/ready")
    assert not [line for line in log_lines() if line["message"] == "slow query"]


@pytest.mark.postgres
def test_postgres_pool_settings_come_from_config(make_app, postgres_url):
    app = make_app({"DATABASE_URL": postgres_url, "DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "2"})
    with app.app_context():
        pool = db.engine.pool
        assert pool.size() == 3 and pool._max_overflow == 2 and pool._pre_ping is True
        assert db.engine.dialect.driver == "psycopg"


@pytest.mark.postgres
def test_a_lost_connection_is_retried_once_and_logged(make_app, postgres_url, log_lines):
    import psycopg

    app = make_app({"DATABASE_URL": postgres_url}, READY_CACHE_SECONDS=0)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200  # a pooled connection now exists
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed >= 1
    response = client.get("/health/ready", headers={"X-Request-ID": "req-lost-conn-1"})
    assert response.status_code == 200
    lost = [line for line in log_lines() if line["message"].startswith("database connection lost")]
    assert lost, "the lost connection was handled silently"


@pytest.mark.postgres
def test_read_with_retry_retries_a_read_that_lost_its_connection(make_app, postgres_url, log_lines):
    import psycopg

    from services.database import read_with_retry

    app = make_app({"DATABASE_URL": postgres_url})
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # the session holds a connection mid-transaction
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        value = read_with_retry(lambda: db.session.execute(text("SELECT 41 + 1")).scalar())
    assert value == 42
    assert any(line["message"] == "retrying a read after a lost database connection" for line in log_lines())


def test_models_and_migrations_agree(runner):
    """`flask db check` fails when a model changed without a migration."""
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_readiness_reads_the_same_heads_as_alembic(make_app):
    """The serving processes read the heads from the revision files; alembic must agree."""
    from alembic.script import ScriptDirectory

    from services.monitoring.readiness import migration_heads

    app = make_app()
    directory = app.extensions["migrations_dir"]
    assert migration_heads(directory) == set(ScriptDirectory(directory).get_heads())


def test_a_serving_process_does_not_load_flask_migrate(tmp_path):
    """alembic, mako and pygments cost ~10 MB per gunicorn worker that never migrates (issue 15's memory goal)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, app; application = app.create_app(); "
            "print('flask_migrate' in sys.modules, 'alembic' in sys.modules, 'migrate' in application.extensions)")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/serving.db",
           "LOG_FILE": str(tmp_path / "portal.log"), "SYNC_ENABLED": "false", "MONITORING_COLLECTOR": "false"}
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split()[-3:] == ["False", "False", "False"], result.stderr[-2000:]
