"""``GET /metrics`` for Prometheus (no key: keep it off the public internet, as the README says)."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from consent_service.api.security import PUBLIC

#: Request counts and latency histograms by route template (a token in a path never becomes a label).
PROMETHEUS = PrometheusConfig(
    app_name="consent-service",
    prefix="consent",
    group_path=True,
    exclude=["^/metrics", "^/health", "^/static"],
)


class MetricsController(PrometheusController):
    opt = PUBLIC
    include_in_schema = False
