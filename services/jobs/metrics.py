"""The background jobs' figures for Prometheus, read at scrape time from the job state (Redis in RQ mode).

In RQ mode every instance exports the same deployment-wide values (the queues live in Redis): aggregate them
with max() by queue, not sum(). Families: portal_jobs_mode, portal_jobs_queue_length,
portal_jobs_queue_oldest_age_seconds, portal_jobs_queue_failed, portal_jobs_queue_scheduled,
portal_jobs_workers_alive, portal_jobs_periodic_runs_total, portal_jobs_periodic_last_run_timestamp_seconds,
portal_jobs_periodic_interval_seconds, portal_jobs_queue_stall_after_seconds (two intervals of the queue's most
frequent periodic job: the portal's own alert threshold).
"""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from services.jobs import status

NAMES = ("portal_jobs_mode", "portal_jobs_queue_length", "portal_jobs_queue_oldest_age_seconds",
         "portal_jobs_queue_failed", "portal_jobs_queue_scheduled", "portal_jobs_workers_alive",
         "portal_jobs_periodic_runs", "portal_jobs_periodic_last_run_timestamp_seconds",
         "portal_jobs_periodic_interval_seconds", "portal_jobs_queue_stall_after_seconds")


def families(panel: dict | None = None) -> list:
    panel = panel or status.panel()
    mode = GaugeMetricFamily("portal_jobs_mode", "How background jobs run here (1 on the mode in use)", labels=["mode"])
    for name in ("rq", "inprocess", "eager"):
        mode.add_metric([name], 1.0 if panel["mode"] == name else 0.0)
    length = GaugeMetricFamily("portal_jobs_queue_length", "Jobs waiting on a queue", labels=["queue"])
    oldest = GaugeMetricFamily("portal_jobs_queue_oldest_age_seconds",
                               "Age of the oldest job waiting on a queue (0 when none waits)", labels=["queue"])
    failed = GaugeMetricFamily("portal_jobs_queue_failed", "Jobs in a queue's failure registry", labels=["queue"])
    scheduled = GaugeMetricFamily("portal_jobs_queue_scheduled", "Retries waiting for their backoff",
                                  labels=["queue"])
    stall = GaugeMetricFamily("portal_jobs_queue_stall_after_seconds",
                              "Age past which a waiting job raises the stalled-queue alert", labels=["queue"])
    for queue in panel["queues"]:
        if queue.get("stall_after_s"):
            stall.add_metric([queue["name"]], float(queue["stall_after_s"]))
        length.add_metric([queue["name"]], float(queue["length"]))
        oldest.add_metric([queue["name"]], float(queue["oldest_age_s"] or 0.0))
        failed.add_metric([queue["name"]], float(queue["failed"]))
        scheduled.add_metric([queue["name"]], float(queue["scheduled"]))
    workers = GaugeMetricFamily("portal_jobs_workers_alive", "RQ workers with a recent heartbeat",
                                value=float(panel["alive_workers"]))
    runs = CounterMetricFamily("portal_jobs_periodic_runs", "Finished runs of each periodic job (whole deployment)",
                               labels=["job"])
    last = GaugeMetricFamily("portal_jobs_periodic_last_run_timestamp_seconds",
                             "When each periodic job last started (Unix time), by its outcome",
                             labels=["job", "status"])
    interval = GaugeMetricFamily("portal_jobs_periodic_interval_seconds", "Each periodic job's interval",
                                 labels=["job", "queue"])
    for row in panel["periodic"]:
        runs.add_metric([row["name"]], float(row["runs"]))
        interval.add_metric([row["name"], row["queue"]], float(row["interval_s"]))
        if row["last_run"] and row["last_run"].get("started_at"):
            last.add_metric([row["name"], row["last_run"]["status"]], float(row["last_run"]["started_at"]))
    return [mode, length, oldest, failed, scheduled, stall, workers, runs, last, interval]
