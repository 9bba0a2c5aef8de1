"""Health endpoints for load balancers: no login, status only (application/health+json)."""
from flask import Blueprint, jsonify

from services.monitoring import readiness

bp = Blueprint("health", __name__, url_prefix="/health")
HEALTH_JSON = "application/health+json"


def _answer(status: str, http_status: int):
    response = jsonify(status=status)
    response.status_code = http_status
    response.mimetype = HEALTH_JSON
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/live")
def live():
    """The process answers; nothing external is checked."""
    return _answer("pass", 200)


@bp.get("/ready")
def ready():
    """503 only when the database is unreachable or its migrations are not applied."""
    result = readiness.readiness()
    return _answer(result.status, 200 if result.ready else 503)
