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
    flagged: list[int]

    @property
    def peak(self) -> int:
        return max(self.answers, default=0) or 1

    def flagged_share(self, i: int) -> float:
        return self.flagged[i] / self.answers[i] if self.answers[i] else 0.0

    @property
    def total(self) -> int:
        return sum(self.answers)

    @property
    def share(self) -> float:
        return sum(self.flagged) / self.total if self.total else 0.0


def series(rows: list[Any], start: datetime, end: datetime | None = None, buckets: int = BUCKETS) -> Series:
    """``rows``: logged predictions (``at``, ``answer``); shadow answers are left out (they answered no one)."""
    end = end or datetime.now(UTC)
    width = max((end - start).total_seconds() / buckets, 1e-9)
    answers, flagged = [0] * buckets, [0] * buckets
    for row in rows:
        answer = row.answer if isinstance(row.answer, dict) else {}
        if (answer.get("rollout") or {}).get("role") == "shadow":
            continue
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        i = min(buckets - 1, max(0, int((at - start).total_seconds() / width)))
        answers[i] += 1
        check = answer.get("input_check")
        flagged[i] += isinstance(check, dict) and check.get("in_distribution") is False
    return Series(start, end, answers, flagged)
