"""The purpose catalogue and notice versions: seeded once, read from memory, refreshed on a miss.

Purposes and notice versions are immutable once written, so a copy in memory can never be stale,
only incomplete (another worker added one); a miss reloads it from the database, at most once per
``MISS_RELOAD_INTERVAL`` so that a caller sending unknown purposes cannot turn every request into
two queries. A purpose added on another worker is seen here within that interval (this worker's own
additions reload at once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from consent_service.domain.channels import Channel
from consent_service.domain.errors import Conflict, FieldError, InvalidInput
from consent_service.domain.notices import (
    DEFAULT_WORDING,
    FALLBACK_LANGUAGE,
    NoticeKind,
    NoticeVersion,
    newest_for,
)
from consent_service.domain.ports import Clock, Store
from consent_service.domain.purposes import (
    DEFAULT_CATALOGUE,
    Catalogue,
    OrgType,
    Purpose,
    basis_refusals,
    check_category,
)

#: Seconds between reloads caused by a miss.
MISS_RELOAD_INTERVAL = 1.0


@dataclass(slots=True)
class CatalogueView:
    store: Store
    catalogue: Catalogue = field(default_factory=Catalogue)
    notices_by_id: dict[str, NoticeVersion] = field(default_factory=dict)
    notices_by_version: dict[tuple[str, int], NoticeVersion] = field(default_factory=dict)
    last_miss_reload: float = float("-inf")

    async def reload(self) -> None:
        async with self.store.reading() as uow:
            purposes = await uow.catalogue.purposes()
            notices = await uow.catalogue.notices()
        self.catalogue = Catalogue.of(purposes)
        self.notices_by_id = {n.id: n for n in notices}
        self.notices_by_version = {(n.purpose, n.version): n for n in notices}

    async def purpose(self, code: str, channel: Channel | None, field_prefix: str = "") -> Purpose:
        await self.has(code)
        return self.catalogue.require(code, channel, field_prefix)

    async def notice(self, purpose: str, version: int) -> NoticeVersion | None:
        if (purpose, version) not in self.notices_by_version:
            await self._reload_on_miss()
        return self.notices_by_version.get((purpose, version))

    async def has(self, code: str) -> bool:
        if code not in self.catalogue:
            await self._reload_on_miss()
        return code in self.catalogue

    async def _reload_on_miss(self) -> None:
        now = time.monotonic()
        if now - self.last_miss_reload >= MISS_RELOAD_INTERVAL:
            self.last_miss_reload = now
            await self.reload()

    def notice_by_id(self, notice_id: str | None) -> NoticeVersion | None:
        return self.notices_by_id.get(notice_id) if notice_id else None

    def latest_requests(self, language: str = FALLBACK_LANGUAGE) -> dict[str, NoticeVersion]:
        """Each purpose's newest consent request for a reader of ``language``: the wording a page
        offers with a choice (terms and privacy notices are published beside it, never agreed to)."""
        requests = (n for n in self.notices_by_id.values() if n.kind is NoticeKind.CONSENT_REQUEST)
        return newest_for(requests, language)


async def seed(store: Store, clock: Clock) -> bool:
    """Write each default purpose the catalogue lacks, with its first wording; whether any was written.

    On a first start that is the whole default catalogue; on a service started before a default was
    added, that default alone (purposes are never removed, so a missing one was never there).
    """
    async with store.writing() as uow:
        held = {purpose.code for purpose in await uow.catalogue.purposes()}
        missing = [purpose for purpose in DEFAULT_CATALOGUE if purpose.code not in held]
        now = clock.now()
        for purpose in missing:
            await uow.catalogue.add_purpose(purpose, now)
            if purpose.code in DEFAULT_WORDING:
                await uow.catalogue.add_notice(
                    purpose.code, DEFAULT_WORDING[purpose.code], "en", now, NoticeKind.CONSENT_REQUEST
                )
    return bool(missing)


async def add_purpose(
    view: CatalogueView, clock: Clock, purpose: Purpose, org: OrgType = OrgType.CHARITY
) -> Purpose:
    if not purpose.bases:
        raise InvalidInput.one("bases", "a purpose needs a basis for at least one channel (or none)")
    check_category(purpose, org)
    if refused := basis_refusals(purpose):
        raise InvalidInput(refused)
    await view.reload()
    if purpose.code in view.catalogue:
        raise Conflict(f"purpose {purpose.code!r} exists; purposes are immutable, create a new code")
    async with view.store.writing() as uow:
        if purpose.code in {p.code for p in await uow.catalogue.purposes()}:
            raise Conflict(f"purpose {purpose.code!r} exists; purposes are immutable, create a new code")
        await uow.catalogue.add_purpose(purpose, clock.now())
    await view.reload()
    return purpose


async def add_notice(
    view: CatalogueView,
    clock: Clock,
    purpose: str,
    text: str,
    language: str,
    published_at: datetime | None,
    kind: NoticeKind = NoticeKind.CONSENT_REQUEST,
    controllers: tuple[str, ...] = (),
) -> NoticeVersion:
    if not await view.has(purpose):
        raise InvalidInput.one("purpose", f"unknown purpose {purpose!r}")
    names = tuple(name.strip() for name in controllers)
    if blank := [
        FieldError(f"controllers[{i}]", "a controller is named, not blank")
        for i, n in enumerate(names)
        if not n
    ]:
        raise InvalidInput(blank)
    controllers = tuple(dict.fromkeys(names))
    async with view.store.writing() as uow:
        notice = await uow.catalogue.add_notice(
            purpose, text, language, published_at or clock.now(), kind, controllers
        )
    await view.reload()
    return notice
