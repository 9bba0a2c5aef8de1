"""The e-mail follow form in a real browser (Chromium + axe) against gunicorn and a real SMTP server on loopback:
from the process page to a confirmed follow, with and without JavaScript."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, gunicorn_portal
from tests.fake_datajud import FakeDataJud, load_documents
from tests.smtp_server import SmtpServer
from tests.test_browser import Watcher, _serious_axe_violations

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATAJUD = ROOT.parent / "shared" / "fixtures" / "datajud"
NUMBER = "0022783-22.2017.8.08.0024"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template, smtp):
    if not SHARED_DATAJUD.is_dir():
        pytest.skip("shared DataJud fixtures not present")
    fake = FakeDataJud(load_documents(SHARED_DATAJUD))
    try:
        with gunicorn_portal(tmp_path_factory.mktemp("follows"), sqlite_template, DATAJUD_BASE_URL=fake.url,
                             MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port)) as url:
            yield url
    finally:
        fake.stop()


def mail_to(smtp, address: str, count: int = 1):
    """The messages to `address` once `count` arrived (sending runs on the server's job thread)."""
    deadline = time.monotonic() + 20
    while len(smtp.handler.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    messages = smtp.handler.to(address)
    assert len(messages) >= count, f"no mail to {address}"
    return messages


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/avisos/confirmar/\S+)", text).group(1)


def test_the_form_from_the_process_page_to_a_confirmed_follow(server, smtp, browser):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{server}/processos/{NUMBER}")
    page.get_by_role("link", name="Receber avisos por e-mail").click()
    page.wait_for_url(f"**/processos/{NUMBER}/avisos")
    assert page.locator("h1").inner_text() == "Receber avisos por e-mail"
    assert _serious_axe_violations(page) == []

    # No consent: the same form again, with the reason, and still accessible.
    page.get_by_label("Seu e-mail").fill("navegador@exemplo.com.br")
    page.get_by_role("button", name="Pedir os avisos").click()
    assert "marque a caixa" in page.get_by_role("alert").inner_text()
    assert _serious_axe_violations(page) == []

    page.get_by_label("Li e concordo com o texto acima.").check()
    page.get_by_role("button", name="Pedir os avisos").click()
    page.wait_for_url("**/avisos/pedido-recebido**")
    assert "confirme no seu e-mail" in page.locator("h1").inner_text().lower()
    assert _serious_axe_violations(page) == []

    [message] = mail_to(smtp, "navegador@exemplo.com.br")
    page.goto(server + confirm_path(message))
    assert _serious_axe_violations(page) == []
    page.get_by_role("button", name="Confirmar e receber os avisos").click()
    assert "avisos confirmados" in page.locator("h1").inner_text()
    assert _serious_axe_violations(page) == []
    # The browser reports the refused form's 400 itself as a console error; nothing else may appear.
    assert [e for e in watcher.errors if "status of 400" not in e] == []
    context.close()


def test_the_form_works_without_javascript(server, smtp, browser):
    context = browser.new_context(locale="pt-BR", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/processos/{NUMBER}/avisos")
    page.get_by_label("Seu e-mail").fill("semjs@exemplo.com.br")
    page.get_by_label("Li e concordo com o texto acima.").check()
    page.get_by_role("button", name="Pedir os avisos").click()
    page.wait_for_url("**/avisos/pedido-recebido**")
    [message] = mail_to(smtp, "semjs@exemplo.com.br")
    page.goto(server + confirm_path(message))
    page.get_by_role("button", name="Confirmar e receber os avisos").click()
    assert "avisos confirmados" in page.locator("h1").inner_text()
    context.close()
