"""The data plane: tables read as bounded record batches, and splits decided from each row alone,
so the same rows land in the same split however the data is cut into files and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiaas.dataplane.sample import BottomK
from aiaas.dataplane.split import TEST, TRAIN, VALIDATION, StreamSplit, plan, row_hashes, split_key
from aiaas.dataplane.stream import frames, record_batches
from aiaas.dataset import Dataset
from aiaas.tabular import TabularPreprocessor
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


def _plan(source: Path | str, policy: SplitPolicy, batch_rows: int = 500) -> StreamSplit:
    columns = next(frames(source, batch_rows)).columns
    return plan(columns, policy, 7, lambda column: (f[column] for f in frames(source, batch_rows, [column])))


def _splits(source: Path, policy: SplitPolicy, batch_rows: int) -> dict[int, int]:
    split = _plan(source, policy, batch_rows)
    out = {}
    for frame in frames(source, batch_rows):
        out.update(zip(frame["row"].tolist(), split.assign(frame).tolist()))
    return out


def test_batches_are_bounded_and_hold_every_row_once(sources: tuple[Path, Path]) -> None:
    whole, parts = sources
    for source in (whole, parts, str(parts / "**" / "*.csv")):
        batches = list(record_batches(source, batch_rows=500))
        assert max(b.num_rows for b in batches) <= 500
        assert sorted(r for b in batches for r in b.column("row").to_pylist()) == list(range(ROWS))
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
    assert "by time" in _plan(whole, SplitPolicy(kind="time", columns=("at",))).description
    assert "no column" in _plan(whole, SplitPolicy(kind="group", columns=("patient",))).description


def test_a_row_hashes_the_same_whichever_types_its_batch_was_read_as() -> None:
    """A gap makes pandas read a whole-number column as floats in one batch and not in another."""
    whole = pd.DataFrame({"n": [1, 2, 3], "t": ["a", "b", None]})
    gappy = pd.DataFrame({"n": [1.0, 2.0, None], "t": ["a", "b", None]})
    assert (row_hashes(whole, split_key(0))[:2] == row_hashes(gappy, split_key(0))[:2]).all()
    assert (row_hashes(whole, split_key(0)) != row_hashes(whole, split_key(1))).all()


def test_the_bounded_sample_is_the_same_however_the_rows_arrive_and_merges() -> None:
    frame = _logs()
    hashes = row_hashes(frame, split_key(0))
    one = BottomK(500)
    one.add(Dataset(frame, frame["score"]), hashes)
    order = np.random.default_rng(1).permutation(ROWS)
    left, right = BottomK(500), BottomK(500)
    for i, part in enumerate(np.array_split(order, 13)):
        (left if i % 2 else right).add(Dataset(frame.iloc[part].reset_index(drop=True), frame["score"].iloc[part]), hashes[part])
    left.merge(right)
    assert left.seen == one.seen == ROWS and not one.complete
    assert sorted(left.records["row"]) == sorted(one.records["row"])
    assert len(one.records) == 500 and (one.labels.to_numpy() == one.records["score"].to_numpy()).all()


def test_the_table_preprocessor_fitted_from_merged_chunks_matches_the_whole_fit() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.lognormal(3, 1.5, ROWS), "x": rng.normal(5, 2, ROWS),
                          "shop": rng.choice(["a", "b", "c", "d"], ROWS, p=[0.4, 0.3, 0.2, 0.1]),
                          "gappy": np.where(rng.random(ROWS) < 0.01, np.nan, 1.0)})
    pre = TabularPreprocessor()
    whole = pre.fit(frame).meta["columns"]
    summary = None
    for part in np.array_split(np.arange(ROWS), 7):
        chunk = pre.summarize(frame.iloc[part])
        summary = chunk if summary is None else pre.merge(summary, chunk)
    streamed = pre.finish(summary, frame.sample(800, random_state=0)).meta["columns"]  # kinds from a sample, the rest exact
    for mine, theirs in zip(streamed, whole):
        assert (mine["name"], mine["kind"], mine["required"]) == (theirs["name"], theirs["kind"], theirs["required"])
        for key in ("mean", "std"):
            if key in theirs:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-9), (mine["name"], key)
        assert mine.get("categories") == theirs.get("categories")
    assert [c["kind"] for c in whole] == ["log", "numeric", "category", "numeric"] and not whole[3]["required"]


def test_a_group_split_samples_whole_groups_whatever_the_order() -> None:
    """Bounded samples keyed by the group hold each group they hold whole (a learner's whole history),
    and hold the same groups however the rows arrive."""
    frame = _logs().dropna(subset=["learner"]).reset_index(drop=True)
    split = StreamSplit("group", "learner", 0.2, 0.2, split_key(0))
    keys = split.keys(frame)
    one = BottomK(700)
    one.add(Dataset(frame, frame["score"]), keys)
    shuffled, left, right = np.random.default_rng(2).permutation(len(frame)), BottomK(700), BottomK(700)
    for i, part in enumerate(np.array_split(shuffled, 11)):
        (left if i % 2 else right).add(Dataset(frame.iloc[part].reset_index(drop=True), frame["score"].iloc[part]), keys[part])
    left.merge(right)
    sizes = frame["learner"].value_counts()
    held = one.records["learner"].value_counts()
    assert 600 < len(one.records) <= 700 and (held == sizes[held.index]).all()  # every learner held with all its rows
    assert sorted(left.records["row"]) == sorted(one.records["row"])


def test_a_log_regrouped_on_disk_gives_each_key_all_its_rows_in_order(tmp_path: Path) -> None:
    from aiaas.tables import grouped_chunks

    frame = _logs().dropna(subset=["learner"]).reset_index(drop=True)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_csv(tmp_path / f"log-{i}.csv", index=False)
    seen: dict[str, list[int]] = {}
    parts = 0
    for part in grouped_chunks(tmp_path, 1000, "learner"):
        parts += 1
        assert len(part) < 2000  # about the rows asked for, not the whole log
        for learner, rows in part.groupby("learner", sort=False)["row"]:
            assert learner not in seen  # a learner comes in one frame only
            seen[learner] = rows.tolist()
    assert parts >= 4 and sum(map(len, seen.values())) == len(frame)
    assert all(rows == sorted(rows) for rows in seen.values())  # in the order they were written
