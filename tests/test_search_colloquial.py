"""The colloquial normaliser's pieces (services/search/colloquial): pure functions."""
from __future__ import annotations

import pytest

from services.search import colloquial


@pytest.mark.parametrize(("raw", "expected"), [
    ("socorrooo", "socorro"), ("bom diaaaa", "bom dia"), ("issssso", "isso"), ("e agora???", "e agora?"),
    ("oq eu faco!!!", "oq eu faco!"), ("carro", "carro"), ("...", "."),
])
def test_squeeze(raw, expected):
    assert colloquial.squeeze(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("oq vc acha", "o que voce acha"), ("pra onde vou", "para onde vou"), ("ta parado", "esta parado"),
    ("n sei q fazer", "nao sei que fazer"), ("tb quero msm", "tambem quero mesmo"),
    ("cade o processo", "onde esta o processo"),
    ("blz pq hj", "beleza porque hoje"), ("amanha", "amanha"), ("processo", "processo"),
])
def test_expand(raw, expected):
    assert colloquial.expand(raw) == expected


def test_the_speller_corrects_only_unknown_words_into_corpus_words():
    speller = colloquial.Speller({"despejo", "heranca", "certidao", "custas", "processo"},
                                 lexicon=frozenset({"casa", "bolo"}))
    assert speller.correct("despeijo") == "despejo"  # one edit
    assert speller.correct("eranca") == "heranca"
    assert speller.correct("sertidoa") == "certidao"  # 8 letters: two edits allowed
    assert speller.correct("bolo") == "bolo"  # a known Portuguese word is left alone
    assert speller.correct("pro") == "pro"  # too short to correct
    assert speller.correct("xyzwq") == "xyzwq"  # nothing close
    assert speller.fix("meu processso e a eranca") == "meu processo e a heranca"


@pytest.mark.parametrize(("a", "b", "distance"), [("casa", "casa", 0), ("casa", "cassa", 1), ("casa", "caas", 1),
                                                   ("casa", "coisa", 2), ("a", "abcdef", 3)])
def test_edit_distance(a, b, distance):
    assert colloquial.edit_distance(a, b) == distance


def test_the_pt_lexicon_ships_with_the_package():
    lexicon = colloquial.pt_lexicon()
    assert len(lexicon) > 40_000 and "processo" in lexicon and "nao" in lexicon
