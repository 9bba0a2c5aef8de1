"""The admin page of unanswered questions and page feedback (/admin/perguntas-e-avaliacoes): admin only, masked,
newest first, repeated questions counted."""
from __future__ import annotations

from datetime import timedelta

from extensions import db
from models import PageFeedback, utcnow
from services import assistant
from services.assistant import review

CPF = "123.456.789-09"


def _ask(app, question):
    with app.test_request_context("/api/v1/chat", method="POST"):
        return assistant.answer(None, question)


def test_unanswered_questions_are_grouped_masked_and_newest_first(app):
    for question in ("receita de bolo de cenoura", f"receita de bolo de cenoura, meu cpf {CPF}",
                     "quem ganhou o jogo de futebol ontem?", "Receita de bolo de cenoura", "Como tiro uma certidão?"):
        _ask(app, question)
    with app.app_context():
        rows = review.unanswered()
    assert [row.question for row in rows] == ["Receita de bolo de cenoura", "quem ganhou o jogo de futebol ontem?",
                                              "receita de bolo de cenoura, meu cpf ***.***.***-**"]
    assert [row.count for row in rows] == [2, 1, 1]
    assert all(CPF not in row.question for row in rows)


def test_page_votes_and_comments(app):
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            PageFeedback(page="servicos", helpful=True, comment=None, created_at=now - timedelta(hours=2)),
            PageFeedback(page="servicos", helpful=False, comment=f"faltou o telefone, cpf {CPF}",
                         created_at=now - timedelta(hours=1)),
            PageFeedback(page="contato", helpful=False, comment="não achei o endereço", created_at=now),
        ])
        db.session.commit()
        votes = review.page_votes()
        comments = review.comments()
    assert [(v.page, v.helpful, v.not_helpful) for v in votes] == [("servicos", 1, 1), ("contato", 0, 1)]
    assert [c.text for c in comments] == ["não achei o endereço", "faltou o telefone, cpf ***.***.***-**"]


def test_the_page_is_for_admins_only_and_linked_from_the_admin_navigation(app, client, make_app, login):
    assert client.get("/admin/perguntas-e-avaliacoes").status_code in (302, 401, 403)
    staff = app.test_client()
    login(staff, app, role="staff")
    assert staff.get("/admin/perguntas-e-avaliacoes").status_code == 403
    _ask(app, "receita de bolo de cenoura")
    login(client, app, role="admin")
    html = client.get("/admin/perguntas-e-avaliacoes").get_data(as_text=True)
    assert "Perguntas sem resposta ou com resposta que não ajudou" in html and "receita de bolo de cenoura" in html
    assert "Esta página foi útil?" in html
    assert 'href="/admin/perguntas-e-avaliacoes"' in client.get("/admin/auditoria").get_data(as_text=True)


def test_a_thumbs_down_from_the_chat_page_lists_the_question(app, client, login):
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get("/assistente").get_data(as_text=True))
    page = client.post("/assistente", data={"mensagem": "Como tiro uma certidão?", "csrf_token": token})
    html = page.get_data(as_text=True)
    assert "Esta resposta ajudou?" in html
    response = client.post("/assistente/avaliar", data={"util": "nao", "csrf_token": csrf_token_from(html)})
    assert response.status_code == 303
    assert "Obrigado pela avaliação." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.post("/assistente/avaliar", data={"util": "talvez", "csrf_token": token}).status_code == 400
    with app.app_context():
        rows = review.unanswered()
    assert [(row.question, row.not_found, row.not_helpful) for row in rows] == [("Como tiro uma certidão?", 0, 1)]
    fresh = app.test_client()
    fresh_token = csrf_token_from(fresh.get("/assistente").get_data(as_text=True))
    assert fresh.post("/assistente/avaliar", data={"util": "sim", "csrf_token": fresh_token}).status_code == 400
