"""A streaming NDJSON client that sends and reads at the same time, as a mailing tool must.

httpx (and most HTTP clients) send the whole request body before reading the answer; against a
server that answers while the body still arrives, a long list then fills both directions' buffers
and neither side moves. This client writes the body in one task and reads answers in another, over
plain HTTP/1.1 with chunked transfer encoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class StreamedAnswer:
    status: int
    headers: dict[str, str]
    lines: list[bytes] = field(default_factory=list)
    body: bytes = b""


async def post_ndjson(
    url: str,
    chunks: Iterable[bytes],
    headers: dict[str, str],
    on_line: Callable[[bytes], object] | None = None,
) -> StreamedAnswer:
    """POST ``chunks`` as a chunked NDJSON body to ``url``; return the status and the answer lines.

    With ``on_line``, each answer line is handed to it instead of kept, so a long stream costs the
    client no memory either.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = [
        f"POST {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/x-ndjson",
        "Transfer-Encoding: chunked",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())

    async def send() -> None:
        for chunk in chunks:
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    sending = asyncio.create_task(send())
    try:
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        response_headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        answer = StreamedAnswer(status, response_headers)
        pending = b""
        async for data in _body(reader, response_headers):
            pending += data
            *complete, pending = pending.split(b"\n")
            for line in complete:
                if line:
                    on_line(line) if on_line else answer.lines.append(line)
        if pending:
            on_line(pending) if on_line else answer.lines.append(pending)
        answer.body = b"\n".join(answer.lines)
        if status == 200:
            await sending
        return answer
    finally:
        sending.cancel()
        writer.close()


async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while data := await reader.read(65536):
            yield data
