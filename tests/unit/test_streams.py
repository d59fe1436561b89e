"""Each category's mail stream when the operator set nothing, or only part (LEGAL #24)."""

from __future__ import annotations

from consent_service.domain.purposes import Category
from consent_service.domain.streams import Given, mail_streams


def test_unset_streams_come_from_the_organisations_address() -> None:
    streams = mail_streams({}, "Family Hub", "hello@Family-Hub.example", "consent.other.example")
    assert {c: (s.sender, s.list_id) for c, s in streams.items()} == {
        Category.MARKETING: ("Family Hub <hello@Family-Hub.example>", "<marketing.family-hub.example>"),
        Category.ADMINISTRATIVE: (
            "Family Hub <hello@Family-Hub.example>",
            "<administrative.family-hub.example>",
        ),
        Category.PUBLIC_TASK: ("Family Hub <hello@Family-Hub.example>", "<public-task.family-hub.example>"),
    }


def test_without_an_email_the_list_id_names_the_public_host_or_localhost() -> None:
    by_host = mail_streams({}, "Family Hub", "", "consent.family-hub.example")[Category.MARKETING]
    assert (by_host.sender, by_host.list_id) == (None, "<marketing.consent.family-hub.example>")
    for address in ("127.0.0.1", "[::1]", None):
        assert mail_streams({}, "X", "", address)[Category.MARKETING].list_id == "<marketing.localhost>"


def test_what_the_operator_set_wins_field_by_field() -> None:
    streams = mail_streams(
        {Category.MARKETING: Given(list_id="News <news.family-hub.example>")},
        "Family Hub",
        "hello@family-hub.example",
        None,
    )
    assert streams[Category.MARKETING].list_id == "News <news.family-hub.example>"
    assert streams[Category.MARKETING].sender == "Family Hub <hello@family-hub.example>"
    assert streams[Category.ADMINISTRATIVE].list_id == "<administrative.family-hub.example>"
