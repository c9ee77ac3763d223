"""Loading and saving live workflows: parsed specs cached by hash, live workflows cached by version.

Nothing here is shared state another process must see: specs are immutable (keyed by sha256), and a
cached live workflow is used only while the instance row's `lock_version` equals the cached one.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from engine.audit import canonical_json, insert_rows
from engine.models import Blob, ProcessDefinition, ProcessInstance, WorkflowTask
from engine.round_trips import one_round_trip
from engine.row_writes import write_human_tasks, write_instance, write_pending_rows
from engine.spiff import runtime
from engine.spiff.serialization import (
    TaskLedger,
    TaskRow,
    collect_changes,
    new_ledger,
    restore_workflow,
    spec_from_json,
    workflow_state,
)


class SpecCache:
    """Parsed specs by the sha256 of their serialization: no XML parse, no JSON restore per request."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, sha256: str) -> tuple[Any, dict[str, Any]]:
        with self._lock:
            found = self._items.get(sha256)
            if found is not None:
                self._items.move_to_end(sha256)
                return found
        blob = session.get(Blob, sha256)
        if blob is None:
            raise LookupError(f"spec {sha256} is missing from the database")
        parsed = spec_from_json(blob.content)
        self.put(sha256, parsed)
        return parsed

    def put(self, sha256: str, parsed: tuple[Any, dict[str, Any]]) -> None:
        with self._lock:
            self._items[sha256] = parsed
            self._items.move_to_end(sha256)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class BoundedMap:
    """A thread-safe map of immutable facts that forgets its oldest entries beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def pop(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)


def _detached_copy(definition: ProcessDefinition) -> ProcessDefinition:
    # A transient copy belongs to no session: every later session may read it, none will write it.
    columns = ProcessDefinition.__table__.columns.keys()
    return ProcessDefinition(**{name: getattr(definition, name) for name in columns})


@dataclass
class LiveWorkflow:
    workflow: Any
    ledger: TaskLedger
    lock_version: int
    # What engine/waits.py last wrote for this workflow (timer dues, message names): unchanged, it skips
    # reading the job and subscription rows. Like the workflow, valid only at this lock_version.
    waits: Any = None
    # The ids of the human task rows the last projection left open (engine/commands/instances.py): the
    # next projection reads them by key instead of searching the instance's open rows. Only a projection
    # opens rows; a command that closes one (cancel, ...) leaves an id whose row says it is closed.
    open_tasks: frozenset[str] | None = None
    # The ids of every human task row of the instance (open or closed), when known: a case this process
    # started and kept cached since. A ready task with no row yet (most are new) needs no read; None when
    # unknown (a restored workflow). Changed in place: a failed command's workflow is never kept.
    task_rows: set[str] | None = None


class LiveCache:
    """Recently used live workflows with their task ledgers; one lock per instance within this process."""

    STRIPES = 64

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, LiveWorkflow] = OrderedDict()
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(self.STRIPES)]

    @contextmanager
    def instance_lock(self, instance_id: str) -> Iterator[None]:
        # Two threads of one process must not mutate the same cached workflow at once.
        with self._stripes[hash(instance_id) % self.STRIPES]:
            yield

    def take(self, instance_id: str, lock_version: int) -> LiveWorkflow | None:
        with self._lock:
            live = self._items.pop(instance_id, None)
        if live is not None and live.lock_version == lock_version:
            return live
        return None

    def keep(self, instance_id: str, live: LiveWorkflow) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[instance_id] = live
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def bump(self, instance_id: str, before: int, after: int) -> None:
        with self._lock:
            live = self._items.get(instance_id)
            if live is not None and live.lock_version == before:
                live.lock_version = after

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._items.pop(instance_id, None)


class InstanceStore:
    def __init__(self, specs: SpecCache, live: LiveCache, script_engine: Any) -> None:
        self.specs = specs
        self.live = live
        self.script_engine = script_engine
        # Process definitions are never changed or deleted once deployed (a new version is a new row).
        self.definitions = BoundedMap(1024)

    def definition(self, session: Session, definition_id: str) -> ProcessDefinition:
        """A deployed process definition, read once per process; callers must not change it."""
        found = self.definitions.get(definition_id)
        if found is None:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise LookupError(f"process definition {definition_id} is missing from the database")
            found = _detached_copy(row)
            self.definitions.put(definition_id, found)
        return found

    def spec_for(self, session: Session, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        return self.specs.get(session, definition.spec_sha256)

    def new(self, session: Session, definition: ProcessDefinition) -> LiveWorkflow:
        spec, subprocess_specs = self.spec_for(session, definition)
        workflow = runtime.new_workflow(spec, subprocess_specs, self.script_engine)
        return LiveWorkflow(workflow, new_ledger(), lock_version=0)

    def load(self, session: Session, instance: ProcessInstance) -> LiveWorkflow:
        """The instance's live workflow: from the cache when it is current, else from its rows.

        The cache entry is taken out while the command runs; `keep` puts it back after the commit, so
        a command that fails leaves nothing half-changed in memory.
        """
        live = self.live.take(instance.id, instance.lock_version)
        if live is not None:
            return live
        spec, subprocess_specs = self.spec_for(session, self.definition(session, instance.definition_id))
        rows = [
            TaskRow(r.id, r.workflow_id, r.seq, r.state, r.body)
            for r in session.execute(
                select(
                    WorkflowTask.id,
                    WorkflowTask.workflow_id,
                    WorkflowTask.seq,
                    WorkflowTask.state,
                    WorkflowTask.body,
                ).where(WorkflowTask.instance_id == instance.id)
            )
        ]
        workflow, ledger = restore_workflow(spec, subprocess_specs, instance.state, rows, self.script_engine)
        return LiveWorkflow(workflow, ledger, instance.lock_version)

    def save(self, session: Session, instance: ProcessInstance, live: LiveWorkflow) -> None:
        """Write the workflow state and the changed task rows; the instance row's version is bumped."""
        changes = collect_changes(live.workflow, live.ledger)
        instance.state = workflow_state(live.workflow)
        instance.variables = _json_safe(runtime.variables_of(live.workflow))
        instance.next_task_seq = live.ledger.next_seq
        connection = session.connection()
        # The audit rows first (tests/test_crash.py stalls between), then the task rows, the human task rows
        # and the instance row, in one round trip on PostgreSQL: only the instance row's count is read, at
        # the end. A case started in this command has its instance row inserted first (write_pending_rows).
        with one_round_trip(connection) as pipelined:
            write_pending_rows(session, pipelined=pipelined)
            if changes.inserted:
                insert_rows(
                    connection,
                    WorkflowTask.__table__,
                    [
                        {
                            "instance_id": instance.id,
                            "id": r.id,
                            "workflow_id": r.workflow_id,
                            "seq": r.seq,
                            "state": r.state,
                            "body": r.body,
                        }
                        for r in changes.inserted
                    ],
                    pipelined,
                )
            if changes.updated:
                # One executemany, not a statement per task.
                params = [
                    {
                        "b_instance_id": instance.id,
                        "b_id": r.id,
                        "state": r.state,
                        "body": r.body,
                        "workflow_id": r.workflow_id,
                    }
                    for r in changes.updated
                ]
                connection.execute(_UPDATE_TASK, params if len(params) > 1 else params[0])
            if changes.deleted:
                connection.execute(
                    delete(WorkflowTask).where(
                        WorkflowTask.instance_id == instance.id, WorkflowTask.id.in_(changes.deleted)
                    )
                )
            write_human_tasks(session, connection, pipelined)
            # The instance row last; its version is checked once the round trip has brought the row count.
            check_instance = write_instance(session, connection, instance)
        check_instance()


_UPDATE_TASK = (
    update(WorkflowTask.__table__)
    .where(
        WorkflowTask.__table__.c.instance_id == bindparam("b_instance_id"),
        WorkflowTask.__table__.c.id == bindparam("b_id"),
    )
    .values(state=bindparam("state"), body=bindparam("body"), workflow_id=bindparam("workflow_id"))
)


def _json_safe(data: dict) -> dict:
    return json.loads(canonical_json({k: v for k, v in data.items() if not callable(v)}))
