"""`flask users create|list|disable|set-password`: accounts are made by an operator on the server, not on the web."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from services import accounts, audit

users_cli = AppGroup("users", help="Manage the staff and admin accounts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.option("--username", required=True, help="Login name: 3-64 letters, digits, '.', '_' or '-'.")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES), help="admin or staff.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_user(username: str, role: str, password_stdin: bool):
    """Create an account (the password is prompted, or read from stdin)."""
    try:
        user = accounts.create(username, role, _read_password(password_stdin))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record("user_create", target=user.username, actor="cli", role=role)
    click.echo(f"created {user.role} {user.username!r}")


@users_cli.command("list")
def list_users():
    """List the accounts, their role and state."""
    rows = accounts.all_users()
    if not rows:
        click.echo("no users yet: flask users create --username NAME --role admin")
        return
    for user in rows:
        state = "active" if user.active else "disabled"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        click.echo(f"{user.username:<24} {user.role:<6} {state:<9} last login: {last}")


@users_cli.command("disable")
@click.option("--username", required=True)
def disable_user(username: str):
    """Disable an account and end its sessions."""
    try:
        user = accounts.disable(username)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record("user_disable", target=user.username, actor="cli")
    click.echo(f"disabled {user.username!r}; its sessions have ended")


@users_cli.command("set-password")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password(username: str, password_stdin: bool):
    """Set a new password (ends the account's sessions and clears a lockout)."""
    try:
        user = accounts.set_password(username, _read_password(password_stdin))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record("user_set_password", target=user.username, actor="cli")
    click.echo(f"password changed for {user.username!r}; its sessions have ended")
