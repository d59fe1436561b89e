"""A change signal's token is read once per lease, by one reader for all that arrive meanwhile, and
never trusted past a lease from the moment its read started (``domain/leases.py``)."""

from __future__ import annotations

import asyncio
import time

from consent_service.domain.leases import LeasedToken

LEASE = 0.2


class SlowSignal:
    """A signal whose every read takes ``delay`` seconds and gives the token as it stood when the read
    started (as a GET sent to Redis does)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.token = 0
        self.reads = 0

    async def current(self) -> str | None:
        self.reads += 1
        seen = self.token
        await asyncio.sleep(self.delay)
        return str(seen)


async def test_readers_arriving_together_share_one_read() -> None:
    signal = SlowSignal(delay=0.05)
    leased = LeasedToken(signal.current, LEASE)
    tokens = await asyncio.gather(*(leased.current() for _ in range(32)))
    assert set(tokens) == {"0"} and signal.reads == 1
    assert await leased.current() == "0" and signal.reads == 1  # within the lease: no read


async def test_a_token_is_trusted_for_a_lease_from_its_reads_start_not_its_end() -> None:
    signal = SlowSignal(delay=LEASE * 0.75)
    leased = LeasedToken(signal.current, LEASE)
    started = time.monotonic()
    assert await leased.current() == "0"
    signal.token = 1  # a writer moves the token, then waits a lease before acknowledging
    await asyncio.sleep(max(0.0, started + LEASE - time.monotonic()))
    # A lease after the read started (though well under one after it ended), the old token is done.
    assert await leased.current() == "1"
    assert signal.reads == 2


async def test_a_reader_arriving_a_lease_after_a_read_began_does_not_join_it() -> None:
    signal = SlowSignal(delay=LEASE * 1.5)
    leased = LeasedToken(signal.current, LEASE)
    first = asyncio.create_task(leased.current())
    await asyncio.sleep(LEASE * 1.1)
    signal.token = 1
    # The first read began before the change; a reader now must not be given what it will return.
    assert await leased.current() == "1"
    assert await first == "0"
    assert signal.reads == 2


async def test_a_reader_that_gives_up_does_not_cancel_the_read_others_wait_for() -> None:
    signal = SlowSignal(delay=0.05)
    leased = LeasedToken(signal.current, LEASE)
    impatient = asyncio.create_task(leased.current())
    patient = asyncio.create_task(leased.current())
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == "0" and signal.reads == 1


async def test_without_a_lease_every_reader_reads() -> None:
    signal = SlowSignal(delay=0)
    leased = LeasedToken(signal.current, 0.0)
    await asyncio.gather(*(leased.current() for _ in range(5)))
    assert signal.reads == 5
