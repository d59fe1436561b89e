"""Python's garbage collector in a long-running worker: its pauses measured, its start-up heap frozen.

A worker starts with about 145,000 objects that live as long as it does (Litestar's routes, the
OpenAPI schema, SQLAlchemy's tables and compiled statements, Jinja's templates). A full collection
walks every one of them and stops the worker while it does (about 15 ms here), and every request
waiting on that worker waits with it. ``freeze_start_up`` moves them out of the collector's sight
once the worker is ready, so a full collection walks only what the requests made since.

``consent_gc_pause_seconds`` shows each generation's pauses on ``/metrics``, so an operator can see
whether the collector is behind the worst latencies rather than guess (docs/RELIABILITY.md has the
figures that decided this).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from prometheus_client import Gauge, Histogram

PAUSES = Histogram(
    "consent_gc_pause_seconds",
    "Pauses of Python's garbage collector, by generation",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
)
LONGEST = Gauge(
    "consent_gc_longest_pause_seconds",
    "The longest pause of Python's garbage collector since the worker started, by generation",
    ["generation"],
    multiprocess_mode="max",
)


#: Pauses a worker holds between publications, per generation, at most: a bound, not a figure.
PENDING_AT_MOST = 10_000


class _PauseWatch:
    """A ``gc.callbacks`` entry timing each collection; ``publish`` hands the pauses to Prometheus.

    Never the callback itself: a collection can start while this thread holds the Prometheus
    client's lock (with several workers it is one lock for every metric, taken while a value is
    written and while a new series is made, which allocates). Observing from there waited for that
    lock for ever, and the worker with it (``tests/unit/test_collector.py`` shows it): in a long
    soak one of two workers stopped answering 13 s after it started, and ``/metrics`` sent to it
    timed out. Kept here are floats in lists, which a collection neither waits for nor collects.
    """

    def __init__(self) -> None:
        self._started = 0.0
        self._histograms = [PAUSES.labels(str(generation)) for generation in range(3)]
        self._gauges = [LONGEST.labels(str(generation)) for generation in range(3)]
        self._longest = [0.0, 0.0, 0.0]
        self._pending: list[list[float]] = [[], [], []]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pending = self._pending[info["generation"]]
        if len(pending) < PENDING_AT_MOST:
            pending.append(time.perf_counter() - self._started)

    def publish(self) -> None:
        for generation, pending in enumerate(self._pending):
            if not pending:
                continue
            # A fresh list first: a collection during the observing below adds to that one.
            self._pending[generation] = []
            for pause in pending:
                self._histograms[generation].observe(pause)
            longest = max(pending)
            if longest > self._longest[generation]:
                self._longest[generation] = longest
                self._gauges[generation].set(longest)


def _watch() -> _PauseWatch | None:
    return next((callback for callback in gc.callbacks if isinstance(callback, _PauseWatch)), None)


def watch_pauses() -> None:
    """Time every collection from now on in this process (once; calling again changes nothing)."""
    if _watch() is None:
        gc.callbacks.append(_PauseWatch())


def publish_pauses() -> None:
    """Hand the pauses timed since the last call to Prometheus (none if nothing watches them)."""
    if (watch := _watch()) is not None:
        watch.publish()


async def keep_pauses_published(every: float = 1.0) -> None:
    """``publish_pauses`` every ``every`` seconds, from the event loop, never from a collection."""
    while True:
        publish_pauses()
        await asyncio.sleep(every)


def freeze_start_up() -> None:
    """Collect what starting up left behind, then keep everything still alive out of later collections."""
    gc.collect()
    gc.freeze()
