"""The Escavador v2 provider against a fake Escavador on loopback: pages, auth, failures, privacy."""
import json
from dataclasses import asdict

import pytest

from extensions import db
from models import Movement, ProcessInstance
from services import processes
from services.processes import datajud as datajud_provider
from services.processes import escavador as escavador_provider
from tests.fake_escavador import FIXTURES, load_fixtures

NUMBER = "5001234-91.2023.8.08.0012"  # G1 and G2 sources, 24 movements (2 from the gazette), parties
SECRET = "5000456-87.2024.8.08.0012"  # segredo de justiça, alimentos
UNKNOWN = "0000012-18.2019.8.08.0012"
PARTY_TRACES = ("Maria Aparecida", "FIGUEIREDO", "Figueiredo", "Transportadora", "TRANSPORTADORA", "12345678909",
                "Carlos Eduardo", "45.000", "OAB")


def test_the_process_and_every_movement_page(make_app, escavador):
    escavador.page_size = 10  # 24 movements: three pages
    client = make_app(escavador=escavador).test_client()
    response = client.get(f"/api/v1/processos/{NUMBER}")
    assert response.status_code == 200
    body = response.json
    assert body["source"] == "escavador" and body["stale"] is False and body["cnj"] == NUMBER
    degrees = {instance["degree"]: instance for instance in body["instances"]}
    assert set(degrees) == {"G1", "G2"}
    g1, g2 = degrees["G1"], degrees["G2"]
    assert g1["class"] == {"code": None, "name": "PROCEDIMENTO COMUM CÍVEL"}
    assert g1["judging_body"]["name"] == "CARIACICA - 2ª VARA CÍVEL"
    assert [s["name"] for s in g1["subjects"]] == ["Indenização por Dano Moral", "Indenização por Dano Material"]
    assert g1["filed_at"].startswith("2023-03-10T03:00:00")  # midnight in the court's time zone
    assert len(g1["movements"]) == 15  # 16 from the court system, the duplicate hearing collapsed; gazette left out
    assert len(g2["movements"]) == 6 and g2["movements"][0]["name"] == "Publicado Acórdão em 18/09/2024"
    assert g1["movements"][-1]["name"] in {"Distribuído por sorteio", "Conclusos para despacho"}
    assert all(len(m["name"]) <= 255 for m in g1["movements"])
    assert all(m["category"] == "outros" for m in g2["movements"])  # no TPU codes from Escavador
    assert escavador.count == 4  # the process, then three pages following links.next
    assert [p for p in escavador.paths if p.endswith("/movimentacoes")] == \
        [f"/api/v2/processos/numero_cnj/{NUMBER}/movimentacoes"] * 3
    assert escavador.last_headers["authorization"] == "Bearer test-key"


def test_parties_are_kept_raw_but_never_shown(make_app, escavador):
    app = make_app(escavador=escavador)
    client = app.test_client()
    api = client.get(f"/api/v1/processos/{NUMBER}").get_data(as_text=True)
    page = client.get(f"/processos/{NUMBER}").get_data(as_text=True)
    assert "PROCEDIMENTO COMUM CÍVEL" in page
    assert "Decorrido prazo de (parte) em 29/01/2024" in api  # the court's text named a party
    for trace in PARTY_TRACES:
        assert trace not in api and trace not in page, trace
    with app.app_context():
        raws = [row.raw for row in db.session.execute(db.select(ProcessInstance)).scalars()]
    assert len(raws) == 2 and all(raw["fonte"]["envolvidos"] for raw in raws)
    assert raws[0]["processo"]["titulo_polo_ativo"] == "Maria Aparecida Figueiredo"


def test_the_domain_records_carry_no_party():
    processes_by_number, movements = load_fixtures(FIXTURES)
    digits = "50012349120238080012"
    records = escavador_provider.parse_process(processes_by_number[digits], movements[digits], digits)
    assert [r.degree for r in records] == ["G1", "G2"]
    assert [r.source_id for r in records] == ["escavador:880001", "escavador:880002"]
    for record in records:
        rendered = json.dumps({k: v for k, v in asdict(record).items() if k != "raw"}, default=str)
        for trace in PARTY_TRACES:
            assert trace not in rendered, trace


def test_an_unknown_number_is_not_found_and_remembered(make_app, escavador):
    client = make_app(escavador=escavador).test_client()
    response = client.get(f"/api/v1/processos/{UNKNOWN}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/processos/{UNKNOWN}").status_code == 404
    assert escavador.count == 1


@pytest.mark.parametrize(("mode", "alert"), [("401", "escavador_api_key"), ("402", "escavador_credits")])
def test_a_refused_key_is_an_alert_not_not_found(make_app, escavador, log_lines, mode, alert):
    escavador.set(mode)
    client = make_app(escavador=escavador).test_client()
    response = client.get(f"/api/v1/processos/{NUMBER}")
    assert response.status_code == 503 and response.json["error"]["code"] == "upstream_unavailable"
    assert escavador.count == 1  # not retried: a refused key stays refused
    assert any(line.get("alert") == alert for line in log_lines())
    assert "test-key" not in json.dumps(log_lines())


def test_a_429_is_retried_then_answers(make_app, escavador):
    escavador.fail_next("429")
    client = make_app(escavador=escavador).test_client()
    assert client.get(f"/api/v1/processos/{NUMBER}").status_code == 200
    assert escavador.count == 3  # 429, the process again, one page of movements


@pytest.mark.parametrize("mode", ["500", "503", "html", "429"])
def test_a_failing_source_is_503_with_retry_after(make_app, escavador, mode):
    escavador.set(mode)
    client = make_app({"RETRY_MAX_ATTEMPTS": "2"}, escavador=escavador).test_client()
    response = client.get(f"/api/v1/processos/{NUMBER}")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert escavador.count == 2


def test_a_failed_movement_page_keeps_the_stored_movements(make_app, escavador):
    escavador.page_size = 10
    app = make_app(escavador=escavador)
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{NUMBER}").status_code == 200
    with app.app_context():
        before = db.session.execute(db.select(db.func.count()).select_from(Movement)).scalar()
        db.session.execute(db.update(ProcessInstance).values(valid_until=ProcessInstance.fetched_at))
        db.session.commit()
        app.extensions["cache"].invalidate_namespace("processes")
        app.extensions["cache"].invalidate_namespace("processes-fetch")
    escavador.fail_movement_page = 2
    response = client.get(f"/api/v1/processos/{NUMBER}")
    assert response.status_code == 200 and response.json["stale"] is True
    assert "Escavador" in response.json["stale_reason"]
    with app.app_context():
        after = db.session.execute(db.select(db.func.count()).select_from(Movement)).scalar()
        statuses = {row.last_sync_status for row in db.session.execute(db.select(ProcessInstance)).scalars()}
    assert before == after == 22 and statuses == {"error"}


@pytest.mark.parametrize("elsewhere", ["http://127.0.0.2:9/api/v2", "http://127.0.0.1:9/api/v2"])
def test_a_next_link_off_the_base_url_is_never_followed(make_app, escavador, elsewhere):
    escavador.page_size = 10
    escavador.next_base = elsewhere
    client = make_app(escavador=escavador).test_client()
    assert client.get(f"/api/v1/processos/{NUMBER}").status_code == 503
    assert escavador.count == 2  # the process and the first page; the key never went to the other address


def test_a_secret_process_shows_only_its_number(make_app, escavador):
    client = make_app(escavador=escavador).test_client()
    body = client.get(f"/api/v1/processos/{SECRET}").json
    assert body["restricted"] is True and body["instances"] == [] and body["source"] == "escavador"


def test_the_provider_follows_the_key(make_app):
    with make_app().app_context():
        assert processes.provider() is datajud_provider
    with make_app({"ESCAVADOR_API_KEY": "k"}).app_context():
        assert processes.provider() is escavador_provider
