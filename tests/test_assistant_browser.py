"""The assistant page in a real browser (Chromium through Playwright, against gunicorn): with JavaScript the answer
arrives by fetch into the aria-live log and focus stays in the question box; without JavaScript the form posts."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import Watcher, _serious_axe_violations, context, datajud, server  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_chat_with_javascript(server, context):  # noqa: F811
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(server + "/assistente")
    assert page.locator("#chat-log").get_attribute("aria-live") == "polite"
    page.fill("#mensagem", "como tirar certidao negativa")
    page.locator("#chat-enviar").click()
    answer = page.locator(".chat__msg--assistant").nth(1)
    answer.wait_for(timeout=10_000)
    assert "objeto e pé" in answer.inner_text()
    assert answer.locator("a[href='/perguntas-frequentes#certidoes']").count() == 1
    assert page.evaluate("document.activeElement.id") == "mensagem"
    assert page.url.endswith("/assistente")  # no page load: the answer came by fetch
    page.fill("#mensagem", "qual a previsão do tempo para amanhã?")
    page.locator("#chat-enviar").click()
    fallback = page.locator(".chat__msg--assistant").nth(2)
    fallback.wait_for(timeout=10_000)
    assert fallback.locator("p.chat__text a[href='https://www.tjes.jus.br/balcao-virtual/']").count() == 1
    assert page.locator(".chat__rating").count() == 1 and fallback.locator(".chat__rating").count() == 1
    fallback.get_by_role("button", name="Não").click()
    page.wait_for_load_state("load")
    assert "Obrigado pela avaliação." in page.locator("main").inner_text()
    page.fill("#mensagem", "   ")
    page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text().strip() == "Escreva a sua pergunta antes de enviar."
    assert watcher.errors == []
    assert _serious_axe_violations(page) == []


def test_the_chat_without_javascript(server, browser):  # noqa: F811
    no_js = browser.new_context(locale="pt-BR", java_script_enabled=False)
    try:
        page = no_js.new_page()
        page.goto(server + "/assistente")
        page.fill("#mensagem", "Preciso de advogado?")
        page.get_by_role("button", name="Enviar pergunta").click()
        # The post answers with a redirect to the page; expect() waits for that page, is_visible() would not.
        expect(page.locator("#resposta")).to_be_visible()
        expect(page.locator("#resposta")).to_contain_text("Defensoria")
        page.get_by_role("button", name="Apagar minha conversa").click()
        expect(page.locator("main")).to_contain_text("A sua conversa foi apagada.")
        expect(page.locator(".chat__msg")).to_have_count(1)  # only the greeting
    finally:
        no_js.close()
