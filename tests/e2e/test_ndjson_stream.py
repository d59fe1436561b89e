"""A mailing tool streams a list far past the JSON limit to a real server and reads as it sends."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import running
from tests.support.ndjson_client import post_ndjson
from tests.support.processes import rss_kib

LINES = 200_000


@pytest.mark.parametrize("server_kind", ["granian", "uvicorn"])
def test_a_long_stream_is_answered_in_order_in_flat_memory(tmp_path: Path, server_kind: str) -> None:
    with running(tmp_path, "--server", server_kind) as server:
        opted_out = "streamed.out@example.org"
        suppressed = httpx.post(
            f"{server.base}/v1/suppressions",
            json={"to": opted_out, "channel": "email", "reason": "complaint"},
            headers=server.auth,
        )
        assert suppressed.status_code == 201, suppressed.text

        def body() -> Iterator[bytes]:
            for start in range(0, LINES, 5_000):
                yield b"".join(
                    b'{"to":"%s"}\n' % (opted_out if i == LINES - 1 else f"n{i}@list.example.org").encode()
                    for i in range(start, start + 5_000)
                )

        # Warm the server up so what it allocates once is not counted as growth.
        asyncio.run(
            post_ndjson(
                f"{server.base}/v1/checks/bulk?purpose=marketing&channel=email",
                [b'{"to":"warm@example.org"}\n' * 5_000],
                server.auth,
            )
        )
        before = rss_kib(server.pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak.append(rss_kib(server.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        numbers: list[int] = []
        last: dict[str, object] = {}

        def take(line: bytes) -> None:
            answer = json.loads(line)
            numbers.append(answer["line"])
            last.update(answer)

        try:
            answer = asyncio.run(
                post_ndjson(
                    f"{server.base}/v1/checks/bulk?purpose=marketing&channel=email",
                    body(),
                    server.auth,
                    on_line=take,
                )
            )
        finally:
            done.set()
            sampler.join()

        assert answer.status == 200
        assert numbers == list(range(1, LINES + 1))
        assert last == {"line": LINES, "to": opted_out, "allowed": False, "reason": "suppressed"}
        # The answers alone come to about 16 MiB: a server that held them, or the request, would show it.
        growth_mib = (max(peak) - before) / 1024
        assert growth_mib < 12, f"server memory grew by {growth_mib:.0f} MiB over the stream"
