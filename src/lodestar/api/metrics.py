"""Prometheus metrics: request counts and latencies by route template (a plain ASGI
middleware, so it costs microseconds and never buffers bodies)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """One process's registry. The labelled series are looked up once and kept, since
    `labels()` takes a lock and validates its arguments on every call."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lodestar_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lodestar_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.fast_reads = Counter(
            "lodestar_fast_reads_total",
            "Plain GETs of one asset (by FQN or id, no query string): answered by the lean "
            "read path, or passed on to the full route (not found, refused, a bad FQN).",
            ["outcome"],
            registry=self.registry,
        )
        self.fast_served = self.fast_reads.labels("served")
        self.fast_passed_on = self.fast_reads.labels("passed_on")
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

    def record(self, method: str, template: str, status: int, seconds: float) -> None:
        latency = self._latency.get((method, template))
        if latency is None:
            latency = self._latency[(method, template)] = self.latency.labels(method, template)
        latency.observe(seconds)
        count = self._requests.get((method, template, status))
        if count is None:
            count = self.requests.labels(method, template, str(status))
            self._requests[(method, template, status)] = count
        count.inc()


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.record(method, template, status[0], time.perf_counter() - start)


def install(app: FastAPI) -> Metrics:
    registry = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=registry)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)

    return registry
