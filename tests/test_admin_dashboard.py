"""The admin dashboard without JavaScript: figures rendered by the server, actions through a confirmation page."""
import time

import pytest

from extensions import db
from models import Alert, AuditEntry
from services import auth, resilience
from tests.conftest import csrf_token_from


@pytest.fixture
def admin(app, login):
    client = app.test_client()
    login(client, app, role="admin")
    return client


def token(client) -> str:
    return csrf_token_from(client.get("/admin/dashboard").get_data(as_text=True))


def audited(app, action):
    with app.app_context():
        return db.session.query(AuditEntry).filter_by(action=action).count()


def test_the_dashboard_shows_the_figures_and_the_services(app, admin):
    response = admin.get("/admin/dashboard")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    for text in ("Nota de saúde", "Pedidos por segundo", "Taxa de erros", "Tempo de resposta", "Acertos do cache",
                 "Banco de dados", "DataJud", "Alertas ativos", "Histórico", "Assistente", "Sincronização"):
        assert text in body, text
    assert "chart.umd.min.js" in body and "dashboard.js" in body  # served from static/, never a CDN
    assert "https://" not in body.split("<main")[1].split("</main>")[0].replace("https://www.tjes.jus.br", "")


def test_an_action_first_asks_for_confirmation_then_acts(app, admin):
    csrf = token(admin)
    asked = admin.post("/admin/acoes/disjuntor", data={"csrf_token": csrf, "dependency": "datajud",
                                                       "operacao": "force_open"})
    assert asked.status_code == 200 and "Confirma?" in asked.get_data(as_text=True)
    with app.app_context():
        assert resilience.current().dependency("datajud").breaker.state.value == "closed"
    done = admin.post("/admin/acoes/disjuntor", data={"csrf_token": csrf, "dependency": "datajud",
                                                      "operacao": "force_open", "confirmado": "sim"},
                      follow_redirects=True)
    assert "Disjuntor de datajud aberto à força" in done.get_data(as_text=True)
    with app.app_context():
        assert resilience.current().dependency("datajud").breaker.state.value == "forced_open"
    assert audited(app, "breaker.force_open") == 1
    admin.post("/admin/acoes/disjuntor", data={"csrf_token": csrf, "dependency": "datajud", "operacao": "reset",
                                               "confirmado": "sim"})
    with app.app_context():
        assert resilience.current().dependency("datajud").breaker.state.value == "closed"


def test_unknown_breaker_or_namespace_is_a_clear_message(app, admin):
    csrf = token(admin)
    page = admin.post("/admin/acoes/disjuntor", data={"csrf_token": csrf, "dependency": "nada", "operacao": "reset",
                                                      "confirmado": "sim"}, follow_redirects=True)
    assert "Serviço ou ação desconhecidos." in page.get_data(as_text=True)
    page = admin.post("/admin/acoes/cache", data={"csrf_token": csrf, "namespace": "../x", "confirmado": "sim"},
                      follow_redirects=True)
    assert "namespace de cache válido" in page.get_data(as_text=True)
    assert admin.post("/admin/acoes/qualquer", data={"csrf_token": csrf}).status_code == 404


def test_clearing_a_cache_namespace_is_audited(app, admin):
    admin.get("/")  # fills the page cache
    csrf = token(admin)
    page = admin.post("/admin/acoes/cache", data={"csrf_token": csrf, "namespace": "pages", "confirmado": "sim"},
                      follow_redirects=True)
    assert "Cache “pages” limpo" in page.get_data(as_text=True)
    assert audited(app, "cache.clear") == 1


def test_resolving_an_alert_takes_it_off_the_dashboard(app, admin):
    with app.app_context():
        alert = Alert(condition="cpu", severity="warning", message="CPU acima de 80 %", value=85, threshold=80)
        db.session.add(alert)
        db.session.commit()
        alert_id = alert.id
    assert "CPU acima de 80 %" in admin.get("/admin/dashboard").get_data(as_text=True)
    csrf = token(admin)
    page = admin.post("/admin/acoes/alerta", data={"csrf_token": csrf, "alert_id": str(alert_id),
                                                   "confirmado": "sim"}, follow_redirects=True)
    body = page.get_data(as_text=True)
    assert "marcado como resolvido" in body and "Nenhum alerta ativo." in body
    with app.app_context():
        assert db.session.get(Alert, alert_id).resolved_by
    assert audited(app, "alert.resolve") == 1


def test_actions_need_a_fresh_login(app, admin):
    csrf = token(admin)
    with admin.session_transaction() as session:
        session[auth.AUTH_AT_KEY] = int(time.time()) - app.config["LOGIN_FRESH_S"] - 5
    response = admin.post("/admin/acoes/cache", data={"csrf_token": csrf, "namespace": "pages", "confirmado": "sim"})
    assert response.status_code == 302 and "/admin/reautenticar" in response.headers["Location"]
    assert audited(app, "cache.clear") == 0
    assert admin.get("/admin/dashboard").status_code == 200  # looking needs no fresh login


def test_the_checks_page_lists_each_check_with_a_recommendation(app, admin):
    response = admin.get("/admin/diagnostico")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Resultado geral" in body and "Exportar diagnóstico" in body
    assert body.count('<th scope="row">') >= 8
    assert audited(app, "diagnostics.run") == 1
