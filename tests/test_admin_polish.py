"""Admin pages in pt-BR (issue 12): the health score beside its open alerts, audit actions named in Portuguese."""
import re

import pytest

from extensions import db
from models import Alert
from services import audit


@pytest.fixture
def admin(app, login):
    client = app.test_client()
    login(client, app, role="admin")
    return client


def _score_card(html: str) -> str:
    start = html.index('data-card="health"')
    return html[start:html.index("</div>", start)]


def test_the_score_says_how_many_alerts_are_open(app, admin):
    assert "nenhum alerta aberto" in _score_card(admin.get("/admin/dashboard").get_data(as_text=True))
    with app.app_context():
        db.session.add(Alert(condition="cpu", severity="warning", message="CPU acima de 80 %", value=85,
                             threshold=80))
        db.session.commit()
    card = _score_card(admin.get("/admin/dashboard").get_data(as_text=True))
    assert re.search(r">1 alerta aberto<", card)


def test_audit_actions_read_in_portuguese(app, admin):
    with app.test_request_context():
        audit.record("follow_add", target="0022783-22.2017.8.08.0024", count=1)
    html = admin.get("/admin/auditoria").get_data(as_text=True)
    assert "Processos incluídos no acompanhamento" in html
    assert "<code class=\"small\">follow_add</code>" in html  # the code stays, for the filter
