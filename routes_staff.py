"""Staff tools: the follow list, a forced refresh of one process, the CSV export. Every action is audited."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from forms import ConfirmForm, FollowForm
from services import audit, jobs
from services.processes import follows, sync
from utils import cnj
from utils.dates import COURT_TIMEZONE
from view_helpers import guard, limit_refreshes

bp = Blueprint("staff", __name__, url_prefix="/equipe")
guard(bp, "staff")


@bp.get("/processos")
def followed():
    return _render_list(FollowForm(), verdicts=None)


@bp.post("/processos")
def follow():
    form = FollowForm()
    if not form.validate_on_submit():
        return _render_list(form, verdicts=None, status=400)
    try:
        verdicts = follows.follow_many(form.numbers.data, current_user.id)
    except follows.TooManyNumbers as exc:
        form.numbers.errors = [str(exc)]
        return _render_list(form, verdicts=None, status=400)
    added = [v.number for v in verdicts if v.outcome == "added"]
    if added:
        audit.record("follow_add", target=", ".join(added)[:255], count=len(added))
    status = 400 if verdicts and all(v.outcome == "invalid" for v in verdicts) else 200
    return _render_list(FollowForm(formdata=None), verdicts=verdicts, status=status)


@bp.post("/processos/<path:numero>/remover")
def unfollow(numero):
    if not ConfirmForm().validate_on_submit():
        return _render_list(FollowForm(), verdicts=None, status=400)
    try:
        number = follows.unfollow(numero)
    except cnj.InvalidCnj as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.followed"), code=303)
    except LookupError:
        flash("Este processo não estava na lista de acompanhamento.", "error")
        return redirect(url_for("staff.followed"), code=303)
    audit.record("follow_remove", target=number)
    flash(f"O processo {number} saiu da lista de acompanhamento.", "success")
    flash(number, "undo")  # the list offers "Desfazer": the number goes back in with one click
    return redirect(url_for("staff.followed"), code=303)


@bp.post("/processos/<path:numero>/atualizar")
@limit_refreshes
def refresh(numero):
    if not ConfirmForm().validate_on_submit():
        return _render_list(FollowForm(), verdicts=None, status=400)
    try:
        number = cnj.format(cnj.parse(numero))
    except cnj.InvalidCnj as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.followed"), code=303)
    ref = jobs.enqueue(follows.refresh_for_staff, number, queue="high", timeout=120)
    status, outcome = jobs.wait(ref, current_app.config["STAFF_REFRESH_WAIT_S"])
    if status == "pending":
        audit.record("process_refresh", target=number, outcome="queued")
        flash(f"A atualização do processo {number} foi pedida e continua em segundo plano; a lista mostra a nova "
              "data em instantes.", "success")
        return redirect(url_for("staff.followed"), code=303)
    result = outcome["status"] if status == "finished" and outcome else "unavailable"
    audit.record("process_refresh", target=number, outcome=result)
    if result == "not_found":
        provider = outcome["provider"]
        flash(f"O {provider} não encontrou o processo {number}: pode ser sigiloso ou ainda não enviado "
              f"ao {provider}.", "error")
    elif result == "unavailable":
        flash("A fonte dos dados não respondeu agora. Os dados guardados continuam valendo; tente de novo em "
              "alguns minutos.", "error")
    elif result == "stale":
        flash(f"A fonte não respondeu; o processo {number} continua com os dados guardados.", "error")
    else:
        flash(f"O processo {number} foi atualizado agora pela fonte.", "success")
    return redirect(url_for("staff.followed"), code=303)


@bp.get("/processos.csv")
def export_csv():
    rows = follows.followed_rows()
    audit.record("follow_export", count=len(rows))
    return Response(follows.csv_export(rows), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="processos-acompanhados.csv"'})


def _render_list(form: FollowForm, verdicts, status: int = 200):
    next_sync = sync.next_run_due(datetime.now(UTC)).astimezone(COURT_TIMEZONE)
    return render_template("staff/followed.html", form=form, confirm=ConfirmForm(), verdicts=verdicts,
                           rows=follows.followed_rows(), max_numbers=follows.MAX_NUMBERS_PER_PASTE,
                           next_sync=next_sync), status
