"""Public pages: the court's information, the site search and the page feedback form."""

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from extensions import limiter
from forms import FeedbackForm
from services import cache as cache_service
from services import content, feedback, processes
from services import search as site_search
from utils import cnj
from view_helpers import cached_page, lookup_for_page

bp = Blueprint("public", __name__)
SEARCH_MAX_CHARS = 200
# Content pages are the same for every visitor and change only with a deploy: cached whole.
PAGE_CACHE_TTL = 3600
PROCESS_PAGE_NS = "process-pages"




def _page_or_404(slug: str) -> content.Page:
    page = content.current().pages.get(slug)
    if page is None:
        abort(404)
    return page


@bp.get("/")
@cached_page("pages", ttl=PAGE_CACHE_TTL)
def home():
    return render_template("public/page.html", page=_page_or_404(content.HOME_SLUG))


@bp.get(f"/{content.FAQ_SLUG}")
@cached_page("pages", ttl=PAGE_CACHE_TTL)
def faq():
    return render_template("public/faq.html", faq=content.current().faq)


@bp.get("/contato")
@cached_page("pages", ttl=PAGE_CACHE_TTL)
def contact():
    return render_template("public/contact.html", page=_page_or_404("contato"), unit=content.current().unit)


@bp.get("/busca")
def search():
    query = request.args.get("q", "").strip()
    if len(query) > SEARCH_MAX_CHARS:
        message = f"A busca aceita até {SEARCH_MAX_CHARS} caracteres. Use menos palavras."
        return render_template("public/search.html", query="", hits=[], error=message), 400
    hits = site_search.site_search(query) if query else []
    return render_template("public/search.html", query=query, hits=hits, error=None)


def _titled_path_or_404(slug: str) -> tuple[str, str]:
    target = content.titled_path(slug)
    if target is None:
        abort(404)
    return target


@bp.get("/consulta")
def lookup_form():
    """A GET form: a lookup changes nothing, so no CSRF token, and the result URL can be bookmarked.

    The first CNJ number in whatever was typed or pasted is taken ("Processo nº …", an en dash from a PDF);
    the rest of the text becomes a notice on the process page, not an error."""
    if "numero" not in request.args:
        return render_template("public/lookup.html", typed="", error=None)
    typed = request.args.get("numero", "")
    try:
        found = cnj.find_first(typed)
    except cnj.InvalidCnj as exc:
        return render_template("public/lookup.html", typed=typed.strip()[:cnj.MAX_FIND_INPUT_LENGTH],
                               error=exc.message), 400
    notice = "varios" if found.more_numbers else ("texto" if found.extra else None)
    target = url_for("public.process_page", numero=cnj.format(found.digits), aviso=notice)
    return redirect(target, code=303)


@bp.get("/processos/<path:numero>")
def process_page(numero):
    result, problem = lookup_for_page(numero)
    if problem:
        return problem
    notice = request.args.get("aviso")
    return _process_html(result.payload, notice=notice if notice in PROCESS_NOTICES else None)


# What the lookup form says about the text around the number it took (a fixed few: each is a cached variant).
PROCESS_NOTICES = ("texto", "varios")


def _process_html(payload: processes.ProcessPayload, notice: str | None = None) -> Response:
    """The rendered page of one version of a process (its fetch time and staleness), cached like the data:
    the timeline of a long process is the costliest template of the portal, and it is the same for everyone.
    This process keeps it a second as encoded bytes: a hit neither decodes the cached text nor encodes ~40 KB."""
    key = "|".join((payload.cnj, payload.fetched_at, str(payload.stale), payload.stale_reason or "",
                    notice or ""))
    store = cache_service.current()
    body = store.held(PROCESS_PAGE_NS, key, str.encode)
    if body is None:
        html = render_template("public/process.html", process=payload, days=processes.days, notice=notice,
                               summary=processes.summarize(payload.instances), by_year=processes.by_year,
                               movement_label=processes.movement_label, official_name=processes.official_name)
        store.set(PROCESS_PAGE_NS, key, html, ttl=current_app.config["PROCESS_CACHE_TTL"])
        body = html.encode()
    return current_app.response_class(body, mimetype="text/html")


def _feedback_limit() -> str:
    return current_app.config["FEEDBACK_RATE_LIMIT"]


@bp.route("/avaliar/<slug>", methods=["GET", "POST"])
@limiter.limit(_feedback_limit, methods=["POST"])
def page_feedback(slug):
    title, back = _titled_path_or_404(slug)
    form = FeedbackForm()
    if request.method == "GET" and request.args.get("util") in ("sim", "nao"):
        form.helpful.data = request.args["util"]
    if form.validate_on_submit():
        feedback.record(slug, form.helpful.data == "sim", form.comment.data)
        return redirect(url_for("public.feedback_thanks", slug=slug), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("public/feedback.html", form=form, title=title, back=back), status


@bp.get("/avaliar/<slug>/obrigado")
def feedback_thanks(slug):
    _, back = _titled_path_or_404(slug)
    return render_template("public/feedback_thanks.html", back=back)


@bp.get("/<slug>")
@cached_page("pages", ttl=PAGE_CACHE_TTL)
def page(slug):
    if slug == content.HOME_SLUG:
        return redirect(url_for("public.home"), code=301)
    return render_template("public/page.html", page=_page_or_404(slug))
