"""What a careful data scientist checks before shipping a model trained on a team's own
data: columns that will not look the same in production, base rates, evaluation that
cannot fool its reader, verdicts with intervals, and labels that do not match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aiaas.datachecks import screen_columns
from aiaas.testing import ready_client

from .test_model_quality import _train, lending, loans  # noqa: F401  (the fixture)


def _with_counters(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The rows in the order they happened, with a seconds-since-start counter and an auto-increment number with gaps."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    frame.insert(0, "Time", np.cumsum(rng.exponential(40.0, len(frame))).round(1))
    frame.insert(1, "application_no", 10_000 + np.cumsum(rng.integers(1, 4, len(frame))))
    return frame


def test_columns_that_rise_with_the_data_order_are_left_out_unless_kept(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    _with_counters(loans()).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="gbdt", promote=True)
    for name in ("Time", "application_no"):
        assert any(f"'{name}'" in n and "rises with the rows' order" in n and "outside every value training saw" in n for n in result.notes), result.notes
    schema = {t["task"]: t for t in ready_client(host, registry).get("/v1/tasks").json()}["lending/default"]["input_schema"]
    assert set(schema["properties"]) == {"income", "debt_ratio", "grade"}
    kept = _train(host, registry, path, architecture="gbdt", keep_columns=("Time",))
    assert not any("'Time'" in n for n in kept.notes) and any("'application_no'" in n for n in kept.notes)


def test_a_shuffled_table_keeps_its_numbers_and_the_time_split_column_is_never_a_raw_feature() -> None:
    frame = _with_counters(loans(300))
    assert screen_columns(frame.sample(frac=1.0, random_state=0)).ignored == {}  # no order to rise with
    screen = screen_columns(frame.sample(frac=1.0, random_state=0), time_column="Time")
    assert "orders the time split" in screen.ignored["Time"]
    assert "rises with the time column 'Time'" in screen.ignored["application_no"]
    assert set(screen.ignored) == {"Time", "application_no"}  # income, debt and grade do not rise with time
    stamped = frame.assign(Time=pd.Timestamp("2026-01-01") + pd.to_timedelta(frame["Time"], unit="s"))
    assert "Time" not in screen_columns(stamped, time_column="Time").ignored  # a datetime is used by its hour and weekday
