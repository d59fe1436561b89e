"""The Python client (clients/python) against the real service, as a mailing tool would use it."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import itertools
import queue
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from consent_client import (
    NO_RETRY,
    UNREACHABLE,
    ConsentClient,
    ConsentServiceError,
    Contact,
    InvalidSignature,
    Retry,
    ServiceUnreachable,
    verify,
)

from tests.e2e.conftest import Server, free_port, running
from tests.integration.conftest import _pg, unavailable

FAST = Retry(attempts=3, base=0.01, cap=0.05)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"client-{request.param}")
    if request.param == "sqlite":
        with running(data_dir) as server:
            yield server
        return
    name = f"consent_client_{secrets.token_hex(6)}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__}: {exc})")
    env = {
        "CONSENT_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
        "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
        "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
        "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
    }
    try:
        with running(data_dir, **env) as server:
            yield server
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def client(served: Server) -> Iterator[ConsentClient]:
    with ConsentClient(served.base, served.key, retry=FAST) as made:
        yield made


def _register(server: Server, email: str) -> str:
    body = {
        "person": {"contacts": [{"kind": "email", "value": email}]},
        "choices": [
            {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
                "notice": {"purpose": "marketing", "version": 1},
            }
        ],
        "source": "web_form",
    }
    answer = httpx.post(f"{server.base}/v1/registrations", json=body, headers=server.auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["person_id"])


def _withdraw(server: Server, person_id: str) -> None:
    body = {
        "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
        "source": "email",
        "evidence": {"staff_member": "J. Okafor", "note": "Replied: stop emailing me"},
    }
    answer = httpx.post(f"{server.base}/v1/people/{person_id}/consents", json=body, headers=server.auth)
    assert answer.status_code == 201, answer.text


def _email() -> str:
    return f"family.{secrets.token_hex(4)}@example.org"


def test_a_grant_is_allowed_and_a_withdrawal_then_denied(served: Server, client: ConsentClient) -> None:
    email = _email()
    assert client.check("marketing", channel="email", to=email).allowed is False
    person_id = _register(served, email)

    granted = client.check("marketing", channel="email", to=email.upper())
    assert (granted.allowed, granted.reason, granted.degraded) == (True, "consent_granted", False)
    assert granted.evidence is not None and granted.evidence["decision"] == "granted"
    in_2020 = datetime(2020, 1, 1, tzinfo=UTC)
    before_the_grant = client.check("marketing", channel="email", to=email, at=in_2020)
    assert before_the_grant.allowed is False

    _withdraw(served, person_id)
    withdrawn = client.check("marketing", channel="email", to=email)
    assert withdrawn.allowed is False
    assert withdrawn.reason in {"suppressed", "consent_withdrawn"}
    invalid = client.check("marketing", channel="email", to="not-an-address")
    assert (invalid.allowed, invalid.reason) == (False, "contact_invalid")
    # A service message is not blocked by a marketing opt-out.
    assert client.check("administrative", channel="email", to=email).allowed is True


def test_a_streamed_list_is_answered_in_order_while_it_is_still_being_sent(
    served: Server, client: ConsentClient
) -> None:
    granted = _email()
    _register(served, granted)
    lines = 3_000
    # The list waits, two thirds through, for the first answer: a client that sent everything before
    # reading would never get one, and the wait would time out.
    answered = threading.Event()
    released_by_an_answer: list[bool] = []

    def addresses() -> Iterator[Contact]:
        for i in range(1, lines + 1):
            if i == 2_001:
                released_by_an_answer.append(answered.wait(timeout=30))
            if i == 7:
                yield granted
            elif i == 8:
                yield "not-an-address"
            elif i == 9:
                yield {"unexpected": "shape"}
            else:
                yield f"n{i}@list.example.org"

    results = []
    for result in client.stream_checks(addresses(), purpose="marketing", channel="email"):
        answered.set()
        results.append(result)

    assert released_by_an_answer == [True]
    assert len(results) == lines
    assert results[0].to == "n1@list.example.org" and results[-1].to == f"n{lines}@list.example.org"
    assert (results[6].to, results[6].allowed, results[6].reason) == (granted, True, "consent_granted")
    assert (results[7].allowed, results[7].reason) == (False, "contact_invalid")
    assert (results[8].allowed, results[8].reason) == (False, "invalid_line") and results[8].error
    assert {r.reason for r in results[9:]} == {"no_consent"}


def test_a_json_bulk_check_answers_in_input_order(served: Server, client: ConsentClient) -> None:
    granted = _email()
    _register(served, granted)
    results = client.check_many([_email(), granted, "nope"], purpose="marketing", channel="email")
    assert [(r.allowed, r.reason) for r in results] == [
        (False, "no_consent"),
        (True, "consent_granted"),
        (False, "contact_invalid"),
    ]
    assert results[1].to == granted


def test_a_minted_link_opens_its_page(served: Server, client: ConsentClient) -> None:
    links = client.links(_email(), channel="email")
    assert links.url.startswith(f"{served.base}/unsubscribe/")
    assert links.headers == {
        "List-Unsubscribe": f"<{links.url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    for url in (links.url, links.preferences_url):
        page = httpx.get(url)
        assert page.status_code == 200, page.text
        assert "text/html" in page.headers["content-type"]


def test_the_change_feed_is_read_to_the_end_and_then_is_empty(served: Server, client: ConsentClient) -> None:
    person_id = _register(served, _email())
    deadline = time.monotonic() + 15
    changes = []
    while time.monotonic() < deadline:
        changes = list(client.iter_changes(0, limit=2))
        if any(c.data.get("person_id") == person_id for c in changes):
            break
        time.sleep(0.2)
    assert any(c.data.get("person_id") == person_id for c in changes), changes
    positions = [c.position for c in changes]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len({c.id for c in changes}) == len(changes)
    assert client.changes(after=positions[-1]).items == []
    assert client.changes(after=positions[-1]).next_cursor == positions[-1]


def test_a_suppression_is_recorded_once_however_often_sent(served: Server, client: ConsentClient) -> None:
    email = _email()
    first = client.suppress(email, channel="email", reason="complaint", idempotency_key=f"complaint-{email}")
    again = client.suppress(email, channel="email", reason="complaint", idempotency_key=f"complaint-{email}")
    assert first.id == again.id
    assert client.check("marketing", channel="email", to=email).reason == "suppressed"

    # How a request reached staff is a code; a note is no longer sent (the list keeps no free text).
    asked = _email()
    with pytest.warns(DeprecationWarning, match="note is deprecated"):
        told = client.suppress(
            asked, channel="email", reason="staff_request", how="letter", note="Mrs X rang"
        )
    assert (told.reason, client.check("marketing", channel="email", to=asked).reason) == (
        "staff_request",
        "suppressed",
    )


class _FailingFirst(httpx.BaseTransport):
    """The real service behind a proxy that answers the first ``failures`` requests with ``status``."""

    def __init__(self, failures: int, status: int, retry_after: str = "0") -> None:
        self.inner = httpx.HTTPTransport()
        self.failures, self.status, self.retry_after, self.calls = failures, status, retry_after, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.failures:
            return httpx.Response(self.status, headers={"Retry-After": self.retry_after}, text="busy")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_503_is_retried_and_the_answer_then_given(served: Server) -> None:
    email = _email()
    _register(served, email)
    flaky = _FailingFirst(1, 503)
    with ConsentClient(served.base, served.key, retry=FAST, transport=flaky) as client:
        decision = client.check("marketing", channel="email", to=email)
    assert (decision.allowed, decision.reason) == (True, "consent_granted")
    assert flaky.calls == 2


def test_a_service_that_keeps_failing_is_a_denial_after_the_retries(served: Server) -> None:
    email = _email()
    _register(served, email)
    failing = _FailingFirst(10, 502)
    with ConsentClient(served.base, served.key, retry=FAST, transport=failing) as client:
        decision = client.check("marketing", channel="email", to=email)
    assert (decision.allowed, decision.reason, decision.degraded) == (False, UNREACHABLE, True)
    assert failing.calls == FAST.attempts


def test_a_long_retry_after_is_not_waited_for(served: Server) -> None:
    limited = _FailingFirst(1, 429, retry_after="3600")
    started = time.monotonic()
    with ConsentClient(served.base, served.key, retry=FAST, transport=limited) as client:
        decision = client.check("marketing", channel="email", to=_email())
    assert (decision.allowed, decision.reason) == (False, UNREACHABLE)
    assert time.monotonic() - started < 2
    assert limited.calls == 1


def test_an_unreachable_service_denies_marketing_and_raises_nothing(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    addresses = [f"a{i}@example.org" for i in range(5)]
    with ConsentClient(nobody, "csk_unused", retry=FAST, timeout=1) as client:
        assert client.check("marketing", channel="email", to=addresses[0]) == client.check(
            "administrative", channel="email", to=addresses[0]
        )
        assert client.check("marketing", channel="email", to=addresses[0]).allowed is False
        assert client.check("marketing", channel="email", to=addresses[0]).reason == UNREACHABLE
        bulk = client.check_many(addresses, purpose="marketing", channel="email")
        streamed = list(client.stream_checks(iter(addresses), purpose="marketing", channel="email"))
        for results in (bulk, streamed):
            assert [r.to for r in results] == addresses
            assert {(r.allowed, r.reason, r.degraded) for r in results} == {(False, UNREACHABLE, True)}
        with pytest.raises(ServiceUnreachable):
            client.links(addresses[0], channel="email")
    with ConsentClient(
        nobody, "csk_unused", retry=NO_RETRY, allow_when_unreachable={"administrative"}
    ) as client:
        service_message = client.check("administrative", channel="email", to=addresses[0])
        assert (service_message.allowed, service_message.degraded) == (True, True)
        assert client.check("marketing", channel="email", to=addresses[0]).allowed is False


class _CuttingProxy:
    """Forwards to the service, but cuts its first connection after ``cut_after`` bytes of the answer."""

    def __init__(self, upstream: str, cut_after: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.cut_after = cut_after
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            far = socket.create_connection(self.upstream)
            limit = self.cut_after if self.connections == 1 else None
            threading.Thread(target=self._pump, args=(near, far, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(far, near, limit), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        passed = 0
        try:
            while data := source.recv(65536):
                if limit is not None and passed + len(data) > limit:
                    sink.sendall(data[: limit - passed])
                    break
                sink.sendall(data)
                passed += len(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_stream_cut_midway_is_sent_again_from_the_first_unanswered_line(served: Server) -> None:
    granted = _email()
    _register(served, granted)
    addresses = [granted if i == 2_500 else f"cut{i}@list.example.org" for i in range(3_000)]
    proxy = _CuttingProxy(served.base, cut_after=20_000)
    try:
        with ConsentClient(proxy.base, served.key, retry=FAST) as client:
            results = list(client.stream_checks(iter(addresses), purpose="marketing", channel="email"))
    finally:
        proxy.close()
    assert proxy.connections == 2
    assert [r.to for r in results] == addresses
    assert [r.reason for r in results].count("no_consent") == len(addresses) - 1
    assert (results[2_500].allowed, results[2_500].reason) == (True, "consent_granted")


def test_the_readme_example_mails_only_those_who_may_be_mailed(served: Server) -> None:
    readme = (Path(__file__).parents[2] / "clients" / "python" / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    granted = _email()
    _register(served, granted)
    sent: list[dict[str, object]] = []
    names = {
        "CHECKS_KEY": served.key,
        "newsletter_addresses": lambda: iter([_email(), granted, "nope"]),
        "send_newsletter": lambda **message: sent.append(message),
    }
    exec(example.replace("https://consent.example.org", served.base), names)  # noqa: S102 - our own README
    assert [message["to"] for message in sent] == [granted]
    assert str(sent[0]["unsubscribe_url"]).startswith(f"{served.base}/unsubscribe/")


def test_a_caller_that_stops_reading_a_stream_early_is_not_kept_waiting(served: Server) -> None:
    def endless() -> Iterator[Contact]:
        for i in itertools.count():
            yield f"endless{i}@list.example.org"

    with ConsentClient(served.base, served.key, retry=FAST) as client:
        started = time.monotonic()
        for result in client.stream_checks(endless(), purpose="marketing", channel="email"):
            assert result.to == "endless0@list.example.org"
            break
        assert time.monotonic() - started < 10


def test_a_wrong_key_or_purpose_is_an_error_not_a_silent_denial(served: Server) -> None:
    with ConsentClient(served.base, "csk_not_a_key", retry=FAST) as client:
        with pytest.raises(ConsentServiceError) as refused:
            client.check("marketing", channel="email", to=_email())
        assert refused.value.status == 401
        with pytest.raises(ConsentServiceError):
            list(client.stream_checks([_email()], purpose="marketing", channel="email"))
    with ConsentClient(served.base, served.key, retry=FAST) as client:
        with pytest.raises(ConsentServiceError) as unknown:
            client.check("no_such_purpose", channel="email", to=_email())
        assert unknown.value.status in (404, 422)
        with pytest.raises(ConsentServiceError):
            list(client.stream_checks([_email()], purpose="no_such_purpose", channel="email"))


class _Receiver(http.server.BaseHTTPRequestHandler):
    deliveries: queue.Queue[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.deliveries.put((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_real_webhook_delivery_verifies_and_a_changed_one_does_not(served: Server) -> None:
    deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()

    class Receiver(_Receiver):
        pass

    Receiver.deliveries = deliveries
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/consent"
        made = httpx.post(f"{served.base}/v1/webhooks", json={"url": url}, headers=served.auth)
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        person_id = _register(served, _email())
        headers, body = deliveries.get(timeout=30)
        payload = verify(secret, headers, body)
        assert person_id in body.decode() and payload["events"]
        with pytest.raises(InvalidSignature):
            verify(secret, headers, body.replace(person_id.encode(), b"0" * len(person_id)))
    finally:
        receiver.shutdown()
        receiver.server_close()
