"""The pages each command writes to SQLite's write-ahead log, by the table or index they belong to.

A durable commit on SQLite costs about 0.1 ms plus about 0.015 ms a page on this kind of machine, and a
command's pages are mostly index leaves: this says which B-trees they are. The bench deliberation runs
its warm-up, the log is checkpointed empty and automatic checkpoints are turned off, then N instances (4
commands each) run through govflow on a SQLite file; the log's frames are read back commit by commit and
each page is named from SQLite's `dbstat` table. A page a commit writes twice counts once.

Usage: python bench/wal_pages.py [--instances N]
"""

from __future__ import annotations

import argparse
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench import engine as bench_engine  # noqa: E402

WAL_HEADER = 32
FRAME_HEADER = 24


def commits_in_wal(wal: bytes) -> list[set[int]]:
    """The pages of each committed transaction in a WAL file's frames (a commit frame carries the db size)."""
    if len(wal) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    commits: list[set[int]] = []
    pages: set[int] = set()
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page, db_size = struct.unpack(">II", wal[offset : offset + 8])
        pages.add(page)
        if db_size:
            commits.append(pages)
            pages = set()
        offset += FRAME_HEADER + page_size
    return commits


def measure(instances: int, warm_up: int = 100) -> tuple[int, Counter[str]]:
    """Commits made by `instances` instances after the warm-up, and the pages they wrote by B-tree name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.db"
        engine = bench_engine.prepared_engine(f"sqlite:///{path}")
        try:
            bench_engine.govflow_run(engine, warm_up)
            engine.sql.dispose()
            engine.sql_read.dispose()
            with closing(sqlite3.connect(path)) as raw:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")

            @event.listens_for(engine.sql.pool, "connect")
            def _keep_the_log(dbapi_connection, _record):  # noqa: ANN001, ANN202
                dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

            bench_engine.govflow_run(engine, instances)
            commits = commits_in_wal(path.with_name(path.name + "-wal").read_bytes())
            with closing(sqlite3.connect(path)) as raw:
                owner = dict((page, name) for name, page in raw.execute("SELECT name, pageno FROM dbstat"))
        finally:
            engine.close()
    by_tree: Counter[str] = Counter()
    for pages in commits:
        for page in pages:
            by_tree[owner.get(page, "(free or past the end)")] += 1
    return len(commits), by_tree


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=50)
    args = parser.parse_args(argv)
    commits, by_tree = measure(args.instances)
    total = sum(by_tree.values())
    print(f"{commits} commits ({args.instances} instances), {total / commits:.1f} pages a commit")
    print(f"{'pages a commit':>15}  table or index")
    for name, pages in by_tree.most_common():
        print(f"{pages / commits:>15.2f}  {name}")


if __name__ == "__main__":
    main()
