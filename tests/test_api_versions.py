"""A stored process through the API: the same bytes for everyone until its next fetch, revalidated with an ETag."""
from tests.test_processes import TJES_FIXTURE


def test_a_stored_process_is_revalidated_with_its_etag(make_app, datajud):
    client = make_app(datajud=datajud).test_client()
    first = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert again.get_data() == first.get_data() and again.headers["ETag"] == etag
    unchanged = client.get(f"/api/v1/processos/{TJES_FIXTURE}", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert datajud.count == 1
    other = client.get(f"/api/v1/processos/{TJES_FIXTURE}", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.json["cnj"] == first.json["cnj"]


def test_a_stale_copy_has_another_etag(make_app, datajud):
    app = make_app({"PROCESS_CACHE_TTL": "1", "PROCESS_DB_TTL": "1"}, datajud=datajud)
    client = app.test_client()
    fresh = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    datajud.set("503")
    with app.app_context():
        from services import cache

        cache.current().invalidate_namespace("processes")
        cache.current().invalidate_namespace("processes-fetch")  # the last fetch's outcome, kept for 1 s
    from extensions import db
    from models import ProcessInstance
    from utils.dates import utcnow

    with app.app_context():
        db.session.query(ProcessInstance).update({"valid_until": utcnow()})
        db.session.commit()
    stale = client.get(f"/api/v1/processos/{TJES_FIXTURE}")
    assert stale.status_code == 200 and stale.json["stale"] is True
    assert stale.headers["ETag"] != fresh.headers["ETag"]


def test_a_staff_forced_refresh_is_never_stored_by_caches(app, login, datajud):
    client = app.test_client()
    login(client, app, role="staff")
    response = client.get(f"/api/v1/processos/{TJES_FIXTURE}?force_refresh=1")
    assert "no-store" in response.headers["Cache-Control"]
