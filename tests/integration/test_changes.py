"""Change events: every committed change is in the feed once, in an order that only grows at its end,
and reaches the Redis stream and signed webhooks at least once; what a webhook refuses is kept, and a
receiver that hangs delays no other."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.typing import StreamRangeResponse
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from consent_service.adapters.changes import HttpWebhookSender, RedisChangeStream
from consent_service.domain.change_ports import DeliveryFailed
from consent_service.domain.destinations import Destinations
from consent_service.services.relay import Relay, RelaySettings
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register

#: Every relay in these tests is the same holder, so one test's lease never blocks the next.
HOLDER = 7


async def head(api: Api) -> int:
    """The feed's last position now: where a consumer that starts now begins."""
    after = 0
    while True:
        page = (await api.get("/v1/changes", scope="admin", after=after, limit=1000)).json()
        if page["next_cursor"] == after:
            return after
        after = page["next_cursor"]


async def changes_since(api: Api, after: int, limit: int = 1000) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = (await api.get("/v1/changes", scope="checks", after=after, limit=limit)).json()
        found += page["items"]
        if page["next_cursor"] == after:
            return found
        after = page["next_cursor"]


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def stream_events(entries: StreamRangeResponse | None) -> list[dict[str, str]]:
    """Each entry's fields as text: the client answers bytes, though its types cannot say which."""
    assert entries is not None
    return [{as_text(k): as_text(v) for k, v in (fields or {}).items()} for _, fields in entries]


def about(items: list[dict[str, Any]], person_id: str) -> list[str]:
    return [i["type"] for i in items if i["data"].get("person_id") == person_id]


async def eventually(condition: Callable[[], Any], within: float = 5.0) -> float:
    """Seconds until ``condition()`` held; fails if it did not within ``within`` seconds. The relay's
    couriers deliver on tasks of their own, so a test waits for what a receiver would see."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            pytest.fail(f"not so within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_every_change_is_in_the_feed_once_without_contact_details(api: Api) -> None:
    start = await head(api)
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    withdrawn = await api.post(
        f"/v1/people/{person}/consents",
        {
            "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
            "source": "email",
            "evidence": {"staff_member": "Sam Okafor"},
        },
    )
    assert withdrawn.status_code == 201, withdrawn.text
    restriction = (
        await api.post(f"/v1/people/{person}/restrictions", {"channel": "post", "reason": "Safeguarding"})
    ).json()
    await api.delete(f"/v1/people/{person}/restrictions/{restriction['id']}", {"reason": "Reviewed"})
    erased = await api.post(f"/v1/people/{person}/erasure", {"reason": "Asked"}, scope="admin")
    assert erased.status_code in (200, 201), erased.text

    items = await changes_since(api, start)
    assert [p["position"] for p in items] == sorted({p["position"] for p in items})
    mine = about(items, person)
    assert mine[:4] == ["person.created", "contact.added", "consent.recorded", "consent.recorded"]
    assert mine.count("restriction.added") == 1 and mine[-1] == "person.erased"
    decisions = [
        i["data"]["decision"]
        for i in items
        if i["type"] == "consent.recorded" and i["data"]["person_id"] == person
    ]
    assert decisions == ["granted", "withdrawn"]
    suppressed = [i for i in items if i["type"] == "suppression.added"]
    assert suppressed and all(i["data"]["fingerprint"] for i in suppressed)
    assert email not in json.dumps(items)
    assert len({i["id"] for i in items}) == len(items)


async def test_every_event_about_a_person_names_the_callers_reference(api: Api, receiver: Receiver) -> None:
    """A case system matches events to its own records by the reference it gave at registration, in
    the feed and in webhook deliveries alike; a rectified reference is announced as it now stands."""
    made = await add_webhook(api, receiver.url)
    relay = relay_for(api)
    start = await head(api)
    reference, corrected = f"CASE-{secrets.token_hex(4)}", f"CASE-{secrets.token_hex(4)}"
    try:
        person = (await register(api, fresh_email(), choices=[grant("email")], reference=reference))[
            "person_id"
        ]
        restriction = (
            await api.post(f"/v1/people/{person}/restrictions", {"channel": "post", "reason": "Safeguarding"})
        ).json()
        await api.delete(f"/v1/people/{person}/restrictions/{restriction['id']}", {"reason": "Reviewed"})
        added = await api.post(
            "/v1/registrations",
            {
                "person": {"reference": reference, "contacts": [{"kind": "email", "value": fresh_email()}]},
                "choices": [],
                "source": "web_form",
            },
            scope="forms",
        )
        assert added.status_code == 201, added.text
        renamed = await api.client.patch(
            f"/v1/people/{person}", json={"reference": corrected}, headers=api.headers("staff")
        )
        assert renamed.status_code == 200, renamed.text
        erased = await api.post(f"/v1/people/{person}/erasure", {"reason": "Asked"}, scope="admin")
        assert erased.status_code in (200, 201), erased.text

        mine = [i for i in await changes_since(api, start) if i["data"].get("person_id") == person]
        assert [(i["type"], i["data"]["reference"]) for i in mine] == [
            ("person.created", reference),
            ("contact.added", reference),
            ("consent.recorded", reference),
            ("restriction.added", reference),
            ("restriction.lifted", reference),
            ("contact.added", reference),
            ("person.updated", corrected),
            ("person.erased", corrected),
        ]
        await relay.step()
        await eventually(lambda: "person.erased" in about(receiver.events(), person))
        delivered = [e for e in receiver.events() if e["data"].get("person_id") == person]
        assert [e["data"]["reference"] for e in delivered] == [i["data"]["reference"] for i in mine]
    finally:
        await api.delete(f"/v1/webhooks/{made['id']}", {}, scope="admin")
        await relay.close()


async def test_a_refused_or_replayed_write_announces_nothing(api: Api) -> None:
    email = fresh_email()
    await register(api, email)
    start = await head(api)
    refused = await api.post(
        "/v1/registrations",
        {
            "person": {"contacts": [{"kind": "email", "value": fresh_email()}]},
            "choices": [
                {
                    "purpose": "marketing",
                    "channel": "email",
                    "decision": "granted",
                    "affirmative_action": "ticked_box",
                    "pre_ticked": False,
                    "notice": {"purpose": "marketing", "version": 999},
                }
            ],
            "source": "web_form",
        },
        scope="forms",
    )
    assert refused.status_code == 422
    body = {"to": fresh_email(), "channel": "email", "reason": "complaint"}
    first = await api.post("/v1/suppressions", body, **{"Idempotency-Key": secrets.token_hex(8)})
    key = secrets.token_hex(8)
    once = await api.post("/v1/suppressions", body | {"to": fresh_email()}, **{"Idempotency-Key": key})
    again = await api.post(
        "/v1/suppressions",
        body | {"to": once.json()["fingerprint"] and body["to"]},
        **{"Idempotency-Key": key},
    )
    assert first.status_code == 201 and once.status_code == 201 and again.status_code in (201, 409)
    items = await changes_since(api, start)
    assert [i["type"] for i in items if i["type"] == "suppression.added"] == ["suppression.added"] * 2


async def test_concurrent_writers_never_make_a_reader_skip(api: Api) -> None:
    start = await head(api)
    seen: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def reader() -> None:
        after = start
        while True:
            finished = done.is_set()
            page = (await api.get("/v1/changes", scope="admin", after=after, limit=7)).json()
            seen.extend(page["items"])
            after = page["next_cursor"]
            if finished and not page["items"]:
                return

    async def writer() -> str:
        response = await api.post(
            "/v1/suppressions", {"to": fresh_email(), "channel": "email", "reason": "complaint"}
        )
        assert response.status_code == 201
        return str(response.json()["id"])

    reading = asyncio.create_task(reader())
    written = await asyncio.gather(*(writer() for _ in range(40)))
    done.set()
    await reading
    read_ids = [i["data"].get("suppression_id") for i in seen if i["type"] == "suppression.added"]
    assert set(written) <= set(read_ids)
    positions = [i["position"] for i in seen]
    assert positions == sorted(positions) and len(positions) == len(set(positions))


async def test_the_relay_publishes_to_the_redis_stream(api: Api, redis_url: str) -> None:
    name = f"consent:test:changes:{secrets.token_hex(4)}"
    stream = RedisChangeStream(redis_url, name)
    relay = Relay(
        api.context.bookkeeping,
        api.context.clock,
        HttpWebhookSender(1, api.settings.webhooks.destinations),
        [stream],
        api.context.metrics,
        RelaySettings(),
        holder=HOLDER,
    )
    person = (await register(api, fresh_email(), choices=[grant("email")]))["person_id"]
    await relay.step()
    client = Redis.from_url(redis_url)
    try:
        entries = await client.xrange(name)
        events = stream_events(entries)
        mine = [e for e in events if json.loads(e["data"]).get("person_id") == person]
        assert [e["type"] for e in mine] == ["person.created", "contact.added", "consent.recorded"]
        assert all(e["id"] for e in mine)
        await relay.step()  # nothing new: nothing published twice
        assert len(stream_events(await client.xrange(name))) == len(events)
    finally:
        await client.delete(name)
        await client.aclose()
        await relay.close()


class Receiver:
    """A real HTTP server standing in for a CRM's webhook endpoint."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []
        #: Set, the receiver takes each delivery and never answers until the test ends.
        self.hanging = False
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                if receiver.hanging:
                    receiver.released.wait()
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting and closed the connection

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/consent"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for _, body in self.received for e in json.loads(body)["events"]]


def serving() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.released.set()
    r.server.shutdown()
    r.server.server_close()


receiver = pytest.fixture(serving, name="receiver")
second_receiver = pytest.fixture(serving, name="second_receiver")


async def letters_about(api: Api, url: str, person_id: str) -> list[dict[str, Any]]:
    letters = (await api.get(url, scope="admin")).json()["items"]
    return [letter for letter in letters if letter["event"]["data"].get("person_id") == person_id]


async def webhook_state(api: Api, webhook_id: str) -> dict[str, Any]:
    """The webhook as ``GET /v1/webhooks`` shows it: position, attempts, last error."""
    listed = (await api.get("/v1/webhooks", scope="admin")).json()["items"]
    return next(w for w in listed if w["id"] == webhook_id)


async def add_webhook(api: Api, url: str) -> dict[str, Any]:
    made = await api.post("/v1/webhooks", {"url": url}, scope="admin")
    assert made.status_code == 201, made.text
    webhook: dict[str, Any] = made.json()
    return webhook


def relay_for(api: Api, timeout: float = 2, **settings: Any) -> Relay:
    return Relay(
        api.context.bookkeeping,
        api.context.clock,
        HttpWebhookSender(timeout, api.settings.webhooks.destinations),
        [],
        api.context.metrics,
        RelaySettings(webhook_timeout=timeout, **settings),
        holder=HOLDER,
    )


async def test_webhooks_are_signed_to_the_standard_webhooks_specification(
    api: Api, receiver: Receiver
) -> None:
    webhook = await add_webhook(api, receiver.url)
    assert webhook["secret"].startswith("whsec_")
    relay = relay_for(api)
    try:
        person = (await register(api, fresh_email(), choices=[grant("email")]))["person_id"]
        await relay.step()
        await eventually(lambda: about(receiver.events(), person))
        headers, body = receiver.received[-1]
        # What a receiver in any language does: its Standard Webhooks library checks the headers.
        taken = Verifier(webhook["secret"]).verify(body, headers)
        assert about(taken["events"], person) == ["person.created", "contact.added", "consent.recorded"]
        assert headers["webhook-id"].startswith("msg_")
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        tampered = body.replace(person.encode(), b"0" * len(person))
        with pytest.raises(WebhookVerificationError):
            Verifier(webhook["secret"]).verify(tampered, headers)
        with pytest.raises(WebhookVerificationError):
            Verifier("whsec_" + "QUJD" * 8).verify(body, headers)
        assert "Consent-Signature" not in headers
    finally:
        await api.delete(f"/v1/webhooks/{webhook['id']}", {}, scope="admin")
        await relay.close()


async def test_webhooks_retry_the_same_delivery_then_dead_letter_and_replay(
    api: Api, receiver: Receiver
) -> None:
    webhook = await add_webhook(api, receiver.url)
    relay = relay_for(api, max_attempts=3, backoff=0.3, backoff_max=0.3)
    try:
        receiver.status = 500
        refused = (await register(api, fresh_email()))["person_id"]
        await relay.step()
        await eventually(lambda: len(receiver.received) == 1)
        # Changes made while the first batch waits to be retried do not join it: the receiver
        # de-duplicates on webhook-id, so a retry must be the same delivery, not a bigger one; even
        # from a relay that starts afresh (another worker, a restart) in the meantime.
        await relay.close()
        relay = relay_for(api, max_attempts=3, backoff=0.3, backoff_max=0.3)
        later = (await register(api, fresh_email()))["person_id"]
        await relay.step()

        letters_url = f"/v1/webhooks/{webhook['id']}/dead-letters"
        start = time.monotonic()
        while not (dead_letters := await letters_about(api, letters_url, refused)):
            assert time.monotonic() - start < 5, "not dead-lettered within 5 s"
            await asyncio.sleep(0.05)
        assert [d["event"]["type"] for d in dead_letters] == ["person.created", "contact.added"]
        assert all(d["attempts"] == 3 and "500" in d["last_error"] for d in dead_letters)
        tries = receiver.received[:3]
        assert len({h["webhook-id"] for h, _ in tries}) == 1
        assert len({b for _, b in tries}) == 1  # the same events, in the same order
        assert all(Verifier(webhook["secret"]).verify(b, h) for h, b in tries)
        assert about(json.loads(tries[0][1])["events"], later) == []
        receiver.status = 200
        await eventually(lambda: about(receiver.events(), later))  # its courier moved on

        receiver.status = 500
        still_refused = await api.post(
            f"/v1/webhooks/dead-letters/{dead_letters[0]['id']}/replay", {}, scope="admin"
        )
        assert still_refused.status_code == 502, still_refused.text
        receiver.status = 200
        before = len(receiver.received)
        replayed = await api.post(
            f"/v1/webhooks/dead-letters/{dead_letters[0]['id']}/replay", {}, scope="admin"
        )
        assert replayed.status_code == 200 and replayed.json()["replayed_at"]
        headers, body = receiver.received[-1]
        assert (
            Verifier(webhook["secret"]).verify(body, headers)["events"][0]["id"]
            == (dead_letters[0]["event"]["id"])
        )
        assert len(receiver.received) == before + 1
        remaining = (await api.get(f"/v1/webhooks/{webhook['id']}/dead-letters", scope="admin")).json()[
            "items"
        ]
        assert dead_letters[0]["id"] not in {letter["id"] for letter in remaining}
    finally:
        await api.delete(f"/v1/webhooks/{webhook['id']}", {}, scope="admin")
        await relay.close()


async def test_a_receiver_that_never_answers_delays_no_other(
    api: Api, receiver: Receiver, second_receiver: Receiver
) -> None:
    """Each webhook has its own courier: while one receiver holds its delivery until the timeout,
    another hears of each change at once, and the hanging one's try ends at its own timeout."""
    hanging, prompt = receiver, second_receiver
    hanging.hanging = True
    made = [await add_webhook(api, r.url) for r in (hanging, prompt)]
    relay = relay_for(api, timeout=2, backoff=30, backoff_max=30)
    try:
        first = (await register(api, fresh_email()))["person_id"]
        started = time.monotonic()
        await relay.step()
        assert await eventually(lambda: about(prompt.events(), first), within=1.0) < 1.0
        await eventually(lambda: about(hanging.events(), first), within=1.0)  # held, unanswered
        second = (await register(api, fresh_email()))["person_id"]
        await relay.step()
        assert await eventually(lambda: about(prompt.events(), second), within=1.0) < 1.0
        assert time.monotonic() - started < 2  # both heard while the hanging delivery still waits

        state = await webhook_state(api, made[0]["id"])
        while state["attempts"] == 0:
            assert time.monotonic() - started < 4, "the hanging delivery was not given up at its timeout"
            await asyncio.sleep(0.05)
            state = await webhook_state(api, made[0]["id"])
        assert "no answer within 2 s" in state["last_error"]
    finally:
        for webhook in made:
            await api.delete(f"/v1/webhooks/{webhook['id']}", {}, scope="admin")
        await relay.close()


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "https://N[h", "https://[::1/x", "https://example.org:99999/x"]
)
async def test_a_webhook_needs_a_web_address(api: Api, url: str) -> None:
    refused = await api.post("/v1/webhooks", {"url": url}, scope="admin")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "url"
    assert (
        await api.post("/v1/webhooks", {"url": "https://example.org/x"}, scope="checks")
    ).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata address
        "http://10.20.30.40:5432/",
        "http://[::ffff:10.0.0.1]/x",  # the same network, spelt as IPv6
        "https://hooks.example.org/consent",  # a name not on the list
    ],
)
async def test_a_webhook_outside_the_allowed_destinations_is_refused_and_not_kept(api: Api, url: str) -> None:
    before = (await api.get("/v1/webhooks", scope="admin")).json()["items"]
    refused = await api.post("/v1/webhooks", {"url": url}, scope="admin")
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["field"] == "url" and "CONSENT_WEBHOOK_DESTINATIONS" in error["message"]
    assert (await api.get("/v1/webhooks", scope="admin")).json()["items"] == before


async def test_the_sender_checks_where_a_name_leads_before_every_delivery(receiver: Receiver) -> None:
    """Under "public", a name that resolves to this machine is not sent to, nor is a literal address
    registered before the list was narrowed; the same receiver listed by name is."""
    local_name = receiver.url.replace("127.0.0.1", "localhost")
    public_only = HttpWebhookSender(1, Destinations.parse("public"))
    try:
        with pytest.raises(DeliveryFailed, match="not public"):
            await public_only.send(local_name, b"{}", {})
        with pytest.raises(DeliveryFailed, match="not an address webhooks may be sent to"):
            await public_only.send(receiver.url, b"{}", {})
        assert receiver.received == []
    finally:
        await public_only.close()
    by_name = HttpWebhookSender(1, Destinations.parse("localhost"))
    try:
        await by_name.send(local_name, b"{}", {})
        assert len(receiver.received) == 1
    finally:
        await by_name.close()


async def test_a_name_is_connected_to_at_the_address_that_was_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolves to an allowed address when checked must not be looked up
    again to connect (it could then lead anywhere). The made-up name below resolves nowhere but in
    the sender's own check, so the delivery arrives only if the checked address was used."""
    port = receiver.server.server_port
    sender = HttpWebhookSender(1, Destinations.parse("public,127.0.0.0/8"))
    looked_up: list[str] = []

    async def resolve(host: str, _port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(sender, "_resolve", resolve)
    try:
        await sender.send(f"http://hooks.rebinding.test:{port}/hooks/consent", b"{}", {})
    finally:
        await sender.close()
    assert looked_up == ["hooks.rebinding.test"]
    ((headers, _),) = receiver.received
    assert headers["Host"] == f"hooks.rebinding.test:{port}"
