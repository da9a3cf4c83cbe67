"""The newest value built for each key, shared by many readers, where one a little old beats a wait.

Forty sessions watching one run all ask for its new figure in the same second an epoch ends. A plain
cache makes them queue behind the one thread building it (54 ms of Plotly, far longer with forty
scripts sharing the interpreter). Here the others get the previous epoch's figure at once and the next
poll shows the new one; only for a key's first value, with nothing older to show, do they wait for the one
build. Hand-written: no cache library we use serves a stale value while one thread
rebuilds (cachetools and functools block or build twice)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


FIRST_WAIT_S = 30  # how long a caller with nothing to show waits for another thread's first build


class Latest(Generic[T]):
    """Per key, the value of the newest version built; at most `size` keys kept (least recently used out)."""

    def __init__(self, size: int = 64):
        self.size = size
        self._ready = threading.Condition()
        self._values: OrderedDict[Hashable, tuple[Hashable, T]] = OrderedDict()
        self._building: set[Hashable] = set()

    def get(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """`version`'s value; if another thread is building it, the last value built for `key` meanwhile.

        A caller with nothing to show for `key` waits for the thread building its first value (forty
        sessions opening a new run cost one build, not forty); one whose key nobody is building builds."""
        with self._ready:
            self._ready.wait_for(lambda: key in self._values or key not in self._building, FIRST_WAIT_S)
            have = self._values.get(key)
            if have is not None:
                self._values.move_to_end(key)
                if have[0] == version or key in self._building:
                    return have[1]
            self._building.add(key)
        try:
            value = build()
        except BaseException:
            with self._ready:
                self._building.discard(key)
                self._ready.notify_all()
            raise
        with self._ready:
            self._building.discard(key)
            self._values[key] = (version, value)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            self._ready.notify_all()
        return value
