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


class _PauseWatch:
    """A ``gc.callbacks`` entry timing each collection (two calls per collection, no allocation)."""

    def __init__(self) -> None:
        self._started = 0.0
        self._histograms = [PAUSES.labels(str(generation)) for generation in range(3)]
        self._gauges = [LONGEST.labels(str(generation)) for generation in range(3)]
        self._longest = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info["generation"]
        self._histograms[generation].observe(pause)
        if pause > self._longest[generation]:
            self._longest[generation] = pause
            self._gauges[generation].set(pause)


def watch_pauses() -> None:
    """Time every collection from now on in this process (once; calling again changes nothing)."""
    if not any(isinstance(callback, _PauseWatch) for callback in gc.callbacks):
        gc.callbacks.append(_PauseWatch())


def freeze_start_up() -> None:
    """Collect what starting up left behind, then keep everything still alive out of later collections."""
    gc.collect()
    gc.freeze()
