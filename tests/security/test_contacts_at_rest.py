"""LEGAL #31, contact details encrypted at rest: register a family, add a person with an
Idempotency-Key (whose answer, holding their details, is kept for a replay), then read every row of
every table, the data dir's files byte for byte (the SQLite file and its WAL) and, on PostgreSQL, a
``pg_dump``, for any spelling of any of their details. The fingerprints are there, so the search did
reach the rows; the service still finds the family by email, name and postcode, and shows their
details to staff.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.services import people
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.security.test_keys import data_dir_files, pg_dump, table_rows


def _postcode() -> str:
    """A valid postcode no other test uses (``QQ`` is no real area)."""
    letters = "".join(secrets.choice("ABDEFGHJLNPQRSTUWXYZ") for _ in range(2))
    return f"QQ{secrets.randbelow(90) + 10} {secrets.randbelow(10)}{letters}"


def _spellings(*details: str) -> list[bytes]:
    """Each detail as given, in lower and upper case, and with its spaces taken out."""
    forms = {form for d in details for form in (d, d.lower(), d.upper(), d.replace(" ", ""))}
    return sorted(form.encode() for form in forms if len(form) >= 6)


async def test_no_contact_detail_or_name_is_held_in_the_clear(
    api: Api, database: AsyncEngine, figure: Callable[[str], None]
) -> None:
    email, mobile, postcode = fresh_email(), fresh_mobile(), _postcode()
    line = f"{uuid.uuid4().hex[:10]} Terrace"
    surname = "".join(secrets.choice(string.ascii_lowercase) for _ in range(10)).capitalize()
    name = f"Robin {surname}"
    postal = {"lines": [line], "postcode": postcode}
    registered = await api.post(
        "/v1/registrations",
        {
            "person": {
                "display_name": name,
                "contacts": [
                    {"kind": "email", "value": email},
                    {"kind": "phone", "value": mobile},
                    {"kind": "postal", "value": postal},
                ],
            },
            "choices": [],
            "source": "web_form",
        },
        scope="forms",
        **{"Idempotency-Key": f"at-rest-{uuid.uuid4()}"},
    )
    assert registered.status_code == 201, registered.text
    other_email, other_name = fresh_email(), f"Alex {surname}son"
    created = await api.post(
        "/v1/people",
        {"display_name": other_name, "contacts": [{"kind": "email", "value": other_email}]},
        **{"Idempotency-Key": f"at-rest-{uuid.uuid4()}"},
    )
    assert created.status_code == 201, created.text

    e164 = contact_point(ContactKind.PHONE, mobile).value
    held = [email, other_email, email.split("@")[0], mobile, e164, line, postcode, name, other_name, surname]
    dumps = {"rows": await table_rows(database), "files": data_dir_files(api.settings.data_dir)}
    if api.settings.database.url.startswith("postgresql"):
        dumps["pg_dump"] = await asyncio.to_thread(pg_dump, api.settings.database.url)
    fingerprint = api.context.fingerprint(contact_point(ContactKind.EMAIL, email)).encode()
    searched = 0
    for where, dump in dumps.items():
        if where == "rows" or not api.settings.database.url.startswith("postgresql"):
            assert fingerprint in dump, f"the search of {where} did not reach the family's rows"
        for form in _spellings(*held):
            assert form not in dump, f"{form!r} is readable in {where}"
            searched += 1

    # Sealed, they are still found and shown: by email (fingerprint), by name and by postcode (keyed
    # digests), and the answer a replay gives back is the first one.
    person_id = registered.json()["person_id"]
    found = (await api.get("/v1/people", email=email)).json()["items"]
    assert [p["id"] for p in found] == [person_id] and found[0]["display_name"] == name
    assert {c["value"] for c in found[0]["contacts"]} >= {email, e164}
    assert [p.id for p in await people.search_by_postcode(api.context, postcode.lower())] == [person_id]
    by_name = [p.display_name for p in await people.search_by_name(api.context, surname[2:].upper())]
    assert by_name == [other_name, name]  # in name order, as staff are shown them
    figure(f"{len(held)} details x their spellings in {sorted(dumps)}: {searched} searches")
