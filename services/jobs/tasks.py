"""The portal's own periodic job functions: plain, idempotent, no arguments, a JSON-ready result.

Each runs inside an app context (the worker's, or the in-process runner's) and is listed in services.jobs.schedule.
"""
from __future__ import annotations


def sync_followed() -> dict | None:
    """Refresh the followed processes that are due (services.processes.sync; its lock keeps one runner)."""
    from services.processes import sync

    record = sync.run(trigger="scheduler", retention=False)
    if record is None:
        return {"status": "skipped", "reason": "another sync run holds the lock"}
    return {"status": record.status, "id": record.id, "checked": record.checked, "refreshed": record.refreshed,
            "failed": record.failed, "skipped": record.skipped, "upstream_calls": record.upstream_calls}


def remove_unused_processes() -> dict:
    """Delete stored processes nobody follows and nobody read for PROCESS_RETENTION_DAYS days."""
    from services.processes import sync

    return {"removed": sync.remove_unused()}


def chat_cleanup() -> dict:
    """Delete the assistant's conversations older than CHAT_RETENTION_DAYS."""
    from services.assistant import store

    messages, sessions = store.cleanup()
    return {"messages_removed": messages, "sessions_removed": sessions}


def monitoring_sample() -> dict | None:
    """One sample of the dashboard's headline figures, and the alert rules over it."""
    from services.monitoring import collector

    sample = collector.current().sample()
    return {"time": sample["time"]} if sample else None
