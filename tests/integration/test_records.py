"""Consent records through the API: Kantara v1.1 receipts (LEGAL #25), the ISO/IEC TS 27560 record
(LEGAL #26), subject access (LEGAL #27) and retention with a legal hold (LEGAL #28)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.domain.suppressions import SuppressionReason
from consent_service.services import access, retention
from tests.integration.conftest import Api, Fresh, fresh_email
from tests.integration.test_choices import record
from tests.integration.test_rights import _register, family


async def test_a_withdrawal_has_no_kantara_receipt_and_its_record_is_the_27560_export(api: Api) -> None:
    _, _, _, person = await family(api)
    await record(api, person, [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}])
    await record(api, person, [{"purpose": "marketing", "channel": "phone", "decision": "withdrawn"}])
    events = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    withdrawal = next(e for e in events if e["decision"] == "withdrawn")
    refused = await api.get(f"/v1/people/{person}/receipts/{withdrawal['id']}", scope="forms")
    assert refused.status_code == 409
    assert "27560" in refused.json()["detail"]

    response = await api.get(f"/v1/people/{person}/consent-record", scope="staff", format="iso27560")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    held = response.json()
    assert held["header"]["pii_principal_id"] == person
    states = {(e["processing_id"], e["state"]) for e in held["event"]}
    assert states == {
        ("marketing/email", "dpv:ConsentGiven"),
        ("marketing/sms", "dpv:ConsentGiven"),
        ("marketing/email", "dpv:ConsentWithdrawn"),
        ("marketing/phone", "dpv:ConsentRefused"),
    }
    assert (await api.get(f"/v1/people/{person}/consent-record", scope="admin")).status_code == 200
    assert (await api.get(f"/v1/people/{person}/consent-record", scope="checks")).status_code == 403
    unknown = await api.get(f"/v1/people/{person}/consent-record", scope="staff", format="kantara")
    assert unknown.status_code in (400, 422)


async def test_subject_access_holds_receipts_staff_changes_and_suppression_fingerprints(api: Api) -> None:
    _, _, _, person = await family(api)
    body = {
        "choices": [{"purpose": "marketing", "channel": "sms", "decision": "withdrawn"}],
        "source": "phone_call",
        "evidence": {"staff_member": "Sam Okafor"},
    }
    assert (await api.post(f"/v1/people/{person}/consents", body)).status_code == 201
    await api.post(f"/v1/people/{person}/restrictions", {"channel": "phone", "reason": "Do not call"})

    held = (await api.get(f"/v1/people/{person}/export", scope="admin")).json()
    grants = [e["id"] for e in held["events"] if e["decision"] == "granted"]
    assert sorted(r["consentReceiptID"] for r in held["receipts"]) == sorted(grants)
    assert {r["services"][0]["purposes"][0]["consentType"] for r in held["receipts"]} == {"EXPLICIT"}
    by_phone = [c for c in held["staff_changes"] if c["staff_member"] == "Sam Okafor"]
    assert [c["what"] for c in by_phone] == ["recorded marketing by sms withdrawn (via phone_call)"]
    assert any(c["what"] == "restricted contact by phone" and c["by"] for c in held["staff_changes"])
    (entry,) = held["suppressions"]
    assert (entry["reason"], len(entry["fingerprint"])) == ("withdrawn", 64)
    readable = (await api.get(f"/v1/people/{person}/export", scope="admin", format="text")).text
    assert "Who changed your record:" in readable and "for Sam Okafor" in readable
    assert entry["fingerprint"] in readable


async def test_an_access_request_is_due_in_a_month_listed_overdue_and_closed_when_answered(api: Api) -> None:
    _, _, _, person = await family(api)
    made = await api.post(f"/v1/people/{person}/access-requests", {"received_on": "2024-01-31"})
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["due_on"], request["overdue"]) == ("2024-02-29", True)

    listed = (await api.get("/v1/access-requests", scope="admin")).json()["items"]
    assert [r["overdue"] for r in listed if r["id"] == request["id"]] == [True]
    future = await api.post(f"/v1/people/{person}/access-requests", {"received_on": "2999-01-01"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "received_on"

    closed = await api.post(f"/v1/access-requests/{request['id']}/answered", {})
    assert closed.status_code == 200 and closed.json()["answered_at"] is not None
    assert closed.json()["overdue"] is False
    still_open = (await api.get("/v1/access-requests")).json()["items"]
    assert request["id"] not in {r["id"] for r in still_open}
    everything = (await api.get("/v1/access-requests", open="false")).json()["items"]
    assert request["id"] in {r["id"] for r in everything}
    assert (await api.post(f"/v1/access-requests/{request['id']}/answered", {})).status_code == 409


async def test_erasure_under_a_legal_hold_is_refused_naming_the_hold_until_it_is_released(api: Api) -> None:
    _, _, _, person = await family(api)
    placed = await api.post(
        f"/v1/people/{person}/legal-holds", {"reason": "Claim 2026-44 pending"}, scope="admin"
    )
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (await api.post(f"/v1/people/{person}/legal-holds", {"reason": "x"})).status_code == 403

    refused = await api.post(f"/v1/people/{person}/erasure", {"reason": "asked by the person"}, scope="admin")
    assert refused.status_code == 409
    assert hold["id"] in refused.json()["detail"] and "Claim 2026-44" in refused.json()["detail"]
    assert (await api.get(f"/v1/people/{person}")).status_code == 200

    released = await api.delete(f"/v1/people/{person}/legal-holds/{hold['id']}", None, scope="admin")
    assert released.status_code == 200 and released.json()["released_at"] is not None
    assert (await api.get(f"/v1/people/{person}/legal-holds")).json()["items"] == []
    erased = await api.post(f"/v1/people/{person}/erasure", {"reason": "asked by the person"}, scope="admin")
    assert erased.status_code == 200


async def test_retention_erases_the_inactive_but_not_one_on_legal_hold_and_keeps_the_tombstones(
    fresh: Fresh,
) -> None:
    ctx = fresh.context
    idle_email, held_email = fresh_email(), fresh_email()
    idle, held = await _register(ctx, idle_email), await _register(ctx, held_email)
    await access.place_hold(ctx, access.PlaceHold(held, "Complaint to the ICO under review", "admin"))
    later = datetime.now(UTC) + timedelta(days=3 * 365)

    class Later:
        def now(self) -> datetime:
            return later

    done = await retention.run(replace(ctx, clock=Later()), inactive_years=2, dry_run=False)
    assert (done.selected, done.held) == ((idle,), (held,))
    idle_print = ctx.fingerprint(contact_point(ContactKind.EMAIL, idle_email, "GB"))
    async with ctx.store.reading() as uow:
        assert (await uow.people.get(idle)).erased_at is not None  # type: ignore[union-attr]
        assert (await uow.people.get(held)).erased_at is None  # type: ignore[union-attr]
        tombstones = await uow.suppressions.for_fingerprints([idle_print], None, include_lifted=False)
    assert [e.reason for e in tombstones[idle_print]] == [SuppressionReason.ERASED]


async def test_retention_forgets_idempotency_keys_past_their_days_and_keeps_recent_ones(fresh: Fresh) -> None:
    ctx = fresh.context
    now = datetime.now(UTC)
    async with ctx.store.writing() as uow:
        assert await uow.idempotency.claim("key-1", "old", "d" * 64, now - timedelta(days=31)) is None
        assert await uow.idempotency.claim("key-1", "recent", "d" * 64, now - timedelta(days=29)) is None
    done = await retention.run(ctx, inactive_years=2, dry_run=False, idempotency_days=30)
    assert done.keys_forgotten == 1
    async with ctx.store.writing() as uow:
        assert await uow.idempotency.claim("key-1", "recent", "d" * 64, now) is not None
        assert await uow.idempotency.claim("key-1", "old", "d" * 64, now) is None
