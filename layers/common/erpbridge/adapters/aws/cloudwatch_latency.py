"""``LatencyLog`` in AWS: the live function's ``ErpLatency`` metric, read back from CloudWatch.

The live function publishes every ERP call's latency as EMF (Powertools: namespace
``erpbridge/<Stage>``, one namespace per stage, dimension ``service``). One ``GetMetricData``
call asks for the sample count, the maximum, p50 and p95 over the span, in one period: the admin
function never sees the live function's process, so this is the only place the figures meet.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from erpbridge.admin.ports import LatencySummary

METRIC = "ErpLatency"
PERCENTILES = ("p50", "p95")


class CloudWatchLatencyLog:
    def __init__(
        self,
        namespace: str,
        service: str = "erpbridge",
        *,
        client: Any = None,  # boto3 cloudwatch client (no stubs installed)
        now: Any = None,
        percentiles: tuple[str, ...] = PERCENTILES,  # moto computes none: its tests pass ()
    ) -> None:
        self._namespace = namespace
        self._service = service
        self._stats = {"calls": "SampleCount", "max": "Maximum", **{p: p for p in percentiles}}
        self._client = client
        self._now = now or (lambda: datetime.now(UTC))

    def summary(self, *, since: datetime) -> LatencySummary:
        end = self._now()
        period = max(60, math.ceil((end - since).total_seconds() / 60) * 60)  # whole minutes
        metric = {
            "Namespace": self._namespace,
            "MetricName": METRIC,
            "Dimensions": [{"Name": "service", "Value": self._service}],
        }
        queries = [
            {"Id": name, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}
            for name, stat in self._stats.items()
        ]
        answer = self._cloudwatch().get_metric_data(
            MetricDataQueries=queries, StartTime=since, EndTime=end, ScanBy="TimestampDescending"
        )
        values: dict[str, list[float]] = {
            r["Id"]: list(r.get("Values") or []) for r in answer["MetricDataResults"]
        }
        calls = int(sum(values.get("calls", [])))
        source = f"CloudWatch {self._namespace} {METRIC}"
        if not calls:
            return LatencySummary(source=source)

        def highest(query: str) -> float | None:  # more than one period: the worst of them
            found = values.get(query) or []
            return round(max(found), 1) if found else None

        return LatencySummary(
            calls=calls, p50_ms=highest("p50"), p95_ms=highest("p95"), max_ms=highest("max"), source=source
        )

    def _cloudwatch(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch")
        return self._client
