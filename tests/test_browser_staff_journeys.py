"""The restricted area on a phone and at 200 % zoom (issue 12): the follow list as cards without sideways scrolling,
unique landmarks, pt-BR statuses and audit actions, the dashboard's score beside its open alerts and charts on a
time axis. Screenshots go to $JOURNEY_SCREENSHOTS (default: under the system's temporary directory)."""
from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD, gunicorn_portal
from tests.test_browser_admin import wait_until
from tests.test_browser_journeys import DESKTOP, PHONE, ZOOM_200, _serious_axe_violations, _shot, _sideways

pytestmark = pytest.mark.browser

ADMIN, STAFF = "admin.journeys", "staff.journeys"
VIEWPORTS = {"390": PHONE, "1366": DESKTOP, "zoom200": ZOOM_200}


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    users = ((ADMIN, "admin"), (STAFF, "staff"))
    with gunicorn_portal(tmp_path_factory.mktemp("staff-journeys"), sqlite_template, users=users,
                         MONITORING_SAMPLE_INTERVAL_S="5") as url:
        yield url


def _log_in(browser, server, username, viewport):
    context = browser.new_context(locale="pt-BR", viewport=viewport)
    page = context.new_page()
    page.goto(server + "/admin/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")
    return context, page


@pytest.fixture(scope="module")
def followed(browser, server):
    """Two numbers on the list (one line, separated by ';'), added once for the module."""
    context, page = _log_in(browser, server, STAFF, DESKTOP)
    try:
        page.fill("#numbers", "0022783-22.2017.8.08.0024; 0000123-45.2024.8.08.0012\nlixo")
        page.click("form[action$='/equipe/processos'] button[type=submit]")
        assert page.inner_text("main").count("Adicionado.") >= 1
    finally:
        context.close()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_follow_list_fits_without_sideways_scroll(browser, server, followed, size):
    context, page = _log_in(browser, server, STAFF, VIEWPORTS[size])
    try:
        page.goto(server + "/equipe/processos")
        assert page.locator("table.data-table--cards tbody tr").count() >= 1
        assert _sideways(page) <= 0, f"scrolls sideways at {size}"
        scroller = page.locator(".table-scroll").first
        assert scroller.evaluate("e => e.scrollWidth - e.clientWidth") <= 1
        _shot(page, f"equipe-lista-{size}")
        page.locator("#lista-titulo").scroll_into_view_if_needed()
        _shot(page, f"equipe-lista-cards-{size}")
        assert _serious_axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("size", ["390", "1366"])
def test_admin_pages_pass_axe_at_both_widths(browser, server, followed, size):
    context, page = _log_in(browser, server, ADMIN, VIEWPORTS[size])
    try:
        for path in ("/admin/dashboard", "/admin/auditoria", "/equipe/processos"):
            page.goto(server + path)
            page.wait_for_load_state("load")
            assert _serious_axe_violations(page) == [], path
            assert _sideways(page) <= 0, path
        page.goto(server + "/admin/auditoria")
        text = page.inner_text("main")
        assert "Processos incluídos no acompanhamento" in text
        _shot(page, f"admin-auditoria-{size}")
    finally:
        context.close()


def test_dashboard_score_counts_open_alerts_and_charts_use_time(browser, server):
    context, page = _log_in(browser, server, ADMIN, DESKTOP)
    try:
        status = page.locator("[data-card='health'] [data-field='alerts.length']")
        assert status.inner_text().endswith(("nenhum alerta aberto", "alerta aberto", "alertas abertos"))
        wait_until(page, "() => Array.from(document.querySelectorAll('figure.chart canvas'))"
                         ".every(c => window.Chart && Chart.getChart(c))")
        config = page.evaluate("() => { const c = Chart.getChart(document.querySelector('figure.chart canvas'));"
                               " return {x: c.options.scales.x.type, tension: c.data.datasets[0].tension,"
                               " spanGaps: c.data.datasets[0].spanGaps}; }")
        assert config == {"x": "linear", "tension": 0, "spanGaps": False}
        _shot(page, "admin-painel-1366")
    finally:
        context.close()
