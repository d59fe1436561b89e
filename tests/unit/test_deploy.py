"""deploy/: the Grafana dashboard and the Prometheus alert rules load, and name only what /metrics serves.

A dashboard panel or an alert on a metric the service does not export shows nothing and never fires,
and nobody notices until the night it should have. So every metric an expression names is looked up
in what the app's own /metrics answers (the families it declares, with or without samples yet).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from consent_service.api.app import create_app
from consent_service.config import Settings
from tests.support.asgi import in_process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "consent-service.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

#: The series each kind of metric family is exposed as (the Prometheus text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
}
#: PromQL words that are neither metrics nor functions called with parentheses.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


async def _exported(tmp_path: Path) -> set[str]:
    """Every series name the app's /metrics declares, after one request the middleware times."""
    app = create_app(Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)}))
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        await client.get("/v1/purposes")  # refused without a key; timed all the same
        text = (await client.get("/metrics")).text
    names: set[str] = set()
    for kind_line in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        family, kind = kind_line
        base = family.removesuffix("_total") if kind == "counter" else family
        names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def metrics_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once label matchers, ranges, grouping
    clauses, strings, function calls and keywords are taken out."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?", bare):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # Grafana's label_values(metric, label): the metric is its first argument.
            exprs.append(re.sub(r"label_values\((\w+),\s*\w+\)", r"\1", variable["definition"]))
    return exprs


def _alert_exprs(rules: dict[str, Any]) -> list[tuple[str, str]]:
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def test_the_expression_reader_finds_metrics_and_nothing_else() -> None:
    expr = (
        'sum by (instance) (rate(consent_requests_total{status_code=~"5.."}[5m])) / '
        "sum by (instance) (rate(up[5m])) > 0.01 and on (job) max_over_time(x:recorded[1h] offset 1d)"
    )
    assert metrics_in(expr) == {"consent_requests_total", "up", "x:recorded"}


async def test_every_metric_the_dashboard_and_alerts_name_is_one_the_service_exports(tmp_path: Path) -> None:
    exported = await _exported(tmp_path)
    # The families the deploy files lean on really are declared (with no samples yet, most of them).
    assert {
        "consent_checks_total",
        "consent_optout_spool_waiting",
        "consent_request_duration_seconds_bucket",
    } <= exported

    dashboard = json.loads(DASHBOARD.read_text())
    rules = yaml.safe_load(ALERTS.read_text())
    queries = [(f"dashboard: {q}", q) for q in _dashboard_queries(dashboard)]
    queries += [(f"alert {name}", expr) for name, expr in _alert_exprs(rules)]
    assert len(queries) >= 15
    for where, expr in queries:
        named = metrics_in(expr)
        assert named, f"{where} reads no metric"
        assert named <= exported, f"{where} names {sorted(named - exported)}, which /metrics does not serve"


def test_the_dashboard_covers_what_operators_watch_and_the_alerts_what_wakes_them() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panel_metrics = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in metrics_in(target["expr"])
    }
    assert panel_metrics >= {
        "consent_checks_total",
        "consent_degraded_answers_total",
        "consent_opt_outs_total",
        "consent_request_duration_seconds_bucket",
        "consent_outbox_lag_seconds",
        "consent_optout_spool_waiting",
        "consent_gc_pause_seconds_bucket",
    }
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))

    rules = yaml.safe_load(ALERTS.read_text())
    alerts = dict(_alert_exprs(rules))
    assert set(alerts) == {
        "ConsentOptOutSpoolWaiting",
        "ConsentOutboxLagGrowing",
        "ConsentDegradedAnswers",
        "ConsentServerErrors",
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "ticket"}
            assert rule["annotations"]["summary"]


def test_promtool_accepts_the_rules_where_it_is_installed() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Prometheus's own checker) is not installed; the rules were checked above")
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)  # noqa: S603
    assert checked.returncode == 0, checked.stdout + checked.stderr
