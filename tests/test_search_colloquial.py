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


def test_the_lexicon_is_built_in_a_child_process_and_cached(tmp_path):
    import subprocess
    import sys

    from services.search import lexicon

    words = lexicon.load(5_000, str(tmp_path))
    cached = list(tmp_path.glob("pt-lexicon-*-5000.txt"))
    assert len(cached) == 1 and "processo" in words and "xyzwq" not in words and len(words) > 4_000
    assert "processo" in lexicon.load(5_000, str(tmp_path))  # read back from the file
    # the serving process never loads wordfreq (its Portuguese list is ~40 MB of a worker's memory)
    check = "import sys; from services.search import lexicon; lexicon.load(5000); print('wordfreq' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                          cwd=str(lexicon.Path(lexicon.__file__).resolve().parents[2])).stdout.strip() == "False"


def test_httpx_loads_without_its_command_line_interface():
    import subprocess
    import sys

    check = "import services, httpx, sys; print('rich' in sys.modules or 'pygments' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1])).stdout.strip() == "False"
