"""Which person each row of a consent file is about, found before anything is written.

A row names its person by reference, or else by its email and phone, which must belong to one person
at most: a row that could be two people is refused rather than guessed. Rows that name a person the
file itself creates find that person again. One person's choice for a purpose and channel may stand
on one line only: given twice, which of them counts would hang on the order of the file.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_service.domain.channels import Channel
from consent_service.domain.csv_consents import ConsentRow
from consent_service.domain.csv_rows import RowError
from consent_service.services.bulk import Progress, in_batches
from consent_service.services.context import Context

__all__ = ["PersonKey", "find_people"]

#: A person an import row names: an existing person's id, or ``new:<line>`` for one the file creates.
PersonKey = str


async def find_people(
    ctx: Context, rows: Sequence[ConsentRow], progress: Progress
) -> tuple[list[tuple[ConsentRow, PersonKey]], list[RowError]]:
    """Each row's person: by reference when it has one, else by its addresses (which must name one
    person at most); a person the file itself creates is found again by later rows."""
    by_reference: dict[str, PersonKey] = {}
    by_fingerprint: dict[str, set[PersonKey]] = {}
    held: dict[str, set[PersonKey]] = {}
    seen: dict[tuple[PersonKey, str, Channel | None], int] = {}
    keyed: list[tuple[ConsentRow, PersonKey]] = []
    errors: list[RowError] = []
    for batch in in_batches(rows):
        async with ctx.store.reading() as uow:
            for row in batch:
                fingerprints = [ctx.fingerprint(point) for point in row.contacts]
                if row.reference:
                    key = by_reference.get(row.reference)
                    if key is None:
                        person = await uow.people.by_reference(row.reference)
                        key = person.id if person else f"new:{row.line}"
                else:
                    candidates: set[PersonKey] = set()
                    for fingerprint in fingerprints:
                        if fingerprint not in held:
                            people = await uow.people.by_fingerprint(fingerprint)
                            held[fingerprint] = {p.id for p in people if p.erased_at is None}
                        candidates |= held[fingerprint] | by_fingerprint.get(fingerprint, set())
                    if len(candidates) > 1:
                        errors.append(
                            RowError(
                                row.line,
                                f"its email or phone belongs to {len(candidates)} people;"
                                " add a reference column to say which",
                            )
                        )
                        continue
                    key = candidates.pop() if candidates else f"new:{row.line}"
                repeated = [
                    f"{c.column}: this person's choice is given on line {seen[(key, c.purpose, c.channel)]}"
                    for c in row.choices
                    if (key, c.purpose, c.channel) in seen
                ]
                if repeated:
                    errors.append(RowError(row.line, "; ".join(repeated)))
                    continue
                for choice in row.choices:
                    seen[(key, choice.purpose, choice.channel)] = row.line
                if row.reference:
                    by_reference[row.reference] = key
                for fingerprint in fingerprints:
                    by_fingerprint.setdefault(fingerprint, set()).add(key)
                keyed.append((row, key))
            progress.advance(len(batch))
    return keyed, errors
