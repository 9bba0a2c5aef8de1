"""The JSON API under /api/v1: process lookup and its OpenAPI document."""
from flask import Blueprint, current_app, g, jsonify, request

from errors import api_error
from extensions import limiter
from services import audit, auth, processes
from services.cache import CacheLoadTimeout
from utils.cnj import InvalidCnj

bp = Blueprint("api", __name__, url_prefix="/api/v1")
NOT_FOUND_MESSAGE = ("Processo não encontrado no DataJud. Ele pode não existir, estar em segredo de justiça ou "
                     "ainda não ter sido enviado pelo tribunal ao DataJud. Confira o número.")


def lookup_limit() -> str:
    return current_app.config["LOOKUP_RATE_LIMIT"]


def reached_upstream(response) -> bool:
    """Only lookups that went to the source count against the client's limit; stored answers are free."""
    return bool(g.get("lookup_reached_upstream"))


@bp.get("/processos/<path:numero>")
@limiter.limit(lookup_limit, deduct_when=reached_upstream)
def process(numero):
    # Only staff may skip the cache and the store; for anyone else the parameter is ignored, not an error.
    # The session is read only when asked, so ordinary lookups stay cacheable (no `Vary: Cookie`).
    force = request.args.get("force_refresh") in ("1", "true") and auth.has_role("staff", "admin")
    try:
        result = processes.lookup(numero, force_refresh=force)
    except InvalidCnj as exc:
        return api_error(400, "invalid_cnj", exc.message, reason=exc.code)
    except processes.ProcessNotFound:
        return api_error(404, "not_found", NOT_FOUND_MESSAGE)
    except processes.ProcessUnavailable as exc:
        return api_error(503, "upstream_unavailable", f"Não foi possível consultar agora: {exc.reason}. "
                         "Tente de novo mais tarde.", retry_after=exc.retry_after_s)
    except CacheLoadTimeout:
        return api_error(503, "upstream_unavailable", "A consulta demorou demais. Tente de novo em instantes.",
                         retry_after=30)
    g.lookup_reached_upstream = result.reached_upstream
    if force:
        audit.record("process_refresh", target=result.payload["cnj"], via="api",
                     outcome="stale" if result.payload.get("stale") else "ok")
    return jsonify(result.payload)


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


_CODE_NAME = {"type": "object",
              "properties": {"code": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}}}
_ERROR = {"type": "object", "required": ["error", "request_id"], "properties": {
    "error": {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    "request_id": {"type": "string"}}}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Portal da 2ª Vara Cível de Cariacica — API", "version": "1.0.0",
             "description": "Consulta pública de processos do TJES pelo número CNJ, a partir do DataJud (CNJ)."},
    "paths": {
        "/api/v1/processos/{numero}": {"get": {
            "summary": "Processo pelo número CNJ (com ou sem pontuação)",
            "parameters": [{"name": "numero", "in": "path", "required": True, "schema": {"type": "string"},
                            "example": "0022783-22.2017.8.08.0024"}],
            "responses": {
                "200": {"description": "Processo (dados guardados podem vir com stale=true e o motivo)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Process"}}}},
                "400": {"description": "Número inválido ou de outro tribunal (error.code = invalid_cnj)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "Não encontrado, em segredo de justiça ou ainda não enviado ao DataJud",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "429": {"description": "Limite de consultas à fonte atingido; veja Retry-After"},
                "503": {"description": "Fonte indisponível e nada guardado (error.code = upstream_unavailable); "
                                       "veja Retry-After",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            }}},
    },
    "components": {"schemas": {
        "Error": _ERROR,
        "Movement": {"type": "object", "properties": {
            "date": {"type": "string", "format": "date-time"}, "code": {"type": ["integer", "null"]},
            "name": {"type": "string"}, "complements": {"type": "array", "items": {"type": "string"}},
            "category": {"type": "string", "enum": ["inicio", "com_o_juiz", "despacho", "decisao", "sentenca",
                                                   "audiencia", "documentos", "comunicacoes", "prazos", "recurso",
                                                   "encerramento", "outros"]}}},
        "Instance": {"type": "object", "properties": {
            "degree": {"type": "string"}, "class": _CODE_NAME, "subjects": {"type": "array", "items": _CODE_NAME},
            "judging_body": _CODE_NAME, "filed_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "movements": {"type": "array", "items": {"$ref": "#/components/schemas/Movement"},
                          "description": "Mais recentes primeiro, duplicatas exatas removidas"}}},
        "Process": {"type": "object", "required": ["cnj", "stale", "stale_reason", "fetched_at", "source", "instances"],
                    "properties": {
                        "cnj": {"type": "string", "example": "0022783-22.2017.8.08.0024"},
                        "stale": {"type": "boolean"}, "stale_reason": {"type": ["string", "null"]},
                        "fetched_at": {"type": "string", "format": "date-time"},
                        "source": {"type": "string", "enum": ["datajud", "escavador"]},
                        "restricted": {"type": "boolean",
                                       "description": "Segredo de justiça: só o número é mostrado"},
                        "instances": {"type": "array", "items": {"$ref": "#/components/schemas/Instance"}}}},
    }},
}
