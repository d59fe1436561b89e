"""Contact details and names held sealed (LEGAL #31), and what staff find a name by.

The database holds a contact point's value and a person's name only as ciphertext, each bound to its
row and column so that it cannot be moved to another. Lookups go by keyed digests of what is sought:
a contact point by its fingerprint (``domain/fingerprints.py``), a postal address by its postcode's,
a name by each run of two and three characters in it. A digest is the same wherever its text is, so
the digests tell which rows share a postcode or a run of letters, never what it is.
"""

from __future__ import annotations

from typing import Protocol


class Sealer(Protocol):
    """Authenticated encryption of text bound to where it is held, and keyed digests of search terms."""

    def seal(self, text: str, where: str) -> str: ...

    def open(self, sealed: str, where: str) -> str:
        """The text; raises ``SealedUnreadable`` when the key or the place is not the one sealed with."""
        ...

    def digest(self, term: str) -> str: ...


class SealedUnreadable(Exception):
    """A sealed value does not open under the key in force: the wrong key, or a value moved or changed."""


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _grams(folded: str, size: int) -> set[str]:
    return {f"name:{folded[i : i + size]}" for i in range(len(folded) - size + 1)}


def name_terms(name: str | None) -> set[str]:
    """What a name is indexed under: every two and three characters running in it, any case."""
    folded = _folded(name or "")
    return _grams(folded, 2) | _grams(folded, 3)


def query_terms(text: str) -> set[str]:
    """What a name search looks up: its three-character runs (its two characters, if that is all)."""
    folded = _folded(text)
    return _grams(folded, 3 if len(folded) >= 3 else 2)


def name_matches(name: str | None, text: str) -> bool:
    """The search is in the name, any case, as the database matched names before they were sealed: the
    index finds the names holding every run of the search, this keeps those holding it whole."""
    return _folded(text) in _folded(name or "")


def postcode_term(postcode: str) -> str:
    """What a postal address is indexed under: its normalised postcode."""
    return f"postcode:{postcode}"
