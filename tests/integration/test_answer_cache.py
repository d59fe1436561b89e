"""Checks are answered from memory when they may be, and a withdrawal still denies at once."""

from __future__ import annotations

from prometheus_client import REGISTRY

from consent_service.adapters.check_cache import AnswerCache
from consent_service.adapters.signals import RedisFeed
from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import contact_point
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register


async def withdraw_email(api: Api, person_id: str) -> None:
    withdrawn = await api.post(
        f"/v1/people/{person_id}/consents",
        {
            "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
            "source": "web_form",
        },
    )
    assert withdrawn.status_code == 201, withdrawn.text


async def test_a_repeated_check_is_answered_from_memory_until_an_opt_out(api: Api) -> None:
    """On both backends the worker keeps answers (host file signal on SQLite, Redis on PostgreSQL).

    An empty cache once tested false and so was never filled: every check went to the database.
    """
    answers = api.context.answers
    assert isinstance(answers, AnswerCache)
    email = fresh_email()
    registered = await register(api, email, choices=[grant("email")])
    assert (await api.check("email", email))["allowed"] is True
    assert answers.held() >= 1, "the answer was not kept"
    assert (await api.check("email", email))["allowed"] is True
    await withdraw_email(api, registered["person_id"])
    assert (await api.check("email", email))["allowed"] is False


async def test_a_withdrawal_drops_only_the_answers_it_changes_where_the_feed_names_them(api: Api) -> None:
    """With Redis (production's pairing) a write names the people and addresses it touched, and every
    worker drops only the answers about them: one family's withdrawal no longer empties the memory
    that answers every other family's checks. The embedded default's file signal names nothing, so
    there every write still makes every answer go."""
    answers = api.context.answers
    assert isinstance(answers, AnswerCache)
    leaving, staying = fresh_email(), fresh_email()
    registered = await register(api, leaving, choices=[grant("email")])
    await register(api, staying, choices=[grant("email")])
    for email in (leaving, staying):
        assert (await api.check("email", email))["allowed"] is True
    await withdraw_email(api, registered["person_id"])

    def kept(email: str) -> tuple[str, str, str, str]:
        fingerprint = api.context.fingerprint(contact_point(ContactKind.EMAIL, email, "GB"))
        return (fingerprint, "", "marketing", "email")

    seen = await answers.token()
    answers.database_answered()
    assert answers.get(kept(leaving), seen) is None
    if isinstance(answers.feed, RedisFeed):
        assert answers.get(kept(staying), seen) is not None, "another family's answer was dropped"
    else:
        assert answers.get(kept(staying), seen) is None
    assert (await api.check("email", leaving))["allowed"] is False
    before = answered_from("memory")
    assert (await api.check("email", staying))["allowed"] is True
    # What an operator sees on /metrics: the other family's check was answered from memory.
    assert answered_from("memory") - before == (1 if isinstance(answers.feed, RedisFeed) else 0)


def answered_from(source: str) -> float:
    return REGISTRY.get_sample_value("consent_check_answers_total", {"source": source}) or 0.0


async def test_a_lifted_suppression_drops_only_the_answers_about_its_address(api: Api) -> None:
    """A lift names the address it re-opens, as an entry added does: with Redis, the other families'
    answers stay in memory, and the address's own answer is asked again and allows at once."""
    answers = api.context.answers
    assert isinstance(answers, AnswerCache)
    bounced, staying = fresh_email(), fresh_email()
    await register(api, bounced, choices=[grant("email")])
    await register(api, staying, choices=[grant("email")])
    entry = await api.post("/v1/suppressions", {"to": bounced, "channel": "email", "reason": "hard_bounce"})
    assert entry.status_code == 201, entry.text
    assert (await api.check("email", bounced))["reason"] == "contact_invalid"
    assert (await api.check("email", staying))["allowed"] is True

    lifted = await api.delete(f"/v1/suppressions/{entry.json()['id']}", {"reason": "confirmed_working"})
    assert lifted.status_code == 200, lifted.text

    assert (await api.check("email", bounced))["allowed"] is True
    before = answered_from("memory")
    assert (await api.check("email", staying))["allowed"] is True
    assert answered_from("memory") - before == (1 if isinstance(answers.feed, RedisFeed) else 0)
