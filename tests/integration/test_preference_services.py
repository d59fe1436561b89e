"""LEGAL #12, #13, #19 on both backends: the Telephone and Fundraising Preference Services, and
automated calls."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.csv_rows import BadFile
from consent_service.domain.csv_suppressions import SuppressionFormat
from consent_service.domain.ledger import Source
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope
from consent_service.domain.tps import Register
from consent_service.services import catalogue, choices, imports, suppressions
from consent_service.services.checks import CheckInput, check, check_many
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context
from tests.integration.conftest import Fresh, fresh_email, fresh_mobile, ticked_grant

#: A grant ticked on a form, as the people in these tests gave theirs.

FPS = imports.SuppressionOptions(format=SuppressionFormat.FPS)


@pytest.fixture(autouse=True)
def _postgres_before_fresh(request: pytest.FixtureRequest) -> None:
    """``fresh`` cannot start the session's PostgreSQL from inside the event loop: ask for it first."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("fresh") == "postgresql":
        request.getfixturevalue("postgres_url")


async def _answer(ctx: Context, purpose: str, channel: Channel, to: object) -> tuple[bool, str]:
    answer = await check(ctx, CheckInput(purpose, channel, to))  # type: ignore[arg-type]
    return answer.allowed, answer.reason.value


async def test_an_fps_file_suppresses_marketing_on_the_channels_asked_for_people_on_file_or_not(
    fresh: Fresh,
) -> None:
    ctx = fresh.context
    email, mobile, everywhere = fresh_email(), fresh_mobile(), fresh_email()
    today = ctx.clock.now().date()
    recent = (today - timedelta(days=3)).isoformat()
    overdue = (today - timedelta(days=40)).isoformat()
    text = (
        "email,phone,postcode,address_line_1,channels,request_date\n"
        f"{email},{mobile},,,email,{recent}\n"
        f"{everywhere},{mobile},sw1a 1aa,10 Downing Street,all,{overdue}\n"
    )
    report = await imports.import_suppressions(ctx, text, FPS)
    assert (report.written, report.bad, report.added) == (True, [], 6)
    assert report.late == [3]  # the overdue request, by line: applied, and the operator told

    # Only the channels asked for, marketing only: administrative contact still flows.
    assert await _answer(ctx, "marketing", Channel.EMAIL, email) == (False, "suppressed")
    assert await _answer(ctx, "administrative", Channel.EMAIL, email) == (True, "administrative")
    postal = {"lines": ["10 downing street."], "postcode": "SW1A1AA"}
    assert await _answer(ctx, "marketing", Channel.POST, postal) == (False, "suppressed")
    assert await _answer(ctx, "administrative", Channel.POST, postal) == (True, "administrative")
    assert await _answer(ctx, "marketing", Channel.SMS, mobile) == (False, "suppressed")
    check_answer = await check(ctx, CheckInput("marketing", Channel.EMAIL, everywhere))
    assert check_answer.evidence is not None and check_answer.evidence["suppression_reason"] == "fps"

    again = await imports.import_suppressions(ctx, text, FPS)
    assert (again.added, again.present, again.late) == (0, 6, [])


async def test_a_bad_fps_row_is_reported_by_line_and_changes_nothing(fresh: Fresh) -> None:
    ctx = fresh.context
    email = fresh_email()
    text = (
        "email,phone,channels,request_date\n"
        f"{email},,email,2026-11-01\n"
        f"{fresh_email()},,phone,2026-11-01\n"
        f"{fresh_email()},,pigeon,2026-11-01\n"
        f"{fresh_email()},,email,\n"
    )
    report = await imports.import_suppressions(ctx, text, FPS)
    assert not report.written
    assert [(e.line, e.message.split(":")[0]) for e in report.bad] == [
        (3, "phone"),
        (4, "channels"),
        (5, "request_date"),
    ]
    assert await _answer(ctx, "marketing", Channel.EMAIL, email) != (False, "suppressed")


SOFT_OPT_IN_CONTEXT = {
    "relationship": "enquirer",
    "opt_out_offered": True,
    "opt_out_wording": "Tick if you would rather we did not call.",
    "collected_on": "2026-03-01",
}


async def _purpose(ctx: Context, purpose: Purpose) -> None:
    await catalogue.add_purpose(ctx.catalogue, ctx.clock, purpose)
    await catalogue.add_notice(ctx.catalogue, ctx.clock, purpose.code, "Our calls", "en", None)


async def _granting(ctx: Context, mobile: str, *grants: ChoiceInput) -> None:
    person = PersonInput(contacts=[ContactInput(ContactKind.PHONE, mobile)])
    await choices.register(ctx, choices.Register(person, ChoicesInput(list(grants), Source.WEB_FORM, "form")))


def _screening(register: Register, day: date) -> imports.ScreeningOptions:
    return imports.ScreeningOptions(register=register, screened_on=day)


async def test_a_live_marketing_call_to_a_tps_number_needs_this_organisations_consent_to_calls(
    fresh: Fresh,
) -> None:
    ctx = fresh.context
    await _purpose(ctx, Purpose("calls", Category.MARKETING, {Channel.PHONE: Basis.LEGITIMATE_INTERESTS}))
    listed, unlisted, consenting = fresh_mobile(), fresh_mobile(), fresh_mobile()
    await _granting(
        ctx,
        consenting,
        ticked_grant("marketing", Channel.PHONE),
    )
    today = ctx.clock.now().date()

    # Never screened: a marketing call without consent fails closed.
    assert await _answer(ctx, "calls", Channel.PHONE, unlisted) == (False, "tps_screening_stale")

    text = f"{listed}\n{consenting}\n"
    report = await imports.import_screening(ctx, text, _screening(Register.TPS, today - timedelta(days=2)))
    assert (report.written, report.bad, report.added, report.already_imported) == (True, [], 2, False)
    assert await _answer(ctx, "calls", Channel.PHONE, listed) == (False, "tps_listed")
    assert await _answer(ctx, "calls", Channel.PHONE, unlisted) == (True, "legitimate_interests")
    # The organisation's specific consent to its calls overrides the register.
    assert await _answer(ctx, "marketing", Channel.PHONE, consenting) == (True, "consent_granted")
    # Texts and administrative calls are not live marketing calls.
    assert await _answer(ctx, "administrative", Channel.PHONE, listed) == (True, "administrative")
    bulk = await check_many(ctx, "calls", Channel.PHONE, [listed, unlisted])
    assert [a.reason.value for a in bulk] == ["tps_listed", "legitimate_interests"]

    again = await imports.import_screening(ctx, text, _screening(Register.TPS, today - timedelta(days=2)))
    assert (again.added, again.present, again.already_imported) == (0, 2, True)

    # A newer screening no longer finding a number: it has left the register.
    newer = f"number\n{consenting}\n"
    await imports.import_screening(ctx, newer, _screening(Register.TPS, today))
    assert await _answer(ctx, "calls", Channel.PHONE, listed) == (True, "legitimate_interests")

    # The organisation's own do-not-call list is the suppression list on the phone channel.
    await suppressions.suppress(
        ctx,
        suppressions.SuppressionInput(
            unlisted, Channel.PHONE, SuppressionScope.MARKETING, SuppressionReason.STAFF_REQUEST, "staff:test"
        ),
    )
    assert await _answer(ctx, "calls", Channel.PHONE, unlisted) == (False, "suppressed")

    # Every register screened against must be fresh: a CTPS screening 29 days old makes calls fail closed.
    await imports.import_screening(ctx, "", _screening(Register.CTPS, today - timedelta(days=29)))
    stale = await check(ctx, CheckInput("calls", Channel.PHONE, listed))
    assert (stale.allowed, stale.reason.value) == (False, "tps_screening_stale")
    assert stale.evidence is not None and stale.evidence["tps_screened_on"] == today - timedelta(days=29)


async def test_a_bad_number_in_a_screening_file_is_reported_by_line_and_changes_nothing(fresh: Fresh) -> None:
    ctx = fresh.context
    await _purpose(ctx, Purpose("calls", Category.MARKETING, {Channel.PHONE: Basis.LEGITIMATE_INTERESTS}))
    number = fresh_mobile()
    today = ctx.clock.now().date()
    report = await imports.import_screening(ctx, f"{number}\nnot a number\n", _screening(Register.TPS, today))
    assert (report.written, [e.line for e in report.bad]) == (False, [2])
    assert await _answer(ctx, "calls", Channel.PHONE, number) == (False, "tps_screening_stale")
    with pytest.raises(BadFile, match="future"):
        await imports.import_screening(ctx, number, _screening(Register.TPS, today + timedelta(days=2)))


async def test_an_automated_marketing_call_needs_consent_even_with_a_soft_opt_in_or_legitimate_interests(
    fresh: Fresh,
) -> None:
    ctx = fresh.context
    await _purpose(
        ctx, Purpose("recorded", Category.MARKETING, {Channel.AUTOMATED_CALL: Basis.LEGITIMATE_INTERESTS})
    )
    await _purpose(ctx, Purpose("offers", Category.MARKETING, {Channel.AUTOMATED_CALL: Basis.SOFT_OPT_IN}))
    await _purpose(
        ctx,
        Purpose(
            "appeals",
            Category.MARKETING,
            {Channel.PHONE: Basis.CONSENT, Channel.AUTOMATED_CALL: Basis.CONSENT},
        ),
    )
    mobile, live_only = fresh_mobile(), fresh_mobile()
    await imports.import_screening(ctx, "", _screening(Register.TPS, ctx.clock.now().date()))
    await _granting(
        ctx,
        mobile,
        ticked_grant("offers", Channel.AUTOMATED_CALL, SOFT_OPT_IN_CONTEXT),
        ticked_grant("appeals", Channel.AUTOMATED_CALL),
    )
    await _granting(
        ctx,
        live_only,
        ticked_grant("appeals", Channel.PHONE),
    )

    needs = (False, "automated_call_needs_consent")
    assert await _answer(ctx, "recorded", Channel.AUTOMATED_CALL, mobile) == needs
    assert await _answer(ctx, "offers", Channel.AUTOMATED_CALL, mobile) == needs
    assert await _answer(ctx, "appeals", Channel.AUTOMATED_CALL, mobile) == (True, "consent_granted")
    # A consent to live calls is not a consent to automated ones.
    assert await _answer(ctx, "appeals", Channel.PHONE, live_only) == (True, "consent_granted")
    assert await _answer(ctx, "appeals", Channel.AUTOMATED_CALL, live_only) == (False, "no_consent")


def test_the_command_line_imports_a_screening_and_reports_late_fps_requests(tmp_path: Path) -> None:
    env = {**os.environ, "CONSENT_DATA_DIR": str(tmp_path / "var"), "CONSENT_FPS_DEADLINE_DAYS": "10"}
    env.pop("CONSENT_DATABASE_URL", None)
    cli = str(Path(sys.executable).parent / "consent-service")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], env=env, capture_output=True, text=True)  # noqa: S603

    assert run("migrate").returncode == 0
    today = datetime.now(UTC).date()
    screening = tmp_path / "tps.txt"
    screening.write_text(f"{fresh_mobile()}\n{fresh_mobile()}\n", encoding="utf-8")
    args = ("import", "screening", str(screening), "--register", "tps", "--screened-on", today.isoformat())
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "2 listed numbers were recorded" in first.stdout
    assert "imported already" in run(*args).stdout

    fps = tmp_path / "fps.csv"
    fps.write_text(
        "email,channels,request_date\n"
        f"{fresh_email()},email,{(today - timedelta(days=3)).isoformat()}\n"
        f"{fresh_email()},email,{(today - timedelta(days=12)).isoformat()}\n",
        encoding="utf-8",
    )
    imported = run("import", "suppressions", str(fps), "--format", "fps")
    assert imported.returncode == 0, imported.stderr
    assert "1 FPS requests were applied after their deadline: lines 3" in imported.stdout
