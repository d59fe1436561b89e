"""Migrations: empty to head and back on both backends, one head, no drift, and the record survives a
step down and up again (event and suppression counts, and the hash chain)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from consent_service.api.app import create_app
from consent_service.bootstrap import build_context
from consent_service.cli import ALEMBIC_INI
from consent_service.config import Settings
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import ContactPoint
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.keys import KeyScope
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    Decision,
    Evidence,
    Source,
    event_digest,
    evidence_digest,
)
from consent_service.domain.purposes import Basis
from consent_service.services import audit, choices, people
from consent_service.services.catalogue import seed
from consent_service.services.choices import ChoiceInput, ChoicesInput
from consent_service.services.keys import create_key
from tests.integration.conftest import _pg, unavailable
from tests.support.asgi import in_process

TABLES = ("consent_events", "suppressions", "people", "current_consents")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    environ = {"CONSENT_DATA_DIR": str(tmp_path)}
    name = f"consent_migrations_{secrets.token_hex(5)}"
    if request.param == "postgresql":
        try:
            asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
        except OSError as exc:
            unavailable(f"PostgreSQL at 127.0.0.1:5432 ({exc})")
        environ |= {
            "CONSENT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
    yield Settings.from_env(environ)
    if request.param == "postgresql":
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def alembic(settings: Settings) -> AlembicConfig:
    config = AlembicConfig(str(ALEMBIC_INI))
    config.attributes["database_url"] = settings.database.url
    config.attributes["encryption_key"] = settings.encryption_key
    return config


async def record_some_history(settings: Settings) -> None:
    ctx = build_context(settings)
    await seed(ctx.store, ctx.clock)
    await ctx.catalogue.reload()
    app = create_app(settings, ctx)
    _, key = await create_key(ctx.store, ctx.clock, "migrations", frozenset(KeyScope), None)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://t") as client:
        for i in range(5):
            grant = {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
                "notice": {"purpose": "marketing", "version": 1},
            }
            made = await client.post(
                "/v1/registrations",
                json={
                    "person": {"contacts": [{"kind": "email", "value": f"m{i}@example.org"}]},
                    "choices": [grant],
                    "source": "web_form",
                },
                headers=auth,
            )
            assert made.status_code == 201, made.text
            withdrawn = await client.post(
                f"/v1/people/{made.json()['person_id']}/consents",
                json={
                    "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
                    "source": "web_form",
                },
                headers=auth,
            )
            assert withdrawn.status_code == 201, withdrawn.text
        added = await client.post(
            "/v1/suppressions",
            json={"to": "nobody@example.org", "channel": "email", "reason": "complaint"},
            headers=auth,
        )
        assert added.status_code == 201
    await ctx.store.dispose()


async def counts(settings: Settings) -> dict[str, int]:
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.connect() as connection:
            return {
                t: int((await connection.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one())  # noqa: S608
                for t in TABLES
            }
    finally:
        await engine.dispose()


async def tables(settings: Settings) -> set[str]:
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def chain_verifies(settings: Settings) -> bool:
    ctx = build_context(settings)
    try:
        return (await audit.verify(ctx)).intact
    finally:
        await ctx.store.dispose()


def test_the_record_survives_a_refused_step_down_and_base_is_empty(settings: Settings) -> None:
    config = alembic(settings)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert asyncio.run(tables(settings)) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert {"outbox", "consent_events", "suppressions"} <= asyncio.run(tables(settings))

    asyncio.run(record_some_history(settings))
    before = asyncio.run(counts(settings))
    assert before == {"consent_events": 10, "suppressions": 6, "people": 5, "current_consents": 5}
    assert asyncio.run(chain_verifies(settings))

    # Below 0019 the events recorded since, chained per person, would not verify as one chain:
    # refused, and the record is unchanged.
    with pytest.raises(RuntimeError, match=r"consent_events recorded since are chained per person"):
        command.downgrade(config, "0011")
    assert asyncio.run(counts(settings)) == before
    assert asyncio.run(chain_verifies(settings))
    command.upgrade(config, "head")
    assert asyncio.run(chain_verifies(settings))


def test_one_head_and_no_drift_between_models_and_migrations(settings: Settings) -> None:
    config = alembic(settings)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
    command.upgrade(config, "head")
    command.check(config)  # raises when the models hold something no migration creates


async def _staff_roles(settings: Settings, add_account: bool) -> list[tuple[str, str]]:
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.begin() as connection:
            if add_account:
                await connection.execute(
                    text(
                        "INSERT INTO staff_accounts (id, username, display_name, password_hash, created_at)"
                        " VALUES ('00000000-0000-4000-8000-000000000001', 'before.roles', 'Before Roles',"
                        " 'x', CURRENT_TIMESTAMP)"
                    )
                )
                return []
            rows = await connection.execute(text("SELECT username, role FROM staff_accounts"))
            return [(row.username, row.role) for row in rows]
    finally:
        await engine.dispose()


def test_accounts_made_before_roles_become_leads_so_nobody_is_locked_out(settings: Settings) -> None:
    config = alembic(settings)
    # Found by what it does rather than its number, which may change when branches are merged.
    roles = next(r for r in ScriptDirectory.from_config(config).walk_revisions() if "staff roles" in r.doc)
    assert isinstance(roles.down_revision, str)
    command.upgrade(config, roles.down_revision)
    asyncio.run(_staff_roles(settings, add_account=True))
    command.upgrade(config, "head")
    assert asyncio.run(_staff_roles(settings, add_account=False)) == [("before.roles", "lead")]


async def _held_before_sealing(settings: Settings, add: bool) -> list[tuple[str, ...]]:
    """A person, their email and postal address and a kept answer, written as a version before 0017
    wrote them (in the clear); or, afterwards, what those rows hold."""
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.begin() as connection:
            if add:
                fingerprint = Fingerprinter(settings.fingerprint_key)
                await connection.execute(
                    text(
                        "INSERT INTO people (id, display_name, created_at)"
                        " VALUES (:id, 'Morgan Plaintext', CURRENT_TIMESTAMP)"
                    ),
                    {"id": PERSON},
                )
                for n, (kind, value) in enumerate(
                    [("email", "morgan@example.org"), ("postal", "LS6 2AB|4 old road")], start=1
                ):
                    await connection.execute(
                        text(
                            "INSERT INTO contact_points (id, person_id, kind, value, fingerprint, created_at)"
                            " VALUES (:id, :person, :kind, :value, :fingerprint, CURRENT_TIMESTAMP)"
                        ),
                        {
                            "id": f"00000000-0000-4000-8000-00000000001{n}",
                            "person": PERSON,
                            "kind": kind,
                            "value": value,
                            "fingerprint": fingerprint(ContactPoint(ContactKind(kind), value)),
                        },
                    )
                await connection.execute(
                    text(
                        "INSERT INTO idempotency_keys (owner, key, request_digest, status, body, created_at)"
                        " VALUES ('owner', 'k', 'd', 201, 'R:{\"display_name\": \"Morgan Plaintext\"}',"
                        " CURRENT_TIMESTAMP)"
                    )
                )
                return []
            rows = await connection.execute(
                text(
                    "SELECT value FROM contact_points UNION ALL SELECT display_name FROM people"
                    " UNION ALL SELECT body FROM idempotency_keys"
                )
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


PERSON = "00000000-0000-4000-8000-000000000010"


async def _as_the_service_reads_it(settings: Settings) -> tuple[list[str], list[str], list[str], str]:
    ctx = build_context(settings)
    try:
        person = await people.get(ctx, PERSON)
        by_name = [p.id for p in await people.search_by_name(ctx, "plaintext")]
        by_postcode = [p.id for p in await people.search_by_postcode(ctx, "ls62ab")]
        return sorted(c.value for c in person.contacts), by_name, by_postcode, person.display_name or ""
    finally:
        await ctx.store.dispose()


def test_contact_details_held_in_the_clear_are_sealed_on_the_way_up_and_opened_on_the_way_down(
    settings: Settings,
) -> None:
    config = alembic(settings)
    # Found by what it does rather than its number, which may change when branches are merged.
    sealing = next(
        r for r in ScriptDirectory.from_config(config).walk_revisions() if "encrypt contacts" in r.doc
    )
    assert isinstance(sealing.down_revision, str)
    command.upgrade(config, sealing.down_revision)
    asyncio.run(_held_before_sealing(settings, add=True))
    plain = asyncio.run(_held_before_sealing(settings, add=False))

    command.upgrade(config, "head")
    sealed = asyncio.run(_held_before_sealing(settings, add=False))
    assert len(sealed) == len(plain) == 4
    assert all(value.startswith("v1:") and "organ" not in value and "LS6" not in value for (value,) in sealed)
    assert asyncio.run(_as_the_service_reads_it(settings)) == (
        ["LS6 2AB|4 old road", "morgan@example.org"],
        [PERSON],
        [PERSON],
        "Morgan Plaintext",
    )

    command.downgrade(config, sealing.down_revision)
    assert sorted(asyncio.run(_held_before_sealing(settings, add=False))) == sorted(plain)


#: What staff typed into suppression notes and lift reasons before migration 0016: a name, an address.
TYPED = "Mrs Odile Brennan, 12 Elm Road: rang in tears"
#: A kept suppression result, as an idempotency record held one (a domain result; the older answer).
KEPT_ENTRY = {"id": "e1", "fingerprint": "f" * 64, "scope": "marketing", "reason": "complaint", "note": TYPED}
#: A kept choices result: a consent event's evidence note is the record of the choice, and stays.
KEPT_CHOICE = {"person_id": "p1", "events": [{"id": "c1", "evidence": {"note": "rang the office"}}]}


async def _typed_rows(settings: Settings) -> None:
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.begin() as connection:
            for n, (note, lift_reason) in enumerate(
                [(TYPED, "re-granted by the person: consent event c1"), (TYPED, TYPED), (None, None)]
            ):
                await connection.execute(
                    text(
                        "INSERT INTO suppressions (id, fingerprint, channel, scope, reason, source, actor,"
                        " note, effective_at, recorded_at, lift_reason)"
                        " VALUES (:id, :fingerprint, 'email',"
                        " 'marketing', 'complaint', 'staff', 'staff:jo', :note, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP, :lift_reason)"
                    ),
                    {
                        "id": f"00000000-0000-4000-8000-00000000000{n}",
                        "fingerprint": f"{n}" * 64,
                        "note": note,
                        "lift_reason": lift_reason,
                    },
                )
            kept = {
                "entry": "result:" + json.dumps(KEPT_ENTRY),
                "objection": "result:" + json.dumps({"recorded": KEPT_CHOICE, "entries": [KEPT_ENTRY]}),
                "answered": json.dumps(KEPT_ENTRY),
                "choice": "result:" + json.dumps(KEPT_CHOICE),
            }
            for key, body in kept.items():
                await connection.execute(
                    text(
                        "INSERT INTO idempotency_keys (owner, key, request_digest, status, body, created_at)"
                        " VALUES ('k', :key, 'd', 201, :body, CURRENT_TIMESTAMP)"
                    ),
                    {"key": key, "body": body},
                )
    finally:
        await engine.dispose()


async def _suppression_text(settings: Settings) -> tuple[set[str], list[str | None], dict[str, str]]:
    """The suppressions table's columns, its lift reasons in id order, and the kept idempotency bodies."""
    engine = create_async_engine(settings.database.url)
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("suppressions")}
            )
            rows = await connection.execute(text("SELECT * FROM suppressions ORDER BY id"))
            found = [row._mapping for row in rows]
            assert not [row for row in found if TYPED in " ".join(str(v) for v in row.values())]
            bodies = await connection.execute(
                text("SELECT key, body FROM idempotency_keys WHERE owner = 'k'")
            )
            return columns, [row["lift_reason"] for row in found], {row.key: row.body for row in bodies}
    finally:
        await engine.dispose()


def test_suppression_notes_are_dropped_for_good_and_lift_reasons_become_codes(settings: Settings) -> None:
    """COMPLIANCE row 15: the notes' text is in no row after the upgrade, kept results included; the
    step down gives the column back empty, as the text cannot be restored."""
    config = alembic(settings)
    notes = next(
        r for r in ScriptDirectory.from_config(config).walk_revisions() if "suppression notes" in r.doc
    )
    assert isinstance(notes.down_revision, str)
    command.upgrade(config, notes.down_revision)
    asyncio.run(_typed_rows(settings))

    # Read as 0016 left them: 0017, after it, seals the kept bodies that are checked here.
    command.upgrade(config, notes.revision)
    columns, lift_reasons, bodies = asyncio.run(_suppression_text(settings))
    assert "note" not in columns and "how" in columns
    assert lift_reasons == ["regranted", "recorded_before_codes", None]
    assert not [key for key, body in bodies.items() if TYPED in body]
    assert json.loads(bodies["entry"].removeprefix("result:")) == {
        k: v for k, v in KEPT_ENTRY.items() if k != "note"
    }
    assert json.loads(bodies["choice"].removeprefix("result:")) == KEPT_CHOICE

    command.downgrade(config, notes.down_revision)
    columns, lift_reasons, _ = asyncio.run(_suppression_text(settings))
    assert "note" in columns and "how" not in columns
    assert lift_reasons == ["regranted", "recorded_before_codes", None]
    command.upgrade(config, "head")


LEGACY_PERSON = "00000000-0000-4000-8000-000000000020"


async def _single_chain_before_0019(settings: Settings) -> None:
    """Two events of one person joined to the single chain, as a version before 0019 wrote them."""
    engine = create_async_engine(settings.database.url)
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    prev = GENESIS_HASH
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO people (id, created_at) VALUES (:id, :at)"), {"id": LEGACY_PERSON, "at": at}
            )
            for seq, decision in enumerate((Decision.GRANTED, Decision.WITHDRAWN), start=1):
                draft = ConsentEvent(
                    f"00000000-0000-4000-8000-00000000002{seq}", seq, LEGACY_PERSON, "marketing", Channel.SMS,
                    decision, at, at, Source.PAPER_FORM, "office", None,
                    evidence_hash=evidence_digest(Evidence()), prev_hash=prev, basis=Basis.CONSENT,
                )  # fmt: skip
                event = replace(draft, hash=event_digest(draft, prev))
                await connection.execute(
                    text(
                        "INSERT INTO consent_events (id, seq, person_id, purpose, channel, decision,"
                        " effective_at, recorded_at, source, actor, evidence, evidence_hash, prev_hash, hash,"
                        " evidence_gaps, basis) VALUES (:id, :seq, :person, 'marketing', 'sms', :decision,"
                        " :at, :at, 'paper_form', 'office', '{}', :evidence_hash, :prev, :hash, '[]',"
                        " 'consent')"
                    ),
                    {
                        "id": event.id, "seq": seq, "person": LEGACY_PERSON, "decision": decision.value,
                        "at": at, "evidence_hash": event.evidence_hash, "prev": prev, "hash": event.hash,
                    },
                )  # fmt: skip
                prev = event.hash
            await connection.execute(
                text("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 2, :hash)"), {"hash": prev}
            )
    finally:
        await engine.dispose()


async def _record_after_0019(settings: Settings) -> tuple[audit.ChainReport, list[ConsentEvent]]:
    ctx = build_context(settings)
    try:
        await seed(ctx.store, ctx.clock)
        await ctx.catalogue.reload()
        withdrawal = ChoicesInput(
            [ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)], Source.LETTER, "t"
        )
        done = await choices.record_choices(ctx, choices.RecordChoices(LEGACY_PERSON, withdrawal))
        return await audit.verify(ctx), list(done.events)
    finally:
        await ctx.store.dispose()


def test_events_of_the_single_chain_stay_verified_and_a_persons_own_chain_starts_after_them(
    settings: Settings,
) -> None:
    config = alembic(settings)
    command.upgrade(config, "0018")
    asyncio.run(_single_chain_before_0019(settings))
    command.upgrade(config, "head")

    report, (event,) = asyncio.run(_record_after_0019(settings))
    assert report.intact and report.events == 3, report
    # Numbered after the single chain's end, and the first link of the person's own chain.
    assert event.seq == 3 and event.prev_hash == GENESIS_HASH


def test_below_0012_is_refused_while_events_hold_the_basis_sealed_into_their_hashes(
    settings: Settings,
) -> None:
    config = alembic(settings)
    command.upgrade(config, "0018")
    asyncio.run(_single_chain_before_0019(settings))  # events of the single chain, each with its basis
    command.upgrade(config, "head")
    before = asyncio.run(counts(settings))

    with pytest.raises(RuntimeError, match=r"consent_events\.basis"):
        command.downgrade(config, "0011")
    # Later steps down, which hold nothing of the kind, may have run (SQLite); head restores them.
    command.upgrade(config, "head")
    assert asyncio.run(counts(settings)) == before
    assert asyncio.run(chain_verifies(settings))
