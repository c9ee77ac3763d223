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
from json.encoder import encode_basestring
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Engine as SqlEngine  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine import Engine  # noqa: E402
from engine.audit import canonical_json  # noqa: E402
from engine.case_ids import case_id  # noqa: E402
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
LAYOUT = 4  # 2: audit events with their hash chains; 3: indexes made in name order; 4: time-ordered case ids


@dataclass(frozen=True)
class Sizes:
    tasks: int = 1_000_000
    open_tasks: int = 100_000
    committees: int = 6000
    subdistricts: int = 215

    def key(self) -> str:
        return f"v{LAYOUT}-{self.dims()}"

    def dims(self) -> str:
        return f"{self.tasks}-{self.open_tasks}-{self.committees}-{self.subdistricts}"


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

    def insert(self, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
        """Rows of one table in one transaction."""
        self.insert_kinds({"": (table, columns)}, (("", row) for row in rows))

    def insert_kinds(
        self,
        tables: dict[str, tuple[str, list[str]]],
        rows: Iterable[tuple[str, tuple]],
        progress: Progress | None = None,
    ) -> None:
        """(kind, row) pairs into the table of each kind, in one transaction, foreign keys unchecked: one
        generator pass makes tasks, audit events and the instance they point to (which comes last, with
        its chain's head), and every reference holds once all are in."""
        batches: dict[str, list[tuple]] = {kind: [] for kind in tables}
        with self.sql.connect() as conn:
            raw = conn.connection.driver_connection  # no SQLAlchemy BEGIN: the pragma works outside one
            if self.sqlite:
                raw.execute("PRAGMA foreign_keys=OFF")
                raw.execute("BEGIN")
            else:
                raw.execute("SET LOCAL session_replication_role = replica")  # no FK triggers for this load

            def flush(kind: str) -> None:
                batch, (table, columns) = batches[kind], tables[kind]
                if self.sqlite:
                    marks = ", ".join("?" * len(columns))
                    raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
                else:
                    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                if progress:
                    progress.add(len(batch))
                batch.clear()

            for kind, row in rows:
                batch = batches[kind]
                batch.append(row)
                if len(batch) >= 20_000:
                    flush(kind)
            for kind in tables:
                if batches[kind]:
                    flush(kind)
            if self.sqlite:
                raw.execute("COMMIT")
                raw.execute("PRAGMA foreign_keys=ON")
            else:
                raw.commit()


def _secondary_indexes(table: str) -> list:
    """The table's indexes in one order on every build. The model holds them in a set, whose order changed
    with each process's hash seed, and SQLite breaks a tie between equally priced indexes by the order they
    were made in: one build's inbox page read the candidate index, the next one's all unclaimed tasks."""
    return sorted(Base.metadata.tables[table].indexes, key=lambda index: index.name)


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


def _rows(w: Writer, sizes: Sizes, definition: str, seed: int = 9) -> Iterator[tuple[str, tuple]]:
    """Each case's ("t", task row)s and ("a", audit event row)s, then its ("i", instance row): the chain as
    the engine writes it (started, each task created and completed, completed), hashes included, and the
    instance row carries the chain's head."""
    rng = random.Random(seed)
    districts = min(DISTRICTS, sizes.subdistricts)
    plan = _plan(sizes)
    span = 730 * 86400  # two years of history
    state = json.dumps({"workflow": {"data": {}, "correlations": {}, "completed": False}, "subprocesses": {}})
    done_state = json.dumps({"workflow": {"data": {}, "correlations": {}, "completed": True}, "subprocesses": {}})
    units = []  # per committee: its code, path, official and why its tasks are theirs, made once
    for c in range(sizes.committees):
        s, code = c % sizes.subdistricts, committee(c)
        why = f"residents_committee of 第{c + 1}居委会, because the instance belongs to 第{c + 1}居委会"
        units.append((code, f"sh/{district(s % districts)}/{subdistrict(s)}/{code}/", f"rc_{code}", why))
    for n, completed in enumerate(plan):
        running = n < sizes.open_tasks
        code, path, official, why = units[rng.randrange(sizes.committees)]
        # running cases are recent (the last 60 days); finished ones spread over two years
        age = rng.randrange(60 * 86400) if running else rng.randrange(60 * 86400, span)
        started = ANCHOR - timedelta(seconds=age, microseconds=rng.randrange(1, 1_000_000))
        instance_id = case_id(int(started.timestamp() * 1000), rng.getrandbits(80))  # as the engine makes it
        business_key = f"C-{n:07d}"
        chain = _Chain(w, instance_id)
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
                why,
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
    """One case's audit events, hashed in order as engine/audit.py hashes them."""

    def __init__(self, w: Writer, instance_id: str) -> None:
        self.w, self.instance_id = w, instance_id
        self.seq, self.head, self.rows = 0, "", []
        self._id = _string(instance_id)

    def add(self, at: datetime, actor: str, role: str | None, org: str | None, action: str, element: str | None,
            data: dict) -> None:  # fmt: skip
        self.seq += 1
        data_json = canonical_json(data)
        when = at.isoformat(timespec="microseconds")
        # canonical_json of audit._hashed_fields, written out: its keys in sorted order, the data encoded once
        hashed = (
            f'{{"action":{_string(action)},"actor":{_string(actor)},"actor_org":{_string(org)},'
            f'"actor_role":{_string(role)},"at":"{when}","data":{data_json},"element_id":{_string(element)},'
            f'"instance_id":{self._id},"seq":{self.seq},"stream":{self._id}}}'
        )
        prev, self.head = self.head, hashlib.sha256((self.head + hashed).encode()).hexdigest()
        stored = f"{when[:10]} {when[11:26]}" if self.w.sqlite else at  # as Writer.time stores it
        self.rows.append((self.instance_id, self.seq, self.instance_id, stored, actor, role, org, action,
                          element, data_json, prev, self.head))  # fmt: skip


def _string(value: str | None) -> str:
    """A JSON string (or null) as canonical_json writes it."""
    return "null" if value is None else encode_basestring(value)


def events(sizes: Sizes) -> int:
    """Audit events the generator writes: per case started, each task created, each finished task
    completed, each finished case completed (running cases are one per open task)."""
    cases = len(_plan(sizes))
    return cases + sizes.tasks + (sizes.tasks - sizes.open_tasks) + (cases - sizes.open_tasks)


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
    # One pass of the seeded generator: each case's tasks, its audit events (hashed) and its instance row,
    # which carries its chain's head.
    tables = {"t": ("human_task", TASK_COLUMNS), "a": ("audit_event", AUDIT_COLUMNS),
              "i": ("process_instance", INSTANCE_COLUMNS)}  # fmt: skip
    rows = sizes.tasks + events(sizes) + len(_plan(sizes))
    w.insert_kinds(tables, _rows(w, sizes, definition), Progress("rows", rows, quiet))
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
    """govflow_city_<sizes>_<schema head and layout>, each hashed short: PostgreSQL names stop at 63 bytes."""
    return f"{_pg_prefix(sizes)}{hashlib.sha256(f'{head}-v{LAYOUT}'.encode()).hexdigest()[:8]}"


def _pg_prefix(sizes: Sizes) -> str:
    return f"govflow_city_{hashlib.sha256(sizes.dims().encode()).hexdigest()[:8]}_"


def ensure(kind: str, sizes: Sizes, admin_url: str | None = None, quiet: bool = False) -> City:
    """The city database for `kind` ("sqlite" or "postgresql") at these sizes: reused when a finished
    one exists, else (re)built."""
    if kind == "sqlite":
        url = sqlite_url(sizes)
        if _finished(url, sizes):
            return city_for(url, sizes)
        path = Path(url.removeprefix("sqlite:///"))
        for stale in DATA.glob(f"city-*-{sizes.dims()}.db*"):  # these sizes under an older head or layout
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
        # these sizes under an older schema head or layout (or a build that did not finish): dropped
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
