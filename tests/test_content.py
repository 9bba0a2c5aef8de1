"""content/: the one source of the court's facts; loading refuses what would mislead or break the CSP."""
from pathlib import Path

import pytest

from services import content

ROOT = Path(__file__).resolve().parent.parent
# Values of an earlier unofficial site that no official source confirms (court_product.md §1.4).
UNVERIFIED_PLACEHOLDERS = ("3246-8200", "3246 8200", "Expedito Garcia", "2varacivel.cariacica", "29140-060")


@pytest.fixture
def repo_content():
    return content.load(ROOT / "content")


def test_repository_content_loads(repo_content):
    assert {"inicio", "a-vara", "servicos", "contato", "acessibilidade", "privacidade"} <= set(repo_content.pages)
    assert [item.path for item in repo_content.nav][:1] == ["/"]
    assert "/perguntas-frequentes" in [item.path for item in repo_content.nav]


def test_every_confirmed_fact_has_its_source_and_date(repo_content):
    for fact in repo_content.unit.facts:
        if fact.confirmed:
            assert fact.source_url.startswith("http") and fact.verified_on, fact.key


def test_the_unit_contacts_nobody_confirmed_stay_unconfirmed(repo_content):
    facts = {fact.key: fact for fact in repo_content.unit.facts}
    for key in ("endereco", "telefone", "email", "whatsapp", "juiz"):
        assert not facts[key].confirmed, key


def test_unverified_placeholders_appear_nowhere():
    for path in (ROOT / "content").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for placeholder in UNVERIFIED_PLACEHOLDERS:
                assert placeholder not in text, f"{path.name} holds {placeholder}"


def _write_minimal(tmp_path, page_body="Texto.", fact_extra=""):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "inicio.md").write_text(
        "---\ntitle: Início\nsummary: Resumo.\nnav_title: Início\nnav_order: 1\nupdated: 2026-11-25\n---\n"
        + page_body, encoding="utf-8")
    (tmp_path / "faq.yaml").write_text("- id: a\n  question: Pergunta?\n  answer: Resposta.\n", encoding="utf-8")
    (tmp_path / "unit.yaml").write_text(
        "name: Vara\ncourt: TJES\ncatalog_url: https://example.org\nfacts:\n"
        "  - key: telefone\n    label: Telefone\n    value: null\n" + fact_extra, encoding="utf-8")


def test_minimal_content_loads(tmp_path):
    _write_minimal(tmp_path)
    loaded = content.load(tmp_path)
    assert loaded.pages["inicio"].html == "<p>Texto.</p>"
    assert not loaded.unit.facts[0].confirmed


@pytest.mark.parametrize("body", ['<div style="color:red">x</div>', "<script>alert(1)</script>", "a <br> b"])
def test_raw_html_is_refused(tmp_path, body):
    _write_minimal(tmp_path, page_body=body)
    with pytest.raises(content.ContentError, match=r"inicio\.md: raw HTML is not allowed"):
        content.load(tmp_path)


def test_a_fact_without_source_is_refused(tmp_path):
    _write_minimal(tmp_path, fact_extra="  - key: email\n    label: E-mail\n    value: vara@example.org\n")
    with pytest.raises(content.ContentError, match="needs source_url and verified_on"):
        content.load(tmp_path)


def test_a_page_missing_front_matter_is_refused(tmp_path):
    _write_minimal(tmp_path)
    (tmp_path / "pages" / "extra.md").write_text("---\ntitle: Extra\n---\nTexto.", encoding="utf-8")
    with pytest.raises(content.ContentError, match=r"extra\.md: missing front matter field"):
        content.load(tmp_path)


def test_fold_and_the_search_words():
    from services.search import text
    from utils.text import fold, fold_each

    assert fold("Certidões e CUSTAS") == "certidoes e custas"
    assert fold_each("Ação Cível") == "acao civel" and len(fold_each("Ação")) == len("Ação")
    assert text.words("Como pedir uma certidão?") == ["pedir", "certidao"]


def test_faq_examples_and_verified_on_load(tmp_path):
    _write_minimal(tmp_path)
    (tmp_path / "faq.yaml").write_text(
        "- id: a\n  question: Pergunta?\n  answer: Resposta.\n  verified_on: 2026-12-04\n"
        "  examples:\n    - \" como pergunto \"\n    - oq e isso\n", encoding="utf-8")
    entry = content.load(tmp_path).faq[0]
    assert entry.examples == ("como pergunto", "oq e isso")
    assert entry.verified_on.isoformat() == "2026-12-04"


@pytest.mark.parametrize("extra", ["  examples: uma pergunta só\n", "  examples:\n    - 3\n",
                                   "  verified_on: ontem\n"])
def test_bad_faq_examples_or_date_are_refused(tmp_path, extra):
    _write_minimal(tmp_path)
    (tmp_path / "faq.yaml").write_text("- id: a\n  question: Pergunta?\n  answer: Resposta.\n" + extra,
                                       encoding="utf-8")
    with pytest.raises(content.ContentError, match=r"faq\.yaml entry 1"):
        content.load(tmp_path)


def test_every_faq_entry_of_the_content_has_examples(repo_content):
    loaded = repo_content
    assert all(len(entry.examples) >= 8 for entry in loaded.faq), \
        [entry.id for entry in loaded.faq if len(entry.examples) < 8]
