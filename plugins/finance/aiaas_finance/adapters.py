"""Transactions from CSV or Parquet, with each customer's recent history derived."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from aiaas import Dataset, InvalidInput, LoadOptions
from aiaas.tables import read_table, split_label, table_chunks

HISTORY_WINDOWS = (1, 7, 30)
TEXT_COLUMNS = ("merchant_category", "customer_id", "terminal_id", "transaction_id", "country", "currency", "channel")


def derive_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Per customer, over the 1/7/30 days up to and including each transaction: how
    many transactions and their mean amount; the amount against the 30-day mean; the
    hours since the previous transaction. Uses only the past, so no label leaks."""
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True, format="mixed").dt.tz_convert(None)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise InvalidInput(f"column 'timestamp': {frame['timestamp'].iloc[row]!r} in row {row} is not a date and time")
    work = pd.DataFrame({"customer": frame["customer_id"].astype(str).to_numpy(), "t": stamps.to_numpy(),
                         "amount": pd.to_numeric(frame["amount"], errors="coerce").to_numpy(), "row": np.arange(len(frame))})
    work = work.sort_values(["customer", "t", "row"], kind="stable")
    out = frame.copy()
    grouped = work.set_index("t").groupby("customer", sort=False)["amount"]
    for days in HISTORY_WINDOWS:
        rolled = grouped.rolling(f"{days}D")
        out.loc[work["row"].to_numpy(), f"customer_tx_count_{days}d"] = rolled.count().to_numpy()
        out.loc[work["row"].to_numpy(), f"customer_avg_amount_{days}d"] = rolled.mean().round(4).to_numpy()
    out["amount_to_avg_30d"] = (pd.to_numeric(out["amount"]) / out["customer_avg_amount_30d"].clip(lower=0.01)).round(4)
    previous = work.groupby("customer", sort=False)["t"].diff().dt.total_seconds() / 3600
    out.loc[work["row"].to_numpy(), "hours_since_previous"] = previous.fillna(24 * 30).round(3).to_numpy()
    return out


HISTORY_SOURCE = ["customer_id", "timestamp", "amount"]
DERIVED_NOTE = "derived customer history features from customer_id, timestamp and amount"


def load_transactions(path: Path, options: LoadOptions) -> Dataset:
    dataset = split_label(read_table(path, TEXT_COLUMNS), path, options)
    if set(HISTORY_SOURCE) <= set(dataset.records.columns):
        dataset.records = derive_history(dataset.records)
        dataset.notes.append(DERIVED_NOTE)
    return dataset


class HistoryCarry:
    """``derive_history`` across the chunks of a time-ordered stream: each chunk is derived together with
    the transactions of the 30 days before it and each customer's latest, which is all the history a
    transaction's features read, so the result is the same as deriving the whole table at once."""

    def __init__(self) -> None:
        self.tail: pd.DataFrame | None = None
        self.latest: pd.Timestamp | None = None

    def derive(self, records: pd.DataFrame) -> pd.DataFrame:
        base = records[HISTORY_SOURCE].reset_index(drop=True)
        joined = base if self.tail is None else pd.concat([self.tail, base], ignore_index=True)
        derived = derive_history(joined)  # refuses a timestamp that is not one
        stamps = pd.to_datetime(joined["timestamp"], utc=True, format="mixed").dt.tz_convert(None)
        fresh = stamps.iloc[len(joined) - len(base):]
        if self.latest is not None and fresh.min() < self.latest:
            raise InvalidInput(f"transactions are not in time order ({fresh.min()} comes after {self.latest}): deriving customer "
                               "history from a stream needs them sorted by timestamp; sort the files, or give the history columns")
        self.latest = stamps.max()
        last_of_customer = ~joined["customer_id"].astype(str).duplicated(keep="last").to_numpy()
        keep = (stamps >= self.latest - pd.Timedelta(days=max(HISTORY_WINDOWS))).to_numpy() | last_of_customer
        self.tail = joined[keep].reset_index(drop=True)
        out = records.copy()
        for column in (c for c in derived.columns if c not in base.columns):
            out[column] = derived[column].iloc[len(joined) - len(base):].to_numpy()
        return out


def stream_transactions(path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
    """``load_transactions`` in chunks, for a table larger than memory (a file, a folder or a glob)."""
    carry = HistoryCarry()
    for frame in table_chunks(path, batch_rows, TEXT_COLUMNS):
        dataset = split_label(frame, path, options)
        if set(HISTORY_SOURCE) <= set(dataset.records.columns):
            dataset.records = carry.derive(dataset.records)
            dataset.notes.append(DERIVED_NOTE)
        yield dataset
