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


def test_the_stream_form_derives_the_same_history_as_the_whole_table(tmp_path: Path) -> None:
    """Out-of-core training reads transactions in chunks; each chunk's history features must be what the
    whole table gives, including a customer whose previous transaction is older than the 30-day window."""
    from aiaas_finance.adapters import stream_transactions

    frame = simulate(6000, 3, days=200)
    path = tmp_path / "tx.csv"
    frame.to_csv(path, index=False)
    options = LoadOptions(label="is_fraud")
    whole = load_transactions(path, options).records
    chunks = list(stream_transactions(path, options, batch_rows=700))
    assert max(len(c) for c in chunks) <= 700 and len(chunks) > 5
    streamed = pd.concat([c.records for c in chunks], ignore_index=True)
    for frame_ in (streamed, whole):  # Arrow's CSV reader parses the times, pandas' keeps their text
        frame_["timestamp"] = pd.to_datetime(frame_["timestamp"])
    pd.testing.assert_frame_equal(streamed, whole, check_dtype=False, check_exact=False, atol=2e-4)  # rolling sums round alike
    assert (whole["hours_since_previous"] > 24 * 30).any()

    frame.iloc[::-1].to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="not in time order"):
        list(stream_transactions(path, options, batch_rows=700))
