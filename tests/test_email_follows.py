"""Citizens follow a process by e-mail (issue 14), against a real SMTP server on loopback (aiosmtpd) and the fake
DataJud: double opt-in, notices of new movements, one-click unsubscribe, limits, restricted processes, failures."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from models import EmailDelivery, EmailFollow, EmailSubscriber, utcnow
from services import cache, email_follows, processes
from services.email_follows import tokens
from tests.conftest import csrf_token_from, free_port
from tests.smtp_server import SmtpServer

NUMBER = "0022783-22.2017.8.08.0024"  # the TJES fixture: G1 and G2, 61 movements in G2
OTHER = "5001234-91.2023.8.08.0012"  # several instances, not restricted
SECRET = "5000777-88.2025.8.08.0012"  # secrecy level 1
FAMILY = "0012345-31.2021.8.08.0012"  # a family-law subject
BASE = "https://portal.test"


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def portal(make_app, datajud, smtp, tmp_path):
    return make_app({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "PUBLIC_BASE_URL": BASE,
                     "MAIL_FROM": "Portal da Vara <avisos@portal.test>", "EMAIL_FOLLOWS_RATE_LIMIT": "200/hour"},
                    datajud=datajud, MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))


def ask(client, number: str, address: str, consent: bool = True):
    page = client.get(f"/processos/{number}/avisos")
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_token_from(page.get_data(as_text=True)), "email": address}
    if consent:
        data["consent"] = "y"
    return client.post(f"/processos/{number}/avisos", data=data)


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(("html",)).get_content()


def paths(message, kind: str) -> list[str]:
    return re.findall(rf"{re.escape(BASE)}(/avisos/{kind}/[A-Za-z0-9._\-]+)", plain(message))


def confirm(client, message):
    path = paths(message, "confirmar")[0]
    page = client.get(path)
    assert page.status_code == 200 and "Confirmar e receber os avisos" in page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def add_movement(datajud, number: str, at: datetime, code: int = 193, name: str = "Julgamento") -> None:
    digits = re.sub(r"\D", "", number)
    source = datajud.documents[digits][-1]["_source"]
    source["movimentos"].append({"codigo": code, "nome": name, "dataHora": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")})


def refresh(app, number: str) -> None:
    """What the sync does for a followed number: ask the provider now (not the outcome of a fetch just made)."""
    with app.app_context():
        cache.current().delete(processes.FETCH_NS, re.sub(r"\D", "", number))
        outcome = processes.refresh(number)
        assert outcome.status == "found", outcome


def follow_rows(app):
    with app.app_context():
        return db.session.execute(select(EmailFollow.cnj, EmailFollow.confirmed_at)).all()


def subscriber_count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(EmailSubscriber)).scalar()


def subscribed(app, client, smtp, address: str, number: str = NUMBER):
    """Ask and confirm: the follow is on."""
    assert ask(client, number, address).status_code == 303
    assert confirm(client, smtp.handler.to(address)[-1]).status_code == 200


def test_the_whole_journey_over_smtp(portal, datajud, smtp):
    client = portal.test_client()
    page = client.get(f"/processos/{NUMBER}").get_data(as_text=True)
    assert "Receber avisos por e-mail" in page and f"/processos/{NUMBER}/avisos" in page

    form = client.get(f"/processos/{NUMBER}/avisos").get_data(as_text=True)
    assert email_follows.CONSENT_TEXT in form and email_follows.CONSENT_VERSION in form
    assert "não está configurado" not in form and 'lang="pt-BR"' in form
    response = ask(client, NUMBER, "Maria.Silva@Exemplo.com.br")
    assert response.status_code == 303 and response.headers["Location"].startswith("/avisos/pedido-recebido")
    assert "confirme no seu e-mail" in client.get(response.headers["Location"]).get_data(as_text=True).lower()

    [message] = smtp.messages
    assert message["To"] == "maria.silva@exemplo.com.br" and message["From"] == "Portal da Vara <avisos@portal.test>"
    assert message["Subject"] == f"Confirme os avisos do processo {NUMBER}"
    assert message.get_content_type() == "multipart/alternative" and message["Content-Language"] == "pt-BR"
    assert "48 horas" in plain(message) and "Confirmar os avisos" in html_part(message)
    assert 'lang="pt-BR"' in html_part(message) and "List-Unsubscribe" not in message
    assert follow_rows(portal)[0].confirmed_at is None

    done = confirm(client, message)
    assert done.status_code == 200 and "avisos confirmados" in done.get_data(as_text=True)
    assert follow_rows(portal)[0].confirmed_at is not None
    again = client.post(paths(message, "confirmar")[0], data={
        "csrf_token": csrf_token_from(client.get(paths(message, "confirmar")[0]).get_data(as_text=True))})
    assert again.status_code == 409 and "já foi usado" in again.get_data(as_text=True)  # single use

    with portal.app_context():
        assert email_follows.followed_numbers() == [re.sub(r"\D", "", NUMBER)]
        assert email_follows.send_notices() == 0  # nothing new since the confirmation
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 1
        assert email_follows.send_notices() == 0
    notice = smtp.messages[-1]
    assert len(smtp.messages) == 2
    assert notice["Subject"] == f"Processo {NUMBER}: 1 nova movimentação"
    text, html = plain(notice), html_part(notice)
    # In words the process page uses: a judgement in the 2º grau instance is an acórdão.
    assert "Acórdão (julgamento do Tribunal)" in text and "O Tribunal julgou o recurso" in text
    assert "Nome oficial: Julgamento" in text
    assert "Consultado em" in text and "(fonte: DataJud)" in text and f"{BASE}/processos/{NUMBER}" in text
    assert "Cancelar todos os avisos deste e-mail" in text and "Acórdão" in html and "Cancelar todos" in html
    unsubscribe_url = re.fullmatch(r"<(.+)>", notice["List-Unsubscribe"]).group(1)
    assert unsubscribe_url.startswith(f"{BASE}/avisos/cancelar/")
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # As sent: one plain line a mail program reads as a link, not an RFC 2047 encoded word.
    assert f"List-Unsubscribe: <{unsubscribe_url}>\r\n".encode() in smtp.handler.raw[-1]

    # RFC 8058: the mail program POSTs "List-Unsubscribe=One-Click" with no cookie and no CSRF token.
    one_click = portal.test_client().post(unsubscribe_url.removeprefix(BASE), data="List-Unsubscribe=One-Click",
                                          content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200 and "Avisos cancelados" in one_click.get_data(as_text=True)
    assert follow_rows(portal) == [] and subscriber_count(portal) == 0
    with portal.app_context():
        assert email_follows.followed_numbers() == []
        figures = email_follows.counts()
    assert figures["notices_sent"] == 1 and figures["confirmations_sent"] == 1 and figures["subscribers"] == 0


def test_one_notice_per_process_per_day(portal, datajud, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "ana@exemplo.com.br")
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=3))
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 1
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1), code=11010, name="Mero expediente")
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 0  # the same day: it waits
        assert email_follows.send_notices(now=utcnow() + timedelta(hours=25)) == 1
    latest = smtp.handler.to("ana@exemplo.com.br")[-1]
    assert "Despacho" in plain(latest) and "Acórdão" not in plain(latest)  # only what is new since the last one


def test_unsubscribe_by_link_shows_a_button_first_then_cancels(portal, datajud, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "joao@exemplo.com.br")
    subscribed(portal, client, smtp, "joao@exemplo.com.br", number=OTHER)
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    with portal.app_context():
        email_follows.send_notices()
    notice = smtp.handler.to("joao@exemplo.com.br")[-1]
    [path] = paths(notice, "cancelar")
    page = client.get(path)  # a mail scanner's visit
    assert page.status_code == 200 and "Cancelar os avisos" in page.get_data(as_text=True)
    assert len(follow_rows(portal)) == 2
    assert client.post(path).status_code == 200  # the button: no CSRF token needed, the link is the credential
    assert [row.cnj for row in follow_rows(portal)] == [re.sub(r"\D", "", OTHER)]
    assert subscriber_count(portal) == 1  # the address still follows another process
    assert "já tinham sido cancelados" in client.post(path).get_data(as_text=True)

    [everything] = paths(notice, "cancelar-todos")
    assert client.get(everything).status_code == 200 and subscriber_count(portal) == 1
    assert client.post(everything).status_code == 200
    assert follow_rows(portal) == [] and subscriber_count(portal) == 0


def test_altered_and_expired_links(portal, smtp):
    client = portal.test_client()
    assert ask(client, NUMBER, "bia@exemplo.com.br").status_code == 303
    path = paths(smtp.messages[-1], "confirmar")[0]
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    assert client.post(path[:-3] + "xyz", data={"csrf_token": token}).status_code == 400
    assert client.get(path[:-3] + "xyz").status_code == 400  # said before the button, not after
    assert client.get("/avisos/cancelar/nada").status_code == 400
    assert client.get("/avisos/cancelar-todos/nada").status_code == 400
    assert client.post("/avisos/cancelar/nada", data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 400
    with portal.app_context():
        db.session.execute(EmailFollow.__table__.update().values(consent_at=utcnow() - timedelta(hours=49)))
        db.session.commit()
    expired = client.post(path, data={"csrf_token": token})
    assert expired.status_code == 410 and "expirou" in expired.get_data(as_text=True)


def test_the_same_answer_whatever_the_address_and_nothing_more_to_the_unconfirmed(portal, datajud, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "conhecido@exemplo.com.br")
    known = ask(client, NUMBER, "conhecido@exemplo.com.br")  # already following: nothing is sent
    new = ask(client, NUMBER, "novo@exemplo.com.br")
    assert known.status_code == new.status_code == 303 and known.headers["Location"] == new.headers["Location"]
    assert len(smtp.handler.to("conhecido@exemplo.com.br")) == 1
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 1  # the confirmed one only
    assert len(smtp.handler.to("novo@exemplo.com.br")) == 1  # its confirmation, and nothing else


def test_three_confirmation_mails_a_day_per_address(portal, smtp):
    client = portal.test_client()
    for _ in range(3):
        assert ask(client, NUMBER, "muitos@exemplo.com.br").status_code == 303
    fourth = ask(client, NUMBER, "muitos@exemplo.com.br")
    assert fourth.status_code == 429 and "3 mensagens de confirmação" in fourth.get_data(as_text=True)
    assert fourth.headers["Retry-After"]
    assert len(smtp.handler.to("muitos@exemplo.com.br")) == 3
    # Only the newest link works.
    first, newest = smtp.handler.to("muitos@exemplo.com.br")[0], smtp.handler.to("muitos@exemplo.com.br")[-1]
    assert confirm(client, first).status_code == 409
    assert confirm(client, newest).status_code == 200


def test_follows_per_address_are_limited(make_app, datajud, smtp, tmp_path):
    app = make_app({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "PUBLIC_BASE_URL": BASE,
                    "EMAIL_FOLLOWS_MAX_PER_ADDRESS": "1"}, datajud=datajud, MAIL_OUTBOX_DIR=str(tmp_path / "o"))
    client = app.test_client()
    subscribed(app, client, smtp, "limite@exemplo.com.br")
    response = ask(client, OTHER, "limite@exemplo.com.br")
    assert response.status_code == 303  # the same answer page: no hint that the address is known
    assert len(smtp.handler.to("limite@exemplo.com.br")) == 1  # but no confirmation mail went
    assert len(follow_rows(app)) == 1
    # A request that slipped past the limit (two at once) is refused at confirmation, with a clear message.
    with app.app_context():
        subscriber_id = db.session.execute(select(EmailSubscriber.id)).scalar_one()
        late = EmailFollow(subscriber_id=subscriber_id, cnj=re.sub(r"\D", "", OTHER), consent_version="x",
                           nonce="n" * 32, consent_at=utcnow())
        db.session.add(late)
        db.session.commit()
        token = tokens.confirmation(late.id, "n" * 32)
    refused = client.post(f"/avisos/confirmar/{token}", data={
        "csrf_token": csrf_token_from(client.get(f"/avisos/confirmar/{token}").get_data(as_text=True))})
    assert refused.status_code == 409 and "1 processo, o limite" in refused.get_data(as_text=True)
    assert len(follow_rows(app)) == 1


@pytest.mark.parametrize("number", [SECRET, FAMILY])
def test_restricted_processes_cannot_be_followed(portal, smtp, number):
    client = portal.test_client()
    page = client.get(f"/processos/{number}")
    assert "não podem ser acompanhados por e-mail" in page.get_data(as_text=True)
    form = client.get(f"/processos/{number}/avisos")
    assert form.status_code == 403 and "acesso restrito" in form.get_data(as_text=True)
    token = csrf_token_from(client.get(f"/processos/{NUMBER}/avisos").get_data(as_text=True))
    posted = client.post(f"/processos/{number}/avisos", data={"csrf_token": token, "email": "a@exemplo.com.br",
                                                              "consent": "y"})
    assert posted.status_code == 403 and smtp.messages == [] and follow_rows(portal) == []


@pytest.mark.parametrize(("address", "consent", "words"), [
    ("", True, "Digite o seu endereço de e-mail"),
    ("maria@", True, "não parece completo"),
    ("maria silva@exemplo.com", True, "não parece completo"),
    ("joão@exemplo.com.br", True, "sem acentos"),
    ("a" * 300 + "@exemplo.com", True, "até 254 caracteres"),
    ("maria@exemplo.com.br", False, "marque a caixa"),
])
def test_bad_requests_get_a_clear_message(portal, smtp, address, consent, words):
    response = ask(portal.test_client(), NUMBER, address, consent=consent)
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert smtp.messages == []


def test_unknown_and_invalid_numbers(portal):
    client = portal.test_client()
    assert client.get("/processos/0001365-91.2018.8.08.0024/avisos").status_code == 404
    assert client.get("/processos/0022783-23.2017.8.08.0024/avisos").status_code == 400


def test_a_permanent_refusal_marks_the_address_and_stops_sends(portal, datajud, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "some@exemplo.com.br")
    smtp.handler.answers["some@exemplo.com.br"] = "550 5.1.1 mailbox unavailable"
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 1
        [row] = db.session.execute(select(EmailDelivery).where(EmailDelivery.kind == "notice")).scalars()
        assert row.status == "refused" and row.error.startswith("recipient refused: 550")
        assert db.session.execute(select(EmailSubscriber.failed_at)).scalar() is not None
        assert email_follows.followed_numbers() == []
        assert email_follows.counts()["failures"] == 1
    del smtp.handler.answers["some@exemplo.com.br"]
    assert ask(client, OTHER, "some@exemplo.com.br").status_code == 303
    assert len(smtp.handler.to("some@exemplo.com.br")) == 1  # the first confirmation only


def test_a_transient_failure_is_tried_again(portal, smtp):
    client = portal.test_client()
    smtp.handler.answers["tarde@exemplo.com.br"] = "451 4.3.0 try again later"
    assert ask(client, NUMBER, "tarde@exemplo.com.br").status_code == 303
    with portal.app_context():
        row = db.session.execute(select(EmailDelivery)).scalar_one()
        assert (row.status, row.attempts) == ("pending", 1)
        del smtp.handler.answers["tarde@exemplo.com.br"]
        assert email_follows.retry_pending() == 0  # its wait is not over
        assert email_follows.retry_pending(now=utcnow() + timedelta(minutes=2)) == 1
        db.session.refresh(row)
        assert row.status == "sent"
    assert len(smtp.handler.to("tarde@exemplo.com.br")) == 1


def test_without_a_mail_server_messages_go_to_the_outbox(make_app, datajud, tmp_path):
    outbox = tmp_path / "outbox"
    app = make_app(datajud=datajud, MAIL_OUTBOX_DIR=str(outbox))
    client = app.test_client()
    form = client.get(f"/processos/{NUMBER}/avisos").get_data(as_text=True)
    assert "O envio de e-mails não está configurado" in form
    response = ask(client, NUMBER, "caixa@exemplo.com.br")
    assert "não está configurado" in client.get(response.headers["Location"]).get_data(as_text=True)
    [file] = outbox.glob("*.eml")
    from email import message_from_bytes, policy

    message = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert message["To"] == "caixa@exemplo.com.br" and message.get_body(("html",)) is not None
    assert "http://127.0.0.1:5000/avisos/confirmar/" in plain(message)  # PUBLIC_BASE_URL's default


def test_cleanup_removes_the_unconfirmed_and_ends_idle_follows_with_a_last_notice(portal, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "antigo@exemplo.com.br")
    assert ask(client, OTHER, "esquecido@exemplo.com.br").status_code == 303
    later = utcnow() + timedelta(days=3 * 365)
    with portal.app_context():
        counts = email_follows.cleanup(now=later)
        assert counts["unconfirmed"] == 1 and counts["farewells"] == 1
        assert db.session.execute(select(func.count()).select_from(EmailFollow)).scalar() == 0
        assert db.session.execute(select(EmailSubscriber.address)).scalars().all() == []
    farewell = smtp.handler.to("antigo@exemplo.com.br")[-1]
    assert farewell["Subject"] == f"Processo {NUMBER}: avisos encerrados"
    assert "último aviso" in plain(farewell) and farewell["List-Unsubscribe-Post"]


def test_cli_and_logs_never_show_an_address(portal, datajud, smtp, log_lines):
    client = portal.test_client()
    subscribed(portal, client, smtp, "segredo.total@exemplo.com.br")
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    runner = portal.test_cli_runner()
    result = runner.invoke(args=["follows", "notify"])
    assert result.exit_code == 0 and "notices: 1 new" in result.output
    stats = runner.invoke(args=["follows", "stats"])
    assert '"notices_sent": 1' in stats.output and "@" not in stats.output
    assert runner.invoke(args=["follows", "cleanup"]).exit_code == 0
    lines = log_lines()
    assert any(line.get("message") == "mail sent" and line.get("to") == "s***@exemplo.com.br" for line in lines)
    assert not any("segredo.total" in str(line) for line in lines)


def test_confirmation_time_is_the_watermark(portal, datajud, smtp):
    """Movements already on the page when the follow is confirmed are not news; later ones are."""
    client = portal.test_client()
    add_movement(datajud, NUMBER, datetime(2020, 1, 1, tzinfo=UTC))  # old, but new to the store
    subscribed(portal, client, smtp, "marca@exemplo.com.br")
    with portal.app_context():
        assert email_follows.send_notices() == 0


def test_a_recorded_bounce_marks_the_address(portal, datajud, smtp):
    client = portal.test_client()
    subscribed(portal, client, smtp, "volta@exemplo.com.br")
    result = portal.test_cli_runner().invoke(args=["follows", "bounce", "Volta@Exemplo.com.br"])
    assert result.exit_code == 0 and result.output.strip() == "v***@exemplo.com.br: marked"
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=1))
    refresh(portal, NUMBER)
    with portal.app_context():
        assert email_follows.send_notices() == 0
    assert len(smtp.handler.to("volta@exemplo.com.br")) == 1
    bad = portal.test_cli_runner().invoke(args=["follows", "bounce", "nada"])
    assert bad.exit_code != 0 and "não parece completo" in bad.output


def test_with_rq_the_send_is_a_job_on_the_high_queue(make_app, datajud, smtp, tmp_path):
    from services.jobs import worker as worker_module
    from tests.conftest import RedisServer

    redis_server = RedisServer(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    redis_server.start()
    try:
        app = make_app({"REDIS_URL": redis_server.url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)},
                       datajud=datajud, JOBS_MODE="rq", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
        client = app.test_client()
        assert ask(client, NUMBER, "fila@exemplo.com.br").status_code == 303
        engine = app.extensions["jobs"]
        queued = engine.queue("high").get_job_ids()
        assert len(queued) == 1 and smtp.messages == [], queued  # queued, not sent in the request
        with app.app_context():
            worker_module.build(app, engine, name=f"follows-{queued[0][:8]}").work(burst=True)
            row = db.session.execute(select(EmailDelivery)).scalar_one()
            assert row.status == "sent", (row.status, row.attempts, row.error)
        assert len(smtp.handler.to("fila@exemplo.com.br")) == 1
    finally:
        redis_server.stop()


def test_the_followed_numbers_compose_into_the_syncs_queries(portal, smtp):
    """What the sync's selection and retention use: confirmed follows only, as a list or as a SELECT."""
    client = portal.test_client()
    subscribed(portal, client, smtp, "sync@exemplo.com.br")
    assert ask(client, OTHER, "pendente@exemplo.com.br").status_code == 303  # not confirmed: not followed
    with portal.app_context():
        from models import ProcessInstance

        kept = select(ProcessInstance.cnj).where(ProcessInstance.cnj.in_(email_follows.followed_numbers_select()))
        assert set(db.session.execute(kept).scalars()) == {re.sub(r"\D", "", NUMBER)}
        assert email_follows.followed_numbers() == [re.sub(r"\D", "", NUMBER)]
        # As services.processes.sync.followed_numbers() would take it: one more SELECT in its union.
        from sqlalchemy import union

        from models import FollowedProcess

        both = union(select(FollowedProcess.cnj.label("cnj")), email_follows.followed_numbers_select()).subquery()
        assert list(db.session.execute(select(both.c.cnj)).scalars()) == [re.sub(r"\D", "", NUMBER)]


def test_production_warns_about_mail_left_on_its_defaults(tmp_path):
    import config

    production = {"APP_ENV": "production", "SESSION_SECRET": "s" * 40}
    warnings = config.load(production, str(tmp_path)).warnings
    assert any(w.startswith("MAIL_SERVER is not set") for w in warnings)
    assert any(w.startswith("PUBLIC_BASE_URL is not set") for w in warnings)
    configured = config.load({**production, "MAIL_SERVER": "smtp.tjes.jus.br",
                              "PUBLIC_BASE_URL": "https://vara.tjes.jus.br"}, str(tmp_path))
    assert configured.warnings == [] and configured.settings["MAIL_PORT"] == 25
    with pytest.raises(config.ConfigError, match="MAIL_FROM"):
        config.load({"MAIL_FROM": "ninguém"}, str(tmp_path))


def test_with_tls_on_a_server_without_starttls_nothing_goes_in_clear(make_app, datajud, smtp, tmp_path):
    app = make_app({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "MAIL_USE_TLS": "true"},
                   datajud=datajud, MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    assert ask(app.test_client(), NUMBER, "tls@exemplo.com.br").status_code == 303
    with app.app_context():
        row = db.session.execute(select(EmailDelivery)).scalar_one()
    assert row.status == "pending" and "SMTPNotSupportedError" in row.error  # tried again later, never in clear
    assert smtp.messages == []


def test_the_scheduled_sync_refreshes_a_citizens_process_and_its_notice_follows(make_app, datajud, smtp, tmp_path):
    """The wiring, not the pieces: the periodic `sync` keeps a citizen-followed number fresh, and the notice job
    that depends on it sends exactly one notice (eager jobs under tests run in the caller, in order)."""
    from services.jobs import engine as engine_module
    from services.jobs import schedule

    app = make_app({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "PUBLIC_BASE_URL": BASE,
                    "PROCESS_DB_TTL": "60", "SYNC_INTERVAL_S": "600"},
                   datajud=datajud, MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    client = app.test_client()
    subscribed(app, client, smtp, "joana@exemplo.com.br")
    add_movement(datajud, NUMBER, utcnow() - timedelta(hours=2))
    with app.app_context():
        cache.current().delete(processes.FETCH_NS, re.sub(r"\D", "", NUMBER))
        engine_module.current().enqueue_periodic(schedule.by_name("sync"), slot=None, trigger="test")
    notices = [m for m in smtp.handler.to("joana@exemplo.com.br") if "nova movimentação" in m["Subject"]]
    assert len(notices) == 1 and NUMBER in notices[0]["Subject"]


def test_the_assistant_offers_the_e_mail_follow_after_a_lookup(portal):
    reply = portal.test_client().post("/api/v1/chat", json={"message": f"como está o processo {NUMBER}?"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert {"title": "Receber avisos por e-mail", "url": f"/processos/{NUMBER}/avisos"} in body["sources"]
    assert "aviso por e-mail" in body["answer"]
    secret = portal.test_client().post("/api/v1/chat", json={"message": f"processo {SECRET}"}).get_json()
    assert all("/avisos" not in source["url"] for source in secret["sources"])
