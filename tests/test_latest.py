"""fmnist.latest: many threads asking for a key's newest value; one builds, the others never wait for it."""
from __future__ import annotations

import threading
import time

from fmnist.latest import Latest


def build_held(cache: Latest, key, version, value=None, error: Exception | None = None):
    """A thread building (key, version) that holds the build until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def build():
        started.set()
        release.wait(10)
        if error:
            raise error
        return value

    def ask():
        try:
            cache.get(key, version, build)
        except RuntimeError:
            pass

    builder = threading.Thread(target=ask)
    builder.start()
    assert started.wait(10)
    return builder, release


def test_the_same_version_is_built_once_and_shared():
    cache, builds = Latest(), []
    first = cache.get("run 1", 3, lambda: builds.append(3) or ["figure 3"])
    assert cache.get("run 1", 3, lambda: builds.append("again") or ["other"]) is first
    assert builds == [3]


def test_while_one_thread_builds_a_new_version_the_others_get_the_last_one_at_once():
    cache = Latest()
    cache.get("run 1", 1, lambda: "epoch 1")
    builder, release = build_held(cache, "run 1", 2, "epoch 2")
    answers, waited = [], []

    def reader():
        begin = time.perf_counter()
        answers.append(cache.get("run 1", 2, lambda: "built twice"))
        waited.append(time.perf_counter() - begin)

    readers = [threading.Thread(target=reader) for _ in range(20)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(10)
    assert answers == ["epoch 1"] * 20 and max(waited) < 1.0  # nobody queued behind the build
    release.set()
    builder.join(10)
    assert cache.get("run 1", 2, lambda: "built twice") == "epoch 2"


def test_a_failed_build_lets_the_next_caller_build():
    cache = Latest()
    cache.get("run 1", 1, lambda: "epoch 1")

    def broken():
        raise RuntimeError("plotly broke")

    try:
        cache.get("run 1", 2, broken)
    except RuntimeError:
        pass
    assert cache.get("run 1", 2, lambda: "epoch 2") == "epoch 2"


def test_least_recently_used_keys_go_first():
    cache = Latest(size=2)
    cache.get("a", 1, lambda: "a1")
    cache.get("b", 1, lambda: "b1")
    cache.get("a", 1, lambda: "rebuilt")  # a is now the most recent
    cache.get("c", 1, lambda: "c1")       # b goes
    assert cache.get("a", 1, lambda: "rebuilt") == "a1"
    assert cache.get("b", 1, lambda: "b rebuilt") == "b rebuilt"


def test_callers_with_nothing_to_show_wait_for_the_first_build_instead_of_building_again():
    cache, builds = Latest(), []
    builder, release = build_held(cache, "new run", 0, "epoch 0")
    answers = []
    readers = [threading.Thread(target=lambda: answers.append(cache.get("new run", 0, lambda: builds.append("again"))))
               for _ in range(20)]
    for t in readers:
        t.start()
    time.sleep(0.2)
    assert answers == []  # waiting: there is no older value to give them
    release.set()
    for t in readers + [builder]:
        t.join(10)
    assert answers == ["epoch 0"] * 20 and builds == []  # only the first caller built


def test_when_the_first_build_fails_a_waiting_caller_builds():
    cache = Latest()
    builder, release = build_held(cache, "new run", 0, error=RuntimeError("plotly broke"))
    answers = []
    reader = threading.Thread(target=lambda: answers.append(cache.get("new run", 0, lambda: "built by the reader")))
    reader.start()
    release.set()
    for t in (builder, reader):
        t.join(10)
    assert answers == ["built by the reader"]
