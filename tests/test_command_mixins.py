"""The engine is one class made of command mixins: a name two of them define must be a deliberate wrap.

Two mixins naming a helper alike (`_record_failure` for a failed job and for a failed sign-in) would let
the first in the MRO silently replace the other's for every caller; a deliberate override calls super().
"""

from __future__ import annotations

import inspect
from collections import defaultdict

from engine.core import Engine


def test_every_method_a_mixin_defines_over_another_calls_super() -> None:
    defined: dict[str, list[type]] = defaultdict(list)
    for cls in Engine.__mro__:
        if cls.__module__.startswith("engine."):
            for name in vars(cls):
                if not (name.startswith("__") and name.endswith("__")):
                    defined[name].append(cls)
    shadowing = [
        f"{cls.__name__}.{name} hides {classes[-1].__name__}.{name} without calling super().{name}"
        for name, classes in defined.items()
        for cls in classes[:-1]
        if f"super().{name}" not in inspect.getsource(vars(cls)[name])
    ]
    assert len(defined) > 200  # the scan saw the engine's commands
    assert shadowing == []
