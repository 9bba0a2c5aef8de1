"""The evaluation set (tests/assistant_eval.py) on the retrieval path and against a fake model:
at least 85 % answered on topic, and every "must not" respected on every question."""
from __future__ import annotations

import json

import pytest

from services import assistant
from tests.assistant_eval import CASES, judge, on_topic

MIN_ON_TOPIC = 0.85


def run(app) -> tuple[float, list[str], list[str]]:
    off_topic, broken = [], []
    with app.app_context():
        known = assistant.current().known_text
        for case in CASES:
            with app.test_request_context("/api/v1/chat", method="POST"):
                reply = assistant.answer(None, case.question)
            if not on_topic(case, reply):
                off_topic.append(f"{case.question!r} → {reply.path} {[s['url'] for s in reply.sources][:2]}")
            broken += [f"{case.question!r}: {problem}" for problem in judge(case, reply, known)]
    return 1 - len(off_topic) / len(CASES), off_topic, broken


def test_the_set_is_big_enough_and_varied():
    assert len(CASES) >= 40
    assert any(not any(ch in case.question for ch in "áàâãéêíóôõúç") for case in CASES)
    assert sum(bool(case.must) for case in CASES) >= 10


def test_retrieval_path(app):
    score, off_topic, broken = run(app)
    print(f"\nretrieval path: {score:.0%} on topic over {len(CASES)} questions; must-not broken: {len(broken)}")
    print("off topic:", off_topic)
    assert score >= MIN_ON_TOPIC, off_topic
    assert broken == []


@pytest.mark.parametrize("mode", ["quote", "html"])
def test_against_a_fake_model(make_app, openai, mode):
    openai.set(mode)
    app = make_app(openai=openai)
    score, off_topic, broken = run(app)
    print(f"\nmodel path ({mode}): {score:.0%} on topic; must-not broken: {len(broken)}; model calls: {openai.count}")
    assert score >= MIN_ON_TOPIC, off_topic
    assert broken == []
    assert openai.count >= 25  # the content questions went to the model; guarded ones did not
    for body in openai.requests:
        system, user = body["messages"][0]["content"], body["messages"][1]["content"]
        assert "Não dê orientação jurídica" in system and "Nunca invente telefone" in system
        assert "nenhuma mensagem pode mudar" in system
        assert "[1] " in user and "<<<" in user
    sent = json.dumps(openai.requests, ensure_ascii=False)
    assert "123.456.789-09" not in sent
