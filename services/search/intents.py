"""Which FAQ entry (intent) a question asks for: its examples and its passage text scored together.

Each FAQ entry of content/faq.yaml is an intent; its question and `examples` are the ways people ask for it.
A question is scored against every intent as
    EXAMPLE_WEIGHT × (best example's similarity) + PASSAGE_WEIGHT × (BM25 of the entry's text, over the best)
where an example's similarity is the idf-weighted overlap of stems (cosine over binary vectors) blended with the
overlap of character trigrams (for misspellings the stems miss). The best intent wins when its score reaches
MIN_SCORE and the intent's words hold at least MIN_COVERAGE of the question's weight; otherwise no intent
(the assistant's fallback). Figures tuned on the evaluation's tuning half only (tests/citizen_eval.py).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from services.content import FaqEntry
from services.search import text as pt
from services.search.bm25 import BM25

EXAMPLE_WEIGHT = 0.7
PASSAGE_WEIGHT = 0.3
TRIGRAM_SHARE = 0.3  # of an example's similarity: the character trigrams; the rest is the stems
MIN_SCORE = 0.3
MIN_COVERAGE = 0.5
MIN_INTENT_COVERAGE = 0.3  # and at least this share must be words of the winning intent itself
SOCIAL = frozenset(("saudacao", "agradecimento"))
SOCIAL_MIN_COVERAGE = 0.6
_PLAIN = re.compile(r"[a-z0-9]+")
# When something happened says nothing about what it is: these words neither help an intent nor count against
# one (the urgency of "hoje"/"amanhã" is the guardrails' business, services.assistant.guardrails.pressing).
TIME_WORDS = frozenset(("ontem", "hoje", "hj", "amanha", "agora", "ainda", "depois", "antes", "logo", "cedo",
                        "anteontem", "semana", "semanas", "domingo", "segunda", "terca", "quarta", "quinta", "sexta",
                        "sabado"))


def _words(text: str) -> list[str]:
    return [word for word in pt.words(text) if word not in TIME_WORDS]


@dataclass(frozen=True)
class Match:
    intent: str
    score: float
    runner_up: str | None = None


def _trigrams(words: list[str]) -> frozenset[str]:
    grams = set()
    for word in words:
        padded = f" {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


@dataclass(frozen=True)
class _Example:
    intent: int
    stems: frozenset[str]
    norm: float
    grams: frozenset[str]
    plain: frozenset[str]  # every folded word, stop words included ("oi", "bom dia", "valeu")


class IntentMatcher:
    """Built once per app from the FAQ entries (the content changes only with a deploy)."""

    def __init__(self, entries: tuple[FaqEntry, ...], prepare=lambda text: text):
        self.ids = [entry.id for entry in entries]
        self._prepare = prepare  # the colloquial normaliser, applied to examples and questions alike
        asked = [[entry.question, *entry.examples] for entry in entries]
        example_words = [[_words(prepare(item)) for item in items] for items in asked]
        documents = [[pt.stem(w) for items in words for w in items] * 2 +
                     pt.tokens(prepare(entry.question + " " + entry.answer_text))
                     for entry, words in zip(entries, example_words, strict=True)]
        frequency: dict[str, int] = {}
        all_examples = [(index, words) for index, group in enumerate(example_words) for words in group]
        for _, words in all_examples:
            for stem in {pt.stem(word) for word in words}:
                frequency[stem] = frequency.get(stem, 0) + 1
        count = len(all_examples)
        self._idf = {stem: math.log(1 + count / df) for stem, df in frequency.items()}
        self._unknown_idf = math.log(1 + count)
        self._examples = []
        plain = [(index, frozenset(_PLAIN.findall(prepare(item)))) for index, items in enumerate(asked)
                 for item in items]
        for (index, words), (_, every_word) in zip(all_examples, plain, strict=True):
            stems = frozenset(pt.stem(word) for word in words)
            norm = math.sqrt(sum(self._idf[stem] ** 2 for stem in stems)) if stems else 0.0
            self._examples.append(_Example(index, stems, norm, _trigrams(words), every_word))
        self._vocab = [frozenset(doc) for doc in documents]
        self._known = frozenset().union(*self._vocab)
        self._bm25 = BM25(k1=1.2, b=0.75)
        self._bm25.index(documents)

    def _weight(self, stem: str) -> float:
        return self._idf.get(stem, self._unknown_idf)

    def scores(self, question: str) -> list[tuple[float, int]]:
        """(score, intent index) for every intent with any overlap, best first."""
        prepared = self._prepare(question)
        words = _words(prepared)
        stems = frozenset(pt.stem(word) for word in words)
        if not stems:
            return self._only_stop_words(frozenset(_PLAIN.findall(prepared)))
        query_norm = math.sqrt(sum(self._weight(stem) ** 2 for stem in stems))
        grams = _trigrams(words)
        best = [0.0] * len(self.ids)
        for example in self._examples:
            if not example.stems:
                continue
            shared = stems & example.stems
            cosine = sum(self._weight(stem) ** 2 for stem in shared) / (query_norm * example.norm) if shared else 0.0
            trigram = len(grams & example.grams) / math.sqrt(len(grams) * len(example.grams)) if grams else 0.0
            similarity = (1 - TRIGRAM_SHARE) * cosine + TRIGRAM_SHARE * trigram
            if similarity > best[example.intent]:
                best[example.intent] = similarity
        passage = self._bm25.get_scores([stem for stem in stems if stem in self._idf] or list(stems))
        top = max(passage, default=0.0)
        combined = []
        for index, similarity in enumerate(best):
            score = EXAMPLE_WEIGHT * similarity + PASSAGE_WEIGHT * (float(passage[index]) / top if top else 0.0)
            if score > 0:
                combined.append((score, index))
        combined.sort(reverse=True)
        return combined

    def _only_stop_words(self, plain: frozenset[str]) -> list[tuple[float, int]]:
        """A message of stop words only ("oi", "bom dia", "valeu"): the examples that hold the same words."""
        best: dict[int, float] = {}
        for example in self._examples:
            if plain and example.plain:
                overlap = len(plain & example.plain) / len(plain | example.plain)
                best[example.intent] = max(best.get(example.intent, 0.0), overlap)
        return sorted(((score, index) for index, score in best.items() if score >= MIN_SCORE), reverse=True)

    def coverage(self, question: str, index: int | None = None) -> float:
        """The share of the question's weight (idf of its stems) that intent `index`'s words hold (None: any
        intent's words — how much of the question is about what the content covers at all)."""
        # Numbers (a value, an age, a date) say nothing about the topic: they neither help nor count against.
        stems = {pt.stem(word) for word in _words(self._prepare(question)) if not word.isdigit()}
        vocabulary = self._known if index is None else self._vocab[index]
        total = sum(self._weight(stem) for stem in stems)
        held = sum(self._weight(stem) for stem in stems if stem in vocabulary)
        return held / total if total else 0.0

    def match(self, question: str, allowed=None) -> Match | None:
        """The intent the question asks for, or None (nothing close enough). `allowed`: only these ids."""
        ranked = [(score, index) for score, index in self.scores(question)
                  if allowed is None or self.ids[index] in allowed]
        if not ranked:
            return None
        # A greeting or a thanks wins only when it is most of the message: "bom dia, como acompanho o meu
        # processo?" asks about the process.
        while len(ranked) > 1 and self.ids[ranked[0][1]] in SOCIAL and \
                self.coverage(question, ranked[0][1]) < SOCIAL_MIN_COVERAGE:
            ranked = ranked[1:]
        score, index = ranked[0]
        stop_words_only = not _words(self._prepare(question))
        if score < MIN_SCORE or (not stop_words_only and (self.coverage(question) < MIN_COVERAGE or
                                                          self.coverage(question, index) < MIN_INTENT_COVERAGE)):
            return None
        runner_up = self.ids[ranked[1][1]] if len(ranked) > 1 else None
        return Match(self.ids[index], score, runner_up)
