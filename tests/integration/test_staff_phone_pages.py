"""The staff pages during a phone call (issue 16), over HTTP like a browser without JavaScript: the
effective answer per contact point, finding by postcode, suppressing an address not on record, adding
a person and their contact points, a letter's date, and lifting a suppression."""

from __future__ import annotations

import html
import re
import secrets
from datetime import timedelta

import httpx

from consent_service.domain.contacts import normalise_phone
from consent_service.services.people import SEARCH_LIMIT
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_observability import metric
from tests.integration.test_staff_pages import Staff, browser, csrf_of, family, history, member, signed_in

__all__ = ["browser", "member"]  # fixtures shared with the staff pages' tests


def rows_of(page: httpx.Response, section: str) -> list[str]:
    """The text of each body row of the table in the section whose heading id is ``section``."""
    start = page.text.index(f'id="{section}"')
    end = page.text.find("</section>", start)
    found = re.findall(r"<tr>(.*?)</tr>", page.text[start:end], re.S)
    return [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip() for row in found]


async def test_the_person_page_shows_a_bounced_address_as_not_sent_whatever_the_choice_says(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)  # granted marketing by email and text message
    bounced = await api.post(
        "/v1/suppressions",
        {"to": person.email, "channel": "email", "reason": "hard_bounce", "note": "550 no such user"},
    )
    assert bounced.status_code == 201, bounced.text
    await signed_in(browser, member)

    page = await browser.get(f"/staff/people/{person.person_id}")
    assert page.status_code == 200
    effective = rows_of(page, "effective-heading")
    email_row = next(r for r in effective if r.startswith(f"{person.email} Marketing Email"))
    assert "Not sent" in email_row
    assert "The contact point does not work: messages to it bounced" in email_row
    sms_row = next(
        r for r in effective if r.startswith(f"{normalise_phone(person.mobile)} Marketing Text message")
    )
    assert "Sent They agreed" in sms_row
    # The choices table still says what they chose, but no longer that it is sent.
    choice = next(r for r in rows_of(page, "choices-heading") if r.startswith("Marketing Email"))
    assert "Granted" in choice and "Not sent: the contact point does not work" in choice
    # It is the check API's answer.
    answer = await api.check("email", person.email)
    assert (answer["allowed"], answer["reason"]) == (False, "contact_invalid")

    suppressions = rows_of(page, "suppressions-heading")
    assert any(person.email in r and "Messages to it bounced" in r for r in suppressions)


async def test_a_suppression_is_lifted_from_the_page_with_a_reason(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    added = await api.post(
        "/v1/suppressions", {"to": person.email, "channel": "email", "reason": "unsubscribed"}
    )
    assert added.status_code == 201, added.text
    entry_id = added.json()["id"]
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    assert "On the suppression list: they unsubscribed" in page.text
    assert (await api.check("email", person.email))["reason"] == "suppressed"

    lift = f"/staff/people/{person.person_id}/suppressions/{entry_id}/lift"
    assert f'action="{lift}"' in page.text
    # The reasons are a closed list: none chosen, or words typed into a forged form, lift nothing.
    assert '<option value="added_in_error">It was added by mistake</option>' in page.text
    for reason in ("", "Unsubscribed by mistake, she says"):
        refused = await browser.post(lift, data={"reason": reason, "_csrf_token": csrf_of(page)})
        assert refused.status_code == 422 and "Choose why you are lifting the suppression." in refused.text
    assert (await api.check("email", person.email))["reason"] == "suppressed"

    lifted = await browser.post(lift, data={"reason": "added_in_error", "_csrf_token": csrf_of(page)})
    assert lifted.status_code == 303, lifted.text
    assert (await api.check("email", person.email))["allowed"] is True
    shown = await browser.get(f"/staff/people/{person.person_id}")
    assert "Suppression lifted." in shown.text
    assert any("It was added by mistake" in r for r in rows_of(shown, "suppressions-heading"))
    entries = (await api.get("/v1/suppressions/lookup", to=person.email, channel="email")).json()["items"]
    assert (entries[0]["lifted_by"], entries[0]["lift_reason"]) == (
        f"staff:{member.username}",
        "added_in_error",
    )

    # Someone else's entry is not this person's to lift.
    other = await family(api)
    theirs = await api.post(
        "/v1/suppressions", {"to": other.email, "channel": "email", "reason": "complaint"}
    )
    stolen = await browser.post(
        f"/staff/people/{person.person_id}/suppressions/{theirs.json()['id']}/lift",
        data={"reason": "added_in_error", "_csrf_token": csrf_of(shown)},
    )
    assert stolen.status_code == 404
    assert (await api.check("email", other.email))["reason"] == "suppressed"


async def test_find_by_postcode(api: Api, browser: httpx.AsyncClient, member: Staff) -> None:
    # A postcode of its own: the shared database holds more families at LS1 4AP than a page shows.
    inward = "".join(secrets.choice("ABDEFGHJLNPQRSTUWXYZ") for _ in range(2))
    postcode = f"LS{secrets.randbelow(28) + 1} {secrets.randbelow(10)}{inward}"
    person = await family(api, postcode)
    await signed_in(browser, member)
    for query in (postcode, postcode.replace(" ", "").lower()):
        found = await browser.get("/staff", params={"q": query})
        assert found.status_code == 200
        assert f'href="/staff/people/{person.person_id}"' in found.text, query
    assert "Only the first" not in found.text
    nobody = await browser.get("/staff", params={"q": "ZZ9 9ZZ"})
    assert "Nobody found" in nobody.text

    # A full page says so, rather than passing for everyone at that postcode.
    crowded = postcode[:-1] + ("A" if postcode[-1] != "A" else "B")
    for _ in range(SEARCH_LIMIT):
        await family(api, crowded)
    page = await browser.get("/staff", params={"q": crowded})
    assert f"{SEARCH_LIMIT} found" in page.text
    assert f"Only the first {SEARCH_LIMIT} are shown." in page.text


async def test_an_address_not_on_record_is_suppressed_from_the_search_page(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    await signed_in(browser, member)
    stranger = fresh_email()
    assert (await api.check("email", stranger))["reason"] == "no_consent"
    search = await browser.get("/staff", params={"q": stranger})
    assert "Nobody found" in search.text
    assert 'action="/staff/suppressions"' in search.text
    assert f'value="{stranger}"' in search.text

    # How they asked is a closed list, phone call first (the page is used during calls); no text box.
    assert '<select id="suppress-how" name="how"' in search.text
    assert '<option value="phone_call" selected>Phone call</option>' in search.text
    assert 'name="reason"' not in search.text and "<textarea" not in search.text

    done = await browser.post(
        "/staff/suppressions",
        data={"to": stranger.upper(), "channel": "", "how": "letter", "_csrf_token": csrf_of(search)},
    )
    assert done.status_code == 200, done.text
    assert "is on the suppression list" in done.text and "how they asked: letter" in done.text
    answer = await api.check("email", stranger)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    [entry] = (await api.get("/v1/suppressions/lookup", to=stranger, channel="email")).json()["items"]
    assert (entry["reason"], entry["actor"], entry["how"], entry["note"]) == (
        "staff_request",
        f"staff:{member.username}",
        "letter",
        None,
    )

    # A form without how they asked (or an old one still sending its reason text) is never refused:
    # the opt-out is recorded as not said, and the text is kept nowhere.
    phone = fresh_mobile()
    by_text = await browser.post(
        "/staff/suppressions",
        data={"to": phone, "channel": "sms", "reason": "Texts unwanted", "_csrf_token": csrf_of(search)},
    )
    assert by_text.status_code == 200
    assert (await api.check("sms", phone))["reason"] == "suppressed"
    [texted] = (await api.get("/v1/suppressions/lookup", to=phone, channel="sms")).json()["items"]
    assert (texted["how"], texted["note"]) == (None, None)
    assert (await api.check("phone", phone))["reason"] == "no_consent"

    bad = await browser.post(
        "/staff/suppressions",
        data={"to": "not an address", "reason": "x", "_csrf_token": csrf_of(search)},
    )
    assert bad.status_code == 422 and "not a valid email address or phone number" in bad.text


async def test_a_person_on_the_phone_is_added_with_their_contact_points(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    await signed_in(browser, member)
    form = await browser.get("/staff/people/new")
    assert form.status_code == 200
    assert '<label for="postcode">Postcode</label>' in form.text
    email = fresh_email()

    nameless = await browser.post("/staff/people", data={"email": email, "_csrf_token": csrf_of(form)})
    assert nameless.status_code == 422 and "Give their name, or a case reference." in nameless.text
    bad = await browser.post(
        "/staff/people",
        data={
            "display_name": "Casey Caller",
            "postcode": "nowhere",
            "address": "1 Lane",
            "_csrf_token": csrf_of(form),
        },
    )
    assert bad.status_code == 422 and "Not a UK postcode." in bad.text
    assert (await api.get("/v1/people", email=email)).json()["items"] == []

    added = await browser.post(
        "/staff/people",
        data={
            "display_name": "Casey Caller",
            "email": email,
            "address": "2 Phone Street",
            "postcode": "ls1 4ap",
            "_csrf_token": csrf_of(form),
        },
    )
    assert added.status_code == 303, added.text
    person_id = added.headers["location"].rsplit("/", 1)[1]
    page = await browser.get(added.headers["location"])
    assert (
        "<h1>Casey Caller</h1>" in page.text and email in page.text and "2 phone street, LS1 4AP" in page.text
    )
    held = (await api.get(f"/v1/people/{person_id}")).json()
    assert {c["kind"] for c in held["contacts"]} == {"email", "postal"}
    # Nothing was said yet: nothing marketing is sent, service messages are.
    assert (await api.check("email", email))["reason"] == "no_consent"
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True


async def test_contact_points_are_added_corrected_and_removed_and_an_opt_out_outlives_its_point(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    csrf = csrf_of(page)
    url = f"/staff/people/{person.person_id}"

    # They say no to marketing email, then tell us to stop using that address altogether.
    withdrawn = await browser.post(
        f"{url}/choices",
        data={"choice:marketing:email": "withdrawn", "source": "phone_call", "_csrf_token": csrf},
    )
    assert withdrawn.status_code == 303
    contacts = (await api.get(f"/v1/people/{person.person_id}")).json()["contacts"]
    email_id = next(c["id"] for c in contacts if c["kind"] == "email")
    removed = await browser.post(f"{url}/contacts/{email_id}/remove", data={"_csrf_token": csrf})
    assert removed.status_code == 303, removed.text
    shown = await browser.get(url)
    assert "stays on the suppression list" in shown.text
    assert person.email not in (await browser.get(url)).text
    answer = await api.check("email", person.email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert (await api.get("/v1/people", email=person.email)).json()["items"] == []

    # A new email added, and a typo in it corrected.
    typo, right = fresh_email(), fresh_email()
    bad = await browser.post(f"{url}/contacts", data={"kind": "email", "email": "nope@", "_csrf_token": csrf})
    assert bad.status_code == 422 and "Nothing was changed" in bad.text
    added = await browser.post(f"{url}/contacts", data={"kind": "email", "email": typo, "_csrf_token": csrf})
    assert added.status_code == 303, added.text
    contacts = (await api.get(f"/v1/people/{person.person_id}")).json()["contacts"]
    typo_id = next(c["id"] for c in contacts if c["kind"] == "email")
    wrong = await browser.post(
        f"{url}/contacts/{typo_id}/correct", data={"email": "still wrong@", "_csrf_token": csrf}
    )
    assert wrong.status_code == 422
    corrected = await browser.post(
        f"{url}/contacts/{typo_id}/correct", data={"email": right, "_csrf_token": csrf}
    )
    assert corrected.status_code == 303, corrected.text
    emails = [c["value"] for c in (await api.get(f"/v1/people/{person.person_id}")).json()["contacts"]]
    assert right in emails and typo not in emails
    # Their withdrawal covers the new address too: it is theirs.
    assert (await api.check("email", right))["reason"] == "consent_withdrawn"
    assert (
        await browser.post(f"{url}/contacts/{typo_id}/remove", data={"_csrf_token": csrf})
    ).status_code == 404


async def test_a_letter_is_recorded_on_its_date_and_a_late_opt_out_without_a_reason_still_counts(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    url = f"/staff/people/{person.person_id}"
    page = await browser.get(url)
    for source in ("letter", "paper_form", "web_form", "unsubscribe_link", "preference_centre", "import"):
        assert f'<option value="{source}"' in page.text
    today = api.context.clock.now().date()
    dated = (today - timedelta(days=6)).isoformat()

    # A grant dated a week ago with no reason for the lateness is refused: a grant needs its paperwork.
    grant = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:phone": "granted",
            "notice:marketing": "1",
            "source": "letter",
            "affirmative_action": "wrote_yes",
            "said_on": dated,
            "_csrf_token": csrf_of(page),
        },
    )
    assert grant.status_code == 422 and "back-dated by more than a day needs a reason" in grant.text

    # A withdrawal by letter dated a week ago, posted without a reason: recorded, with the gap named.
    before = len(await history(api, person.person_id))
    late = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:post": "withdrawn",
            "source": "letter",
            "said_on": dated,
            "_csrf_token": csrf_of(page),
        },
    )
    assert late.status_code == 303, late.text
    events = await history(api, person.person_id)
    assert len(events) == before + 1
    assert events[-1]["effective_at"].startswith(dated)
    assert events[-1]["evidence_gaps"] == ["note"]
    assert (await api.check("post", person.postal))["allowed"] is False
    shown = await browser.get(url)
    assert "Paperwork missing: back-dated without a reason" in shown.text
    [late_row] = [r for r in rows_of(shown, "history-heading") if "Letter" in r]
    assert "Incomplete: back-dated without a reason" in late_row

    # Their text messages were granted today: a letter from last week saying no goes into history only,
    # and the page says so.
    older = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:sms": "withdrawn",
            "source": "letter",
            "said_on": dated,
            "note": "Found in the post tray",
            "_csrf_token": csrf_of(page),
        },
    )
    assert older.status_code == 303
    assert (
        "History only, as they said something newer since: Marketing by text message."
        in (await browser.get(url)).text
    )

    # With the reason, the letter's grant is recorded on its date; a paper form carries its own date.
    noted = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:phone": "granted",
            "notice:marketing": "1",
            "source": "letter",
            "affirmative_action": "wrote_yes",
            "said_on": dated,
            "note": "Form from the drop-in, posted to us late",
            "_csrf_token": csrf_of(page),
        },
    )
    assert noted.status_code == 303, noted.text
    last = (await history(api, person.person_id))[-1]
    assert (last["source"], last["effective_at"][:10], last["evidence_gaps"]) == ("letter", dated, [])
    assert last["evidence"]["staff_member"] == member.display_name
    form = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:phone": "withdrawn",
            "source": "paper_form",
            "said_on": (today - timedelta(days=3)).isoformat(),
            "_csrf_token": csrf_of(page),
        },
    )
    assert form.status_code == 303, form.text
    last = (await history(api, person.person_id))[-1]
    assert (last["source"], last["effective_at"][:10]) == (
        "paper_form",
        (today - timedelta(days=3)).isoformat(),
    )
    bad_date = await browser.post(
        f"{url}/choices",
        data={
            "choice:marketing:sms": "withdrawn",
            "source": "letter",
            "said_on": "31/02",
            "_csrf_token": csrf_of(page),
        },
    )
    assert bad_date.status_code == 422 and "Give the date as a day, month and year." in bad_date.text


async def test_the_new_forms_need_a_session_and_the_csrf_token_and_page_views_are_not_counted_as_checks(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    stranger = fresh_email()
    csrf = csrf_of(await browser.get("/staff/sign-in"))
    url = f"/staff/people/{person.person_id}"
    writes = [
        ("/staff/suppressions", {"to": stranger, "reason": "forged"}),
        ("/staff/people", {"display_name": "Forged Person", "email": stranger}),
        (f"{url}/contacts", {"kind": "email", "email": stranger}),
    ]
    for path, form in writes:
        assert (await browser.post(path, data=form | {"_csrf_token": csrf})).status_code == 401, path
    await signed_in(browser, member)
    for path, form in writes:
        assert (await browser.post(path, data=form)).status_code == 403, path
    assert (await api.check("email", stranger))["reason"] == "no_consent"
    assert (await api.get("/v1/people", email=stranger)).json()["items"] == []

    counted = await metric(api, "consent_checks_total")
    assert (await browser.get(url)).status_code == 200
    assert await metric(api, "consent_checks_total") == counted


async def test_an_objection_offers_no_lift_and_a_forged_lift_is_refused_on_the_page(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    by_phone = {"source": "phone_call", "evidence": {"staff_member": "Ana"}}
    objected = await api.post(f"/v1/people/{person.person_id}/objection", by_phone)
    assert objected.status_code == 201, objected.text
    entry_id = objected.json()["suppressions"][0]["id"]
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    lift = f"/staff/people/{person.person_id}/suppressions/{entry_id}/lift"
    assert f'action="{lift}"' not in page.text
    assert "An objection to marketing cannot be lifted by staff." in page.text

    forged = await browser.post(lift, data={"reason": "added_in_error", "_csrf_token": csrf_of(page)})
    assert forged.status_code == 303
    shown = await browser.get(f"/staff/people/{person.person_id}")
    assert "An objection to marketing cannot be lifted by staff." in shown.text
    assert "Suppression lifted." not in shown.text
    assert (await api.check("email", person.email))["allowed"] is False
