"""The general forms of asking for advice or a prediction, the service questions that are not advice, violence in
words beyond the list, near evictions, the refusal on every path, and the plain-Python BM25."""
from __future__ import annotations

import math

import pytest

from services import assistant
from services.assistant import compose, guardrails
from services.search.bm25 import BM25
from utils.text import fold


def _ask(app, question):
    with app.test_request_context("/api/v1/chat", method="POST"):
        return assistant.answer(None, question)


@pytest.mark.parametrize("question", [
    "é melhor eu aceitar?", "compensa entrar com ação?", "vale a pena recorrer?", "vc acha que eu ganho?",
    "o que você acha disso", "o que vc faria no meu lugar", "eu deveria recorrer?", "tenho chance?",
    "dá pra ganhar essa?", "vou conseguir a guarda?", "posso parar de pagar o aluguel?", "é certo que vou receber?",
    "tenho direito a indenização?", "me ajuda a escrever a petição", "qual a chance de ganhar",
    "o juiz vai me conceder a liminar?", "devo assinar o acordo?",
])
def test_requests_for_advice_or_a_prediction(question):
    assert guardrails.advice_asked(question) == guardrails.ADVICE


@pytest.mark.parametrize("question", [
    "tenho direito a justiça gratuita?", "tenho direito à Defensoria?", "quanto devo pagar de custas?",
    "como devo pagar a guia?", "o que é uma ação de despejo?", "o que devo levar na audiência?",
])
def test_information_questions_are_not_advice(question):
    assert guardrails.advice_asked(question) is None


@pytest.mark.parametrize(("question", "pressing"), [
    ("recebi o mandado de despejo", "despejo"),
    ("tenho 15 dias pra sair da casa por causa do despejo", "despejo"),
    ("vou ser despejado, o que acontece?", "despejo"),
    ("o que é uma ação de despejo?", None),
])
def test_an_eviction_ordered_or_near_is_pressing(question, pressing):
    assert guardrails.pressing(question) == pressing


@pytest.mark.parametrize("question", ["meu marido me bateu ontem", "tenho muito medo dele", "apanhei do meu ex"])
def test_violence_in_everyday_words_is_urgent(question):
    assert guardrails.intent(question) == guardrails.URGENT


def test_fear_of_losing_a_case_is_not_violence():
    assert guardrails.intent("tenho medo de perder o processo") != guardrails.URGENT


def test_a_refusal_on_an_urgent_topic_keeps_the_fastest_channel_first_and_no_verdict():
    reply = ("Procure hoje o seu advogado ou a Defensoria. Não. O prazo é curto.", [], "retrieval", "despejo")
    text, *_ = compose.with_refusal(reply, True)
    first, second = text.split("\n\n")[:2]
    assert "advogado" in first and second == compose.REFUSAL
    for paragraph in text.split("\n"):
        assert not fold(paragraph).startswith(("sim.", "nao.")), paragraph


def test_every_path_of_an_advice_question_says_no_advice_is_given(app):
    for question in ("vale a pena pagar a custas ou pedir gratuidade?", "vou ser despejado amanhã, compensa recorrer?",
                     "o processo 5001234-91.2023.8.08.0012 vai dar certo?"):
        answer = _ask(app, question).answer
        assert "orientação jurídica" in answer, answer[:300]
        assert not any(fold(line).lstrip().startswith(("sim.", "nao.", "sim,", "nao,"))
                       for line in answer.split("\n")), answer[:300]


def test_bm25_scores_as_the_formula_says():
    corpus = [["despej", "ord", "despej"], ["custa", "guia"], ["guia"]]
    bm25 = BM25(k1=1.2, b=0.75)
    bm25.index(corpus)
    average = 2.0
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 2 / (1.2 * (0.25 + 0.75 * 3 / average) + 2)
    scores = bm25.get_scores(["despej", "nada"])
    assert scores[0] == pytest.approx(expected) and scores[1:] == [0.0, 0.0]
    guia = bm25.get_scores(["guia"])
    assert guia[2] > guia[1] > 0  # the shorter document holding the word ranks higher


def test_when_something_happened_does_not_make_a_question_a_topic(app):
    """"ontem"/"hoje" in an out-of-scope question do not pull it to an entry whose examples say "ontem"."""
    reply = _ask(app, "quem ganhou o jogo de futebol ontem?")
    assert reply.path == "fallback", (reply.intent, reply.answer[:200])
