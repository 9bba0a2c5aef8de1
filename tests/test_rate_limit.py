"""Per-client rate limits (Flask-Limiter): Retry-After on every 429, trusted client address, IPv6 /64,
shared through Redis, and a Redis outage that fails no request (§8.4)."""
import ipaddress
import uuid

import pytest
import redis

from extensions import limiter
from tests.conftest import skip_or_fail


def limited_app(make_app, env=None, **overrides):
    app = make_app(env, **overrides)

    @app.get("/limited")
    @limiter.limit("2/minute")
    def limited():
        return "ok"

    @app.get("/api/v1/limited")
    @limiter.limit("2/minute")
    def api_limited():
        return {"ok": True}

    return app


def hit(client, path="/limited", address="203.0.113.5", **headers):
    return client.get(path, environ_overrides={"REMOTE_ADDR": address}, headers=headers)


def test_the_third_request_gets_a_429_page_with_retry_after(make_app, log_lines):
    client = limited_app(make_app).test_client()
    assert [hit(client).status_code for _ in range(2)] == [200, 200]
    response = hit(client, **{"X-Request-ID": "req-limit-check-1"})
    assert response.status_code == 429
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    assert "Muitos pedidos em pouco tempo" in response.get_data(as_text=True)
    api = hit(client, "/api/v1/limited")
    assert api.status_code == 200
    hit(client, "/api/v1/limited")
    api = hit(client, "/api/v1/limited")
    assert api.status_code == 429 and api.json["error"]["code"] == "too_many_requests" and "Retry-After" in api.headers
    breaches = [line for line in log_lines() if line["message"] == "rate limit exceeded"]
    assert breaches[0]["client"] == "203.0.113.0/24" and breaches[0]["route"] == "/limited"
    assert breaches[0]["request_id"] == "req-limit-check-1"


def test_clients_are_counted_apart(make_app):
    client = limited_app(make_app).test_client()
    for _ in range(2):
        hit(client, address="203.0.113.5")
    assert hit(client, address="203.0.113.5").status_code == 429
    assert hit(client, address="203.0.113.6").status_code == 200


def test_ipv6_clients_share_a_bucket_per_64(make_app):
    client = limited_app(make_app).test_client()
    hit(client, address="2001:db8:1:2::1")
    hit(client, address="2001:db8:1:2:ffff::9")
    assert hit(client, address="2001:db8:1:2:aaaa::3").status_code == 429
    assert hit(client, address="2001:db8:1:3::1").status_code == 200


def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    client = limited_app(make_app).test_client()
    for index in range(2):
        hit(client, **{"X-Forwarded-For": f"198.51.100.{index}"})
    assert hit(client, **{"X-Forwarded-For": "198.51.100.99"}).status_code == 429


def test_behind_a_trusted_proxy_the_real_client_is_used(make_app):
    client = limited_app(make_app, {"TRUSTED_PROXIES": "1"}).test_client()
    for _ in range(2):
        hit(client, address="10.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})
    assert hit(client, address="10.0.0.1", **{"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert hit(client, address="10.0.0.1", **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200


@pytest.fixture
def redis_url():
    url = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(url, socket_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        skip_or_fail(f"Redis is not reachable: {exc}")
    yield url
    client.close()


def test_the_limit_holds_across_workers_through_redis(make_app, redis_url):
    first = limited_app(make_app, {"REDIS_URL": redis_url}).test_client()
    second = limited_app(make_app, {"REDIS_URL": redis_url}).test_client()
    # A fresh client address: Flask-Limiter keeps its first app's key prefix for the whole process.
    address = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"
    statuses = [hit(client, address=address).status_code for client in (first, second, first, second)]
    assert statuses == [200, 200, 429, 429]
    stored = redis.Redis.from_url(redis_url)
    network = str(ipaddress.ip_network(f"{address}/64", strict=False))
    assert list(stored.scan_iter(match=f"*{network}*"))  # the counter lives in Redis, not in a worker
    stored.close()


def test_a_redis_outage_fails_no_request(make_app):
    client = limited_app(make_app, {"REDIS_URL": "redis://127.0.0.1:1/0"}).test_client()
    statuses = [hit(client).status_code for _ in range(3)]
    assert 500 not in statuses
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429  # the in-memory fallback still limits


def test_limit_headers_only_on_routes_with_a_limit(make_app):
    client = limited_app(make_app).test_client()
    limited = hit(client)
    assert limited.headers["X-RateLimit-Limit"] == "2" and limited.headers["X-RateLimit-Remaining"] == "1"
    assert "X-RateLimit-Limit" not in hit(client, "/").headers
    # the findings of one request's check do not reach the next request on the same thread
    assert "X-RateLimit-Limit" not in hit(client, "/a-vara").headers
