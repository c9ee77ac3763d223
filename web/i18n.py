"""One catalogue per language (web/i18n/<lang>.json, flat keys); Chinese by default, English on request.

An area of the workspace may keep its texts in a folder of its own (web/i18n/<area>/<lang>.json, keys
prefixed with the area); they are merged into the language's catalogue, and a key defined twice is an error.

The language is chosen by `?lang=` (remembered in a cookie) or that cookie; never guessed from the
browser, since the officials' workspace is Chinese first. `t(key, **params)` fills `{name}` placeholders.
Times are shown in Beijing time, where the officials are.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from flask import g, request

from engine import clock as engine_clock

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "govflow_lang"
CATALOGUES = Path(__file__).resolve().parent / "i18n"
BEIJING = timezone(timedelta(hours=8), "Beijing")


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalogue_files(lang):
        texts = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(merged.keys() & texts.keys())
        if twice:
            raise ValueError(f"{path} defines texts another catalogue file has: {', '.join(twice)}")
        merged.update(texts)
    return merged


def catalogue_files(lang: str) -> list[Path]:
    """web/i18n/<lang>.json first, then each area's web/i18n/<area>/<lang>.json."""
    return [CATALOGUES / f"{lang}.json", *sorted(CATALOGUES.glob(f"*/{lang}.json"))]


def chosen_language() -> str:
    """The language of this request: ?lang= first, then the cookie, then Chinese."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    if "lang" not in g:
        g.lang = chosen_language()
    return g.lang


def t(key: str, /, **params: object) -> str:
    """The text for `key` in the request's language (the key itself if no catalogue has it)."""
    text = catalogue(language()).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format_map(_Params(params)) if params else text


def t_or(key: str, fallback: str, /, **params: object) -> str:
    """The text for `key`, or `fallback` (e.g. the engine's own sentence) when no catalogue has it."""
    return t(key, **params) if key in catalogue(DEFAULT_LANGUAGE) else fallback


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def role_label(role: str | None) -> str:
    return t_or(f"role.{role}", role or t("role.none"))


def when(at: datetime | str | None, with_year: bool = False) -> str:
    """A moment as officials read it: Beijing time, "2026-12-02 10:02" (or "12-02 10:02")."""
    if at is None or at == "":
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    local = at.astimezone(BEIJING)
    return local.strftime("%Y-%m-%d %H:%M" if with_year else "%m-%d %H:%M")


def clock(at: datetime | str | None) -> str:
    """Only the time of day when it is today (Beijing), else the date too: "10:02", "12-01 10:02"."""
    if at is None or at == "":
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    local = at.astimezone(BEIJING)
    today = engine_clock.now().astimezone(BEIJING).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
