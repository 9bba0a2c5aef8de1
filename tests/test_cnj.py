"""utils.cnj: real numbers in every spelling people type, and each way a number can be wrong."""
import random

import pytest

from utils import cnj

TJES = "00227832220178080024"  # real, TJES (fixtures/datajud)
TJSP = "0010490-56.2025.8.26.0309"  # real, TJSP (fixtures/datajud/tjsp-g1-compact-date.json)
TRT17 = "0000123-59.2024.5.17.0001"  # constructed: DD computed by the rule below


@pytest.mark.parametrize("text", [
    "0022783-22.2017.8.08.0024",
    "00227832220178080024",
    "  0022783-22.2017.8.08.0024  ",
    "\t0022783-22.2017.8.08.0024\n",
    "0022783 22 2017 8 08 0024",
    "0022783.22.2017.8.08.0024",
    "0022783/22/2017/8/08/0024",
    "0022783-22-2017-8-08-0024",
    "0022783 - 22 . 2017 . 8 . 08 . 0024",
    "0022783-22.2017.808.0024",
    "002.278.322.201.780.800.24",
    "0022783-22.2017.8.08.0024.",
])
def test_every_common_spelling_gives_the_same_20_digits(text):
    assert cnj.parse(text) == TJES


@pytest.mark.parametrize("text", [
    "5002842-79.2022.8.08.0006",  # PJe-era TJES number (Aracruz)
    "0000658-52.2018.8.08.9101",  # TJES Colegiado Recursal
])
def test_other_real_tjes_numbers_are_valid(text):
    assert cnj.format(cnj.parse(text)) == text


@pytest.mark.parametrize("text", [
    "0022783-23.2017.8.08.0024",  # DD + 1
    "0022783-21.2017.8.08.0024",  # DD - 1
    "0022738-22.2017.8.08.0024",  # two digits swapped
    "0022783-22.2017.8.08.0012",  # another origin unit, same DD
    "0022783-22.2018.8.08.0024",  # another year
])
def test_wrong_check_digits_are_refused(text):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "check_digits"
    assert error.value.message == ("Os dígitos verificadores não conferem: confira os dois dígitos depois do hífen.")


@pytest.mark.parametrize(("text", "court_name"), [
    (TRT17, "TRT da 17ª Região"),
    (TJSP, "Tribunal de Justiça de São Paulo (TJSP)"),
    ("0007303-97.2013.8.07.0015", "Tribunal de Justiça do Distrito Federal e dos Territórios (TJDFT)"),
    ("0000832-35.2018.4.01.3202", "TRF da 1ª Região"),
    ("0013075-90.2000.4.01.3800", "TRF da 1ª Região"),  # fixtures/datajud/trf1-g2-old-id-layout.json
    ("5046512-94.2016.4.04.7000", "TRF da 4ª Região"),
    ("0000100-68.2008.4.06.0000", "TRF da 6ª Região"),
    ("0002080-25.2012.5.15.0049", "TRT da 15ª Região"),
])
def test_a_number_of_another_court_names_that_court(text, court_name):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "other_court"
    assert error.value.message == (f"Este número é do {court_name}; esta página consulta processos da Justiça "
                                   "Estadual do Espírito Santo (TJES).")


def test_the_trt17_message_is_the_one_the_issue_asks_for():
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(TRT17)
    assert error.value.message == ("Este número é do TRT da 17ª Região; esta página consulta processos da Justiça "
                                   "Estadual do Espírito Santo (TJES).")


def _valid(n, year, j, tr, origin):
    return f"{n}{cnj.check_digits(n, year, j, tr, origin)}{year}{j}{tr}{origin}"


@pytest.mark.parametrize(("number", "code"), [
    ("00001002320088280000", "court"),  # brazilian-utils example: right DD, but J=8 has no TR 28
    (_valid("0001234", "2024", "8", "00", "0001"), "court"),
    (_valid("0001234", "2024", "4", "07", "0001"), "court"),  # there are six TRFs
    (_valid("0001234", "2024", "5", "25", "0001"), "court"),  # and 24 TRTs
    (_valid("0001234", "2024", "9", "08", "0001"), "court"),  # no military court of justice in ES
    (_valid("0001234", "2024", "0", "08", "0001"), "segment"),
])
def test_unknown_segment_or_court_is_refused(number, code):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(number)
    assert error.value.code == code
    assert "confira o número" in error.value.message


@pytest.mark.parametrize(("text", "typed"), [
    ("0022783-22.2017.8.08.002", 19),
    ("002278322201780800244", 21),
    ("0022783-22.2017", 13),
    ("1", 1),
])
def test_wrong_length_says_how_many_digits_were_typed(text, typed):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "length"
    assert error.value.message == f"O número CNJ tem 20 dígitos; você digitou {typed}."


@pytest.mark.parametrize("text", [
    "9" * 5000,
    "0022783-22.2017.8.08.0024" + " " * 80,
    "a" * 101,
])
def test_long_input_is_refused_before_any_other_work(text):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "length"


@pytest.mark.parametrize("text", [
    "abc",
    "0022783-22.2017.8.08.002a",
    "processo 0022783-22.2017.8.08.0024",
    "０022783-22.2017.8.08.0024",  # a full-width zero
    "٠٠٢٢٧٨٣٢٢٢٠١٧٨٠٨٠٠٢٤",  # Arabic-Indic digits
    "0022783_22.2017.8.08.0024",
    "0022783-22.2017.8.08.0024;",
    "+0022783-22.2017.8.08.0024",
])
def test_characters_other_than_digits_and_separators_are_refused(text):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "characters"


@pytest.mark.parametrize("text", ["", "   ", "\n", None, "-.-/"])
def test_empty_input_asks_for_the_number(text):
    with pytest.raises(cnj.InvalidCnj) as error:
        cnj.parse(text)
    assert error.value.code == "empty"
    assert "Digite o número" in error.value.message


def test_every_refusal_is_a_value_error_with_a_known_code():
    with pytest.raises(ValueError, match="dígitos verificadores"):
        cnj.parse("0022783-23.2017.8.08.0024")
    assert set(cnj.InvalidCnj.CODES) == {"empty", "length", "characters", "check_digits", "segment", "court",
                                         "other_court"}


@pytest.mark.parametrize(("fields", "expected"), [
    (("0022783", "2017", "8", "08", "0024"), "22"),
    (("0010490", "2025", "8", "26", "0309"), "56"),
    (("0000832", "2018", "4", "01", "3202"), "35"),  # 97 instead of 98 would give 34
    (("0001234", "2024", "8", "08", "0001"), "78"),
    (("1000003", "2024", "8", "26", "0100"), "89"),
    (("8690473", "2023", "4", "01", "4200"), "80"),
    (("0069758", "2015", "4", "01", "3400"), "61"),
    ((22783, 2017, 8, 8, 24), "22"),
])
def test_check_digits_follow_iso_7064_mod_97_10(fields, expected):
    assert cnj.check_digits(*fields) == expected


@pytest.mark.parametrize("fields", [
    ("22783", "2017", "8", "08", "0024"),
    ("0022783", "17", "8", "08", "0024"),
    ("0022783", "2017", "8", "8", "0024"),
    ("0022783", "2017", "x", "08", "0024"),
    (12345678, 2017, 8, 8, 24),
])
def test_check_digits_refuse_fields_of_the_wrong_width(fields):
    with pytest.raises(ValueError, match="digits"):
        cnj.check_digits(*fields)


def test_a_computed_number_is_valid_and_any_single_digit_change_is_caught():
    rng = random.Random(65)
    for _ in range(200):
        n, year, origin = f"{rng.randrange(10**7):07d}", str(rng.randrange(1990, 2031)), f"{rng.randrange(10**4):04d}"
        number = _valid(n, year, "8", "08", origin)
        assert cnj.parse(number) == number
        position, digit = rng.randrange(20), str(rng.randrange(10))
        if number[position] == digit:
            continue
        altered = number[:position] + digit + number[position + 1:]
        with pytest.raises(cnj.InvalidCnj):
            cnj.parse(altered)


def test_format_and_tjes():
    assert cnj.format(TJES) == "0022783-22.2017.8.08.0024"
    assert cnj.is_tjes(TJES)
    assert not cnj.is_tjes("00104905620258260309")
    for bad in ("0022783-22.2017.8.08.0024", "123", "", "٠" * 20):
        with pytest.raises(ValueError, match="20 digits"):
            cnj.format(bad)
        with pytest.raises(ValueError, match="20 digits"):
            cnj.is_tjes(bad)


def test_court_of_names_the_court_and_flags_tjes():
    assert cnj.court_of(TJES) == cnj.Court(segment="8", tribunal="08", is_tjes=True,
                                           name="Tribunal de Justiça do Espírito Santo (TJES)")
    court = cnj.court_of("00001235920245170001")
    assert (court.segment, court.tribunal, court.name, court.is_tjes) == ("5", "17", "TRT da 17ª Região", False)
    assert cnj.court_of("00001002320088280000") is None


STATE_COURTS_IN_CNJ_ORDER = ("AC", "AL", "AP", "AM", "BA", "CE", "DFT", "ES", "GO", "MA", "MT", "MS", "MG", "PA", "PB",
                              "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SE", "SP", "TO")


@pytest.mark.parametrize(("tr", "uf"), [(f"{i:02d}", uf) for i, uf in enumerate(STATE_COURTS_IN_CNJ_ORDER, start=1)])
def test_state_courts_follow_cnj_numbering(tr, uf):
    number = _valid("0000001", "2024", "8", tr, "0001")
    assert cnj.court_of(number).name.endswith(f"(TJ{uf})")


@pytest.mark.parametrize(("j", "tr", "name"), [
    ("1", "00", "Supremo Tribunal Federal (STF)"),
    ("2", "00", "Conselho Nacional de Justiça (CNJ)"),
    ("3", "00", "Superior Tribunal de Justiça (STJ)"),
    ("4", "05", "TRF da 5ª Região"),
    ("5", "00", "Tribunal Superior do Trabalho (TST)"),
    ("5", "01", "TRT da 1ª Região"),
    ("5", "24", "TRT da 24ª Região"),
    ("6", "00", "Tribunal Superior Eleitoral (TSE)"),
    ("6", "08", "Tribunal Regional Eleitoral do Espírito Santo (TRE-ES)"),
    ("6", "26", "Tribunal Regional Eleitoral de São Paulo (TRE-SP)"),
    ("7", "00", "Superior Tribunal Militar (STM)"),
    ("9", "13", "Tribunal de Justiça Militar de Minas Gerais (TJMMG)"),
    ("9", "21", "Tribunal de Justiça Militar do Rio Grande do Sul (TJMRS)"),
    ("9", "26", "Tribunal de Justiça Militar de São Paulo (TJMSP)"),
])
def test_every_branch_of_justice_has_its_courts(j, tr, name):
    court = cnj.court_of(_valid("0000001", "2024", j, tr, "0000"))
    assert court.name == name
    assert not court.is_tjes


def test_the_military_justice_of_the_union_reads_with_its_article():
    with pytest.raises(cnj.InvalidCnj, match=r"^Este número é da Justiça Militar da União \(2ª CJM\);"):
        cnj.parse(_valid("0000001", "2024", "7", "02", "0001"))


# find_first: the lookup form reads pasted text (an intimação, a PDF, an e-mail); parse stays strict for the API.

@pytest.mark.parametrize(("text", "extra"), [
    ("Processo nº 0022783-22.2017.8.08.0024", "Processo nº"),
    ("Processo n. 0022783-22.2017.8.08.0024.", "Processo n"),
    ("0022783\u201322.2017.8.08.0024", ""),  # en dash, as PDFs print it
    ("0022783\u201422.2017.8.08.0024", ""),  # em dash
    ("0022783\u221222.2017.8.08.0024", ""),  # minus sign
    ("0022783\u2011 22.2017.8.08.0024", ""),  # non-breaking hyphen, space after it
    ("  0022783 - 22 . 2017 . 8 . 08 . 0024  ", ""),
    ("00227832220178080024", ""),
    ("Autos 0022783-22.2017.8.08.0024 (ação de cobrança)", "Autos (ação de cobrança)"),
    ("0022783-22.2017.808.0024", ""),  # a spelling only parse knows: the strict path still takes it
])
def test_find_first_takes_the_number_out_of_pasted_text(text, extra):
    found = cnj.find_first(text)
    assert found.digits == TJES
    assert found.extra == extra
    assert found.more_numbers == 0


def test_find_first_takes_the_first_of_several_numbers():
    found = cnj.find_first(f"0022783-22.2017.8.08.0024; {TJSP}")
    assert found.digits == TJES
    assert found.more_numbers == 1


@pytest.mark.parametrize(("text", "code"), [
    ("", "empty"),
    ("   ", "empty"),
    ("Processo nº", "characters"),
    ("12345", "length"),
    ("Processo nº 0022783-22.2017", "length"),
    ("Processo nº 0022783-23.2017.8.08.0024", "check_digits"),
    (f"ver {TJSP}", "other_court"),
    ("x" * 301, "length"),
])
def test_find_first_explains_what_is_missing(text, code):
    with pytest.raises(cnj.InvalidCnj) as caught:
        cnj.find_first(text)
    assert caught.value.code == code
    assert caught.value.message


def test_find_first_says_what_to_type_when_there_is_no_number():
    with pytest.raises(cnj.InvalidCnj, match="Não encontramos um número de processo"):
        cnj.find_first("meu processo de despejo")


def test_parse_stays_strict_about_surrounding_text():
    for text in ("Processo nº 0022783-22.2017.8.08.0024", "0022783\u201322.2017.8.08.0024"):
        with pytest.raises(cnj.InvalidCnj):
            cnj.parse(text)


def test_find_all_splits_a_line_of_several_numbers():
    line = f"0022783-22.2017.8.08.0024;{TJSP} 00227832220178080024,0022783\u201322.2017.8.08.0024"
    assert len(cnj.find_all(line)) == 4
    assert cnj.find_all("nada aqui") == []
