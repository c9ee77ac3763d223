"""Faults: processes killed mid-command, the database gone, its disk full or read-only. Nothing answered is lost.

- `govflow serve` is killed (SIGKILL, master and workers at once) again and again while officials start
  petitions, register them and race each other to the reviews; it is started again each time. Every
  completion that was answered 200 is in the database once, no task is completed twice, every case's
  inbox rows agree with its workflow (tests/invariants.py) and `govflow audit verify` passes.
- `govflow worker` is killed again and again in the middle of a batch of due timers: after the claims of
  the killed workers run out, every timer has fired exactly once (one `timer_fired` event per case).
- PostgreSQL refuses connections and drops every connection of the test database for two seconds under
  load: requests answer 503 with a sentence (problem+json), none 500, and succeed afterwards; every
  answered completion is kept. (Only this test's database is cut off, not the server that other test
  runs on the machine share: `ALTER DATABASE ... ALLOW_CONNECTIONS false` and `pg_terminate_backend`.)
- A SQLite database whose disk fills up answers 507 with a sentence and works again once space is freed;
  a read-only one answers 503 with a sentence; the last committed state is intact.

Kill points come from a seeded RNG (GOVFLOW_FAULT_SEED); a kill lands after a random number of answered
commands of its round, so each one interrupts commands in flight. The figures go to
tests/artifacts/reliability/faults.json.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from engine import Engine
from engine.config import Settings
from engine.db import normalize_url
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from tests import invariants
from tests.conftest import DATA, PETITION_BUNDLE, PG_URL, ApiClient, populate, problem_of, read_bundle, who
from tests.reliability_report import record
from tests.serving import Server, serving
from tests.test_cli import govflow
from tests.test_worker import worker_process

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("GOVFLOW_FAULT_SEED", "20261206"))
API_KILLS = 5  # per database: 10 kills of the API in all
WORKER_KILLS = 5  # per database: 10 kills of a worker in all
PUBLICATIONS = 100  # cases waiting on a timer, fired by workers that keep being killed
HELD_BACK = timedelta(days=30)  # a timer moved this far is not due to a worker whose clock is 8 days ahead
ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
APPROVE = {"decision": "approve"}


@dataclass
class Outcomes:
    """What the officials' clients were answered, per task: status codes, or "lost" when the line dropped."""

    completions: dict[str, list[object]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, task_id: str, outcome: object) -> None:
        with self.lock:
            self.completions.setdefault(task_id, []).append(outcome)
            self.statuses[outcome] += 1

    def ok(self) -> int:
        with self.lock:  # the officials' threads add answers meanwhile
            return sum(outcomes.count(200) for outcomes in self.completions.values())


def call(client: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response | None:
    """The response, or None when the server died under the request (the outcome is then unknown)."""
    try:
        return client.request(method, path, **kwargs)
    except httpx.TransportError:
        return None


def registrar(client: httpx.Client, outcomes: Outcomes, stop: threading.Event, prefix: str) -> None:
    """A residents' committee official: starts a petition and registers it, again and again."""
    with client:
        number = 0
        while not stop.is_set():
            number += 1
            body = {"process_key": "petition_review", "org_unit": "qiaoyi", "business_key": f"{prefix}-{number}"}
            started = call(client, "POST", "/process-instances", json=body)
            if started is None or started.status_code != 201:
                outcomes.statuses[getattr(started, "status_code", "lost")] += 1
                continue
            with outcomes.lock:
                outcomes.started.append(started.json()["id"])
            task_id = started.json()["tasks"][0]["id"]
            done = call(client, "POST", f"/tasks/{task_id}/complete", json={"data": ISSUE})
            outcomes.answered(task_id, done.status_code if done is not None else "lost")


def reviewer(client: httpx.Client, outcomes: Outcomes, stop: threading.Event, seed: int) -> None:
    """A subdistrict official: picks a review from the group's inbox and completes it, racing a colleague."""
    rng = random.Random(seed)
    with client:
        while not stop.is_set():
            inbox = call(client, "GET", "/tasks", params={"scope": "candidate", "limit": 10})
            if inbox is None or inbox.status_code != 200:
                outcomes.statuses[getattr(inbox, "status_code", "lost")] += 1
                continue
            reviews = [t for t in inbox.json()["items"] if t["element_id"] == "review_petition"]
            if not reviews:
                time.sleep(0.02)
                continue
            task_id = rng.choice(reviews)["id"]
            done = call(client, "POST", f"/tasks/{task_id}/complete", json={"data": APPROVE})
            outcomes.answered(task_id, done.status_code if done is not None else "lost")


def signed_in_client(server: Server, username: str) -> httpx.Client:
    """A keep-alive client with a bearer token of its own, signed in before any kill can come."""
    client = httpx.Client(base_url=f"{server.url}/api/v1", timeout=30)
    client.headers["Authorization"] = f"Bearer {server.token(username)}"
    return client


@contextmanager
def officials_at_work(server: Server, outcomes: Outcomes, prefix: str, seed: int) -> Iterator[threading.Event]:
    stop = threading.Event()
    signed_in = [signed_in_client(server, username) for username in ("wang", "wang", "zhang", "liu")]
    threads = [
        threading.Thread(target=registrar, args=(signed_in[0], outcomes, stop, f"{prefix}-a"), daemon=True),
        threading.Thread(target=registrar, args=(signed_in[1], outcomes, stop, f"{prefix}-b"), daemon=True),
        threading.Thread(target=reviewer, args=(signed_in[2], outcomes, stop, seed), daemon=True),
        threading.Thread(target=reviewer, args=(signed_in[3], outcomes, stop, seed + 1), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "an official's client hung"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def completed_events(engine: Engine) -> Counter:
    """task_completed audit events per task id."""
    with engine.reading() as session:
        rows = session.execute(select(AuditEvent.data).where(AuditEvent.action == "task_completed")).scalars()
        return Counter(row["task_id"] for row in rows)


def check_nothing_answered_was_lost(engine: Engine, db_url: str, outcomes: Outcomes) -> dict:
    """Every 200 is in the database once; a dropped request (or a 503) either happened once or not at all."""
    completed = completed_events(engine)
    with engine.reading() as session:
        rows = {t.id: t.status for t in session.execute(select(HumanTask)).scalars()}
    answered_ok = [task_id for task_id, seen in outcomes.completions.items() if 200 in seen]
    for task_id, seen in outcomes.completions.items():
        assert seen.count(200) <= 1, f"task {task_id} was completed twice: {seen}"
        assert set(seen) <= {200, 409, 503, "lost"}, f"task {task_id} answered {seen}"
    assert all(rows[task_id] == "completed" for task_id in answered_ok)
    assert all(completed[task_id] == 1 for task_id in answered_ok)
    assert max(completed.values(), default=0) <= 1, "a task was completed twice"
    with engine.reading() as session:
        assert set(outcomes.started) <= set(session.execute(select(ProcessInstance.id)).scalars())
    assert invariants.problems(db_url) == []
    verified = govflow(db_url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lost = [task_id for task_id, seen in outcomes.completions.items() if 200 not in seen and set(seen) & {503, "lost"}]
    return {
        "completions_answered_200": len(answered_ok),
        "answered_409_lost_races": sum(seen.count(409) for seen in outcomes.completions.values()),
        "completions_unanswered_or_503": len(lost),
        "of_which_committed": sum(1 for task_id in lost if completed[task_id] == 1),
        "cases_started": len(outcomes.started),
    }


def test_the_api_killed_again_and_again_mid_command_loses_no_answered_completion(
    petition: Engine, db_url: str, tmp_path: Path
) -> None:
    engine = petition
    rng = random.Random(SEED)
    outcomes = Outcomes()
    for kill in range(API_KILLS):
        with (
            serving(db_url, tmp_path / f"api-{kill}.log", own_group=True) as server,
            officials_at_work(server, outcomes, f"K{kill}", rng.randrange(10**6)),
        ):
            before = outcomes.ok()
            wait_for(lambda b=before, n=rng.randint(2, 10): outcomes.ok() >= b + n, 90, "completions")
            time.sleep(rng.uniform(0, 0.2))
            server.kill()
    assert "lost" in outcomes.statuses, "no kill interrupted a request"
    assert not [s for s in outcomes.statuses if isinstance(s, int) and s >= 500], outcomes.statuses

    figures = check_nothing_answered_was_lost(engine, db_url, outcomes)

    # And the engine goes on: every review still open can be completed, and every case then ends.
    for _ in range(2):  # registrations first, then the reviews they lead to
        with engine.reading() as session:
            still_open = session.execute(select(HumanTask).where(HumanTask.status == "open")).scalars().all()
        for task in still_open:
            data, user = (ISSUE, "wang") if task.element_id == "register_issue" else (APPROVE, "zhang")
            engine.complete(task.id, who(engine, user), data)
    with engine.reading() as session:
        statuses = Counter(session.execute(select(ProcessInstance.status)).scalars())
    assert set(statuses) == {"completed"}, statuses
    assert invariants.problems(db_url) == []
    record("faults", f"api_kills[{engine.dialect}]", {"kills": API_KILLS, "seed": SEED, **figures})


def test_workers_killed_again_and_again_mid_batch_fire_every_timer_exactly_once(
    org: Engine, db_url: str, tmp_path: Path
) -> None:
    engine = org
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    ids = [engine.start("publicity_wait", "qiaoyi", by=who(engine, "wang"))["id"] for _ in range(PUBLICATIONS)]
    rng = random.Random(SEED)
    short_claims = {"GOVFLOW_JOB_LOCK_SECONDS": "1"}  # a killed worker's claims run out after a second

    def fired() -> int:
        with engine.reading() as session:
            query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "timer_fired")
            return session.execute(query).scalar_one()

    def claimed_jobs(worker: str) -> int:
        """Jobs a killed worker had claimed and not run: they wait for its claims to run out."""
        with engine.reading() as session:
            query = select(func.count()).select_from(Job).where(Job.locked_by == worker)
            return session.execute(query).scalar_one()

    def move_due(instance_ids: list[str], by: timedelta) -> None:
        with engine.transaction() as session:
            for job in session.scalars(select(Job).where(Job.instance_id.in_(instance_ids))):
                job.due_at += by

    # The timers are held back and each round makes a wave of its own due: however fast a worker fires
    # while the test waits to kill it (two test processes share the cores), the next round finds timers.
    wave = PUBLICATIONS // WORKER_KILLS
    move_due(ids, HELD_BACK)
    kills = orphaned = 0
    for round_ in range(WORKER_KILLS):
        move_due(ids[round_ * wave : (round_ + 1) * wave], -HELD_BACK)
        log = tmp_path / f"worker-{round_}.log"
        name = f"killed-{round_}"
        worker = worker_process(db_url, log, "--batch", "10", "--poll", "0.05", "--name", name, env=short_claims)
        try:
            before = fired()
            wait_for(lambda b=before, n=rng.randint(3, 9): fired() >= b + n, 90, "timers")
            time.sleep(rng.uniform(0, 0.1))
            worker.send_signal(signal.SIGKILL)
            kills += 1
            worker.wait(30)
            orphaned += claimed_jobs(name)
        finally:
            worker.kill()
            worker.wait(30)
        assert "Traceback" not in log.read_text()
        time.sleep(1.1)  # its claims run out
    log = tmp_path / "worker-last.log"
    last = worker_process(db_url, log, "--once", "--batch", "50", env=short_claims)
    assert last.wait(120) == 0, log.read_text()

    per_case = Counter()
    with engine.reading() as session:
        for data in session.execute(select(AuditEvent.stream).where(AuditEvent.action == "timer_fired")).scalars():
            per_case[data] += 1
    assert sorted(per_case) == sorted(ids) and set(per_case.values()) == {1}
    assert all([t["element_id"] for t in engine.get_instance(i)["tasks"]] == ["close_publicity"] for i in ids)
    assert {job["status"] for job in engine.list_jobs(who(engine, "admin"), limit=500)} <= {"done"}
    assert invariants.problems(db_url) == []
    assert govflow(db_url, "audit", "verify").returncode == 0
    assert orphaned > 0, "no kill left claimed jobs behind: none landed in the middle of a batch"
    figures = {
        "kills": kills,
        "claims_left_by_killed_workers": orphaned,
        "timers_fired_once": len(per_case),
        "seed": SEED,
    }
    record("faults", f"worker_kills[{engine.dialect}]", figures | {"seed": SEED})


@contextmanager
def database_cut_off(db_url: str) -> Iterator[None]:
    """No new connection to the test database, and every open one dropped, until the block ends."""
    name = make_url(normalize_url(db_url)).database
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_requests_while_postgresql_drops_every_connection_answer_503_and_succeed_after(
    petition: Engine, db_url: str, tmp_path: Path
) -> None:
    engine = petition
    outcomes = Outcomes()
    problems: list[dict] = []
    with serving(db_url, tmp_path / "api.log") as server:

        def health() -> httpx.Response:
            return httpx.get(f"{server.url}/api/v1/healthz", timeout=10)

        with officials_at_work(server, outcomes, "PG", SEED):
            wait_for(lambda: outcomes.ok() >= 5, 60, "completions before the outage")
            before_outage = dict(outcomes.statuses)
            with database_cut_off(db_url):
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    answer = health()
                    assert answer.status_code == 503, answer.text
                    problems.append(problem_of_http(answer))
                    time.sleep(0.1)
            during = Counter(outcomes.statuses) - Counter(before_outage)
            wait_for(lambda: health().status_code == 200, 30, "the API to reach the database again")
            after_outage = outcomes.ok()
            wait_for(lambda: outcomes.ok() >= after_outage + 5, 60, "completions after the outage")
    assert during[503] > 0, f"no request met the outage: {during}"
    assert not [s for s in outcomes.statuses if isinstance(s, int) and s >= 500 and s != 503], outcomes.statuses
    assert all("database" in p["detail"] for p in problems)

    figures = check_nothing_answered_was_lost(engine, db_url, outcomes)
    record("faults", "postgresql_outage", {"answered_503": outcomes.statuses[503], "outage_seconds": 2, **figures})


def problem_of_http(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code and body["detail"] and "Traceback" not in body["detail"]
    return body


# --- the disk: full, read-only ----------------------------------------------------------------------


@contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` at `folder` (root only)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the max_page_count variant covers a full database")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def read_only_view(folder: Path, view: Path) -> Iterator[Path]:
    """`folder` mounted again, read-only, at `view` (root only); else a copy whose file modes forbid writing."""
    view.mkdir()
    bound = subprocess.run(["mount", "--bind", str(folder), str(view)], check=False).returncode == 0
    if bound and subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=False).returncode == 0:
        try:
            yield view
        finally:
            subprocess.run(["umount", "-l", str(view)], check=False)
        return
    if bound:
        subprocess.run(["umount", "-l", str(view)], check=False)
    if os.geteuid() == 0:
        pytest.skip("root ignores file modes and this machine does not allow a read-only bind mount")
    for item in folder.iterdir():
        shutil.copy2(item, view / item.name)
        (view / item.name).chmod(0o444)
    view.chmod(0o555)
    try:
        yield view
    finally:
        view.chmod(0o755)


def fill(folder: Path) -> Path:
    """Write a file until the disk holding `folder` is full."""
    filler = folder / "filler"
    out = filler.open("wb", buffering=0)
    try:
        while True:
            out.write(b"\0" * 65536)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            out.close()
    return filler


def cap_pages(engine: Engine) -> Callable:
    """SQLite's max_page_count at the file's current size: the next page a write needs is refused as 'full'."""

    def cap(dbapi_connection, _record):  # noqa: ANN001, ANN202
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()

    event.listen(engine.sql, "connect", cap)
    engine.sql.dispose()
    return cap


def start_petition(api: ApiClient) -> object:
    return api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"})


@pytest.mark.parametrize("how", ["tmpfs", "max_page_count"])
def test_a_full_disk_answers_507_with_a_sentence_and_the_database_works_again_once_space_is_freed(
    tmp_path: Path, sqlite_template: Path, how: str
) -> None:
    from api import create_app

    folder = tmp_path / "disk"
    with small_disk(folder, 4) if how == "tmpfs" else nullfolder(folder) as disk:
        url = f"sqlite:///{disk / 'govflow.db'}"
        shutil.copyfile(sqlite_template, disk / "govflow.db")
        engine = Engine(Settings(database_url=url, password_profile="fast", data_dir=str(tmp_path)))
        try:
            seed_petition(engine)
            api = ApiClient(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}))
            api.token("wang"), api.token("zhang")  # signing in writes a token: before the disk fills
            first = start_petition(api)
            assert first.status_code == 201
            registered = api.post(f"/tasks/{first.json['tasks'][0]['id']}/complete", "wang", json={"data": ISSUE})
            assert registered.status_code == 200

            filler = fill(disk) if how == "tmpfs" else None
            cap = cap_pages(engine) if how == "max_page_count" else None
            # Writes that find room (a page with space, a WAL already long enough) may still succeed; the
            # others must say the disk is full, and at least one must have met it.
            review = registered.json["next_tasks"][0]["id"]
            attempts = [start_petition(api) for _ in range(4)]
            attempts.append(api.post(f"/tasks/{review}/complete", "zhang", json={"data": APPROVE}))
            refused = [r for r in attempts if r.status_code == 507]
            assert refused, [r.json for r in attempts]
            assert all(r.status_code in (200, 201, 507) for r in attempts), [r.json for r in attempts]
            for response in refused:
                assert "no room left on its disk" in problem_of(response)["detail"]
            assert api.get(f"/process-instances/{first.json['id']}", "wang").status_code == 200  # reads go on
            assert invariants.problems(url) == []

            if filler is not None:
                filler.unlink()
            if cap is not None:
                event.remove(engine.sql, "connect", cap)
                engine.sql.dispose()
            if attempts[-1].status_code == 507:
                done = api.post(f"/tasks/{review}/complete", "zhang", json={"data": APPROVE})
                assert done.status_code == 200 and done.json["instance"]["status"] == "completed"
            assert engine.get_instance(first.json["id"])["status"] == "completed"
            assert all(start_petition(api).status_code == 201 for _ in range(3))
            assert invariants.problems(url) == []
        finally:
            engine.close()
        record("faults", f"disk_full[{how}]", {"writes_tried": len(attempts), "answered_507": len(refused)})


@contextmanager
def nullfolder(folder: Path) -> Iterator[Path]:
    folder.mkdir()
    yield folder


def seed_petition(engine: Engine) -> None:
    populate(engine)
    engine.deploy(read_bundle(*PETITION_BUNDLE), by=engine.principal("designer"))


def test_a_read_only_database_answers_503_with_a_sentence_and_keeps_its_state(
    tmp_path: Path, sqlite_template: Path
) -> None:
    from api import create_app

    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(sqlite_template, folder / "govflow.db")
    url = f"sqlite:///{folder / 'govflow.db'}"
    writer = Engine(Settings(database_url=url, password_profile="fast", data_dir=str(tmp_path)))
    try:
        seed_petition(writer)
        case = writer.start("petition_review", "qiaoyi", by=who(writer, "wang"))
        task_id = case["tasks"][0]["id"]
        signed_in = ApiClient(create_app({"GOVFLOW_ENGINE": writer, "TESTING": True}))
        signed_in.token("wang")  # signing in writes a token: while the database can be written

        def client_of(engine: Engine) -> ApiClient:
            client = ApiClient(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}))
            client.tokens = dict(signed_in.tokens)
            return client

        def writes(api: ApiClient) -> list:
            return [
                start_petition(api),
                api.post(f"/tasks/{task_id}/complete", "wang", json={"data": ISSUE}),
                api.post(f"/tasks/{task_id}/claim", "wang"),
            ]

        # The file turns read-only under a server that has it open (its WAL index is there): it reads, and
        # every write is refused with a sentence.
        with read_only_view(folder, tmp_path / "read-only") as view:
            engine = Engine(Settings(database_url=f"sqlite:///{view / 'govflow.db'}", password_profile="fast"))
            try:
                api = client_of(engine)
                shown = api.get(f"/process-instances/{case['id']}", "wang")
                assert shown.status_code == 200 and shown.json["status"] == "running"
                for response in writes(api):
                    assert response.status_code == 503, response.json
                    assert "read-only" in problem_of(response)["detail"]
            finally:
                engine.close()
    finally:
        writer.close()  # checkpoints the WAL into the file and removes the WAL index
    before = (folder / "govflow.db").read_bytes()

    # A server started on a read-only database without its WAL index cannot open it at all: a sentence too.
    with read_only_view(folder, tmp_path / "read-only-cold") as view:
        engine = Engine(Settings(database_url=f"sqlite:///{view / 'govflow.db'}", password_profile="fast"))
        try:
            api = client_of(engine)
            for response in [api.get(f"/process-instances/{case['id']}", "wang"), *writes(api)]:
                assert response.status_code == 503, response.json
                assert "cannot be opened" in problem_of(response)["detail"]
        finally:
            engine.close()
    assert (folder / "govflow.db").read_bytes() == before
    assert engine_state(url, case["id"]) == ("running", ["register_issue"])
    assert invariants.problems(url) == []


def engine_state(url: str, instance_id: str) -> tuple[str, list[str]]:
    engine = Engine(Settings(database_url=url, password_profile="fast"))
    try:
        case = engine.get_instance(instance_id)
        return case["status"], [t["element_id"] for t in case["tasks"]]
    finally:
        engine.close()
