"""LEGAL #12, #13, #19 on both backends: the Telephone and Fundraising Preference Services, and
automated calls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.csv_suppressions import SuppressionFormat
from consent_service.services import imports
from consent_service.services.checks import CheckInput, check
from consent_service.services.context import Context
from tests.integration.conftest import Fresh, fresh_email, fresh_mobile

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
