"""How sure a metric is: 95% bootstrap intervals, and the paired verdict against the floor.

A test split of a few hundred rows moves a metric by more than most differences between
models, so every metric is shown with its interval, and "better than the floor" is a
paired comparison: both models are scored on the same resampled rows, and the verdict
("beats", "level with", "loses to") comes from the interval of the difference, not from
its sign. Where the split keeps groups together (learners, patients), whole groups are
resampled: a learner's answers are not independent of one another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from aiaas.metrics import DESCRIPTIONS, LOWER_IS_BETTER, METRICS, observed

LEVEL = 0.95
RESAMPLES = 200
"""Resamples for each metric's interval (a few seconds for every metric of a test split of 10,000 rows)."""
PAIRED_RESAMPLES = 500
"""Resamples for the verdict against the floor: the decision promote acts on gets more."""
BEATS, LEVEL_WITH, LOSES_TO = "beats", "level with", "loses to"


MAX_ROWS = 50_000
"""Past this many test rows, resamples are drawn from a random share of the rows (or groups) and their spread is
narrowed by the square root of that share: a metric's spread shrinks as one over the square root of the rows, and
each resample of a million rows would cost seconds."""


def draws(rows: int, groups: np.ndarray | None, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` bootstrap samples of row indices, one at a time: rows with replacement, or whole groups with replacement."""
    rng = np.random.default_rng(seed)
    if rows == 0:
        return
    if groups is None:
        for _ in range(count):
            yield rng.integers(0, rows, rows)
        return
    members = _members(groups)
    for _ in range(count):
        yield np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])


def _members(groups: np.ndarray) -> list[np.ndarray]:
    """The row indices of each group."""
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(inverse.max() + 2))
    return [order[bounds[g]:bounds[g + 1]] for g in range(len(bounds) - 1)]


def _share(rows: int, groups: np.ndarray | None, seed: int) -> tuple[np.ndarray | None, float]:
    """The rows resampled (None: all of them) and how much to narrow their spread (``MAX_ROWS``)."""
    if rows <= MAX_ROWS:
        return None, 1.0
    rng = np.random.default_rng(seed + 1)
    units = [np.array([i]) for i in range(rows)] if groups is None else _members(groups)
    kept = max(2, int(np.ceil(len(units) * MAX_ROWS / rows)))
    if kept >= len(units):
        return None, 1.0
    chosen = rng.choice(len(units), kept, replace=False)
    return np.sort(np.concatenate([units[u] for u in chosen])), float(np.sqrt(kept / len(units)))


def _interval(statistic: Callable[[np.ndarray | None], float], rows: int, groups: np.ndarray | None, count: int,
              seed: int) -> list[float] | None:
    """The 95% bootstrap interval of ``statistic(row indices)`` (None: every row)."""
    subset, scale = _share(rows, groups, seed)
    if subset is None:
        return _bounds([statistic(ix) for ix in draws(rows, groups, count, seed)], count)
    inner = None if groups is None else np.asarray(groups)[subset]
    bounds = _bounds([statistic(subset[ix]) for ix in draws(len(subset), inner, count, seed)], count)
    if bounds is None:
        return None
    whole, centre = statistic(None), statistic(subset)
    return [whole + (b - centre) * scale for b in bounds]


def _score(name: str, y: np.ndarray, p: np.ndarray, threshold: float, ix: np.ndarray | None = None) -> float:
    return METRICS[name](*observed(y if ix is None else y[ix], p if ix is None else p[ix]), threshold)


def _bounds(values: list[float], count: int) -> list[float] | None:
    """The central interval of the finite values; None when too few resamples could be scored (one class)."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype="float64")
    if len(finite) < count // 2:
        return None
    tail = (1 - LEVEL) / 2
    return [float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail))]


def metric_intervals(names: list[str] | tuple[str, ...], y: np.ndarray, p: np.ndarray, threshold: float = 0.5,
                     groups: np.ndarray | None = None, count: int = RESAMPLES, seed: int = 0) -> dict[str, list[float] | None]:
    """Each metric's 95% interval over ``count`` bootstrap resamples of the rows (or groups)."""
    return {name: _interval(lambda ix, name=name: _score(name, y, p, threshold, ix), len(y), groups, count, seed)  # type: ignore[misc]
            for name in names}


def paired(metric: str, y: np.ndarray, model: tuple[np.ndarray, float], floor: tuple[np.ndarray, float],
           groups: np.ndarray | None = None, count: int = PAIRED_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """The model's advantage over the floor (in the metric's units, positive when better), its 95% interval
    over paired resamples, and the verdict: ``beats`` (the whole interval above 0), ``loses to`` (below 0)
    or ``level with`` (0 inside it)."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    (p_model, t_model), (p_floor, t_floor) = model, floor

    def advantage(ix: np.ndarray | None) -> float:
        return sign * (_score(metric, y, p_model, t_model, ix) - _score(metric, y, p_floor, t_floor, ix))

    bounds = _interval(advantage, len(y), groups, count, seed)
    if bounds is None:
        return {"difference_interval": None, "verdict": None, "resamples": count}
    verdict = BEATS if bounds[0] > 0 else LOSES_TO if bounds[1] < 0 else LEVEL_WITH
    return {"difference_interval": bounds, "verdict": verdict, "resamples": count, "unit": "groups" if groups is not None else "rows"}


def gap_note(metric: str, validation: tuple[float, list[float] | None], test: tuple[float, list[float] | None],
             sizes: dict[str, dict[str, Any]]) -> str | None:
    """A note when the validation and test values of ``metric`` are further apart than either's interval
    allows, with what most often explains it: small splits, or a few groups holding much of the data."""
    (v, v_bounds), (t, t_bounds) = validation, test
    if v_bounds is None or t_bounds is None or not (np.isfinite(v) and np.isfinite(t)):
        return None
    if v_bounds[0] <= t <= v_bounds[1] or t_bounds[0] <= v <= t_bounds[1]:
        return None
    name = DESCRIPTIONS.get(metric, metric)
    reasons = []
    for split in ("validation", "test"):
        size = sizes.get(split, {})
        unit = size.get("unit", "rows")
        text = f"{split} holds {size.get('count', 0):,} {unit}"
        if size.get("largest"):
            text += f" (the largest of them {size['largest']:,} {size.get('of', 'rows')}; {size.get('long', 0)} over {size.get('long_at', 0):,})"
        reasons.append(text)
    return (f"validation {name} {v:.4f} (95% interval {v_bounds[0]:.4f} to {v_bounds[1]:.4f}) and test {t:.4f} "
            f"({t_bounds[0]:.4f} to {t_bounds[1]:.4f}) disagree beyond noise: {'; '.join(reasons)}. Small splits, a few "
            f"{'groups' if any(s.get('largest') for s in sizes.values()) else 'rows'} that weigh heavily, or data that changes "
            f"between the splits (a time split) move a metric this much; trust neither alone")


def split_size(y: np.ndarray, groups: np.ndarray | None, unit: str = "groups", long_at: int = 200) -> dict[str, Any]:
    """How a split's rows fall into groups, for ``gap_note``: how many, the largest, how many are long,
    counted in scored steps for sequence targets (a window scores many answers) and in rows otherwise."""
    weights = (y >= 0).sum(axis=1) if y.ndim == 2 else np.ones(len(y))
    of = "scored steps" if y.ndim == 2 else "rows"
    if groups is None:
        return {"count": len(y), "unit": "rows"}
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    counts = np.bincount(inverse, weights=weights).astype(int)
    return {"count": len(counts), "unit": unit, "largest": int(counts.max()) if len(counts) else 0, "of": of,
            "long": int((counts > long_at).sum()), "long_at": long_at}


def interval_text(bounds: list[float] | None, digits: int = 3) -> str:
    return "" if not bounds else f"{bounds[0]:.{digits}f} to {bounds[1]:.{digits}f}"
