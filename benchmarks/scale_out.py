"""Out-of-core training against the in-memory baseline, side by side in one run.

Writes a synthetic fraud table with the finance vertical's transaction columns as Parquet (row groups
of 100,000 rows), keeps its newest tenth aside, and then:

- trains ``gbdt`` and the torch MLP out of core on every other row with ``--max-memory`` well below
  the table's size in memory;
- trains the same models in memory on a random subsample (1,000,000 rows by default, the most a
  team would hold here), the baseline;
- evaluates every version on the same held-out newest tenth with ``aiaas evaluate``.

- trains the same out of core through ``--ray`` on a local two-node Ray cluster (``ray start``,
  ``aiaas.testing.helpers.ray_cluster``), with 1 and 2 workers;
- scores the training table with ``aiaas predict --output FOLDER`` on one machine and with
  ``--ray`` on the cluster.

It prints, per run: rows/s, the peak RSS of the ``aiaas`` process (``getrusage``,
``aiaas.testing.helpers.aiaas_measured``) and, for the cluster runs, the peak of the Ray worker
processes' RSS summed (sampled from ``/proc`` every 0.2 s), and the held-out PR-AUC, with the
ratios against the baseline.

    python benchmarks/scale_out.py                       # 20 million rows: hours on a 2-core machine
    python benchmarks/scale_out.py --rows 1000000 --subsample 250000 --max-memory 300MB --epochs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from aiaas.testing.helpers import aiaas_measured, ray_cluster

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
    blocks = max(4, rows // 1_000_000)  # at least four files: a file is the unit of work on a cluster
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


def ray_rss() -> int:
    """The resident memory of every Ray worker process on this machine, summed."""
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::"):
                total += next(int(line.split()[1]) * 1024 for line in (entry / "status").read_text().splitlines() if line.startswith("VmRSS"))
        except (OSError, StopIteration, ValueError):
            continue
    return total


@contextmanager
def peak_of_workers() -> Iterator[list[int]]:
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], ray_rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--subsample", type=int, default=1_000_000)
    parser.add_argument("--max-memory", default="300MB")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiaas-scale-") as tmp:
        folder = Path(tmp)
        train, held, train_rows = write_table(folder, args.rows)
        sample = folder / "subsample.parquet"
        share = min(args.subsample, train_rows) / train_rows  # file by file: the benchmark never holds the whole table either
        parts = [pd.read_parquet(f).sample(frac=share, random_state=i) for i, f in enumerate(sorted(train.glob("*.parquet")))]
        subsample = pd.concat(parts, ignore_index=True).sort_values("timestamp")
        subsample.to_parquet(sample, index=False)
        sampled = len(subsample)
        del subsample, parts
        in_memory = pd.read_parquet(sample).memory_usage(deep=True).sum() / sampled * train_rows
        print(f"table: {train_rows:,} training rows (about {in_memory / 2**30:.2f} GiB as a pandas frame); "
              f"held out: {args.rows - train_rows:,} newest rows; bound: {args.max_memory}")
        home = folder / "home"
        rows = []
        for arch, extra in (("gbdt", []), ("mlp", ["--runtime", "torch", "--epochs", str(args.epochs)])):
            for label, data, bound, n in (("out of core, every row", train, ["--max-memory", args.max_memory], train_rows),
                                          (f"in memory, {sampled:,}-row subsample", sample, [], sampled)):
                result, peak, seconds = aiaas(home, "train", "finance/fraud", "--data", str(data), "--arch", arch, *extra, *bound)
                scored, _, _ = aiaas(home, "evaluate", "finance/fraud", "--data", str(held), "--version", str(result["version"]))
                rows.append((arch, label, n / seconds, peak, scored["metrics"]["average_precision"], 0))
                print(f"{arch:5} {label:40} {n / seconds:>10,.0f} rows/s  peak RSS {peak / 2**20:>7,.0f} MiB  "
                      f"held-out PR-AUC {scored['metrics']['average_precision']:.4f}", flush=True)
        with ray_cluster(nodes=2, cpus=2) as address:
            for arch, extra in (("gbdt", []), ("mlp", ["--runtime", "torch", "--epochs", str(args.epochs)])):
                for workers in (1, 2):
                    label = f"--ray, {workers} worker{'s' if workers > 1 else ''}"
                    with peak_of_workers() as workers_peak:
                        result, peak, seconds = aiaas(home, "train", "finance/fraud", "--data", str(train), "--arch", arch, *extra,
                                                      "--ray", "--address", address, "--workers", str(workers), "--max-memory", args.max_memory)
                    scored, _, _ = aiaas(home, "evaluate", "finance/fraud", "--data", str(held), "--version", str(result["version"]))
                    rows.append((arch, label, train_rows / seconds, peak, scored["metrics"]["average_precision"], workers_peak[0]))
                    print(f"{arch:5} {label:40} {train_rows / seconds:>10,.0f} rows/s  ({train_rows / seconds / workers:,.0f} a worker)  "
                          f"peak RSS {peak / 2**20:>7,.0f} MiB driver, {workers_peak[0] / 2**20:,.0f} MiB Ray workers  "
                          f"held-out PR-AUC {scored['metrics']['average_precision']:.4f}", flush=True)
            version = str(result["version"])
            for label, extra in (("one machine, --output FOLDER", []), ("--ray, 2 actors", ["--ray", "--address", address, "--workers", "2"])):
                out = folder / f"scored-{len(extra)}"
                with peak_of_workers() as workers_peak:
                    started = time.perf_counter()
                    run, peak = aiaas_measured(home, "predict", "finance/fraud", "--input", str(train), "--output", str(out), "--version", version, *extra)
                    seconds = time.perf_counter() - started
                if run.returncode:
                    sys.exit(f"aiaas predict failed:\n{run.stderr[-3000:]}")
                rows.append(("predict", label, train_rows / seconds, peak, float("nan"), workers_peak[0]))
                print(f"predict {label:38} {train_rows / seconds:>10,.0f} rows/s  peak RSS {peak / 2**20:>7,.0f} MiB, "
                      f"{workers_peak[0] / 2**20:,.0f} MiB Ray workers", flush=True)
        for arch in ("gbdt", "mlp"):
            ooc, base, one, two = (r for r in rows if r[0] == arch)
            print(f"{arch}: out of core / in-memory subsample: rows/s x{ooc[2] / base[2]:.2f}, peak RSS x{ooc[3] / base[3]:.2f}, "
                  f"PR-AUC {ooc[4]:.4f} vs {base[4]:.4f} ({ooc[4] - base[4]:+.4f})")
            print(f"{arch}: --ray 2 workers / 1 worker: rows/s x{two[2] / one[2]:.2f}; --ray 1 worker / out of core on one machine: "
                  f"rows/s x{one[2] / ooc[2]:.2f}; PR-AUC {two[4]:.4f} (2 workers) vs {ooc[4]:.4f} (one machine)")
        local, spread = (r for r in rows if r[0] == "predict")
        print(f"predict: --ray 2 actors / one machine: rows/s x{spread[2] / local[2]:.2f}")


if __name__ == "__main__":
    main()
