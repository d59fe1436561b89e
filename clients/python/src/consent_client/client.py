"""The client: checks, links, the change feed and reporting suppressions, with retries built in.

Every request this client makes may be sent twice without harm: checks and link minting change
nothing, reading the feed changes nothing, and the one write (``suppress``) always carries an
``Idempotency-Key``, so the service records it once however often it arrives. That is what lets every
call retry on a lost connection, a 5xx or a 429.
"""

from __future__ import annotations

import ssl
import time
import uuid
import warnings
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx
import msgspec

from consent_client.errors import ConsentServiceError
from consent_client.models import (
    UNREACHABLE,
    BulkResult,
    Change,
    ChangesPage,
    Contact,
    Decision,
    Links,
    Suppression,
)
from consent_client.retry import RETRY_STATUSES, Retry, retry_after
from consent_client.stream import StreamRequest, fail_closed, stream_checks

__version__ = "0.1.0"
#: The service's limit on one JSON bulk check; longer lists are sent in several.
BULK_LIMIT = 10_000


class ServiceUnreachable(Exception):
    """No answer (after the retries) to a call that is not a check: a link, the feed, a suppression.

    A marketing message needs its unsubscribe link, so a mailing tool that cannot mint one sends nothing.
    """


class _BulkRow(msgspec.Struct, frozen=True):
    allowed: bool
    reason: str


class _BulkAnswer(msgspec.Struct, frozen=True):
    results: list[_BulkRow]
    degraded: bool = False


class ConsentClient:
    """A consent-service client for mailing tools. **No answer means do not send marketing.**

    ``check``, ``check_many`` and ``stream_checks`` never raise for an unreachable or failing
    service: after the retries they answer ``allowed=False, reason="unreachable", degraded=True``,
    so a loop that sends only on ``allowed`` cannot mail anyone unasked. They raise
    :class:`ConsentServiceError` only when the request itself is wrong (a 4xx other than 429: a
    revoked key, an unknown purpose), which no retry mends. An address that cannot be one on its
    channel is not such an error: it is answered ``allowed=False, reason="contact_invalid"``, as the
    bulk checks answer it.

    That denial covers administrative messages too: unreached, the client cannot know that an address
    is invalid, restricted or erased. A tool that would rather send service messages (an appointment
    change) in an outage names those purposes in ``allow_when_unreachable``; they are then answered
    ``allowed=True, reason="administrative", degraded=True`` as the service itself answers them when
    its store is down. Never name a marketing purpose there.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        retry: Retry | None = None,
        allow_when_unreachable: Collection[str] = (),
        transport: httpx.BaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"consent-service-client/{__version__}",
        }
        self._timeout = timeout
        self._retry = retry or Retry()
        self._allow_when_unreachable = frozenset(allow_when_unreachable)
        self._ssl_context = ssl_context
        self._http = httpx.Client(
            base_url=base_url,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            verify=ssl_context or True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # Checks: never raise for "no answer"; no answer is a denial.

    def check(
        self,
        purpose: str,
        *,
        channel: str | None = None,
        to: Contact | None = None,
        person_id: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """May ``purpose`` go to ``to`` on ``channel`` (or to ``person_id``)? Send only if ``allowed``."""
        body: dict[str, Any] = {"purpose": purpose}
        for name, value in (("channel", channel), ("to", to), ("person_id", person_id), ("at", at)):
            if value is not None:
                body[name] = dict(value) if isinstance(value, Mapping) else value
        try:
            response = self._send("POST", "/v1/checks", json=msgspec.to_builtins(body))
        except ConsentServiceError as refused:
            if _only_the_address_refused(refused):
                # As the bulk checks answer it: a definite no for this address, not a fault of the call.
                evidence = {"problem": refused.problem}
                return Decision(allowed=False, reason="contact_invalid", evidence=evidence)
            raise
        if response is None:
            return self._unanswered(purpose)
        try:
            decision = msgspec.json.decode(response.content, type=Decision)
        except msgspec.DecodeError:
            return self._unanswered(purpose)  # a proxy's error page in place of an answer is no answer
        if fail_closed(decision.allowed, decision.reason, decision.degraded):
            return decision
        return msgspec.structs.replace(decision, allowed=False)

    def check_many(self, addresses: Sequence[Contact], *, purpose: str, channel: str) -> list[BulkResult]:
        """One result per address, in order (JSON; lists past 10,000 are sent in several requests)."""
        results: list[BulkResult] = []
        for start in range(0, len(addresses), BULK_LIMIT):
            part = addresses[start : start + BULK_LIMIT]
            body = {"purpose": purpose, "channel": channel, "to": [_plain(a) for a in part]}
            response = self._send("POST", "/v1/checks/bulk", json=body)
            answer: _BulkAnswer | None = None
            if response is not None:
                try:
                    answer = msgspec.json.decode(response.content, type=_BulkAnswer)
                except msgspec.DecodeError:
                    answer = None
            if answer is None or len(answer.results) != len(part):
                results += [BulkResult(to=a, allowed=False, reason=UNREACHABLE, degraded=True) for a in part]
                continue
            results += [
                BulkResult(
                    to=a,
                    allowed=fail_closed(row.allowed, row.reason, answer.degraded),
                    reason=row.reason,
                    degraded=answer.degraded,
                )
                for a, row in zip(part, answer.results, strict=True)
            ]
        return results

    def stream_checks(
        self, addresses: Iterable[Contact], *, purpose: str, channel: str
    ) -> Iterator[BulkResult]:
        """One result per address, in order, read while the list is still being sent (NDJSON).

        For lists of any length in flat memory: ``addresses`` may be a generator (a database cursor);
        it is read on a thread of the client's own as the service takes the lines. A line the service
        cannot read is answered ``allowed=False, reason="invalid_line"`` with ``error`` set.
        """
        url = self._http.base_url.join("v1/checks/bulk").copy_merge_params(
            {"purpose": purpose, "channel": channel}
        )
        request = StreamRequest(
            url=url,
            headers=list(self._headers.items()),
            timeout=self._timeout,
            retry=self._retry,
            ssl_context=self._ssl_context,
        )
        return stream_checks(request, addresses)

    # Links, the feed and suppressions: no answer raises ServiceUnreachable.

    def links(self, to: Contact, *, channel: str, purpose: str = "marketing") -> Links:
        """The unsubscribe and preferences links for one recipient; add ``links.headers`` to the message."""
        body = {"to": _plain(to), "channel": channel, "purpose": purpose}
        return msgspec.json.decode(
            self._answer("POST", "/v1/unsubscribe-links", json=body).content, type=Links
        )

    def changes(self, after: int = 0, limit: int = 100) -> ChangesPage:
        """The changes after position ``after``, in order; store ``next_cursor`` once they are handled."""
        response = self._answer("GET", "/v1/changes", params={"after": after, "limit": limit})
        return msgspec.json.decode(response.content, type=ChangesPage)

    def iter_changes(self, after: int = 0, *, limit: int = 100) -> Iterator[Change]:
        """Every change after ``after`` until caught up, page by page; ``position`` is each one's cursor."""
        while True:
            page = self.changes(after, limit)
            yield from page.items
            if not page.items:
                return
            after = page.next_cursor

    def suppress(
        self,
        to: Contact,
        *,
        channel: str,
        reason: str,
        scope: str = "marketing",
        purpose: str | None = None,
        how: str | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> Suppression:
        """Add ``to`` to the suppression list (a hard bounce, a complaint); recorded once however often sent.

        ``how`` is how a request reached staff (``phone_call``, ``letter``, ``email``, ``in_person``,
        ``paper_form``, ``web_form``). ``note`` is deprecated and no longer sent: the service keeps no
        free text on the suppression list, and would discard it.

        Without ``idempotency_key`` one is made for this call, which makes its own retries safe; pass
        your own (e.g. the bounce's message id) to make your retries of the whole call safe too.
        """
        if note is not None:
            warnings.warn(
                "note is deprecated and not sent: the suppression list keeps no free text",
                DeprecationWarning,
                stacklevel=2,
            )
        body: dict[str, Any] = {"to": _plain(to), "channel": channel, "reason": reason, "scope": scope}
        if purpose is not None:
            body["purpose"] = purpose
        if how is not None:
            body["how"] = how
        headers = {"Idempotency-Key": idempotency_key or f"consent-client-{uuid.uuid4()}"}
        response = self._answer("POST", "/v1/suppressions", json=body, headers=headers)
        return msgspec.json.decode(response.content, type=Suppression)

    # Sending.

    def _unanswered(self, purpose: str) -> Decision:
        if purpose in self._allow_when_unreachable:
            return Decision(allowed=True, reason="administrative", degraded=True)
        return Decision(allowed=False, reason=UNREACHABLE, degraded=True)

    def _answer(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, **kwargs)
        if response is None:
            raise ServiceUnreachable(
                f"{method} {path}: no answer from the service after {self._retry.attempts} tries"
            )
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """The service's answer, retried on a lost connection, 5xx or 429; None when it never came."""
        tries = 0
        while True:
            tries += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                delay = self._retry.delay(tries)
            else:
                if response.status_code not in RETRY_STATUSES:
                    if response.is_error:
                        raise ConsentServiceError(
                            f"{method} {path} was refused ({response.status_code}): {response.text[:2000]}",
                            status=response.status_code,
                            problem=_problem(response),
                        )
                    return response
                delay = self._retry.delay(tries, retry_after(response.headers.get("retry-after")))
            if delay is None:
                return None
            time.sleep(delay)


def _only_the_address_refused(refused: ConsentServiceError) -> bool:
    """A 422 naming ``to`` and nothing else: the address cannot be an address on that channel."""
    problem = refused.problem
    if refused.status != 422 or not isinstance(problem, dict):
        return False
    fields = {error.get("field") for error in problem.get("errors") or [] if isinstance(error, dict)}
    return fields == {"to"}


def _plain(contact: Contact) -> Any:
    return contact if isinstance(contact, str) else dict(contact)


def _problem(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
