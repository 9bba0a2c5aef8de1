"""Accounts and access: login, lockout, session rotation, logout replay, fresh logins, the route inventory."""
import time

import pytest
from flask import Blueprint

import view_helpers
from extensions import db
from models import AuditEntry, User
from services import auth
from tests.conftest import TEST_PASSWORD, create_user, csrf_token_from, unique_address

INVALID = "Usuário ou senha incorretos"
LOCKED = "Muitas tentativas sem sucesso"
# Routes under the restricted prefixes that anyone may reach.
OPEN_RESTRICTED_ROUTES = {"/admin/login", "/admin/logout", "/api/v1/monitoring/health"}
# Guarded by address or admin login and answering 404 to anyone else (its own tests: tests/test_metrics*.py).
ADDRESS_GUARDED_ROUTES = {"/metrics"}
RESTRICTED_PREFIXES = ("/admin", "/equipe", "/api/v1/monitoring", "/metrics")
STAFF_PREFIXES = ("/equipe",)


def post_login(client, username, password):
    token = csrf_token_from(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"csrf_token": token, "username": username, "password": password})


@pytest.fixture
def anonymous(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    return client


def test_admin_logs_in_and_lands_on_the_dashboard(app, anonymous):
    username = create_user(app, "admin")
    response = post_login(anonymous, username, TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/dashboard")
    page = anonymous.get("/admin/dashboard")
    assert page.status_code == 200 and username in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_staff_lands_on_the_follow_list_and_may_not_open_admin_pages(app, anonymous):
    username = create_user(app, "staff")
    response = post_login(anonymous, username, TEST_PASSWORD)
    assert response.headers["Location"].endswith("/equipe/processos")
    assert anonymous.get("/equipe/processos").status_code == 200
    refused = anonymous.get("/admin/dashboard")
    assert refused.status_code == 403 and "Acesso não permitido" in refused.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_answer(app, anonymous):
    username = create_user(app, "staff")
    wrong = post_login(anonymous, username, "not-the-password")
    unknown = post_login(anonymous, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert INVALID in wrong.get_data(as_text=True) and INVALID in unknown.get_data(as_text=True)
    assert anonymous.get("/equipe/processos").status_code == 302


def test_empty_fields_get_pt_br_messages(app, anonymous):
    response = post_login(anonymous, "", "")
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "Digite seu usuário." in body and "Digite sua senha." in body


def test_five_failures_lock_the_account_for_fifteen_minutes(app, anonymous):
    username = create_user(app, "admin")
    answers = [post_login(anonymous, username, "wrong-password-x").get_data(as_text=True) for _ in range(5)]
    assert all(INVALID in body for body in answers[:4]) and LOCKED in answers[4] and "15 minutos" in answers[4]
    # Even the right password is refused while locked, with the same message.
    assert LOCKED in post_login(anonymous, username, TEST_PASSWORD).get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        user.locked_until = None
        db.session.commit()
    assert post_login(anonymous, username, TEST_PASSWORD).status_code == 302


def test_an_unknown_name_locks_out_exactly_like_a_real_one(app, anonymous):
    answers = [post_login(anonymous, "ghost-user", "wrong-password-x").get_data(as_text=True) for _ in range(5)]
    assert all(INVALID in body for body in answers[:4]) and LOCKED in answers[4]


def test_login_is_rate_limited_per_client(make_app):
    app = make_app({"LOGIN_RATE_LIMIT": "3/minute"})
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    statuses = [post_login(client, f"someone-{i}", "wrong-password-x").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_login_is_rate_limited_per_account_across_clients(make_app):
    app = make_app({"LOGIN_ACCOUNT_RATE_LIMIT": "2/minute"})
    username = create_user(app, "staff")
    statuses = []
    for _ in range(3):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = unique_address()
        statuses.append(post_login(client, username, "wrong-password-x").status_code)
    assert statuses == [401, 401, 429]


def test_login_starts_a_new_session(app, anonymous):
    username = create_user(app, "staff")
    anonymous.get("/admin/login")
    with anonymous.session_transaction() as session:
        session["planted"] = "by someone before the login"
    post_login(anonymous, username, TEST_PASSWORD)
    with anonymous.session_transaction() as session:
        assert "planted" not in session and session["_user_id"].startswith(str(_user_id(app, username)) + ":")


def test_a_session_copied_before_logout_is_refused_after_it(app, anonymous):
    username = create_user(app, "admin")
    post_login(anonymous, username, TEST_PASSWORD)
    copied = anonymous.get_cookie("portal_session").value
    token = csrf_token_from(anonymous.get("/admin/reautenticar").get_data(as_text=True))
    response = anonymous.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 302 and "saiu=1" in response.headers["Location"]
    replay = app.test_client()
    replay.set_cookie("portal_session", copied)
    response = replay.get("/admin/dashboard")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_disabling_a_user_ends_their_sessions(app, anonymous, runner):
    username = create_user(app, "staff")
    post_login(anonymous, username, TEST_PASSWORD)
    assert anonymous.get("/equipe/processos").status_code == 200
    assert runner.invoke(args=["users", "disable", "--username", username]).exit_code == 0
    assert anonymous.get("/equipe/processos").status_code == 302


def test_next_only_leads_within_the_portal(app, anonymous):
    username = create_user(app, "admin")
    token = csrf_token_from(anonymous.get("/admin/login").get_data(as_text=True))
    for target, expected in (("//evil.example/x", "/admin/dashboard"), ("https://evil.example", "/admin/dashboard"),
                             ("/admin/auditoria", "/admin/auditoria")):
        anonymous.post("/admin/logout", data={"csrf_token": token})
        token = csrf_token_from(anonymous.get("/admin/login").get_data(as_text=True))
        response = anonymous.post(f"/admin/login?next={target}",
                                  data={"csrf_token": token, "username": username, "password": TEST_PASSWORD})
        assert response.headers["Location"] == expected
        token = csrf_token_from(anonymous.get("/admin/reautenticar").get_data(as_text=True))


def test_an_old_login_must_confirm_the_password_before_an_admin_action(make_app):
    fresh_only = Blueprint("fresh_probe", __name__)
    view_helpers.guard(fresh_only, "admin")

    @fresh_only.post("/admin/probe-action")
    @view_helpers.fresh
    def probe_action():
        return "done"

    @fresh_only.post("/api/v1/monitoring/probe-action")
    @view_helpers.fresh
    def probe_api_action():
        return {"ok": True}

    app = make_app()
    app.register_blueprint(fresh_only)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    username = create_user(app, "admin")
    post_login(client, username, TEST_PASSWORD)
    token = csrf_token_from(client.get("/admin/reautenticar").get_data(as_text=True))
    assert client.post("/admin/probe-action", data={"csrf_token": token}).get_data(as_text=True) == "done"
    with client.session_transaction() as session:
        session[auth.AUTH_AT_KEY] = int(time.time()) - app.config["LOGIN_FRESH_S"] - 1
    stale = client.post("/admin/probe-action", data={"csrf_token": token})
    assert stale.status_code == 302 and "/admin/reautenticar" in stale.headers["Location"]
    api = client.post("/api/v1/monitoring/probe-action", headers={"X-CSRFToken": token})
    assert api.status_code == 401 and api.json["error"]["code"] == "reauthentication_required"
    wrong = client.post("/admin/reautenticar", data={"csrf_token": token, "password": "wrong-password-x"})
    assert wrong.status_code == 401 and "Senha incorreta" in wrong.get_data(as_text=True)
    confirmed = client.post("/admin/reautenticar?next=/admin/auditoria",
                            data={"csrf_token": token, "password": TEST_PASSWORD})
    assert confirmed.headers["Location"] == "/admin/auditoria"
    assert client.post("/admin/probe-action", data={"csrf_token": token}).get_data(as_text=True) == "done"


def _sample_url(rule) -> str:
    values = {name: "0022783-22.2017.8.08.0024" if name == "numero" else "1" for name in rule.arguments}
    url = rule.rule
    for name, value in values.items():
        url = url.replace(f"<{name}>", value)
        for converter in ("path", "int", "string"):
            url = url.replace(f"<{converter}:{name}>", value)
    return url


def _restricted_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(RESTRICTED_PREFIXES)
            and rule.rule not in OPEN_RESTRICTED_ROUTES | ADDRESS_GUARDED_ROUTES]


def test_the_metrics_scrape_refuses_other_addresses_and_staff(app, anonymous, login):
    assert anonymous.get("/metrics").status_code == 404
    login(anonymous, app, role="staff")
    assert anonymous.get("/metrics").status_code == 404


def test_every_restricted_route_refuses_anonymous_users(app, anonymous):
    rules = _restricted_rules(app)
    assert any(rule.rule.startswith("/admin") for rule in rules) and any(r.rule.startswith("/equipe") for r in rules)
    token = csrf_token_from(anonymous.get("/admin/login").get_data(as_text=True))
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = anonymous.open(_sample_url(rule), method=method, headers={"X-CSRFToken": token})
            assert response.status_code in (302, 401, 403), (rule.rule, method, response.status_code)
            if response.status_code == 302:
                assert "/admin/login" in response.headers["Location"]


def test_every_admin_route_refuses_staff(app, anonymous, login):
    login(anonymous, app, role="staff")
    token = csrf_token_from(anonymous.get("/admin/reautenticar").get_data(as_text=True))
    for rule in _restricted_rules(app):
        if rule.rule.startswith(STAFF_PREFIXES) or rule.rule == "/admin/reautenticar":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = anonymous.open(_sample_url(rule), method=method, headers={"X-CSRFToken": token})
            assert response.status_code == 403, (rule.rule, method, response.status_code)


def test_restricted_routes_belong_to_guarded_blueprints(app):
    """A restricted view outside a guarded blueprint, or opened with `@public` by mistake, is caught here."""
    for rule in _restricted_rules(app):
        blueprint = app.blueprints[rule.endpoint.rpartition(".")[0]]
        view = app.view_functions[rule.endpoint]
        assert getattr(blueprint, "guarded_roles", None), f"{rule.rule} is in an unguarded blueprint"
        assert not getattr(view, "public", False), f"{rule.rule} is marked public"
    opened = {rule.rule for rule in app.url_map.iter_rules()
              if getattr(app.view_functions[rule.endpoint], "public", False)}
    assert opened == OPEN_RESTRICTED_ROUTES


def test_login_and_logout_are_audited_with_the_request_id(app, anonymous):
    username = create_user(app, "admin")
    response = post_login(anonymous, username, TEST_PASSWORD)
    request_id = response.headers["X-Request-ID"]
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="login").one()
        assert entry.actor_name == username and entry.request_id == request_id
        assert entry.client and entry.client.endswith(".0/24")
    page = anonymous.get("/admin/auditoria").get_data(as_text=True)
    assert "login" in page and request_id in page


def test_the_login_page_is_never_stored(app, anonymous):
    response = anonymous.get("/admin/login")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert 'autocomplete="current-password"' in response.get_data(as_text=True)


def test_public_pages_do_not_vary_on_the_session_cookie(app, anonymous):
    """Flask-Login's remember-me hook would read the session on every response; it is removed."""
    response = anonymous.get("/")
    assert "Cookie" not in response.headers.get("Vary", "")


def _user_id(app, username):
    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id
