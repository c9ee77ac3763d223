"""A city-scale govflow database for the inbox benchmark, bulk-inserted: a city, its districts, 215
subdistricts and 6,000 committees (real org_unit rows with their paths), an official per committee and
per subdistrict, auditors, the bench deliberation deployed by the engine, and 1,000,000 human tasks
(100,000 open) with their process instances, written as the engine writes them.

Rows go in with executemany (SQLite) or COPY (PostgreSQL) with the two big tables' secondary indexes
dropped and built again afterwards, then ANALYZE. A finished database carries a marker row, so
`ensure()` reuses it: SQLite files live in bench/.data/, PostgreSQL databases are named after the schema
head and the sizes; a new migration makes a new database.

    python bench/city_data.py [--tasks N] [--open N] [--committees N] [--subdistricts N] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Engine as SqlEngine  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine import Engine  # noqa: E402
from engine.audit import canonical_json, chain_hash  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.db import make_sql_engine, normalize_url  # noqa: E402
from engine.migrate import alembic_config, upgrade  # noqa: E402
from engine.models import Base  # noqa: E402
from engine.people import HASHERS  # noqa: E402

DATA = ROOT / "bench" / ".data"
PASSWORD = "bench-password"
MARKER = "bench.city_data"
DISTRICTS = 16
ELEMENTS = [("register_issue", "登记议题"), ("consult", "协商"), ("decide", "决议")]
PROCESS = "bench_deliberation"
ANCHOR = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # "now" for the generated history: fixed, so runs compare
BULK_TABLES = ("process_instance", "human_task", "audit_event")
# What the generator writes; a change here makes new databases (the old ones are not reused).
LAYOUT = 2  # 2: audit events with their hash chains


@dataclass(frozen=True)
class Sizes:
    tasks: int = 1_000_000
    open_tasks: int = 100_000
    committees: int = 6000
    subdistricts: int = 215

    def key(self) -> str:
        return f"v{LAYOUT}-{self.tasks}-{self.open_tasks}-{self.committees}-{self.subdistricts}"


@dataclass(frozen=True)
class City:
    """A ready database and who to sign in as."""

    url: str
    sizes: Sizes
    officials: list[str]  # committee officials with open tasks assigned and candidate
    auditor: str
    subdistricts: list[str]
    districts: list[str]


def schema_head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def committee(i: int) -> str:
    return f"c{i:05d}"


def subdistrict(i: int) -> str:
    return f"s{i:03d}"


def district(i: int) -> str:
    return f"d{i:02d}"


def city_for(url: str, sizes: Sizes) -> City:
    officials = [f"rc_{committee(i)}" for i in range(0, sizes.committees, max(1, sizes.committees // 20))]
    return City(
        url,
        sizes,
        officials,
        "auditor_city",
        [subdistrict(i) for i in range(sizes.subdistricts)],
        [district(i) for i in range(min(DISTRICTS, sizes.subdistricts))],
    )


# --- progress ---------------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (no dependency): rows done, rate, time left."""

    def __init__(self, label: str, total: int, quiet: bool = False) -> None:
        self.label, self.total, self.quiet = label, total, quiet
        self.done, self.started, self.shown = 0, time.monotonic(), 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if not self.quiet and (now - self.shown > 0.5 or self.done >= self.total):
            self.shown = now
            rate = self.done / max(now - self.started, 1e-9)
            filled = int(30 * self.done / max(self.total, 1))
            left = (self.total - self.done) / rate if rate else 0
            sys.stderr.write(
                f"\r  {self.label:<14} [{'#' * filled}{'.' * (30 - filled)}] {self.done:>9,}/{self.total:,}"
                f" {rate:>9,.0f}/s {left:>4.0f} s left"
            )
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


# --- writing rows ---------------------------------------------------------------------------------------------


class Writer:
    """Bulk inserts of plain tuples: sqlite3 executemany, or psycopg COPY."""

    def __init__(self, sql: SqlEngine) -> None:
        self.sql = sql
        self.sqlite = sql.dialect.name == "sqlite"

    def time(self, at: datetime | None) -> object:
        # SQLAlchemy keeps UTC datetimes on SQLite as text in this shape; PostgreSQL takes the datetime
        if at is None or not self.sqlite:
            return at
        return at.isoformat(" ", "microseconds")[:26]  # what strftime("%Y-%m-%d %H:%M:%S.%f") gives, faster

    def insert(self, table: str, columns: list[str], rows: Iterable[tuple], progress: Progress | None = None) -> None:
        """Rows in one transaction, foreign keys unchecked: tasks go in before the instances they point to
        (one generator pass makes both), and every reference holds once both are in."""
        if self.sqlite:
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            with self.sql.connect() as conn:
                raw = conn.connection.driver_connection  # no SQLAlchemy BEGIN: the pragma works outside one
                raw.execute("PRAGMA foreign_keys=OFF")
                raw.execute("BEGIN")
                for batch in _batches(rows, 20_000):
                    raw.executemany(statement, batch)
                    if progress:
                        progress.add(len(batch))
                raw.execute("COMMIT")
                raw.execute("PRAGMA foreign_keys=ON")
            return
        with self.sql.begin() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK triggers for this load
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for batch in _batches(rows, 20_000):
                    for row in batch:
                        copy.write_row(row)
                    if progress:
                        progress.add(len(batch))


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _secondary_indexes(table: str) -> list:
    return list(Base.metadata.tables[table].indexes)


# --- the data ---------------------------------------------------------------------------------------------------


def _org_rows(w: Writer, sizes: Sizes) -> Iterator[tuple]:
    created = w.time(ANCHOR - timedelta(days=800))
    yield ("sh", "上海市（基准）", "city", None, None, "sh/", created, "active")
    districts = min(DISTRICTS, sizes.subdistricts)
    for d in range(districts):
        yield (district(d), f"第{d + 1}区", "district", "sh", None, f"sh/{district(d)}/", created, "active")
    for s in range(sizes.subdistricts):
        d = district(s % districts)
        path = f"sh/{d}/{subdistrict(s)}/"
        yield (subdistrict(s), f"第{s + 1}街道", "subdistrict", d, None, path, created, "active")
    for c in range(sizes.committees):
        s = c % sizes.subdistricts
        path = f"sh/{district(s % districts)}/{subdistrict(s)}/{committee(c)}/"
        yield (committee(c), f"第{c + 1}居委会", "committee", subdistrict(s), "residents", path, created, "active")


def _people(w: Writer, sizes: Sizes, password_hash: str) -> tuple[list[tuple], list[tuple]]:
    created = w.time(ANCHOR - timedelta(days=700))
    users, roles = [], []
    for c in range(sizes.committees):
        users.append((f"rc_{committee(c)}", f"居委干部{c}", password_hash, True, created))
        roles.append((f"rc_{committee(c)}", "residents_committee", committee(c)))
    for s in range(sizes.subdistricts):
        users.append((f"so_{subdistrict(s)}", f"街道干部{s}", password_hash, True, created))
        roles.append((f"so_{subdistrict(s)}", "subdistrict_office", subdistrict(s)))
    users.append(("auditor_city", "市级审计员", password_hash, True, created))
    roles.append(("auditor_city", "auditor", "sh"))
    return users, roles


INSTANCE_COLUMNS = [
    "id", "definition_id", "process_key", "process_version", "status", "business_key", "org_code", "org_path",
    "started_by", "started_at", "ended_at", "updated_at", "lock_version", "state", "variables", "next_task_seq",
    "audit_seq", "audit_head",
]  # fmt: skip
AUDIT_COLUMNS = [
    "stream", "seq", "instance_id", "at", "actor", "actor_role", "actor_org", "action", "element_id", "data",
    "prev_hash", "hash",
]  # fmt: skip
TASK_COLUMNS = [
    "id", "instance_id", "process_key", "business_key", "element_id", "name", "role", "org_code", "org_path",
    "why", "assignee", "status", "due_at", "created_at", "claimed_at", "completed_at", "completed_by", "priority",
    "urged_count",
]  # fmt: skip


def _plan(sizes: Sizes) -> list[int]:
    """Completed tasks before the open one (running instances) or in all (finished ones): one entry per
    instance, running instances first, adding up to sizes.tasks tasks of which sizes.open_tasks are open."""
    running = [i % 3 for i in range(sizes.open_tasks)]
    left = sizes.tasks - sizes.open_tasks - sum(running)
    finished = [3] * (left // 3) + ([left % 3] if left % 3 else [])
    return running + finished


def _rows(w: Writer, sizes: Sizes, definition: str, audit: bool = False, seed: int = 9) -> Iterator[tuple[str, tuple]]:
    """("i", instance row) and ("t", task row) in one pass, so instances and tasks agree; with `audit`,
    also ("a", audit event row): each case's chain as the engine writes it (started, each task created
    and completed, completed), hashes included, and the instance row then carries the chain's head."""
    rng = random.Random(seed)
    districts = min(DISTRICTS, sizes.subdistricts)
    plan = _plan(sizes)
    span = 730 * 86400  # two years of history
    state = json.dumps({"workflow": {"data": {}, "correlations": {}, "completed": False}, "subprocesses": {}})
    done_state = json.dumps({"workflow": {"data": {}, "correlations": {}, "completed": True}, "subprocesses": {}})
    for n, completed in enumerate(plan):
        running = n < sizes.open_tasks
        c = rng.randrange(sizes.committees)
        s = c % sizes.subdistricts
        code = committee(c)
        path = f"sh/{district(s % districts)}/{subdistrict(s)}/{code}/"
        official = f"rc_{code}"
        instance_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        # running cases are recent (the last 60 days); finished ones spread over two years
        age = rng.randrange(60 * 86400) if running else rng.randrange(60 * 86400, span)
        started = ANCHOR - timedelta(seconds=age, microseconds=rng.randrange(1, 1_000_000))
        business_key = f"C-{n:07d}"
        chain = _Chain(w, instance_id, audit)
        chain.add(started, official, "residents_committee", code, "instance_started", None,
                  {"process_key": PROCESS, "version": 1, "business_key": business_key, "org_unit": code})  # fmt: skip
        at = started
        for k in range(completed + (1 if running else 0)):
            element, name = ELEMENTS[k]
            created = at + timedelta(seconds=rng.randrange(60, 3600))
            is_open = running and k == completed
            due = created + timedelta(days=rng.choice((3, 7, 15))) if rng.random() < 0.5 else None
            assignee = official if (not is_open or rng.random() < 0.3) else None
            claimed = created + timedelta(seconds=30) if assignee else None
            finished = None if is_open else created + timedelta(seconds=rng.randrange(300, 86400 * 3))
            task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            chain.add(created, "engine", None, None, "task_created", element,
                      {"task_id": task_id, "name": name, "role": "residents_committee", "org_unit": code})  # fmt: skip
            if finished is not None:
                chain.add(finished, official, "residents_committee", code, "task_completed", element,
                          {"task_id": task_id})  # fmt: skip
            yield "t", (
                task_id,
                instance_id, PROCESS, business_key, element, name, "residents_committee", code, path,
                f"residents_committee of 第{c + 1}居委会, because the instance belongs to 第{c + 1}居委会",
                assignee, "open" if is_open else "completed", w.time(due), w.time(created), w.time(claimed),
                w.time(finished), None if is_open else official, 50, 0,
            )  # fmt: skip
            at = finished or created
        ended = None if running else at
        if ended is not None:
            chain.add(ended, "engine", None, None, "instance_completed", None, {})
        yield from (("a", row) for row in chain.rows)
        yield "i", (
            instance_id, definition, PROCESS, 1, "running" if running else "completed", business_key, code, path,
            official, w.time(started), w.time(ended), w.time(at), 1 + 2 * completed, done_state if ended else state,
            json.dumps({"business_key": business_key, "org_unit": code}), 3 * completed + 4, chain.seq, chain.head,
        )  # fmt: skip


class _Chain:
    """One case's audit events, hashed in order as engine/audit.py hashes them (rows kept only with `audit`)."""

    def __init__(self, w: Writer, instance_id: str, audit: bool) -> None:
        self.w, self.instance_id, self.audit = w, instance_id, audit
        self.seq, self.head, self.rows = 0, "", []

    def add(self, at: datetime, actor: str, role: str | None, org: str | None, action: str, element: str | None,
            data: dict) -> None:  # fmt: skip
        if not self.audit:
            return
        self.seq += 1
        fields = {
            "stream": self.instance_id, "seq": self.seq, "instance_id": self.instance_id,
            "at": at.isoformat(timespec="microseconds"), "actor": actor, "actor_role": role, "actor_org": org,
            "action": action, "element_id": element, "data": data,
        }  # fmt: skip
        prev, self.head = self.head, chain_hash(self.head, fields)
        self.rows.append((self.instance_id, self.seq, self.instance_id, self.w.time(at), actor, role, org, action,
                          element, canonical_json(data), prev, self.head))  # fmt: skip


def events(sizes: Sizes) -> int:
    """Audit events the generator writes: per case started, each task created, each finished task
    completed, each finished case completed (running cases are one per open task)."""
    cases = len(_plan(sizes))
    return cases + sizes.tasks + (sizes.tasks - sizes.open_tasks) + (cases - sizes.open_tasks)


def _split(rows: Iterator[tuple[str, tuple]], kind: str, instances: list[tuple] | None = None) -> Iterator[tuple]:
    """The rows of one kind on; instance rows kept aside in `instances` (they are far fewer) when given."""
    for found, row in rows:
        if found == kind:
            yield row
        elif found == "i" and instances is not None:
            instances.append(row)


def generate(url: str, sizes: Sizes, quiet: bool = False) -> City:
    """Build the city database at `url` (which must be empty) and mark it finished."""
    sql = make_sql_engine(url, sqlite_synchronous="NORMAL")
    upgrade(sql)
    w = Writer(sql)
    started = time.monotonic()
    password_hash = HASHERS["strong"].hash(PASSWORD)
    orgs = list(_org_rows(w, sizes))
    w.insert("org_unit", ["code", "name", "level", "parent_code", "kind", "path", "created_at", "status"], orgs)
    users, roles = _people(w, sizes, password_hash)
    w.insert("user_account", ["username", "display_name", "password_hash", "active", "created_at"], users)
    w.insert("role_assignment", ["username", "role", "org_code"], roles)
    from bench.engine import DELIBERATION

    engine = Engine(Settings(database_url=url))
    engine.deploy({"bench.bpmn": DELIBERATION.encode()})
    engine.close()
    definition = f"{PROCESS}:1"

    with sql.begin() as conn:  # build the big tables' indexes once, after the rows are in
        for table in BULK_TABLES:
            for index in _secondary_indexes(table):
                index.drop(conn)
    # Two passes of the same seeded generator: the task rows, then the audit events (hashed) with the
    # instance rows, which carry their chain's head.
    instances: list[tuple] = []
    w.insert("human_task", TASK_COLUMNS, _split(_rows(w, sizes, definition), "t"),
             Progress("human_task", sizes.tasks, quiet))  # fmt: skip
    w.insert("audit_event", AUDIT_COLUMNS, _split(_rows(w, sizes, definition, audit=True), "a", instances),
             Progress("audit_event", events(sizes), quiet))  # fmt: skip
    w.insert("process_instance", INSTANCE_COLUMNS, instances, Progress("instances", len(instances), quiet))
    progress = Progress("indexes", sum(len(_secondary_indexes(t)) for t in BULK_TABLES), quiet)
    with sql.begin() as conn:
        for table in BULK_TABLES:
            for index in _secondary_indexes(table):
                index.create(conn)
                progress.add(1)
    with sql.begin() as conn:
        conn.execute(text("ANALYZE"))
        conn.execute(
            text("INSERT INTO engine_setting (key, value, changed_by, changed_at) VALUES (:k, :v, 'bench', :at)"),
            {"k": MARKER, "v": json.dumps(sizes.key()), "at": w.time(datetime.now(UTC))},
        )
    sql.dispose()
    if not quiet:
        print(f"  city database ready in {time.monotonic() - started:.0f} s: {url}", file=sys.stderr)
    return city_for(url, sizes)


# --- reuse ------------------------------------------------------------------------------------------------------


def _finished(url: str, sizes: Sizes) -> bool:
    sql = create_engine(normalize_url(url))
    try:
        with sql.connect() as conn:
            value = conn.execute(text("SELECT value FROM engine_setting WHERE key = :k"), {"k": MARKER}).scalar()
        if isinstance(value, str) and value.startswith('"'):
            value = json.loads(value)  # SQLite hands the JSON column back as its text
        return value == sizes.key()
    except Exception:  # noqa: BLE001 - no such table, no such database: not finished
        return False
    finally:
        sql.dispose()


def sqlite_url(sizes: Sizes) -> str:
    DATA.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA / f'city-{schema_head()}-{sizes.key()}.db'}"


def postgres_url(admin_url: str, sizes: Sizes) -> str:
    return make_url(normalize_url(admin_url)).set(database=_pg_name(sizes, schema_head())).render_as_string(False)


def _pg_name(sizes: Sizes, head: str) -> str:
    """govflow_city_<sizes>_<schema head>, each hashed short: PostgreSQL names stop at 63 bytes."""
    return f"{_pg_prefix(sizes)}{hashlib.sha256(head.encode()).hexdigest()[:8]}"


def _pg_prefix(sizes: Sizes) -> str:
    return f"govflow_city_{hashlib.sha256(sizes.key().encode()).hexdigest()[:8]}_"


def ensure(kind: str, sizes: Sizes, admin_url: str | None = None, quiet: bool = False) -> City:
    """The city database for `kind` ("sqlite" or "postgresql") at these sizes: reused when a finished
    one exists, else (re)built."""
    if kind == "sqlite":
        url = sqlite_url(sizes)
        if _finished(url, sizes):
            return city_for(url, sizes)
        path = Path(url.removeprefix("sqlite:///"))
        for stale in DATA.glob(f"city-*-{sizes.key()}.db*"):  # these sizes under an older schema head
            stale.unlink()
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return generate(url, sizes, quiet)
    assert admin_url is not None
    url = postgres_url(admin_url, sizes)
    if _finished(url, sizes):
        return city_for(url, sizes)
    name = make_url(url).database
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # these sizes under an older schema head (or a build that did not finish): dropped
        prefix = _pg_prefix(sizes)
        stale = conn.execute(text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"), {"p": prefix})
        for old in list(stale.scalars()):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return generate(url, sizes, quiet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=Sizes.tasks)
    parser.add_argument("--open", type=int, default=Sizes.open_tasks)
    parser.add_argument("--committees", type=int, default=Sizes.committees)
    parser.add_argument("--subdistricts", type=int, default=Sizes.subdistricts)
    parser.add_argument("--postgres", action="store_true", help="build on PostgreSQL (GOVFLOW_TEST_PG_URL)")
    args = parser.parse_args()
    sizes = Sizes(args.tasks, args.open, args.committees, args.subdistricts)
    if args.postgres:
        import os

        city = ensure(
            "postgresql", sizes, os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
        )
    else:
        city = ensure("sqlite", sizes)
    print(city.url)


if __name__ == "__main__":
    main()
