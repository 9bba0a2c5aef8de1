"""The admin page of unanswered questions and page feedback in a real browser (Chromium against gunicorn): seeded
through the public chat API and the feedback form, read by an admin, checked with axe."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import gunicorn_portal
from tests.test_browser import _serious_axe_violations
from tests.test_browser_admin import log_in

pytestmark = pytest.mark.browser
ADMIN = "admin.review"
CPF = "123.456.789-09"


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    with gunicorn_portal(tmp_path_factory.mktemp("browser-review"), sqlite_template, users=((ADMIN, "admin"),)) as url:
        yield url


def test_an_admin_reads_the_unanswered_questions_and_the_page_feedback(browser, server):
    for question in ("receita de bolo de cenoura", "receita de bolo de cenoura",
                     f"quem ganhou o jogo de futebol ontem? cpf {CPF}"):
        response = httpx.post(server + "/api/v1/chat", json={"message": question}, timeout=10)
        assert response.status_code == 200 and response.json()["path"] == "fallback"
    visitor = browser.new_context(locale="pt-BR")
    page = visitor.new_page()
    page.goto(server + "/avaliar/servicos")
    page.locator("input[name=helpful]").last.check()
    page.fill("textarea", f"faltou o telefone da vara, meu cpf {CPF}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")
    visitor.close()

    context, page, watcher = log_in(browser, server, ADMIN)
    try:
        page.get_by_role("link", name="Perguntas e avaliações").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/admin/perguntas-e-avaliacoes")
        rows = page.locator("table").first.locator("tbody tr")
        assert rows.count() == 2
        assert "jogo de futebol" in rows.nth(0).inner_text()  # newest first
        assert "receita de bolo de cenoura" in rows.nth(1).inner_text() and "2" in rows.nth(1).inner_text()
        text = page.locator("main").inner_text()
        assert CPF not in text and "***.***.***-**" in text
        assert "faltou o telefone da vara" in text and "servicos" in text
        assert watcher.errors == []
        assert _serious_axe_violations(page) == []
    finally:
        context.close()
