"""Labels, splits, metrics, calibration and the operating point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aiaas import Label, LabelSchema, OperatingPolicy, SplitPolicy
from aiaas.calibration import calibrated, choose_threshold, fit_platt
from aiaas.errors import InvalidInput
from aiaas.labels import encode
from aiaas.metrics import compute
from aiaas.splits import split

FRAUD = LabelSchema("t.fraud", "binary", (Label("legit"), Label("fraud")), positive="fraud")


def test_binary_labels_accept_names_numbers_and_booleans() -> None:
    assert encode(FRAUD, pd.Series(["fraud", "Legit", "FRAUD"]), "y").tolist() == [1, 0, 1]
    assert encode(FRAUD, pd.Series([0, 1, 1]), "Class").tolist() == [0, 1, 1]
    assert encode(FRAUD, pd.Series([True, False]), "y").tolist() == [1, 0]
    with pytest.raises(InvalidInput, match=r"label column 'Class' has values \['maybe'\]"):
        encode(FRAUD, pd.Series(["fraud", "maybe"]), "Class")
    with pytest.raises(InvalidInput, match="is empty in 1 row"):
        encode(FRAUD, pd.Series([1, None]), "Class")


def test_time_split_keeps_the_newest_rows_for_test() -> None:
    n = 100
    frame = pd.DataFrame({"Timestamp": pd.date_range("2026-01-01", periods=n, freq="D").strftime("%Y-%m-%d")[::-1]})
    parts = split(frame, np.zeros(n, dtype=int), SplitPolicy("time", ("timestamp",)))
    stamps = pd.to_datetime(frame.Timestamp)
    assert stamps[parts.train].max() < stamps[parts.validation].min()
    assert stamps[parts.validation].max() < stamps[parts.test].min()
    assert len(parts.test) == 15 and "by time" in parts.description


def test_group_split_keeps_each_group_in_one_split() -> None:
    frame = pd.DataFrame({"patient": np.repeat(np.arange(40), 5)})
    parts = split(frame, np.zeros(200, dtype=int), SplitPolicy("group", ("patient",)))
    groups = [set(frame.patient[p]) for p in (parts.train, parts.validation, parts.test)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])


def test_split_without_its_column_falls_back_to_random_and_says_so() -> None:
    y = np.array([0] * 90 + [1] * 10)
    parts = split(pd.DataFrame({"x": range(100)}), y, SplitPolicy("time", ("timestamp",)))
    assert "no column timestamp" in parts.description
    assert y[parts.test].sum() >= 1  # stratified


def test_too_little_data_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 30"):
        split(pd.DataFrame({"x": range(5)}), np.zeros(5, dtype=int), SplitPolicy())


def test_metrics_match_hand_computed_values() -> None:
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.7, 0.9])
    scores = compute(("roc_auc", "precision", "recall", "average_precision"), y, p, threshold=0.75)
    assert scores["roc_auc"] == pytest.approx(7 / 8)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert 0.5 < scores["average_precision"] < 1


def test_operating_point_policies() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)
    p = np.clip(0.3 * y + rng.random(2000) * 0.7, 0, 1)
    sensitive = choose_threshold(y, p, OperatingPolicy("sensitivity", 0.95))
    assert sensitive["validation"]["recall"] >= 0.95
    strict = choose_threshold(y, p, OperatingPolicy("fpr", 0.01))
    assert strict["validation"]["false_positive_rate"] <= 0.01
    assert strict["threshold"] > sensitive["threshold"]
    best = choose_threshold(y, p, OperatingPolicy("max_f1"))
    assert 0 < best["threshold"] < 1


def test_platt_scaling_calibrates_inflated_scores() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(5000) < 0.05).astype(int)
    logits = (y * 2.0 + rng.normal(size=5000) + 2.5)  # as if trained with heavy class weights
    platt = fit_platt(logits, y)
    raw = calibrated(logits, "binary", None)
    fixed = calibrated(logits, "binary", platt)
    assert raw.mean() > 0.8
    assert abs(fixed.mean() - y.mean()) < 0.01
