"""Contact details and names sealed at rest (LEGAL #31): AES-256-GCM bound to the value's place, and
the words a name is found by."""

from __future__ import annotations

import secrets

import pytest

from consent_service.adapters.sealing import AesGcmSealer, is_sealed
from consent_service.domain.sealing import SealedUnreadable, name_matches, name_terms, query_terms

KEY = secrets.token_bytes(32)


def test_a_value_opens_only_with_its_key_and_in_its_own_place() -> None:
    sealer = AesGcmSealer(KEY)
    sealed = sealer.seal("sam@example.org", "contact_points.value:1")
    assert is_sealed(sealed) and "sam" not in sealed and "example" not in sealed
    assert sealer.open(sealed, "contact_points.value:1") == "sam@example.org"
    # Sealed twice, two different texts (a fresh nonce each time): equal values cannot be told apart.
    assert sealer.seal("sam@example.org", "contact_points.value:1") != sealed
    with pytest.raises(SealedUnreadable, match="CONSENT_ENCRYPTION_KEY"):
        sealer.open(sealed, "contact_points.value:2")  # copied onto another row
    with pytest.raises(SealedUnreadable):
        AesGcmSealer(secrets.token_bytes(32)).open(sealed, "contact_points.value:1")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealedUnreadable):
        sealer.open(tampered, "contact_points.value:1")
    with pytest.raises(SealedUnreadable, match="not sealed"):
        sealer.open("sam@example.org", "contact_points.value:1")


def test_only_a_256_bit_key_is_taken() -> None:
    with pytest.raises(ValueError, match="256 bits"):
        AesGcmSealer(secrets.token_bytes(16))


def test_search_digests_are_keyed_and_not_the_text() -> None:
    one, other = AesGcmSealer(KEY), AesGcmSealer(secrets.token_bytes(32))
    assert one.digest("postcode:LS1 4AP") == AesGcmSealer(KEY).digest("postcode:LS1 4AP")
    assert one.digest("postcode:LS1 4AP") != other.digest("postcode:LS1 4AP")
    assert "LS1" not in one.digest("postcode:LS1 4AP")


@pytest.mark.parametrize(
    ("name", "search", "found"),
    [
        ("Sam Jones", "sam", True),
        ("Sam Jones", "JON", True),
        ("Sam Jones", "ones", True),  # inside a word, as the database's LIKE found it before
        ("Sam Jones", "m  jo", True),
        ("Sam Jones", "jo", True),
        ("Sam Jones", "jones sam", False),
        ("Sam Jones", "sam smith", False),
        ("Sam Jones", "jnes", False),
        ("Seán O'Brien-Smith", "o'brien", True),
        ("Seán O'Brien-Smith", "SEÁN", True),
        ("Seán O'Brien-Smith", "obrien", False),
    ],
)
def test_a_name_is_found_by_any_part_of_it_in_any_case(name: str, search: str, found: bool) -> None:
    assert name_matches(name, search) is found
    # The index is never narrower than the match: every name that matches is among those looked up.
    if found:
        assert query_terms(search) <= name_terms(name)


def test_the_index_holds_runs_of_two_and_three_characters_and_a_two_letter_search_uses_the_first() -> None:
    assert name_terms("Ann") == {"name:an", "name:nn", "name:ann"}
    assert query_terms("An") == {"name:an"}
    assert query_terms("anne") == {"name:ann", "name:nne"}
