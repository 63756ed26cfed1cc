"""The data plane: tables read as bounded record batches, and splits decided from each row alone,
so the same rows land in the same split however the data is cut into files and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiaas.dataplane.split import TEST, TRAIN, VALIDATION, assigned, plan
from aiaas.dataplane.stream import frame_batches, record_batches
from aiaas.errors import UserError
from aiaas.records import SplitPolicy

ROWS = 6000


def _logs(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01")
    return pd.DataFrame({
        "row": np.arange(ROWS),
        "learner": [f"l{i}" if i % 17 else None for i in rng.integers(0, 400, ROWS)],
        "at": (start + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, ROWS), unit="min")).strftime("%Y-%m-%dT%H:%M:%S"),
        "score": rng.normal(size=ROWS).round(6),
    })


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    """The same rows as one CSV file, and shuffled into three CSV files of a folder (one in a subfolder)."""
    frame = _logs()
    whole = tmp_path / "whole.csv"
    frame.to_csv(whole, index=False)
    parts = tmp_path / "parts"
    (parts / "deeper").mkdir(parents=True)
    shuffled = frame.sample(frac=1, random_state=3)
    for i, rows in enumerate(np.array_split(np.arange(ROWS), 3)):
        shuffled.iloc[rows].to_csv(parts / ("deeper" if i == 2 else ".") / f"part-{i}.csv", index=False)
    return whole, parts


def _splits(source: Path, policy: SplitPolicy, batch_rows: int) -> dict[int, int]:
    split = plan(source, policy, seed=7, batch_rows=batch_rows)
    out = {}
    for batch, where in assigned(source, split, batch_rows):
        out.update(zip(batch.column("row").to_pylist(), where.tolist()))
    return out


def test_batches_are_bounded_and_hold_every_row_once(sources: tuple[Path, Path]) -> None:
    whole, parts = sources
    for source in (whole, parts, str(parts / "**" / "*.csv")):
        batches = list(record_batches(source, batch_rows=500))
        assert max(b.num_rows for b in batches) <= 500
        assert sorted(r for b in batches for r in b.column("row").to_pylist()) == list(range(ROWS))
    assert sum(b.num_rows for b in frame_batches(_logs(), batch_rows=1000)) == ROWS
    with pytest.raises(UserError, match="no column 'nope'"):
        next(record_batches(whole, columns=["nope"]))
    with pytest.raises(UserError, match="no such file"):
        list(record_batches(whole.parent / "missing.csv"))


@pytest.mark.parametrize("policy", [SplitPolicy(kind="group", columns=("learner",)), SplitPolicy(kind="random"),
                                    SplitPolicy(kind="time", columns=("at",))], ids=["group", "random", "time"])
def test_the_same_rows_land_in_the_same_split_however_the_data_is_cut(sources: tuple[Path, Path], policy: SplitPolicy) -> None:
    whole, parts = sources
    one = _splits(whole, policy, batch_rows=ROWS)  # one file, one batch: as one machine holding it all would
    many = _splits(parts, policy, batch_rows=97)  # three files in another order, small batches: as workers would
    assert one == many
    share = np.bincount(list(one.values()), minlength=3) / ROWS
    assert abs(share[TEST] - 0.15) < 0.05 and abs(share[VALIDATION] - 0.15) < 0.05 and share[TRAIN] > 0.6, share


def test_a_group_stays_in_one_split_and_time_runs_oldest_to_newest(sources: tuple[Path, Path]) -> None:
    whole, _ = sources
    frame = _logs()
    groups = _splits(whole, SplitPolicy(kind="group", columns=("learner",)), 500)
    frame["split"] = frame["row"].map(groups)
    assert (frame.dropna(subset=["learner"]).groupby("learner")["split"].nunique() == 1).all()
    times = _splits(whole, SplitPolicy(kind="time", columns=("at",)), 500)
    frame["split"] = frame["row"].map(times)
    at = pd.to_datetime(frame["at"])
    assert at[frame.split == TRAIN].max() <= at[frame.split == VALIDATION].min()
    assert at[frame.split == VALIDATION].max() <= at[frame.split == TEST].min()
    assert "by time" in plan(whole, SplitPolicy(kind="time", columns=("at",))).description
    assert "no column" in plan(whole, SplitPolicy(kind="group", columns=("patient",))).description
