"""Public pages: the court's information, the site search and the page feedback form."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from forms import FeedbackForm
from services import content, feedback

bp = Blueprint("public", __name__)
SEARCH_MAX_CHARS = 200


@bp.record_once
def _create_page_cache(state):
    state.app.extensions["rendered_pages"] = {}


@bp.app_context_processor
def site_context():
    return {"site": content.current()}


def render_same_for_everyone(template: str, **context) -> str:
    """Render a page that depends only on content/ (loaded once) and its own path, once per process.

    These pages set no cookie and hold no per-visitor data (no CSRF token, no request ID), so the
    HTML of the first visit is the HTML of every visit until the process restarts with new content.
    """
    cache = current_app.extensions["rendered_pages"]
    html = cache.get(request.path)
    if html is None:
        html = cache[request.path] = render_template(template, **context)
    return html


def _page_or_404(slug: str) -> content.Page:
    page = content.current().pages.get(slug)
    if page is None:
        abort(404)
    return page


@bp.get("/")
def home():
    return render_same_for_everyone("public/page.html", page=_page_or_404(content.HOME_SLUG))


@bp.get(f"/{content.FAQ_SLUG}")
def faq():
    return render_same_for_everyone("public/faq.html", faq=content.current().faq)


@bp.get("/contato")
def contact():
    return render_same_for_everyone("public/contact.html", page=_page_or_404("contato"), unit=content.current().unit)


@bp.get("/busca")
def search():
    query = request.args.get("q", "").strip()
    if len(query) > SEARCH_MAX_CHARS:
        message = f"A busca aceita até {SEARCH_MAX_CHARS} caracteres. Use menos palavras."
        return render_template("public/search.html", query="", hits=[], error=message), 400
    return render_template("public/search.html", query=query, hits=content.search(query) if query else [], error=None)


def _titled_path_or_404(slug: str) -> tuple[str, str]:
    target = content.titled_path(slug)
    if target is None:
        abort(404)
    return target


@bp.route("/avaliar/<slug>", methods=["GET", "POST"])
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
def page(slug):
    if slug == content.HOME_SLUG:
        return redirect(url_for("public.home"), code=301)
    return render_same_for_everyone("public/page.html", page=_page_or_404(slug))
