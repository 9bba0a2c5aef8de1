"""The one search index over the court's content: BM25 over the FAQ entries and every section of every page.

The passages come from the same loaded `Content` the pages render (services.content), so /busca finds and the
assistant can only say what the portal publishes. services.search.bm25 ranks them; the tokens are folded,
stop-worded and stemmed pt-BR (services.search.text), a misspelt word is brought to the closest
word of the corpus, and a few everyday words are expanded to the words the content uses.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from services.content import FAQ_SLUG, LOOKUP_SUMMARY, LOOKUP_TITLE, Content, Source
from services.search import colloquial
from services.search import text as pt
from services.search.bm25 import BM25
from services.search.intents import IntentMatcher
from utils.text import fold

# A passage is used only when it scores at least MIN_SCORE (BM25, k1=1.2, b=0.75 over this corpus) and holds
# at least MIN_COVERAGE of the question's weight (the idf of its words, a word the corpus lacks counting as the
# rarest): "previsão do tempo amanhã" shares a word or two with the content but is not about it. Below either,
# the assistant says it did not find the information. Tuned on tests/assistant_eval.py.
MIN_SCORE = 1.0
MIN_COVERAGE = 0.45
# A word matched only through a typo correction is a guess: it holds part of its weight.
GUESSED_WORD_SHARE = 0.7
CANDIDATES = 10
FAQ_QUESTION_WEIGHT = 3  # the question of a FAQ entry says what it answers: it counts three times
TITLE_WEIGHT = 2
# The pieces of the colloquial normaliser applied before intent matching, kept only where they helped on the
# evaluation's tuning half (bench/assistant_bench.py --ablation; docs/ASSISTANT_EVALUATION.md): spelling 87.3 → 89.9 %;
# stretched letters ("squeeze") and phone abbreviations ("expand") changed nothing there, so they stay off.
NORMALISER_PIECES = ("spell",)

# Everyday words → the words the content uses (folded, before stemming).
SYNONYMS = {
    "ligar": "telefone", "telefonar": "telefone", "fone": "telefone", "zap": "whatsapp", "zapzap": "whatsapp",
    "fica": "endereco", "localizacao": "endereco", "localiza": "endereco", "chegar": "endereco",
    "abre": "atendimento", "fecha": "atendimento", "forum": "endereco", "funciona": "horario", "expediente": "horario",
    "acompanhar": "acompanho", "andamento": "acompanho", "situacao": "acompanho", "movimentacao": "acompanho",
    "boleto": "guia", "taxa": "custas", "taxas": "custas", "pagamento": "guia", "horas": "horario",
    "dinheiro": "defensoria", "demitido": "trabalho", "demitida": "trabalho", "empregador": "trabalho",
    "emergencia": "urgencia", "urgente": "urgencia", "noite": "plantao", "madrugada": "plantao",
    "feriado": "plantao", "fim": "plantao", "fraude": "golpe", "falsa": "golpe", "falso": "golpe",
    "divorcio": "familia", "separacao": "familia", "pensao": "alimenticia", "alimentos": "alimenticia",
    "trabalhista": "trabalho", "patrao": "trabalho", "demissao": "trabalho", "emprego": "trabalho",
    "aposentadoria": "inss", "heranca": "inventario", "videochamada": "video", "videoconferencia": "video",
    "online": "virtual", "internet": "virtual", "gratis": "gratuita", "gratuito": "gratuita",
    "pobre": "defensoria", "defensor": "defensoria", "juridica": "advogado", "advocacia": "advogado",
    "significado": "significa", "segredo": "segredo", "sigilo": "segredo",
    "sigiloso": "segredo", "julgamento": "sentenca", "recorrer": "recurso", "juizado": "juizado",
    "pequenas": "juizado", "libras": "libras", "cego": "acessibilidade", "deficiencia": "acessibilidade",
    "dados": "privacidade", "lgpd": "privacidade", "pessoais": "privacidade",
}


@dataclass(frozen=True)
class Passage:
    kind: str  # "faq" | "page"
    key: str  # the FAQ id or "slug#anchor"
    title: str
    url: str  # a path of this portal
    text: str  # readable plain text (paragraphs, "• " list items)
    links: tuple[Source, ...] = field(default=())  # links inside the text and the passage's sources


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


_HEADING = re.compile(r'<h([23])[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S | re.I)
_ANCHOR = re.compile(r'<a\s[^>]*href="([^"]+)"[^>]*>(.*?)</a>', re.S | re.I)


def _links_in(fragment: str) -> list[Source]:
    return [Source(pt.html_to_text(label) or url, url) for url, label in _ANCHOR.findall(fragment)]


def passages_of(content: Content) -> list[Passage]:
    """Every FAQ entry and every page section, as passages with their portal address."""
    result = []
    for entry in content.faq:
        links = _links_in(entry.answer_html) + list(entry.sources)
        result.append(Passage("faq", entry.id, entry.question, f"/{FAQ_SLUG}#{entry.id}",
                              pt.html_to_text(entry.answer_html), tuple(links)))
    # The process lookup is a page of the portal too (not a content file): /busca must find it.
    result.append(Passage("page", "consulta", LOOKUP_TITLE, "/consulta", LOOKUP_SUMMARY))
    for page in content.pages.values():
        sources = list(page.sources)
        pieces = _HEADING.split(page.html)
        intro = pieces[0]
        if pt.html_to_text(intro):
            result.append(Passage("page", page.slug, page.title, page.path,
                                  (page.summary + "\n\n" + pt.html_to_text(intro)).strip(),
                                  tuple(_links_in(intro))))
        parent = None
        for index in range(1, len(pieces), 4):
            level, anchor, heading, body = pieces[index:index + 4]
            heading_text = pt.html_to_text(heading)
            parent = heading_text if level == "2" else parent
            title = f"{page.title}: {heading_text}" if level == "2" or not parent else \
                f"{page.title}: {parent} — {heading_text}"
            body_text = pt.html_to_text(body)
            if not body_text:
                continue
            own_links = _links_in(body)
            cited = [link for link in sources if any(link.url == own.url for own in own_links)]
            result.append(Passage("page", f"{page.slug}#{anchor}", title, f"{page.path}#{anchor}", body_text,
                                  tuple(own_links + cited)))
    return result


def _document_tokens(passage: Passage) -> list[str]:
    weight = FAQ_QUESTION_WEIGHT if passage.kind == "faq" else TITLE_WEIGHT
    return pt.tokens(passage.title) * weight + pt.tokens(passage.text)


class Index:
    """The BM25 index of the content, built once per app (the content changes only with a deploy)."""

    def __init__(self, content: Content, lexicon_cache_dir: str | None = None):
        self.passages = passages_of(content)
        corpus = [_document_tokens(p) for p in self.passages]
        self.vocabulary = pt.Vocabulary(word for p in self.passages for word in pt.words(p.title + " " + p.text))
        self._bm25 = BM25(k1=1.2, b=0.75)
        self._bm25.index(corpus)
        self._token_sets = [frozenset(tokens) for tokens in corpus]
        frequency: dict[str, int] = {}
        for tokens in self._token_sets:
            for token in tokens:
                frequency[token] = frequency.get(token, 0) + 1
        count = len(corpus)
        self._idf = {token: math.log(1 + (count - df + 0.5) / (df + 0.5)) for token, df in frequency.items()}
        self._unknown_idf = math.log(1 + (count + 0.5) / 0.5)
        self.pieces = NORMALISER_PIECES
        examples = [item for entry in content.faq for item in (entry.question, *entry.examples)]
        self.speller = colloquial.Speller(
            {word for p in self.passages for word in pt.words(p.title + " " + p.text)} |
            {word for item in examples for word in pt.words(fold(item))},
            colloquial.pt_lexicon(cache_dir=lexicon_cache_dir))
        self.intents = IntentMatcher(content.faq, self.prepare)

    def prepare(self, question: str) -> str:
        """The question as the content would write it: folded, phone writing undone, misspellings corrected."""
        text = fold(question)
        if "squeeze" in self.pieces:
            text = colloquial.squeeze(text)
        if "expand" in self.pieces:
            text = colloquial.expand(text)
        if "spell" in self.pieces:
            text = self.speller.fix(text)
        return text

    def query_groups(self, question: str) -> list[tuple[tuple[str, ...], int]]:
        """One group per meaningful word of the question: its stem, the stem of the word the content uses for
        it (synonyms), then the stems of the corpus words it was probably meant to be (typos); with how many
        of those stems, from the start, are the word itself rather than a guess."""
        groups = []
        for word in pt.words(question):
            exact = [pt.stem(word)]
            if word in SYNONYMS:
                exact.append(pt.stem(SYNONYMS[word]))
            guesses = [pt.stem(variant) for variant in self.vocabulary.variants(word)[1:]]
            stems = tuple(dict.fromkeys(stem for index, stem in enumerate(exact + guesses)
                                        if index == 0 or stem in self._idf))
            exact_count = sum(1 for stem in stems if stem in exact)
            if (stems, exact_count) not in groups:
                groups.append((stems, exact_count))
        return groups

    def coverage(self, groups: list[tuple[tuple[str, ...], int]], index: int) -> float:
        """The share of the question's weight that passage `index` holds: each word weighs the idf of its first
        known stem (a word the corpus lacks weighs as the rarest word); it counts whole when the passage holds
        the word or its synonym, and in part when only a typo guess matches."""
        held = total = 0.0
        tokens = self._token_sets[index]
        for stems, exact_count in groups:
            weight = next((self._idf[stem] for stem in stems if stem in self._idf), self._unknown_idf)
            total += weight
            if any(stem in tokens for stem in stems[:exact_count]):
                held += weight
            elif any(stem in tokens for stem in stems[exact_count:]):
                held += weight * GUESSED_WORD_SHARE
        return held / total if total else 0.0

    def search(self, question: str, k: int = 4, min_coverage: float = MIN_COVERAGE) -> list[Hit]:
        """The best passages for a question, best first; only relevant ones (MIN_SCORE and `min_coverage`)."""
        groups = self.query_groups(question)
        query = list(dict.fromkeys(stem for stems, _ in groups for stem in stems))
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        hits = []
        for i in sorted(range(len(scores)), key=lambda n: -scores[n])[:max(CANDIDATES, k)]:
            coverage = self.coverage(groups, int(i))
            if scores[i] >= MIN_SCORE and coverage >= min_coverage:
                # Among relevant passages, the one that holds more of the question comes first.
                hits.append(Hit(self.passages[i], float(scores[i]) * coverage))
        hits.sort(key=lambda hit: -hit.score)
        return hits[:k]

    def by_key(self, key: str) -> Passage | None:
        return next((p for p in self.passages if p.key == key), None)
