"""`flask jobs list | run NAME | worker | scheduler`."""
from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from services.jobs import engine as engine_module
from services.jobs import schedule, status

cli = AppGroup("jobs", help="Background jobs: the periodic schedule, the RQ worker and scheduler.")


def _moment(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@cli.command("list")
def list_command() -> None:
    """Every periodic job with its queue, interval, next run and last run."""
    engine = engine_module.current()
    click.echo(f"mode: {engine.mode}")
    click.echo(f"{'NAME':<18} {'QUEUE':<8} {'INTERVAL':>9}  {'NEXT RUN':<24} LAST RUN")
    for row in status.periodic_rows(engine):
        last = row["last_run"]
        described = f"{last['status']} at {_moment(last.get('started_at'))}" if last else "never"
        enabled = "" if row["enabled"] else "  (off)"
        click.echo(f"{row['name']:<18} {row['queue']:<8} {row['interval_s']:>8}s  "
                   f"{_moment(row['next_run']):<24} {described}{enabled}")


@cli.command("run")
@click.argument("name")
@click.option("--enqueue", "to_queue", is_flag=True, help="Put the run on its queue instead of running it here.")
def run_command(name: str, to_queue: bool) -> None:
    """Run periodic job NAME now, in this process (or on its queue with --enqueue)."""
    try:
        periodic = schedule.by_name(name)
    except KeyError:
        names = ", ".join(job.name for job in schedule.PERIODIC)
        raise click.BadParameter(f"unknown job {name!r}; jobs: {names}", param_hint="NAME") from None
    engine = engine_module.current()
    if to_queue:
        ref = engine.enqueue_periodic(periodic, None, trigger="cli")
        click.echo(f"{name} enqueued on {periodic.queue} as {ref.id} ({ref.mode})")
        return
    try:
        result = engine_module.run_periodic(name, None, "cli")
    except Exception as exc:
        click.echo(f"{name} failed: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{name} finished: {result}")


def _stop_on_term(stop: threading.Event) -> None:
    def handler(signum, frame):
        stop.set()
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, handler)


@cli.command("scheduler")
def scheduler_command() -> None:
    """Only enqueue the periodic jobs, once per interval for the whole deployment (RQ mode)."""
    from services.jobs.scheduler import Scheduler

    engine = engine_module.current()
    if engine.mode != "rq":
        raise click.UsageError("the scheduler needs REDIS_URL (without it each serving process runs the schedule)")
    scheduler = Scheduler(current_app._get_current_object(), engine)
    stop = threading.Event()
    _stop_on_term(stop)
    click.echo("jobs scheduler started")
    while not stop.is_set():
        stop.wait(scheduler.tick())


@cli.command("worker")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True,
              help="Also run the periodic schedule (default; several may run, each slot is claimed once).")
@click.option("--queues", default=",".join(schedule.QUEUES), show_default=True,
              help="Queues to take jobs from, highest priority first.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="The worker's name (default host.pid).")
def worker_command(with_scheduler: bool, queues: str, burst: bool, name: str | None) -> None:
    """Run jobs from the RQ queues (and, by default, the periodic schedule)."""
    from services.jobs import worker as worker_module
    from services.jobs.scheduler import Scheduler

    engine = engine_module.current()
    if engine.mode != "rq":
        raise click.UsageError("the worker needs REDIS_URL (JOBS_MODE=auto or rq); without Redis the serving "
                               "process runs the jobs itself")
    chosen = tuple(q.strip() for q in queues.split(",") if q.strip())
    unknown = [q for q in chosen if q not in schedule.QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; queues: {', '.join(schedule.QUEUES)}")
    app = current_app._get_current_object()
    scheduler = Scheduler(app, engine).start() if with_scheduler else None
    worker = worker_module.build(app, engine, chosen, name)
    started = time.monotonic()
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        if scheduler is not None:
            scheduler.stop()
    click.echo(f"worker stopped after {time.monotonic() - started:.0f} s")
