"""The OpenAPI document (openapi.yaml) and the URL map agree, both ways."""
import re

import api_document


def _documented() -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, operations in api_document.document()["paths"].items()
            for method in operations}


def _routed(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_api_route_is_documented_and_every_documented_path_is_a_route(app):
    assert _routed(app) == _documented()


def test_the_document_is_served_as_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json == api_document.document()
    assert response.json["openapi"].startswith("3.1")
