"""deploy/: every metric the Grafana dashboard and the Prometheus rules query is one the portal exports."""
import json
import re

import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\bportal_[a-z0-9_]+\b")


def queried_names() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "portal-dashboard.json").read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "portal-rules.yml").read_text(encoding="utf-8"))
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return {name for expr in expressions for name in METRIC.findall(expr)}


def exported_names(text: str) -> set[str]:
    """Every name a query may use: sample names, and a histogram's or counter's derived series."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            if kind == "counter":
                names.add(name if name.endswith("_total") else f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def test_every_metric_the_dashboard_and_the_rules_query_is_exported(make_app, own_redis):
    app = make_app({"REDIS_URL": own_redis.url}, JOBS_MODE="rq")
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    queried = queried_names()
    assert len(queried) >= 15 and any(name.startswith("portal_jobs_") for name in queried)
    missing = sorted(queried - exported_names(response.get_data(as_text=True)))
    assert missing == []


def test_the_scrape_configuration_and_the_dashboard_are_well_formed():
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"]
    dashboard = json.loads((DEPLOY / "grafana" / "portal-dashboard.json").read_text(encoding="utf-8"))
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    nginx = (DEPLOY / "nginx" / "portal.conf").read_text(encoding="utf-8")
    for directive in ("ssl_certificate ", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID", "location /static/",
                      "client_max_body_size", "proxy_request_buffering on", "proxy_buffering on"):
        assert directive in nginx, directive
    assert nginx.count("{") == nginx.count("}")
    units = {path.name: path.read_text(encoding="utf-8") for path in (DEPLOY / "systemd").glob("*.service")}
    assert "GUNICORN_CONTROL_SOCKET=/run/portal-%i/gunicorn.ctl" in units["portal@.service"]
    assert "jobs worker --no-scheduler" in units["portal-worker@.service"]
    assert "jobs scheduler" in units["portal-scheduler.service"]
