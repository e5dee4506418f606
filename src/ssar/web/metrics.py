"""Prometheus metrics at ``/metrics`` (bearer token with the ``admin`` scope).

Two kinds, on purpose:

* **Service-wide facts read from the database at scrape time** (``ssar_recovery_flows``,
  ``ssar_recovery_failures``, ``ssar_taps_*``, ``ssar_rate_limit_hits``, ...): every process
  answers the same, so it does not matter which instance Prometheus scrapes, and nothing is
  lost when a process restarts.
* **Per-process request latencies** (``ssar_http_request_duration_seconds``, by route
  template): scrape every instance; each reports its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ssar.registry import Registry
from ssar.store.tables import AuditEventRow, AuthMethodRow, RecoveryFlowRow, ThrottleRow
from ssar.web.auth import AdminPrincipal
from ssar.web.deps import RegistryDep

router = APIRouter(include_in_schema=False)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: per-process request latencies (the only in-memory metric)
PROCESS = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "ssar_http_request_duration_seconds",
    "Request latency by route template (this process)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=PROCESS,
)


class DatabaseFacts(Collector):
    """Counts read from the database when Prometheus scrapes."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = self._registry.clock.now()
        with self._registry.database.transaction() as session:
            flows = session.execute(
                select(RecoveryFlowRow.state, RecoveryFlowRow.mode, func.count()).group_by(
                    RecoveryFlowRow.state, RecoveryFlowRow.mode
                )
            ).all()
            failures = session.execute(
                select(RecoveryFlowRow.reason, func.count())
                .where(RecoveryFlowRow.state.in_(("failed", "expired", "cancelled")))
                .group_by(RecoveryFlowRow.reason)
            ).all()
            taps_issued = session.execute(
                select(func.count()).select_from(AuthMethodRow).where(AuthMethodRow.type == "tap")
            ).scalar_one()
            taps_redeemed = session.execute(
                select(func.count())
                .select_from(AuthMethodRow)
                .where(AuthMethodRow.type == "tap", AuthMethodRow.used_at.is_not(None))
            ).scalar_one()
            throttled = session.execute(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.type == "recovery.throttled")
            ).scalar_one()
            blocked = session.execute(
                select(func.count()).select_from(ThrottleRow).where(ThrottleRow.blocked_until > now)
            ).scalar_one()
            recent = session.execute(
                select(func.count())
                .select_from(RecoveryFlowRow)
                .where(RecoveryFlowRow.created_at > now - timedelta(hours=1))
            ).scalar_one()
        by_state = GaugeMetricFamily(
            "ssar_recovery_flows", "Recovery flows by state and mode", labels=["state", "mode"]
        )
        for state, mode, count in flows:
            by_state.add_metric([state, mode], count)
        yield by_state
        failed = CounterMetricFamily(
            "ssar_recovery_failures",
            "Recovery flows that ended without success, by reason",
            labels=["reason"],
        )
        for reason, count in failures:
            failed.add_metric([reason or "unknown"], count)
        yield failed
        yield GaugeMetricFamily(
            "ssar_recovery_flows_started_last_hour",
            "Recovery flows started in the last hour",
            value=recent,
        )
        yield CounterMetricFamily(
            "ssar_taps_issued", "Temporary Access Passes issued", value=taps_issued
        )
        yield CounterMetricFamily(
            "ssar_taps_redeemed", "Temporary Access Passes used to sign in", value=taps_redeemed
        )
        yield CounterMetricFamily(
            "ssar_recovery_rate_limit_hits",
            "Recovery starts refused by throttling (R8)",
            value=throttled,
        )
        yield GaugeMetricFamily(
            "ssar_signin_throttle_keys_blocked",
            "Sign-in accounts and addresses blocked right now (growing delays)",
            value=blocked,
        )


def install_request_timing(app: object) -> None:
    """Time every request by its route template (never the raw path: handles live in paths)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)

    @app.middleware("http")
    async def _time(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        REQUEST_SECONDS.labels(request.method, template).observe(time.perf_counter() - start)
        return response


@router.get("/metrics")
def metrics(principal: AdminPrincipal, registry: RegistryDep) -> Response:
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseFacts(registry))
    body = generate_latest(scrape) + generate_latest(PROCESS)
    return Response(body, media_type=CONTENT_TYPE)
