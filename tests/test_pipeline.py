"""The request pipeline: request IDs, security headers, JSON logs, masking, errors."""
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from flask import abort

from utils.request_middleware import request_id_from, truncate_address

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_security_headers(response, production=False):
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers.get("X-XSS-Protection", "0") == "0"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Server"] == "portal"
    assert ("Strict-Transport-Security" in headers) is production
    assert HEX_ID.match(headers["X-Request-ID"]) or len(headers["X-Request-ID"]) >= 8


@pytest.mark.parametrize("incoming", ["acceptance-req-0001", "abc.DEF_123-xyz", "a" * 64])
def test_well_formed_request_id_is_kept(client, incoming):
    response = client.get("/", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["bad id!", "short", "a" * 65, "abc\r\ndef-ghij", 'quo"te-12345', "ção-123456",
                                      "123.456.789-09", "fulano.silva-27-99999-1234"])
def test_malformed_request_id_is_replaced(client, incoming):
    # Through the WSGI environ: the test client itself refuses to send a header with CR/LF.
    response = client.get("/", environ_overrides={"HTTP_X_REQUEST_ID": incoming})
    assert HEX_ID.match(response.headers["X-Request-ID"])


def test_request_id_rules_directly():
    assert request_id_from(None) != request_id_from(None)
    assert request_id_from("keep-me-please") == "keep-me-please"


@pytest.mark.parametrize("path", ["/", "/a-vara", "/nao-existe", "/static/css/site.css", "/static/nada.css",
                                  "/health/live", "/health/ready", "/api/v1/nada", "/busca?q=certidao"])
def test_every_response_carries_the_headers(client, path):
    with client.get(path) as response:
        assert_security_headers(response)


def test_production_adds_hsts_and_secure_cookies(make_app):
    app = make_app({"APP_ENV": "production"})
    client = app.test_client()
    response = client.get("/avaliar/inicio")
    assert_security_headers(response, production=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_httponly_lax_and_lasts_two_hours(client):
    response = client.get("/avaliar/inicio")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("portal_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = (expires - datetime.now(UTC)).total_seconds()
    assert 7190 < lifetime <= 7201


def test_public_pages_set_no_cookie(client):
    for path in ("/", "/a-vara", "/perguntas-frequentes", "/busca?q=vara"):
        assert "Set-Cookie" not in client.get(path).headers


def test_404_page_speaks_portuguese_and_shows_the_request_id(client):
    response = client.get("/pagina-que-nao-existe", headers={"X-Request-ID": "req-404-check-1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Página não encontrada" in body and "req-404-check-1" in body
    assert 'lang="pt-BR"' in body and body.count("<h1") == 1
    assert response.headers["Cache-Control"] == "no-store"


def test_api_errors_are_json(client):
    response = client.get("/api/v1/nada", headers={"X-Request-ID": "req-api-404-1"})
    assert response.status_code == 404
    assert response.is_json
    assert response.json == {"error": {"code": "not_found", "message": response.json["error"]["message"]},
                             "request_id": "req-api-404-1"}
    assert "não existe" in response.json["error"]["message"]


def test_method_not_allowed_gives_405_with_allow(client):
    response = client.post("/a-vara")
    assert response.status_code in (400, 405)  # CSRF may refuse first; neither is a 500
    response = client.delete("/a-vara")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Ação não permitida" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/chat", "/avaliar/inicio", "/nao-existe"])
def test_oversized_body_is_413_before_anything_else(client, path):
    response = client.post(path, data=b"x" * (16 * 1024 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413
    assert_security_headers(response)
    if path.startswith("/api/"):
        assert response.json["error"]["code"] == "payload_too_large"
    else:
        assert "Envio grande demais" in response.get_data(as_text=True)


def test_missing_csrf_token_says_the_form_expired(make_app):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/avaliar/inicio", data={"helpful": "sim"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "O formulário expirou" in body and "Traceback" not in body


def test_wrong_csrf_token_says_the_form_expired(client):
    client.get("/avaliar/inicio")
    response = client.post("/avaliar/inicio", data={"helpful": "sim", "csrf_token": "forged"})
    assert response.status_code == 400
    assert "O formulário expirou" in response.get_data(as_text=True)


def _app_with_failing_routes(make_app):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail 123.456.789-09")

    @app.get("/api/v1/boom")
    def api_boom():
        raise RuntimeError("secret internal detail")

    @app.get("/unavailable")
    def unavailable():
        abort(503)

    return app


def test_unexpected_error_is_a_500_page_without_traceback(make_app, log_lines):
    client = _app_with_failing_routes(make_app).test_client()
    response = client.get("/boom", headers={"X-Request-ID": "req-500-check-1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Erro no portal" in body and "req-500-check-1" in body
    assert "Traceback" not in body and "RuntimeError" not in body and "secret internal" not in body
    assert_security_headers(response)
    errors = [line for line in log_lines() if line["message"] == "unhandled error"]
    assert errors and errors[0]["request_id"] == "req-500-check-1"
    assert "RuntimeError" in errors[0]["exc_info"]
    assert "123.456.789-09" not in json.dumps(errors)


def test_unexpected_api_error_is_json(make_app):
    client = _app_with_failing_routes(make_app).test_client()
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)


def test_503_page(make_app):
    response = _app_with_failing_routes(make_app).test_client().get("/unavailable")
    assert response.status_code == 503
    assert "Serviço indisponível" in response.get_data(as_text=True)


def test_one_json_access_line_per_request(client, log_lines):
    response = client.get("/a-vara", headers={"X-Request-ID": "req-log-check-1"})
    access = [line for line in log_lines() if line["logger"] == "portal.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-log-check-1" == response.headers["X-Request-ID"]
    assert line["method"] == "GET" and line["route"] == "/<slug>" and line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and line["time"].endswith("Z")
    assert line["client"] == "127.0.0.0/24"


def test_query_strings_with_personal_data_never_reach_the_log(client, log_lines, tmp_path):
    client.get("/?cpf=123.456.789-09&email=fulano.acceptance@example.com&token=Bearer%20sk-acceptance-secret")
    client.get("/nao-existe/123.456.789-09/fulano@example.com")
    text = (tmp_path / "portal.log").read_text(encoding="utf-8")
    for secret in ("123.456.789-09", "fulano.acceptance@example.com", "fulano@example.com", "sk-acceptance-secret"):
        assert secret not in text
    assert all(line.startswith("{") for line in text.splitlines())


def test_hostile_request_ids_and_paths_never_break_a_line(client, tmp_path, log_lines):
    client.get('/x"\r\n{"fake": "line"}', environ_overrides={"HTTP_X_REQUEST_ID": 'a"\r\nb{"level":"ERROR"}'})
    raw = (tmp_path / "portal.log").read_text(encoding="utf-8").splitlines()
    parsed = log_lines()
    assert len(raw) == len(parsed)
    assert [line["logger"] for line in parsed].count("portal.access") == 1
    assert not any(line.get("fake") for line in parsed)


def test_client_address_is_truncated():
    assert truncate_address("203.0.113.77") == "203.0.113.0/24"
    assert truncate_address("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::/48"
    assert truncate_address("::ffff:198.51.100.9") == "198.51.100.0/24"
    assert truncate_address("not-an-ip") is None
    assert truncate_address(None) is None


def test_trusted_proxy_address_is_used_when_configured(make_app, log_lines):
    client = make_app({"TRUSTED_PROXIES": "1"}).test_client()
    client.get("/", headers={"X-Forwarded-For": "198.51.100.23"})
    assert [line["client"] for line in log_lines() if line["logger"] == "portal.access"] == ["198.51.100.0/24"]


def test_forwarded_for_is_ignored_without_trusted_proxies(client, log_lines):
    client.get("/", headers={"X-Forwarded-For": "198.51.100.23"})
    assert [line["client"] for line in log_lines() if line["logger"] == "portal.access"] == ["127.0.0.0/24"]


def test_log_to_stdout_when_no_log_file(make_app, capsys):
    app = make_app({"LOG_FILE": "", "LOG_FORMAT": "json"})
    capsys.readouterr()
    app.test_client().get("/", headers={"X-Request-ID": "req-stdout-check"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert any(line.get("request_id") == "req-stdout-check" for line in lines)


def test_a_developer_console_gets_one_short_masked_line_per_request(make_app, capsys):
    app = make_app({"LOG_FILE": "", "APP_ENV": "development"})
    capsys.readouterr()
    app.test_client().get("/nao-existe/123.456.789-09")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("404 GET")]
    assert len(lines) == 1 and lines[0].endswith(" ms") and "123.456.789-09" not in lines[0]


@pytest.mark.parametrize(("status", "title", "code"), [
    (400, "Pedido inválido", "bad_request"),
    (403, "Acesso não permitido", "forbidden"),
    (404, "Página não encontrada", "not_found"),
    (405, "Ação não permitida", "method_not_allowed"),
    (413, "Envio grande demais", "payload_too_large"),
    (429, "Muitos pedidos em pouco tempo", "too_many_requests"),
    (500, "Erro no portal", "internal_error"),
    (503, "Serviço indisponível no momento", "service_unavailable"),
])
def test_every_error_status_has_a_portuguese_page_and_a_json_shape(make_app, status, title, code):
    app = make_app()

    @app.get("/fail/<int:status>")
    @app.get("/api/v1/fail/<int:status>")
    def fail(status):
        abort(status)

    client = app.test_client()
    page = client.get(f"/fail/{status}", headers={"X-Request-ID": "req-error-pages"})
    html = page.get_data(as_text=True)
    assert page.status_code == status
    assert f"<h1>{title}</h1>" in html and "Código do atendimento" in html and "req-error-pages" in html
    assert 'href="/"' in html  # a way forward
    api = client.get(f"/api/v1/fail/{status}")
    assert api.status_code == status
    assert api.json["error"]["code"] == code and api.json["request_id"] == api.headers["X-Request-ID"]


def test_client_key_for_rate_limits(app):
    from utils.request_middleware import client_key

    for address, expected in [("203.0.113.77", "203.0.113.77"), ("::ffff:198.51.100.9", "198.51.100.9"),
                              ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd:12::/64"), ("garbage", "garbage")]:
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": address}):
            assert client_key() == expected


def test_pages_do_not_vary_on_cookie(client):
    # Reading the session in a hook would add Vary: Cookie everywhere and defeat HTTP caches.
    assert "Cookie" not in client.get("/").headers.get("Vary", "")
    assert "Cookie" not in client.get("/a-vara").headers.get("Vary", "")
