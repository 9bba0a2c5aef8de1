"""The assistant's answer time on the retrieval path (issue 11: median under 50 ms), and the effect of each piece
of the colloquial normaliser on the evaluation's TUNING half (never the test half's questions).

    .venv/bin/python bench/assistant_bench.py             # median / p95 of assistant.answer over the tuning half
    .venv/bin/python bench/assistant_bench.py --ablation  # tuning-half intent accuracy with and without each piece

One app in this process (SQLite in a temporary folder, no Redis, no model), the questions asked through
`assistant.answer` inside a request context, as the chat view does; the figures are per answer, storage
included. Not a test: no timed asserts anywhere (docs/ASSISTANT_EVALUATION.md quotes the figures).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.citizen_eval import broken_rules, intent_ok, load  # noqa: E402

PIECES = ("squeeze", "expand", "spell")


def build_app(pieces=PIECES):
    from services.search import index as search_index

    search_index.NORMALISER_PIECES = tuple(pieces)
    tmp = tempfile.mkdtemp(prefix="assistant-bench-")
    os.environ.update(SESSION_SECRET="bench-" + "s" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
                      LOG_FILE=f"{tmp}/portal.log", ASSISTANT_CACHE_TTL="0")
    os.environ.pop("OPENAI_API_KEY", None)
    from app import create_app
    from extensions import db

    app = create_app()
    with app.app_context():
        db.create_all()  # a serving app does not load Flask-Migrate; the tables are all the assistant needs
    return app


def ask(app, question):
    from services import assistant

    with app.test_request_context("/api/v1/chat", method="POST"):
        return assistant.answer(None, question)


def timing() -> None:
    app = build_app()
    tuning, _ = load()
    questions = [case.question for case in tuning]
    for question in questions[:10]:  # warm-up: first-use caches (stems, spelling)
        ask(app, question)
    times = []
    for _ in range(3):
        for question in questions:
            started = time.perf_counter()
            ask(app, question)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"assistant retrieval-only: {len(times)} answers over {len(questions)} tuning questions; "
          f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")


def ablation() -> None:
    tuning, _ = load()
    variants = [(), ("squeeze",), ("expand",), ("spell",), ("squeeze", "expand"), PIECES]
    for pieces in variants:
        app = build_app(pieces)
        hits = kept = ruled = 0
        for case in tuning:
            reply = ask(app, case.question)
            hits += intent_ok(case, reply)
            if case.must:
                ruled += 1
                kept += not broken_rules(case, reply)
        print(f"normaliser {'+'.join(pieces) or 'none':<22} tuning half intent {hits / len(tuning):.1%} "
              f"({hits}/{len(tuning)}), must-rules {kept}/{ruled}")


if __name__ == "__main__":
    ablation() if "--ablation" in sys.argv else timing()
