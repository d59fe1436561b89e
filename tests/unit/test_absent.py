"""The stand-ins for a missing check cache, spool and metrics answer as the missing collaborator did."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent_service.domain.absent import NoAnswerCache, NoMetrics, NoSpool
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Answer, Reason
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.invalidation import Seen
from consent_service.domain.spool import SpooledOptOut

KEY = ("fingerprint", "", "marketing", "email")


async def test_no_answer_cache_keeps_nothing() -> None:
    cache = NoAnswerCache()
    assert await cache.token() is None
    seen = Seen(0, None, 0.0)
    cache.put(KEY, seen, Answer(True, Reason.CONSENT_GRANTED), frozenset())
    cache.database_answered()
    assert cache.get(KEY, seen) is None
    assert cache.held() == 0
    await cache.keep_trust(store=None)  # type: ignore[arg-type]  # returns at once, asks nothing


def test_no_spool_holds_nothing_and_hands_back_the_databases_own_refusal() -> None:
    no_spool = NoSpool()
    assert no_spool.pending() == frozenset()
    away = StoreUnavailable("the database did not answer (OSError)")
    with pytest.raises(StoreUnavailable) as raised:
        no_spool.stand_in(away)
    assert raised.value is away
    entry = SpooledOptOut("id", "fp", Channel.EMAIL, "marketing", datetime.now(UTC))
    with pytest.raises(StoreUnavailable):
        no_spool.append(entry)
    no_spool.remove(["id"])
    assert no_spool.pending() == frozenset()


def test_no_metrics_takes_every_figure() -> None:
    metrics = NoMetrics()
    metrics.checked("marketing", "email", True, "consent_granted", False, 3)
    metrics.committed([])
    metrics.outbox_lag(1.5)
    metrics.spooled(2)
    metrics.unsubscribe_took(0.01, "database")
