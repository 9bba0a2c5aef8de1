"""The portal's application factory: `flask --app app run`, `gunicorn "app:create_app()"`."""
from __future__ import annotations

import logging
import os
import sys

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config
import errors
import routes
import routes_admin
import routes_api
import routes_assistant
import routes_health
import routes_monitoring
import routes_staff
from cli_users import users_cli
from extensions import csrf, db, limiter, migrate
from services import (
    assistant,
    auth,
    cache,
    content,
    database,
    diagnostics,
    health,
    metrics,
    monitoring,
    resilience,
    sync,
)
from utils import json_log, request_middleware


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    _configure(app, test_config)
    json_log.configure(app.config["LOG_LEVEL"], app.config["LOG_FILE"], app.config["LOG_MAX_BYTES"],
                       app.config["LOG_BACKUP_COUNT"])
    for warning in app.config.pop("STARTUP_WARNINGS", []):
        logging.getLogger("portal.config").warning(warning)
    _register_extensions(app)
    for service in (database, content, cache, resilience, health, assistant):
        try:
            service.init_app(app)
        except content.ContentError as exc:
            _stop(f"content error: {exc}")
    app.register_blueprint(routes_health.bp)
    app.register_blueprint(routes.bp)
    app.register_blueprint(routes_api.bp)
    app.register_blueprint(routes_assistant.bp)
    app.register_blueprint(routes_admin.bp)
    app.register_blueprint(routes_staff.bp)
    app.register_blueprint(routes_monitoring.bp)
    app.register_blueprint(routes_monitoring.scrape_bp)
    app.cli.add_command(diagnostics.command)
    monitoring.init_app(app)  # the collector thread, only in a process that serves requests
    app.cli.add_command(users_cli)
    errors.init_app(app)
    app.cli.add_command(sync.cli)
    sync.init_app(app)  # the sync thread, only in a process that serves requests with SYNC_ENABLED
    return app


def _configure(app: Flask, test_config: dict | None) -> None:
    try:
        loaded = config.from_environment(app.instance_path)
    except config.ConfigError as exc:
        _stop(f"configuration error: {exc}")
    app.config.update(loaded.settings)
    app.config["STARTUP_WARNINGS"] = loaded.warnings
    if test_config:
        app.config.update(test_config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _stop(message: str):
    """End start-up with one clear line and no traceback: the operator fixes it and starts again."""
    print(f"portal: {message}", file=sys.stderr)
    raise SystemExit(2)


def _register_extensions(app: Flask) -> None:
    production = app.config["APP_ENV"] == "production"
    # First: the request ID must exist before any other hook can log or fail.
    request_middleware.init_app(app, production=production, observer=metrics.REQUEST_OBSERVER)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    auth.init_app(app)
