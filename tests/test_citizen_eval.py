"""The persona evaluation (tests/citizen_eval.py) on both paths: the test half's intent and must-rule figures.

`make eval` runs this file with -s to print both halves; the tuning half's failures are printed, the test half
only as figures. The issue's goal — >= 90 % intent and 100 % must-rules on the test half — is reached (91.9 %,
21 of 21 must-rule cases, 2026-12-04, without tuning on the test half) and asserted, on both paths
(docs/ASSISTANT_EVALUATION.md)."""
from __future__ import annotations

import pytest

from services import assistant
from tests.citizen_eval import evaluate, load

TEST_MIN_INTENT = 0.90  # the goal
TEST_MIN_RULES = 1.0


def _run(app, label):
    with app.app_context():
        known = assistant.current().known_text

        def ask(question):
            with app.test_request_context("/api/v1/chat", method="POST"):
                return assistant.answer(None, question)

        tuning, old, test = evaluate(ask, known)
    print(f"\n[{label}] {tuning.line()}\n[{label}] {old.line()}\n[{label}] {test.line()}")
    for failure in tuning.failures + old.failures:
        print(f"  tuning failure: {failure}")
    return tuning, old, test


def test_the_split_is_fixed_and_both_halves_are_big_enough():
    tuning, test = load()
    assert len(tuning) + len(test) >= 240
    assert len(tuning) >= 100 and len(test) >= 100


def test_retrieval_path(app):
    _, _, test = _run(app, "retrieval")
    assert test.intent_share >= TEST_MIN_INTENT
    assert test.rules_share >= TEST_MIN_RULES


@pytest.mark.parametrize("mode", ["quote"])
def test_against_the_fake_model(make_app, openai, mode):
    openai.set(mode)
    _, _, test = _run(make_app(openai=openai), f"fake model, {mode}")
    assert openai.count > 0
    assert test.intent_share >= TEST_MIN_INTENT
    assert test.rules_share >= TEST_MIN_RULES
