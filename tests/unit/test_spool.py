"""The opt-out spool on disk: what one worker appends every other worker on the host sees at once,
a line torn by a crash never swallows the next, and removing applied entries keeps the rest."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent_service.adapters.spool import NAME, FileSpool
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Facts, Reason, may_contact
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.purposes import DEFAULT_CATALOGUE, Catalogue
from consent_service.domain.spool import SpooledOptOut, UnreadableLine, spooled_suppressions

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def opt_out(fingerprint: str = "f" * 64, purpose: str = "marketing") -> SpooledOptOut:
    return SpooledOptOut(str(uuid.uuid4()), fingerprint, Channel.EMAIL, purpose, AT)


def test_a_line_reads_back_as_written() -> None:
    entry = opt_out()
    assert SpooledOptOut.from_line(entry.to_line()) == entry


@pytest.mark.parametrize(
    "line",
    [b'{"id":"x","f":"ab","c":"email","p":"marketing","at":"2026-12-01T09:3', b"", b'{"id":"x"}'],
)
def test_a_torn_or_strange_line_is_unreadable(line: bytes) -> None:
    with pytest.raises(UnreadableLine):
        SpooledOptOut.from_line(line)


def test_a_spooled_opt_out_denies_marketing_on_its_channel_only() -> None:
    entry = opt_out()
    catalogue = Catalogue.of(DEFAULT_CATALOGUE)
    marketing = catalogue.require("marketing", Channel.EMAIL)
    found = spooled_suppressions(frozenset({entry}), [entry.fingerprint, "other"])
    assert list(found) == [entry.fingerprint]
    denied = may_contact(marketing, Channel.EMAIL, Facts(suppressions=found[entry.fingerprint]), AT)
    assert not denied.allowed and denied.reason is Reason.SUPPRESSED
    admin = catalogue.require("administrative", Channel.EMAIL)
    assert may_contact(admin, Channel.EMAIL, Facts(suppressions=found[entry.fingerprint]), AT).allowed


def test_every_worker_sees_an_append_at_once(tmp_path: Path) -> None:
    one, other = FileSpool(tmp_path), FileSpool(tmp_path)
    assert other.pending() == frozenset()
    first, second = opt_out("a" * 64), opt_out("b" * 64)
    one.append(first)
    assert other.pending() == {first}
    other.append(second)
    assert one.pending() == {first, second}


def test_a_torn_last_line_is_skipped_and_never_swallows_the_next(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    kept = opt_out("a" * 64)
    spool.append(kept)
    # A crash mid-append leaves half a line with no newline.
    with (tmp_path / NAME).open("ab") as file:
        file.write(opt_out("b" * 64).to_line()[:30])
    after = opt_out("c" * 64)
    spool.append(after)
    assert FileSpool(tmp_path).pending() == {kept, after}


def test_removing_applied_entries_keeps_the_others(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    entries = [opt_out(f"{i:064x}") for i in range(5)]
    for entry in entries:
        spool.append(entry)
    spool.remove([entries[0].id, entries[3].id])
    assert FileSpool(tmp_path).pending() == {entries[1], entries[2], entries[4]}
    spool.remove([e.id for e in entries])
    assert spool.pending() == frozenset()
    assert (tmp_path / NAME).read_bytes() == b""


def _append_many(directory: str, worker: int, count: int) -> None:
    spool = FileSpool(Path(directory))
    for i in range(count):
        spool.append(opt_out(f"{worker:032x}{i:032x}"))


def test_appends_from_several_processes_while_entries_are_removed_are_all_kept(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w, 40)) for w in range(3)]
    for worker in workers:
        worker.start()
    removed: set[str] = set()
    while any(w.is_alive() for w in workers):
        # The applier removes what it has applied while workers go on appending.
        seen = spool.pending()
        spool.remove([e.id for e in seen])
        removed |= {e.id for e in seen}
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    left = {e.id for e in spool.pending()}
    assert len(removed | left) == 120 and not removed & left


def test_a_spool_that_cannot_be_read_says_so_rather_than_seeming_empty(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    spool.append(opt_out())
    (tmp_path / NAME).unlink()
    (tmp_path / NAME).mkdir()  # whatever the fault, reading the spool fails
    with pytest.raises(StoreUnavailable):
        spool.pending()
