"""atheris targets for the parsers that take text from outside: contact normalisers, link tokens and
spool lines. Each may raise only its declared error; what it accepts must be a fixed point.

Run one as ``python -m tests.fuzz.targets <target> [libFuzzer flags]``; ``tests/fuzz/test_atheris.py``
runs each for a bounded number of inputs (longer under ``PROVE_LONG=1``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris
import email_validator
from atheris.instrument_bytecode import instrument_all

from consent_service.domain import contacts
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.errors import InvalidContact
from consent_service.domain.spool import SpooledOptOut, UnreadableLine
from consent_service.domain.tokens import InvalidToken, LinkClaim, LinkKind, LinkSigner

REGIONS = ["GB", "US", "IE", "FR", "ZZ", ""]
SIGNER = LinkSigner(b"fuzzing link key, not a secret!!")


def text(data: bytes) -> str:
    """Bytes as the service would see them after a JSON or form decoder: text, bad UTF-8 replaced."""
    return data.decode("utf-8", errors="replace")


def email(data: bytes) -> None:
    raw = text(data)
    try:
        once = contacts.normalise_email(raw)
    except InvalidContact:
        return
    assert contacts.normalise_email(once) == once, (raw, once)
    if raw.isascii():
        assert contacts.normalise_email(raw.upper()) == once, (raw, once)
    plain = contacts._plain_email(raw.strip())
    if plain is not None:
        # The fast path must agree with the full validator, or two spellings could get two fingerprints.
        info = email_validator.validate_email(raw.strip(), check_deliverability=False)
        assert f"{info.local_part.lower()}@{info.ascii_domain.lower()}" == plain, (raw, plain)


def phone(data: bytes) -> None:
    """The first byte picks the default region; the rest is the number as typed."""
    if not data:
        return
    region = REGIONS[data[0] % len(REGIONS)]
    raw = text(data[1:])
    try:
        once = contacts.normalise_phone(raw, region)
    except InvalidContact:
        return
    assert once.startswith("+") and contacts.normalise_phone(once, region) == once, (raw, once)


def postal(data: bytes) -> None:
    """The first byte picks the shape (good, lines not a list, postcode not text, not an object);
    then the postcode, and the address lines, one per line."""
    if not data:
        return
    shape, (postcode, *lines) = data[0] % 4, text(data[1:]).split("\n")
    value: object = {
        "lines": lines if shape != 1 else "\n".join(lines),
        "postcode": postcode if shape != 2 else len(postcode),
    }
    if shape == 3:
        value = postcode
    try:
        point = contacts.contact_point(ContactKind.POSTAL, value)  # type: ignore[arg-type]
    except InvalidContact:
        return
    code, _, first = point.value.partition("|")
    again = contacts.contact_point(ContactKind.POSTAL, {"lines": [first or "-"], "postcode": code})
    assert again == point or not first, (value, point, again)


def token(data: bytes) -> None:
    raw = text(data)
    for kind in LinkKind:
        try:
            claim = SIGNER.verify(raw, kind)
        except InvalidToken:
            continue
        # Only the very string the signer made is accepted: no second spelling of any link.
        assert SIGNER.sign(claim) == raw, raw


def spool_line(data: bytes) -> None:
    try:
        entry = SpooledOptOut.from_line(data)
    except UnreadableLine:
        return
    assert SpooledOptOut.from_line(entry.to_line()) == entry


def seeds() -> dict[str, list[bytes]]:
    """A few well-formed inputs to start from, so mutations explore near the accepted forms."""
    links = [
        SIGNER.sign(LinkClaim(LinkKind.UNSUBSCRIBE, "ab" * 32, Channel.EMAIL, "marketing")),
        SIGNER.sign(LinkClaim(LinkKind.PREFERENCES, "cd" * 32, Channel.SMS)),
    ]
    return {
        "email": [b"Jo.Bloggs+news@Example.ORG", b'"quoted"@example.org', "jö@bücher.de".encode()],
        "phone": [b"\x00+44 7912 345678", b"\x0007912 345 678", b"\x01(202) 555-0143"],
        "postal": [b"\x00SW1A 1AA\n1 High Street\nLondon", b"\x00gir0aa\n\n  Flat 2, 3 Road"],
        "token": [link.encode() for link in links],
        "spool_line": [b'{"at":"2026-12-01T09:30:00+00:00","c":"email","f":"ab","id":"x","p":"marketing"}\n'],
    }


TARGETS: dict[str, Callable[[bytes], None]] = {
    "email": email,
    "phone": phone,
    "postal": postal,
    "token": token,
    "spool_line": spool_line,
}


def main() -> None:
    name, corpus, *flags = sys.argv[1:]
    for i, seed in enumerate(seeds()[name]):
        with open(f"{corpus}/seed-{i}", "wb") as out:  # noqa: PTH123
            out.write(seed)
    atheris.Setup([sys.argv[0], *flags, corpus], TARGETS[name])
    # Instrument everything loaded, not only imports made under ``instrument_imports``: the package is
    # installed editable, and its import finder is not the one that hook wraps.
    instrument_all()
    atheris.Fuzz()


if __name__ == "__main__":
    main()
