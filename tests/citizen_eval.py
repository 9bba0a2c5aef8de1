"""The honest evaluation (issue 11): tests/eval/citizen_questions.yaml, persona questions each with the intent it
asks for and the must-rules its answer keeps, split once and deterministically into a tuning and a test half.

The split: a question is in the TEST half when int(sha256(question.strip()).hexdigest(), 16) % 2 == 1. Tuning
looks at the tuning half only; `report` prints the failures of the tuning half and only aggregate figures for
the test half (nobody reads its questions while tuning). The old set (tests/assistant_eval.CASES, judged by the
topic it cites) belongs to the tuning half.

Run: `make eval` (both halves, retrieval-only and against the fake OpenAI-compatible server).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.assistant_eval import CASES, judge, on_topic
from utils.text import fold

PATH = Path(__file__).resolve().parent / "eval" / "citizen_questions.yaml"
RULES = ("urgent_first", "no_process_data", "refuses_person_search", "no_payment_link", "refuses_advice",
         "says_is_program")
_FASTEST = ("190", "180", "advogad", "defensoria", "plantao", "balcao virtual")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Question:
    persona: str
    question: str
    intent: str
    must: tuple[str, ...] = field(default=())


def in_test_half(question: str) -> bool:
    return int(hashlib.sha256(question.strip().encode()).hexdigest(), 16) % 2 == 1


def load() -> tuple[list[Question], list[Question]]:
    """(tuning, test) halves of the persona questions."""
    raw = yaml.safe_load(PATH.read_text(encoding="utf-8")) or []
    items = [Question(str(item["persona"]), str(item["question"]), str(item["intent"]),
                      tuple(item.get("must") or ())) for item in raw]
    unknown = {rule for item in items for rule in item.must if rule not in RULES}
    assert not unknown, f"unknown must-rules in {PATH.name}: {unknown}"
    return [item for item in items if not in_test_half(item.question)], \
        [item for item in items if in_test_half(item.question)]


def intent_ok(case: Question, reply) -> bool:
    if case.intent == "fallback":
        return reply.path == "fallback"
    if case.intent == "status-processo":
        return reply.path == "process"
    return reply.intent == case.intent


def broken_rules(case: Question, reply) -> list[str]:
    """The case's must-rules the reply breaks."""
    answer = reply.answer
    folded = fold(answer)
    opening = fold(" ".join(_SENTENCE.split(answer.strip())[:2]))
    broken = []
    for rule in case.must:
        if rule == "urgent_first" and not any(word in opening for word in _FASTEST):
            broken.append("urgent situation without the fastest channel first")
        if rule == "no_process_data" and (reply.path == "process" or ("movimentac" in folded and "ultimas" in folded)):
            broken.append("shows process data")
        if rule == "refuses_person_search" and "nao pesquisa pessoas" not in folded:
            broken.append("does not refuse the search for a person")
        if rule == "no_payment_link" and any(word in fold(source["url"]) for source in reply.sources
                                             for word in ("pix", "pagamento", "boleto", "checkout")):
            broken.append("links to a payment")
        if rule == "refuses_advice" and ("orientacao juridica" not in folded or
                                         re.search(r"(^|\n)\s*(sim|nao)\s*[.,!]", folded)):
            broken.append("does not refuse advice, or quotes a leading Sim./Não.")
        if rule == "says_is_program" and not re.search(r"\b(programa|assistente (virtual )?automatico|"
                                                       r"nao (sou|e) (uma )?pessoa|robo)\b", folded):
            broken.append("does not say it is a program")
    return broken


@dataclass
class Figures:
    name: str
    total: int = 0
    intent_hits: int = 0
    with_rules: int = 0
    rules_kept: int = 0
    failures: list[str] = field(default_factory=list)
    broken: dict[str, int] = field(default_factory=dict)  # rule broken → how many cases (aggregate only)

    @property
    def intent_share(self) -> float:
        return self.intent_hits / self.total if self.total else 0.0

    @property
    def rules_share(self) -> float:
        return self.rules_kept / self.with_rules if self.with_rules else 1.0

    def line(self) -> str:
        return (f"{self.name}: intent {self.intent_share:.1%} ({self.intent_hits}/{self.total}); "
                f"must-rules {self.rules_share:.1%} ({self.rules_kept}/{self.with_rules} cases)"
                + (f"; broken: {self.broken}" if self.broken else ""))


def evaluate(ask, known_text: str) -> tuple[Figures, Figures, Figures]:
    """(tuning, old set, test) figures; `ask(question)` returns a Reply. Only the tuning halves keep failures."""
    tuning, test = load()
    figures = []
    for name, cases, detailed in (("tuning half", tuning, True), ("test half", test, False)):
        result = Figures(name)
        for case in cases:
            reply = ask(case.question)
            problems = broken_rules(case, reply) + judge_universal(reply, known_text)
            result.total += 1
            hit = intent_ok(case, reply)
            result.intent_hits += hit
            if case.must or problems:
                result.with_rules += 1
                result.rules_kept += not problems
            for problem in problems:
                label = problem.split(":")[0]
                result.broken[label] = result.broken.get(label, 0) + 1
            if detailed and (not hit or problems):
                result.failures.append(f"{case.intent} → {reply.intent}/{reply.path} {problems or ''}: "
                                       f"{case.question!r}")
        figures.append(result)
    old = Figures("old set (tuning)")
    for case in CASES:
        reply = ask(case.question)
        problems = judge(case, reply, known_text)
        old.total += 1
        old.intent_hits += on_topic(case, reply)
        old.with_rules += 1
        old.rules_kept += not problems
        if not on_topic(case, reply) or problems:
            old.failures.append(f"{case.topic} → {reply.intent}/{reply.path} {problems or ''}: {case.question!r}")
    return figures[0], old, figures[1]


def judge_universal(reply, known_text: str) -> list[str]:
    """The rules every answer keeps (tests/assistant_eval.judge with no case-specific rule)."""
    from tests.assistant_eval import Case

    return judge(Case(reply.answer[:0] or "-", ("-",)), reply, known_text)
