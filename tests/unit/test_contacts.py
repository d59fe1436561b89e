"""Contact points: two spellings of one address must normalise, and so fingerprint, the same (DESIGN §2)."""

from __future__ import annotations

import hashlib
import hmac
import random
from typing import Any

import email_validator
import pytest

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import (
    ContactPoint,
    contact_point,
    guess_kind,
    normalise_email,
    normalise_phone,
    normalise_postal,
    normalise_postcode,
)
from consent_service.domain.errors import InvalidContact
from consent_service.domain.fingerprints import Fingerprinter

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
EMAIL, PHONE, POSTAL = ContactKind.EMAIL, ContactKind.PHONE, ContactKind.POSTAL


def address(*lines: str, postcode: str = "SW1A 1AA") -> dict[str, Any]:
    return {"lines": list(lines), "postcode": postcode}


# Email


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("jo@example.org", "jo@example.org"),
        ("  jo@example.org \n", "jo@example.org"),
        ("Jo.Bloggs@Example.COM", "jo.bloggs@example.com"),
        ("jo@bücher.de", "jo@xn--bcher-kva.de"),
        ("JO@BÜCHER.DE", "jo@xn--bcher-kva.de"),
        ("jo+news@example.org", "jo+news@example.org"),
    ],
)
def test_normalise_email(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["not an email", "", "jo@", "@example.org", "jo@@example.org", "jo@exa mple.org"]
)
def test_normalise_email_rejects_what_is_not_an_address(raw: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_email(raw)


# Phone


@pytest.mark.parametrize(
    "raw", ["07912 345678", "+44 7912 345678", "(07912) 345-678", "0044 7912 345678", "07912345678"]
)
def test_normalise_phone_gives_e164_for_every_uk_spelling(raw: str) -> None:
    assert normalise_phone(raw) == "+447912345678"


def test_normalise_phone_keeps_a_landline() -> None:
    assert normalise_phone("020 7946 0000") == "+442079460000"


def test_normalise_phone_reads_national_numbers_in_the_default_region() -> None:
    assert normalise_phone("0412 345 678", default_region="AU") == "+61412345678"
    assert normalise_phone("+33 6 12 34 56 78") == "+33612345678"


@pytest.mark.parametrize("raw", ["12", "", "call me", "07912 34567"])
def test_normalise_phone_rejects_what_is_not_a_number(raw: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_phone(raw)


# Postal


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        (" sw1a  1aa ", "SW1A 1AA"),
        ("EC1A1BB", "EC1A 1BB"),
        ("m11ae", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_normalise_postcode(raw: str, normalised: str) -> None:
    assert normalise_postcode(raw) == normalised


@pytest.mark.parametrize("raw", ["XYZ", "", "SW1A 1A", "12345", "SW1A 1AAA"])
def test_normalise_postcode_rejects_what_is_not_a_uk_postcode(raw: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_postcode(raw)


def test_normalise_postal_is_postcode_and_first_line_folded() -> None:
    assert normalise_postal(["", "  12, Acacia Avenue. ", "Leeds"], "ls1 4ap") == "LS1 4AP|12 acacia avenue"


def test_normalise_postal_same_address_spelt_two_ways() -> None:
    typed = normalise_postal(["12 Acacia Avenue", "Leeds"], "LS1 4AP")
    from_paper = normalise_postal(["12, ACACIA AVENUE"], "ls14ap")

    assert typed == from_paper


def test_normalise_postal_tells_neighbours_apart() -> None:
    assert normalise_postal(["12 Acacia Avenue"], "LS1 4AP") != normalise_postal(
        ["14 Acacia Avenue"], "LS1 4AP"
    )


@pytest.mark.parametrize(
    ("lines", "postcode"), [([], "LS1 4AP"), (["", "   "], "LS1 4AP"), (["12 Acacia Avenue"], "nowhere")]
)
def test_normalise_postal_rejects_an_incomplete_address(lines: list[str], postcode: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_postal(lines, postcode)


# Contact points


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (EMAIL, " Jo@Example.org ", ContactPoint(EMAIL, "jo@example.org")),
        (PHONE, "07912 345678", ContactPoint(PHONE, "+447912345678")),
        (
            POSTAL,
            address("12 Acacia Avenue", postcode="ls14ap"),
            ContactPoint(POSTAL, "LS1 4AP|12 acacia avenue"),
        ),
    ],
)
def test_contact_point_normalises_by_kind(
    kind: ContactKind, raw: str | dict[str, Any], expected: ContactPoint
) -> None:
    assert contact_point(kind, raw) == expected


def test_contact_point_uses_the_default_region() -> None:
    assert contact_point(PHONE, "0412 345 678", default_region="AU") == ContactPoint(PHONE, "+61412345678")


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        pytest.param(EMAIL, address("12 Acacia Avenue"), id="email given an address object"),
        pytest.param(PHONE, {"number": "07912 345678"}, id="phone given an object"),
        pytest.param(POSTAL, "12 Acacia Avenue, SW1A 1AA", id="postal given a string"),
        pytest.param(POSTAL, {"lines": "12 Acacia Avenue", "postcode": "SW1A 1AA"}, id="lines not a list"),
        pytest.param(
            POSTAL, {"lines": ["12 Acacia Avenue", 3], "postcode": "SW1A 1AA"}, id="line not a string"
        ),
        pytest.param(POSTAL, {"lines": ["12 Acacia Avenue"], "postcode": 1}, id="postcode not a string"),
        pytest.param(POSTAL, {"lines": ["12 Acacia Avenue"]}, id="postcode missing"),
        pytest.param(EMAIL, "not an email", id="email invalid"),
        pytest.param(PHONE, "12", id="phone invalid"),
    ],
)
def test_contact_point_rejects_a_wrong_or_invalid_value(kind: ContactKind, raw: Any) -> None:
    with pytest.raises(InvalidContact):
        contact_point(kind, raw)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [("jo@example.org", EMAIL), ("07912 345678", PHONE), (address("12 Acacia Avenue"), POSTAL)],
)
def test_guess_kind(raw: str | dict[str, Any], kind: ContactKind) -> None:
    assert guess_kind(raw) is kind


# Fingerprints


def test_same_contact_spelt_two_ways_has_one_fingerprint() -> None:
    fingerprint = Fingerprinter(KEY)

    first = fingerprint(contact_point(EMAIL, "Jo.Bloggs@Example.COM"))
    again = fingerprint(contact_point(EMAIL, "  jo.bloggs@example.com"))

    assert first == again
    assert Fingerprinter(KEY)(contact_point(EMAIL, "jo.bloggs@example.com")) == first


def test_fingerprint_is_hmac_sha256_of_kind_and_value() -> None:
    # The suppression list outlives everything else: this format must not drift between releases.
    expected = hmac.new(KEY, b"phone:+447912345678", hashlib.sha256).hexdigest()

    assert Fingerprinter(KEY)(ContactPoint(PHONE, "+447912345678")) == expected


def test_different_contacts_have_different_fingerprints() -> None:
    fingerprint = Fingerprinter(KEY)

    jo, sam = ContactPoint(EMAIL, "jo@example.org"), ContactPoint(EMAIL, "sam@example.org")

    assert fingerprint(jo) != fingerprint(sam)


def test_same_value_of_another_kind_has_another_fingerprint() -> None:
    fingerprint = Fingerprinter(KEY)

    as_email, as_phone = ContactPoint(EMAIL, "+447912345678"), ContactPoint(PHONE, "+447912345678")

    assert fingerprint(as_email) != fingerprint(as_phone)


def test_another_key_gives_another_fingerprint() -> None:
    point = ContactPoint(EMAIL, "jo@example.org")

    assert Fingerprinter(KEY)(point) != Fingerprinter(OTHER_KEY)(point)


@pytest.mark.parametrize("raw", ["jo@example.org", "a.very.long.address.for.the.whole.family@example.org"])
def test_fingerprint_holds_no_plaintext(raw: str) -> None:
    point = contact_point(EMAIL, raw)

    fingerprint = Fingerprinter(KEY)(point)

    assert len(fingerprint) == 64
    assert set(fingerprint) <= set("0123456789abcdef")
    # Keyed: without the server secret, hashing a guessed address does not find it.
    assert fingerprint != hashlib.sha256(f"email:{point.value}".encode()).hexdigest()


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15])
def test_fingerprinter_rejects_a_key_under_128_bits(key: bytes) -> None:
    with pytest.raises(ValueError, match="128 bits"):
        Fingerprinter(key)


def test_fingerprinter_accepts_a_128_bit_key() -> None:
    assert len(Fingerprinter(b"x" * 16)(ContactPoint(EMAIL, "jo@example.org"))) == 64


def _full_path(raw: str) -> str | None:
    try:
        info = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return f"{info.local_part.lower()}@{info.ascii_domain.lower()}"


def test_the_fast_path_for_plain_addresses_agrees_with_email_validator() -> None:
    """Thousands of generated addresses, plain and awkward: the fast path never decides differently."""
    rng = random.Random(20261122)
    plain = ["a", "Z", "0", "jo", "Smith", "_", "+", "-", "."]
    awkward = ["..", "--", "xn--", "é", "@", " ", "test", "local", '"', "(", ","]
    tlds = [
        "org",
        "uk",
        "c",
        "test",
        "local",
        "invalid",
        "123",
        "onion",
        "example",
        "co.uk",
        "xn--p1ai",
        "ORG",
    ]

    def word(count: int) -> str:
        return "".join(rng.choice(awkward if rng.random() < 0.1 else plain) for _ in range(count))

    accepted = 0
    for _ in range(5000):
        raw = f"{word(rng.randint(1, 5))}@{word(rng.randint(1, 4))}.{rng.choice(tlds)}"
        try:
            fast: str | None = normalise_email(raw)
        except InvalidContact:
            fast = None
        assert fast == _full_path(raw), raw
        accepted += fast is not None
    assert accepted > 500  # the corpus exercises accepted addresses, not only rejections
