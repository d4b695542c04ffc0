"""The cycle's reads on the engine's threads (``engine._pulled``): every item once, the
results in the items' order, the first failure in that order raised."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from slo_exporter.engine import _pulled


def test_every_item_is_mapped_once_in_order_on_several_threads() -> None:
    """1,000 items on 4 threads: results equal a plain map, each item was called once,
    and the calls ran on more than one thread (a barrier of 2 lets no single thread
    through alone)."""
    calls: list[int] = []
    names: set[str] = set()
    barrier = threading.Barrier(2, timeout=5)

    def fn(item: int) -> int:
        if item < 2:
            barrier.wait()  # only passes once a second thread takes the other item
        calls.append(item)
        names.add(threading.current_thread().name)
        return item * item

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert _pulled(pool, 4, fn, range(1000)) == [i * i for i in range(1000)]
    assert sorted(calls) == list(range(1000))
    assert len(names) > 1


def test_the_first_failure_in_item_order_is_raised_after_every_thread_stopped() -> None:
    """Items 3 and 7 fail, 3 later than 7 (it sleeps 50 ms first): the error of item 3
    is raised, and no call is still running when it is (every started one ended)."""
    running = [0]
    lock = threading.Lock()

    def fn(item: int) -> int:
        with lock:
            running[0] += 1
        try:
            if item == 3:
                time.sleep(0.05)
            if item in (3, 7):
                raise ValueError(f"item {item}")
            return item
        finally:
            with lock:
                running[0] -= 1

    with ThreadPoolExecutor(max_workers=3) as pool, pytest.raises(ValueError, match="item 3"):
        _pulled(pool, 3, fn, range(20))
    assert running[0] == 0


def test_fewer_items_than_threads() -> None:
    """Two items on eight threads: two results, in order."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert _pulled(pool, 8, lambda item: item + 1, [10, 20]) == [11, 21]
