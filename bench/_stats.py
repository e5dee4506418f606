"""Latencies per request kind, errors by status, operations completed, over a measured window
(records made during the warm-up are dropped)."""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Recorder:
    #: records before this monotonic time are warm-up and not counted
    measure_from: float = 0.0
    measure_until: float = math.inf
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    ops: Counter[str] = field(default_factory=Counter)
    all_ops: Counter[str] = field(default_factory=Counter)
    all_errors: Counter[str] = field(default_factory=Counter)

    def _in_window(self, at: float) -> bool:
        return self.measure_from <= at <= self.measure_until

    def request(self, kind: str, started: float, status: int | str, ok: bool) -> None:
        now = time.monotonic()
        if not ok:
            self.all_errors[f"{kind}:{status}"] += 1
        if not self._in_window(now):
            return
        self.latencies[kind].append((now - started) * 1000)
        if not ok:
            self.errors[kind][str(status)] += 1

    def op(self, kind: str, started: float) -> None:
        """One complete operation (a sign-in, a flow) finished successfully."""
        now = time.monotonic()
        self.all_ops[kind] += 1
        if self._in_window(now):
            self.ops[kind] += 1
            self.latencies[f"{kind} (total)"].append((now - started) * 1000)

    def error(self, kind: str, what: str) -> None:
        """A failure that is not an HTTP status (exception, wrong state)."""
        self.all_errors[f"{kind}:{what}"] += 1
        if self._in_window(time.monotonic()):
            self.errors[kind][what] += 1

    def summary(self, window_s: float) -> dict[str, Any]:
        lat = {}
        for kind, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            lat[kind] = {
                "count": len(ordered),
                "p50_ms": round(percentile(ordered, 50), 1),
                "p95_ms": round(percentile(ordered, 95), 1),
                "p99_ms": round(percentile(ordered, 99), 1),
                "max_ms": round(ordered[-1], 1) if ordered else None,
            }
        return {
            "window_s": round(window_s, 2),
            "completed": dict(self.ops),
            "throughput_per_s": {k: round(v / window_s, 2) for k, v in self.ops.items()},
            "latency": lat,
            "errors": {k: dict(v) for k, v in self.errors.items() if v},
            "completed_including_warmup": dict(self.all_ops),
            "errors_including_warmup": dict(self.all_errors),
        }
