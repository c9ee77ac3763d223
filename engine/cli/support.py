"""What every `govflow` subcommand shares: the engine, --json output, and errors as one line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from engine.config import Settings
from engine.errors import BundleInvalid, FormInvalid, GovflowError, unexpected


def engine_of(ctx: click.Context):  # noqa: ANN202 - imported lazily so `govflow --help` stays fast
    from engine.core import Engine

    if "engine" not in ctx.obj:
        ctx.obj["engine"] = Engine(Settings.from_env())
        ctx.call_on_close(ctx.obj["engine"].close)
    return ctx.obj["engine"]


def fail(message: str) -> None:
    click.echo(f"govflow: {message}", err=True)
    sys.exit(1)


def command_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every error becomes one line on stderr and exit code 1; never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BundleInvalid as exc:
            click.echo("govflow: the bundle was not deployed:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(1)
        except FormInvalid as exc:
            click.echo("govflow: the form has errors:", err=True)
            for error in exc.errors:
                click.echo(f"  {error.field}: {error.message}", err=True)
            sys.exit(1)
        except GovflowError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - the operator gets a sentence, not a traceback
            fail(f"unexpected error: {unexpected(exc)}")

    return wrapper


def emit(ctx: click.Context, value: Any, human: Callable[[Any], str]) -> None:
    if ctx.obj.get("json"):
        click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human(value))


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --json after the subcommand too (`govflow tasks --user u --json`)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(dict)
            ctx.obj["json"] = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=callback,
        help="Print JSON for scripts.",
    )(fn)
