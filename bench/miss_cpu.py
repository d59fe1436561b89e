"""CPU time and statements of one single check that misses the answer cache, in this process.

On the embedded SQLite default nearly every check of a rotating load misses the cache, so what a miss
costs is what a check costs. This times ``checks.check`` called directly with the answer cache taken
away (``NO_ANSWERS``: every call reads the store), over addresses of every kind a check meets, as CPU
time of this process (``time.process_time``), which other work on a shared machine inflates far less
than wall-clock time. It counts the statements each miss sends, and can write every answer to a file,
so that two checkouts' answers over the same store can be compared line by line.

PostgreSQL's own CPU is not in the figures (another process); SQLite's is (it runs in this process).
The store is seeded through the API as ``bench/bulk_cpu.py`` seeds it.

    .venv/bin/python bench/miss_cpu.py --backend sqlite|postgresql [--keep state.json] [--dump answers.txt]

With ``--keep``, a second run (of this checkout or, with ``--compare``, of another one's copy of this
script) reuses the store, so two checkouts are timed over the same rows; ``--drop`` removes a kept
PostgreSQL database afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# The bench runs as a script: the checkout it is in comes first, then its sibling bench module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from bulk_cpu import arguments, seeded

from consent_service.domain.channels import Channel
from consent_service.services import checks


class Statements:
    """Statements sent to either database by this process, counted as they go."""

    def __init__(self) -> None:
        self.count = 0
        event.listen(Engine, "before_cursor_execute", self._sent)

    def _sent(self, *_: Any) -> None:
        self.count += 1


async def measure(args: argparse.Namespace) -> None:
    kept = Path(args.keep) if args.keep else None
    async with seeded(args.backend, args.people, kept, random.Random(15), "miss", drop=args.drop) as bench:
        backend, context, known = bench.backend, bench.context, bench.known
        # Every kind of address, and as many held for nobody as a rotating load meets.
        addresses = known + [f"nobody.{i}@unknown.example.org" for i in range(len(known) // 3)]
        # Every call reads the store, as a miss does: the answer cache is taken away.
        uncached = replace(context, answers=checks.NO_ANSWERS)
        requests = [checks.CheckInput("marketing", Channel.EMAIL, to=a) for a in addresses]

        async def every_address() -> list[Any]:
            return [await checks.check(uncached, request) for request in requests]

        answers = await every_address()  # warm: statements compiled, pools filled
        if args.dump:
            Path(args.dump).write_text(
                "".join(f"{a} {answer!r}\n" for a, answer in zip(addresses, answers, strict=True))
            )
        statements = Statements()
        await every_address()
        per_check = statements.count / len(requests)
        runs = []
        for _ in range(args.repeats):
            started = time.process_time()
            await every_address()
            runs.append((time.process_time() - started) * 1e6 / len(requests))
        print(
            f"{backend}: {len(requests):,} misses per run; statements per miss {per_check:.2f};"
            f" CPU µs per miss: median {statistics.median(runs):.0f}, min {min(runs):.0f}"
            f" (of {args.repeats} runs)"
        )


def main() -> None:
    parser = arguments(__doc__, people=600, repeats=5)
    parser.add_argument("--drop", action="store_true", help="drop the kept PostgreSQL database at the end")
    parser.add_argument("--dump", help="write each address's answer here, one a line")
    args = parser.parse_args()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
