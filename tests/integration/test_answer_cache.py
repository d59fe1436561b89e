"""Checks are answered from memory when they may be, and a withdrawal still denies at once."""

from __future__ import annotations

from consent_service.adapters.check_cache import AnswerCache
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register


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
    withdrawn = await api.post(
        f"/v1/people/{registered['person_id']}/consents",
        {
            "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
            "source": "web_form",
        },
    )
    assert withdrawn.status_code == 201, withdrawn.text
    assert (await api.check("email", email))["allowed"] is False
