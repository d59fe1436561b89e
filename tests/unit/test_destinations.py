"""Where webhooks may be sent: public hosts by default, or the names and networks an organisation lists."""

from __future__ import annotations

import pytest

from consent_service.domain.destinations import Destinations


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://[::1]/x",
        "http://10.0.0.7/",
        "http://172.16.4.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::5]/",
        "http://[::ffff:192.168.1.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",  # carrier-grade NAT: not the public internet
    ],
)
def test_public_refuses_every_address_that_is_not_on_the_internet(url: str) -> None:
    refusal = Destinations.parse("public").refusal(url)
    assert refusal is not None and "public" in refusal


def test_public_takes_internet_addresses_and_names_but_names_are_resolved_first() -> None:
    public = Destinations.parse("public")
    assert public.refusal("https://192.0.2.10/hook") is not None  # a documentation range is not routed
    assert public.refusal("https://8.8.8.8/hook") is None
    assert public.refusal("https://hooks.example.org/consent") is None
    assert public.must_resolve("https://hooks.example.org/consent")
    assert not public.must_resolve("https://8.8.8.8/hook")
    assert public.refusal_of_addresses("https://hooks.example.org/", ["93.184.216.34"]) is None
    refused = public.refusal_of_addresses("https://hooks.example.org/", ["93.184.216.34", "10.0.0.1"])
    assert refused is not None and "10.0.0.1" in refused
    assert public.refusal_of_addresses("https://hooks.example.org/", []) is not None


def test_a_listed_name_or_network_is_taken_and_nothing_else() -> None:
    listed = Destinations.parse(" Hooks.Internal. , 10.20.0.0/16,::1 ")
    assert listed.refusal("https://hooks.internal/consent") is None
    assert listed.refusal("https://HOOKS.internal./consent") is None
    assert not listed.must_resolve("https://hooks.internal/consent")
    assert listed.refusal("http://10.20.3.4:9000/") is None
    assert listed.refusal("http://[::1]:9000/") is None
    assert listed.refusal("http://[::ffff:10.20.3.4]/") is None
    for outside in ("http://10.21.0.1/", "https://crm.example.org/", "http://127.0.0.1/", "http://8.8.8.8/"):
        refusal = listed.refusal(outside)
        assert refusal is not None and "hooks.internal" in refusal, outside


@pytest.mark.parametrize("text", ["", " , ", "10.0.0.0/33", "hooks.example.org/path", "exa mple.org", "*"])
def test_a_destination_list_that_names_nothing_usable_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Destinations.parse(text)
