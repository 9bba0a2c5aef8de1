"""The public pages in a real browser: Debian's Chromium driven by Playwright, against a gunicorn server.

Checks what only a browser can: console and CSP errors, axe-core, keyboard shortcuts, the
persistence of high contrast and text size, reflow at 320 px and 200 % zoom, and that every page
works without JavaScript. Screenshots land in test-artifacts/ for a person to look at.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import gunicorn_portal
from tests.fake_datajud import FakeDataJud, load_documents

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PUBLIC_PAGES = ["/", "/a-vara", "/servicos", "/perguntas-frequentes", "/contato", "/acessibilidade", "/privacidade",
                "/busca?q=certidao", "/avaliar/servicos", "/consulta", "/consulta?numero=0022783-23.2017.8.08.0024",
                "/processos/0022783-22.2017.8.08.0024", "/pagina-inexistente"]
EXPECTED_STATUS = {"/pagina-inexistente": 404, "/consulta?numero=0022783-23.2017.8.08.0024": 400}
SHARED_DATAJUD = ROOT.parent / "shared" / "fixtures" / "datajud"
@pytest.fixture(scope="session")
def datajud():
    """A fake DataJud serving the shared fixtures (empty when they are absent: lookups then say not found)."""
    documents = load_documents(SHARED_DATAJUD) if SHARED_DATAJUD.is_dir() else {}
    fake = FakeDataJud(documents)
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, sqlite_template, datajud):
    with gunicorn_portal(tmp_path_factory.mktemp("browser"), sqlite_template, DATAJUD_BASE_URL=datajud.url) as url:
        yield url


@pytest.fixture
def context(browser):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 900})
    yield context
    context.close()


class Watcher:
    """Collects console errors (CSP violations are reported there) and uncaught page errors."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))


def _serious_axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_page_renders_clean_and_passes_axe(server, context, path):
    if path.startswith("/processos/") and not SHARED_DATAJUD.is_dir():
        pytest.skip("shared DataJud fixtures not present")
    page = context.new_page()
    watcher = Watcher(page)
    response = page.goto(server + path)
    expected = EXPECTED_STATUS.get(path, 200)
    assert response.status == expected
    page.wait_for_load_state("load")
    # The browser reports a non-2xx document itself as a console error; that one is expected.
    errors = [e for e in watcher.errors if not (expected != 200 and str(expected) in e)]
    assert errors == [], errors
    assert page.locator("h1").count() == 1
    assert _serious_axe_violations(page) == []


def test_high_contrast_passes_axe_and_persists_across_pages(server, context):
    page = context.new_page()
    page.goto(server + "/")
    toggle = page.locator("#alto-contraste")
    assert toggle.is_visible() and toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert "alto-contraste" in page.evaluate("document.documentElement.className")
    assert toggle.get_attribute("aria-pressed") == "true"
    page.goto(server + "/servicos")
    assert "alto-contraste" in page.evaluate("document.documentElement.className")
    assert page.locator("#alto-contraste").get_attribute("aria-pressed") == "true"
    assert _serious_axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "servicos-alto-contraste.png"), full_page=False)
    page.locator("#alto-contraste").click()
    page.goto(server + "/")
    assert "alto-contraste" not in page.evaluate("document.documentElement.className")


def test_text_size_persists_across_pages(server, context):
    page = context.new_page()
    page.goto(server + "/")
    base = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.locator("#fonte-aumentar").click()
    page.locator("#fonte-aumentar").click()
    page.goto(server + "/a-vara")
    bigger = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert bigger == pytest.approx(base * 1.25)
    page.locator("#fonte-padrao").click()
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == base


def test_skip_link_is_the_first_stop_and_moves_focus_to_the_content(server, context):
    page = context.new_page()
    page.goto(server + "/a-vara")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "conteudo"


@pytest.mark.parametrize(("key", "expected"), [("1", "conteudo"), ("2", "menu"), ("3", "busca-termo"), ("4", "rodape")])
def test_emag_alt_shortcuts(server, context, key, expected):
    page = context.new_page()
    page.goto(server + "/servicos")
    page.keyboard.press(f"Alt+{key}")
    focused = page.evaluate("[document.activeElement.id, document.activeElement.closest('[id]')?.id]")
    assert expected in focused


@pytest.mark.parametrize("width", [320, 640])
def test_pages_reflow_without_horizontal_scrolling(server, browser, width):
    # 320 CSS px is a 1280 px screen at 400 % zoom; 640 px is 200 % zoom.
    context = browser.new_context(locale="pt-BR", viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        for path in PUBLIC_PAGES:
            if path.startswith("/processos/") and not SHARED_DATAJUD.is_dir():
                continue
            page.goto(server + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
        page.goto(server + "/contato")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"contato-{width}px.png"), full_page=True)
    finally:
        context.close()


def test_every_page_works_without_javascript(server, browser):
    context = browser.new_context(locale="pt-BR", java_script_enabled=False)
    try:
        page = context.new_page()
        for path in PUBLIC_PAGES[:7]:
            assert page.goto(server + path).status == 200
            assert page.locator("main h1").is_visible()
            assert not page.locator("#alto-contraste").is_visible()  # needs JS, so it is not offered
        page.goto(server + "/")
        page.fill("#busca-termo", "certidão negativa")
        page.locator("#busca button[type=submit]").click()
        expect(page.locator(".search-results li").first).to_be_visible()
        assert "/busca" in page.url
        page.goto(server + "/servicos")
        page.get_by_role("link", name=re.compile(r"^Sim.*foi útil")).click()
        page.get_by_label("Comentário (opcional)").fill("Clara e direta.")
        page.get_by_role("button", name="Enviar avaliação").click()
        assert page.url.endswith("/avaliar/servicos/obrigado")
        assert page.locator("h1").inner_text() == "Obrigado pela avaliação"
    finally:
        context.close()


def test_feedback_form_errors_are_announced_and_linked(server, context):
    page = context.new_page()
    page.goto(server + "/avaliar/a-vara")
    page.get_by_role("button", name="Enviar avaliação").click()
    alert = page.get_by_role("alert")
    assert "Escolha “Sim” ou “Não”." in alert.inner_text()
    assert _serious_axe_violations(page) == []


def test_home_screenshot(server, context):
    page = context.new_page()
    page.goto(server + "/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inicio.png"), full_page=True)
    assert (ARTIFACTS / "inicio.png").stat().st_size > 10_000
