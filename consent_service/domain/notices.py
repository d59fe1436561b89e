"""Notice versions: the exact wording a person was shown when asked. Immutable; new wording, new version."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class NoticeKind(StrEnum):
    """What a wording is. Only a consent request can back a grant (UK GDPR Art 7(2), Recital 42):
    consent buried in terms and conditions or a privacy notice is not freely given and specific."""

    CONSENT_REQUEST = "consent_request"
    PRIVACY_NOTICE = "privacy_notice"
    TERMS = "terms"


@dataclass(frozen=True, slots=True)
class NoticeVersion:
    id: str
    purpose: str
    version: int
    language: str
    text: str
    sha256: str
    published_at: datetime
    kind: NoticeKind = NoticeKind.CONSENT_REQUEST
    #: The other controllers who rely on a consent given to this wording (a Family Hub partnership's
    #: council and charities, LEGAL #29): named in it, so the person knows who they consent to.
    controllers: tuple[str, ...] = ()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


#: The wording seeded with the default catalogue, so a fresh service can record grants at once.
DEFAULT_WORDING: dict[str, str] = {
    "marketing": (
        "We would like to send you news about our work, events and ways to support families. "
        "Tick each way you are happy for us to contact you. You can change your mind at any time: "
        "every email has an unsubscribe link, or just tell us."
    ),
    "testimonial": (
        "With your permission we would like to share your family's experience in our leaflets and on "
        "our website. You can withdraw this permission at any time."
    ),
    "consent_renewal": (
        "Now and then we may ask whether you are still happy to hear from us, and how. Tick each way "
        "you are happy for us to ask you. You can change your mind at any time."
    ),
}


#: The language every purpose's wording is first written in, shown when none is in the reader's.
FALLBACK_LANGUAGE = "en"


def _primary(language: str) -> str:
    """ "cy-GB" reads as "cy": a wording tagged with a region still suits every reader of the language."""
    return language.split("-", 1)[0].lower()


def newest_for(notices: Iterable[NoticeVersion], language: str) -> dict[str, NoticeVersion]:
    """Per purpose, the wording a reader of ``language`` is shown: the newest in their language, else
    the newest in English, else (a purpose worded in no language they read) the newest of all.

    Versions are numbered per purpose across languages, so the newest version overall may be in a
    language the reader does not read: a Welsh wording published after the English one must not
    replace it for English readers.
    """
    wanted = (_primary(language), FALLBACK_LANGUAGE)
    best: dict[str, tuple[int, int, NoticeVersion]] = {}
    for notice in notices:
        own = _primary(notice.language)
        rank = wanted.index(own) if own in wanted else len(wanted)
        current = best.get(notice.purpose)
        if current is None or (rank, -notice.version) < (current[0], -current[1]):
            best[notice.purpose] = (rank, notice.version, notice)
    return {purpose: notice for purpose, (_, _, notice) in best.items()}


#: UK GDPR Art 21(4): the right to object to direct marketing, stated clearly and apart from anything
#: else. The preferences page and every marketing receipt carry these words, so they say the same.
RIGHT_TO_OBJECT = (
    "You have the right to object to direct marketing at any time. If you object, we stop using your "
    "details for marketing straight away; it costs nothing and you do not need to give a reason. To "
    "object, use the unsubscribe link in any of our emails, say no on your preferences page, or tell us "
    "by phone, email or letter."
)
