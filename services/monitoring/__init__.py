"""Monitoring: what the admins' dashboard and /metrics say about the whole deployment.

Modules (imported by name, `from services.monitoring import dashboard`; this package re-exports nothing so that
the resilience layer can import `metrics` without pulling in the dashboard that reads the resilience layer):
- `metrics` — the Prometheus metrics every part of the portal records, correct across gunicorn workers;
- `scrape` — reading them back: the merged families, exposition text, `Snapshot` queries, dead-worker compaction;
- `history` — the headline figures' history (Redis lists, a shared file, or memory);
- `collector` — the single sampler per server that feeds the history and judges the alerts;
- `alerts` — alert rules with hysteresis, one open alert per condition;
- `readiness` — `/health/ready`: the database reachable and migrated, Redis reachable;
- `health_score` — the documented 0–100 score; `system_info` — CPU, memory and disk within cgroup limits;
- `diagnostics` — `flask diagnostics` and the JSON export; `dashboard` — the dashboard's figures in one dict.
"""
