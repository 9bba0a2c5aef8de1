"""config.py: defaults, validation with one clear line per bad variable, the development secret."""
import os
import stat

import pytest

import config
from app import create_app


def load(tmp_path, **environ):
    return config.load(environ, str(tmp_path))


def test_defaults_need_no_environment(tmp_path):
    loaded = load(tmp_path)
    settings = loaded.settings
    assert settings["APP_ENV"] == "development"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/portal.db"
    assert settings["REDIS_URL"] is None
    assert settings["LOG_FILE"] is None
    assert settings["SLOW_QUERY_MS"] == 1000
    assert settings["TRUSTED_PROXIES"] == 0
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    assert settings["PERMANENT_SESSION_LIFETIME"].total_seconds() == 7200
    assert any("SESSION_SECRET is not set" in w for w in loaded.warnings)


def test_development_secret_is_generated_once_and_kept_private(tmp_path):
    first = load(tmp_path).settings["SECRET_KEY"]
    second = load(tmp_path).settings["SECRET_KEY"]
    assert first == second and len(first) >= config.MIN_SECRET_LENGTH
    mode = stat.S_IMODE(os.stat(tmp_path / config.SECRET_FILE).st_mode)
    assert mode == 0o600


def test_production_requires_a_session_secret(tmp_path):
    with pytest.raises(config.ConfigError, match="SESSION_SECRET is required when APP_ENV=production"):
        load(tmp_path, APP_ENV="production")
    settings = load(tmp_path, APP_ENV="production", SESSION_SECRET="s" * 40).settings
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / config.SECRET_FILE).exists()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("DATABASE_URL", "not a url", "DATABASE_URL is not a valid database URL"),
    ("DATABASE_URL", "mysql://root@localhost/db", "DATABASE_URL must be a PostgreSQL or SQLite URL"),
    ("DATABASE_URL", "postgresql://user@localhost", "DATABASE_URL names no database"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must look like"),
    ("REDIS_URL", "redis://localhost:port/0", "REDIS_URL has a port that is not a number"),
    ("SLOW_QUERY_MS", "fast", "SLOW_QUERY_MS must be a whole number"),
    ("SLOW_QUERY_MS", "-5", "SLOW_QUERY_MS must be at least 0"),
    ("TRUSTED_PROXIES", "99", "TRUSTED_PROXIES must be between 0 and 10"),
    ("DB_POOL_SIZE", "1.5", "DB_POOL_SIZE must be a whole number"),
    ("APP_ENV", "staging", "APP_ENV must be one of development, production"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of"),
    ("SESSION_SECRET", "short", "SESSION_SECRET must be at least 32 characters"),
    ("REDIS_KEY_PREFIX", "portal prod", "REDIS_KEY_PREFIX must be 1 to 40 letters"),
])
def test_bad_values_name_their_variable(tmp_path, name, value, message):
    environ = {"DATABASE_URL": "postgresql://u@h/db"} if name == "DB_POOL_SIZE" else {}
    environ[name] = value
    with pytest.raises(config.ConfigError, match=message):
        load(tmp_path, **environ)


def test_two_deployments_on_one_redis_get_their_own_keys(tmp_path):
    assert load(tmp_path).settings["CACHE_KEY_PREFIX"] == "portal:v1:"
    staging = load(tmp_path, REDIS_KEY_PREFIX="staging").settings
    assert staging["CACHE_KEY_PREFIX"] == "staging:v1:"
    assert staging["RATELIMIT_KEY_PREFIX"] == "staging:v1:limiter"


def test_postgres_urls_use_psycopg3_and_pool_settings(tmp_path):
    settings = load(tmp_path, DATABASE_URL="postgres://portal:pw@db.internal:5432/portal", DB_POOL_SIZE="8").settings
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://portal:pw@db.internal:5432/portal"
    options = settings["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 8 and options["pool_pre_ping"] is True
    assert options["pool_recycle"] == 1800 and options["pool_timeout"] == 5 and options["max_overflow"] == 10


def test_sqlite_keeps_sqlalchemy_pool_defaults(tmp_path):
    assert load(tmp_path).settings["SQLALCHEMY_ENGINE_OPTIONS"] == {}


def test_create_app_stops_with_one_line_on_a_bad_value(monkeypatch, capsys):
    monkeypatch.setenv("SLOW_QUERY_MS", "soon")
    with pytest.raises(SystemExit) as stopped:
        create_app({"TESTING": True})
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "portal: configuration error: SLOW_QUERY_MS must be a whole number, got 'soon'"


def test_no_module_but_config_reads_the_environment():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readers = []
    for folder, _, files in os.walk(root):
        if any(part in folder for part in (".venv", "tests", "migrations", ".git", "bench")):
            continue
        for name in files:
            if name.endswith(".py") and name not in ("config.py", "gunicorn.conf.py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    text = handle.read()
                if "os.environ" in text or "os.getenv" in text:
                    readers.append(name)
    assert readers == []
