"""Diagnostics: each part of the installation checked, with what to do about it (pt-BR), as data.

`run()` returns the checks (pass / warn / fail, a message, a recommendation and details); `export()`
adds a redacted view of the configuration for the JSON download; `flask diagnostics` prints them
coloured and exits non-zero when any check failed. It lives in services/ (not utils/) because it
calls the database, Redis and the dependencies (DESIGN.md: anything that checks a dependency is a service).

Secrets never leave: the configuration is exported from an allow-list, URLs lose their passwords,
and the finished document is scrubbed of every secret value the configuration holds.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services import cache, redis_connection, resilience
from services.monitoring import readiness, system_info
from services.resilience import DependencyUnavailable

SECRET_SETTINGS = ("SECRET_KEY", "DATAJUD_API_KEY", "ESCAVADOR_API_KEY", "OPENAI_API_KEY", "SESSION_SECRET")
EXPECTED_ENDPOINTS = ("health.live", "health.ready", "static")
CLOCK_WARN_S = 2.0
CLOCK_FAIL_S = 60.0


@dataclass
class Check:
    name: str
    status: str  # "pass" | "warn" | "fail"
    message: str
    recommendation: str = ""
    details: dict = field(default_factory=dict)


def _passed(name, message, **details) -> Check:
    return Check(name, "pass", message, "", details)


def check_configuration(app) -> Check:
    config = app.config
    problems = []
    if config["APP_ENV"] == "production":
        if app.debug:
            problems.append("o modo de depuração está ligado em produção")
        if not config.get("SESSION_COOKIE_SECURE"):
            problems.append("o cookie de sessão não está marcado como Secure")
        if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            problems.append("o banco é SQLite (defina DATABASE_URL com PostgreSQL)")
        if not config.get("REDIS_URL"):
            problems.append("sem REDIS_URL, cache, limites e disjuntores ficam por processo")
    if problems:
        return Check("configuration", "warn", "Configuração com pontos de atenção: " + "; ".join(problems) + ".",
                     "Revise as variáveis de ambiente indicadas (tabela de configuração no README) e reinicie.")
    return _passed("configuration", f"Configuração válida (ambiente {config['APP_ENV']}).")


def check_static_files(app) -> Check:
    folder = app.static_folder or ""
    required = [os.path.join("css", "site.css")]
    missing = [path for path in required if not os.path.isfile(os.path.join(folder, path))]
    if not os.path.isdir(folder) or missing:
        return Check("static_files", "fail", f"Arquivos estáticos ausentes: {', '.join(missing) or folder}.",
                     "Restaure a pasta static/ a partir do repositório (git checkout -- static) e reinicie.")
    count = sum(len(files) for _, _, files in os.walk(folder))
    return _passed("static_files", f"{count} arquivos estáticos encontrados.", files=count)


def check_templates(app) -> Check:
    try:
        names = app.jinja_env.list_templates()
        app.jinja_env.get_template("base.html")
    except Exception as exc:
        return Check("templates", "fail", f"Os modelos de página não carregam ({type(exc).__name__}).",
                     "Restaure a pasta templates/ a partir do repositório e reinicie o portal.")
    return _passed("templates", f"{len(names)} modelos de página carregados.", templates=len(names))


def check_database(app) -> Check:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return Check("database", "fail", f"O banco de dados não responde ({type(exc).__name__}).",
                     "Verifique se o PostgreSQL está no ar e se DATABASE_URL (servidor, porta, usuário) está correta.")
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    backend = db.engine.url.get_backend_name()
    return _passed("database", f"Banco de dados ({backend}) respondeu em {elapsed} ms.", backend=backend,
                   elapsed_ms=elapsed)


def check_migrations(app) -> Check:
    heads = readiness.migration_heads(app.extensions["migrations_dir"])
    try:
        applied = {row[0] for row in db.session.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        db.session.rollback()
        applied = set()
    details = {"code_heads": sorted(heads), "database": sorted(applied)}
    if applied != heads:
        return Check("migrations", "fail", f"Migrações pendentes: o banco está em {sorted(applied) or 'nenhuma'}, "
                                           f"o código espera {sorted(heads)}.",
                     "Execute `flask --app app db upgrade` e reinicie o portal.", details)
    return _passed("migrations", "Todas as migrações estão aplicadas.", **details)


def check_routes(app) -> Check:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = [name for name in EXPECTED_ENDPOINTS if name not in endpoints]
    if missing:
        return Check("routes", "fail", f"Rotas essenciais não registradas: {', '.join(missing)}.",
                     "Confira se todos os blueprints são registrados em app.py (create_app).")
    return _passed("routes", f"{len(list(app.url_map.iter_rules()))} rotas registradas.", endpoints=len(endpoints))


def check_redis(app) -> Check:
    if not app.config.get("REDIS_URL"):
        return Check("redis", "warn", "Redis não configurado: cache e limites ficam na memória de cada processo.",
                     "Em produção, defina REDIS_URL (ex.: redis://127.0.0.1:6379/0) para compartilhar o estado.")
    if cache.current().ping():
        return _passed("redis", "Redis respondeu.", backend=cache.current().backend())
    return Check("redis", "fail", "O Redis não responde; o portal usa o cache em memória enquanto isso.",
                 "Verifique se o Redis está no ar e se REDIS_URL aponta para ele (servidor, porta, senha).")


def _dependency(app, name: str, label: str, optional_key: str | None) -> Check:
    check_name = f"{name}_reachable"
    if optional_key and not app.config.get(optional_key):
        return _passed(check_name, f"{label} não configurado ({optional_key} vazio); nada a verificar.")
    registry = resilience.current()
    if not registry.has_probe(name):
        return Check(check_name, "warn", f"Não há verificação registrada para {label}.",
                     "Registre uma verificação com resilience.current().register_probe().")
    started = time.perf_counter()
    try:
        reason = registry.probe(name)
    except DependencyUnavailable as exc:  # a probe that raises a subclass the registry did not catch
        reason = exc.reason
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    if reason is None:
        return _passed(check_name, f"{label} respondeu em {elapsed} ms.", elapsed_ms=elapsed)
    if "401" in reason:
        recommendation = {"datajud": "Atualize DATAJUD_API_KEY com a chave pública publicada na wiki do DataJud."}.get(
            name, f"Confira a chave de API de {label} ({optional_key}).")
        return Check(check_name, "fail", f"{label} recusou a chave de API (HTTP 401).", recommendation)
    return Check(check_name, "warn" if name != "datajud" else "fail", f"{label} indisponível: {reason}.",
                 f"Verifique a conexão de saída do servidor até {label}; o portal segue com dados guardados "
                 "enquanto isso.", {"reason": reason})


def check_disk(app) -> Check:
    usage = system_info.disk(app.instance_path)
    warning, error, _ = app.config["ALERT_DISK_PERCENT"]
    free_gb = round(usage["free_bytes"] / 1e9, 1)
    message = f"Disco dos dados ({usage['path']}) com {usage['percent']}% de uso ({free_gb} GB livres)."
    if usage["percent"] >= error:
        return Check("disk_space", "fail", message, "Libere espaço: apague logs antigos e backups fora de uso.",
                     usage)
    if usage["percent"] >= warning:
        return Check("disk_space", "warn", message, "Planeje liberar espaço ou ampliar o disco em breve.", usage)
    return _passed("disk_space", message, **usage)


def check_clock(app) -> Check:
    local = time.time()
    reference, source = None, None
    try:
        if db.engine.url.get_backend_name() == "postgresql":
            reference, source = db.session.execute(text("SELECT extract(epoch FROM now())")).scalar(), "postgresql"
    except SQLAlchemyError:
        db.session.rollback()
    client = redis_connection.client(app)
    if reference is None and client is not None:
        try:
            seconds, micros = client.time()
            reference, source = seconds + micros / 1e6, "redis"
        except Exception:  # noqa: S110 - Redis is checked on its own; the clock then uses the sanity floor only
            pass
    if local < 1_704_067_200:  # 2024-01-01: a clock before this is plainly wrong
        return Check("clock", "fail", "O relógio do servidor está antes de 2024.",
                     "Ative a sincronização de horário (NTP, ex.: systemd-timesyncd ou chrony).")
    if reference is None:
        return _passed("clock", "Relógio plausível (sem outro servidor para comparar).")
    skew = round(local - float(reference), 3)
    details = {"skew_s": skew, "reference": source}
    if abs(skew) >= CLOCK_FAIL_S:
        return Check("clock", "fail", f"O relógio difere {skew:+.1f} s do {source}.",
                     "Ative a sincronização de horário (NTP) neste servidor e no do banco.", details)
    if abs(skew) >= CLOCK_WARN_S:
        return Check("clock", "warn", f"O relógio difere {skew:+.1f} s do {source}.",
                     "Verifique a sincronização de horário (NTP).", details)
    return _passed("clock", f"Relógio sincronizado com o {source} (diferença {skew:+.3f} s).", **details)


CHECKS = (
    check_configuration, check_static_files, check_templates, check_database, check_migrations, check_routes,
    check_redis,
    lambda app: _dependency(app, "datajud", "DataJud", None),
    lambda app: _dependency(app, "openai", "OpenAI", "OPENAI_API_KEY"),
    check_disk, check_clock,
)


def run(app=None) -> list[Check]:
    """Every check, in order; one that crashes is reported as failed rather than stopping the others."""
    app = app or current_app._get_current_object()
    results = []
    for check in CHECKS:
        try:
            results.append(check(app))
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_")
            results.append(Check(name, "fail", f"A verificação falhou inesperadamente ({type(exc).__name__}).",
                                 "Consulte o log do portal (mesmo horário) para os detalhes."))
    return results


def overall(checks: list[Check]) -> str:
    statuses = {check.status for check in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def _without_password(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def safe_configuration(config) -> dict:
    """The settings worth seeing in an export: an allow-list, URLs without credentials, secrets as "set"."""
    return {
        "APP_ENV": config["APP_ENV"],
        "DATABASE": _without_password(config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": _without_password(config.get("REDIS_URL")),
        "TRUSTED_PROXIES": config.get("TRUSTED_PROXIES"),
        "LOG_LEVEL": config.get("LOG_LEVEL"),
        "DEPENDENCIES": {name: {k: v for k, v in spec.items() if k != "base_url"} |
                         {"base_url": _without_password(spec["base_url"])}
                         for name, spec in config["DEPENDENCIES"].items()},
        "SYNC_ENABLED": config.get("SYNC_ENABLED"),
        "MONITORING_SAMPLE_INTERVAL_S": config.get("MONITORING_SAMPLE_INTERVAL_S"),
        "secrets_set": {name: bool(config.get(name)) for name in SECRET_SETTINGS if name in config},
    }


def _secret_values(config) -> list[str]:
    values = [str(config[name]) for name in SECRET_SETTINGS if config.get(name)]
    for url in (config.get("SQLALCHEMY_DATABASE_URI"), config.get("REDIS_URL"),
                *(spec.get("base_url") for spec in config.get("DEPENDENCIES", {}).values())):
        if url:
            password = urlsplit(url).password
            if password:
                values.append(password)
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def scrub(document, secrets: list[str]):
    """Replace every secret value found anywhere in the document by "[redacted]"."""
    if isinstance(document, dict):
        return {key: scrub(value, secrets) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [scrub(value, secrets) for value in document]
    if isinstance(document, str):
        for secret in secrets:
            document = document.replace(secret, "[redacted]")
    return document


def export(app=None) -> dict:
    """The JSON export: checks, a summary and the redacted configuration; never a secret."""
    app = app or current_app._get_current_object()
    checks = run(app)
    document = {
        "generated_at": time.time(),
        "overall": overall(checks),
        "summary": {status: sum(1 for c in checks if c.status == status) for status in ("pass", "warn", "fail")},
        "checks": [asdict(check) for check in checks],
        "configuration": safe_configuration(app.config),
    }
    return scrub(document, _secret_values(app.config))


COLOURS = {"pass": "green", "warn": "yellow", "fail": "red"}
LABELS = {"pass": "OK", "warn": "ATENÇÃO", "fail": "FALHA"}


def _command():
    import json

    import click
    from flask.cli import with_appcontext

    @click.command("diagnostics", help="Check the installation; exit 1 when any check fails.")
    @click.option("--json", "as_json", is_flag=True, help="Print the redacted JSON export instead.")
    @with_appcontext
    def diagnostics(as_json: bool) -> None:
        document = export()
        if as_json:
            click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            for check in document["checks"]:
                status = check["status"]
                click.echo(click.style(f"[{LABELS[status]:^8}]", fg=COLOURS[status], bold=True) +
                           f" {check['name']}: {check['message']}")
                if check["recommendation"]:
                    click.echo(f"           → {check['recommendation']}")
            counts = document["summary"]
            click.echo(click.style(f"\n{counts['pass']} ok, {counts['warn']} com atenção, {counts['fail']} com falha",
                                   fg=COLOURS[document["overall"]], bold=True))
        if document["overall"] == "fail":
            raise SystemExit(1)

    return diagnostics


cli = _command()
