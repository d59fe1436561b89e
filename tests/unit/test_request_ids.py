"""Request ids made for callers that send none: plain, and never the same in two workers."""

from __future__ import annotations

import os
import re

from consent_service.api.logs import request_id_of

NO_ID: dict[str, list[tuple[bytes, bytes]]] = {"headers": []}


def made() -> str:
    value, encoded = request_id_of(NO_ID)  # type: ignore[arg-type]
    assert encoded == value.encode("ascii")
    return value


def test_a_made_id_is_32_hex_characters_and_each_is_new() -> None:
    ids = [made() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_makes_other_ids_than_its_parent() -> None:
    """Workers forked from one parent would otherwise share its generator and repeat its ids."""
    made()  # the parent's generator has state before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, made().encode("ascii"))
        os._exit(0)
    os.close(write)
    from_child = os.read(read, 64).decode("ascii")
    os.waitpid(child, 0)
    os.close(read)
    assert re.fullmatch(r"[0-9a-f]{32}", from_child)
    assert from_child != made()
