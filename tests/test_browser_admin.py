"""The restricted area in a real browser: login, the dashboard's cards and charts, a confirmed action, axe."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD, gunicorn_portal
from tests.test_browser import Watcher, _serious_axe_violations

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ADMIN, STAFF = "admin.browser", "staff.browser"


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    users = ((ADMIN, "admin"), (STAFF, "staff"))
    with gunicorn_portal(tmp_path_factory.mktemp("browser-admin"), sqlite_template, workers=2, users=users,
                         MONITORING_SAMPLE_INTERVAL_S="5") as url:
        yield url


def wait_until(page, function: str, arg=None, timeout_s: float = 20.0) -> None:
    """Poll a JS function through CDP: `wait_for_function` would eval() a string, which the CSP forbids."""
    deadline = time.time() + timeout_s
    while not page.evaluate(function, arg):
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for: {function}")
        time.sleep(0.1)


def log_in(browser, server, username, javascript=True, fake_clock=False):
    """A logged-in page. With `fake_clock`, the page's timers run on Playwright's clock: the test moves time on
    (`page.clock.fast_forward`) instead of waiting for it."""
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 900},
                                  java_script_enabled=javascript)
    page = context.new_page()
    if fake_clock:
        page.clock.install()
    watcher = Watcher(page)
    page.goto(server + "/admin/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")
    return context, page, watcher


def test_the_dashboard_renders_live_with_charts_and_no_console_error(browser, server):
    context, page, watcher = log_in(browser, server, ADMIN, fake_clock=True)
    try:
        assert page.url.endswith("/admin/dashboard")
        wait_until(page, "() => document.querySelectorAll('figure.chart canvas').length === 6 && "
                         "Array.from(document.querySelectorAll('figure.chart canvas'))"
                         ".every(c => c.width > 0 && window.Chart && Chart.getChart(c))")
        assert page.locator("[data-dependency='datajud']").count() == 1
        assert page.locator("[data-card='health'] [data-field='health.score']").inner_text().strip().isdigit()
        generated = page.locator("[data-field='generated_at']").inner_text()
        page.clock.fast_forward(10_000)  # the 10 s refresh is due
        wait_until(page, "(before) => document.querySelector(\"[data-field='generated_at']\").textContent "
                         "!== before", generated)  # and it ran
        assert watcher.errors == [], watcher.errors
        assert _serious_axe_violations(page) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)
    finally:
        context.close()


def test_an_action_asks_for_confirmation_and_shows_its_result(browser, server):
    context, page, watcher = log_in(browser, server, ADMIN)
    try:
        card = page.locator("[data-dependency='datajud']")
        card.locator("select").select_option("force_open")
        card.locator("button[type=submit]").click()
        dialog = page.locator("dialog#confirmar")
        assert dialog.is_visible() and "Abrir à força" in dialog.inner_text()
        dialog.locator("button[value=nao]").click()
        assert page.locator("#acao-resultado").inner_text() == ""
        card.locator("button[type=submit]").click()
        dialog.locator("button[value=sim]").click()
        wait_until(page, "() => document.querySelector('#acao-resultado').textContent.includes('aberto à força')")
        wait_until(page, "() => document.querySelector(\"[data-dependency='datajud']\").dataset.state === 'down'")
        card.locator("select").select_option("reset")
        card.locator("button[type=submit]").click()
        dialog.locator("button[value=sim]").click()
        wait_until(page, "() => document.querySelector('#acao-resultado').textContent.includes('fechado')")
        assert watcher.errors == [], watcher.errors
    finally:
        context.close()


def test_without_javascript_the_dashboard_and_its_actions_still_work(browser, server):
    context, page, _ = log_in(browser, server, ADMIN, javascript=False)
    try:
        assert "Nota de saúde" in page.inner_text("main")
        page.select_option("#cache-namespace", index=0)
        page.click("form[action$='/admin/acoes/cache'] button[type=submit]")
        assert "Confirma?" in page.inner_text("main")
        page.click("text=Sim, confirmar")
        assert "limpo" in page.inner_text("main")
    finally:
        context.close()


def test_staff_see_their_list_and_not_the_dashboard(browser, server):
    context, page, watcher = log_in(browser, server, STAFF)
    try:
        assert page.url.endswith("/equipe/processos")
        page.fill("#numbers", "0022783-22.2017.8.08.0024\n123")
        page.click("form[action$='/equipe/processos'] button[type=submit]")
        text = page.inner_text("main")
        assert "Adicionado." in text and "Resultado da inclusão" in text
        assert _serious_axe_violations(page) == []
        assert watcher.errors == [], watcher.errors
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "staff-followed.png"), full_page=True)
        response = page.goto(server + "/admin/dashboard")
        assert response.status == 403
    finally:
        context.close()
