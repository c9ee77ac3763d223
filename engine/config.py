"""Settings from the environment; one place that reads os.environ."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

DEFAULT_DATABASE_FILE = "govflow.db"


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    # How many live workflows a process keeps in memory (checked against the instance version).
    live_cache_size: int = 512
    # Processor seconds one script or expression may use in the sandbox (waits capped at 5x on the wall clock).
    script_time_limit: float = 2.0
    # How much one script or expression may grow the process's resident memory, in MB.
    script_memory_limit: int = 256
    # SQLite's synchronous pragma: FULL survives power loss, NORMAL survives a killed process.
    sqlite_synchronous: str = "FULL"
    # argon2id cost profile for new password hashes: "strong" (RFC 9106 low-memory) or "fast" (tests).
    password_profile: str = "strong"
    # Lifetime of bearer tokens and of browser sessions, in seconds.
    token_ttl: int = 8 * 3600
    session_ttl: int = 12 * 3600
    # --- the timer worker and its jobs (issue 5) ---
    # A failing job runs this many times in all, waiting job_backoff * 4^(attempt-1) seconds between
    # attempts; then it is an incident until an admin retries it.
    job_max_attempts: int = 3
    job_backoff: float = 60.0
    # How long a worker's claim on a job lasts: a killed worker's jobs go to another after this.
    job_lock_seconds: float = 60.0
    # The auditor workspace: the Ed25519 key case exports are signed with (base64 of its 32-byte seed);
    # None: read from, or created in, `export-signing.key` in the data directory.
    export_key: str | None = None
    # Where govflow keeps files of its own (the export signing key); None: beside the SQLite database,
    # or the working directory for PostgreSQL.
    data_dir: str | None = None

    def data_directory(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        if self.database_url.startswith("sqlite:///") and ":memory:" not in self.database_url:
            return Path(self.database_url.removeprefix("sqlite:///")).resolve().parent
        return Path.cwd()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {}
        if env.get("GOVFLOW_DATABASE_URL"):
            values["database_url"] = env["GOVFLOW_DATABASE_URL"]
        if env.get("GOVFLOW_LIVE_CACHE_SIZE"):
            values["live_cache_size"] = int(env["GOVFLOW_LIVE_CACHE_SIZE"])
        if env.get("GOVFLOW_SCRIPT_TIME_LIMIT"):
            values["script_time_limit"] = float(env["GOVFLOW_SCRIPT_TIME_LIMIT"])
        if env.get("GOVFLOW_SCRIPT_MEMORY_LIMIT"):
            values["script_memory_limit"] = int(env["GOVFLOW_SCRIPT_MEMORY_LIMIT"])
        if env.get("GOVFLOW_SQLITE_SYNCHRONOUS"):
            values["sqlite_synchronous"] = env["GOVFLOW_SQLITE_SYNCHRONOUS"].upper()
        if env.get("GOVFLOW_TOKEN_TTL"):
            values["token_ttl"] = int(env["GOVFLOW_TOKEN_TTL"])
        if env.get("GOVFLOW_SESSION_TTL"):
            values["session_ttl"] = int(env["GOVFLOW_SESSION_TTL"])
        if env.get("GOVFLOW_PASSWORD_PROFILE"):
            values["password_profile"] = env["GOVFLOW_PASSWORD_PROFILE"]
        if env.get("GOVFLOW_JOB_MAX_ATTEMPTS"):
            values["job_max_attempts"] = int(env["GOVFLOW_JOB_MAX_ATTEMPTS"])
        if env.get("GOVFLOW_JOB_BACKOFF"):
            values["job_backoff"] = float(env["GOVFLOW_JOB_BACKOFF"])
        if env.get("GOVFLOW_JOB_LOCK_SECONDS"):
            values["job_lock_seconds"] = float(env["GOVFLOW_JOB_LOCK_SECONDS"])
        if env.get("GOVFLOW_EXPORT_KEY"):
            values["export_key"] = env["GOVFLOW_EXPORT_KEY"]
        if env.get("GOVFLOW_DATA_DIR"):
            values["data_dir"] = env["GOVFLOW_DATA_DIR"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


_OFFSET = re.compile(
    r"(?P<sign>-?)P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def clock_offset_from_env() -> timedelta:
    """GOVFLOW_CLOCK_OFFSET: how far this process's clock runs ahead, in seconds or as P20D / PT6H.

    For tests and rehearsals only (engine/clock.py); unset in production.
    """
    raw = os.environ.get("GOVFLOW_CLOCK_OFFSET", "").strip()
    if not raw:
        return timedelta(0)
    try:
        return timedelta(seconds=float(raw))
    except ValueError:
        pass
    match = _OFFSET.fullmatch(raw.upper())
    if match is None or raw.upper().lstrip("-") in ("P", "PT"):
        raise ValueError(f"GOVFLOW_CLOCK_OFFSET must be seconds or an ISO 8601 duration like P20D, not {raw!r}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "sign"}
    delta = timedelta(**parts)
    return -delta if match["sign"] else delta
