"""Mail streams: each purpose category is sent under its own sender and ``List-Id`` (LEGAL #24).

Mailbox providers judge a sender's reputation per stream; a marketing complaint must not sink the
appointment reminders, and a family filtering "news" must not filter their appointments. So each
category names the ``From`` it is sent as and the ``List-Id`` (RFC 2919) it carries, and a check's
answer says which, so a mailing tool need not keep its own table.

Unset, both are made from the organisation's settings: ``From`` is its name and email address (none
when it has no email address), and the ``List-Id`` is ``<category.domain>``, the domain being that of
the organisation's email, else the public base URL's host, else ``localhost`` (RFC 2919 §2's namespace
for a list with no registered domain).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formataddr

from consent_service.domain.purposes import Category


@dataclass(frozen=True, slots=True)
class Stream:
    category: Category
    #: The ``From`` the category's messages are sent as; None when neither set nor derivable.
    sender: str | None
    #: The ``List-Id`` header's value, ``<label.namespace>``, optionally after a description.
    list_id: str


@dataclass(frozen=True, slots=True)
class Given:
    """What the operator set for one category (None: derived)."""

    sender: str | None = None
    list_id: str | None = None


def _namespace(org_email: str, public_host: str | None) -> str:
    domain = org_email.rpartition("@")[2].strip().strip(">").lower()
    if "@" in org_email and domain:
        return domain
    if public_host:
        try:
            ipaddress.ip_address(public_host.strip("[]"))
        except ValueError:
            return public_host.lower()
    return "localhost"


def mail_streams(
    given: Mapping[Category, Given], org_name: str, org_email: str, public_host: str | None
) -> dict[Category, Stream]:
    """Every category's stream: what the operator set, else the derived default."""
    namespace = _namespace(org_email, public_host)
    sender = formataddr((org_name, org_email)) if org_email else None
    streams = {}
    for category in Category:
        chosen = given.get(category, Given())
        label = category.value.replace("_", "-")
        streams[category] = Stream(
            category,
            chosen.sender if chosen.sender is not None else sender,
            chosen.list_id if chosen.list_id is not None else f"<{label}.{namespace}>",
        )
    return streams
