"""The process lookup end to end: pages and API against a fake DataJud on loopback (issue 4's flow)."""
import threading
import time

import pytest

from extensions import db
from models import Movement, ProcessInstance
from tests.conftest import FakeClock

TJES_FIXTURE = "0022783-22.2017.8.08.0024"
UNKNOWN_TJES = "0001365-91.2018.8.08.0024"


def test_the_tjes_fixture_in_the_api(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert response.status_code == 200
    body = response.json
    assert body["cnj"] == TJES_FIXTURE and body["stale"] is False and body["stale_reason"] is None
    assert body["source"] == "datajud" and body["fetched_at"].endswith("Z")
    degrees = {instance["degree"]: instance for instance in body["instances"]}
    assert set(degrees) == {"G1", "G2"}
    assert degrees["G1"]["movements"] == []
    movements = degrees["G2"]["movements"]
    assert len(movements) == 59  # 61 sent, the triple "Decurso de Prazo" collapsed
    assert movements[0]["name"] == "Petição" and movements[-1]["name"] == "Distribuição"
    assert [m["date"] for m in movements] == sorted((m["date"] for m in movements), reverse=True)
    assert all(m["category"] for m in movements)
    assert degrees["G2"]["class"]["name"] == "Apelação Cível"
    assert "tipo_de_" not in response.get_data(as_text=True)
    assert datajud.last_headers["authorization"].startswith("APIKey ")


def test_the_tjes_fixture_as_a_page(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/processos/{TJES_FIXTURE}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"<h1>Processo {TJES_FIXTURE}</h1>" in html
    assert "Apelação Cível" in html and "Procedimento Comum Cível" in html
    assert "tipo_de_" not in html and html.count("<h1") == 1


@pytest.mark.parametrize("spelling", ["00227832220178080024", " 0022783-22.2017.8.08.0024 ",
                                      "0022783 22 2017 8 08 0024"])
def test_any_common_spelling_is_accepted(make_app, datajud, spelling):
    client = make_app(datajud=datajud).test_client()
    assert client.get(f"/api/v1/processos/{spelling}").status_code == 200
    response = client.get("/consulta", query_string={"numero": spelling})
    assert response.status_code == 303 and response.headers["Location"] == f"/processos/{TJES_FIXTURE}"


@pytest.mark.parametrize(("number", "reason", "words"), [
    ("0022783-23.2017.8.08.0024", "check_digits", "dígitos"),
    ("0010490-56.2025.8.26.0309", "other_court", "São Paulo"),
    ("12345", "length", "20 dígitos"),
    ("9" * 5000, "length", ""),
])
def test_rejected_numbers_never_reach_the_source(make_app, datajud, number, reason, words):
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/api/v1/processos/{number}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_cnj" and response.json["error"]["reason"] == reason
    assert words in response.json["error"]["message"]
    page = client.get(f"/processos/{number}")
    assert page.status_code == 400 and 'role="alert"' in page.get_data(as_text=True)
    assert datajud.count == 0


def test_an_unknown_number_is_404_and_cached_as_missing(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/api/v1/processos/{UNKNOWN_TJES}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert "segredo de justiça" in response.json["error"]["message"]
    assert client.get(f"/processos/{UNKNOWN_TJES}").status_code == 404
    assert datajud.count == 1  # the second answer came from the negative cache


def test_stored_data_is_served_stale_when_the_source_is_down(make_app, datajud):
    app = make_app({"PROCESS_CACHE_TTL": "1", "PROCESS_DB_TTL": "1"}, datajud=datajud)
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{TJES_FIXTURE}").json["stale"] is False
    with app.app_context():  # age the stored copy and the cache instead of sleeping
        for row in db.session.execute(db.select(ProcessInstance)).scalars():
            row.valid_until = row.fetched_at
        db.session.commit()
        app.extensions["cache"].invalidate_namespace("processes")
        app.extensions["cache"].invalidate_namespace("processes-fetch")
    datajud.set("503")
    response = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert response.status_code == 200
    assert response.json["stale"] is True and "indisponível" in response.json["stale_reason"]
    assert len(response.json["instances"]) == 2
    page = client.get(f"/processos/{TJES_FIXTURE}")
    assert page.status_code == 200 and "Estes são os dados guardados em" in page.get_data(as_text=True)
    calls = datajud.count
    for _ in range(20):  # the stale answer is served from the cache until the source is worth asking again
        assert client.get(f"/api/v1/processos/{TJES_FIXTURE}").json["stale"] is True
    assert datajud.count == calls


def test_nothing_stored_and_the_source_down_is_503_with_retry_after(make_app, datajud):
    datajud.set("503")
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "upstream_unavailable" and int(response.headers["Retry-After"]) >= 1
    page = client.get(f"/processos/{TJES_FIXTURE}")
    assert page.status_code == 503 and "Retry-After" in page.headers
    assert "Consulta indisponível" in page.get_data(as_text=True)


@pytest.mark.parametrize("mode", ["html", "truncated", "401", "400"])
def test_unusable_answers_are_the_source_failing_not_not_found(make_app, datajud, mode, log_lines):
    datajud.set(mode)
    client = make_app(datajud=datajud).test_client()
    response = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert response.status_code == 503
    if mode == "401":
        assert any(line.get("alert") == "datajud_api_key" for line in log_lines())


def test_the_breaker_bounds_calls_while_the_source_is_down(make_app, datajud):
    datajud.set("503")
    client = make_app(datajud=datajud).test_client()
    for _ in range(30):
        assert client.get(f"/api/v1/processos/{UNKNOWN_TJES}").status_code == 503
    assert datajud.count <= 10  # 5 failing calls open it; with retries and the budget, a handful of requests


def test_concurrent_first_lookups_make_one_upstream_request(make_app, datajud):
    datajud.set("slow", delay=0.3)
    app = make_app(datajud=datajud)
    statuses = []

    def one():
        with app.test_client() as client:
            statuses.append(client.get(f"/api/v1/processos/{TJES_FIXTURE}").status_code)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert statuses == [200] * 50
    assert datajud.count == 1


def test_restricted_processes_show_only_the_number(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    for number in ("50007778820258080012", "00123453120218080012"):  # secrecy level 1; a family-law subject
        body = client.get(f"/api/v1/processos/{number}").json
        assert body["restricted"] is True and body["instances"] == []
        html = client.get(f"/processos/{number}").get_data(as_text=True)
        assert "segredo de justiça" in html and "Alimentos" not in html


def test_a_refresh_replaces_the_movements_in_one_transaction(make_app, datajud):
    app = make_app(datajud=datajud)
    client = app.test_client()
    client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    with app.app_context():
        first = db.session.execute(db.select(db.func.count()).select_from(Movement)).scalar()
        db.session.execute(db.update(ProcessInstance).values(valid_until=ProcessInstance.fetched_at))
        db.session.commit()
        app.extensions["cache"].invalidate_namespace("processes")
        app.extensions["cache"].invalidate_namespace("processes-fetch")
    client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    with app.app_context():
        again = db.session.execute(db.select(db.func.count()).select_from(Movement)).scalar()
        rows = db.session.execute(db.select(db.func.count()).select_from(ProcessInstance)).scalar()
    assert first == again == 61 and rows == 2  # replaced, not appended
    assert datajud.count == 2


def test_the_lookup_form_explains_a_bad_number(client):
    response = client.get("/consulta", query_string={"numero": "0022783-23.2017.8.08.0024"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "dígitos verificadores" in html and 'aria-invalid="true"' in html
    assert client.get("/consulta").status_code == 200


def test_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/processos/{numero}" in spec["paths"]


@pytest.mark.postgres
def test_the_lookup_on_postgresql(make_app, datajud, postgres_url):
    client = make_app({"DATABASE_URL": postgres_url}, datajud=datajud).test_client()
    body = client.get(f"/api/v1/processos/{TJES_FIXTURE}").json
    assert len(body["instances"]) == 2


def test_the_process_page_is_rendered_once_per_version(make_app, datajud):
    from services import cache

    app = make_app(datajud=datajud)
    client = app.test_client()
    first = client.get(f"/processos/{TJES_FIXTURE}").get_data(as_text=True)
    second = client.get(f"/processos/{TJES_FIXTURE.replace('-', '').replace('.', '')}").get_data(as_text=True)
    assert first == second and "Fonte: DataJud (CNJ)" in first
    with app.app_context():
        stats = cache.current().stats()["process-pages"]
    assert stats["hits"] == 1 and stats["misses"] == 1


def cache_on_a_clock(app) -> FakeClock:
    """The app's cache aged by a clock the test moves, not by real seconds (1 s is the cache's smallest TTL)."""
    from services import cache

    clock = FakeClock(time.time())
    app.extensions["cache"].close()
    app.extensions["cache"] = cache.Cache.from_app(app, clock=clock)
    return clock


def ask_while_another_waits_on_the_source(app, datajud):
    """One caller asks a source that holds its answer; meanwhile another asks. The other's answer, and whether
    it came while the first was still waiting on the source (rather than after it)."""
    asked = datajud.count
    datajud.set("slow", delay=30)  # held until released below
    refresher = threading.Thread(target=app.test_client().get, args=(f"/api/v1/processos/{TJES_FIXTURE}",))
    refresher.start()
    deadline = time.monotonic() + 10
    while datajud.count == asked and time.monotonic() < deadline:  # until the refresher waits on the source
        time.sleep(0.01)
    try:
        other = app.test_client().get(f"/api/v1/processos/{TJES_FIXTURE}")
        answered_first = refresher.is_alive()
    finally:
        datajud.release()
        refresher.join(10)
    return other, answered_first


def test_after_an_outage_copy_expires_only_one_caller_waits_for_the_source(make_app, datajud):
    from services import cache, processes

    app = make_app({"DATAJUD_READ_TIMEOUT_S": "5", "DATAJUD_DEADLINE_S": "6"}, datajud=datajud)
    clock = cache_on_a_clock(app)
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{TJES_FIXTURE}").json["stale"] is False
    with app.app_context():  # an outage copy whose retry time is (about to be) over
        stale = {**client.get(f"/api/v1/processos/{TJES_FIXTURE}").json, "stale": True, "stale_reason": "teste"}
        cache.current().set(processes.CACHE_NS, "00227832220178080024", stale, ttl=1, stale_ttl=600)
        cache.current().delete(processes.FETCH_NS, "00227832220178080024")  # no fetch just happened
        db.session.query(ProcessInstance).update({"valid_until": ProcessInstance.fetched_at})
        db.session.commit()
    clock.advance(1.1)
    other, answered_first = ask_while_another_waits_on_the_source(app, datajud)
    assert other.status_code == 200 and other.json["stale"] is True and other.json["stale_reason"] == "teste"
    assert answered_first  # served the copy at once, not after the source's answer
    assert datajud.count == 2  # the first lookup, then the one refresher


def test_a_finished_fetch_is_not_reused_once_the_ttls_are_over(make_app, datajud):
    app = make_app({"PROCESS_CACHE_TTL": "1", "PROCESS_DB_TTL": "1"}, datajud=datajud)
    clock = cache_on_a_clock(app)
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{TJES_FIXTURE}").json["stale"] is False
    clock.advance(1.2)  # past the cache's TTL and the fetch rendezvous's (1 s each)
    with app.app_context():  # and past the stored copy's
        db.session.query(ProcessInstance).update({"valid_until": ProcessInstance.fetched_at})
        db.session.commit()
    datajud.set("503")
    answer = client.get(f"/api/v1/processos/{TJES_FIXTURE}").json
    assert answer["stale"] is True  # asked the source again, which is down: the stored copy, marked stale
    assert datajud.count >= 2


def test_while_one_caller_refreshes_an_expired_copy_the_others_get_the_copy(make_app, datajud):

    from services import cache, processes

    app = make_app({"DATAJUD_READ_TIMEOUT_S": "5", "DATAJUD_DEADLINE_S": "6"}, datajud=datajud)
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{TJES_FIXTURE}").json["stale"] is False
    with app.app_context():  # a new worker's view: nothing cached, the stored copy past its TTL
        app.extensions["cache"].invalidate_namespace(processes.CACHE_NS)
        cache.current().delete(processes.FETCH_NS, "00227832220178080024")
        db.session.query(ProcessInstance).update({"valid_until": ProcessInstance.fetched_at})
        db.session.commit()
    other, answered_first = ask_while_another_waits_on_the_source(app, datajud)
    assert other.status_code == 200 and other.json["stale"] is True
    assert other.json["stale_reason"] == "a atualização pela fonte ainda está em andamento"
    assert answered_first  # the stored copy at once, not after the source's answer
