"""Contact points and their normalisation (DESIGN §2).

Two spellings of the same address must land on the same normalised value, because the fingerprint
of that value is what the suppression list remembers after everything else is gone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import email_validator
import phonenumbers

from consent_service.domain.channels import ContactKind
from consent_service.domain.errors import InvalidContact

DEFAULT_REGION = "GB"

# The shape of a UK postcode (outward code, optional space, inward code), including GIR 0AA.
_POSTCODE = re.compile(r"^(GIR0AA|[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2})$")
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """A normalised email address, phone number (E.164) or postal address (postcode | first line)."""

    kind: ContactKind
    value: str


# A plain ASCII address: dot-atom local part, LDH labels, an alphabetic top-level domain. Anything
# else (quoted parts, Unicode, punycode, odd hyphens, short or special-use domains) takes the full
# email-validator path, which costs about 50 µs; this check costs about 2 µs.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
)
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(candidate: str) -> str | None:
    """The normalised form of a plainly well-formed address, or None when it needs the full check."""
    lowered = candidate.lower()
    if len(lowered) > 254 or not _PLAIN_EMAIL.fullmatch(lowered) or "--" in lowered.partition("@")[2]:
        return None
    local, _, domain = lowered.partition("@")
    if len(local) > 64 or domain.rpartition(".")[2] in _SPECIAL_USE:
        return None
    return lowered


def normalise_email(raw: str) -> str:
    """Trim, validate the syntax (no DNS look-up), lowercase and IDNA-encode the domain.

    The local part is lowercased too. RFC 5321 lets a mail server treat it as case-sensitive, but no
    provider families use distinguishes ``Jo@`` from ``jo@``, and a suppression must not be dodged by
    a capital letter.
    """
    plain = _plain_email(raw.strip())
    if plain is not None:
        return plain
    try:
        info = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidContact(str(exc)) from exc
    domain = info.ascii_domain.lower()
    return f"{info.local_part.lower()}@{domain}"


def normalise_phone(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """Parse any common UK or international spelling into E.164 (``+447912345678``)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_postcode(raw: str) -> str:
    compact = re.sub(r"\s+", "", raw).upper()
    if not _POSTCODE.match(compact):
        raise InvalidContact("not a UK postcode")
    return f"{compact[:-3]} {compact[-3:]}"


def normalise_postal(lines: Sequence[str], postcode: str) -> str:
    """A postal address is identified by its postcode and its first line, case and punctuation folded."""
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise InvalidContact("a postal address needs at least one address line")
    folded = _NOT_WORD.sub(" ", first.casefold()).strip()
    return f"{normalise_postcode(postcode)}|{folded}"


def contact_point(
    kind: ContactKind, value: str | Mapping[str, object], default_region: str = DEFAULT_REGION
) -> ContactPoint:
    """Normalise a raw contact value of a known kind; raises InvalidContact."""
    if kind is ContactKind.POSTAL:
        if not isinstance(value, Mapping):
            raise InvalidContact('a postal address is an object {"lines": [...], "postcode": "..."}')
        lines, postcode = value.get("lines"), value.get("postcode")
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise InvalidContact("lines must be a list of strings")
        if not isinstance(postcode, str):
            raise InvalidContact("postcode must be a string")
        return ContactPoint(kind, normalise_postal(lines, postcode))
    if not isinstance(value, str):
        raise InvalidContact(f"a contact of kind {kind.value} is a string")
    if kind is ContactKind.EMAIL:
        return ContactPoint(kind, normalise_email(value))
    return ContactPoint(kind, normalise_phone(value, default_region))


def guess_kind(value: str | Mapping[str, object]) -> ContactKind:
    """For channel ``all`` a caller gives only the value: an object is postal, an ``@`` an email."""
    if isinstance(value, Mapping):
        return ContactKind.POSTAL
    return ContactKind.EMAIL if "@" in value else ContactKind.PHONE


def mask(point: ContactPoint) -> str:
    """Enough for a family to recognise their own address, too little to learn someone else's."""
    if point.kind is ContactKind.EMAIL:
        local, _, domain = point.value.partition("@")
        name, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{name[:1]}***.{tld}"
    if point.kind is ContactKind.PHONE:
        return f"{point.value[:3]} ***** **{point.value[-3:]}"
    return f"{postcode_of(point.value).split(' ')[0]} ***"


def postcode_of(postal: str) -> str:
    """The postcode of a normalised postal address (``postcode|first line``)."""
    return postal.split("|", 1)[0]
