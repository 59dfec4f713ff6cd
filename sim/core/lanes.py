"""Lanes: the number of the run's worker thread an episode runs on (0..C-1 with C concurrent episodes).

The harness numbers its workers; a model backend that keeps state per concurrent episode reads the number
(the embedded llama.cpp backend gives each lane server slots of its own: agents/llm/embedded_slots.py).
Neither needs to know the other: both meet here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

_local = threading.local()


def set_lane(lane: int) -> None:
    """Called by each worker thread of a run (the harness numbers its workers 0..C-1)."""
    _local.lane = lane


def current_lane() -> int:
    """The calling thread's lane; threads that were given none (the main thread, the web app) use lane 0.
    Thread-local, not keyed by thread id: ids are reused once a thread ends, so a later run's worker
    could inherit another worker's lane."""
    return getattr(_local, "lane", 0)


def lane_numbering() -> Callable[[], None]:
    """A ThreadPoolExecutor initializer giving its workers lanes 0, 1, 2, ... in the order they start."""
    counter = itertools.count()
    lock = threading.Lock()

    def initializer() -> None:
        with lock:
            set_lane(next(counter))

    return initializer
