"""The JSON API under /api/v1: process lookup and its OpenAPI document (openapi.yaml)."""
from flask import Blueprint, jsonify, request

import api_document
from errors import api_error
from services import audit, auth, processes
from utils.cnj import InvalidCnj
from view_helpers import limit_lookups, note_lookup

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/processos/<path:numero>")
@limit_lookups
def process(numero):
    # Only staff may skip the cache and the store; for anyone else the parameter is ignored, not an error.
    # The session is read only when asked, so ordinary lookups stay cacheable (no `Vary: Cookie`).
    force = request.args.get("force_refresh") in ("1", "true") and auth.has_role("staff", "admin")
    try:
        result = processes.lookup(numero, force_refresh=force)
    except InvalidCnj as exc:
        return api_error(400, "invalid_cnj", exc.message, reason=exc.code)
    except processes.ProcessNotFound as exc:
        note_lookup(exc.reached_provider)
        return api_error(404, "not_found", exc.message)
    except processes.ProcessUnavailable as exc:
        return api_error(503, "upstream_unavailable", f"Não foi possível consultar agora: {exc.reason}. "
                         "Tente de novo mais tarde.", retry_after=exc.retry_after_s)
    note_lookup(result.reached_provider)
    if force:
        audit.record("process_refresh", target=result.payload.cnj, via="api",
                     outcome="stale" if result.payload.stale else "ok")
    return jsonify(result.payload.as_json())


@bp.get("/openapi.json")
def openapi():
    return jsonify(api_document.document())
