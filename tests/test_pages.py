"""Public pages: rendered from content/, accessible markup, no inline code, the feedback form."""
import re
from datetime import timedelta

import pytest

from extensions import db
from models import PageFeedback, utcnow
from services import content
from tests.conftest import csrf_token_from

PUBLIC_PAGES = ["/", "/a-vara", "/servicos", "/perguntas-frequentes", "/contato", "/acessibilidade", "/privacidade"]
FOCUSABLE = re.compile(r"<(a|button|input|select|textarea)\b[^>]*>", re.I)


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_structure(client, path):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<html lang="pt-BR">' in html
    assert html.count("<h1") == 1
    for landmark in ('<main id="conteudo"', '<nav id="menu"', 'id="busca"', '<footer id="rodape"', "<header"):
        assert landmark in html
    body = html.split("<body>", 1)[1]
    first_focusable = FOCUSABLE.search(body).group(0)
    assert 'class="skip-link"' in first_focusable and 'href="#conteudo"' in first_focusable
    for key in "1234":
        assert f'accesskey="{key}"' in html
    assert f'href="{path}" aria-current="page"' in html


@pytest.mark.parametrize("path", [*PUBLIC_PAGES, "/busca?q=certidao", "/avaliar/inicio", "/nao-existe"])
def test_no_inline_code_and_no_foreign_assets(client, path):
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html, "inline style"
    for match in re.finditer(r'<(?:script|link|img)\b[^>]*(?:src|href)="([^"]+)"', html):
        assert match.group(1).startswith("/"), f"asset from another origin: {match.group(1)}"


def test_every_label_has_a_field(client):
    for path in ("/", "/avaliar/inicio"):
        html = client.get(path).get_data(as_text=True)
        for target in re.findall(r'<label for="([^"]+)"', html):
            assert f'id="{target}"' in html


def test_inicio_redirects_to_home(client):
    response = client.get("/inicio")
    assert response.status_code == 301 and response.headers["Location"] == "/"


def test_contact_shows_sources_and_marks_the_unconfirmed(app, client):
    html = client.get("/contato").get_data(as_text=True)
    with app.app_context():
        unit = content.current().unit
    confirmed = [fact for fact in unit.facts if fact.confirmed]
    unconfirmed = [fact for fact in unit.facts if not fact.confirmed]
    assert confirmed and unconfirmed
    assert html.count("Não confirmado") == len(unconfirmed)
    assert html.count("verificado em") == len(confirmed)
    # The link says what it opens: the Ouvidoria's page (where the catalogue is), not "the catalogue".
    assert html.count(f'href="{unit.catalog_url}">página da Ouvidoria do TJES') == len(unconfirmed)
    assert "catálogo de telefones do TJES</a>" not in html
    for fact in confirmed:
        assert fact.source_url in html


def test_faq_lists_every_entry_with_an_anchor(app, client):
    html = client.get("/perguntas-frequentes").get_data(as_text=True)
    with app.app_context():
        entries = content.current().faq
    assert len(entries) >= 10
    for entry in entries:
        assert f'id="{entry.id}"' in html and f'href="#{entry.id}"' in html


def test_search_finds_content_without_accents(client):
    html = client.get("/busca?q=certidoes").get_data(as_text=True)
    assert "resultado" in html and "/servicos" in html


def test_search_with_no_hits_points_elsewhere(client):
    html = client.get("/busca?q=xyzzyplugh").get_data(as_text=True)
    assert "Nenhum resultado" in html and "/contato" in html


def test_search_too_long_is_a_clear_400(client):
    response = client.get("/busca?q=" + "a" * 201)
    assert response.status_code == 400
    assert "A busca aceita até 200 caracteres" in response.get_data(as_text=True)


def test_unknown_page_is_404(client):
    assert client.get("/nao-existe").status_code == 404
    assert client.get("/avaliar/nao-existe").status_code == 404


def _post_feedback(client, slug, **data):
    token = csrf_token_from(client.get(f"/avaliar/{slug}").get_data(as_text=True))
    return client.post(f"/avaliar/{slug}", data={"csrf_token": token, **data})


def test_feedback_is_stored_masked(app, client):
    response = _post_feedback(client, "servicos", helpful="nao",
                              comment="Faltou o telefone. Meu CPF 123.456.789-09, e-mail ana@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/avaliar/servicos/obrigado"
    assert "Obrigado" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(db.select(PageFeedback)).scalar_one()
    assert row.page == "servicos" and row.helpful is False
    assert "123.456.789-09" not in row.comment and "ana@example.com" not in row.comment
    assert row.comment.startswith("Faltou o telefone.")


def test_feedback_preselects_the_answer_from_the_link(client):
    html = client.get("/avaliar/a-vara?util=sim").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="sim"|value="sim"[^>]*checked', html)


def test_feedback_without_an_answer_is_a_clear_400(app, client):
    response = _post_feedback(client, "a-vara", comment="sem escolha")
    assert response.status_code == 400
    assert "Escolha “Sim” ou “Não”." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(PageFeedback)).scalar() == 0


def test_feedback_comment_over_500_chars_is_refused(client):
    response = _post_feedback(client, "a-vara", helpful="sim", comment="x" * 501)
    assert response.status_code == 400
    assert "até 500 caracteres" in response.get_data(as_text=True)


def test_feedback_with_an_invented_answer_is_refused(client):
    assert _post_feedback(client, "a-vara", helpful="talvez").status_code == 400


def test_old_feedback_is_purged_when_new_feedback_arrives(app, client):
    with app.app_context():
        db.session.add(PageFeedback(page="a-vara", helpful=True, created_at=utcnow() - timedelta(days=400)))
        db.session.add(PageFeedback(page="a-vara", helpful=True, created_at=utcnow() - timedelta(days=10)))
        db.session.commit()
    _post_feedback(client, "a-vara", helpful="sim")
    with app.app_context():
        ages = [row.created_at for row in db.session.execute(db.select(PageFeedback)).scalars()]
    assert len(ages) == 2


def test_every_internal_link_in_the_content_resolves(app, client):
    with app.app_context():
        loaded = content.current()
        html = " ".join([page.html for page in loaded.pages.values()] + [entry.answer_html for entry in loaded.faq])
    for target in sorted(set(re.findall(r'href="(/[^"]*)"', html))):
        path, _, anchor = target.partition("#")
        response = client.get(path)
        assert response.status_code == 200, target
        if anchor:
            assert f'id="{anchor}"' in response.get_data(as_text=True), target


def test_same_for_everyone_pages_are_rendered_once(app, client, monkeypatch):
    first = client.get("/servicos").get_data(as_text=True)
    import routes
    monkeypatch.setattr(routes, "render_template", lambda *a, **k: pytest.fail("rendered twice"))
    assert client.get("/servicos").get_data(as_text=True) == first
    monkeypatch.undo()
    assert client.get("/nao-existe").status_code == 404  # unknown pages are never cached
    assert app.extensions["cache"].stats()["pages"]["hits"] == 1


# The lookup form on a phone: pasted text is read, errors sit above the field and take the focus.

@pytest.mark.parametrize(("typed", "notice"), [
    ("0022783-22.2017.8.08.0024", None),
    ("Processo nº 0022783-22.2017.8.08.0024", "texto"),
    ("0022783\u201322.2017.8.08.0024", None),
    ("0022783-22.2017.8.08.0024; 0022783-22.2017.8.08.0024", "varios"),
])
def test_lookup_takes_the_first_number_of_pasted_text(client, typed, notice):
    response = client.get("/consulta", query_string={"numero": typed})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/processos/0022783-22.2017.8.08.0024")
    assert (f"aviso={notice}" in location) if notice else "aviso" not in location


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Digite o número do processo"),
    ("   ", "Digite o número do processo"),
    ("meu processo", "Não encontramos um número de processo"),
    ("0022783-23.2017.8.08.0024", "dígitos verificadores"),
])
def test_lookup_error_is_above_the_field_with_the_focus(client, typed, says):
    response = client.get("/consulta", query_string={"numero": typed})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r"<title>Erro: ", html)
    error_at, field_at = html.index('id="numero-erro"'), html.index('<input id="numero"')
    assert error_at < field_at and says in html[error_at:field_at]
    field = re.search(r'<input id="numero"[^>]*>', html).group(0)
    assert " autofocus" in field and 'aria-invalid="true"' in field
    assert 'aria-describedby="numero-erro numero-ajuda"' in field


def test_lookup_without_a_submit_is_a_plain_form(client):
    html = client.get("/consulta").get_data(as_text=True)
    assert "<title>Consulta" in html and "autofocus" not in html and 'id="numero-erro"' not in html


# Reaching the court: the unit card first, every phone number a tel: link, TJES links over https, named links in notes.

def test_contact_puts_the_unit_card_before_the_text(client):
    html = client.get("/contato").get_data(as_text=True)
    assert html.index('id="ficha-titulo"') < html.index('id="primeiro-caminho-balcão-virtual"')


@pytest.mark.parametrize(("path", "number"), [
    ("/contato", "08009702442"), ("/servicos", "129"), ("/servicos", "190"), ("/servicos", "180"),
    ("/a-vara", "190"), ("/perguntas-frequentes", "129"), ("/privacidade", "08009702442"),
])
def test_phone_numbers_are_tel_links(client, path, number):
    html = client.get(path).get_data(as_text=True)
    assert f'href="tel:{number}"' in html


def test_no_phone_number_is_left_as_plain_text(app):
    with app.app_context():
        loaded = content.current()
    texts = [page.html for page in loaded.pages.values()] + [entry.answer_html for entry in loaded.faq]
    texts += [fact.value_html or "" for fact in loaded.unit.facts]
    texts += [fact.note_html or "" for fact in loaded.unit.facts]
    phone = re.compile(r"(?<![\w/.-])(0800 970 2442|129|180|190)(?!\w)")
    for html in texts:
        plain = re.sub(r"<[^>]+>", " ", re.sub(r"<a\b[^>]*>.*?</a>", "", html))
        assert not phone.search(plain), html[:200]


def test_tjes_links_use_https_and_notes_have_no_raw_urls(app):
    with app.app_context():
        loaded = content.current()
    everything = " ".join([page.html for page in loaded.pages.values()] + [e.answer_html for e in loaded.faq]
                          + [s.url for page in loaded.pages.values() for s in page.sources]
                          + [s.url for e in loaded.faq for s in e.sources])
    assert "http://www.tjes.jus.br" not in everything
    for fact in loaded.unit.facts:
        if fact.note_html:
            assert not re.search(r"(?<![\"=])https?://", re.sub(r"<a\b[^>]*>", "", fact.note_html)), fact.key


def test_services_has_the_follow_a_process_steps(client):
    html = client.get("/servicos").get_data(as_text=True)
    section = html[html.index('id="acompanhar-um-processo-passo-a-passo"'):html.index('id="consulta-processual"')]
    for must in ('href="/consulta"', "Consulta pública de 1º Grau", "balcao-virtual", "número CNJ", "intimação"):
        assert must in section


def test_home_offers_the_task_shortcuts_first(client):
    html = client.get("/").get_data(as_text=True)
    tasks = html[html.index('class="tasks"'):]
    assert html.index('class="tasks"') < html.index('class="lead"')
    for label in ("Consultar processo", "Falar com a vara", "Defensoria Pública", "Plantão e urgência", "Golpes"):
        assert label in tasks[:2000]


def test_every_task_shortcut_lands_on_its_section(client):
    html = client.get("/").get_data(as_text=True)
    tasks = html[html.index('class="tasks"'):html.index("</nav>", html.index('class="tasks"'))]
    for target in re.findall(r'href="([^"]+)"', tasks):
        path, _, anchor = target.partition("#")
        page = client.get(path)
        assert page.status_code == 200, target
        if anchor:
            assert f'id="{anchor}"' in page.get_data(as_text=True), target


@pytest.mark.parametrize("query", ["consulta", "consultar processo", "andamento do processo"])
def test_search_for_a_process_leads_to_the_lookup_and_the_assistant(client, query):
    html = client.get("/busca", query_string={"q": query}).get_data(as_text=True)
    main = html[html.index('<main'):]
    assert 'href="/consulta"' in main and 'href="/assistente"' in main
