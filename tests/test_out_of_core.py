"""Out-of-core training: ``aiaas train --max-memory`` holds a bounded part of the data however large it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest



def _transactions(rows: int, seed: int = 0) -> pd.DataFrame:
    """Fraud-like transactions with no customer id (so no history to derive): the table's size is the rows'."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.5, 1.0, rows).round(2)
    online = rng.random(rows) < 0.3
    night = rng.random(rows) < 0.1
    signals = rng.normal(size=(rows, 8))
    logit = -6 + 2.5 * online * night + 0.015 * (amount - 30).clip(0, 200) + signals[:, 0] - 0.8 * signals[:, 1]
    frame = pd.DataFrame({
        "timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 180 * 86400, rows)), unit="s"),
        "amount": amount, "channel": np.where(online, "online", rng.choice(["pos", "atm"], rows, p=[0.9, 0.1])),
        "merchant_category": rng.choice(["5411", "5812", "5732", "5999"], rows), "country": rng.choice(["FR", "DE", "US"], rows),
        "card_present": ~online, **{f"signal_{i}": signals[:, i] for i in range(8)},
        "transaction_id": [f"tx-{seed}-{i:09d}" for i in range(rows)],  # a table holds text a model does not use
        "merchant": rng.choice([f"merchant number {i:05d}" for i in range(200)], rows),
        "memo": rng.choice(["groceries and household", "fuel station purchase", "online subscription renewal"], rows),
        "is_fraud": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int),
    })
    return frame


def _train(data: Path, home: Path, *extra: str) -> tuple[dict, int]:
    from aiaas.testing.helpers import aiaas_measured

    run, peak = aiaas_measured(home, "train", "finance/fraud", "--data", str(data), "--arch", "gbdt", "--param", "rounds=60",
                               "--json", *extra, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout), peak


@pytest.mark.slow
def test_training_memory_does_not_grow_with_the_data(tmp_path: Path) -> None:
    """Ten times the rows: a run that held the table once would grow by at least the table (the in-memory path
    grows by about nine times it); this one grows by a fraction of it (the label array and the binned trees)."""
    sizes = {}
    for rows in (40_000, 400_000):
        frame = _transactions(rows)
        sizes[rows] = int(frame.memory_usage(deep=True).sum())
        frame.to_parquet(tmp_path / f"tx-{rows}.parquet", index=False, row_group_size=20_000)  # Parquet is read a row group at a time
    small, small_peak = _train(tmp_path / "tx-40000.parquet", tmp_path / "home", "--max-memory", "96MB")
    big, big_peak = _train(tmp_path / "tx-400000.parquet", tmp_path / "home", "--max-memory", "96MB")
    grown = big_peak - small_peak
    assert grown < 0.5 * (sizes[400_000] - sizes[40_000]), (grown / 2**20, (sizes[400_000] - sizes[40_000]) / 2**20)
    assert big["metrics"]["roc_auc"] > 0.8 and small["metrics"]["roc_auc"] > 0.75
    assert any("out of core within 96 MB" in note for note in big["notes"])


def test_trained_out_of_core_from_a_folder_serves_and_scores_a_folder_in_partitions(tmp_path: Path, aiaas_home: Path) -> None:
    """Train from a folder of CSV parts with a memory bound, serve the version as any other, then score a folder
    into Parquet partitions; a stopped run resumes without writing a row twice or losing one."""
    from typer.testing import CliRunner

    from aiaas.cli import app
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.scoring import score_file
    from aiaas.testing import ready_client

    frame = _transactions(6000, seed=1)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_csv(parts / f"day-{i}.csv", index=False)
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "finance/fraud", "--data", str(parts), "--arch", "gbdt", "--param", "rounds=40",
                                  "--max-memory", "64MB", "--promote", "--force", "--json"])
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    assert any("out of core" in n for n in result["notes"])
    registry = Registry.from_settings()
    manifest = json.loads((registry.folder(registry.get("finance/fraud", result["version"])) / "manifest.json").read_text())
    assert sum(manifest["rows"].values()) == 6000 and manifest["files"]

    client = ready_client(get_host(), registry)
    instance = json.loads(frame.drop(columns=["is_fraud", "transaction_id"]).iloc[:1].to_json(orient="records", date_format="iso"))[0]
    answer = client.post("/v1/finance/fraud/predict", json={"instances": [instance]})
    assert answer.status_code == 200, answer.text
    assert 0 <= answer.json()["predictions"][0]["fraud_probability"] <= 1

    out = tmp_path / "scored"
    done = score_file(get_host(), registry, "finance/fraud", parts, out, None, None, {}, batch_rows=700)
    written = sorted(out.glob("part-*.parquet"))
    assert done.rows == 6000 and len(written) >= 9
    scored = pd.read_parquet(out)
    assert len(scored) == 6000 and sorted(scored.transaction_id) == sorted(frame.transaction_id)
    assert {"fraud_probability", "in_distribution", "novelty"} <= set(scored.columns)

    lost = len(pd.read_parquet(written[3]))
    written[3].unlink()  # a run stopped before this partition was renamed into place
    (out / f".{written[3].name}.partial").write_bytes(b"half a file")
    again = score_file(get_host(), registry, "finance/fraud", parts, out, None, None, {}, batch_rows=700)
    assert (again.rows, again.resumed) == (lost, 6000 - lost)
    rescored = pd.read_parquet(out)
    assert len(rescored) == 6000 and rescored.transaction_id.is_unique
