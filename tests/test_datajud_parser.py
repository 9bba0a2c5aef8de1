"""The DataJud parser and the process model: real DataJud responses (../shared) and our own cases built from
the quirks list.

Our fixtures (tests/fixtures/datajud/) are constructed, with valid TJES numbers:
- tjes-several-instances.json: TR, G2, G1 (twice), JE (no `_id`, only `_source.id`), SUP, and a hit of another number;
- tjes-compact-dates-string-codes.json: every date form, string codes, a duplicate, a complement without `nome`,
  movements without a usable date, an unknown code and a null code;
- tjes-family-nested-subjects.json: `assuntos` as a list of lists, one of them "Alimentos";
- tjes-secrecy-level-1.json: `nivelSigilo` 1, `movimentos` null, no subjects, `sistema` -1 "Inválido".
"""
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.processes.datajud import UnusablePayload, parse_datajud_search, parse_movement
from services.processes.model import CodeName, ProcessRecord, SourceMovement
from utils.dates import parse_datetime

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "fixtures" / "datajud"
OWN = ROOT / "tests" / "fixtures" / "datajud"
TJES_NUMBER = "00227832220178080024"


def shared(name: str) -> dict:
    path = SHARED / name
    if not path.is_file():
        pytest.skip("shared fixtures not present")
    return json.loads(path.read_text(encoding="utf-8"))


def own(name: str) -> dict:
    return json.loads((OWN / name).read_text(encoding="utf-8"))


def envelope(*sources: dict, with_id: bool = True) -> dict:
    hits = [{"_index": "x", **({"_id": source["id"]} if with_id else {}), "_source": source} for source in sources]
    return {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- the real responses ---------------------------------------------------------------------------------------------

def test_tjes_two_hits_give_two_instances_in_degree_order():
    g1, g2 = parse_datajud_search(shared("search-response-tjes-two-hits.json"), TJES_NUMBER)
    assert (g1.degree, g1.source_id) == ("G1", "TJES_G1_00227832220178080024")
    assert (g2.degree, g2.source_id) == ("G2", "TJES_G2_00227832220178080024")
    assert g1.movements == ()  # the G1 document has no `movimentos` key at all
    assert g1.process_class == CodeName(7, "Procedimento Comum Cível")
    assert g1.judging_body == CodeName(4085, "1ª VARA CÍVEL - VITORIA")
    assert [s.code for s in g1.subjects] == [7768, 7779, 7780]
    assert g1.filed_at == utc(2017, 8, 10, 13, 24, 9)
    assert g1.updated_at == utc(2024, 8, 21, 16, 11, 46, 44000)
    assert g1.system is None  # -1 "Inválido"
    assert not g1.restricted
    assert g2.process_class == CodeName(198, "Apelação Cível")
    assert g2.filed_at == utc(2022, 3, 24, 18, 49, 27)


def test_the_g2_movements_come_newest_first_with_the_source_duplicates_kept():
    g2 = parse_datajud_search(envelope(shared("tjes-g2-0022783-22.2017.8.08.0024.json")), TJES_NUMBER)[0]
    assert len(g2.movements) == 61
    assert [m.at for m in g2.movements] == sorted((m.at for m in g2.movements), reverse=True)
    newest, oldest = g2.movements[0], g2.movements[-1]
    assert (newest.code, newest.name, newest.complements) == (85, "Petição", ("Embargos de declaração",))
    assert newest.at == utc(2024, 8, 8, 15, 21, 25)
    assert (oldest.code, oldest.name, oldest.complements) == (26, "Distribuição", ("sorteio",))
    triple = [m for m in g2.movements if m.code == 1051 and m.at == utc(2022, 4, 20, 15, 37, 43)]
    assert len(triple) == 3
    assert [m.position for m in triple] == sorted((m.position for m in triple), reverse=True)


@pytest.mark.parametrize("name", [
    "tjes-g1-0022783-22.2017.8.08.0024.json", "tjes-g2-0022783-22.2017.8.08.0024.json",
    "tjsp-g1-compact-date.json", "trf1-g2-old-id-layout.json",
])
def test_every_shared_document_parses_with_aware_utc_dates_and_human_complements(name):
    source = shared(name)
    (record,) = parse_datajud_search(envelope(source), source["numeroProcesso"])
    assert record.cnj == source["numeroProcesso"]
    assert record.source_id == source["id"]
    assert record.raw["_source"] is source
    assert len(record.movements) == len(source.get("movimentos", []))
    variable_names = {c["descricao"] for m in source.get("movimentos", []) for c in m.get("complementosTabelados", [])}
    for movement in record.movements:
        assert movement.at.utcoffset().total_seconds() == 0
        assert isinstance(movement.code, int)
        assert not set(movement.complements) & variable_names


def test_the_compact_filing_date_is_local_time_and_string_codes_are_numbers():
    source = shared("tjsp-g1-compact-date.json")
    (record,) = parse_datajud_search(envelope(source), "00104905620258260309")
    assert record.filed_at == utc(2025, 9, 19, 13, 42, 20)  # 10:42:20 in São Paulo
    assert record.updated_at == utc(2026, 2, 5, 15, 45, 31, 114000)
    assert record.judging_body == CodeName(9819, "06 CIVEL DE JUNDIAI")  # IBGE code null: not needed
    assert record.system == "SAJ"


def test_the_old_id_layout_is_kept_as_the_source_id():
    source = shared("trf1-g2-old-id-layout.json")
    (record,) = parse_datajud_search(envelope(source, with_id=False), source["numeroProcesso"])
    assert record.source_id.startswith("TRF1_198_G2_")
    assert len(record.movements) == 94


def test_not_found_is_an_empty_list():
    assert parse_datajud_search(shared("search-response-empty.json"), TJES_NUMBER) == []


def test_hits_of_another_number_are_ignored():
    assert parse_datajud_search(shared("search-response-tjes-two-hits.json"), "00104905620258260309") == []


# --- our own cases ---------------------------------------------------------------------------------------------------

def test_several_instances_are_one_record_each_in_a_stable_order():
    records = parse_datajud_search(own("tjes-several-instances.json"), "5001234-91.2023.8.08.0012")
    assert [r.degree for r in records] == ["G1", "G2", "JE", "TR", "SUP"]
    assert {r.cnj for r in records} == {"50012349120238080012"}
    assert records[2].source_id == "TJES_JE_50012349120238080012"  # from `_source.id`: the hit has no `_id`
    assert records[2].movements == () and records[3].movements == ()
    assert [m.code for m in records[0].movements] == [123, 85, 51, 26]
    assert records[1].process_class == CodeName(198, "Apelação Cível")


def test_every_date_form_and_string_codes():
    (record,) = parse_datajud_search(own("tjes-compact-dates-string-codes.json"), "50043212120248080012")
    assert record.filed_at == utc(2024, 3, 5, 17, 15)  # compact, São Paulo time
    assert record.updated_at == utc(2024, 6, 1, 12, 0, 0, 123456)  # nanoseconds cut to microseconds
    assert record.process_class == CodeName(7, "Procedimento Comum Cível")
    assert record.judging_body == CodeName(4321, "CARIACICA - 2ª VARA CÍVEL")
    assert record.subjects == (CodeName(7780, "Indenização por Dano Material"),)
    assert record.secrecy_level == 0
    assert record.system == "PJe"
    by_name = {(m.code, m.name): m for m in record.movements}
    assert by_name[(26, "Distribuição")].at == utc(2024, 3, 5, 17, 15)
    assert by_name[(60, "Expedição de documento")].at == utc(2024, 3, 15, 13, 30)
    assert by_name[(12265, "Expedida/certificada")].at == utc(2024, 3, 15, 13, 30)  # ISO without a zone
    assert by_name[(11010, "Mero expediente")].at == utc(2024, 3, 12, 14, 0, 0, 987654)
    assert by_name[(1051, "Decurso de Prazo")].at == utc(2024, 4, 3, 2, 59, 59)
    assert by_name[(85, "Petição")].complements == ()  # no `nome`: the variable name is never shown
    assert by_name[(51, "Conclusão")].complements == ("para despacho",)
    assert by_name[(None, "Movimento sem código")].complements == ()
    assert by_name[(14732, "Conversão de Autos Físicos em Eletrônicos")]
    # 12 items: the two without a usable date cannot be placed; the duplicate stays for the timeline to count.
    assert len(record.movements) == 10
    assert [m.at for m in record.movements] == sorted((m.at for m in record.movements), reverse=True)


def test_nested_subjects_are_flattened_and_family_law_is_restricted():
    (record,) = parse_datajud_search(own("tjes-family-nested-subjects.json"), "00123453120218080012")
    assert record.subjects == (CodeName(5779, "Alimentos"), CodeName(7779, "Indenização por Dano Moral"))
    assert record.secrecy_level == 0
    assert record.restricted


def test_secrecy_level_makes_a_record_restricted():
    (record,) = parse_datajud_search(own("tjes-secrecy-level-1.json"), "50007778820258080012")
    assert record.secrecy_level == 1 and record.restricted
    assert record.movements == () and record.subjects == ()
    assert record.system is None
    assert record.filed_at == utc(2025, 1, 20, 9)


# --- pieces ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2024-09-17T13:57:41.819731476Z", utc(2024, 9, 17, 13, 57, 41, 819731)),
    ("2024-09-17T13:57:41.819Z", utc(2024, 9, 17, 13, 57, 41, 819000)),
    ("2024-09-17T13:57:41.114000Z", utc(2024, 9, 17, 13, 57, 41, 114000)),
    ("2024-09-17T13:57:41Z", utc(2024, 9, 17, 13, 57, 41)),
    ("2024-09-17T13:57:41+00:00", utc(2024, 9, 17, 13, 57, 41)),
    ("2024-09-17T10:57:41-0300", utc(2024, 9, 17, 13, 57, 41)),
    ("2024-09-17T10:57:41-03", utc(2024, 9, 17, 13, 57, 41)),
    ("2024-09-17T10:57:41", utc(2024, 9, 17, 13, 57, 41)),
    ("2024-09-17 10:57:41.5", utc(2024, 9, 17, 13, 57, 41, 500000)),
    ("2024-09-17", utc(2024, 9, 17, 3)),
    ("20250919104220", utc(2025, 9, 19, 13, 42, 20)),
    (" 20250919104220 ", utc(2025, 9, 19, 13, 42, 20)),
    ("20250919", utc(2025, 9, 19, 3)),
    (20250919104220, utc(2025, 9, 19, 13, 42, 20)),
    (1726581461819, utc(2024, 9, 17, 13, 57, 41, 819000)),
    ("20251319104220", None),
    ("2024-02-30T10:00:00Z", None),
    ("não informado", None),
    ("", None),
    (None, None),
    (True, None),
    ({}, None),
])
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


def test_parse_movement_refuses_what_cannot_be_placed():
    assert parse_movement("Petição", 0) is None
    assert parse_movement({"codigo": 85, "nome": "Petição"}, 0) is None
    movement = parse_movement({"codigo": "85", "nome": " Petição ", "dataHora": "20240101120000",
                               "complementosTabelados": [{"valor": 57, "nome": "Petição (outras)",
                                                          "descricao": "tipo_de_peticao"},
                                                         {"descricao": "tipo_de_documento", "valor": "12"},
                                                         {"descricao": "texto_livre", "valor": "Laudo pericial"},
                                                         "lixo"]}, 7)
    assert movement == SourceMovement(at=utc(2024, 1, 1, 15), code=85, name="Petição",
                                complements=("Petição (outras)", "Laudo pericial"), position=7)


@pytest.mark.parametrize("payload", [
    "<html><body>502 Bad Gateway</body></html>",
    None,
    [],
    {},
    {"hits": []},
    {"hits": {"total": 0}},
    {"hits": {"hits": {"_id": "x"}}},
    {"error": {"type": "parsing_exception", "reason": "[match] unknown token"}, "status": 400},
])
def test_what_is_not_a_search_response_is_malformed(payload):
    with pytest.raises(UnusablePayload) as error:
        parse_datajud_search(payload, TJES_NUMBER)
    assert error.value.reason


def test_broken_hits_are_skipped_not_fatal():
    source = {"numeroProcesso": TJES_NUMBER, "grau": "G1"}
    payload = {"hits": {"hits": ["x", {"_id": "a"}, {"_id": "b", "_source": []}, {"_id": "c", "_source": source}]}}
    (record,) = parse_datajud_search(payload, TJES_NUMBER)
    assert (record.source_id, record.process_class, record.subjects, record.movements) == ("c", None, (), ())
    assert record.filed_at is None and record.updated_at is None and record.judging_body is None


def test_a_number_sent_as_a_json_integer_still_matches():
    payload = {"hits": {"hits": [{"_id": "a", "_source": {"numeroProcesso": int(TJES_NUMBER), "grau": "G1"}}]}}
    assert [r.source_id for r in parse_datajud_search(payload, TJES_NUMBER)] == ["a"]


def test_the_asked_number_must_be_twenty_digits():
    with pytest.raises(ValueError, match="20 digits"):
        parse_datajud_search({"hits": {"hits": []}}, "123")


def _record(class_name="Procedimento Comum Cível", subjects=(), body="2ª VARA CÍVEL - CARIACICA", secrecy=0):
    return ProcessRecord(cnj=TJES_NUMBER, source_id="x", degree="G1", process_class=CodeName(7, class_name),
                         subjects=tuple(CodeName(None, s) for s in subjects), judging_body=CodeName(1, body),
                         filed_at=None, updated_at=None, secrecy_level=secrecy, system=None, movements=(), raw={})


@pytest.mark.parametrize("class_name", [
    "Divórcio Litigioso", "Alimentos - Lei Especial Nº 5.478/68", "Guarda", "Investigação de Paternidade",
    "Reconhecimento e Extinção de União Estável", "Interdição", "Adoção", "Medidas Protetivas de Urgência (Lei Maria "
    "da Penha)", "Violência Doméstica Contra a Mulher", "Seção Cível - ECA", "Direito da Criança e do Adolescente",
    "FAMILIA", "Regulamentação de Visitas", "Curatela",
])
def test_family_law_classes_are_restricted_whatever_the_source_says(class_name):
    assert _record(class_name).restricted


def test_family_law_subjects_and_bodies_are_restricted_too():
    assert _record(subjects=("Indenização por Dano Moral", "Fixação de alimentos")).restricted
    assert _record(body="1ª VARA DE FAMÍLIA - CARIACICA").restricted
    assert _record(secrecy=2).restricted


@pytest.mark.parametrize("class_name", [
    "Procedimento Comum Cível", "Execução de Título Extrajudicial", "Tutela Cautelar Antecedente", "Hipoteca",
    "Cumprimento de sentença", "Apelação Cível",
])
def test_ordinary_civil_matters_are_not_restricted(class_name):
    assert not _record(class_name, subjects=("Indenização por Dano Moral",)).restricted


def test_the_model_is_immutable():
    record = _record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.secrecy_level = 0
    assert record == dataclasses.replace(record, raw={"other": 1})  # the raw payload is not part of equality
