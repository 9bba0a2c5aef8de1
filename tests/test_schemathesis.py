"""schemathesis against the API's own OpenAPI document (issue 17, item 3): every operation of
/api/v1/openapi.json, called through the app's WSGI interface with cases generated from the document (positive
and negative), answers without a 5xx, with a documented status code, content type and body schema.

The admin operations are called as a logged-in admin with a fresh login and the CSRF token, so they answer for
real instead of with a 401. DataJud is the fake on loopback (tests/fake_datajud.py) serving the document's example
number, so the lookup answers 200 with a Process and never reaches the network.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import csrf_token_from

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = settings(max_examples=25, deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))
GENEROUS = {"ASSISTANT_RATE_LIMIT": "100000/minute", "LOOKUP_RATE_LIMIT": "100000/minute",
            "LOGIN_RATE_LIMIT": "100000/minute", "RETRY_MAX_ATTEMPTS": "1"}


@pytest.fixture
def api(make_app, login, datajud):
    app = make_app(GENEROUS, datajud=datajud)
    client = app.test_client()
    login(client, app, "admin")
    token = csrf_token_from(client.get("/admin/reautenticar").get_data(as_text=True))
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return schema, {"headers": {"X-CSRFToken": token}, "cookies": {cookie.key: cookie.value}}


def _operations(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    return operations


def _run(operation, mode, auth: dict, failures: list) -> None:
    @EXAMPLES
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        try:
            case.call_and_validate(checks=CHECKS, **auth)
        except (Exception, FailureGroup) as exc:  # schemathesis reports a BaseExceptionGroup
            failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:600]}\n"
                            f"  reproduce: {case.as_curl_command()}")
            raise

    try:
        check()
    except Unsatisfiable:
        assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to negate (no parameters, no body)
    except (Exception, FailureGroup) as exc:  # recorded above (each operation is still tried), or hypothesis refused
        if not failures or not failures[-1].startswith(operation.label):
            failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}")


def test_every_operation_conforms_to_the_document(api):
    schema, auth = api
    failures: list[str] = []
    for operation in _operations(schema):
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _run(operation, mode, auth, failures)
    assert not failures, "\n".join(failures)
