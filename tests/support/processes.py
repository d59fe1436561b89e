"""The server's process tree as /proc shows it: its CPU time and resident memory, workers included."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """The process and its children's children: the server's workers are children of its main process."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def cpu_ticks(pid: int) -> int | None:
    """User + system CPU ticks of the server process tree, from /proc (None where /proc is missing)."""
    total = 0
    for member in descendants(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            if member == pid:
                return None
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of the server process tree, in KiB."""
    total = 0
    for member in descendants(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total


def settle(pid: int, window: float = 0.3, idle_pct: float = 15, max_wait: float = 30) -> float:
    """Wait until the server's processes use under ``idle_pct`` % of a core over ``window``; return seconds
    waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_wait:
        before = cpu_ticks(pid)
        time.sleep(window)
        after = cpu_ticks(pid)
        if before is None or after is None:
            break
        if 100 * (after - before) / os.sysconf("SC_CLK_TCK") / window < idle_pct:
            break
    return time.monotonic() - started
