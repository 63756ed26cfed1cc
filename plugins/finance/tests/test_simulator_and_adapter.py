"""The sample simulator and the transactions adapter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aiaas import InvalidInput, LoadOptions
from aiaas_finance.adapters import derive_history, load_transactions
from aiaas_finance.simulator import simulate, write_sample


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sample_has_a_realistic_fraud_rate(seed: int) -> None:
    frame = simulate(20_000, seed)
    assert len(frame) >= 19_000
    assert 0.004 <= frame.is_fraud.mean() <= 0.02
    assert frame.timestamp.is_monotonic_increasing
    assert set(frame.channel) == {"pos", "online", "atm"}
    assert (frame.card_present == (frame.channel != "online")).all()


def test_sample_is_reproducible_by_seed() -> None:
    pd.testing.assert_frame_equal(simulate(3000, 7), simulate(3000, 7))
    assert not simulate(3000, 7).equals(simulate(3000, 8))


def test_history_features_use_only_the_customers_past() -> None:
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "a", "a"],
        "timestamp": ["2026-01-01T10:00:00", "2026-01-01T11:00:00", "2026-01-01T22:00:00", "2026-01-11T10:00:00"],
        "amount": [10.0, 99.0, 30.0, 50.0],
    })
    out = derive_history(frame)
    assert out.customer_tx_count_1d.tolist() == [1, 1, 2, 1]
    assert out.customer_tx_count_30d.tolist() == [1, 1, 2, 3]
    assert out.customer_avg_amount_30d.tolist() == [10, 99, 20, 30]
    assert out.amount_to_avg_30d.tolist() == pytest.approx([1, 1, 1.5, 50 / 30], abs=1e-3)
    assert out.hours_since_previous.tolist()[2] == 12.0


def test_adapter_reads_csv_and_parquet_alike(tmp_path: Path) -> None:
    csv = write_sample(tmp_path / "tx.csv", 500, 0)
    frame = pd.read_csv(csv, dtype=str)
    frame.to_parquet(tmp_path / "tx.parquet")
    from_csv = load_transactions(csv, LoadOptions(label="is_fraud"))
    from_parquet = load_transactions(tmp_path / "tx.parquet", LoadOptions(label="is_fraud"))
    assert len(from_csv) == len(from_parquet) == 500
    assert from_csv.records.merchant_category.iloc[0] == from_parquet.records.merchant_category.iloc[0]
    assert "customer_avg_amount_7d" in from_csv.records and "is_fraud" not in from_csv.records


def test_adapter_names_a_missing_label_column(tmp_path: Path) -> None:
    csv = write_sample(tmp_path / "tx.csv", 100, 0)
    with pytest.raises(InvalidInput, match="no label column 'Class'.*--label"):
        load_transactions(csv, LoadOptions(label="Class"))
