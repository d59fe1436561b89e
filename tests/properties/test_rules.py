"""Hypothesis tries to break the rules the privacy notice promises (DESIGN §2):

- the fold does not depend on the order events arrive in;
- an older grant arriving late never un-withdraws;
- a withdrawal wins a tie in effective time;
- normalising is idempotent, and spellings of one address share one fingerprint;
- any one-bit change to a link is refused.

A model written plainly here (the latest effective time wins, withdrawals first on a tie) is compared
with the domain's fold, rather than the fold with itself.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, normalise_email, normalise_phone
from consent_service.domain.errors import InvalidContact
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.ledger import ConsentEvent, Decision, Source, fold
from consent_service.domain.tokens import InvalidToken, LinkClaim, LinkKind, LinkSigner

pytestmark = pytest.mark.prove

LONG = os.environ.get("PROVE_LONG") == "1"
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("long" if LONG else "ci")

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PURPOSES = ("marketing", "fundraising")
CHANNELS = (Channel.EMAIL, Channel.SMS)


@st.composite
def events(draw: st.DrawFn, max_size: int = 12) -> list[ConsentEvent]:
    count = draw(st.integers(min_value=1, max_value=max_size))
    made = []
    for seq in range(1, count + 1):
        made.append(
            ConsentEvent(
                id=f"e{draw(st.integers(0, 10**6)):07d}-{seq}",
                seq=seq,
                person_id="p",
                purpose=draw(st.sampled_from(PURPOSES)),
                channel=draw(st.sampled_from(CHANNELS)),
                decision=draw(st.sampled_from(list(Decision))),
                # Few distinct minutes, so ties in effective time are common.
                effective_at=T0 + timedelta(minutes=draw(st.integers(0, 5))),
                recorded_at=T0 + timedelta(days=1, seconds=seq),
                source=Source.WEB_FORM,
                actor="test",
                notice_id=None,
            )
        )
    return made


def model(history: list[ConsentEvent], at: datetime | None = None) -> dict[tuple[str, Channel | None], str]:
    """The rule in words: per purpose and channel, the choice with the latest effective time stands;
    on a tie a withdrawal beats a grant; on a full tie the greater event id (so arrival order never
    matters)."""
    best: dict[tuple[str, Channel | None], ConsentEvent] = {}
    for event in history:
        if at is not None and event.effective_at > at:
            continue
        key = (event.purpose, event.channel)
        held = best.get(key)
        rank = (event.effective_at, event.decision is Decision.WITHDRAWN, event.id)
        if held is None or rank > (held.effective_at, held.decision is Decision.WITHDRAWN, held.id):
            best[key] = event
    return {key: event.id for key, event in best.items()}


def folded(history: list[ConsentEvent], at: datetime | None = None) -> dict[tuple[str, Channel | None], str]:
    return {key: current.event_id for key, current in fold(history, at).items()}


@given(events(), st.randoms(use_true_random=False), st.none() | st.integers(0, 6))
def test_the_fold_matches_the_rule_whatever_the_arrival_order(
    history: list[ConsentEvent], rng: object, minutes: int | None
) -> None:
    at = None if minutes is None else T0 + timedelta(minutes=minutes)
    shuffled = list(history)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert folded(shuffled, at) == folded(history, at) == model(history, at)


@given(events(), st.integers(1, 10_000))
def test_an_older_grant_arriving_late_never_undoes_a_withdrawal(
    history: list[ConsentEvent], earlier: int
) -> None:
    state = fold(history)
    for (purpose, channel), current in state.items():
        if current.decision is not Decision.WITHDRAWN:
            continue
        late = ConsentEvent(
            id="z-late",
            seq=len(history) + 1,
            person_id="p",
            purpose=purpose,
            channel=channel,
            decision=Decision.GRANTED,
            effective_at=current.effective_at - timedelta(seconds=earlier),
            recorded_at=T0 + timedelta(days=30),
            source=Source.IMPORT,
            actor="test",
            notice_id=None,
        )
        assert fold([*history, late])[(purpose, channel)].decision is Decision.WITHDRAWN


@given(events(max_size=6))
def test_a_withdrawal_wins_a_tie_in_effective_time(history: list[ConsentEvent]) -> None:
    """Whatever stands, a withdrawal stated for the same moment beats it, even with the lowest id."""
    for (purpose, channel), current in fold(history).items():
        tie = ConsentEvent(
            id="0",
            seq=len(history) + 1,
            person_id="p",
            purpose=purpose,
            channel=channel,
            decision=Decision.WITHDRAWN,
            effective_at=current.effective_at,
            recorded_at=T0 + timedelta(days=30),
            source=Source.WEB_FORM,
            actor="test",
            notice_id=None,
        )
        assert fold([tie, *history])[(purpose, channel)].decision is Decision.WITHDRAWN


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)
DOMAIN = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]\.(org|co\.uk|com|net)", fullmatch=True).filter(
    lambda s: "--" not in s
)
FINGERPRINT = Fingerprinter(b"k" * 32)


def flip_case(text: str, mask: int) -> str:
    return "".join(c.upper() if mask >> (i % 30) & 1 else c for i, c in enumerate(text))


@given(LOCAL, DOMAIN, st.integers(0, 2**30), st.sampled_from(["", " ", "\t", "  "]))
def test_spellings_of_an_email_share_one_fingerprint_and_normalising_is_idempotent(
    local: str, domain: str, mask: int, pad: str
) -> None:
    plain = f"{local}@{domain}"
    try:
        once = normalise_email(plain)
    except InvalidContact:
        return  # the property is about addresses the service accepts
    spelled = pad + flip_case(plain, mask) + pad
    assert normalise_email(spelled) == once == normalise_email(once)
    fingerprints = {
        FINGERPRINT(ContactPoint(ContactKind.EMAIL, normalise_email(s))) for s in (plain, spelled, once)
    }
    assert len(fingerprints) == 1


@given(
    st.integers(912_000_000, 912_999_999),  # a range phonenumbers knows as mobile
    st.sampled_from(["07{} {}", "+44 7{} {}", "(07{}) {}", "0044 7{}{}", "+447{}{}"]),
)
def test_spellings_of_a_uk_mobile_share_one_e164_form(number: int, spelling: str) -> None:
    digits = str(number)
    raw = spelling.format(digits[:3], digits[3:])
    e164 = normalise_phone(raw)
    assert e164 == f"+447{digits}" and normalise_phone(e164) == e164


SIGNER = LinkSigner(b"s" * 32)


@given(st.sampled_from(list(LinkKind)), st.text("0123456789abcdef", min_size=64, max_size=64), st.data())
def test_any_one_bit_change_to_a_link_is_refused(
    kind: LinkKind, fingerprint: str, data: st.DataObject
) -> None:
    token = SIGNER.sign(LinkClaim(kind, fingerprint, Channel.EMAIL, "marketing"))
    assert SIGNER.verify(token, kind).fingerprint == fingerprint
    raw = bytearray(token.encode())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(0, 7))
    try:
        changed = raw.decode()
    except UnicodeDecodeError:
        return  # not even text: no server would route it
    try:
        SIGNER.verify(changed, kind)
    except InvalidToken:
        return
    raise AssertionError(f"a changed link was accepted: {changed!r}")
