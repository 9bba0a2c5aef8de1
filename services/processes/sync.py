"""The sync job: keeps followed processes fresh, and removes stored processes nobody follows or reads.

One run (`run()`), under a lock that admits one runner across every worker and machine:
1. the followed numbers (FollowedProcess) whose stored copy expires before the next run, never-fetched
   first, then soonest to expire, at most SYNC_BATCH_SIZE of them, are refreshed through
   `processes.refresh()` (the lookup's own single flight, store and cache);
2. at most SYNC_DAILY_BUDGET provider requests a day are spent, counted over the runs that started
   on the court's calendar day (America/Sao_Paulo, the day the staff see), from SyncRun.upstream_calls.
   A request is one logical call to the provider (its retries included): one per DataJud fetch, one
   plus the movement pages per Escavador fetch. Lookups made by people are not counted here: the
   per-client rate limit bounds those;
3. while the provider's breaker is open (or the portal's own rate limit for it is spent) the numbers
   are skipped and counted as skipped, not hammered;
4. a number the provider no longer knows counts as failed and waits NOT_FOUND_RETRY_S before being
   asked again, so it cannot eat the budget run after run;
5. retention: stored processes whose number nobody follows and nobody has read for
   PROCESS_RETENTION_DAYS days are deleted with their movements;
6. a SyncRun row records the trigger, counters, status ("ok", "partial", "skipped", "failed") and
   duration; `last_run_summary()` gives the dashboard the last run, today's budget and the next run.

Where it runs: as the periodic job "sync" (services.jobs: every SYNC_INTERVAL_S, queue `default`, enqueued
once per interval for the whole deployment; on an RQ worker with Redis, on a thread of the serving process
without), and step 5 as its own daily `low` job "retention". `flask processes sync` and `flask jobs run sync`
run it by hand.

The lock (services.locks) no longer elects a runner (the schedule does); it keeps two runs from overlapping —
a scheduled run and a manual one, or a retried one — which would spend the daily budget twice: a PostgreSQL
advisory lock on PostgreSQL; on SQLite a Redis lock when REDIS_URL is set, else a `flock` beside the database.
A runner that does not get the lock does nothing and records nothing.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, func, or_, select, union, update

from extensions import db
from models import FollowedProcess, Movement, ProcessInstance, SyncRun, utcnow
from services import cache as cache_service
from services import locks, processes, resilience
from services.monitoring import metrics
from services.processes.calls import counting_provider_requests
from services.processes.contract import FetchStatus
from services.resilience.breaker import State
from utils import cnj
from utils.dates import COURT_TIMEZONE, as_utc

log = logging.getLogger("portal.sync")
NOT_FOUND_NS = "sync-not-found"
NOT_FOUND_RETRY_S = 86400
DELETE_CHUNK = 500
Progress = Callable[[int, int], None]


@dataclass
class Counters:
    checked: int = 0
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0
    removed: int = 0
    upstream_calls: int = 0
    notes: list[str] = field(default_factory=list)


# -- one run ----------------------------------------------------------------------------------------

def run(trigger: str = "cli", progress: Progress | None = None, retention: bool = True) -> SyncRun | None:
    """Run once if this caller gets the lock, else None (when runs are due is the schedule's business).

    `retention=False` leaves step 5 to the "retention" job (the scheduled sync does)."""
    lock = locks.for_database(current_app.config)
    if not lock.acquire():
        log.info("sync skipped: another runner holds the lock", extra={"trigger": trigger})
        return None
    try:
        return _run_locked(trigger, progress, lock, retention)
    finally:
        lock.release()


def _run_locked(trigger: str, progress: Progress | None, lock, retention: bool = True) -> SyncRun:
    started = time.monotonic()
    _close_interrupted_runs()
    record = SyncRun(trigger=trigger, status="running", started_at=utcnow())
    db.session.add(record)
    db.session.commit()
    record_id = record.id
    counts = Counters()
    try:
        _refresh_due(record_id, counts, progress, lock)
        counts.removed = remove_unused() if retention else 0
        status, error = _verdict(counts), "; ".join(counts.notes)[:1000] or None
    except Exception as exc:  # the run is recorded as failed whatever broke; the scheduler keeps going
        db.session.rollback()
        log.exception("sync run failed")
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
    record = db.session.get(SyncRun, record_id)
    for name in ("checked", "refreshed", "failed", "skipped", "removed", "upstream_calls"):
        setattr(record, name, getattr(counts, name))
    record.status, record.error, record.finished_at = status, error, utcnow()
    db.session.commit()
    seconds = time.monotonic() - started
    metrics.record_sync_run(status, seconds)
    log.info("sync run finished", extra={
        "trigger": trigger, "status": status, "duration_ms": round(seconds * 1000, 1), "checked": counts.checked,
        "refreshed": counts.refreshed, "failed": counts.failed, "skipped": counts.skipped,
        "removed": counts.removed, "upstream_calls": counts.upstream_calls})
    return record


def _refresh_due(run_id: int, counts: Counters, progress: Progress | None, lock) -> None:
    config = current_app.config
    now = utcnow()
    budget_left = config["SYNC_DAILY_BUDGET"] - budget_used(now, exclude_run=run_id)
    numbers = due_numbers(now, config["SYNC_BATCH_SIZE"])
    counts.checked = len(numbers)
    if progress:
        progress(0, len(numbers))
    source = processes.provider()
    breaker = resilience.dependency(source.NAME).breaker
    cache = cache_service.current()
    stop_reason = None
    for done, number in enumerate(numbers, start=1):
        if stop_reason is None:
            if breaker.state in (State.OPEN, State.FORCED_OPEN):
                stop_reason = f"{source.NAME} circuit open"
            elif counts.upstream_calls >= budget_left:
                stop_reason = f"daily budget of {config['SYNC_DAILY_BUDGET']} provider calls spent"
        if stop_reason is not None:
            counts.skipped += 1
        elif cache.get(NOT_FOUND_NS, number) is not None:
            counts.skipped += 1  # not found recently: asked again once NOT_FOUND_RETRY_S has passed
        else:
            stop_reason = _refresh_one(number, counts, cache)
        lock.keep_alive()
        if progress:
            progress(done, len(numbers))
    if stop_reason:
        counts.notes.insert(0, f"skipped: {stop_reason}")


def _refresh_one(number: str, counts: Counters, cache) -> str | None:
    """Refresh one number; returns why the rest of the batch must be skipped, if it must."""
    with counting_provider_requests() as sent:
        outcome = processes.refresh(number)
    counts.upstream_calls += sent[0]
    if outcome.status is FetchStatus.FOUND:
        counts.refreshed += 1
        return None
    if outcome.status is FetchStatus.NOT_FOUND:
        counts.failed += 1
        counts.notes.append(f"{cnj.format(number)}: not found")
        cache.set(NOT_FOUND_NS, number, True, ttl=NOT_FOUND_RETRY_S)
        return None
    if outcome.kind.nothing_sent:  # breaker open, the portal's own limit or a full bulkhead
        counts.skipped += 1
        return outcome.error
    counts.failed += 1
    counts.notes.append(f"{cnj.format(number)}: {outcome.error or outcome.reason}")
    return None


def _verdict(counts: Counters) -> str:
    attempted = counts.refreshed + counts.failed
    if counts.failed and not counts.refreshed:
        return "failed"
    if counts.skipped and not attempted:
        return "skipped"
    if counts.failed or counts.skipped:
        return "partial"
    return "ok"


def _close_interrupted_runs() -> None:
    """A run still "running" while we hold the lock died with its process: say so."""
    db.session.execute(update(SyncRun).where(SyncRun.status == "running")
                       .values(status="failed", error="interrupted (the runner stopped mid-run)",
                               finished_at=utcnow()))
    db.session.commit()


# -- what to refresh, what to remove -------------------------------------------------------------------

def followed_numbers():
    """Every number someone follows, as one SELECT of a `cnj` column: what the sync keeps fresh and the retention
    keeps: the staff's follows and the citizens' confirmed e-mail follows."""
    from services.email_follows import followed_numbers_select

    return union(select(FollowedProcess.cnj.label("cnj")), followed_numbers_select()).subquery()


def due_numbers(now: datetime, limit: int) -> list[str]:
    """Followed numbers whose copy expires before the next run: never fetched first, then soonest to expire."""
    horizon = now + timedelta(seconds=current_app.config["SYNC_INTERVAL_S"])
    expiry = (select(ProcessInstance.cnj.label("cnj"), func.min(ProcessInstance.valid_until).label("valid_until"))
              .group_by(ProcessInstance.cnj).subquery())
    followed = followed_numbers()
    first_followed = (select(FollowedProcess.cnj, func.min(FollowedProcess.added_at).label("added_at"))
                      .group_by(FollowedProcess.cnj).subquery())
    query = (select(followed.c.cnj)
             .outerjoin(expiry, expiry.c.cnj == followed.c.cnj)
             .outerjoin(first_followed, first_followed.c.cnj == followed.c.cnj)
             .where(or_(expiry.c.valid_until.is_(None), expiry.c.valid_until <= horizon))
             .order_by(expiry.c.valid_until.asc().nulls_first(), first_followed.c.added_at.asc().nulls_last(),
                       followed.c.cnj)
             .limit(limit))
    return list(db.session.execute(query).scalars())


def remove_unused() -> int:
    """Delete stored processes nobody follows and nobody read for PROCESS_RETENTION_DAYS days, with their movements."""
    cutoff = utcnow() - timedelta(days=current_app.config["PROCESS_RETENTION_DAYS"])
    unused = (ProcessInstance.last_accessed_at < cutoff,
              ProcessInstance.cnj.not_in(select(followed_numbers().c.cnj)))
    rows = db.session.execute(select(ProcessInstance.id, ProcessInstance.cnj).where(*unused)).all()
    removed = 0
    for start in range(0, len(rows), DELETE_CHUNK):
        ids = [row.id for row in rows[start:start + DELETE_CHUNK]]
        # The conditions are checked again in the DELETE: a row read or followed meanwhile stays.
        still = select(ProcessInstance.id).where(ProcessInstance.id.in_(ids), *unused)
        db.session.execute(delete(Movement).where(Movement.process_id.in_(still)))
        removed += db.session.execute(delete(ProcessInstance).where(ProcessInstance.id.in_(ids), *unused)).rowcount or 0
    db.session.commit()
    cache = cache_service.current()
    for number in {row.cnj for row in rows}:
        cache.delete(processes.CACHE_NS, number)
    return removed


# -- the budget and the schedule ---------------------------------------------------------------------

def _day_start(now: datetime) -> datetime:
    local = now.astimezone(COURT_TIMEZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def budget_used(now: datetime, exclude_run: int | None = None) -> int:
    """Provider requests the sync spent on the court's calendar day of `now`."""
    query = select(func.coalesce(func.sum(SyncRun.upstream_calls), 0)).where(SyncRun.started_at >= _day_start(now))
    if exclude_run is not None:
        query = query.where(SyncRun.id != exclude_run)
    return int(db.session.execute(query).scalar() or 0)


def _last_run() -> SyncRun | None:
    return db.session.execute(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                              .limit(1)).scalar()


def next_run_due(now: datetime) -> datetime:
    """When the schedule (services.jobs) enqueues the next run: the start of the next interval slot."""
    from services.jobs import schedule

    return datetime.fromtimestamp(schedule.by_name("sync").next_run(current_app.config, now.timestamp()), UTC)


def last_run_summary() -> dict:
    """The last run, today's budget and the next run, for the admin dashboard (JSON-ready)."""
    config = current_app.config
    now = utcnow()
    last = _last_run()
    used, limit = budget_used(now), config["SYNC_DAILY_BUDGET"]
    described = None
    if last is not None:
        finished = as_utc(last.finished_at) if last.finished_at else None
        described = {
            "id": last.id, "trigger": last.trigger, "status": last.status, "started_at": _iso(last.started_at),
            "finished_at": _iso(finished),
            "duration_s": round((finished - as_utc(last.started_at)).total_seconds(), 3) if finished else None,
            "checked": last.checked, "refreshed": last.refreshed, "failed": last.failed, "skipped": last.skipped,
            "removed": last.removed, "upstream_calls": last.upstream_calls, "error": last.error}
    return {
        "enabled": config["SYNC_ENABLED"],
        "interval_s": config["SYNC_INTERVAL_S"],
        "batch_size": config["SYNC_BATCH_SIZE"],
        "last_run": described,
        "budget": {"used": used, "limit": limit, "remaining": max(0, limit - used),
                   "day": now.astimezone(COURT_TIMEZONE).date().isoformat(), "timezone": str(COURT_TIMEZONE)},
        "next_run_due": _iso(next_run_due(now)),
        "followed": db.session.execute(select(func.count()).select_from(FollowedProcess)).scalar(),
    }



def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


# -- the command -----------------------------------------------------------------------------------

cli = AppGroup("processes", help="The process lookup: sync of followed processes.")


def summary_line(record: SyncRun) -> str:
    duration = (as_utc(record.finished_at) - as_utc(record.started_at)).total_seconds() if record.finished_at else 0
    used = budget_used(as_utc(record.started_at))
    line = (f"sync #{record.id} {record.status} in {duration:.1f} s: {record.checked} checked, "
            f"{record.refreshed} refreshed, {record.failed} failed, {record.skipped} skipped, "
            f"{record.removed} removed; {record.upstream_calls} provider calls "
            f"(today {used}/{current_app.config['SYNC_DAILY_BUDGET']})")
    return f"{line}; {record.error}" if record.error else line


@cli.command("sync")
def sync_command() -> None:
    """Refresh the followed processes that are due and remove unused ones (for cron or a systemd timer)."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total:
            bar = click.progressbar(length=total, label="Refreshing followed processes")
            bar.__enter__()
        if bar is not None:
            bar.update(done - bar.pos)

    try:
        record = run(trigger="cli", progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if record is None:
        click.echo("another sync run holds the lock; nothing done")
        return
    click.echo(summary_line(record))
    if record.status == "failed":
        raise SystemExit(1)
