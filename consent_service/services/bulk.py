"""What the long imports and exports share: the progress they report and the batches they work in.

A file of many thousand rows takes a while, so each phase says how far it has gone (the command line
draws a bar; everyone else passes nothing). Rows are read and written a batch at a time, each batch in
one transaction, so the write lock is held briefly and an opt-out is never kept waiting behind a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

__all__ = ["BATCH", "QUIET", "Progress", "in_batches"]

#: Rows written per transaction.
BATCH = 200

T = TypeVar("T")


class Progress(Protocol):
    """Told how far an import or export has gone; the command line draws it as a bar."""

    def start(self, phase: str, total: int | None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class _Quiet:
    def start(self, phase: str, total: int | None) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None


QUIET: Progress = _Quiet()


def in_batches(items: Sequence[T], size: int = BATCH) -> Iterable[Sequence[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))
