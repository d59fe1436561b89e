"""The collector's pauses are timed without ever waiting on the Prometheus client's lock.

With several workers the client writes every metric under one lock. A collection can start while a
worker holds it (writing a value, or making a new series, which allocates); a callback that then
observed a pause waited for the lock for ever, and the worker stopped answering. Run in a process of
its own, as a worker runs: with the shared lock in force (``PROMETHEUS_MULTIPROC_DIR``) and a
deadlock that would otherwise hang the suite.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, os, sys, tempfile
os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder = tempfile.mkdtemp()
from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector
from consent_service.adapters import collector

collector.watch_pauses()
inc = values.ValueClass.inc
lock = dict(zip(inc.__code__.co_freevars, (c.cell_contents for c in inc.__closure__)))["lock"]
with lock:  # this worker is writing some metric when a full collection starts
    gc.collect()
    gc.collect()
collector.publish_pauses()
registry = CollectorRegistry()
MultiProcessCollector(registry, path=folder)
count = registry.get_sample_value("consent_gc_pause_seconds_count", {"generation": "2"})
longest = registry.get_sample_value("consent_gc_longest_pause_seconds", {"generation": "2"})
print(count, longest > 0)
"""


def test_a_collection_that_starts_inside_the_metrics_lock_neither_waits_nor_goes_unrecorded() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, a script of our own
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2.0", "True"], done.stdout
