"""``GET /metrics`` for Prometheus (no key: keep it off the public internet, as the README says)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController, PrometheusMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from consent_service.api.problems import status_of
from consent_service.api.security import PUBLIC


class RequestMetrics(PrometheusMiddleware):
    """Litestar's request metrics, with the status a refusal raised inside this middleware is answered.

    A middleware inside this one that refuses by raising (authentication: 401, or 503 when the database
    cannot look the key up) is answered by the app's exception handler *outside* it, after Litestar's
    middleware has counted the request with its default status, 200: the 5xx alert in
    ``deploy/prometheus/alerts.yml`` would not have seen the database go away. The app this wraps notes
    the status the exception will be answered with on the request's span before it passes on. The span
    is reached through Litestar's ``_get_wrapped_send`` (2.x); ``tests/integration/test_observability.py``
    fails if that stops working.
    """

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        self.app = _NoteRaisedStatus(app)

    def _get_wrapped_send(self, send: Send, request_span: dict[str, float]) -> Any:
        wrapped: Any = super()._get_wrapped_send(send, request_span)
        wrapped.request_span = request_span
        return wrapped


@dataclass(frozen=True, slots=True)
class _NoteRaisedStatus:
    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            span: dict[str, float] | None = getattr(send, "request_span", None)
            if span is not None and not span["end_time"]:  # no answer began: the handler outside makes it
                span["status_code"] = status_of(exc)
            raise


#: Request counts and latency histograms by route template (a token in a path never becomes a label).
PROMETHEUS = PrometheusConfig(
    app_name="consent-service",
    prefix="consent",
    group_path=True,
    exclude=["^/metrics", "^/health", "^/static"],
    middleware_class=RequestMetrics,
)


class MetricsController(PrometheusController):
    opt = PUBLIC
    include_in_schema = False
