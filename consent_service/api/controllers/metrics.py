"""``GET /metrics`` for Prometheus (no key: keep it off the public internet, as the README says)."""

from __future__ import annotations

import time
from typing import Any

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController, PrometheusMiddleware
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.api.problems import status_of
from consent_service.api.security import PUBLIC


class RequestMetrics(PrometheusMiddleware):
    """Litestar's request metrics (the same four series, names and labels), counted for less, and with
    the status a refusal raised inside this middleware is answered with.

    Less: Litestar's ``__call__`` builds a ``Request``, two label dictionaries and a ``functools.wraps``
    copy of ``send``, and looks each labelled series up by its label values five times a request
    (``prometheus_client``'s ``labels()``); on a cached check that was about a tenth of the answer's
    time. This one looks each route's series up once and keeps them (a few per route and status).
    It supports only what ``PROMETHEUS`` configures (grouped paths, no extra labels or exemplars).

    Status: a middleware inside this one that refuses by raising (authentication: 401, or 503 when
    the database cannot look the key up) is answered by the app's exception handler *outside* it, so
    no answer passes through here; Litestar's own middleware counted such a request as a 200, and the
    5xx alert in ``deploy/prometheus/alerts.yml`` would not have seen the database go away. Here the
    status the exception will be answered with is counted (``tests/integration/test_observability.py``).
    Such a request's latency is the time until it raised, where Litestar's counted none.
    """

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        if config.labels or config.exemplars or config.excluded_http_methods or not config.group_path:
            raise ValueError("RequestMetrics counts by route template with Litestar's default labels only")
        #: (method, route template) -> its in-progress gauge.
        self._in_progress: dict[tuple[str, str], Any] = {}
        #: (method, route template, status) -> its count, its latency and its error count (5xx only).
        self._answered: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        # In Litestar's order, which is the order of the series' label names.
        return {"method": method, "path": path, "status_code": status, "app_name": self._config.app_name}

    def _gauge(self, method: str, path: str) -> Any:
        labels = self._labels(method, path, 200)  # Litestar labels the gauge with its default status
        gauge = self._in_progress[method, path] = self.requests_in_progress(labels).labels(*labels.values())
        return gauge

    def _series(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        labels = self._labels(method, path, status)
        values = [*labels.values()]
        errors = (
            self.requests_error_count(labels).labels(*values)
            if status >= HTTP_500_INTERNAL_SERVER_ERROR
            else None
        )
        found = (
            self.request_count(labels).labels(*values),
            self.request_time(labels).labels(*values),
            errors,
        )
        self._answered[method, path, status] = found
        return found

    def in_progress(self, method: str, path: str) -> Any:
        """The gauge of requests to this route under way."""
        return self._in_progress.get((method, path)) or self._gauge(method, path)

    def answered(self, method: str, path: str, status: int, seconds: float) -> None:
        """One request to this route answered with ``status`` after ``seconds``."""
        count, latency, errors = self._answered.get((method, path, status)) or self._series(
            method, path, status
        )
        if errors is not None:
            errors.inc()
        count.inc()
        latency.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"] if scope["type"] == ScopeType.HTTP else scope["type"]
        path: str = scope["path_template"]
        in_progress = self.in_progress(method, path)
        #: The answer's status and when its last body part was sent (0: none was).
        span: list[Any] = [200, 0.0]

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                span[0] = message["status"]
            elif message["type"] == "http.response.body":
                span[1] = time.perf_counter()
            await send(message)

        started = time.perf_counter()
        in_progress.inc()
        try:
            await self.app(scope, receive, counted)
        except Exception as exc:
            if not span[1]:  # no answer was sent: the handler outside makes it
                span[0] = status_of(exc)
            raise
        finally:
            in_progress.dec()
            self.answered(method, path, span[0], (span[1] or time.perf_counter()) - started)


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
