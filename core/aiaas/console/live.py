"""The overview's "last minutes": request rate, error share and p99 per task, from the service's own
Prometheus counters (``aiaas.serving.observe.Metrics``). A snapshot is kept every 15 seconds for ten
minutes; a figure is the change between now and the snapshot about five minutes old (or the oldest,
just after start). With ``--workers N`` each process counts its own requests: the figures are those
of the process that drew the page.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

ROUTES = ("predict", "explain", "infer")
"""The routes that answer with a model (not feedback, not metadata)."""


@dataclass(frozen=True)
class Figures:
    seconds: float
    requests: int
    rate: float
    error_share: float | None
    p99: float | None
    """The upper bound of the latency bucket the 99th percentile falls in, in seconds."""


class Recent:
    def __init__(self, metrics: Any, window: float = 300.0, every: float = 15.0) -> None:
        self.metrics, self.window, self.every = metrics, window, every
        self.snapshots: deque[tuple[float, dict[str, Any]]] = deque(maxlen=int(2 * window / every) + 2)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._take()
            self._thread = threading.Thread(target=self._loop, name="aiaas console figures", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.every)
            self._take()

    def _take(self) -> None:
        snapshot = _counts(self.metrics)
        with self._lock:
            self.snapshots.append((time.monotonic(), snapshot))

    def figures(self, task: str) -> Figures | None:
        now, current = time.monotonic(), _counts(self.metrics)
        with self._lock:
            older = [s for s in self.snapshots if now - s[0] >= 1.0]
        if not older:
            return None
        then, past = next((s for s in reversed(older) if now - s[0] >= self.window), older[0])
        mine, before = current.get(task, {}), past.get(task, {})
        requests = mine.get("requests", 0) - before.get("requests", 0)
        errors = mine.get("errors", 0) - before.get("errors", 0)
        buckets = {le: n - before.get("buckets", {}).get(le, 0) for le, n in mine.get("buckets", {}).items()}
        seconds = now - then
        return Figures(seconds, int(requests), requests / seconds, errors / requests if requests else None, _p99(buckets))


def _counts(metrics: Any) -> dict[str, dict[str, Any]]:
    """Per task: requests answered by a model route, those that were a server error, and latency buckets (cumulative)."""
    out: dict[str, dict[str, Any]] = {}
    for family in metrics.requests.collect():
        for sample in family.samples:
            labels = sample.labels
            if not sample.name.endswith("_total") or not labels.get("task") or labels.get("route") not in ROUTES:
                continue
            task = out.setdefault(labels["task"], {"requests": 0.0, "errors": 0.0, "buckets": {}})
            task["requests"] += sample.value
            task["errors"] += sample.value if str(labels.get("status", "")).startswith("5") else 0.0
    for family in metrics.latency.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_bucket") and labels.get("task") in out and labels.get("route") in ROUTES:
                buckets = out[labels["task"]]["buckets"]
                buckets[labels["le"]] = buckets.get(labels["le"], 0.0) + sample.value
    return out


def _p99(buckets: dict[str, float]) -> float | None:
    ordered = sorted(((float(le), n) for le, n in buckets.items()), key=lambda kv: kv[0])
    total = ordered[-1][1] if ordered else 0
    if total <= 0:
        return None
    return next(le for le, n in ordered if n >= 0.99 * total)
