#!/usr/bin/env python3
"""Writes ops/grafana-dashboard.json: a Grafana dashboard over the metrics of
GET /metrics (Prometheus data source chosen at import, ${DS_PROMETHEUS})."""
import json
import os

PANELS = [
    ("Requests/s by endpoint", 'sum by (endpoint) (rate(reelvox_http_requests_total[1m]))', "reqps"),
    ("5xx/s by endpoint", 'sum by (endpoint) (rate(reelvox_http_requests_total{status=~"5.."}[1m]))', "reqps"),
    ("p99 latency by endpoint",
     'histogram_quantile(0.99, sum by (endpoint, le) (rate(reelvox_http_request_duration_seconds_bucket[5m])))', "s"),
    ("Queue depth", "reelvox_queue_depth", "short"),
    ("Oldest queued job", "reelvox_queue_oldest_age_seconds", "s"),
    ("Webhook inbox backlog", "reelvox_webhook_inbox_backlog", "short"),
    ("Jobs by status", "sum by (status) (reelvox_jobs)", "short"),
    ("Provider calls/s by status", "sum by (provider, status) (rate(reelvox_provider_calls_total[1m]))", "reqps"),
    ("Provider errors/s", "sum by (provider) (rate(reelvox_provider_call_errors_total[1m]))", "reqps"),
    ("Provider call p99",
     'histogram_quantile(0.99, sum by (provider, le) (rate(reelvox_provider_call_duration_seconds_bucket[5m])))', "s"),
    ("Poller pass p99",
     "histogram_quantile(0.99, sum by (le) (rate(reelvox_poller_pass_duration_seconds_bucket[5m])))", "s"),
    ("Since the last poller pass", "max by (host) (reelvox_poller_last_pass_age_seconds)", "s"),
    ("Credits charged/refunded per hour",
     "increase(reelvox_credits_charged_total[1h]) or increase(reelvox_credits_refunded_total[1h])", "short"),
]


def main():
    panels = []
    for i, (title, expr, unit) in enumerate(PANELS):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
            "gridPos": {"h": 8, "w": 8, "x": (i % 3) * 8, "y": (i // 3) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr,
                         "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}}],
        })
    dash = {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": "Reelvox", "uid": "reelvox", "schemaVersion": 38, "version": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "tags": ["reelvox"],
        "panels": panels,
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana-dashboard.json")
    with open(out, "w") as f:
        json.dump(dash, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
