"""`govflow user list|show|rename|disable|enable|password|roles` and `govflow org rename`: the admin's
operations on people and units, from a shell (as the operator; audited like the API's)."""

from __future__ import annotations

import click

from engine.cli.support import command_errors, emit, engine_of, json_option
from engine.errors import GovflowError
from engine.principal import Principal

OPERATOR = Principal.system()


def _human_user(u: dict) -> str:
    state = "" if u["active"] else "  (disabled)"
    roles = ", ".join(f"{r['role']}@{r['org_unit']}" for r in u["roles"]) or "-"
    return f"{u['username']:<18} {u['display_name']:<16} {roles}{state}"


def _holding(text: str) -> tuple[str, str]:
    role, at, org_code = text.partition("@")
    if not at or not role or not org_code:
        raise GovflowError(f"expected ROLE@ORG, got {text!r}")
    return role, org_code


def register(user: click.Group, org: click.Group) -> None:
    """Add the commands to the `user` and `org` groups of engine/cli/__init__.py."""

    @user.command("list")
    @click.option("--org", "org_code", default=None, help="users holding a role at this unit or below it")
    @click.option("--role", default=None, help="users holding this role")
    @click.option("--status", type=click.Choice(["active", "disabled"]), default=None)
    @json_option
    @click.pass_context
    @command_errors
    def user_list(ctx: click.Context, org_code: str | None, role: str | None, status: str | None) -> None:
        """List users, by username."""
        active = None if status is None else status == "active"
        page = engine_of(ctx).list_users(OPERATOR, org_unit=org_code, role=role, active=active, limit=500)
        emit(ctx, page, lambda p: "\n".join(_human_user(u) for u in p["items"]) or "No users.")

    for name, command, help_text, value in (
        ("show", "get_user", "One user: name, whether enabled, roles.", None),
        ("disable", "disable_user", "Disable a user: no sign-in; their tokens and sessions stop at once.", None),
        ("enable", "enable_user", "Enable a disabled user.", None),
        ("rename", "rename_user", "Change a user's display name.", ("--name", "the new display name")),
        (
            "password",
            "reset_password",
            "Reset a user's password; their tokens and sessions end.",
            ("--password", "the new password (8 characters or more)"),
        ),
    ):
        _on_one_user(user, name, command, help_text, value)

    @user.command("roles")
    @click.argument("username")
    @click.option("--add", "added", multiple=True, metavar="ROLE@ORG", help="grant a role at an org unit")
    @click.option("--remove", "removed", multiple=True, metavar="ROLE@ORG", help="revoke a role at an org unit")
    @json_option
    @click.pass_context
    @command_errors
    def user_roles(ctx: click.Context, username: str, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        """Show a user's roles, after granting (--add) and revoking (--remove) any."""
        engine = engine_of(ctx)
        grants, revokes = [_holding(h) for h in added], [_holding(h) for h in removed]
        for role, org_code in grants:
            engine.grant_role(username, role, org_code, OPERATOR)
        for role, org_code in revokes:
            engine.revoke_role(username, role, org_code, OPERATOR)
        emit(ctx, engine.get_user(username, OPERATOR), _human_user)

    @org.command("rename")
    @click.argument("code")
    @click.option("--name", required=True)
    @json_option
    @click.pass_context
    @command_errors
    def org_rename(ctx: click.Context, code: str, name: str) -> None:
        """Rename an org unit."""
        unit = engine_of(ctx).rename_org_unit(code, name, OPERATOR)
        emit(ctx, unit, lambda u: f"Org unit {u['code']} is now {u['name']}.")


def _on_one_user(user: click.Group, name: str, command: str, help_text: str, value: tuple[str, str] | None) -> None:
    """`govflow user NAME USERNAME [--OPTION VALUE]`: the engine's `command` on one user (with the value,
    when the command takes one), printed as a user."""

    @user.command(name, help=help_text)
    @click.argument("username")
    @json_option
    @click.pass_context
    @command_errors
    def run(ctx: click.Context, username: str, value: str | None = None) -> None:
        arguments = (username,) if value is None else (username, value)
        emit(ctx, getattr(engine_of(ctx), command)(*arguments, OPERATOR), _human_user)

    if value is not None:
        flag, option_help = value
        click.option(flag, "value", required=True, help=option_help)(run)
