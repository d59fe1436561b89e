"""Import and export on the command line: checked whole, idempotent, never lifting, no contact details out."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.domain.csv_rows import BadFile
from consent_service.domain.csv_suppressions import SuppressionFormat
from consent_service.domain.errors import InvalidInput
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source
from consent_service.domain.suppressions import LiftReason, SuppressionReason, SuppressionScope
from consent_service.services import choices, exports, imports, suppressions
from consent_service.services.checks import CheckInput, check
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context
from consent_service.services.suppressions import SuppressionInput
from tests.integration.conftest import Fresh, fresh_email, fresh_mobile, ticked_grant

#: A grant ticked on a form, as the people in these tests gave theirs.
TICKED = AffirmativeAction.TICKED_BOX

MARKETING_1 = {"marketing": 1}


@pytest.fixture(autouse=True)
def _postgres_before_fresh(request: pytest.FixtureRequest) -> None:
    """``fresh`` asks for the session's PostgreSQL from inside the event loop, where that fixture cannot
    start it (it calls asyncio.run); ask for it here first, so this file also runs on its own."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("fresh") == "postgresql":
        request.getfixturevalue("postgres_url")


async def _suppression_count(ctx: Context) -> int:
    async with ctx.store.reading() as uow:
        return len(await uow.suppressions.page(None, None, None, 100_000))


async def _event_count(ctx: Context) -> int:
    async with ctx.store.reading() as uow:
        return await uow.ledger.count()


async def _people_count(ctx: Context) -> int:
    out = io.StringIO()
    await exports.export_consents(ctx, out)
    return len({row["person_id"] for row in csv.DictReader(io.StringIO(out.getvalue()))})


async def _answer(ctx: Context, channel: Channel, to: str) -> tuple[bool, str]:
    answer = await check(ctx, CheckInput("marketing", channel, to))
    return answer.allowed, answer.reason.value


def _consents(**options: Any) -> imports.ConsentOptions:
    vouched = imports.ConsentOptions(Source.PAPER_FORM, MARKETING_1, affirmative_action=TICKED)
    return replace(vouched, **options)


async def test_a_suppression_file_imported_twice_changes_nothing_the_second_time(fresh: Fresh) -> None:
    ctx = fresh.context
    email, mobile, everywhere = fresh_email(), fresh_mobile(), fresh_email()
    text = (
        "email,channel,reason,scope,note\n"
        f"{email.upper()},email,unsubscribed,,asked at the toddler group\n"
        f"{everywhere},all,staff_request,all,\n"
        f" {email} ,,unsubscribed,,the same address again spelt otherwise\n"
    )
    first = await imports.import_suppressions(ctx, text, imports.SuppressionOptions())
    assert (first.written, first.bad, first.added, first.repeated) == (True, [], 2, 1)
    # The note column is read past, never refused and never kept: the list holds no free text.
    assert first.not_kept == ["note"]
    assert all(e.how is None for e in await suppressions.lookup(ctx, email, Channel.EMAIL))
    phone_file = f"to,channel,reason\n{mobile},sms,complaint\n"
    assert (await imports.import_suppressions(ctx, phone_file, imports.SuppressionOptions())).added == 1
    stored = await _suppression_count(ctx)
    assert stored == 3

    again = await imports.import_suppressions(ctx, text, imports.SuppressionOptions())
    assert (again.added, again.present, again.repeated) == (0, 2, 1)
    assert (await imports.import_suppressions(ctx, phone_file, imports.SuppressionOptions())).present == 1
    assert await _suppression_count(ctx) == stored
    assert await _answer(ctx, Channel.EMAIL, email) == (False, "suppressed")
    assert await _answer(ctx, Channel.SMS, mobile) == (False, "suppressed")

    # Another reason for the same address is another entry; and an entry lifted by staff after the
    # row's own date stays lifted when an older file comes round again.
    dated = f"email,reason,effective_at\n{email},complaint,2024-05-01T10:00:00Z\n"
    added = await imports.import_suppressions(ctx, dated, imports.SuppressionOptions())
    assert added.added == 1
    entry = next(
        e for e in await suppressions.lookup(ctx, email, Channel.EMAIL) if e.reason.value == "complaint"
    )
    assert entry.effective_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    await suppressions.lift(
        ctx, suppressions.LiftSuppression(entry.id, LiftReason.ADDED_IN_ERROR, "staff:test")
    )
    replayed = await imports.import_suppressions(ctx, dated, imports.SuppressionOptions())
    assert (replayed.added, replayed.lifted_since) == (0, 1)


async def test_a_file_with_a_bad_row_changes_nothing_and_names_each_bad_line(fresh: Fresh) -> None:
    ctx = fresh.context
    good, other = fresh_email(), fresh_email()
    text = (
        "email,channel,reason\n"
        f"{good},email,unsubscribed\n"
        "not-an-address,email,unsubscribed\n"
        f"{other},email,fed_up\n"
        f"{other},pigeon,\n"
        f'"{fresh_email()}",email,imported,extra\n'
    )
    before = await _suppression_count(ctx)
    refused = await imports.import_suppressions(ctx, text, imports.SuppressionOptions())
    assert not refused.written
    assert [(e.line, e.message.split(":")[0]) for e in refused.bad] == [
        (3, "email"),
        (4, "reason"),
        (5, "channel"),
        (6, "4 fields, but the header has 3"),
    ]
    assert "invalid email" in refused.bad[0].message
    assert "'fed_up'" in refused.bad[1].message
    assert await _suppression_count(ctx) == before
    assert await _answer(ctx, Channel.EMAIL, good) == (False, "no_consent")  # not suppressed

    dry = await imports.import_suppressions(
        ctx, text, imports.SuppressionOptions(skip_bad_rows=True, dry_run=True)
    )
    assert (dry.written, dry.added, len(dry.bad)) == (False, 1, 4)
    assert await _suppression_count(ctx) == before

    skipped = await imports.import_suppressions(ctx, text, imports.SuppressionOptions(skip_bad_rows=True))
    assert (skipped.written, skipped.added, [e.line for e in skipped.bad]) == (True, 1, [3, 4, 5, 6])
    assert await _suppression_count(ctx) == before + 1
    assert await _answer(ctx, Channel.EMAIL, good) == (False, "suppressed")

    # The same for consents: a bad value, a bad date, a row with no address, a repeated choice.
    events, people = await _event_count(ctx), await _people_count(ctx)
    a, b = fresh_email(), fresh_email()
    consents = (
        "reference,email,phone,marketing_email,marketing_sms,effective_at\n"
        f"T-1,{a},,yes,,\n"
        f"T-2,{b},,maybe,,\n"
        f"T-3,{fresh_email()},,yes,,01/03/2024\n"
        "T-4,,,yes,,\n"
        f"T-5,{fresh_email()},0791,,yes,\n"
        f"T-1,{a},,no,,\n"
        f"T-6,{fresh_email()},,yes,,2999-01-01\n"
        f"T-7,{fresh_email()},,yes,,0001-01-01T00:30:00+01:00\n"
    )
    refused_consents = await imports.import_consents(ctx, consents, _consents())
    assert [e.line for e in refused_consents.bad] == [3, 4, 5, 6, 7, 8, 9]
    messages = [e.message for e in refused_consents.bad]
    assert "unknown value 'maybe'" in messages[0]
    assert "is not a date" in messages[1]
    assert messages[2] == "no email or phone"
    assert "phone: invalid phone" in messages[3]
    assert "given on line 2" in messages[4]
    assert "in the future" in messages[5]
    assert "outside the times that can be stored" in messages[6]  # year 0 in UTC
    assert (await _event_count(ctx), await _people_count(ctx)) == (events, people)

    done = await imports.import_consents(ctx, consents, _consents(skip_bad_rows=True))
    assert (done.written, done.events, done.people_created) == (True, 1, 1)
    assert await _event_count(ctx) == events + 1
    assert await _answer(ctx, Channel.EMAIL, a) == (True, "consent_granted")


async def test_a_file_the_format_does_not_fit_is_refused_whole(fresh: Fresh) -> None:
    ctx = fresh.context
    with pytest.raises(BadFile, match="unknown column colour"):
        await imports.import_suppressions(
            ctx, "email,colour\nx@example.org,red\n", imports.SuppressionOptions()
        )
    with pytest.raises(BadFile, match="unknown column marketing_fax"):
        await imports.import_consents(ctx, "email,marketing_fax\nx@example.org,yes\n", _consents())
    with pytest.raises(BadFile, match="--notice testimonial:VERSION"):
        await imports.import_consents(ctx, "email,testimonial\nx@example.org,yes\n", _consents())
    subscribed = '"Email Address","First Name",MEMBER_RATING,OPTIN_TIME\nx@example.org,Jo,2,\n'
    with pytest.raises(BadFile, match="is it the subscribed export"):
        await imports.import_suppressions(
            ctx, subscribed, imports.SuppressionOptions(SuppressionFormat.MAILCHIMP_UNSUBSCRIBED)
        )


# The columns of Mailchimp's audience export: "Email Address", the audience's merge fields, the
# member columns, then the section's own (UNSUB_* or CLEAN_*), then LEID, EUID, NOTES, TAGS.
_MEMBER = ["Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP"]
_MEMBER += ["CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC"]
_MEMBER += ["REGION"]
_UNSUB = ["UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON", "UNSUB_REASON_OTHER"]
_CLEAN = ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"]
_IDS = ["LEID", "EUID", "NOTES", "TAGS"]


def mailchimp(section: list[str], *rows: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, [*_MEMBER, *section, *_IDS], restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_mailchimp_unsubscribed_and_cleaned_exports(fresh: Fresh) -> None:
    ctx = fresh.context
    left, bounced = fresh_email(), fresh_email()
    unsubscribed = mailchimp(
        _UNSUB,
        {
            "Email Address": left,
            "First Name": "Jo",
            "OPTIN_TIME": "2023-01-05 09:12:44",
            "CC": "GB",
            "UNSUB_TIME": "2024-02-10 18:03:11",
            "UNSUB_CAMPAIGN_TITLE": "Spring newsletter",
            "UNSUB_CAMPAIGN_ID": "a1b2c3",
            "UNSUB_REASON": "I no longer want to receive these emails",
            "UNSUB_REASON_OTHER": "please stop writing to 12 Acacia Avenue",
            "LEID": "123456",
            "TAGS": '"Toddler group"',
        },
    )
    options = imports.SuppressionOptions(SuppressionFormat.MAILCHIMP_UNSUBSCRIBED)
    report = await imports.import_suppressions(ctx, unsubscribed, options)
    assert (report.bad, report.added) == ([], 1)
    [entry] = await suppressions.lookup(ctx, left, Channel.EMAIL)
    assert (entry.reason, entry.channel, entry.scope) == (
        SuppressionReason.UNSUBSCRIBED,
        Channel.EMAIL,
        SuppressionScope.MARKETING,
    )
    assert entry.effective_at == datetime(2024, 2, 10, 18, 3, 11, tzinfo=UTC)
    # The campaign and the reasons the person gave are read past: the entry keeps codes alone.
    assert (entry.source, entry.how, entry.lift_reason) == ("import", None, None)
    assert await _answer(ctx, Channel.EMAIL, left) == (False, "suppressed")

    cleaned = mailchimp(
        _CLEAN,
        {
            "Email Address": bounced,
            "CLEAN_TIME": "2024-03-01 07:45:00",
            "CLEAN_CAMPAIGN_TITLE": "Winter appeal",
        },
        {"Email Address": bounced.replace("@", ""), "CLEAN_TIME": "2024-03-01 07:45:00"},
    )
    as_cleaned = imports.SuppressionOptions(SuppressionFormat.MAILCHIMP_CLEANED)
    refused = await imports.import_suppressions(ctx, cleaned, as_cleaned)
    assert [(e.line, "invalid email" in e.message) for e in refused.bad] == [(3, True)]
    report = await imports.import_suppressions(
        ctx, cleaned, imports.SuppressionOptions(SuppressionFormat.MAILCHIMP_CLEANED, skip_bad_rows=True)
    )
    assert report.added == 1
    [entry] = await suppressions.lookup(ctx, bounced, Channel.EMAIL)
    assert entry.reason is SuppressionReason.HARD_BOUNCE
    assert await _answer(ctx, Channel.EMAIL, bounced) == (False, "contact_invalid")

    # Each file a second time: nothing new. The wrong format for a file is refused with a hint.
    for text, fmt in ((unsubscribed, options), (cleaned, as_cleaned)):
        again = await imports.import_suppressions(
            ctx, text, imports.SuppressionOptions(fmt.format, skip_bad_rows=True)
        )
        assert (again.added, again.present) == (0, 1)
    with pytest.raises(BadFile, match="--format mailchimp-unsubscribed"):
        await imports.import_suppressions(ctx, unsubscribed, as_cleaned)


async def test_a_consent_file_imported_twice_records_its_choices_once(fresh: Fresh) -> None:
    ctx = fresh.context
    a, b, mobile = fresh_email(), fresh_email(), fresh_mobile()
    text = (
        "reference,display_name,email,phone,marketing_email,marketing_sms,marketing_post,effective_at\n"
        f"HS-101,Jo Bloggs,{a},{mobile},yes,no,,2025-03-01\n"
        f",,{b},,Y,,no,2025-03-02T09:30:00+01:00\n"
        f"HS-101,,,{mobile},,,yes,2025-03-01\n"  # the same person again: a choice not given above
    )
    events = await _event_count(ctx)
    dry = await imports.import_consents(ctx, text, _consents(dry_run=True))
    assert (dry.written, dry.events, dry.people_created) == (False, 5, 2)
    assert await _event_count(ctx) == events

    first = await imports.import_consents(ctx, text, _consents())
    assert (first.bad, first.events, first.people_created, first.unchanged) == ([], 5, 2, 0)
    assert await _event_count(ctx) == events + 5
    assert await _answer(ctx, Channel.EMAIL, a) == (True, "consent_granted")
    assert await _answer(ctx, Channel.SMS, mobile) == (False, "suppressed")  # the "no" suppressed it

    suppressed = await _suppression_count(ctx)
    second = await imports.import_consents(ctx, text, _consents())
    assert (second.events, second.people_created, second.contacts_added, second.unchanged) == (0, 0, 0, 5)
    assert await _event_count(ctx) == events + 5
    assert await _suppression_count(ctx) == suppressed

    # The person later withdrew by email; the old file run again does not bring the grant back.
    async with ctx.store.reading() as uow:
        person = await uow.people.by_reference("HS-101")
    assert person is not None
    await choices.record_choices(
        ctx,
        choices.RecordChoices(
            person.id,
            ChoicesInput(
                [ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)],
                Source.EMAIL,
                "test",
                evidence=Evidence(staff_member="Sam"),
            ),
        ),
    )
    third = await imports.import_consents(ctx, text, _consents())
    assert (third.events, third.superseded, third.unchanged) == (0, 1, 4)
    assert await _answer(ctx, Channel.EMAIL, a) == (False, "suppressed")


async def test_an_address_held_by_two_people_needs_a_reference(fresh: Fresh) -> None:
    ctx = fresh.context
    shared = fresh_email()
    for name in ("Parent one", "Parent two"):
        await choices.create_person(
            ctx, PersonInput(display_name=name, contacts=[ContactInput(ContactKind.EMAIL, shared)])
        )
    report = await imports.import_consents(ctx, f"email,marketing_email\n{shared},yes\n", _consents())
    assert [(e.line, "belongs to 2 people" in e.message) for e in report.bad] == [(2, True)]


@pytest.mark.parametrize("source", [Source.PAPER_FORM, Source.IMPORT, Source.WEB_FORM])
async def test_a_consent_import_never_lifts_a_suppression(fresh: Fresh, source: Source) -> None:
    ctx = fresh.context
    stranger, member, control = fresh_email(), fresh_email(), fresh_email()
    # An address on the list with no person behind it, and a person who withdrew (the withdrawal
    # suppressed their address), both earlier than the file's choices.
    await suppressions.suppress(
        ctx,
        SuppressionInput(
            stranger, Channel.EMAIL, SuppressionScope.MARKETING, SuppressionReason.UNSUBSCRIBED, "test"
        ),
    )
    earlier = datetime.now(UTC) - timedelta(days=30)
    for email in (member, control):
        await choices.register(
            ctx,
            choices.Register(
                PersonInput(reference=f"ref-{email}", contacts=[ContactInput(ContactKind.EMAIL, email)]),
                ChoicesInput(
                    [ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)],
                    Source.WEB_FORM,
                    "test",
                    effective_at=earlier,
                ),
            ),
        )
    # The control shows what is at stake: the person's own grant on a form does lift their entry.
    await choices.register(
        ctx,
        choices.Register(
            PersonInput(reference=f"ref-{control}"),
            ChoicesInput(
                [ticked_grant("marketing", Channel.EMAIL)],
                source,
                "test",
            ),
        ),
    )
    control_answer = await _answer(ctx, Channel.EMAIL, control)
    assert control_answer == ((False, "suppressed") if source is Source.IMPORT else (True, "consent_granted"))

    text = f"reference,email,marketing_email\n,{stranger},yes\nref-{member},{member},yes\n"
    report = await imports.import_consents(ctx, text, _consents(source=source))
    assert (report.bad, report.stopped, report.events) == ([], None, 2)
    assert report.kept_suppressed == (0 if source is Source.IMPORT else 2)
    for email in (stranger, member):
        assert await _answer(ctx, Channel.EMAIL, email) == (False, "suppressed")
        assert all(e.lifted_at is None for e in await suppressions.lookup(ctx, email, Channel.EMAIL))
    async with ctx.store.reading() as uow:
        person = await uow.people.by_reference(f"ref-{member}")
        assert person is not None
        [grant] = [e for e in await uow.ledger.events([person.id]) if e.decision is Decision.GRANTED]
    assert grant.source is Source.IMPORT
    if source is not Source.IMPORT:
        assert grant.evidence.note is not None
        assert f"vouched for source {source.value}" in grant.evidence.note

    again = await imports.import_consents(ctx, text, _consents(source=source))
    assert (again.events, again.unchanged) == (0, 2)


async def test_the_exports_hold_no_contact_details_and_round_trip(fresh: Fresh) -> None:
    ctx = fresh.context
    emails = [fresh_email() for _ in range(3)]
    mobile = fresh_mobile()
    await imports.import_suppressions(
        ctx,
        "to,channel,reason\n"
        + "".join(f"{e},email,unsubscribed\n" for e in emails)
        + f"{mobile},sms,complaint\n",
        imports.SuppressionOptions(),
    )
    await imports.import_consents(
        ctx,
        "reference,display_name,email,phone,marketing_email,marketing_sms\n"
        f"EX-1,Jo Bloggs,{fresh_email()},{fresh_mobile()},yes,yes\n"
        f"EX-2,Sam Smith,{fresh_email()},,no,\n",
        _consents(),
    )
    out = io.StringIO()
    count = await exports.export_suppressions(ctx, out)
    exported = out.getvalue()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert tuple(rows[0]) == exports.SUPPRESSION_COLUMNS
    assert count == len(rows)
    expected = {
        (ctx.fingerprint(contact_point(ContactKind.EMAIL, e)), "email", "unsubscribed") for e in emails
    } | {(ctx.fingerprint(contact_point(ContactKind.PHONE, mobile)), "sms", "complaint")}
    assert expected <= {(r["fingerprint"], r["channel"], r["reason"]) for r in rows}

    people = io.StringIO()
    await exports.export_consents(ctx, people)
    choices_out = list(csv.DictReader(io.StringIO(people.getvalue())))
    assert tuple(choices_out[0]) == exports.CONSENT_COLUMNS
    mine = {
        (r["reference"], r["channel"], r["status"], r["notice_version"], r["source"]) for r in choices_out
    }
    assert {
        ("EX-1", "email", "granted", "1", "paper_form"),
        ("EX-1", "sms", "granted", "1", "paper_form"),
        ("EX-2", "email", "withdrawn", "1", "paper_form"),
    } <= mine
    everything = exported + people.getvalue()
    assert "@" not in everything
    assert "Bloggs" not in everything
    assert mobile.replace(" ", "")[1:] not in everything


def test_the_command_line_imports_and_exports_with_line_numbers(tmp_path: Path) -> None:
    env = {**os.environ, "CONSENT_DATA_DIR": str(tmp_path / "var")}
    env.pop("CONSENT_DATABASE_URL", None)
    cli = str(Path(sys.executable).parent / "consent-service")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], env=env, capture_output=True, text=True)  # noqa: S603

    assert run("migrate").returncode == 0
    email, other = fresh_email(), fresh_email()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"email,reason\n{email},unsubscribed\nnobody,unsubscribed\n", encoding="utf-8")
    refused = run("import", "suppressions", str(bad))
    assert refused.returncode == 1, refused.stderr
    assert "line 3: email: invalid email" in refused.stdout and "nothing was changed" in refused.stdout

    good = tmp_path / "unsubscribed_members.csv"
    good.write_text(
        "\ufeff" + mailchimp(_UNSUB, {"Email Address": email, "UNSUB_TIME": "2024-02-10 18:03:11"}),
        encoding="utf-8",
    )
    first = run("import", "suppressions", str(good), "--format", "mailchimp-unsubscribed")
    assert first.returncode == 0, first.stderr
    assert "1 suppressions were added" in first.stdout
    second = run("import", "suppressions", str(good), "--format", "mailchimp-unsubscribed")
    assert "0 suppressions were added; 1 already on the list" in second.stdout

    consents = tmp_path / "forms.csv"
    consents.write_text(
        f"reference,email,marketing_email\nF-1,{email},yes\nF-2,{other},yes\n", encoding="utf-8"
    )
    args: tuple[str, ...] = ("import", "consents", str(consents), "--source", "paper_form")
    args += ("--notice", "marketing:1")
    unsaid = run(*args)
    assert unsaid.returncode == 2 and "--affirmative-action" in unsaid.stderr
    args += ("--affirmative-action", "ticked_box")
    imported = run(*args)
    assert imported.returncode == 0, imported.stderr
    assert "2 choices were recorded (1 of them as an import" in imported.stdout
    assert "0 choices were recorded" in run(*args).stdout

    out = tmp_path / "suppressions.csv"
    assert run("export", "suppressions", "--out", str(out)).returncode == 0
    exported = run("export", "consents")
    assert exported.returncode == 0
    assert "exported 2 consents" in exported.stderr
    assert len(out.read_text().splitlines()) == 2  # the header and the one entry
    assert "@" not in out.read_text() + exported.stdout
    assert "F-1" in exported.stdout

    person_id = next(line for line in exported.stdout.splitlines() if ",F-1," in line).split(",")[0]
    record = run("export", "consent-record", person_id)
    assert record.returncode == 0, record.stderr
    held = json.loads(record.stdout)
    assert held["header"]["schema_version"] == "ISO/IEC TS 27560:2023"
    assert [e["state"] for e in held["event"]] == ["dpv:ConsentGiven"]
    assert run("export", "consent-record", "no-such-person").returncode == 1


async def test_a_file_of_withdrawals_taken_by_letter_is_recorded_without_a_staff_member(fresh: Fresh) -> None:
    """DESIGN §4.1: the opt-outs are recorded, each naming the gap; a file that grants is refused."""
    ctx = fresh.context
    a = fresh_email()
    await imports.import_consents(ctx, f"email,marketing_email\n{a},yes\n", _consents())
    assert await _answer(ctx, Channel.EMAIL, a) == (True, "consent_granted")
    letters = _consents(source=Source.LETTER)

    granting = await _event_count(ctx)
    with pytest.raises(InvalidInput) as refused:
        await imports.import_consents(ctx, f"email,marketing_email\n{fresh_email()},yes\n", letters)
    assert [e.field for e in refused.value.errors] == ["staff_member"]
    assert await _event_count(ctx) == granting

    report = await imports.import_consents(ctx, f"email,marketing_email\n{a},no\n", letters)

    assert (report.bad, report.events) == ([], 1)
    assert await _answer(ctx, Channel.EMAIL, a) == (False, "suppressed")
    async with ctx.store.reading() as uow:
        [person] = await uow.people.by_fingerprint(ctx.fingerprint(contact_point(ContactKind.EMAIL, a, "GB")))
        last = (await uow.ledger.events([person.id]))[-1]
    assert (last.decision, last.source, last.evidence_gaps) == (
        Decision.WITHDRAWN,
        Source.LETTER,
        ("staff_member",),
    )


async def test_a_file_that_grants_says_how_the_people_agreed_and_each_grant_keeps_it(fresh: Fresh) -> None:
    """UK GDPR Art 4(11): a grant is recorded with the act the organisation vouches for, never without
    one; a file of withdrawals needs none."""
    ctx = fresh.context
    a, b = fresh_email(), fresh_email()
    unsaid = _consents(affirmative_action=None)
    before = await _event_count(ctx)
    with pytest.raises(InvalidInput) as refused:
        await imports.import_consents(ctx, f"email,marketing_email\n{a},yes\n", unsaid)
    assert [e.field for e in refused.value.errors] == ["affirmative_action"]
    assert "--affirmative-action" in refused.value.detail
    assert await _event_count(ctx) == before
    assert await _answer(ctx, Channel.EMAIL, a) == (False, "no_consent")

    signed = _consents(affirmative_action=AffirmativeAction.SIGNED)
    done = await imports.import_consents(ctx, f"email,marketing_email\n{a},yes\n", signed)
    assert (done.bad, done.events) == ([], 1)
    withdrawn = await imports.import_consents(ctx, f"email,marketing_email\n{b},no\n", unsaid)
    assert (withdrawn.bad, withdrawn.events) == ([], 1)
    async with ctx.store.reading() as uow:
        for address, act, pre_ticked in ((a, AffirmativeAction.SIGNED, False), (b, None, None)):
            fingerprint = ctx.fingerprint(contact_point(ContactKind.EMAIL, address, "GB"))
            [person] = await uow.people.by_fingerprint(fingerprint)
            [event] = await uow.ledger.events([person.id])
            assert (event.evidence.affirmative_action, event.evidence.pre_ticked) == (act, pre_ticked)
