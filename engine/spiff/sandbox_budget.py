"""The script sandbox's memory budget: how much a script may grow the process, and how big its text gets.

The time limit and the size caps on single operations (sandbox_guards) leave two ways to exhaust memory:

- piling objects up step by step (`big.append("x" * 9_000_000)` in a loop): 2 GB within a 2 s budget.
  The tracer (sandbox.py) and the guards call `checkpoint()`; at most once a millisecond it compares
  the process's resident memory with what it was when the script started and stops the script once it
  grew by more than the budget (`GOVFLOW_SCRIPT_MEMORY_LIMIT`, 256 MB by default). The process is the
  unit the kernel counts; another request's allocation in the same moment counts against the script,
  which the generous default absorbs. Builtins that copy (`list`, `dict`, `sorted`, ...) are handed to
  scripts as `CheckedType`s that checkpoint first, so `list(map(list, rows))` is stopped too, though
  the loop runs in C where no line of the script is traced.
- text made from structures that share their parts: `y = [x] * 1_000_000` with `x` a million-item list
  is 16 MB, but `str(y)` is 3 TB, built in one C call no time limit can interrupt, and so is its JSON
  when the task data is saved. `text_size` estimates such a length, counting each shared part every
  time it appears, and stops counting past the limit; `str`, `repr`, f-strings, `%` and `str.format`
  check it first, and so does the data a script or expression leaves (sandbox.py).

Not covered: CPU spent in one C call over shared structures (comparing or sorting `[x] * 1_000_000`)
holds the interpreter and is bounded only by what the budget lets a script build.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import Callable
from typing import Any

from engine.spiff.sandbox_policy import refuse

__all__ = ["DEFAULT_MEMORY_LIMIT_MB", "MAX_TEXT", "CheckedType", "checkpoint", "check_text", "rss_bytes", "text_size"]

DEFAULT_MEMORY_LIMIT_MB = 256
MAX_TEXT = 10_000_000  # characters of text a script may make from one value, and of the data it leaves
CHECK_INTERVAL = 0.001  # seconds between two looks at the process's memory

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm = threading.local()


def rss_bytes() -> int:
    """The process's resident memory now (Linux: /proc/self/statm; elsewhere its peak, from getrusage)."""
    pid = os.getpid()
    fd = getattr(_statm, "fd", None)
    if fd is None or getattr(_statm, "pid", None) != pid:  # opened again after a fork: /proc/self moved
        try:
            fd = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            fd = -1
        _statm.fd, _statm.pid = fd, pid
    if fd >= 0:
        return int(os.pread(fd, 64, 0).split()[1]) * _PAGE
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def checkpoint() -> None:
    """Let the running script's tracer look at its time and memory budget (from guards called in C loops)."""
    check = getattr(sys.gettrace(), "checkpoint", None)
    if check is not None:
        check()


class _Measured:
    """Marks where a container's items end on the walk's stack, to remember the container's size."""

    __slots__ = ("key", "before")

    def __init__(self, key: int, before: int) -> None:
        self.key = key
        self.before = before


_SCALARS = frozenset({int, float, bool, type(None)})


def _flat_size(items: Any) -> int | None:
    """The text size of a collection of only numbers, booleans and None, or only strings, counted in C."""
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return 2 * len(items)  # at least one character and a separator each
    if kinds == {str}:
        return sum(map(len, items)) + 4 * len(items)  # quotes and a separator each
    return None


def text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters `repr(value)` or its JSON has, each shared part counted where it appears.

    A lower bound, good enough to tell a blow-up from ordinary data; counting stops once past `limit`.
    Each container is walked once (and a flat one in C): where it appears again its size is added as
    measured, so the walk costs about as many steps as the value has distinct containers and mixed
    items, however long its text would be.
    """
    total = 0
    sizes: dict[int, int] = {}  # containers measured (their id, while `value` keeps them alive)
    pending: list[Any] = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, _Measured):
            sizes[item.key] = total - item.before
        elif isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes | bytearray):
            total += len(item) + 3
        elif isinstance(item, dict | list | tuple | set | frozenset):
            known = sizes.get(id(item))
            if known is not None:
                total += known
                continue
            sizes[id(item)] = 2 + len(item)  # while it is walked: where it contains itself
            pending.append(_Measured(id(item), total))
            total += 2
            for part in (item.keys(), item.values()) if isinstance(item, dict) else (item,):
                flat = _flat_size(part)
                if flat is None:
                    total += len(part)
                    pending.extend(part)
                else:
                    total += flat
        elif isinstance(item, int):
            total += 1 + item.bit_length() * 3 // 10
        else:
            total += 8
    return total


def check_text(value: Any, what: str) -> None:
    """Refuse to make text of `value` when it would be longer than MAX_TEXT characters."""
    if isinstance(value, dict | list | tuple | set | frozenset) and text_size(value) > MAX_TEXT:
        refuse(f"{what} would produce more than {MAX_TEXT:,} characters")


class CheckedType:
    """A builtin type as scripts see it: calling it checkpoints first, isinstance() sees the real type.

    `before` (optional) checks the arguments, e.g. the size of the text `str(x)` would make.
    """

    def __init__(self, cls: type, before: Callable[..., None] | None = None) -> None:
        self._cls = cls
        self._before = before

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        checkpoint()
        if self._before is not None:
            self._before(*args, **kwargs)
        return self._cls(*args, **kwargs)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self._cls)

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, self._cls)

    def __getattr__(self, name: str) -> Any:
        # Scripts reach `dict.fromkeys` or `str.join` through the guarded getattr, which looks at the type
        # itself; this is for trusted code only.
        return getattr(self._cls, name)

    @property
    def wrapped(self) -> type:
        return self._cls

    def __repr__(self) -> str:
        return repr(self._cls)


def checked_function(func: Callable[..., Any], before: Callable[..., None] | None = None) -> Callable[..., Any]:
    """A builtin function (`sorted`, `repr`) that checkpoints, and checks its arguments, before it runs."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        checkpoint()
        if before is not None:
            before(*args, **kwargs)
        return func(*args, **kwargs)

    checked.__name__ = func.__name__
    return checked
