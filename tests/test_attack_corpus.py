"""The attack corpus (tests/attack/*.yaml, format in tests/attack/README.md), run as data (issue 17, item 4).

One test runs every case through Flask's test client on one app, and reports every case that fails at once; one
test runs the cases marked for gunicorn against one real gunicorn; one checks that the forced-browsing lists cover
every guarded route of the URL map. DataJud is the fake on loopback (a closed port for gunicorn): nothing reaches
the network.
"""
from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from tests.conftest import CLOSED_URL, TEST_PASSWORD, create_user, csrf_token_from, gunicorn_portal, unique_address

CORPUS = Path(__file__).parent / "attack"
LOCAL_PATH = re.compile(r"^/(?![/\\])")
# Characters that may travel as they are in a request target; anything else in a path is percent-encoded.
_TARGET_SAFE = "/?=&%:;,@+!$'()*-._~[]\\"
SETTINGS = {"ASSISTANT_RATE_LIMIT": "100000/minute", "LOOKUP_RATE_LIMIT": "100000/minute",
            "FEEDBACK_RATE_LIMIT": "100000/minute", "LOGIN_RATE_LIMIT": "100000/minute",
            "LOGIN_ACCOUNT_RATE_LIMIT": "100000/minute", "LOGIN_MAX_FAILURES": "100",
            "RETRY_MAX_ATTEMPTS": "1"}


@dataclass
class Case:
    source: str
    name: str
    method: str
    path: str
    role: str = "anonymous"
    headers: dict = field(default_factory=dict)
    raw_headers: str | None = None
    csrf: object = None
    body: dict | None = None
    each: object = None
    status: tuple = ()
    must_not_contain: tuple = ()
    must_contain: tuple = ()
    location_prefix: str | None = None
    json_error: str | None = None
    content_type: str | None = None
    server: str = "flask"
    stalled_before: int = 0

    @property
    def label(self) -> str:
        return f"{self.source}: {self.name}"


def _fill(value, each):
    """`{each}` replaced in strings, recursively; `{admin}` etc. are left for the runner."""
    if isinstance(value, str):
        return value.replace("{each}", str(each)) if each is not None else value
    if isinstance(value, dict):
        return {k: _fill(v, each) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, each) for v in value]
    return value


def _encode_target(path: str) -> str:
    return quote(path, safe=_TARGET_SAFE)


def load_corpus() -> list[Case]:
    cases = []
    for file in sorted(CORPUS.glob("*.yaml")):
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
        defaults = document.get("defaults", {})
        for raw in document["cases"]:
            spec = {**defaults, **raw}
            routes = spec.pop("each_route", None)
            items = spec.pop("each", None)
            expansions = ([(method, path, None) for method, path in routes] if routes else
                          [(spec.get("method"), spec.get("path"), item) for item in items] if items else
                          [(spec.get("method"), spec.get("path"), None)])
            for method, path, item in expansions:
                name = _fill(spec["name"], item).replace("{method}", method)
                if routes:
                    name = name.replace("{each}", path)
                cases.append(Case(
                    source=file.name, name=name, method=method, path=_encode_target(_fill(path, item)),
                    role=spec.get("as", "anonymous"), headers=_fill(spec.get("headers", {}), item),
                    raw_headers=spec.get("raw_headers"), csrf=spec.get("csrf"), body=_fill(spec.get("body"), item),
                    each=item, status=tuple(spec.get("status", ())),
                    must_not_contain=tuple(spec.get("must_not_contain", ())),
                    must_contain=tuple(spec.get("must_contain", ())), location_prefix=spec.get("location_prefix"),
                    json_error=spec.get("json_error"), content_type=spec.get("content_type"),
                    server=spec.get("server", "flask"), stalled_before=int(spec.get("stalled_before", 0))))
    return cases


CASES = load_corpus()


# -- building a request ----------------------------------------------------------------------------------------
def _accounts_filled(value, accounts: dict):
    if isinstance(value, str):
        for name, replacement in accounts.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _accounts_filled(v, accounts) for k, v in value.items()}
    if isinstance(value, list):
        return [_accounts_filled(v, accounts) for v in value]
    return value


def request_body(case: Case, accounts: dict, token: str | None) -> tuple[bytes | dict | None, str | None]:
    """(data, content type) of the case's body; a form is a dict with the token added when there is one."""
    body = _accounts_filled(case.body, accounts) if case.body else None
    if body is None:
        return ({"csrf_token": token} if token else None), None
    if "form" in body:
        form = dict(body["form"])
        if token:
            form["csrf_token"] = token
        return form, None
    if "json" in body:
        return json.dumps(body["json"]).encode(), "application/json"
    if "size_mb" in body:
        return b"a" * (int(body["size_mb"]) * 1024 * 1024), body["content_type"]
    if "nested" in body:
        depth = int(case.each)
        text = {"array": "[" * depth + "]" * depth,
                "object": '{"a":' * depth + "1" + "}" * depth,
                "message": '{"message":' + "[" * depth + "]" * depth + "}"}[body["nested"]]
        return text.encode(), body["content_type"]
    if "raw_json" in body:
        return body["raw_json"].encode(), "application/json"
    if "big_integer" in body:
        return ('{"message": ' + "9" * int(body["big_integer"]) + "}").encode(), body["content_type"]
    raise ValueError(f"unknown body in {case.label}: {body}")


# -- checking an answer ----------------------------------------------------------------------------------------
def problems(case: Case, status: int, headers: list[tuple[str, str]], body: str, media_type: str) -> list[str]:
    found = []
    if status >= 500:
        found.append(f"a {status}")
    elif case.status and status not in case.status:
        found.append(f"status {status}, expected {list(case.status)}")
    header_text = "\n".join(f"{name}: {value}" for name, value in headers).lower()
    for needle in case.must_not_contain:
        where = [part for part, text in (("headers", header_text), ("body", body.lower())) if needle.lower() in text]
        if where:
            found.append(f"{needle!r} in the {' and '.join(where)}")
    for needle in case.must_contain:
        if needle not in body:
            found.append(f"{needle!r} missing from the body")
    location = next((value for name, value in headers if name.lower() == "location"), None)
    if location is not None and not LOCAL_PATH.match(location):
        found.append(f"Location {location!r} is not a path of this site")
    if case.location_prefix is not None and not (location or "").startswith(case.location_prefix):
        found.append(f"Location {location!r} does not start with {case.location_prefix!r}")
    if case.content_type and media_type != case.content_type:
        found.append(f"content type {media_type}, expected {case.content_type}")
    if case.json_error:
        try:
            error = json.loads(body)
            assert set(error) == {"error", "request_id"} and error["request_id"]
            assert error["error"]["code"] == case.json_error and error["error"]["message"]
        except (ValueError, AssertionError, KeyError, TypeError):
            found.append(f"not the JSON error {case.json_error!r}: {body[:200]!r}")
    if status >= 400 and case.server != "gunicorn":  # gunicorn-only cases: the server's own refusals
        api = case.path.startswith("/api/")
        if api and '"error"' not in body:
            found.append("an /api/ refusal without the JSON error shape")
        if not api and media_type == "text/html" and 'lang="pt-BR"' not in body:
            found.append("a refusal that is not the portal's pt-BR page")
    return found


# -- the Flask test client -------------------------------------------------------------------------------------
class Portal:
    """One app for the corpus; each case gets a client of its own (its own address, cookies and login)."""

    def __init__(self, app):
        self.app = app
        self.accounts = {"admin": create_user(app, "admin"), "staff": create_user(app, "staff"),
                         "password": TEST_PASSWORD}

    def client(self, role: str):
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = unique_address()
        if role in ("admin", "staff", "stale_admin", "logged_out"):
            username = self.accounts["staff" if role == "staff" else "admin"]
            token = csrf_token_from(client.get("/admin/login").get_data(as_text=True))
            response = client.post("/admin/login", data={"csrf_token": token, "username": username,
                                                         "password": TEST_PASSWORD})
            assert response.status_code == 302, response.status_code
        if role == "stale_admin":
            with client.session_transaction() as session:
                session["auth_at"] = 0
        if role == "logged_out":
            name = self.app.config["SESSION_COOKIE_NAME"]
            kept = client.get_cookie(name).value
            token = csrf_token_from(client.get("/admin/reautenticar").get_data(as_text=True))
            assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
            client.set_cookie(name, kept)
        return client

    def token(self, client, role: str) -> str:
        page = "/admin/reautenticar" if role in ("admin", "staff", "stale_admin") else "/admin/login"
        return csrf_token_from(client.get(page).get_data(as_text=True))

    def run(self, case: Case) -> list[str]:
        if "Host" in case.headers and case.role == "anonymous" and not case.csrf:
            return self.run_bare(case)
        client = self.client(case.role)
        token = None
        if case.csrf is True:
            token = self.token(client, case.role)
        elif case.csrf == "forged":
            token = "IjRmYWtlLXRva2VuIg.Z0Z0Zw.forged-signature-xxxxxxxxxxxx"
        elif case.csrf == "foreign":
            token = self.token(self.client("anonymous"), "anonymous")
        data, content_type = request_body(case, self.accounts, token)
        headers = dict(case.headers)
        if token:
            headers["X-CSRFToken"] = token
        response = client.open(case.path, method=case.method, data=data, content_type=content_type,
                                headers=headers)
        try:
            return problems(case, response.status_code, list(response.headers.items()),
                            response.get_data(as_text=True), response.mimetype)
        finally:
            response.close()


    def run_bare(self, case: Case) -> list[str]:
        """The app called as a WSGI server would, without the test client: its cookie jar decodes the Host as
        IDNA and fails on some of the hostile ones before the portal is even asked."""
        data, content_type = request_body(case, self.accounts, None)
        environ = EnvironBuilder(path=case.path, method=case.method, headers=case.headers, data=data,
                                 content_type=content_type,
                                 environ_base={"REMOTE_ADDR": unique_address()}).get_environ()
        response = Response(*run_wsgi_app(self.app, environ, buffered=True))
        return problems(case, response.status_code, list(response.headers.items()), response.get_data(as_text=True),
                        response.mimetype)


def test_the_corpus_is_well_formed():
    assert len(CASES) > 250
    for case in CASES:
        assert case.method in ("GET", "POST", "DELETE", "PUT", "PATCH"), case.label
        assert case.path.startswith("/"), case.label
        assert case.server in ("flask", "gunicorn", "both"), case.label
        assert case.role in ("anonymous", "staff", "admin", "stale_admin", "logged_out"), case.label
        assert case.status or case.json_error, f"{case.label}: no expected status"
    labels = [case.label for case in CASES]
    assert len(labels) == len(set(labels)), [label for label in labels if labels.count(label) > 1]


def test_every_case_through_the_test_client(make_app, datajud):
    portal = Portal(make_app(SETTINGS, datajud=datajud))
    failures = []
    for case in CASES:
        if case.server == "gunicorn":
            continue
        try:
            found = portal.run(case)
        except Exception as exc:  # escaped the app: a server would answer its bare 500
            found = [f"the app raised {exc!r}"]
        failures += [f"{case.label}: {problem}\n    {case.method} {case.path[:160]}" for problem in found]
    assert not failures, f"{len(failures)} of {len(CASES)} cases failed:\n" + "\n".join(failures)


def test_forced_browsing_covers_every_guarded_route(app):
    """Each guarded view (a blueprint guarded by role, the view not public) is tried without a login, and each
    admin-only one as staff; a new restricted view fails this until tests/attack/forced_browsing.yaml lists it."""
    adapter = app.url_map.bind("localhost")
    tried: dict[str, set[tuple[str, str]]] = {"anonymous": set(), "staff": set()}
    for case in CASES:
        if case.source == "forced_browsing.yaml" and case.role in tried:
            endpoint, _ = adapter.match(case.path.split("?")[0], method=case.method)
            tried[case.role].add((endpoint, case.method))
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.split(".")[0])
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "allowed_roles", getattr(blueprint, "guarded_roles", None))
        if roles is None or getattr(view, "public", False):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (rule.endpoint, method) in tried["anonymous"], f"{method} {rule.rule} not tried without a login"
            if "staff" not in roles:
                assert (rule.endpoint, method) in tried["staff"], f"{method} {rule.rule} not tried as staff"


# -- a real gunicorn ---------------------------------------------------------------------------------------------
def raw_request(base: str, case: Case, data: bytes | None, content_type: str | None) -> tuple[int, list, str, str]:
    """The case sent byte for byte on a socket (gunicorn sees what a client sent, nothing tidied by a library)."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"Host": f"{host}:{port}", "Connection": "close", **case.headers}
    if data is not None:
        headers |= {"Content-Type": content_type or "application/octet-stream", "Content-Length": str(len(data))}
    lines = [f"{case.method} {case.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if case.raw_headers:
        lines.append(case.raw_headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    chunks = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            if data:
                sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):  # a server may answer 413 and close before the end
            pass
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    raw = b"".join(chunks)
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    parsed = [tuple(part.strip() for part in line.split(":", 1)) for line in header_lines if ":" in line]
    media_type = next((v.split(";")[0].strip() for k, v in parsed if k.lower() == "content-type"), "")
    return int(status_line.split()[1]), parsed, body.decode("utf-8", "replace"), media_type


def _stalled_connection(base: str) -> socket.socket:
    """A POST that announces 1,000 bytes of body and sends 10: the server holds it until the client goes."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /api/v1/chat HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000\r\n\r\n{\"message\"".encode())
    return sock


def test_gunicorn_cases(tmp_path, sqlite_template):
    cases = [case for case in CASES if case.server in ("gunicorn", "both")]
    assert cases and all(case.role == "anonymous" and not case.csrf for case in cases)
    failures = []
    with gunicorn_portal(tmp_path, sqlite_template, DATAJUD_BASE_URL=CLOSED_URL, **SETTINGS) as base:
        for case in cases:
            data, content_type = request_body(case, {}, None)
            if isinstance(data, dict):
                data = "&".join(f"{quote(k)}={quote(v)}" for k, v in data.items()).encode()
                content_type = "application/x-www-form-urlencoded"
            stalled = [_stalled_connection(base) for _ in range(case.stalled_before)]
            try:
                answer = raw_request(base, case, data, content_type)
            except (OSError, ValueError, IndexError) as exc:
                failures.append(f"{case.label}: no HTTP answer ({exc!r})")
                continue
            finally:
                for sock in stalled:
                    sock.close()
            failures += [f"{case.label}: {problem}" for problem in problems(case, *answer)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text", ["x", "evil.example", "%0d%0a"])
def test_the_loader_fills_each(text):
    case = Case(source="t", name="n {each}", method="GET", path=_encode_target(_fill("/a?b={each} <", text)))
    assert case.path == f"/a?b={text}%20%3C"
