"""Comparing models on one split: the ``--arch auto`` leaderboard and the verdict
against the task's classical floor that every report and ``aiaas models`` show."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from aiaas.intervals import BEATS, LEVEL_WITH, LOSES_TO
from aiaas.metrics import DESCRIPTIONS, LOWER_IS_BETTER


@dataclass
class CandidateRow:
    candidate: str
    validation: float
    test: dict[str, float]
    seconds: float
    bytes: int
    ms_per_row: float


def signed(metric: str, selection_score: float) -> float:
    """A selection score (higher is better) back in the metric's own units."""
    return -selection_score if metric in LOWER_IS_BETTER else selection_score


def compare_with_floor(metric: str, model: dict[str, float], floor: dict[str, float] | None, floor_name: str | None,
                       same: bool = False, difference: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model's test metric next to the floor's on the same split, and a one-line verdict.

    ``difference`` is ``intervals.paired``'s result: the verdict is "beats", "level with" or "loses to"
    the floor by the 95% interval of the paired difference. Without it (no predictions to resample) the
    verdict goes by the sign of the difference and says that it is not tested against noise."""
    if floor is None:
        return {"metric": metric, "text": "no classical floor for this task"}
    value, bar = model.get(metric), floor.get(metric)
    out = {"metric": metric, "model": value, "floor": bar, "floor_architecture": floor_name}
    if value is None or bar is None or value != value or bar != bar:
        return {**out, "beats": None, "verdict": None, "text": f"{metric} undefined on the test split; floor {floor_name}"}
    margin = (bar - value) if metric in LOWER_IS_BETTER else (value - bar)
    if same:
        return {**out, "margin": 0.0, "beats": None, "verdict": None, "text": f"this is the classical floor ({floor_name}): {metric} {value:.4f}"}
    bounds = (difference or {}).get("difference_interval")
    verdict = (difference or {}).get("verdict") or ((BEATS if margin > 0 else LOSES_TO) if margin else LEVEL_WITH)
    how = (f"a difference of {margin:+.4f} (95% interval {bounds[0]:+.4f} to {bounds[1]:+.4f} over "
           f"{difference['resamples']} paired resamples of the test {difference.get('unit', 'rows')})"  # type: ignore[index]
           if bounds else f"a difference of {margin:+.4f}, not tested against noise")
    return {**out, "margin": margin, "beats": verdict == BEATS, "verdict": verdict, "difference_interval": bounds,
            "text": f"{metric} {value:.4f} against {bar:.4f} for {floor_name} on the same split: {verdict} the floor, {how}"}


def loses(floor: dict[str, Any] | None) -> bool:
    """Whether a version's verdict is that it loses to its floor beyond noise (an interval says so)."""
    return bool(floor) and floor.get("verdict") == LOSES_TO and floor.get("difference_interval") is not None  # type: ignore[union-attr]


def leaderboard_html(metric: str, rows: list[CandidateRow], winner: str, skipped: list[str]) -> str:
    metrics = list(rows[0].test) if rows else []
    head = "".join(f"<th>test {html.escape(DESCRIPTIONS.get(m, m))}</th>" for m in metrics)
    body = ""
    for r in sorted(rows, key=lambda r: -r.validation if metric not in LOWER_IS_BETTER else r.validation):
        mark = " (chosen)" if r.candidate == winner else ""
        cells = "".join(f"<td>{r.test.get(m, float('nan')):.4f}</td>" for m in metrics)
        body += (f"<tr><td>{html.escape(r.candidate)}{mark}</td><td>{r.validation:.4f}</td>{cells}"
                 f"<td>{r.seconds:.1f}</td><td>{r.bytes / 1e6:.2f}</td><td>{r.ms_per_row:.3f}</td></tr>")
    note = f"<p>Not tried within the budget: {html.escape(', '.join(skipped))}</p>" if skipped else ""
    return (f"<h2>Leaderboard</h2><p>Chosen on validation {html.escape(DESCRIPTIONS.get(metric, metric))}.</p>"
            f"<table><tr><th>candidate</th><th>validation {html.escape(metric)}</th>{head}<th>training s</th><th>size MB</th>"
            f"<th>ms per row</th></tr>{body}</table>{note}")
