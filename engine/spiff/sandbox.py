"""The one restricted script engine govflow gives SpiffWorkflow.

Every script task, pre/post-script, gateway condition, DMN cell and timer expression of a deployed
procedure runs through `SandboxedScriptEngine`.  SpiffWorkflow's own `PythonScriptEngine` hands the text
to `eval`/`exec` with full builtins, which would let any procedure designer run arbitrary code on the
server; here the text is compiled by RestrictedPython under a stricter policy and runs with a small set
of builtins, guarded attribute/item access, size caps on the cheap memory bombs and a time limit on the
processor time the script's thread uses (its waits for the processor and the garbage collector's pauses
not counted, up to a wall-clock cap).

Semantics follow SpiffWorkflow's `TaskDataEnvironment`: task data variables are names, assignments become
task data, `external_context` (DMN's `dmninputexpr`, data objects) is visible but never written back.

Memory a script piles up step by step, and text made from shared structures, is bounded by the memory
budget in `sandbox_budget`.

This module runs the code: the tracer enforcing the time limit and call depth, `SandboxedEnvironment`
and `SandboxedScriptEngine`.  What code may say is decided at compile time in `sandbox_policy`; the
checks made while it runs live in `sandbox_guards`.
"""

from __future__ import annotations

import copy
import decimal
import gc
import sys
import threading
import time
import types
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.spiff.sandbox_budget import CHECK_INTERVAL, DEFAULT_MEMORY_LIMIT_MB, MAX_TEXT, rss_bytes, text_size
from engine.spiff.sandbox_guards import DECIMAL_CONTEXT, GUARDS
from engine.spiff.sandbox_policy import (
    SCRIPT_FILENAME,
    ScriptRefusedError,
    Stop,
    compile_or_raise,
    expression_source,
    script_source,
)

__all__ = ["SandboxedScriptEngine", "SandboxedEnvironment"]

MAX_DEPTH = 100  # nested calls of sandboxed functions (see _Tracer for why this is not left to Python)
# Time a script's thread does not run (the machine's other processes or the server's other threads have
# the processor, the garbage collector pauses it) is given back up to this many times its time limit on the
# wall clock, so a script that keeps the collector busy, or blocks, is still stopped.
WALL_CLOCK_GRACE = 5


class _Tracer:
    """A `sys.settrace` function that stops sandboxed frames past their time limit or the memory budget.

    The limit counts the processor time of the script's thread, less its own garbage collections: a few
    lines must not fail a case because the machine is busy (other processes and threads have the
    processor while this one waits) or because the collector walks the process's heap.  The wall clock
    decides when to look at the thread's clock, and caps everything at `WALL_CLOCK_GRACE` times the limit.

    Signals would only work in the main thread; the engine runs in web-server and worker threads.
    Only frames of sandboxed code are traced.  Other frames (helpers, guards) are not handed on to the
    trace function installed before (coverage, a debugger): coverage's C tracer re-installs itself when
    called that way, which would switch the time limit off.  The previous one is restored afterwards.
    The call depth of sandboxed frames is capped well below Python's recursion limit: a RecursionError
    raised inside a trace function switches tracing off, and a script catching it could loop forever.
    Guards called from C loops, where no sandboxed line runs, call `checkpoint` (see sandbox_budget).
    """

    __slots__ = (
        "collected",
        "collecting_since",
        "cpu_started",
        "deadline",
        "depth",
        "latest",
        "max_depth",
        "memory_ceiling",
        "next_look",
        "thread",
        "time_limit",
    )

    def __init__(self, time_limit: float, max_depth: int, memory_limit: int) -> None:
        started = time.monotonic()
        self.time_limit = time_limit
        self.deadline = started + time_limit  # when to look at the thread's processor time next
        self.latest = started + WALL_CLOCK_GRACE * time_limit
        self.thread = threading.get_ident()
        self.cpu_started = time.thread_time()
        self.collected = 0.0  # processor time this thread spent collecting garbage
        self.collecting_since: float | None = None
        self.depth = 0
        self.max_depth = max_depth
        self.memory_ceiling = rss_bytes() + memory_limit
        self.next_look = started + CHECK_INTERVAL

    def garbage_collection(self, phase: str, info: dict) -> None:
        """A `gc.callbacks` entry: a collection the script's own thread runs is not the script's time.

        A full collection of a large heap takes a second and more on a busy server, and the allocation that
        sets it off may be the script's; it is the process's housekeeping.  Another thread's collection
        needs no entry: this thread waits for it and its processor clock stands still.
        """
        if threading.get_ident() != self.thread:
            return
        if phase == "start":
            self.collecting_since = time.thread_time()
        elif self.collecting_since is not None:
            self.collected += time.thread_time() - self.collecting_since
            self.collecting_since = None

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            self.depth += 1
            if self.depth > self.max_depth:
                # Report the line of the call, not of the `def`.
                caller = frame.f_back
                line = caller.f_lineno if caller and caller.f_code.co_filename == SCRIPT_FILENAME else None
                raise Stop(f"calls are nested more than {self.max_depth} deep", line=line)
            self.checkpoint()
            return self.local
        return None

    def local(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "return":
            self.depth -= 1
        else:
            self.checkpoint()
        return self.local

    def checkpoint(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            self._look_at_the_processor_time(now)
        if now >= self.next_look:
            self.next_look = now + CHECK_INTERVAL
            if rss_bytes() > self.memory_ceiling:
                raise Stop("memory")

    def _look_at_the_processor_time(self, now: float) -> None:
        # The wall clock has run past the limit; the thread's own clock says whether the script has.
        left = self.time_limit - (time.thread_time() - self.cpu_started - self.collected)
        if left <= 0 or now >= self.latest:
            raise Stop("time limit", timed_out=True)
        self.deadline = min(now + left, self.latest)


_STACK_MARGIN = 50  # frames kept free below the deepest script frame for guards, the tracer and C calls


def _depth_budget() -> int:
    """How deep sandboxed calls may nest from here, keeping clear of Python's recursion limit."""
    limit = sys.getrecursionlimit()
    try:
        # One C-level walk instead of a Python loop over the frames: the common, shallow case.
        sys._getframe(limit - MAX_DEPTH - _STACK_MARGIN)
    except ValueError:
        return MAX_DEPTH
    used = 0
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        used += 1
        frame = frame.f_back
    return min(MAX_DEPTH, limit - used - _STACK_MARGIN)


def _script_line(err: BaseException) -> int | None:
    """Line of the innermost sandboxed frame in the error's traceback."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _source_line(source: str, line: int | None) -> str:
    lines = source.splitlines()
    return lines[line - 1] if line and 0 < line <= len(lines) else ""


class SandboxedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment whose evaluate/execute run RestrictedPython code under a time limit.

    SpiffWorkflow also calls `script_engine.environment.evaluate(...)` directly (completion and
    data-object conditions, message correlations), so the sandbox lives here and not only in the engine.
    Refusals raise `ScriptRefusedError`; other errors of the script propagate unchanged.

    One deliberate difference from TaskDataEnvironment: `execute` works on a copy of the task data and
    writes it back only when the script finishes, so a script that fails or is stopped half-way leaves
    the task data as it was (SpiffWorkflow's exec would leave the assignments made before the error).
    """

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit: float = 2.0,
        memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
    ) -> None:
        super().__init__(dict(helpers or {}))
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb

    def evaluate(self, expression: str, context: dict, external_context: Mapping | None = None) -> Any:
        code = compile_or_raise(expression_source(expression), "eval")
        namespace = dict(self.globals)
        if external_context:
            namespace.update(external_context)
        namespace.update(context)
        namespace.update(GUARDS)
        value = self._run(code, namespace, "Expression")
        _check_size(value, "Expression", "its value")
        return value

    def execute(self, script: str, context: dict, external_context: Mapping | None = None) -> bool:
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = compile_or_raise(script_source(script), "exec")
        try:
            # A copy, so that a script that fails half-way leaves the task data as it was.
            data = copy.deepcopy(context)
        except Exception:
            data = dict(context)
        namespace = dict(self.globals)
        namespace.update(external_context)
        namespace.update(data)
        namespace.update(GUARDS)
        self._run(code, namespace, "Script")

        result = {
            name: value
            for name, value in namespace.items()
            if not name.startswith("_")
            and name not in self.globals
            and name not in external_context
            and not _is_code_like(value)
        }
        _check_size(result, "Script", "the data it leaves")
        # Like TaskDataEnvironment: deleted names and names now bound to functions leave the task data.
        # Names with a leading underscore were invisible to the script, so they are kept as they were.
        for name in [name for name in context if not name.startswith("_") and name not in result]:
            del context[name]
        context.update(result)
        return True

    def _run(self, code: types.CodeType, namespace: dict, kind: str) -> Any:
        max_depth = _depth_budget()
        if max_depth < 1:
            reason = "the server has too little stack left to run it"
            raise ScriptRefusedError(f"{kind} refused: {reason}", None, reason)
        previous = sys.gettrace()
        previous_decimal_context = decimal.getcontext()
        decimal.setcontext(DECIMAL_CONTEXT.copy())  # a copy: contexts carry per-thread flags
        tracer = _Tracer(self.time_limit, max_depth, self.memory_limit_mb * 2**20)
        gc.callbacks.append(tracer.garbage_collection)
        sys.settrace(tracer)
        try:
            return eval(code, namespace)
        except Stop as stop:
            line = stop.line or _script_line(stop)
            where = f" (line {line})" if line else ""
            if stop.timed_out:
                reason = f"it ran longer than {self.time_limit} s and was stopped{where}"
                message = f"{kind} ran longer than {self.time_limit} s and was stopped{where}"
            elif stop.reason == "memory":
                reason = f"it used more than {self.memory_limit_mb} MB of memory and was stopped{where}"
                message = f"{kind} used more than {self.memory_limit_mb} MB of memory and was stopped{where}"
            else:
                reason = f"{stop.reason}{where}"
                message = f"{kind} refused: {reason}"
            raise ScriptRefusedError(message, line, reason) from None
        finally:
            sys.settrace(previous)
            gc.callbacks.remove(tracer.garbage_collection)
            decimal.setcontext(previous_decimal_context)


def _check_size(value: Any, kind: str, what: str) -> None:
    """Refuse a result whose text (its JSON when the task data is saved) would be too long."""
    if isinstance(value, dict | list | tuple | set | frozenset) and text_size(value) > MAX_TEXT:
        reason = f"{what} would be more than {MAX_TEXT:,} characters as text"
        raise ScriptRefusedError(f"{kind} refused: {reason}", None, reason)


def _is_code_like(value: Any) -> bool:
    """Values that are not task data: functions, classes, modules, generators."""
    return callable(value) or isinstance(value, (types.ModuleType, types.GeneratorType))


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine running every script and expression in the sandbox.

    `helpers` are extra callables visible by name to scripts and expressions (trusted code: they run
    unrestricted and untimed).  `time_limit` is the processor time one script or expression may use (its
    waits capped at `WALL_CLOCK_GRACE` times it), `memory_limit_mb` how much it may grow the process's memory.
    """

    def __init__(
        self,
        helpers: Mapping[str, Callable] | None = None,
        time_limit: float = 2.0,
        around_script: Callable[[], AbstractContextManager] = nullcontext,
        memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
    ) -> None:
        super().__init__(environment=SandboxedEnvironment(helpers, time_limit, memory_limit_mb))
        self.around_script = around_script  # e.g. undo the registry writes of a script that fails

    def evaluate(self, task: Any, expression: str, external_context: Mapping | None = None) -> Any:
        """Value of `expression` with the task data (and external_context) as names."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except ScriptRefusedError as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {err.message}",
                task=task,
                exception=err,
                line_number=err.line,
                error_line=_source_line(expression, err.line),
            ) from err
        except Exception as err:
            line = _script_line(err)
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {_describe(err)}",
                task=task,
                exception=err,
                line_number=line,
                error_line=_source_line(expression, line),
            ) from err

    def execute(self, task: Any, script: str, external_context: Mapping | None = None) -> bool:
        """Run `script` against the task data; its assignments become task data."""
        try:
            with self.around_script():
                return self.environment.execute(script, task.data, external_context or {})
        except ScriptRefusedError as err:
            raise WorkflowTaskException(
                err.message,
                task=task,
                exception=err,
                line_number=err.line,
                error_line=_source_line(script_source(script), err.line),
            ) from err
        except Exception as err:
            wrapped = self.create_task_exec_exception(task, script, err)
            if wrapped is err:
                raise
            raise wrapped from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # The base class refers to an undefined `script` here; report the real error instead.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            wrapped = self.create_task_exec_exception(task, "", err)
            if wrapped is err:
                raise
            raise wrapped from err

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> WorkflowTaskException:
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        if isinstance(err, SpiffWorkflowException):
            err.line_number = line_number
            err.error_line = error_line
            if line_number:
                err.add_note(f"Python script error on line {line_number}: '{error_line}'")
            return err
        message = _describe(err)
        if line_number:
            message += f" (line {line_number})"
        return WorkflowTaskException(message, task=task, exception=err, line_number=line_number, error_line=error_line)

    def get_error_line_number_and_content(self, script: str, err: BaseException) -> tuple[int, str]:
        # The base class looks for frames named '<string>'; sandboxed code is SCRIPT_FILENAME.
        line = (err.lineno if isinstance(err, SyntaxError) else _script_line(err)) or 0
        return line, _source_line(script_source(script), line)


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
