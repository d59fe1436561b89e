"""What every request pays, kept to what it must: the probes pass no guard, a body is decoded once."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Router, get
from litestar.connection import request as litestar_request
from litestar.params import FromQuery

from consent_service.api.app import guard, only_probes_unguarded
from consent_service.api.security import PUBLIC, authentication
from tests.integration.conftest import Api, fresh_email


async def test_a_check_body_is_decoded_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """``strict_inputs`` decodes it and hands Litestar the result; Litestar's own decode is not reached."""

    def decoded_again(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Litestar decoded the body a second time")

    monkeypatch.setattr(litestar_request, "decode_json", decoded_again)
    answer = await api.check("email", fresh_email())
    assert answer["allowed"] is False and answer["reason"] == "no_consent"


async def test_the_probes_answer_without_a_key_with_a_request_id(api: Api) -> None:
    for path in ("/health/live", "/health/ready"):
        response = await api.client.get(path)
        assert response.status_code == 200 and len(response.headers["x-request-id"]) == 32


def test_only_public_probes_without_input_may_be_left_outside_the_guard() -> None:
    @get("/probe", opt=PUBLIC, sync_to_thread=False)
    def probe() -> str:
        return "ok"

    @get("/public-but-takes-input", opt=PUBLIC, sync_to_thread=False)
    def takes_input(name: FromQuery[str]) -> str:
        return name

    @get("/undeclared", sync_to_thread=False)
    def undeclared() -> str:
        return "open"

    @get("/guarded", sync_to_thread=False)
    def guarded() -> str:
        return "closed"

    behind = Router("/", guards=[guard], middleware=[authentication()], route_handlers=[guarded])
    only_probes_unguarded(Litestar([probe, behind]))
    unauthenticated = Router("/", guards=[guard], route_handlers=[undeclared])
    for outside in (takes_input, undeclared, unauthenticated):
        with pytest.raises(RuntimeError, match="outside the guard"):
            only_probes_unguarded(Litestar([probe, outside]))
