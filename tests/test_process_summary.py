"""The process page's summary (issue 12): where the process is now, the latest movement in plain words and how long
ago, "não está na 2ª Vara Cível de Cariacica" when it is elsewhere; movements by year;
2º grau judgements as acórdãos."""
import re
from datetime import date, datetime, timedelta

import pytest

from services.processes import summary
from services.processes.timeline import PageMovement
from utils.dates import COURT_TIMEZONE

TJES_FIXTURE = "0022783-22.2017.8.08.0024"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=COURT_TIMEZONE)


@pytest.mark.parametrize(("name", "expected"), [
    ("2ª VARA CÍVEL DE CARIACICA", True),
    ("CARIACICA - 2ª VARA CÍVEL", True),
    ("2ª Vara Cível, Órfãos e Sucessões de Cariacica", True),
    ("1ª VARA CÍVEL - VITORIA", False),
    ("12ª VARA CÍVEL DE CARIACICA", False),
    ("2ª VARA CÍVEL DE VILA VELHA", False),
    ("GAB. DESEMB. ARTHUR JOSÉ NEIVA DE ALMEIDA - VITORIA", False),
    (None, None), ("", None),
])
def test_this_unit_is_recognised_however_it_is_spelled(name, expected):
    assert summary.is_this_unit(name) is expected


@pytest.mark.parametrize(("delta", "words"), [
    (timedelta(0), "hoje"), (timedelta(days=1), "ontem"), (timedelta(days=5), "há 5 dias"),
    (timedelta(days=95), "há 3 meses"), (timedelta(days=800), "há 2 anos"),
])
def test_how_long_ago_in_words(delta, words):
    assert summary.ago(NOW - delta, NOW) == words


def _movement(category="sentenca", at=NOW):
    return PageMovement(at, "Provimento em Parte", [], category, "Sentença", "Houve um julgamento…")


def test_a_second_degree_judgement_is_an_acordao():
    label, explanation = summary.movement_label("G2", _movement())
    assert label.startswith("Acórdão") and "provido em parte" in explanation and "não provido" in explanation
    assert summary.movement_label("G1", _movement()) == ("Sentença", "Houve um julgamento…")


def test_movements_group_by_year_newest_first():
    grouped = [(date(2024, 8, 8), [_movement()]), (date(2024, 1, 2), [_movement(), _movement()]),
               (date(2019, 5, 1), [_movement()])]
    assert [(year, count) for year, _, count in summary.by_year(grouped)] == [(2024, 3), (2019, 1)]


def test_the_summary_follows_the_instance_moved_last():
    older = {"degree": "G1", "judging_body": {"name": "2ª VARA CÍVEL DE CARIACICA"},
             "movements": [{"date": "2020-01-02T13:00:00Z", "name": "Distribuição", "complements": [],
                            "category": "inicio"}]}
    newer = {"degree": "G2", "judging_body": {"name": "GAB. DESEMB. FULANO - VITORIA"},
             "movements": [{"date": "2024-08-08T13:00:00Z", "name": "Provimento", "complements": [],
                            "category": "sentenca"}]}
    result = summary.summarize([older, newer], NOW)
    assert result.degree == "G2" and result.at_this_unit is False and result.latest_label.startswith("Acórdão")
    assert result.ago == "há 2 anos"
    result = summary.summarize([older], NOW)
    assert result.at_this_unit is True and result.latest.name == "Distribuição"


def test_the_page_shows_the_summary_first_and_folds_older_years(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    html = client.get(f"/processos/{TJES_FIXTURE}").get_data(as_text=True)
    assert html.index('class="process-summary"') < html.index('class="instance"')
    box = html[html.index('class="process-summary"'):html.index('class="instance"')]
    assert "não está na 2ª Vara Cível de Cariacica" in box and "Balcão Virtual" in box
    assert re.search(r"há \d+ (dias|meses|anos)", box)
    years = re.findall(r'<details class="year"( open)?>', html)
    assert len(years) > 1 and years[0] == " open" and all(not y for y in years[1:])
    assert "Acórdão" in html  # the 2º grau judgements of the fixture
    assert "ao lado" not in html


def test_a_complement_that_repeats_the_name_is_shown_once():
    assert summary.official_name("Petição", ["Petição (outras)"]) == "Petição (outras)"
    assert summary.official_name("Conclusão", ["para decisão"]) == "Conclusão (para decisão)"
    assert summary.official_name("Mero expediente", []) == "Mero expediente"


def test_newer_movements_left_in_outros_get_plain_words():
    movement = PageMovement(NOW, "Processo devolvido à Secretaria", [], "outros", "Outros", "Outro andamento…")
    label, explanation = summary.movement_label("G2", movement)
    assert label == "Outros" and "voltou para a secretaria" in explanation


def test_the_page_shows_nested_names_once(make_app, datajud):
    html = make_app(datajud=datajud).test_client().get(f"/processos/{TJES_FIXTURE}").get_data(as_text=True)
    assert "Petição (Petição" not in html and "Petição (outras)" in html
    assert "voltou para a secretaria" in html
