"""Prometheus counters for what the service decides (checks, opt-outs) and how far behind the relay is.

Request counts and latency histograms come from Litestar's Prometheus middleware; these are the
domain's own figures. With several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``serve`` does) so
``/metrics`` adds up every worker's counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from consent_service.domain.changes import Change, ChangeType

CHECKS = Counter(
    "consent_checks_total",
    "Contact checks answered, by purpose, channel, result and reason",
    ["purpose", "channel", "result", "reason"],
)
DEGRADED = Counter(
    "consent_degraded_answers_total",
    "Checks answered without the database (fail-closed for marketing)",
    ["purpose", "channel", "result"],
)
OPT_OUTS = Counter(
    "consent_opt_outs_total",
    "Opt-outs committed: withdrawals by source, suppressions by reason",
    ["kind", "via"],
)
OUTBOX_LAG = Gauge(
    "consent_outbox_lag_seconds",
    "Age of the oldest change not yet told to every consumer (stream, webhooks)",
    multiprocess_mode="livemax",
)

ANSWERED_FROM = Counter(
    "consent_check_answers_total",
    "Single checks answered, by where the answer came from: this worker's memory or the database",
    ["source"],
)

REPLICA_READS = Counter(
    "consent_check_reads_total",
    "With a replica (CONSENT_REPLICA_URL): checks' reads by where they went and why "
    "(replica; or the primary: behind, watermark_unknown, replica_away)",
    ["source"],
)

SPOOLED = Gauge(
    "consent_optout_spool_waiting",
    "Opt-outs a family made while the database was away, on this host's disk, not yet applied",
    multiprocess_mode="livemax",
)

#: Mailbox providers give senders two days to honour an unsubscribe; this shows how far inside that we are.
UNSUBSCRIBE_EFFECT = Histogram(
    "consent_unsubscribe_effect_seconds",
    "A one-click unsubscribe from its arrival to being in effect for every check, by database or spool",
    ["via"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class PrometheusMetrics:
    def checked(
        self, purpose: str, channel: str, allowed: bool, reason: str, degraded: bool, count: int = 1
    ) -> None:
        result = "allowed" if allowed else "denied"
        CHECKS.labels(purpose, channel, result, reason).inc(count)
        if degraded:
            DEGRADED.labels(purpose, channel, result).inc(count)

    def committed(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if not change.is_opt_out:
                continue
            if change.type is ChangeType.CONSENT_RECORDED:
                OPT_OUTS.labels("withdrawal", str(change.data.get("source"))).inc()
            else:
                OPT_OUTS.labels("suppression", str(change.data.get("reason"))).inc()

    def answered_from(self, source: str) -> None:
        ANSWERED_FROM.labels(source).inc()

    def outbox_lag(self, seconds: float) -> None:
        OUTBOX_LAG.set(seconds)

    def check_read(self, source: str) -> None:
        REPLICA_READS.labels(source).inc()

    def spooled(self, waiting: int) -> None:
        SPOOLED.set(waiting)

    def unsubscribe_took(self, seconds: float, via: str) -> None:
        UNSUBSCRIBE_EFFECT.labels(via).observe(seconds)
