"""Consent records through the API: Kantara v1.1 receipts (LEGAL #25), the ISO/IEC TS 27560 record
(LEGAL #26), subject access (LEGAL #27) and retention with a legal hold (LEGAL #28)."""

from __future__ import annotations

from tests.integration.conftest import Api
from tests.integration.test_choices import record
from tests.integration.test_rights import family


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
