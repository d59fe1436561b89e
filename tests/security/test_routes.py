"""Promise 7, every call is authenticated: try every route of the real app with no key, a forged key
and a key of each scope, and compare what it answers with what the route declares.

The route list is read from the app itself, so a route added tomorrow is tried tomorrow; the public
routes and the scopes each route accepts are written down here, so a route that becomes public, or
accepts one scope more, fails until someone has looked at it and changed this table on purpose.
"""

from __future__ import annotations

import html
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from litestar.routes import HTTPRoute

from consent_service.api.app import create_app
from consent_service.api.security import PUBLIC_OPT, SCOPES_OPT
from consent_service.domain.keys import KeyScope
from tests.integration.conftest import Api

#: Litestar's own answers, which need nothing to protect: the schema and preflight/HEAD.
FRAMEWORK_PATHS = re.compile(r"^/(docs|schema)(/|$)")
FRAMEWORK_METHODS = frozenset({"OPTIONS", "HEAD"})

#: Reached without an API key. The health and metrics routes for operators; the provider feedback
#: routes, which check the provider's signature (or, for Notify, its bearer token) instead; the
#: families' pages, reached by signed links; the staff pages and static files, which check a staff
#: session (sign-in) of their own.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
        ("POST", "/v1/feedback/ses"),
        ("POST", "/v1/feedback/sendgrid"),
        ("POST", "/v1/feedback/mailgun"),
        ("POST", "/v1/feedback/notify"),
        ("POST", "/v1/feedback/notify/received-text"),
        ("GET", "/unsubscribe/{token:str}"),
        ("POST", "/unsubscribe/{token:str}"),
        ("GET", "/preferences/{token:str}"),
        ("POST", "/preferences/{token:str}"),
        # The accessibility statement: a page for anyone, holding nothing about anyone.
        ("GET", "/accessibility"),
        ("GET", "/staff/sign-in"),
        ("POST", "/staff/sign-in"),
        ("POST", "/staff/sign-out"),
        ("GET", "/staff"),
        ("GET", "/staff/people/{person_id:uuid}"),
        ("POST", "/staff/people/{person_id:uuid}/choices"),
        ("POST", "/staff/people/{person_id:uuid}/restrictions"),
        ("POST", "/staff/people/{person_id:uuid}/restrictions/{restriction_id:uuid}/lift"),
        # The phone-call pages (issue 16): a new person, contact points, suppressions.
        ("GET", "/staff/people/new"),
        ("POST", "/staff/people"),
        ("POST", "/staff/people/{person_id:uuid}/contacts"),
        ("POST", "/staff/people/{person_id:uuid}/contacts/{contact_id:uuid}/correct"),
        ("POST", "/staff/people/{person_id:uuid}/contacts/{contact_id:uuid}/remove"),
        ("POST", "/staff/people/{person_id:uuid}/suppressions/{entry_id:uuid}/lift"),
        ("POST", "/staff/suppressions"),
        # A lead's pages (issue 16): the staff session, then the lead role.
        ("GET", "/staff/accounts"),
        ("POST", "/staff/accounts"),
        ("POST", "/staff/accounts/{username:str}/role"),
        ("POST", "/staff/accounts/{username:str}/password"),
        ("POST", "/staff/accounts/{username:str}/disable"),
        ("GET", "/staff/audit"),
        ("GET", "/staff/people/{person_id:uuid}/export"),
        ("POST", "/staff/people/{person_id:uuid}/erasure"),
        ("GET", "/static/{file_path:path}"),
    }
)

#: Staff pages behind the staff session: an API key, of any scope, must not open them.
STAFF_SESSION_ROUTES = frozenset(
    route
    for route in PUBLIC_ROUTES
    if route[1].startswith("/staff") and route[1] not in ("/staff/sign-in", "/staff/sign-out")
)

FORMS, CHECKS, STAFF, ADMIN = KeyScope.FORMS, KeyScope.CHECKS, KeyScope.STAFF, KeyScope.ADMIN
PERSON = "/v1/people/{person_id:uuid}"

#: What each keyed route accepts (any one of the scopes), as README's "Calling it" table promises.
SCOPED_ROUTES: dict[tuple[str, str], frozenset[KeyScope]] = {
    ("POST", "/v1/registrations"): frozenset({FORMS, STAFF}),
    ("POST", "/v1/people"): frozenset({FORMS, STAFF}),
    ("GET", "/v1/people"): frozenset({STAFF}),
    ("GET", PERSON): frozenset({STAFF}),
    ("PATCH", PERSON): frozenset({STAFF}),
    ("GET", f"{PERSON}/consents"): frozenset({STAFF}),
    ("POST", f"{PERSON}/consents"): frozenset({FORMS, STAFF}),
    ("POST", f"{PERSON}/objection"): frozenset({FORMS, STAFF}),
    ("GET", f"{PERSON}/history"): frozenset({STAFF}),
    ("GET", f"{PERSON}/events/{{event_id:uuid}}"): frozenset({STAFF, ADMIN}),
    ("GET", f"{PERSON}/receipts/{{event_id:uuid}}"): frozenset({FORMS, STAFF}),
    ("GET", f"{PERSON}/restrictions"): frozenset({STAFF}),
    ("POST", f"{PERSON}/restrictions"): frozenset({STAFF}),
    ("DELETE", f"{PERSON}/restrictions/{{restriction_id:uuid}}"): frozenset({STAFF}),
    ("GET", f"{PERSON}/export"): frozenset({ADMIN}),
    ("GET", f"{PERSON}/consent-record"): frozenset({STAFF, ADMIN}),
    ("POST", f"{PERSON}/access-requests"): frozenset({STAFF, ADMIN}),
    ("GET", "/v1/access-requests"): frozenset({STAFF, ADMIN}),
    ("POST", "/v1/access-requests/{request_id:uuid}/answered"): frozenset({STAFF, ADMIN}),
    ("POST", f"{PERSON}/legal-holds"): frozenset({ADMIN}),
    ("GET", f"{PERSON}/legal-holds"): frozenset({STAFF, ADMIN}),
    ("DELETE", f"{PERSON}/legal-holds/{{hold_id:uuid}}"): frozenset({ADMIN}),
    ("POST", f"{PERSON}/erasure"): frozenset({ADMIN}),
    ("POST", "/v1/checks"): frozenset({CHECKS}),
    ("POST", "/v1/checks/bulk"): frozenset({CHECKS}),
    ("GET", "/v1/suppressions"): frozenset({CHECKS, STAFF}),
    ("GET", "/v1/suppressions/lookup"): frozenset({CHECKS, STAFF}),
    ("POST", "/v1/suppressions"): frozenset({STAFF}),
    ("DELETE", "/v1/suppressions/{entry_id:uuid}"): frozenset({STAFF}),
    ("POST", "/v1/unsubscribe-links"): frozenset({CHECKS}),
    ("GET", "/v1/purposes"): frozenset(KeyScope),
    ("POST", "/v1/purposes"): frozenset({ADMIN}),
    ("GET", "/v1/notices"): frozenset(KeyScope),
    ("POST", "/v1/notices"): frozenset({ADMIN}),
    ("POST", "/v1/keys"): frozenset({ADMIN}),
    ("GET", "/v1/keys"): frozenset({ADMIN}),
    ("DELETE", "/v1/keys/{key_id:uuid}"): frozenset({ADMIN}),
    ("GET", "/v1/changes"): frozenset({CHECKS, ADMIN}),
    ("GET", "/v1/webhooks"): frozenset({ADMIN}),
    ("POST", "/v1/webhooks"): frozenset({ADMIN}),
    ("DELETE", "/v1/webhooks/{webhook_id:uuid}"): frozenset({ADMIN}),
    ("GET", "/v1/webhooks/{webhook_id:uuid}/dead-letters"): frozenset({ADMIN}),
    ("POST", "/v1/webhooks/dead-letters/{letter_id:uuid}/replay"): frozenset({ADMIN}),
}

_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    opt: dict[str, Any]
    takes_body: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.template

    def url(self) -> str:
        """The path with every parameter filled by something that names nothing that exists."""

        def fill(match: re.Match[str]) -> str:
            kind = match.group(2)
            if kind == "uuid":
                return str(uuid.uuid4())
            if kind == "path":
                return f"no-such-{secrets.token_hex(4)}.css"
            return f"v1.k1.{secrets.token_urlsafe(16)}"  # shaped like a link token, signed by nobody

        return _PARAMETER.sub(fill, self.template)


def registered_routes(api: Api) -> list[Route]:
    # The same settings as the app under test, so the same routes; this copy is never started.
    app = create_app(api.settings)
    routes = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path} is not an HTTP route: nothing here tries it"
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method in FRAMEWORK_METHODS or FRAMEWORK_PATHS.match(route.path):
                    continue
                takes_body = "data" in handler.parsed_fn_signature.parameters
                routes.append(Route(method, route.path, dict(handler.opt), takes_body))
    return sorted(routes, key=lambda r: r.key)


async def call(client: httpx.AsyncClient, route: Route, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, object] | None = {} if route.method in WRITES else None
    client.cookies.clear()
    return await client.request(route.method, route.url(), json=body, headers=headers)


def is_api_key_refusal(response: httpx.Response, status: int) -> bool:
    return response.status_code == status and response.headers.get("content-type", "").startswith(
        "application/problem+json"
    )


async def test_every_route_declares_who_may_call_it_and_the_table_is_the_one_written_here(
    api: Api, figure: Callable[[str], None]
) -> None:
    routes = registered_routes(api)
    undeclared = [r.key for r in routes if not r.opt.get(PUBLIC_OPT) and not r.opt.get(SCOPES_OPT)]
    assert undeclared == [], "these routes declare neither PUBLIC nor needs(...)"
    both = [r.key for r in routes if r.opt.get(PUBLIC_OPT) and r.opt.get(SCOPES_OPT)]
    assert both == [], "a route is either public or keyed, not both"

    public = {r.key for r in routes if r.opt.get(PUBLIC_OPT)}
    assert public == PUBLIC_ROUTES, (
        f"newly public: {sorted(public - PUBLIC_ROUTES)}; no longer public: {sorted(PUBLIC_ROUTES - public)}"
    )
    declared = {r.key: frozenset(r.opt[SCOPES_OPT]) for r in routes if not r.opt.get(PUBLIC_OPT)}
    assert declared == SCOPED_ROUTES, {
        route: (sorted(declared.get(route, ())), sorted(SCOPED_ROUTES.get(route, ())))
        for route in declared.keys() | SCOPED_ROUTES.keys()
        if declared.get(route) != SCOPED_ROUTES.get(route)
    }
    figure(f"{len(routes)} routes ({len(public)} public, {len(declared)} keyed)")


async def test_every_route_answers_each_scope_as_it_declares(
    api: Api, fresh_client: httpx.AsyncClient, figure: Callable[[str], None]
) -> None:
    routes = registered_routes(api)
    assert len(routes) >= len(PUBLIC_ROUTES) + len(SCOPED_ROUTES)
    wrong: list[str] = []

    def expect(ok: bool, route: Route, who: str, response: httpx.Response, wanted: str) -> None:
        if not ok:
            wrong.append(f"{route.method} {route.template} {who}: {response.status_code}, wanted {wanted}")

    calls = 0
    for route in routes:
        nobody = await call(fresh_client, route, None)
        forged = await call(fresh_client, route, f"csk_{secrets.token_urlsafe(32)}")
        answers = {scope: await call(fresh_client, route, api.keys[scope]) for scope in KeyScope}
        calls += 2 + len(answers)
        for who, response in [("no key", nobody), ("forged key", forged), *answers.items()]:
            expect(response.status_code < 500, route, str(who), response, "no server error")
        if route.opt.get(PUBLIC_OPT):
            # A key neither opens nor closes a public route: it is not even looked at.
            for scope, response in answers.items():
                expect(response.status_code == nobody.status_code, route, scope, response, "as with no key")
            expect(
                nobody.status_code != 401 or "API key" not in nobody.text, route, "no key", nobody, "not 401"
            )
            continue
        expect(is_api_key_refusal(nobody, 401), route, "no key", nobody, "401")
        expect(is_api_key_refusal(forged, 401), route, "forged key", forged, "401")
        for scope, response in answers.items():
            if scope in route.opt[SCOPES_OPT]:
                expect(response.status_code not in (401, 403), route, scope, response, "neither 401 nor 403")
            else:
                expect(is_api_key_refusal(response, 403), route, scope, response, "403")
    assert wrong == []
    figure(f"{len(routes)} routes x (no key, forged key, {len(KeyScope)} scopes) = {calls} calls")


async def test_no_api_key_opens_a_staff_page(api: Api, fresh_client: httpx.AsyncClient) -> None:
    routes = [r for r in registered_routes(api) if r.key in STAFF_SESSION_ROUTES]
    assert {r.key for r in routes} == STAFF_SESSION_ROUTES
    key = {"Authorization": f"Bearer {api.keys['all']}"}
    for route in routes:
        fresh_client.cookies.clear()
        if route.method == "GET":
            response = await fresh_client.get(route.url(), headers=key)
            assert response.status_code == 303, route
            assert response.headers["location"] == "/staff/sign-in"
            continue
        # With a valid CSRF token, so that it is the missing session, not the token, that refuses.
        page = await fresh_client.get("/staff/sign-in")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token, "the sign-in page carries a CSRF token"
        response = await fresh_client.post(
            route.url(), data={"_csrf_token": html.unescape(token[1])}, headers=key
        )
        assert response.status_code == 401, (route, response.status_code)
        assert "text/html" in response.headers["content-type"]


async def test_options_and_head_on_every_path_never_answer_a_server_error(
    api: Api, fresh_client: httpx.AsyncClient
) -> None:
    paths = {r.template: r for r in registered_routes(api)}
    for route in paths.values():
        for method in sorted(FRAMEWORK_METHODS):
            for key in (None, api.keys["all"]):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                response = await fresh_client.request(method, route.url(), headers=headers)
                assert response.status_code < 500, (method, route.template, response.status_code)
