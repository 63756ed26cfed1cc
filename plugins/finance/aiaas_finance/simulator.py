"""Seeded simulator of card transactions with fraud, after the Fraud Detection
Handbook's (Le Borgne et al.): customers spend near home at nearby terminals; fraud
comes from compromised terminals, stolen cards used for large amounts, and card
details used online from abroad at night."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MCC = {"5411": 0.30, "5812": 0.18, "5541": 0.12, "5311": 0.10, "5999": 0.10, "5732": 0.05, "5816": 0.05, "4121": 0.10}
HOME_COUNTRIES = {"FR": 0.4, "DE": 0.3, "BE": 0.15, "NL": 0.15}
FOREIGN = ["US", "GB", "RO", "BR", "NG", "CN"]


def simulate(rows: int = 20_000, seed: int = 0, days: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_customer = 0.7 * days
    n_customers = max(20, int(rows / per_customer))
    n_terminals = max(50, n_customers * 2)
    cust_xy = rng.uniform(0, 100, (n_customers, 2))
    cust_mean = rng.uniform(5, 100, n_customers)
    cust_country = rng.choice(list(HOME_COUNTRIES), n_customers, p=list(HOME_COUNTRIES.values()))
    cust_rate = rng.uniform(0, 4, n_customers) * rows / (n_customers * days * 2)
    term_xy = rng.uniform(0, 100, (n_terminals, 2))
    term_mcc = rng.choice(list(MCC), n_terminals, p=list(MCC.values()))

    frames = []
    for c in range(n_customers):
        n = rng.poisson(cust_rate[c] * days)
        if n == 0:
            continue
        dist = np.linalg.norm(term_xy - cust_xy[c], axis=1)
        nearby = np.flatnonzero(dist < 15)
        if len(nearby) == 0:
            nearby = np.argsort(dist)[:3]
        day = rng.integers(0, days, n)
        seconds = np.clip(rng.normal(13 * 3600, 4 * 3600, n), 0, 86399)
        channel = rng.choice(["pos", "online", "atm"], n, p=[0.7, 0.25, 0.05])
        terminal = rng.choice(nearby, n)
        mcc = np.where(channel == "atm", "6011", term_mcc[terminal])
        amount = np.abs(rng.normal(cust_mean[c], cust_mean[c] / 2, n)).round(2) + 0.5
        frames.append(pd.DataFrame({
            "customer": c, "terminal": terminal, "day": day, "seconds": seconds, "amount": amount,
            "channel": channel, "merchant_category": mcc, "country": cust_country[c],
        }))
    tx = pd.concat(frames, ignore_index=True)
    tx["is_fraud"] = 0

    # Scenario 1: compromised terminals; everything there for 28 days is fraud.
    for d in range(days):
        for t in rng.choice(n_terminals, rng.poisson(n_terminals / 6000), replace=False):
            tx.loc[(tx.terminal == t) & (tx.day >= d) & (tx.day < d + 28) & (rng.random(len(tx)) < 0.3), "is_fraud"] = 1
    # Scenario 2: stolen cards; a third of the next 14 days' transactions are large.
    for d in range(days):
        for c in rng.choice(n_customers, rng.poisson(n_customers / 1000), replace=False):
            window = (tx.customer == c) & (tx.day >= d) & (tx.day < d + 14) & (rng.random(len(tx)) < 1 / 3)
            tx.loc[window, "amount"] = (tx.loc[window, "amount"] * rng.uniform(3, 6)).round(2)
            tx.loc[window, "is_fraud"] = 1
    # Scenario 3: card details used online, abroad, at night, for electronics or digital goods.
    n_cnp = max(3, int(len(tx) * 0.006))
    victims = rng.choice(n_customers, n_cnp)
    cnp = pd.DataFrame({
        "customer": victims, "terminal": rng.choice(n_terminals, n_cnp), "day": rng.integers(0, days, n_cnp),
        "seconds": rng.uniform(0, 5 * 3600, n_cnp), "amount": rng.uniform(50, 600, n_cnp).round(2),
        "channel": "online", "merchant_category": rng.choice(["5732", "5816"], n_cnp),
        "country": rng.choice(FOREIGN, n_cnp), "is_fraud": 1,
    })
    tx = pd.concat([tx, cnp], ignore_index=True)
    # A few legitimate trips abroad, so that "foreign" alone is not fraud.
    abroad = rng.random(len(tx)) < 0.01
    tx.loc[abroad & (tx.is_fraud == 0), "country"] = rng.choice(FOREIGN, int((abroad & (tx.is_fraud == 0)).sum()))

    start = pd.Timestamp("2026-01-01")
    tx["timestamp"] = start + pd.to_timedelta(tx.day, unit="D") + pd.to_timedelta(tx.seconds.round(), unit="s")
    tx = tx.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return pd.DataFrame({
        "transaction_id": [f"tx-{i}" for i in range(len(tx))],
        "timestamp": tx.timestamp.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "customer_id": "c-" + tx.customer.astype(str),
        "terminal_id": "t-" + tx.terminal.astype(str),
        "amount": tx.amount,
        "currency": "EUR",
        "merchant_category": tx.merchant_category,
        "channel": tx.channel,
        "country": tx.country,
        "card_present": tx.channel != "online",
        "is_fraud": tx.is_fraud.astype(int),
    }).head(rows)


def write_sample(out: Path, rows: int, seed: int) -> Path:
    """The sample as CSV (``out`` is a file, or a folder to write transactions.csv in)."""
    path = out / "transactions.csv" if out.suffix.lower() != ".csv" else out
    path.parent.mkdir(parents=True, exist_ok=True)
    simulate(rows, seed).to_csv(path, index=False)
    return path
