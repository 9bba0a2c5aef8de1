"""Search: the one index over the court's content, for the site search (/busca) and the assistant.

`init_app(app)` builds the index once per app, after the content is loaded (the content changes only with a
deploy). `site_search(query)` gives /busca its hits, a page section or FAQ entry each with its address and a
snippet; the assistant asks `current().search(question)` for the passages it answers from, with a stricter share
of the question that a passage must hold, and `current().intents.match(...)` for the FAQ entry a question asks
for. Modules: `index` (BM25 over the passages, typo guesses and synonyms), `intents` (examples and passage text
scored together), `colloquial` (phone writing, spelling against a pt-BR lexicon), `text` (pt-BR words, stop words,
stems, the question normaliser).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from services.search.index import Hit, Index, Passage
from utils.text import fold

__all__ = ["Hit", "Index", "Passage", "SearchHit", "current", "init_app", "site_search"]

# /busca lists anything that holds a fair share of what was typed; the assistant is stricter (index.MIN_COVERAGE).
SITE_MIN_COVERAGE = 0.3
SNIPPET_CHARS = 200


@dataclass(frozen=True)
class SearchHit:
    title: str
    path: str
    snippet: str
    score: float


def init_app(app) -> None:
    app.extensions["search"] = Index(app.extensions["content"], lexicon_cache_dir=app.instance_path)


def current(app=None) -> Index:
    return (app or current_app).extensions["search"]


def site_search(query: str, limit: int = 10) -> list[SearchHit]:
    """Page sections and FAQ entries about the query, best first."""
    hits = current().search(query, k=limit, min_coverage=SITE_MIN_COVERAGE)
    words = [word for word in fold(query).split() if len(word) > 2]
    return [SearchHit(hit.passage.title, hit.passage.url, _snippet(hit.passage.text, words), hit.score)
            for hit in hits]


def _snippet(text: str, words: list[str]) -> str:
    flat = " ".join(text.split())
    folded = fold(flat)
    positions = [found for word in words if (found := folded.find(word[:6])) >= 0]
    start = max(min(positions) - 60, 0) if positions else 0
    snippet = flat[start:start + SNIPPET_CHARS].strip()
    return ("… " if start else "") + snippet + (" …" if start + SNIPPET_CHARS < len(flat) else "")
