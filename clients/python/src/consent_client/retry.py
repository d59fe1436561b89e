"""When to try a request again, and how long to wait first.

Hand-written rather than taken from a retry library: the policy is a dozen lines, and the rules that
matter here — only idempotent requests, ``Retry-After`` honoured but bounded so a mailing loop is
never parked for minutes — would take as much code to express through one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Answers worth another try: the service or a proxy in front of it was briefly unable to answer.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """Up to ``attempts`` tries, waiting a random time up to ``base * 2**n`` (at most ``cap``) between.

    A ``Retry-After`` the service sends is waited instead, unless it is longer than ``max_retry_after``:
    then the client stops trying and the answer is "no answer" (do not send marketing).
    """

    attempts: int = 4
    base: float = 0.2
    cap: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, tries_so_far: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next try, or None when no further try should be made."""
        if tries_so_far >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        # "Full jitter": many mailing tools retrying after one outage spread out instead of all at once.
        return random.uniform(0, min(self.cap, self.base * 2 ** (tries_so_far - 1)))  # noqa: S311


NO_RETRY = Retry(attempts=1)


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: a number of seconds or an HTTP date), if given and readable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
