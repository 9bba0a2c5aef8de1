"""Issue 11's examples, each answered on topic, and the answer's shape: the first sentence answers, urgency first,
no leading "Sim."/"Não." quoted after a refusal, the intent in the reply."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services import assistant
from services.assistant import compose
from tests.conftest import csrf_token_from
from utils.text import fold

EXAMPLES = [
    ("vou ser despejado amanha!!! oq eu faço", "despejo"),
    ("qual o telefone da 2 vara civel", "endereco-telefone-horario"),
    ("quanto custa as custas pra abrir um processo", "custas-e-guias"),
    ("meu patrao nao pagou minha recisao, posso processar aqui", "justica-do-trabalho"),
    ("quem é o juiz da vara", "quem-e-o-juiz"),
    ("oi", "saudacao"),
    ("bom dia", "saudacao"),
    ("quero falar com um atendente humano", "falar-com-humano"),
    ("devo aceitar o acordo?", "orientacao-juridica"),
]


def _ask(app, question):
    with app.test_request_context("/api/v1/chat", method="POST"):
        return assistant.answer(None, question)


@pytest.mark.parametrize(("question", "intent"), EXAMPLES)
def test_the_issues_examples_are_answered_on_topic(app, question, intent):
    reply = _ask(app, question)
    assert reply.intent == intent, (reply.intent, reply.answer[:200])
    assert reply.path != "fallback"
    first_line = reply.answer.split("\n", 1)[0]
    assert not first_line.startswith(("Perguntas frequentes", "Aviso de privacidade", "Privacidade")), first_line


def test_eviction_tomorrow_gets_the_fastest_channel_before_the_topic(app):
    reply = _ask(app, "vou ser despejado amanha!!! oq eu faço")
    opening = fold(reply.answer.split("\n\n", 1)[0])
    assert "advogado" in opening and "defensoria" in opening
    assert "plantao" in opening or "balcao virtual" in opening
    assert "despejo" in fold(reply.answer)


def test_the_refusal_quotes_no_leading_yes_or_no(app):
    reply = _ask(app, "devo aceitar o acordo?")
    assert "orientação jurídica" in reply.answer
    for paragraph in reply.answer.split("\n"):
        assert not fold(paragraph).lstrip().startswith(("sim.", "nao.", "sim,", "nao,")), paragraph


def test_a_cnj_number_keeps_the_process_path(app):
    reply = _ask(app, "como está o processo 5001234-91.2023.8.08.0012?")
    assert reply.path == "process" and reply.intent == "status-processo"


def test_out_of_scope_is_the_fallback(app):
    reply = _ask(app, "receita de bolo de cenoura")
    assert reply.path == "fallback" and reply.intent == "fallback"


@pytest.mark.parametrize(("moment", "channel"), [
    (datetime(2026, 12, 2, 14, 0, tzinfo=UTC), "Balcão Virtual"),  # Wednesday 11h in Cariacica
    (datetime(2026, 12, 2, 23, 30, tzinfo=UTC), "plantão judiciário"),  # Wednesday 20h30
    (datetime(2026, 12, 5, 14, 0, tzinfo=UTC), "plantão judiciário"),  # Saturday
])
def test_the_fastest_channel_follows_the_office_hours(app, moment, channel):
    with app.app_context():
        text = compose.fastest_channel(moment)
    assert text.startswith("É urgente: fale hoje com o seu advogado")
    assert channel in text


def test_without_verdict():
    assert compose.without_verdict("Não. O acordo só vale se...") == "O acordo só vale se..."
    assert compose.without_verdict("Sim, pode.") == "Pode."
    assert compose.without_verdict("Não posso.") == "Não posso."


def test_the_json_api_gives_sources_and_the_chat_page_renders_links(client):
    response = client.post("/api/v1/chat", json={"message": "como acompanho meu processo?"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["sources"] and all(source["url"] for source in body["sources"])


def test_one_index_serves_the_site_search_and_busca_lists_the_lookup_page(app, client):
    from services import search

    html = client.get("/busca?q=consulta").get_data(as_text=True)
    assert 'href="/consulta"' in html
    with app.app_context():
        assert assistant.current().index is search.current()
        assert search.site_search("consulta")[0].path == "/consulta"


def test_the_json_api_names_the_intent(client):
    body = client.post("/api/v1/chat", json={"message": "quero falar com um atendente humano"}).get_json()
    assert body["intent"] == "falar-com-humano" and body["path"] == "retrieval"


def test_official_addresses_in_an_answer_are_links_on_the_page_and_nothing_else_is_markup(app, client):
    from services.assistant import compose

    with app.app_context():
        html = str(compose.linked("Veja https://www.tjes.jus.br/balcao-virtual/. "
                                  "Não: http://golpe.example/pix <b>x</b>"))
    assert '<a href="https://www.tjes.jus.br/balcao-virtual/">https://www.tjes.jus.br/balcao-virtual/</a>.' in html
    assert "golpe.example/pix" in html and 'href="http://golpe' not in html and "&lt;b&gt;" in html
    token = csrf_token_from(client.get("/assistente").get_data(as_text=True))
    page = client.post("/assistente", data={"mensagem": "quero falar com um atendente humano", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert '<a href="https://www.tjes.jus.br/balcao-virtual/">' in page


def test_the_process_summary_never_cuts_a_group_of_movements_sharing_a_moment():
    from services.assistant import process_status

    same = "2026-11-30T15:00:00Z"
    movements = [{"date": "2026-12-01T10:00:00Z"}, {"date": "2026-11-30T18:00:00Z"}, {"date": same},
                 {"date": same}, {"date": same}, {"date": "2026-11-01T10:00:00Z"}]
    assert process_status._recent(movements) == movements[:5]
    assert process_status._recent(movements[:2]) == movements[:2]


@pytest.mark.parametrize(("name", "meaning"), [
    ("Não-Provimento", "não provido"), ("Conhecido o recurso e provido", "“provido”"),
    ("Conhecido o recurso e provido em parte", "“em parte”"), ("Julgado improcedente o pedido", "improcedente"),
    ("Homologada a Transação", "homologado"),
])
def test_the_process_summary_explains_judgement_outcomes(name, meaning):
    from services.assistant import process_status

    found = process_status._outcomes([{"name": name, "complements": []}])
    assert len(found) == 1 and meaning in found[0]
