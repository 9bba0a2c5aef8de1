"""pt-BR text for search: accent folding, stop words, light stemming and typo-tolerant matching.

Pure functions and a small vocabulary class; no app state. Words are folded first (so "certidão"
and "certidao" meet), the plural "-ões/-ães" is brought to "-ão", then Snowball's Portuguese stemmer
cuts the rest ("advogados" → "advog").
"""
from __future__ import annotations

import difflib
import html
import re
from functools import lru_cache

import snowballstemmer

from utils.text import fold

_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("portuguese")
MIN_TYPO_WORD = 5  # shorter words are too easy to "correct" into something else ("ontem" → "fontes")

STOP_WORDS = frozenset((
    "a", "o", "as", "os", "um", "uma", "uns", "umas", "de", "da", "do", "das", "dos", "d", "em", "no", "na", "nos",
    "nas", "num", "numa", "ao", "aos", "pelo", "pela", "pelos", "pelas", "por", "para", "pra", "pro", "com", "sem",
    "sob", "sobre", "entre", "ate", "e", "ou", "mas", "nem", "que", "se", "ja", "tambem", "muito", "muita", "muitos",
    "muitas", "mais", "menos", "bem", "so", "eu", "tu", "ele", "ela", "vos", "eles", "elas", "voce", "voces", "vc",
    "me", "te", "lhe", "lhes", "meu", "minha", "meus", "minhas", "teu", "tua", "seu", "sua", "seus", "suas", "nosso",
    "nossa", "dele", "dela", "deles", "delas", "este", "esta", "estes", "estas", "esse", "essa", "esses", "essas",
    "isto", "isso", "aquilo", "aquele", "aquela", "aqui", "ali", "la", "ha", "tem", "ter", "tenho", "tinha", "sou",
    "era", "foi", "ser", "estou", "estao", "estava", "ficar", "vai", "vou", "ir", "pode", "posso", "podem",
    "poderia", "gostaria", "queria", "quero", "saber", "sei", "favor", "ola", "oi", "bom", "boa", "dia", "tarde",
    "obrigado", "obrigada", "qual", "quais", "como", "onde", "quando", "quanto", "quanta", "quantos", "quantas",
    "porque", "oque", "quem", "algum", "alguma", "alguem", "coisa", "fazer", "faco", "faz", "feito", "acho", "achar",
    # "tirar"/"pegar" a document just mean getting it: as words they would pull in any passage that uses them.
    "tirar", "tiro", "tira", "tiram", "tirei", "pegar", "pego", "pega", "pegam", "peguei",
    "oq", "q", "p", "pq", "tb", "vcs", "ta", "to", "ne", "quer", "dizer", "nesta", "neste", "nessa", "nesse",
    "dessa", "desse", "daqui", "contra", "corre", "entro", "entrar", "entra",
))



def words(text: str) -> list[str]:
    """Folded words, stop words out (numbers kept: "129", "190")."""
    return [word for word in _WORD.findall(fold(text)) if word not in STOP_WORDS and (len(word) > 1 or word.isdigit())]


@lru_cache(maxsize=20_000)
def stem(word: str) -> str:
    """The light stem of one folded word."""
    if word.isdigit():
        return word
    for plural, singular in (("coes", "cao"), ("oes", "ao"), ("aes", "ao"), ("ais", "al")):
        if word.endswith(plural) and len(word) > len(plural) + 2:
            word = word[: -len(plural)] + singular
            break
    return _STEMMER.stemWord(word)


def tokens(text: str) -> list[str]:
    """The search tokens of a text: folded, stop words out, stemmed."""
    return [stem(word) for word in words(text)]


def normalised_question(text: str) -> str:
    """The cache key of a question: its folded words in order, without punctuation or stop words.

    "Como consigo uma certidão?" and "como consigo certidao" share one key.
    """
    return " ".join(words(text))


def html_to_text(fragment: str) -> str:
    """Readable plain text from the content's Markdown HTML: paragraphs kept, list items as "• "."""
    text = re.sub(r"(?i)<li[^>]*>", "\n• ", fragment)
    text = re.sub(r"(?i)</(p|h[1-6]|ul|ol)>", "\n\n", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return re.sub(r"\n\n(?=• )", "\n", text).strip()


class Vocabulary:
    """The folded words of the corpus, to bring a misspelt query word to the closest known one."""

    def __init__(self, corpus_words):
        self._known = frozenset(corpus_words)
        self._long = sorted(word for word in self._known if len(word) >= MIN_TYPO_WORD - 1 and not word.isdigit())

    def __contains__(self, word: str) -> bool:
        return word in self._known

    def correct(self, word: str) -> str | None:
        """The known word closest to `word` (None when nothing is close): "sertidao" → "certidao"."""
        if word in self._known:
            return word
        if len(word) < MIN_TYPO_WORD or word.isdigit():
            return None
        close = difflib.get_close_matches(word, self._long, n=1, cutoff=0.8)
        return close[0] if close else None

    def variants(self, word: str) -> list[str]:
        """The word itself and, when misspelt (not a corpus word, stem unknown), the closest corpus word."""
        if word in self._known or len(word) < MIN_TYPO_WORD + 1:
            return [word]
        known = self.correct(word)
        return [word, known] if known else [word]
