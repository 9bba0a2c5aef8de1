"""Diagnostics: every check reports, secrets never leave, and the command's exit code."""
from __future__ import annotations

import json

from services.monitoring import diagnostics

CANARIES = {
    "SESSION_SECRET": "canary-session-secret-" + "q" * 30,
    "DATAJUD_API_KEY": "canary-datajud-key-7f3a9",
    "OPENAI_API_KEY": "canary-openai-key-91b2c",
    "ESCAVADOR_API_KEY": "canary-escavador-key-4d8e",
}


def test_export_has_every_check_and_no_secret(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("UNRELATED_TOKEN", "canary-unrelated-env-5c1d")
    app = make_app({**CANARIES, "REDIS_URL": "redis://:canary-redis-pass-88a1@127.0.0.1:6390/0",
                    "OPENAI_BASE_URL": "http://127.0.0.1:9", "DATAJUD_BASE_URL": "http://127.0.0.1:9",
                    "DATAJUD_DEADLINE_S": "0.5", "OPENAI_DEADLINE_S": "0.5"})
    with app.app_context():
        document = diagnostics.export()
    names = [check["name"] for check in document["checks"]]
    assert names == ["configuration", "static_files", "templates", "database", "migrations", "routes", "redis",
                     "datajud_reachable", "openai_reachable", "disk_space", "clock"]
    text = json.dumps(document, ensure_ascii=False)
    for secret in [*CANARIES.values(), "canary-redis-pass-88a1", "canary-unrelated-env-5c1d"]:
        assert secret not in text
    assert document["configuration"]["secrets_set"]["OPENAI_API_KEY"] is True
    by_name = {check["name"]: check for check in document["checks"]}
    assert by_name["database"]["status"] == "pass" and by_name["migrations"]["status"] == "pass"
    assert by_name["redis"]["status"] == "fail" and by_name["redis"]["recommendation"]
    assert by_name["datajud_reachable"]["status"] == "fail"
    assert document["overall"] == "fail"


def test_scrub_reaches_nested_values():
    assert diagnostics.scrub({"a": ["x-s3cr3t-y", {"b": "s3cr3t"}]}, ["s3cr3t"]) == \
        {"a": ["x-[redacted]-y", {"b": "[redacted]"}]}


def test_pending_migrations_fail(make_app):
    app = make_app(migrate=False)
    with app.app_context():
        check = diagnostics.check_migrations(app)
    assert check.status == "fail" and "flask --app app db upgrade" in check.recommendation


def test_command_prints_a_summary_and_exits_non_zero_on_failure(make_app):
    app = make_app({"DATAJUD_BASE_URL": "http://127.0.0.1:9", "DATAJUD_DEADLINE_S": "0.5"})
    result = app.test_cli_runner().invoke(args=["diagnostics"])
    assert result.exit_code == 1
    assert "FALHA" in result.output and "datajud_reachable" in result.output and "com falha" in result.output
    as_json = app.test_cli_runner().invoke(args=["diagnostics", "--json"])
    assert json.loads(as_json.output)["overall"] == "fail"


def test_datajud_probe_passes_then_reports_a_refused_key(make_app):
    from tests.fake_datajud import FakeDataJud

    fake = FakeDataJud({})
    try:
        app = make_app({"DATAJUD_BASE_URL": fake.url})
        with app.app_context():
            assert diagnostics.run(app)[7].status == "pass"
            fake.set("401")
            check = diagnostics.run(app)[7]
        assert check.status == "fail" and "401" in check.message and "DATAJUD_API_KEY" in check.recommendation
        assert fake.last_headers["authorization"].startswith("APIKey ")
    finally:
        fake.stop()
