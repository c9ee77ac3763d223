"""A long-running process's start-up objects, kept out of the garbage collector's full collections."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive to the permanent generation.

    A full collection walks every tracked object while all threads wait: in an API process the modules,
    the Flask app and the engine are about 130,000 objects that live as long as the process (60-90 ms of
    every full collection on the bench machine). Frozen, a full collection walks only what the process made
    since: the live-workflow cache, the requests in flight. Call it once, when start-up is done.
    """
    gc.collect()
    gc.freeze()
