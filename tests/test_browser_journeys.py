"""Citizen journeys on a phone (issue 12), in a real browser: 390 px and 1366 px wide, 200 % zoom, without JavaScript.

Each journey checks what a person on a phone meets first (the heading on the first screen, an error above the field,
the summary of a process) and runs axe at 0 serious/critical. Screenshots go to $JOURNEY_SCREENSHOTS (default: a
directory under the system's temporary directory), never into the repository.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from tests.conftest import gunicorn_portal
from tests.fake_datajud import FakeDataJud, load_documents

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATAJUD = ROOT.parent / "shared" / "fixtures" / "datajud"
SHOTS = Path(os.environ.get("JOURNEY_SCREENSHOTS") or Path(tempfile.gettempdir()) / "portal-journeys")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
ZOOM_200 = {"width": 683, "height": 450}  # 1366×900 at 200 %: the same CSS pixels
WIDTHS = {"390": PHONE, "1366": DESKTOP}
TJES_FIXTURE = "0022783-22.2017.8.08.0024"


@pytest.fixture(scope="module")
def datajud():
    documents = load_documents(SHARED_DATAJUD) if SHARED_DATAJUD.is_dir() else {}
    fake = FakeDataJud(documents)
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template, datajud):
    with gunicorn_portal(tmp_path_factory.mktemp("journeys"), sqlite_template, DATAJUD_BASE_URL=datajud.url) as url:
        yield url


def _open(browser, viewport, javascript=True):
    return browser.new_context(locale="pt-BR", viewport=viewport, java_script_enabled=javascript)


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _sideways(page) -> int:
    # After a click the URL changes before the new page's stylesheet applies: measure the laid-out page.
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _serious_axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def _top(page, selector) -> float:
    return page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top + window.scrollY")


# Home and phone chrome

@pytest.mark.parametrize("width", WIDTHS)
def test_home_puts_the_tasks_on_the_first_screen(server, browser, width):
    viewport = WIDTHS[width]
    context = _open(browser, viewport)
    try:
        page = context.new_page()
        page.goto(server + "/")
        tasks = page.locator(".tasks a")
        assert tasks.count() == 5
        names = [re.sub(r"\s+", " ", tasks.nth(i).inner_text()) for i in range(5)]
        assert names[0].startswith("Consultar processo") and names[-1].startswith("Golpes")
        # The heading and the first task are on the first screen, not under the chrome.
        assert _top(page, "h1") < viewport["height"] / 3
        first_task = tasks.first.bounding_box()
        assert first_task["y"] + first_task["height"] <= viewport["height"]
        assert page.get_by_role("link", name=re.compile(r"^Consultar processo")).first.is_visible()
        assert _sideways(page) <= 0
        _shot(page, f"inicio-{width}px")
        assert _serious_axe_violations(page) == []
    finally:
        context.close()


def test_phone_menu_folds_behind_a_menu_button_without_javascript(server, browser):
    context = _open(browser, PHONE, javascript=False)
    try:
        page = context.new_page()
        page.goto(server + "/a-vara")
        menu_link = page.locator("#menu a", has_text="Serviços")
        assert not menu_link.is_visible()
        assert not page.locator(".a11y-bar__shortcuts").first.is_visible() or \
            page.locator(".a11y-bar__shortcuts").first.bounding_box()["height"] <= 1
        _shot(page, "menu-fechado-390px-sem-js")
        page.get_by_text("Menu", exact=True).click()
        assert menu_link.is_visible()
        _shot(page, "menu-aberto-390px-sem-js")
        menu_link.click()
        assert page.url.endswith("/servicos")
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_wide_screen_menu_is_always_open(server, browser, javascript):
    context = _open(browser, DESKTOP, javascript=javascript)
    try:
        page = context.new_page()
        page.goto(server + "/a-vara")
        assert page.locator("#menu a", has_text="Serviços").is_visible()
        assert not page.get_by_text("Menu", exact=True).is_visible()
        assert page.locator(".a11y-bar__shortcuts a").first.is_visible()
    finally:
        context.close()


def test_phone_accesskey_hints_show_on_focus(server, browser):
    context = _open(browser, PHONE)
    try:
        page = context.new_page()
        page.goto(server + "/a-vara")
        shortcuts = page.locator(".a11y-bar__shortcuts")
        assert shortcuts.bounding_box()["height"] <= 1
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")  # the first hint
        assert shortcuts.bounding_box()["height"] > 10
        page.keyboard.press("Alt+2")
        assert page.evaluate("document.activeElement.closest('#menu') !== null")
        assert page.locator("#menu a", has_text="Serviços").is_visible()
    finally:
        context.close()


def test_zoom_200_home_reflows(server, browser):
    context = browser.new_context(locale="pt-BR", viewport=ZOOM_200, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(server + "/")
        assert _sideways(page) <= 0
        assert _top(page, "h1") < ZOOM_200["height"]
        _shot(page, "inicio-zoom200")
    finally:
        context.close()


# Reaching the court

@pytest.mark.parametrize("width", WIDTHS)
def test_contact_shows_the_unit_card_first_with_phone_links(server, browser, width):
    viewport = WIDTHS[width]
    context = _open(browser, viewport)
    try:
        page = context.new_page()
        page.goto(server + "/contato")
        card = page.locator(".unit-card")
        assert _top(page, ".unit-card") < _top(page, ".prose")
        assert card.locator('a[href="tel:08009702442"]').is_visible()
        assert card.get_by_role("link", name="página da Ouvidoria do TJES").first.is_visible()
        assert _sideways(page) <= 0
        _shot(page, f"contato-{width}px")
        card.scroll_into_view_if_needed()
        _shot(page, f"contato-ficha-{width}px")
        assert _serious_axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_services_step_by_step_to_follow_a_process(server, browser, width):
    context = _open(browser, WIDTHS[width])
    try:
        page = context.new_page()
        page.goto(server + "/servicos#acompanhar-um-processo-passo-a-passo")
        steps = page.locator("#acompanhar-um-processo-passo-a-passo + ol > li")
        assert steps.count() == 4
        _shot(page, f"servicos-passo-a-passo-{width}px")
        steps.nth(1).get_by_role("link", name="consulta de processos").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/consulta")
        assert _sideways(page) <= 0
    finally:
        context.close()


# The process page

needs_fixtures = pytest.mark.skipif(not SHARED_DATAJUD.is_dir(), reason="shared DataJud fixtures not present")


@needs_fixtures
@pytest.mark.parametrize("width", WIDTHS)
def test_process_page_starts_with_a_summary(server, browser, width):
    viewport = WIDTHS[width]
    context = _open(browser, viewport)
    try:
        page = context.new_page()
        page.goto(server + f"/processos/{TJES_FIXTURE}")
        summary = page.locator(".process-summary")
        assert _top(page, ".process-summary") < viewport["height"]
        text = summary.inner_text()
        assert "Onde está agora" in text and "Última movimentação" in text
        assert re.search(r"há \d+ (dias|meses|anos)|hoje|ontem", text)
        _shot(page, f"processo-resumo-{width}px")
        assert _sideways(page) <= 0
        assert _serious_axe_violations(page) == []
    finally:
        context.close()


# The lookup on a phone

@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("javascript", [True, False])
def test_lookup_error_is_on_the_first_screen_with_the_focus(server, browser, width, javascript):
    viewport = WIDTHS[width]
    context = _open(browser, viewport, javascript=javascript)
    try:
        page = context.new_page()
        page.goto(server + "/consulta")
        page.fill("#numero", "0022783-23.2017.8.08.0024")
        page.get_by_role("button", name="Consultar").click()
        page.wait_for_load_state("load")
        assert page.title().startswith("Erro:")
        error = page.get_by_role("alert")
        assert "dígitos verificadores" in error.inner_text()
        box = error.bounding_box()
        assert box["y"] + box["height"] <= viewport["height"], "the error is below the first screen"
        assert page.evaluate("document.activeElement.id") == "numero"
        assert page.locator("#numero").get_attribute("aria-describedby").startswith("numero-erro")
        _shot(page, f"consulta-erro-{width}px{'' if javascript else '-sem-js'}")
        if javascript:
            assert _serious_axe_violations(page) == []
        page.fill("#numero", "")
        page.get_by_role("button", name="Consultar").click()
        assert "Digite o número do processo" in page.get_by_role("alert").inner_text()
    finally:
        context.close()


@needs_fixtures
def test_pasted_intimation_text_finds_the_process(server, browser):
    context = _open(browser, PHONE)
    try:
        page = context.new_page()
        page.goto(server + "/consulta")
        page.fill("#numero", "Processo nº 0022783\u201322.2017.8.08.0024 (intimação)")
        page.get_by_role("button", name="Consultar").click()
        assert f"/processos/{TJES_FIXTURE}" in page.url
        assert "encontrado no texto" in page.get_by_role("status").first.inner_text()
        _shot(page, "consulta-texto-colado-390px")
    finally:
        context.close()


@needs_fixtures
def test_older_years_unfold_without_javascript(server, browser):
    context = _open(browser, PHONE, javascript=False)
    try:
        page = context.new_page()
        page.goto(server + f"/processos/{TJES_FIXTURE}")
        years = page.locator("details.year")
        assert years.count() > 1
        assert years.first.get_attribute("open") is not None and years.nth(1).get_attribute("open") is None
        hidden_item = years.nth(1).locator(".timeline__item").first
        assert not hidden_item.is_visible()
        years.nth(1).locator("summary").click()
        assert hidden_item.is_visible()
        assert _sideways(page) <= 0
        years.first.locator("summary").scroll_into_view_if_needed()
        _shot(page, "processo-anos-390px-sem-js")
    finally:
        context.close()


def test_zoom_200_process_page_reflows(server, browser):
    if not SHARED_DATAJUD.is_dir():
        pytest.skip("shared DataJud fixtures not present")
    context = browser.new_context(locale="pt-BR", viewport=ZOOM_200, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(server + f"/processos/{TJES_FIXTURE}")
        assert _sideways(page) <= 0
        _shot(page, "processo-zoom200")
    finally:
        context.close()


# axe on every public page at both widths

PUBLIC_PAGES = ["/", "/a-vara", "/servicos", "/perguntas-frequentes", "/contato", "/acessibilidade", "/privacidade",
                "/busca?q=certidao", "/avaliar/servicos", "/consulta", "/consulta?numero=0022783-23.2017.8.08.0024",
                f"/processos/{TJES_FIXTURE}", "/assistente", "/pagina-inexistente"]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_public_page_passes_axe_and_fits(server, browser, width):
    context = _open(browser, WIDTHS[width])
    try:
        page = context.new_page()
        failures = {}
        for path in PUBLIC_PAGES:
            if path.startswith("/processos/") and not SHARED_DATAJUD.is_dir():
                continue
            page.goto(server + path)
            page.wait_for_load_state("load")
            problems = _serious_axe_violations(page)
            if _sideways(page) > 0:
                problems.append(f"scrolls sideways by {_sideways(page)} px")
            if problems:
                failures[path] = problems
        assert failures == {}
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/contato", "/servicos#acompanhar-um-processo-passo-a-passo",
                                  "/consulta?numero=Processo+n%C2%BA+123", "/busca?q=consulta"])
def test_zoom_200_journey_pages_reflow(server, browser, path):
    context = browser.new_context(locale="pt-BR", viewport=ZOOM_200, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(server + path)
        assert _sideways(page) <= 0
        if path.startswith("/consulta"):
            assert page.evaluate("document.activeElement.id") == "numero"
            assert page.get_by_role("alert").is_visible()
        name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-")
        _shot(page, f"zoom200-{name}")
    finally:
        context.close()
