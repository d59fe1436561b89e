"""How a route, a middleware, a guard or a page reaches the use cases' context: one way, from the app.

``create_app`` attaches the context once (``attach``): to the app's state, where ``context_of`` finds
it from any connection's app, and as the ``ctx`` dependency handlers declare. The dependency hands
over that same object without looking it up, so the busiest handlers (checks) pay nothing for it.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from consent_service.services.context import Context

_KEY = "context"


def attach(ctx: Context) -> tuple[State, Provide]:
    """The app's state holding ``ctx``, and the provider of the ``ctx`` dependency: the one object."""
    return State({_KEY: ctx}), Provide(lambda: ctx, use_cache=True, sync_to_thread=False)


def context_of(app: Litestar) -> Context:
    ctx: Context = app.state[_KEY]
    return ctx
