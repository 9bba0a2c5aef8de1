"""Health endpoints for load balancers: no login, status only (application/health+json)."""
import json

from flask import Blueprint, Response

from services.monitoring import readiness

bp = Blueprint("health", __name__, url_prefix="/health")
HEALTH_JSON = "application/health+json"


def _answer(status: str, http_status: int) -> Response:
    # Load balancers ask every few seconds: the body is the same few bytes, not a JSON encoding per probe.
    body = _BODIES.get(status) or json.dumps({"status": status}).encode()
    return Response(body, http_status, mimetype=HEALTH_JSON, headers={"Cache-Control": "no-store"})


_BODIES = {status: json.dumps({"status": status}).encode() for status in ("pass", "warn", "fail")}


@bp.get("/live")
def live():
    """The process answers; nothing external is checked."""
    return _answer("pass", 200)


@bp.get("/ready")
def ready():
    """503 only when the database is unreachable or its migrations are not applied."""
    result = readiness.readiness()
    return _answer(result.status, 200 if result.ready else 503)
