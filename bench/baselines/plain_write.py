"""Baseline ``plain_write``: a registration as a straightforward service would write it.

``POST /write`` takes the body of our ``POST /v1/registrations`` (a person with an email address and
choices) and, in one asyncpg transaction with PostgreSQL's default durability (``synchronous_commit``
on), inserts the person and one row per choice, rows about as wide as our ``people`` and
``consent_events`` (ids, texts, an evidence JSON document, three SHA-256 hex digests); answers 201.
The database is the bench's throwaway one, ``BENCH_PG_DSN``; the tables are made on start.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import msgspec
from litestar import Litestar, post

SCHEMA = """
CREATE TABLE IF NOT EXISTS plain_people (
    id uuid PRIMARY KEY, reference text UNIQUE, email text NOT NULL, created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS plain_consents (
    id uuid PRIMARY KEY, person_id uuid NOT NULL REFERENCES plain_people (id), purpose text NOT NULL,
    channel text, decision text NOT NULL, effective_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL, source text NOT NULL, actor text NOT NULL, notice text,
    evidence jsonb NOT NULL, evidence_hash text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL
);
CREATE INDEX IF NOT EXISTS plain_consents_person ON plain_consents (person_id, purpose, channel);
"""
PERSON = "INSERT INTO plain_people (id, reference, email, created_at) VALUES ($1, $2, $3, $4)"
CONSENT = (
    "INSERT INTO plain_consents (id, person_id, purpose, channel, decision, effective_at, recorded_at,"
    " source, actor, notice, evidence, evidence_hash, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13)"
)


class Contact(msgspec.Struct):
    kind: str
    value: str


class PersonIn(msgspec.Struct):
    contacts: list[Contact] = []
    reference: str | None = None


class Notice(msgspec.Struct):
    purpose: str
    version: int


class Choice(msgspec.Struct):
    purpose: str
    decision: str
    channel: str | None = None
    affirmative_action: str | None = None
    pre_ticked: bool | None = None
    notice: Notice | None = None


class RegistrationIn(msgspec.Struct):
    person: PersonIn
    source: str
    choices: list[Choice] = []


class Written(msgspec.Struct):
    person_id: str


class Stores:
    pool: asyncpg.Pool


stores = Stores()


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    stores.pool = await asyncpg.create_pool(os.environ["BENCH_PG_DSN"], min_size=10, max_size=10)
    try:
        await stores.pool.execute(SCHEMA)
        yield
    finally:
        await stores.pool.close()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@post("/write")
async def write(data: RegistrationIn) -> Written:
    person_id, now = uuid.uuid4(), datetime.now(UTC)
    email = next(c.value.strip().lower() for c in data.person.contacts if c.kind == "email")
    rows = []
    prev = "0" * 64
    for choice in data.choices:
        evidence = msgspec.json.encode(
            {"affirmative_action": choice.affirmative_action, "pre_ticked": choice.pre_ticked}
        ).decode()
        notice = f"{choice.notice.purpose}/{choice.notice.version}" if choice.notice else None
        digest = _sha(f"{prev}{person_id}{choice.purpose}{choice.channel}{choice.decision}{evidence}")
        what = (choice.purpose, choice.channel, choice.decision, now, data.source, "api-key", notice)
        rows.append((uuid.uuid4(), person_id, *what, evidence, _sha(evidence), prev, digest))
        prev = digest
    async with stores.pool.acquire() as connection, connection.transaction():
        await connection.execute(PERSON, person_id, data.person.reference, email, now)
        await connection.executemany(CONSENT, rows)
    return Written(person_id=str(person_id))


app = Litestar(route_handlers=[write], lifespan=[lifespan])
