"""Where webhooks may be sent.

A webhook is an address the service will POST to on its own, from inside the organisation's network.
Whoever holds an admin key could otherwise aim it at what that network hides: a cloud metadata
address (169.254.169.254), the database's port, an internal admin page. So the organisation says
where webhooks may go (``CONSENT_WEBHOOK_DESTINATIONS``), as a list of:

- ``public``: any host whose every address is globally routable (the default);
- a host name, exactly (``hooks.example.org``, ``localhost``): sent to whatever it resolves to;
- an IP address or network (``10.20.0.0/16``, ``127.0.0.1``, ``::1``): for literal addresses.

A URL is checked when the webhook is registered (an address written as an IP, or a name not on the
list, is refused there) and again before every delivery, when a name admitted only by ``public`` is
resolved and every address it resolves to must be public too. Written by hand because the rule is
small and the standard ``ipaddress`` module does the part that needs care.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PUBLIC = "public"


def _address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Destinations:
    public: bool = True
    names: frozenset[str] = frozenset()
    #: In CIDR form; kept as text so the settings stay plain data (msgspec and Litestar read them).
    networks: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Destinations:
        """From the setting's comma-separated list; raises ``ValueError`` naming a bad entry."""
        public = False
        names: set[str] = set()
        networks: list[str] = []
        for raw in text.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == PUBLIC:
                public = True
            elif _address(entry.strip("[]")) is not None or "/" in entry:
                try:
                    networks.append(str(ipaddress.ip_network(entry.strip("[]"), strict=False)))
                except ValueError as exc:
                    raise ValueError(f"{raw.strip()!r} is not an IP address or network") from exc
            elif all(part and part.replace("-", "").isalnum() for part in entry.rstrip(".").split(".")):
                names.add(entry.rstrip("."))
            else:
                raise ValueError(f"{raw.strip()!r} is not a host name, an IP network or 'public'")
        if not (public or names or networks):
            raise ValueError("name at least one destination ('public', a host name or an IP network)")
        return cls(public=public, names=frozenset(names), networks=tuple(networks))

    def describe(self) -> str:
        parts = ([PUBLIC] if self.public else []) + sorted(self.names) + list(self.networks)
        return ", ".join(parts)

    def allows_address(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in ipaddress.ip_network(network) for network in self.networks):
            return True
        return self.public and address.is_global

    def refusal(self, url: str) -> str | None:
        """Why a webhook may not be sent to ``url`` (None if it may, as far as can be told unresolved)."""
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        address = _address(host)
        if address is not None:
            if self.allows_address(address):
                return None
            return f"{host} is not an address webhooks may be sent to (allowed: {self.describe()})"
        if host in self.names or self.public:
            return None
        return f"{host} is not a host webhooks may be sent to (allowed: {self.describe()})"

    def must_resolve(self, url: str) -> bool:
        """Whether the host's addresses must be checked before sending: a name let in only by ``public``."""
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        return _address(host) is None and host not in self.names

    def refusal_of_addresses(self, url: str, addresses: list[str]) -> str | None:
        """Why the addresses a name resolved to may not be sent to (None if every one may)."""
        host = urlsplit(url).hostname or ""
        if not addresses:
            return f"{host} resolves to no address"
        for text in addresses:
            address = _address(text.split("%", 1)[0])  # drop an IPv6 zone
            if address is None or not self.allows_address(address):
                return f"{host} resolves to {text}, which is not public (allowed: {self.describe()})"
        return None


#: The default: any host on the public internet, nothing inside.
PUBLIC_HOSTS = Destinations()
