"""The staff paste: several numbers per line, separated by ";", "," or spaces, each with its own verdict."""
import re

import pytest

from extensions import db
from models import utcnow
from services.processes import follows
from tests.conftest import csrf_token_from

TJES = "0022783-22.2017.8.08.0024"
TJSP = "0010490-56.2025.8.26.0309"
OTHER = "0001365-91.2018.8.08.0024"


def test_a_line_may_hold_several_numbers():
    text = f"{TJES}; {TJSP}\n{TJES},{TJES} {TJES}\n\n  00227832220178080024  "
    assert len(follows.pasted_items(text)) == 6


def test_a_piece_without_a_number_is_kept_for_its_own_verdict():
    assert follows.pasted_items(f"{TJES}; lixo\n123") == [TJES, "lixo", "123"]


def test_an_en_dash_from_a_pdf_is_read():
    assert follows.pasted_items("0022783\u201322.2017.8.08.0024") == [TJES]


def test_follow_many_gives_one_verdict_per_number(app):
    with app.app_context():
        verdicts = follows.follow_many(f"{TJES}; {TJSP}; {TJES}", user_id=None)
    assert [v.outcome for v in verdicts] == ["added", "invalid", "repeated"]


# The list page: undo after "Remover", the next sync time, pt-BR statuses (issue 12)

@pytest.fixture
def staff(app, login):
    client = app.test_client()
    login(client, app, role="staff")
    return client


def _token(client) -> str:
    return csrf_token_from(client.get("/equipe/processos").get_data(as_text=True))


def test_remove_offers_undo_that_puts_the_number_back(staff):
    staff.post("/equipe/processos", data={"numbers": f"{TJES}; {OTHER}", "csrf_token": _token(staff)})
    response = staff.post(f"/equipe/processos/{TJES}/remover", data={"csrf_token": _token(staff)},
                          follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "saiu da lista" in html and "Desfazer" in html
    undo = re.search(r'<form method="post" action="(/equipe/processos)" class="undo-form">(.*?)</form>', html, re.S)
    assert undo and f'name="numbers" value="{TJES}"' in undo.group(2)
    again = staff.post(undo.group(1), data={"numbers": TJES, "csrf_token": _token(staff)})
    assert "Adicionado." in again.get_data(as_text=True)


def test_a_number_not_synced_yet_says_when_the_next_sync_runs(staff):
    html = staff.post("/equipe/processos", data={"numbers": OTHER, "csrf_token": _token(staff)},
                      follow_redirects=True).get_data(as_text=True)
    html = staff.get("/equipe/processos").get_data(as_text=True)
    assert re.search(r"aguardando a sincronização \(próxima às <time[^>]*>\d\d:\d\d</time>\)", html)


def test_sync_status_reads_in_portuguese(app, staff):
    from models import ProcessInstance
    staff.post("/equipe/processos", data={"numbers": OTHER, "csrf_token": _token(staff)})
    with app.app_context():
        db.session.add(ProcessInstance(cnj=OTHER.replace("-", "").replace(".", ""), degree="G1", source="datajud",
                                       source_id="test", fetched_at=utcnow(), valid_until=utcnow(),
                                       last_sync_status="error"))
        db.session.commit()
    html = staff.get("/equipe/processos").get_data(as_text=True)
    assert "Última sincronização: falhou" in html and "Última sincronização: error" not in html
