"""The small fraud model the HTTP benchmarks serve: trained on 5,000 sample transactions
in the benchmark's temporary AIAAS_HOME and promoted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def train_fraud_model(env: dict[str, str], folder: Path, arch: str | None, runtime: str | None = None, signals: int = 0) -> str:
    """Train and promote; return what serves, as "architecture (runtime)". ``signals``: a domain team's own numeric
    columns added to the sample (``signal_0`` ...), so a request carries that many more fields."""
    data = folder / "tx.csv"
    subprocess.run([BIN / "aiaas", "sample", "finance/fraud", "--out", str(data), "--rows", "5000"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    if signals:
        import numpy as np
        import pandas as pd

        table = pd.read_csv(data)
        noise = np.random.default_rng(0).normal(size=(len(table), signals)).round(4)
        table = pd.concat([table, pd.DataFrame(noise, columns=[f"signal_{i}" for i in range(signals)])], axis=1)
        table.to_csv(data, index=False)
    command = [BIN / "aiaas", "train", "finance/fraud", "--data", str(data), "--epochs", "3", "--promote", "--force", "--json"]  # served win or lose
    command += (["--arch", arch] if arch else []) + (["--runtime", runtime] if runtime else [])
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    summary = json.loads(done.stdout)
    return f"{summary['architecture']} ({summary['runtime']})"
