"""Use cases' results as JSON and back, with msgspec: it rebuilds the domain's dataclasses, enums and
times from their annotations, which the services, kept free of serialisers, cannot do themselves."""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")


class JsonResults:
    def dump(self, result: object) -> str:
        return msgspec.json.encode(result).decode()

    def load(self, text: str, kind: type[T]) -> T:
        return msgspec.json.decode(text, type=kind)
