"""Staff tools: the follow list (add, paste, remove), forced refresh, CSV export, and the users CLI."""
import csv
import io
from datetime import timedelta

import pytest

from extensions import db
from models import AuditEntry, FollowedProcess, User, utcnow
from tests.conftest import TEST_PASSWORD, csrf_token_from, unique_address

TJES_FIXTURE = "0022783-22.2017.8.08.0024"
OTHER_TJES = "0001365-91.2018.8.08.0024"
TRT_NUMBER = "0000001-85.2020.5.17.0001"


@pytest.fixture
def app(make_app, datajud):
    """This module's app asks the fake DataJud."""
    return make_app(datajud=datajud)


@pytest.fixture
def staff(app, login):
    client = app.test_client()
    login(client, app, role="staff")
    return client


def token_of(client) -> str:
    return csrf_token_from(client.get("/equipe/processos").get_data(as_text=True))


def forget_recent_fetch(app):
    """Fetches of one number within a few seconds share one provider call (single flight), forced or not;
    the tests below want the next forced refresh to be a new call."""
    from services import cache, processes

    with app.app_context():
        cache.current().delete(processes.FETCH_NS, "00227832220178080024")


def paste(client, text):
    return client.post("/equipe/processos", data={"csrf_token": token_of(client), "numbers": text})


def followed_numbers(app):
    with app.app_context():
        return sorted(db.session.scalars(db.select(FollowedProcess.cnj)))


def test_paste_gives_one_verdict_per_line(app, staff):
    response = paste(staff, f"{TJES_FIXTURE}\n\n 00227832220178080024 \n0022783-23.2017.8.08.0024\n{TRT_NUMBER}\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.count("Adicionado.") == 1 and "Repetido nesta lista" in body
    assert "confira os dois dígitos depois do hífen" in body and "TRT da 17ª Região" in body
    assert followed_numbers(app) == ["00227832220178080024"]
    again = paste(staff, TJES_FIXTURE).get_data(as_text=True)
    assert "Já estava na lista" in again


def test_more_than_fifty_numbers_adds_none(app, staff):
    response = paste(staff, "\n".join([TJES_FIXTURE] * 51))
    assert response.status_code == 400 and "Cole até 50 números por vez" in response.get_data(as_text=True)
    assert followed_numbers(app) == []


def test_only_invalid_lines_is_a_bad_request(staff):
    assert paste(staff, "123").status_code == 400
    assert paste(staff, "").status_code == 400


def test_remove_takes_a_number_off_the_list_and_is_audited(app, staff):
    paste(staff, f"{TJES_FIXTURE}\n{OTHER_TJES}")
    response = staff.post(f"/equipe/processos/{TJES_FIXTURE}/remover", data={"csrf_token": token_of(staff)},
                          follow_redirects=True)
    assert "saiu da lista de acompanhamento" in response.get_data(as_text=True)
    assert followed_numbers(app) == ["00013659120188080024"]
    missing = staff.post(f"/equipe/processos/{TJES_FIXTURE}/remover", data={"csrf_token": token_of(staff)},
                         follow_redirects=True)
    assert "não estava na lista" in missing.get_data(as_text=True)
    with app.app_context():
        actions = [entry.action for entry in db.session.scalars(db.select(AuditEntry))]
    assert {"follow_add", "follow_remove"} <= set(actions)


def test_a_forced_refresh_reaches_the_source_and_the_list_shows_the_process(app, staff, datajud):
    paste(staff, TJES_FIXTURE)
    response = staff.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(staff)},
                          follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "foi atualizado agora pela fonte" in body
    assert "Petição" in body and "dias" in body  # the last movement and "parado há N dias"
    forget_recent_fetch(app)
    before = datajud.count
    staff.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(staff)})
    assert datajud.count == before + 1  # forced: the cache and the store are skipped


def test_a_forced_refresh_while_the_source_is_down_keeps_the_stored_data(app, staff, datajud):
    paste(staff, TJES_FIXTURE)
    staff.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(staff)})
    datajud.set("503")
    forget_recent_fetch(app)
    response = staff.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(staff)},
                          follow_redirects=True)
    assert response.status_code == 200
    assert "continua com os dados guardados" in response.get_data(as_text=True)


def test_with_rq_the_refresh_is_a_high_queue_job_the_page_waits_for(make_app, datajud, own_redis, login):
    """No worker answers within the wait: the page says the refresh goes on in the background, and a worker that
    comes later stores the process (the high queue, before the sync's default queue)."""
    from services.jobs import worker as worker_module

    app = make_app({"REDIS_URL": own_redis.url}, datajud=datajud, JOBS_MODE="rq", STAFF_REFRESH_WAIT_S=0)
    client = app.test_client()
    login(client, app, role="staff")
    paste(client, TJES_FIXTURE)
    before = datajud.count
    page = client.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "continua em segundo plano" in page and datajud.count == before
    engine = app.extensions["jobs"]
    with app.app_context():
        assert engine.queue("high").count == 1
        outcomes = [entry.details["outcome"] for entry in AuditEntry.query.filter_by(action="process_refresh")]
        worker_module.build(app, engine, name="staff-refresh").work(burst=True)
    assert outcomes == ["queued"] and datajud.count == before + 1
    assert "Petição" in client.get("/equipe/processos").get_data(as_text=True)


def test_csv_export_lists_the_followed_processes_with_their_last_movement(app, staff):
    paste(staff, f"{TJES_FIXTURE}\n{OTHER_TJES}")
    staff.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(staff)})
    response = staff.get("/equipe/processos.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    by_number = {row["processo"]: row for row in rows}
    assert set(by_number) == {TJES_FIXTURE, OTHER_TJES}
    fixture = by_number[TJES_FIXTURE]
    assert fixture["ultima_movimentacao"] == "Petição" and int(fixture["parado_ha_dias"]) > 365
    assert by_number[OTHER_TJES]["ultima_movimentacao"] == ""


def test_staff_may_force_a_refresh_through_the_api_and_citizens_may_not(app, staff, datajud):
    citizen = app.test_client()
    citizen.environ_base["REMOTE_ADDR"] = unique_address()
    assert citizen.get(f"/api/v1/processos/{TJES_FIXTURE}").status_code == 200
    before = datajud.count
    assert citizen.get(f"/api/v1/processos/{TJES_FIXTURE}?force_refresh=1").status_code == 200
    assert datajud.count == before  # ignored for anonymous users: served from the cache
    forget_recent_fetch(app)
    assert staff.get(f"/api/v1/processos/{TJES_FIXTURE}?force_refresh=1").status_code == 200
    assert datajud.count == before + 1


def test_the_follow_list_works_on_postgresql(make_app, postgres_url, datajud, login):
    app = make_app({"DATABASE_URL": postgres_url}, datajud=datajud)
    client = app.test_client()
    login(client, app, role="staff")
    paste(client, f"{TJES_FIXTURE}\n{OTHER_TJES}")
    client.post(f"/equipe/processos/{TJES_FIXTURE}/atualizar", data={"csrf_token": token_of(client)})
    body = client.get("/equipe/processos").get_data(as_text=True)
    assert OTHER_TJES in body and "Petição" in body


def test_cli_creates_lists_and_changes_users(app, runner):
    created = runner.invoke(args=["users", "create", "--username", "Maria.Clerk", "--role", "staff",
                                  "--password-stdin"], input=TEST_PASSWORD + "\n")
    assert created.exit_code == 0 and "created staff 'maria.clerk'" in created.output
    listed = runner.invoke(args=["users", "list"])
    assert "maria.clerk" in listed.output and "staff" in listed.output and "never" in listed.output
    duplicate = runner.invoke(args=["users", "create", "--username", "maria.clerk", "--role", "staff",
                                    "--password-stdin"], input=TEST_PASSWORD + "\n")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["users", "create", "--username", "joao", "--role", "admin", "--password-stdin"],
                          input="curta\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    changed = runner.invoke(args=["users", "set-password", "--username", "maria.clerk", "--password-stdin"],
                            input="outra-senha-bem-longa\n")
    assert changed.exit_code == 0
    with app.app_context():
        user = db.session.query(User).filter_by(username="maria.clerk").one()
        assert user.password_hash.startswith("scrypt:") and user.session_version == 2
    assert runner.invoke(args=["users", "disable", "--username", "nobody"]).exit_code != 0


def test_idle_days_count_from_the_last_movement(app):
    from models import Movement, ProcessInstance
    from services.processes import follows

    with app.app_context():
        now = utcnow()
        process = ProcessInstance(cnj="00227832220178080024", source="datajud", source_id="x", degree="G1",
                          valid_until=now + timedelta(days=1), class_name="Procedimento Comum Cível")
        process.movements = [Movement(at=now - timedelta(days=12, hours=1), code=11010, name="Conclusão", position=0),
                             Movement(at=now - timedelta(days=40), code=26, name="Distribuição", position=1)]
        db.session.add_all([process, FollowedProcess(cnj="00227832220178080024")])
        db.session.commit()
        [row] = follows.followed_rows(now)
    assert row.idle_days == 12 and row.last_movement_name == "Conclusão"


def test_csv_cells_cannot_smuggle_spreadsheet_formulas():
    from services.processes.follows import _safe_cell

    assert _safe_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")" and _safe_cell("Sentença") == "Sentença"
