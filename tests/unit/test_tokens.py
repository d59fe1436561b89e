"""Link tokens: signed, rotatable, never expiring, and naming no contact detail."""

from __future__ import annotations

import base64
import json

import pytest

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, mask
from consent_service.domain.tokens import InvalidToken, LinkClaim, LinkKind, LinkSigner

OLD, NEW, STRANGER = b"o" * 32, b"n" * 32, b"s" * 32
CLAIM = LinkClaim(LinkKind.UNSUBSCRIBE, "f" * 64, Channel.EMAIL, "marketing")


def test_a_signed_link_verifies_to_what_was_signed() -> None:
    signer = LinkSigner(NEW)
    assert signer.verify(signer.sign(CLAIM), LinkKind.UNSUBSCRIBE) == CLAIM


def test_links_signed_before_a_rotation_keep_working() -> None:
    old_link = LinkSigner(OLD).sign(CLAIM)
    rotated = LinkSigner(NEW, retired=[OLD])
    assert rotated.verify(old_link, LinkKind.UNSUBSCRIBE) == CLAIM
    assert rotated.sign(CLAIM) != old_link


def test_a_key_we_do_not_hold_is_refused() -> None:
    with pytest.raises(InvalidToken):
        LinkSigner(NEW).verify(LinkSigner(STRANGER).sign(CLAIM), LinkKind.UNSUBSCRIBE)
    with pytest.raises(InvalidToken):
        LinkSigner(OLD).verify(LinkSigner(NEW).sign(CLAIM), LinkKind.UNSUBSCRIBE)


def test_every_one_bit_change_is_refused() -> None:
    signer = LinkSigner(NEW)
    token = signer.sign(CLAIM).encode()
    for position in range(len(token)):
        for bit in range(8):
            changed = bytearray(token)
            changed[position] ^= 1 << bit
            try:
                text = changed.decode()
            except UnicodeDecodeError:
                continue
            if text == token.decode():
                continue
            with pytest.raises(InvalidToken):
                signer.verify(text, LinkKind.UNSUBSCRIBE)


def test_an_unsubscribe_link_is_not_a_preferences_link() -> None:
    signer = LinkSigner(NEW)
    with pytest.raises(InvalidToken):
        signer.verify(signer.sign(CLAIM), LinkKind.PREFERENCES)


@pytest.mark.parametrize("token", ["", "v1", "v1.a.b", "v2.a.b.c", "v1.x.y.z.w", "....", "v1.!!.??.%%"])
def test_malformed_tokens_are_refused_with_the_one_declared_error(token: str) -> None:
    with pytest.raises(InvalidToken):
        LinkSigner(NEW).verify(token, LinkKind.UNSUBSCRIBE)


def test_the_payload_names_a_fingerprint_not_an_address() -> None:
    token = LinkSigner(NEW).sign(CLAIM)
    body = token.split(".")[2]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload == {"k": "u", "f": "f" * 64, "c": "email", "p": "marketing"}


@pytest.mark.parametrize(
    ("point", "shown"),
    [
        (ContactPoint(ContactKind.EMAIL, "jo.bloggs@example.org"), "j***@e***.org"),
        (ContactPoint(ContactKind.PHONE, "+447912345678"), "+44 ***** **678"),
        (ContactPoint(ContactKind.POSTAL, "LS1 4AP|1 high street"), "LS1 ***"),
    ],
)
def test_pages_show_contact_details_masked(point: ContactPoint, shown: str) -> None:
    assert mask(point) == shown
