"""Notice versions: the exact wording a person was shown when asked. Immutable; new wording, new version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NoticeVersion:
    id: str
    purpose: str
    version: int
    language: str
    text: str
    sha256: str
    published_at: datetime


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
}


#: UK GDPR Art 21(4): the right to object to direct marketing, stated clearly and apart from anything
#: else. The preferences page and every marketing receipt carry these words, so they say the same.
RIGHT_TO_OBJECT = (
    "You have the right to object to direct marketing at any time. If you object, we stop using your "
    "details for marketing straight away; it costs nothing and you do not need to give a reason. To "
    "object, use the unsubscribe link in any of our emails, say no on your preferences page, or tell us "
    "by phone, email or letter."
)
