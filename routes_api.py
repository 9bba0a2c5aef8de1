"""The JSON API under /api/v1: process lookup and its OpenAPI document."""
from flask import Blueprint, jsonify, request

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
    return jsonify(OPENAPI)


_CODE_NAME = {"type": "object",
              "properties": {"code": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}}}
_ERROR = {"type": "object", "required": ["error", "request_id"], "properties": {
    "error": {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    "request_id": {"type": "string"}}}

def _admin(method: str, summary: str, description: str = "", body: dict | None = None, params=(), **responses):
    """One admin-only monitoring operation: session cookie of an admin; 401 anonymous, 403 staff."""
    operation = {"summary": summary, "tags": ["monitoring"], "security": [{"adminSession": []}],
                 "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": t}} for n, t in params],
                 "responses": {"200": {"description": description or "OK",
                                       "content": {"application/json": {"schema": {"type": "object"}}}},
                               "401": {"description": "Sem login (ou login antigo demais para ações: reautentique)",
                                       "content": {"application/json": {"schema": _ERROR}}},
                               "403": {"description": "Usuário sem o papel admin",
                                       "content": {"application/json": {"schema": _ERROR}}}, **responses}}
    if method == "post":
        operation["description"] = "Exige login recente e o token CSRF no cabeçalho X-CSRFToken; fica na auditoria."
    if body:
        operation["requestBody"] = {"content": {"application/json": {"schema": body}}}
    return {method: operation}


_MONITORING = "/api/v1/monitoring"
_NOT_FOUND = {"404": {"description": "Não encontrado", "content": {"application/json": {"schema": _ERROR}}}}
MONITORING_PATHS = {
    f"{_MONITORING}/health": {"get": {
        "summary": "Saúde básica (pública): só o status", "tags": ["monitoring"],
        "responses": {"200": {"description": "pass ou warn (um serviço externo fora)",
                              "content": {"application/health+json": {"schema": {"type": "object", "properties": {
                                  "status": {"type": "string", "enum": ["pass", "warn", "fail"]}}}}}},
                      "503": {"description": "fail: banco de dados inacessível ou migrações pendentes"}}}},
    f"{_MONITORING}/health/detailed": _admin("get", "Saúde por componente (checks) e nota de saúde 0–100"),
    f"{_MONITORING}/metrics": _admin("get", "Documento do painel: requisições, latência p50/p95/p99, cache, "
                                            "sistema, dependências, assistente, sincronização, alertas, nota",
                                     "Números do servidor inteiro (todos os workers), não de um processo"),
    f"{_MONITORING}/metrics/{{name}}": _admin(
        "get", "Histórico de uma métrica (até 1.000 amostras de 30 s): request_rate, error_rate, p95_latency, "
               "cache_hit_rate, cpu, memory", params=[("name", "string")], **_NOT_FOUND),
    f"{_MONITORING}/performance": _admin("get", "Por rota: requisições por classe de status, erros, latência"),
    f"{_MONITORING}/alerts": _admin("get", "Alertas ativos (?all=1: os mais recentes, resolvidos inclusive)"),
    f"{_MONITORING}/alerts/{{alert_id}}/resolve": _admin("post", "Marcar um alerta como resolvido",
                                                         params=[("alert_id", "integer")], **_NOT_FOUND),
    f"{_MONITORING}/cache/status": _admin("get", "Backend do cache e contadores por namespace"),
    f"{_MONITORING}/cache/clear": _admin("post", "Limpar um namespace do cache, ou as chaves de um padrão", body={
        "type": "object", "required": ["namespace"],
        "properties": {"namespace": {"type": "string"}, "pattern": {"type": "string", "description": "glob"}}}),
    f"{_MONITORING}/breakers/{{name}}/{{action}}": _admin(
        "post", "Disjuntor de um serviço: reset, force_open ou disable (em todos os workers, via Redis)",
        params=[("name", "string"), ("action", "string")], **_NOT_FOUND),
    f"{_MONITORING}/diagnostics": _admin("get", "Diagnóstico da instalação em JSON, sem segredos "
                                                "(?download=1 para baixar)"),
    f"{_MONITORING}/system/info": _admin("get", "CPU, memória, disco dos dados, rede e limites do contêiner"),
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Portal da 2ª Vara Cível de Cariacica — API", "version": "1.0.0",
             "description": "Consulta pública de processos do TJES pelo número CNJ, a partir do DataJud (CNJ)."},
    "paths": {
        "/api/v1/chat": {"post": {
            "summary": "Pergunta ao assistente virtual (envie X-CSRFToken quando chamar do navegador)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["message"], "properties": {
                    "message": {"type": "string", "maxLength": 1000, "example": "Como consigo uma certidão?"},
                    "session_id": {"type": ["string", "null"], "format": "uuid"}}}}}},
            "responses": {
                "200": {"description": "Resposta", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["answer", "sources", "path", "session_id"], "properties": {
                        "answer": {"type": "string", "description": "Texto simples, sem HTML"},
                        "sources": {"type": "array", "items": {"type": "object", "properties": {
                            "title": {"type": "string"}, "url": {"type": "string"}}}},
                        "path": {"type": "string", "enum": ["process", "llm", "retrieval", "fallback"]},
                        "session_id": {"type": "string", "format": "uuid"}}}}}},
                "400": {"description": "Mensagem vazia, longa demais, inválida ou token CSRF ausente",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "429": {"description": "Limite de mensagens atingido (30 por minuto); veja Retry-After"},
            }}},
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
        **MONITORING_PATHS,
    },
    "components": {"securitySchemes": {"adminSession": {"type": "apiKey", "in": "cookie", "name": "portal_session"}},
                   "schemas": {
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
