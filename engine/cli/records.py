"""`govflow rules` and `govflow registry`: the rule tables and the registries the procedures write."""

from __future__ import annotations

import json

import click

from engine.cli.support import command_errors, emit, engine_of, json_option
from engine.principal import Principal

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def rules() -> None:
    """Rule tables: every threshold and time limit, versioned, with its legal basis."""


@rules.command("list")
@click.option("--prefix", default=None, help="only keys starting with this, e.g. deliberation.")
@click.option("--on", "on", type=DAY, default=None, help="the version valid on this day (default today)")
@json_option
@click.pass_context
@command_errors
def rules_list(ctx: click.Context, prefix: str | None, on) -> None:  # noqa: ANN001 - click's datetime
    """The version of each rule valid on a day."""
    items = engine_of(ctx).list_rules(prefix, on.date() if on else None)
    emit(
        ctx,
        {"items": items},
        lambda r: (
            "\n".join(
                f"{i['key']:<52} {json.dumps(i['value'], ensure_ascii=False):<24} {i['unit']:<13} "
                f"{i['legal_basis_version']:<16}{' [A]' if i['assumed'] else ''}"
                for i in r["items"]
            )
            or "No rules."
        ),
    )


@rules.command("show")
@click.argument("key")
@json_option
@click.pass_context
@command_errors
def rules_show(ctx: click.Context, key: str) -> None:
    """A rule's versions, and the one valid today."""
    emit(ctx, engine_of(ctx).rule_versions(key), _human_versions)


def _human_versions(view: dict) -> str:
    lines = [view["key"]]
    for v in view["versions"]:
        lines.append(
            f"  v{v['version']} {json.dumps(v['value'], ensure_ascii=False)} {v['unit']}  "
            f"{v['valid_from']} .. {v['valid_to'] or ''}  {v['law']} {v['article']} ({v['legal_basis_version']})"
            f"{' [A]' if v['assumed'] else ''}"
        )
        lines.append(f"     {v['description']}")
    return "\n".join(lines)


@rules.command("set")
@click.argument("key")
@click.option("--value", "raw", required=True, help='the new value as JSON: 5, true, ">= 2/3", [1, 2]')
@click.option("--from", "valid_from", type=DAY, required=True, help="first day the new version holds")
@click.option("--to", "valid_to", type=DAY, default=None, help="last day it holds (default: open)")
@click.option("--law", default=None)
@click.option("--article", default=None)
@click.option("--basis", "legal_basis_version", default=None, help="a new legal basis version, e.g. UROL_2025")
@click.option("--description", default=None)
@json_option
@click.pass_context
@command_errors
def rules_set(  # noqa: PLR0913 - one option per field of a rule version
    ctx: click.Context,
    key: str,
    raw: str,
    valid_from,  # noqa: ANN001
    valid_to,  # noqa: ANN001
    law: str | None,
    article: str | None,
    legal_basis_version: str | None,
    description: str | None,
) -> None:
    """A new version of a rule (as the operator); a statutory rule only with a new legal basis version."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare text such as >= 2/3
    view = engine_of(ctx).set_rule(
        key,
        Principal.system(),
        value,
        valid_from.date(),
        valid_to.date() if valid_to else None,
        law=law,
        article=article,
        legal_basis_version=legal_basis_version,
        description=description,
    )
    emit(
        ctx,
        view,
        lambda v: (
            f"{v['key']} version {v['version']} = {json.dumps(v['value'], ensure_ascii=False)} from {v['valid_from']}."
        ),
    )


@click.group()
def registry() -> None:
    """The registries the procedures write."""


@registry.command("committees")
@click.option("--org", "org_code", default=None)
@click.option("--status", type=click.Choice(["active", "cancelled"]), default=None)
@json_option
@click.pass_context
@command_errors
def registry_committees(ctx: click.Context, org_code: str | None, status: str | None) -> None:
    """The committee legal-person registry (unified social credit codes)."""
    items = engine_of(ctx).legal_persons(Principal.system(), org_code, status)
    emit(
        ctx,
        {"items": items},
        lambda r: (
            "\n".join(
                f"{i['uscc']}  {i['org_unit']:<14} {i['status']:<10} {i['legal_representative'] or '-':<8} {i['name']}"
                for i in r["items"]
            )
            or "No committees registered."
        ),
    )


@registry.command("items")
@click.option("--on", "on", type=DAY, default=None, help="the catalogue as valid on this day")
@json_option
@click.pass_context
@command_errors
def registry_items(ctx: click.Context, on) -> None:  # noqa: ANN001
    """The delegation catalogue: who decides each service item, and how the centre receives it."""
    items = engine_of(ctx).service_items(on.date() if on else None)
    emit(
        ctx,
        {"items": items},
        lambda r: "\n".join(
            f"{i['code']:<38} v{i['version']} {i['competent_level']:<12} {i['mode']:<17} {i['name']}"
            for i in r["items"]
        ),
    )


@registry.command("matters")
@click.option("--scope", default="", help="the org unit whose list (default: the city-wide list)")
@click.option("--version", type=int, default=None, help="a published version (default: the latest)")
@json_option
@click.pass_context
@command_errors
def registry_matters(ctx: click.Context, scope: str, version: int | None) -> None:
    """A list of assisted administrative matters (协助行政事项清单) as a version published it."""
    view = engine_of(ctx).assist_matter_list(Principal.system(), scope, version)
    emit(
        ctx,
        view,
        lambda v: "\n".join(
            [f"List of {v['scope'] or 'the city'}, version {v['version']} of {v['latest_version']}:"]
            + [f"  {m['code']:<36} {m['status']:<10} {m['name']}" for m in v["matters"]]
        ),
    )


@registry.command("conventions")
@click.option("--org", "org_code", default=None)
@click.option("--status", type=click.Choice(["under_review", "filed", "correction_ordered"]), default=None)
@json_option
@click.pass_context
@command_errors
def registry_conventions(ctx: click.Context, org_code: str | None, status: str | None) -> None:
    """Residents' conventions, charters and village codes filed with subdistricts and townships."""
    items = engine_of(ctx).convention_filings(Principal.system(), org_code, status)
    emit(
        ctx,
        {"items": items},
        lambda r: (
            "\n".join(
                f"{i['id']:>5} {i['org_unit']:<14} {i['filed_to']:<14} {i['status']:<18} {i['title']}"
                for i in r["items"]
            )
            or "No filings."
        ),
    )


@registry.command("benefits")
@click.option("--item", "item_code", default=None)
@click.option("--org", "org_code", default=None)
@json_option
@click.pass_context
@command_errors
def registry_benefits(ctx: click.Context, item_code: str | None, org_code: str | None) -> None:
    """Benefits granted through delegated or entrusted service items."""
    items = engine_of(ctx).benefits(Principal.system(), item_code, org_code)
    emit(
        ctx,
        {"items": items},
        lambda r: (
            "\n".join(
                f"{i['id']:>5} {i['item_code']:<38} {i['org_unit']:<12} {i['start_month']} "
                f"{_amount(i)} {i['applicant_name']}"
                for i in r["items"]
            )
            or "No benefits registered."
        ),
    )


def _amount(benefit: dict) -> str:
    """Yuan a month, or the share of the service package."""
    if benefit["monthly_amount"] is not None:
        return f"{benefit['monthly_amount']} 元/月"
    return f"服务包 {benefit['subsidy_share']}"
