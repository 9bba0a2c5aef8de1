"""services.processes.timeline and the mapping it reads (data/tpu_movement_categories.json, built by scripts/)."""
import importlib.util
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.processes import timeline
from services.processes.datajud import parse_datajud_search, parse_movement
from services.processes.model import SourceMovement

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "fixtures"
G2 = SHARED / "datajud" / "tjes-g2-0022783-22.2017.8.08.0024.json"
TPU_CSV = SHARED / "tpu" / "movimentos.csv"
COMMITTED = ROOT / "data" / "tpu_movement_categories.json"


def shared_file(path: Path) -> Path:
    if not path.is_file():
        pytest.skip("shared fixtures not present")
    return path


def g2_movements() -> list[SourceMovement]:
    items = json.loads(shared_file(G2).read_text(encoding="utf-8"))["movimentos"]
    return [parse_movement(item, position) for position, item in enumerate(items)]


def build_script():
    spec = importlib.util.spec_from_file_location("build_tpu_categories", ROOT / "scripts" / "build_tpu_categories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def movement(code, when, position, complements=(), name="x"):
    return SourceMovement(at=when, code=code, name=name, complements=complements, position=position)


def flat(days):
    return [item for day in days for item in day.items]


# --- the G2 fixture ---------------------------------------------------------------------------------------------------

def test_g2_61_movements_become_59_items_newest_first():
    movements = g2_movements()
    assert len(movements) == 61
    days = timeline.build_timeline(movements)
    items = flat(days)
    assert len(items) == 59
    assert sum(item.count for item in items) == 61
    assert (items[0].name, items[0].complements) == ("Petição", ("Embargos de declaração",))
    assert (items[-1].name, items[-1].complements) == ("Distribuição", ("sorteio",))
    assert [item.date for item in items] == sorted((item.date for item in items), reverse=True)
    assert [day.date for day in days] == sorted({day.date for day in days}, reverse=True)


def test_g2_the_triple_decurso_de_prazo_collapses_and_the_one_a_second_later_stays():
    day = next(day for day in timeline.build_timeline(g2_movements()) if day.date == date(2022, 4, 20))
    assert [(item.name, item.date.strftime("%H:%M:%S"), item.count) for item in day.items] == [
        ("Decurso de Prazo", "12:37:44", 1),  # 15:37:44Z: another second, another act
        ("Decurso de Prazo", "12:37:43", 3),  # the same act sent three times
    ]
    assert {item.category for item in day.items} == {"prazos"}


def test_g2_the_parsed_record_gives_the_same_timeline_as_the_raw_list():
    payload = {"hits": {"hits": [{"_id": "TJES_G2", "_source": json.loads(shared_file(G2).read_text("utf-8"))}]}}
    (record,) = parse_datajud_search(payload, "00227832220178080024")
    assert timeline.build_timeline(record.movements) == timeline.build_timeline(g2_movements())


def test_g2_days_are_the_courts_calendar_days():
    days = {day.date: day for day in timeline.build_timeline(g2_movements())}
    # 2022-04-07T00:02:31Z is 21:02 on the 6th in Vitória: the same day as the 09:58 petition.
    assert [item.name for item in days[date(2022, 4, 6)].items] == [
        "Publicação", "Disponibilização no Diário da Justiça Eletrônico", "Petição"]
    assert date(2022, 4, 7) not in days
    assert [item.name for item in days[date(2023, 9, 4)].items] == ["Decurso de Prazo"]  # 01:12Z on the 5th


def test_g2_equal_instants_keep_the_source_order_reversed():
    day = next(day for day in timeline.build_timeline(g2_movements()) if day.date == date(2024, 7, 29))
    assert [item.code for item in day.items] == [12265, 239, 238]


def test_every_code_in_the_g2_fixture_is_in_the_table_with_the_expected_category():
    table = timeline.load_categories()
    codes = {m.code for m in g2_movements()}
    assert codes <= set(table.codes)
    expected = {
        26: "inicio", 51: "com_o_juiz", 11010: "despacho", 12311: "despacho", 85: "documentos", 581: "documentos",
        60: "comunicacoes", 92: "comunicacoes", 1061: "comunicacoes", 12265: "comunicacoes", 1051: "prazos",
        123: "recurso", 132: "recurso", 981: "recurso", 982: "recurso", 12200: "sentenca", 238: "sentenca",
        239: "sentenca", 12215: "outros", 12115: "outros", 12203: "outros",
    }
    assert set(expected) == codes
    assert {code: timeline.category_of(code) for code in codes} == expected


# --- categories ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "category"), [
    (14732, "outros"),  # newer than the mid-2021 table (Conversão de Autos Físicos em Eletrônicos)
    (None, "outros"),
    (999999, "outros"),
    ("abc", "outros"),
    ("26", "inicio"),
    (848, "encerramento"),
    (22, "encerramento"),
    (246, "encerramento"),
    (245, "outros"),  # arquivamento provisório is not an end
    (219, "sentenca"),
    (220, "sentenca"),
    (221, "sentenca"),
    (12740, "audiencia"),
    (12287, "comunicacoes"),
    (11385, "inicio"),
])
def test_category_of(code, category):
    assert timeline.category_of(code) == category


def test_every_category_has_a_label_and_one_plain_sentence_that_never_says_who_won():
    table = timeline.load_categories()
    assert list(table.labels) == ["inicio", "com_o_juiz", "despacho", "decisao", "sentenca", "audiencia", "documentos",
                                  "comunicacoes", "prazos", "recurso", "encerramento", "outros"]
    for category in table.labels:
        assert timeline.category_label(category)
        text = timeline.explanation(category)
        assert text.endswith(".") and text.count(". ") == 0, category
        for word in ("venceu", "perdeu", "vitória", "derrota", "procedente", "favorável"):
            assert word not in text.lower(), (category, word)
    assert "não diz quem ganhou" in timeline.explanation("sentenca")
    assert timeline.category_label("nope") == "Outros"
    assert timeline.explanation("nope") == timeline.explanation("outros")


def test_the_mapping_covers_every_code_of_the_tpu_table():
    with shared_file(TPU_CSV).open(encoding="utf-8") as handle:
        csv_codes = {int(line.split(",", 1)[0]) for line in list(handle)[1:]}
    assert set(timeline.load_categories().codes) == csv_codes


def test_the_committed_mapping_is_what_the_script_builds():
    built = build_script().build(shared_file(TPU_CSV))
    assert built == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_the_script_prints_its_rules_and_writes_the_file(tmp_path, capsys):
    output = tmp_path / "out.json"
    assert build_script().main([str(shared_file(TPU_CSV)), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "11009  despacho      1 Magistrado > 11009 Despacho" in printed
    assert "861 Arquivamento > 246 Definitivo" in printed
    assert json.loads(output.read_text(encoding="utf-8")) == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_the_script_refuses_a_rule_the_table_contradicts(monkeypatch):
    script = build_script()
    monkeypatch.setitem(script.RULES, 26, ("Redistribuição", "inicio"))
    with pytest.raises(SystemExit, match="the table calls it 'Distribuição'"):
        script.build(shared_file(TPU_CSV))


def test_load_categories_is_cached_per_path_and_refuses_an_incomplete_file(tmp_path):
    assert timeline.load_categories() is timeline.load_categories()
    data = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data["codes"] = {"26": "inicio", "1": "sumiu"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="sumiu"):
        timeline.load_categories(broken)
    data["codes"] = {"26": "inicio"}
    small = tmp_path / "small.json"
    small.write_text(json.dumps(data), encoding="utf-8")
    assert dict(timeline.load_categories(str(small)).codes) == {26: "inicio"}


# --- grouping rules ------------------------------------------------------------------------------------------------

def test_identical_acts_at_different_times_stay_separate():
    movements = [movement(85, at(2024, 5, 6, 13, 0), 0, ("Petição (outras)",), "Petição"),
                 movement(85, at(2024, 5, 6, 14, 0), 1, ("Petição (outras)",), "Petição"),
                 movement(85, at(2024, 5, 6, 14, 0), 2, ("Petição (outras)",), "Petição"),
                 movement(85, at(2024, 5, 6, 14, 0), 3, ("Contrarrazões",), "Petição")]
    (day,) = timeline.build_timeline(movements)
    assert [(item.date.hour, item.complements, item.count) for item in day.items] == [
        (11, ("Contrarrazões",), 1), (11, ("Petição (outras)",), 2), (10, ("Petição (outras)",), 1)]
    assert {(item.category, item.category_label) for item in day.items} == {("documentos", "Documentos juntados")}


def test_movements_without_a_code_collapse_only_with_the_same_name_and_show_a_name():
    when = at(2024, 5, 6, 13, 0)
    items = flat(timeline.build_timeline([movement(None, when, 0, name="A"), movement(None, when, 1, name="B"),
                                          movement(None, when, 2, name="A"), movement(7777777, when, 3, name="")]))
    assert [(item.name, item.count, item.category) for item in items] == [
        ("Outros", 1, "outros"), ("B", 1, "outros"), ("A", 2, "outros")]


def test_no_movements_no_days():
    assert timeline.build_timeline([]) == []


def test_our_fixture_with_every_date_form_makes_a_timeline():
    payload = json.loads((ROOT / "tests/fixtures/datajud/tjes-compact-dates-string-codes.json").read_text("utf-8"))
    (record,) = parse_datajud_search(payload, "50043212120248080012")
    items = flat(timeline.build_timeline(record.movements))
    assert len(items) == 9  # 10 movements, one exact duplicate
    assert [(i.name, i.count) for i in items if i.code == 1051] == [("Decurso de Prazo", 2)]
    assert items[-1].category == "inicio" and items[-1].date.strftime("%d/%m/%Y %H:%M") == "05/03/2024 14:15"
    assert {i.code: i.category for i in items}[14732] == "outros"
