"""Time series the console draws (as SVG in its templates): answers and the share flagged unlike the
training data, per time bucket of a window, from the prediction log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

BUCKETS = 30


@dataclass
class Series:
    start: datetime
    end: datetime
    answers: list[int]
    """Answers per bucket: counted by the database when the log is busy, else those read."""
    seen: list[int]
    """Answers read per bucket (shadow copies left out), which the flagged counts are of."""
    flagged: list[int]

    @property
    def peak(self) -> int:
        return max(self.answers, default=0) or 1

    def flagged_share(self, i: int) -> float:
        return self.flagged[i] / self.seen[i] if self.seen[i] else 0.0

    @property
    def total(self) -> int:
        return sum(self.answers)

    @property
    def share(self) -> float:
        return sum(self.flagged) / sum(self.seen) if sum(self.seen) else 0.0


def edges(start: datetime, end: datetime, buckets: int = BUCKETS) -> list[datetime]:
    width = (end - start) / buckets
    return [start + i * width for i in range(buckets)] + [end]


def series(rows: list[Any], start: datetime, end: datetime | None = None, buckets: int = BUCKETS,
           counts: list[int] | None = None) -> Series:
    """``rows``: logged predictions (``at``, ``answer``), all of the window or its newest; shadow answers are
    left out (they answered no one). ``counts``: each bucket's answers as the database counted them, when
    ``rows`` are only the newest (the flagged shares then come from the buckets those rows cover)."""
    end = end or datetime.now(UTC)
    width = max((end - start).total_seconds() / buckets, 1e-9)
    seen, flagged = [0] * buckets, [0] * buckets
    for row in rows:
        answer = row.answer if isinstance(row.answer, dict) else {}
        if (answer.get("rollout") or {}).get("role") == "shadow":
            continue
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        i = min(buckets - 1, max(0, int((at - start).total_seconds() / width)))
        seen[i] += 1
        check = answer.get("input_check")
        flagged[i] += isinstance(check, dict) and check.get("in_distribution") is False
    return Series(start, end, list(counts) if counts is not None else list(seen), seen, flagged)
