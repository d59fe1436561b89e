"""Streamed bulk checks: NDJSON sent and the answers read at the same time.

httpx (like most HTTP clients) writes a request's whole body before reading the answer; the service
answers a streamed list while the body is still arriving, so on a long list both directions' buffers
fill and neither side moves. Here the body is written by one task and the answers read by another
over one HTTP/1.1 connection, h11 doing the protocol, on an event loop in a thread of its own so the
caller iterates plain results. Hand-written because no well-kept Python HTTP client sends and reads
one HTTP/1.1 exchange at once.

Every address given gets exactly one result, in order: when the service cannot be reached, or
stops answering, after the retries the addresses not yet answered are each denied as
``unreachable``, so a mailing loop that sends on ``allowed`` can neither skip nor mail one unasked.
"""

from __future__ import annotations

import asyncio
import queue
import ssl
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import httpx
import msgspec

from consent_client.errors import ConsentServiceError
from consent_client.models import UNREACHABLE, BulkResult, Contact
from consent_client.retry import RETRY_STATUSES, Retry, retry_after

#: Lines sent in one chunk at most: small enough to keep answers flowing, big enough to be cheap.
CHUNK_LINES = 500
#: How far ahead of what was sent the caller's iterable is read.
SOURCE_AHEAD = 2_000
#: Results waiting for the caller; past this the stream waits for the caller to take some.
QUEUE_SIZE = 10_000


class _Line(msgspec.Struct, frozen=True):
    line: int
    allowed: bool = False
    reason: str = ""
    degraded: bool = False
    error: str | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_encode = msgspec.json.Encoder().encode


class _Failed(Exception):
    """This attempt got no (complete) answer; ``retry`` says whether another attempt may help."""

    def __init__(self, message: str, *, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


class _SourceFailed(Exception):
    """The caller's own iterable raised: handed back to the caller as it was, never retried."""


class _Stopped(Exception):
    """The caller stopped iterating."""


@dataclass(frozen=True)
class StreamRequest:
    url: httpx.URL
    headers: list[tuple[str, str]]
    timeout: float
    retry: Retry
    ssl_context: ssl.SSLContext | None = None


def fail_closed(allowed: bool, reason: str, degraded: bool) -> bool:
    """A degraded answer allows only an administrative message, whatever it says (belt and braces)."""
    return allowed and (not degraded or reason == "administrative")


def stream_checks(request: StreamRequest, contacts: Iterable[Contact]) -> Iterator[BulkResult]:
    """One result per contact, in order, while the list is still being sent (see the module's docstring)."""
    results: queue.Queue[BulkResult | _Done] = queue.Queue(maxsize=QUEUE_SIZE)
    stop = threading.Event()

    def put(item: BulkResult | _Done) -> None:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
            except queue.Full:
                continue
            return
        raise _Stopped

    def run() -> None:
        try:
            asyncio.run(_until_stopped(_attempts(request, contacts, put, stop), stop))
        except _Stopped:
            return
        except BaseException as exc:
            put(_Done(exc))
        else:
            put(_Done(None))

    worker = threading.Thread(target=run, name="consent-client-stream", daemon=True)
    worker.start()
    try:
        while True:
            item = results.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        worker.join()


@dataclass(frozen=True)
class _Done:
    error: BaseException | None


class _End:
    """The caller's iterable is exhausted (``error`` None) or raised ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Source:
    """The caller's iterable, read on a thread of its own into a bounded queue on the event loop.

    Reading it on the loop would stop answers being read whenever it blocks (a database cursor
    fetching its next page); an item once taken from it stays in the queue, or in ``pending`` once
    sent, until answered, so a failed attempt loses none.
    """

    def __init__(self, contacts: Iterable[Contact], stop: threading.Event) -> None:
        self.items: asyncio.Queue[Contact | _End] = asyncio.Queue()
        self._room = threading.Semaphore(SOURCE_AHEAD)
        self._loop = asyncio.get_running_loop()
        self._stop = stop
        self._ended: _End | None = None
        self._thread = threading.Thread(target=self._read, args=(contacts,), daemon=True)
        self._thread.start()

    async def get(self) -> Contact | _End:
        if self._ended is not None:
            return self._ended
        return self._took(await self.items.get())

    def get_nowait(self) -> Contact | _End | None:
        if self._ended is not None:
            return self._ended
        try:
            return self._took(self.items.get_nowait())
        except asyncio.QueueEmpty:
            return None

    def _took(self, item: Contact | _End) -> Contact | _End:
        # The end is kept: an attempt after the one that read it must find it too.
        if isinstance(item, _End):
            self._ended = item
        self._room.release()
        return item

    def _read(self, contacts: Iterable[Contact]) -> None:
        try:
            for contact in contacts:
                if not self._offer(contact):
                    return
        except Exception as exc:
            self._offer(_End(exc))
        else:
            self._offer(_End())

    def _offer(self, item: Contact | _End) -> bool:
        while not self._room.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
        try:
            self._loop.call_soon_threadsafe(self.items.put_nowait, item)
        except RuntimeError:  # the loop has closed: the caller stopped iterating
            return False
        return True


async def _until_stopped(work: Coroutine[Any, Any, None], stop: threading.Event) -> None:
    """``work``, abandoned when the caller stops iterating (it may be waiting on the service or the list)."""
    task = asyncio.create_task(work)
    while not stop.is_set():
        done, _ = await asyncio.wait({task}, timeout=0.1)
        if done:
            return task.result()
    task.cancel()
    raise _Stopped


async def _attempts(
    request: StreamRequest, contacts: Iterable[Contact], put: Callable[[Any], None], stop: threading.Event
) -> None:
    source = _Source(contacts, stop)
    pending: deque[Contact] = deque()
    tries = 0
    while True:
        tries += 1
        try:
            await _exchange(request, source, pending, put)
            return
        except _SourceFailed as exc:
            raise exc.__cause__ or exc from None
        except _Failed as exc:
            if not exc.retry:
                raise ConsentServiceError(str(exc)) from None
            delay = request.retry.delay(tries, exc.retry_after)
        except (OSError, TimeoutError, h11.ProtocolError):
            delay = request.retry.delay(tries)
        if delay is None:
            break
        await asyncio.sleep(delay)
    # No answer: each address not yet answered is denied, in order, so none is skipped or mailed unasked.
    for to in pending:
        put(BulkResult(to=to, allowed=False, reason=UNREACHABLE, degraded=True))
    while True:
        item = await source.get()
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            return
        put(BulkResult(to=item, allowed=False, reason=UNREACHABLE, degraded=True))


async def _exchange(
    request: StreamRequest, source: _Source, pending: deque[Contact], put: Callable[[Any], None]
) -> None:
    """One attempt over one connection; results handed to ``put`` as they come. Raises on any failure.

    What an earlier attempt sent and had no answer to (``pending``) is sent again first.
    """
    url = request.url
    https = url.scheme == "https"
    context = (request.ssl_context or ssl.create_default_context()) if https else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(url.host, url.port or (443 if https else 80), ssl=context), request.timeout
    )
    connection = h11.Connection(h11.CLIENT)
    netloc = url.netloc.decode("ascii")
    headers = [
        ("Host", netloc),
        ("Content-Type", "application/x-ndjson"),
        ("Accept", "application/x-ndjson"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        *request.headers,
    ]
    writer.write(connection.send(h11.Request(method="POST", target=url.raw_path, headers=headers)) or b"")
    resend = list(pending)

    async def write(contacts: list[Contact]) -> None:
        data = b"".join(_encode({"to": to if isinstance(to, str) else dict(to)}) + b"\n" for to in contacts)
        writer.write(connection.send(h11.Data(data=data)) or b"")
        await asyncio.wait_for(writer.drain(), request.timeout)

    async def send() -> None:
        for start in range(0, len(resend), CHUNK_LINES):
            await write(resend[start : start + CHUNK_LINES])
        while True:
            first = await source.get()
            batch: list[Contact | _End] = [first]
            while len(batch) < CHUNK_LINES and not isinstance(batch[-1], _End):
                if (more := source.get_nowait()) is None:
                    break
                batch.append(more)
            last = batch[-1]
            end = last if isinstance(last, _End) else None
            contacts = [item for item in batch if not isinstance(item, _End)]
            pending.extend(contacts)
            if contacts:
                await write(contacts)
            if end is not None:
                if end.error is not None:
                    raise _SourceFailed from end.error
                break
        writer.write(connection.send(h11.EndOfMessage()) or b"")
        await asyncio.wait_for(writer.drain(), request.timeout)

    sending = asyncio.create_task(send())
    try:
        await _read(request, connection, reader, sending, pending, put)
        await sending
    finally:
        sending.cancel()
        writer.close()


async def _read(
    request: StreamRequest,
    connection: h11.Connection,
    reader: asyncio.StreamReader,
    sending: asyncio.Task[None],
    pending: deque[Contact],
    put: Callable[[Any], None],
) -> None:
    status = 0
    wait_after: float | None = None
    partial = b""
    number = 0
    refused = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await _next_bytes(request, reader, sending))
        elif isinstance(event, h11.Response):
            status = event.status_code
            wait_after = retry_after(dict(event.headers).get(b"retry-after", b"").decode("latin-1") or None)
        elif isinstance(event, h11.Data):
            if status != 200:
                refused += event.data
                continue
            *complete, partial = (partial + bytes(event.data)).split(b"\n")
            for raw in complete:
                if not raw.strip():
                    continue
                answer = _decode_line(raw)
                number += 1
                if answer.line != number or not pending:
                    raise _Failed(f"answer line {answer.line} came where line {number} was expected")
                to = pending.popleft()
                if answer.error is not None:
                    put(BulkResult(to=to, allowed=False, reason="invalid_line", error=answer.error))
                else:
                    allowed = fail_closed(answer.allowed, answer.reason, answer.degraded)
                    put(BulkResult(to=to, allowed=allowed, reason=answer.reason, degraded=answer.degraded))
        elif isinstance(event, h11.EndOfMessage):
            if status != 200:
                text = bytes(refused[:2000]).decode(errors="replace")
                raise _Failed(
                    f"the streamed check was answered {status}: {text}",
                    retry=status in RETRY_STATUSES,
                    retry_after=wait_after,
                )
            # The last bytes of the body may still be draining when the final answers arrive.
            await asyncio.wait_for(sending, request.timeout)
            if pending:
                raise _Failed("the answer ended before every line was answered")
            return
        elif isinstance(event, h11.ConnectionClosed):
            raise _Failed("the connection closed before the answer ended")


async def _next_bytes(
    request: StreamRequest, reader: asyncio.StreamReader, sending: asyncio.Task[None]
) -> bytes:
    """The next bytes of the answer. While the list is still being sent, answers may rightly be slow to
    come (the service answers 1,000 lines at a time); a stalled service shows as a send timing out."""
    reading = asyncio.ensure_future(reader.read(65536))
    while not sending.done():
        await asyncio.wait({reading, sending}, return_when=asyncio.FIRST_COMPLETED)
        if reading.done():
            return reading.result()
    if (failure := sending.exception()) is not None:
        reading.cancel()
        raise failure
    return await asyncio.wait_for(reading, request.timeout)
