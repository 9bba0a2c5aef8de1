"""The findings of the attack review (issue 17), each with the test that failed before its fix."""
from unittest import mock

import httpx
import pytest

from extensions import db
from models import Alert, ChatMessage, User
from services import accounts
from tests.conftest import TEST_PASSWORD, create_user, csrf_token_from, gunicorn_portal, unique_address
from utils import cnj

EVIL_NEXTS = ["/%09/evil.example", "/\t/evil.example", "//evil.example", "/\\evil.example", "/%5Cevil.example",
              "https://evil.example", "/%2F%2Fevil.example"]


def _unknown_tjes_number(seed: int) -> str:
    n, year, origin = f"{9_000_000 + seed:07d}", "2024", "0024"
    return f"{n}-{cnj.check_digits(n, year, 8, 8, origin)}.{year}.8.08.{origin}"


def _login_form(client, next_target: str):
    page = client.get("/admin/login", query_string={"next": next_target})
    return csrf_token_from(page.get_data(as_text=True))


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_login_never_redirects_off_site(app, target):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    username = create_user(app, "admin")
    token = _login_form(client, target)
    response = client.post("/admin/login", query_string={"next": target},
                           data={"csrf_token": token, "username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin")
    again = client.get("/admin/login", query_string={"next": target})  # already logged in: straight on
    assert again.status_code == 302 and again.headers["Location"].startswith("/admin")
    token = csrf_token_from(client.get("/admin/reautenticar").get_data(as_text=True))
    confirmed = client.post("/admin/reautenticar", query_string={"next": target},
                            data={"csrf_token": token, "password": TEST_PASSWORD})
    assert confirmed.status_code == 302 and confirmed.headers["Location"].startswith("/admin")


@pytest.mark.parametrize("target", ["/admin/\r\nSet-Cookie: x=1", "/admin/%0d%0aSet-Cookie:%20x=1"])
def test_line_breaks_in_next_are_refused_not_a_500(app, login, target):
    client = app.test_client()
    login(client, app)
    response = client.get("/admin/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin") and "Set-Cookie" not in response.headers["Location"]


def test_lookups_that_end_in_not_found_count_against_the_limit(make_app, datajud):
    app = make_app({"LOOKUP_RATE_LIMIT": "3/minute"}, datajud=datajud)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    statuses = [client.get(f"/api/v1/processos/{_unknown_tjes_number(i)}").status_code for i in range(5)]
    assert statuses[:3] == [404, 404, 404] and statuses[3:] == [429, 429]
    assert datajud.count == 3  # the court's key spent three times, not five


@pytest.mark.parametrize(("typed", "kept"), [
    ("meu telefone é +5527999998888", "999998888"),
    ("me liga (27) 9 9999 8888", "9999 8888"),
    ("tel 27.99999.8888", "99999.8888"),
    ("cpf 123 456 789 09", "456 789"),
    ("cpf 123.456.789.09", "456.789"),
    ("cpf 123.456.789/09", "456.789"),
    ("escreva para joão.conceição@exemplo.com.br", "conceição"),
])
def test_assistant_messages_are_stored_masked(app, client, typed, kept):
    response = client.post("/api/v1/chat", json={"message": typed})
    assert response.status_code == 200
    with app.app_context():
        stored = " ".join(row.text for row in db.session.query(ChatMessage).all())
    assert kept not in stored


def test_json_nested_deeper_than_the_parser_goes_is_a_400(client):
    body = "[" * 50_000 + "]" * 50_000
    response = client.post("/api/v1/chat", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..b", "exa mple.com", "localhost:99999", "[::1",
                                  "-bad.example"])
def test_a_host_that_is_no_host_name_gets_the_portal_400_page(client, host):
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400 and "Pedido inválido" in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"]


def test_a_forwarded_host_that_is_no_host_name_gets_the_portal_400_page_too(make_app):
    client = make_app({"TRUSTED_PROXIES": "1"}).test_client()
    response = client.get("/", headers={"X-Forwarded-Host": "a..b", "X-Forwarded-For": "198.51.100.23"})
    assert response.status_code == 400 and "Pedido inválido" in response.get_data(as_text=True)
    assert client.get("/", headers={"X-Forwarded-Host": "portal.example"}).status_code == 200


def test_slash_redirects_never_carry_the_client_host(client):
    response = client.get("/admin", headers={"Host": "evil.example"})
    assert response.status_code == 308 and response.headers["Location"] == "/admin/"


def test_admin_json_endpoints_refuse_odd_bodies_with_4xx(app, login):
    client = app.test_client()
    login(client, app)
    token = csrf_token_from(client.get("/admin/reautenticar").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    for body in ([], "x", 1, None, {"namespace": ["a"]}, {"namespace": {"a": 1}}):
        response = client.post("/api/v1/monitoring/cache/clear", json=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.status_code)
    for alert_id in (2**31, 10**30, 0):
        response = client.post(f"/api/v1/monitoring/alerts/{alert_id}/resolve", headers=headers)
        assert response.status_code == 404, alert_id
    with app.app_context():
        assert db.session.query(Alert).count() == 0


def test_a_disabled_account_costs_the_same_password_check(app):
    username = create_user(app, "staff")
    with app.app_context():
        accounts.disable(username)
        with mock.patch("services.accounts.check_password_hash", wraps=accounts.check_password_hash) as check, \
                pytest.raises(accounts.LoginRefused):
            accounts.authenticate(username, TEST_PASSWORD)
        assert check.call_count == 1


def test_an_unknown_name_locks_like_a_real_one_across_workers(make_app, tmp_path):
    """Two apps on one database and no Redis are two workers: failures spread over both still lock."""
    workers = [make_app(), make_app()]
    limit = workers[0].config["LOGIN_MAX_FAILURES"]
    outcomes = []
    for attempt in range(limit):
        with workers[attempt % 2].app_context():
            try:
                accounts.authenticate("ninguem-com-este-nome", "senha-errada-qualquer")
            except accounts.LoginRefused as refused:
                outcomes.append(refused.locked)
    assert outcomes == [False] * (limit - 1) + [True]
    with workers[0].app_context():
        assert db.session.query(User).count() == 0


def test_page_feedback_is_rate_limited(make_app):
    app = make_app({"FEEDBACK_RATE_LIMIT": "3/minute"})
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    token = csrf_token_from(client.get("/avaliar/servicos").get_data(as_text=True))
    statuses = [client.post("/avaliar/servicos", data={"csrf_token": token, "helpful": "sim"}).status_code
                for _ in range(5)]
    assert statuses[:3] == [303, 303, 303] and statuses[3:] == [429, 429]


def test_under_gunicorn_the_server_is_portal_and_bad_hosts_get_a_400(tmp_path, sqlite_template):
    with gunicorn_portal(tmp_path, sqlite_template) as base, httpx.Client(base_url=base) as http:
        live = http.get("/health/live")
        assert live.headers.get_list("Server") == ["portal"]
        for host in ("xn--zz.example", "a..b", "a" * 64 + ".example"):
            response = http.get("/", headers={"Host": host})
            assert response.status_code == 400 and "Pedido inválido" in response.text, host
