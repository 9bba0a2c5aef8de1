"""The JSON API under /api/v1: process lookup and its OpenAPI document (openapi.yaml)."""
import hashlib
import threading

import orjson
from cachetools import LRUCache
from flask import Blueprint, current_app, jsonify, request

import api_document
from errors import api_error
from services import audit, auth, processes
from utils.cnj import InvalidCnj
from view_helpers import charge_lookup, check_lookup_budget

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/processos/<path:numero>")
def process(numero):
    # Only staff may skip the cache and the store; for anyone else the parameter is ignored, not an error.
    # The session is read only when asked, so ordinary lookups stay cacheable (no `Vary: Cookie`).
    force = request.args.get("force_refresh") in ("1", "true") and auth.has_role("staff", "admin")
    try:
        result = processes.lookup(numero, force_refresh=force, before_provider=check_lookup_budget)
    except InvalidCnj as exc:
        return api_error(400, "invalid_cnj", exc.message, reason=exc.code)
    except processes.ProcessNotFound as exc:
        charge_lookup(exc.reached_provider)
        return api_error(404, "not_found", exc.message)
    except processes.ProcessUnavailable as exc:
        return api_error(503, "upstream_unavailable", f"Não foi possível consultar agora: {exc.reason}. "
                         "Tente de novo mais tarde.", retry_after=exc.retry_after_s)
    charge_lookup(result.reached_provider)
    if force:
        audit.record("process_refresh", target=result.payload.cnj, via="api",
                     outcome="stale" if result.payload.stale else "ok")
        response = _payload_response(result.payload)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return _payload_response(result.payload)


# The ETag and JSON of a stored version, made once per process: a stored process is the same bytes for everyone
# until its next fetch, so a cache hit neither re-encodes it nor, with a matching If-None-Match, sends it at all. The
# busiest numbers only: orjson encodes a long process in well under a millisecond, and 512 bodies (8 KB for the
# fixture, far more for a long process) were megabytes of every worker's memory.
_bodies: LRUCache = LRUCache(maxsize=128)
_bodies_lock = threading.Lock()


def _payload_response(payload: processes.ProcessPayload):
    version = (payload.cnj, payload.fetched_at, payload.stale, payload.stale_reason)
    with _bodies_lock:
        stored = _bodies.get(version)
    if stored is None:
        etag = hashlib.blake2b("|".join((payload.cnj, payload.fetched_at, str(payload.stale),
                                         payload.stale_reason or "")).encode(), digest_size=12).hexdigest()
        stored = (f'"{etag}"', orjson.dumps(payload.as_json()))
        with _bodies_lock:
            _bodies[version] = stored
    quoted_etag, body = stored
    # Any cache may keep it, and must ask again (a 304 when nothing changed): a stored copy can change any minute.
    headers = {"ETag": quoted_etag, "Cache-Control": "no-cache"}
    if "HTTP_IF_NONE_MATCH" in request.environ and quoted_etag[1:-1] in request.if_none_match:
        return current_app.response_class(status=304, headers=headers)
    return current_app.response_class(body, mimetype="application/json", headers=headers)


@bp.get("/openapi.json")
def openapi():
    return jsonify(api_document.document())
