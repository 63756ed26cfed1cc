"""Out-of-core training against the in-memory baseline, side by side in one run.

Writes a synthetic fraud table with the finance vertical's transaction columns as Parquet (row groups
of 100,000 rows), keeps its newest tenth aside, and then:

- trains ``gbdt`` and the torch MLP out of core on every other row with ``--max-memory`` well below
  the table's size in memory;
- trains the same models in memory on a random subsample (1,000,000 rows by default, the most a
  team would hold here), the baseline;
- evaluates every version on the same held-out newest tenth with ``aiaas evaluate``.

It prints, per run: rows/s of training, the peak RSS of the training process, and the held-out
PR-AUC, with the ratios against the baseline. Each run is its own process (``aiaas`` on the command
line), its peak RSS read from ``getrusage`` (``aiaas.testing.helpers.aiaas_measured``).

    python benchmarks/scale_out.py --rows 2000000 --max-memory 300MB

Not yet here (issue 21 remains open): the ``--ray`` runs with 1 and 2 workers, and scoring the table
with ``aiaas predict --ray``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from aiaas.testing.helpers import aiaas_measured

FOREIGN = ["US", "GB", "RO", "BR", "NG", "CN"]
MCC = ["5411", "5812", "5541", "5311", "5999", "5732", "5816", "4121", "6011"]


def transactions(rows: int, seed: int, start: int) -> pd.DataFrame:
    """A block of transactions in time order (no customer id: the history columns come precomputed)."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["pos", "online", "atm"], rows, p=[0.7, 0.25, 0.05])
    amount = (rng.lognormal(3.4, 0.9, rows) + 0.5).round(2)
    avg30 = (amount * rng.uniform(0.5, 1.5, rows)).round(2)
    count30 = rng.poisson(20, rows).astype(float)
    hours = rng.exponential(30, rows).round(3)
    country = np.where(rng.random(rows) < 0.03, rng.choice(FOREIGN, rows),
                       rng.choice(["FR", "DE", "BE", "NL"], rows))
    seconds = np.sort(rng.integers(0, 86_400 * 30, rows)) + start * 86_400 * 30
    night = (seconds % 86_400) < 5 * 3600
    logit = (-5.0 + 2.5 * ((channel == "online") & night) + 1.8 * np.isin(country, FOREIGN)
             + 1.5 * np.log(amount / avg30).clip(0, 3) - 0.03 * count30 + 0.8 * (hours < 0.2))
    return pd.DataFrame({
        "transaction_id": [f"tx-{seed}-{i}" for i in range(rows)],
        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(seconds, unit="s"),
        "amount": amount, "currency": "EUR", "merchant_category": rng.choice(MCC, rows), "channel": channel,
        "country": country, "card_present": channel != "online",
        "customer_tx_count_1d": rng.poisson(1.5, rows).astype(float), "customer_tx_count_7d": rng.poisson(6, rows).astype(float),
        "customer_tx_count_30d": count30, "customer_avg_amount_30d": avg30, "amount_to_avg_30d": (amount / avg30).round(4),
        "hours_since_previous": hours,
        "is_fraud": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int),
    })


def write_table(folder: Path, rows: int) -> tuple[Path, Path, int]:
    """The training table (a folder of Parquet files) and the held-out newest tenth (one file)."""
    train, held = folder / "train", folder / "heldout.parquet"
    train.mkdir(parents=True)
    blocks = max(1, rows // 1_000_000)
    per_block = rows // blocks
    held_rows = rows // 10
    for block in range(blocks):
        frame = transactions(per_block, seed=block, start=block)
        if block == blocks - 1:
            frame, aside = frame.iloc[: per_block - held_rows], frame.iloc[per_block - held_rows:]
            aside.to_parquet(held, index=False)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), train / f"block-{block:04d}.parquet", row_group_size=100_000)
    return train, held, rows - held_rows


def aiaas(home: Path, *args: str) -> tuple[dict, int, float]:
    started = time.perf_counter()
    run, peak = aiaas_measured(home, *args, "--json")
    if run.returncode:
        sys.exit(f"aiaas {' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout), peak, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--subsample", type=int, default=1_000_000)
    parser.add_argument("--max-memory", default="300MB")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiaas-scale-") as tmp:
        folder = Path(tmp)
        train, held, train_rows = write_table(folder, args.rows)
        sample = folder / "subsample.parquet"
        pd.read_parquet(train).sample(n=min(args.subsample, train_rows), random_state=0).sort_values("timestamp").to_parquet(sample, index=False)
        in_memory = pd.read_parquet(sample).memory_usage(deep=True).sum() / min(args.subsample, train_rows) * train_rows
        print(f"table: {train_rows:,} training rows (about {in_memory / 2**30:.2f} GiB as a pandas frame); "
              f"held out: {args.rows - train_rows:,} newest rows; bound: {args.max_memory}")
        home = folder / "home"
        rows = []
        for arch, extra in (("gbdt", []), ("mlp", ["--runtime", "torch", "--epochs", str(args.epochs)])):
            for label, data, bound, n in (("out of core, every row", train, ["--max-memory", args.max_memory], train_rows),
                                          (f"in memory, {min(args.subsample, train_rows):,}-row subsample", sample, [], min(args.subsample, train_rows))):
                result, peak, seconds = aiaas(home, "train", "finance/fraud", "--data", str(data), "--arch", arch, *extra, *bound)
                scored, _, _ = aiaas(home, "evaluate", "finance/fraud", "--data", str(held), "--version", str(result["version"]))
                rows.append((arch, label, n / seconds, peak, scored["metrics"]["average_precision"]))
                print(f"{arch:5} {label:40} {n / seconds:>10,.0f} rows/s  peak RSS {peak / 2**20:>7,.0f} MiB  "
                      f"held-out PR-AUC {scored['metrics']['average_precision']:.4f}", flush=True)
        for arch in ("gbdt", "mlp"):
            ooc, base = (r for r in rows if r[0] == arch)
            print(f"{arch}: out of core / in-memory subsample: rows/s x{ooc[2] / base[2]:.2f}, peak RSS x{ooc[3] / base[3]:.2f}, "
                  f"PR-AUC {ooc[4]:.4f} vs {base[4]:.4f} ({ooc[4] - base[4]:+.4f})")


if __name__ == "__main__":
    main()
