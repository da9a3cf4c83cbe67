"""Waiting for something real to happen (a worker, a server) without a fixed sleep."""
from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 240.0, every: float = 0.2, what: str = "condition"):
    """The predicate's first truthy value; generous by default: a loaded CI machine starts TensorFlow slowly."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not met within {timeout} s")
