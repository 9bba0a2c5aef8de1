"""`flask follows …`: the e-mail follows' work, run now (the schedule runs the same functions)."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

cli = AppGroup("follows", help="Citizens' e-mail follows: notices, clean-up, counts.")


@cli.command("notify")
def notify_command() -> None:
    """Send the notices of new movements now (after a sync), then retry deliveries still pending."""
    from services.email_follows import notices, outbox

    sent = notices.send_notices()
    retried = outbox.retry_pending()
    click.echo(f"notices: {sent} new, {retried} pending retried")


@cli.command("cleanup")
def cleanup_command() -> None:
    """Remove unconfirmed requests, idle follows (with a last notice) and unused addresses now."""
    from services.email_follows import notices

    click.echo(json.dumps(notices.cleanup(), sort_keys=True))


@cli.command("stats")
def stats_command() -> None:
    """Counts only (no addresses): subscribers, follows, notices sent, failures."""
    from services.email_follows import notices

    click.echo(json.dumps(notices.counts(), sort_keys=True))


@cli.command("bounce")
@click.argument("address")
def bounce_command(address: str) -> None:
    """Record a bounce for ADDRESS (from a delivery status notification): nothing more is sent to it."""
    from services.email_follows import addresses, outbox

    try:
        known = outbox.record_bounce(address)
    except addresses.InvalidAddress as exc:
        raise click.BadParameter(exc.message) from None
    click.echo(f"{addresses.masked(address.strip().lower())}: {'marked' if known else 'not a subscriber'}")
