"""How people write on phones, brought to the words the content uses: "oq eu faço pra n ser despejadooo!!!" →
"o que eu faco para nao ser despejado!".

Pure functions over folded text (services.search.text folds accents first). Three pieces, each measured on the
evaluation's tuning half before being kept (docs/ASSISTANT_EVALUATION.md): the abbreviations (`expand`), the stretched
letters and punctuation (`squeeze`), and the spelling correction against a pt-BR lexicon (`Speller`).
"""
from __future__ import annotations

import re
from functools import lru_cache

# Phone abbreviations → the written words (folded). Only unambiguous ones: "ta" is "está" (the verb) in a
# question, "n" alone is "não", "cade" is "onde está".
ABBREVIATIONS = {
    "pra": "para", "pro": "para o", "pros": "para os", "pras": "para as", "ta": "esta", "tah": "esta",
    "to": "estou", "tou": "estou", "tao": "estao", "q": "que", "oq": "o que", "oque": "o que", "vc": "voce",
    "vcs": "voces", "c": "voce", "tb": "tambem", "tbm": "tambem", "n": "nao", "nao": "nao", "naum": "nao",
    "msm": "mesmo", "cade": "onde esta", "kd": "onde esta", "blz": "beleza", "pq": "porque", "pqp": "",
    "hj": "hoje", "amanha": "amanha", "amnh": "amanha", "qdo": "quando", "qndo": "quando", "qnd": "quando",
    "qto": "quanto", "qnto": "quanto", "qm": "quem", "dps": "depois", "agr": "agora", "vdd": "verdade",
    "obg": "obrigado", "obgd": "obrigado", "obgda": "obrigada", "vlw": "valeu", "flw": "falou", "tmj": "valeu",
    "mt": "muito", "mto": "muito", "mta": "muita", "td": "tudo", "tds": "todos", "p": "para", "pfv": "por favor",
    "pf": "por favor", "pls": "por favor", "ngm": "ninguem", "alg": "alguem", "cmg": "comigo", "ctg": "contigo",
    "fds": "fim de semana", "nd": "nada", "tmb": "tambem", "eh": "e", "ja": "ja", "num": "nao", "neh": "ne",
    "proc": "processo", "adv": "advogado", "dr": "doutor", "dra": "doutora", "cel": "celular", "msg": "mensagem",
    "whats": "whatsapp", "zap": "whatsapp", "net": "internet", "hr": "hora", "hrs": "horas", "min": "minutos",
}
_WORD = re.compile(r"[a-z0-9]+")
_STRETCH = re.compile(r"([a-z])\1{2,}")
_PUNCT = re.compile(r"([!?.,;:])\1+")
_DOUBLED_OK = frozenset("rs")  # Portuguese doubles only r and s ("socorro", "isso")


def squeeze(text: str) -> str:
    """Stretched letters and repeated punctuation brought back: "socorrooo!!!" → "socorro!"."""
    text = _STRETCH.sub(lambda m: m.group(1) * (2 if m.group(1) in _DOUBLED_OK else 1), text)
    return _PUNCT.sub(r"\1", text)


def expand(text: str) -> str:
    """Phone abbreviations as written words (`text` folded): "oq vc acha" → "o que voce acha"."""
    return _WORD.sub(lambda m: ABBREVIATIONS.get(m.group(0), m.group(0)), text)


class Speller:
    """Spelling correction against a pt-BR lexicon, restricted to the words that matter here.

    Only a word unknown to `corpus_words` (the content and its examples) and to the lexicon's frequent words is
    corrected, and only into a word that IS in `corpus_words` and is frequent in Portuguese (wordfreq's list), at
    edit distance 1 (words of 4+ letters) or 2 (8+ letters). "despeijo" → "despejo", "erança" → "heranca".
    """

    def __init__(self, corpus_words, lexicon=None):
        self._corpus = frozenset(word for word in corpus_words if word.isalpha())
        self._lexicon = lexicon if lexicon is not None else pt_lexicon()
        self._targets = sorted(word for word in self._corpus if len(word) >= 3)
        self._by_length: dict[int, list[str]] = {}
        for word in self._targets:
            self._by_length.setdefault(len(word), []).append(word)
        self.correct = lru_cache(maxsize=20_000)(self._correct)

    def _correct(self, word: str) -> str:
        if len(word) < 4 or not word.isalpha() or word in self._corpus or word in self._lexicon:
            return word
        limit = 2 if len(word) >= 8 else 1
        best, best_distance = word, limit + 1
        for length in range(len(word) - limit, len(word) + limit + 1):
            for candidate in self._by_length.get(length, ()):
                distance = edit_distance(word, candidate, best_distance)
                if distance < best_distance:
                    best, best_distance = candidate, distance
        return best

    def fix(self, text: str) -> str:
        return _WORD.sub(lambda m: self.correct(m.group(0)), text)


def edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Damerau–Levenshtein distance (adjacent swaps count one), stopping early at `cap`."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    previous2, previous = None, list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if previous2 is not None and i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= cap:
            return cap
        previous2, previous = previous, current
    return min(previous[-1], cap)


_lexicons: dict = {}


def pt_lexicon(size: int = 60_000, cache_dir: str | None = None):
    """The `size` most frequent Portuguese words (wordfreq's list), folded, as a set-like `HashedWords`; one per
    process (services/search/lexicon.py builds it in a child process)."""
    if size not in _lexicons:
        from services.search import lexicon

        _lexicons[size] = lexicon.load(size, cache_dir)
    return _lexicons[size]
