"""The portal's application factory: `flask --app app run`, `gunicorn "app:create_app()"`."""
from __future__ import annotations

import logging
import os
import sys
import weakref

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config
import errors
import routes
import routes_admin
import routes_api
import routes_assistant
import routes_email_follows
import routes_health
import routes_monitoring
import routes_staff
from cli_users import users_cli
from extensions import csrf, db, limiter
from services import assistant, auth, background, cache, content, database, jobs, redis_connection, resilience, search
from services.email_follows.commands import cli as email_follows_cli
from services.jobs.cli import cli as jobs_cli
from services.monitoring import collector, diagnostics, metrics, readiness
from services.processes import sync
from utils import extension_hooks, json_log, request_middleware
from utils.dates import format_court_moment


class PortalFlask(Flask):
    """Flask, with whether a function is a coroutine asked once per function.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (ten times on a plain GET,
    ~25 µs of a ~250 µs request); the answer never changes for a function. Weak keys: a function made per request
    (`after_this_request`) leaves the table with its request.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._synchronous = weakref.WeakKeyDictionary()

    def ensure_sync(self, func):
        try:
            if self._synchronous[func]:
                return func
        except KeyError:
            pass
        except TypeError:  # not weakly referenceable: ask each time
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        # A flag, not the function: a value holding its own key would keep the entry alive.
        self._synchronous[func] = wrapped is func
        return wrapped


def create_app(test_config: dict | None = None) -> Flask:
    """The portal, built in a fixed order: each step needs only the steps above it."""
    app = PortalFlask(__name__, instance_relative_config=True)
    _configure(app, test_config)          # settings, read once: everything below reads app.config
    _configure_logging(app)               # before anything can log
    _register_extensions(app)             # request IDs first, then db, migrations, CSRF, limiter, login
    _init_services(app)                   # database hooks, content, cache, resilience, readiness, assistant
    _register_templates(app)              # filters and context every template may use
    _register_blueprints(app)             # the HTTP layer; each restricted blueprint guards itself
    errors.init_app(app)                  # pt-BR pages and the JSON error shape, for everything above
    _register_commands(app)               # the `flask …` commands, one way for all
    _start_background_work(app)           # the job engine; without Redis, the schedule's thread in a serving process
    return app


def _configure_logging(app: Flask) -> None:
    # A serving process writes its lines from one thread of its own, off the request; tests and CLI commands
    # write them as they are logged.
    json_log.configure(app.config["LOG_LEVEL"], app.config["LOG_FILE"], readable=app.config["LOG_FORMAT"] == "text",
                       deferred=background.serving(app))
    for warning in app.config.pop("STARTUP_WARNINGS", []):
        logging.getLogger("portal.config").warning(warning)


def _init_services(app: Flask) -> None:
    # content, then search (its index is built from it), then the assistant (it answers from that index);
    # cache before resilience and readiness (they read whether Redis answers).
    for service in (database, content, search, cache, resilience, readiness, assistant):
        try:
            service.init_app(app)
        except content.ContentError as exc:
            _stop(f"content error: {exc}")


def _register_templates(app: Flask) -> None:
    app.add_template_filter(format_court_moment, "datahora")
    app.context_processor(lambda: {"site": content.current()})


def _register_blueprints(app: Flask) -> None:
    for blueprint in (routes_health.bp, routes.bp, routes_api.bp, routes_assistant.bp, routes_admin.bp,
                      routes_staff.bp, routes_monitoring.bp, routes_monitoring.scrape_bp, routes_email_follows.bp):
        app.register_blueprint(blueprint)


def _register_commands(app: Flask) -> None:
    for command in (users_cli, sync.cli, assistant.cli, diagnostics.cli, jobs_cli, email_follows_cli):
        app.cli.add_command(command)


def _start_background_work(app: Flask) -> None:
    collector.init_app(app)
    jobs.init_app(app)  # the periodic jobs (sync, retention, chat cleanup, monitoring sample): services/jobs


def _configure(app: Flask, test_config: dict | None) -> None:
    try:
        loaded = config.from_environment(app.instance_path)
    except config.ConfigError as exc:
        _stop(f"configuration error: {exc}")
    app.config.update(loaded.settings)
    app.config["STARTUP_WARNINGS"] = loaded.warnings
    if test_config:
        app.config.update(test_config)


def _stop(message: str):
    """End start-up with one clear line and no traceback: the operator fixes it and starts again."""
    print(f"portal: {message}", file=sys.stderr)
    raise SystemExit(2)


def _register_migrations(app: Flask) -> None:
    """Flask-Migrate for `flask db …`, the tests and other commands; a serving process only needs the folder.

    Importing Flask-Migrate loads alembic, mako and pygments: about 10 MB in every gunicorn worker that never
    migrates anything (readiness reads the heads from the files, services/monitoring/readiness.py).
    """
    app.extensions["migrations_dir"] = directory = os.path.join(app.root_path, "migrations")
    if not background.serving(app):
        from flask_migrate import Migrate

        Migrate(app, db, directory=directory, render_as_batch=True)


def _register_extensions(app: Flask) -> None:
    production = app.config["APP_ENV"] == "production"
    # First: the request ID must exist before any other hook can log or fail.
    request_middleware.init_app(app, production=production, observer=metrics.REQUEST_OBSERVER)
    if app.config["TRUSTED_PROXIES"]:
        # Outside the pipeline: the Host it checks and the address it logs are the ones the trusted proxy forwarded.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    db.init_app(app)
    _register_migrations(app)
    extension_hooks.bind_csrf(app, csrf)
    redis_connection.init_app(app)  # before the limiter: it shares this client's connection pool
    extension_hooks.bind_limiter(app, limiter)  # every limit is declared on its route; the decorator checks it
    auth.init_app(app)
