"""`govflow audit verify-export | public-key | retention | purge`: the auditor workspace from a shell."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.support import command_errors, emit, engine_of, fail, json_option
from engine.config import Settings


def trusted_key(given: str | None) -> str | None:
    """The public key exports must be signed with: --public-key (base64, or a file holding it), else the
    key this installation signs with (GOVFLOW_EXPORT_KEY or export-signing.key in the data directory)."""
    from engine import signing

    if given:
        path = Path(given)
        return signing.public_key_from(path.read_text(encoding="ascii") if path.is_file() else given)
    found = signing.existing_key(Settings.from_env())
    return found.public_key if found else None


@click.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", default=None, help="base64 public key (or a file holding it)")
@json_option
@click.pass_context
@command_errors
def verify_export(ctx: click.Context, file: Path, public_key: str | None) -> None:
    """Check a case export offline: its signature, its signer and its audit chain; exit 1 if it fails."""
    from engine.case_file import verify_export as check_file

    check = check_file(file.read_bytes(), trusted_key(public_key))
    emit(
        ctx,
        check.as_dict(),
        lambda r: (
            f"Export intact: case {r['instance_id']}, {r['events']} events chained to head {r['chain_head']}, "
            f"signed with key {r['key_id']}."
            if r["ok"]
            else "\n".join([f"Export REJECTED ({file.name}):"] + [f"  {p}" for p in r["problems"]])
        ),
    )
    if not check.ok:
        sys.exit(1)


@click.command("public-key")
@json_option
@click.pass_context
@command_errors
def public_key(ctx: click.Context) -> None:
    """The public key exports are signed with (created with the key when there is none yet)."""
    shown = engine_of(ctx).export_public_key()
    emit(ctx, shown, lambda r: f"{r['public_key']}  ({r['algorithm']}, key id {r['key_id']})")


@click.command("retention")
@click.option("--days", type=int, default=None, help="keep finished instances this many days")
@click.option("--forever", is_flag=True, help="keep finished instances for ever")
@json_option
@click.pass_context
@command_errors
def retention(ctx: click.Context, days: int | None, forever: bool) -> None:
    """Show, or set (--days N / --forever), how long finished instances are kept."""
    engine = engine_of(ctx)
    if days is not None and forever:
        fail("give --days or --forever, not both")
    if days is not None or forever:
        from engine.principal import Principal

        shown = engine.set_retention(Principal.system(), None if forever else days)
    else:
        shown = engine.retention()
    emit(
        ctx,
        shown,
        lambda r: f"Finished instances are kept {'for ever' if r['days'] is None else str(r['days']) + ' days'}.",
    )


@click.command("purge")
@json_option
@click.pass_context
@command_errors
def purge(ctx: click.Context) -> None:
    """Remove the instances finished longer ago than the retention, leaving tombstones on the chain."""
    from engine.principal import Principal

    result = engine_of(ctx).purge_finished(Principal.system())
    emit(
        ctx,
        result,
        lambda r: (
            "Retention is not set: nothing is purged."
            if r["retention_days"] is None
            else f"Purged {r['purged']} instances that ended before {r['cutoff']}."
        ),
    )


def register(group: click.Group) -> None:
    for command in (verify_export, public_key, retention, purge):
        group.add_command(command)
